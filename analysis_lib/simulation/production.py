"""Cached production of simulated ntuples: one ROOT file per sample, keyed by what determines it.

A channel declares its samples as :class:`SampleSpec` values (what to generate and its cross
section) and its :class:`ProductionConfig` (sizes and skim). A :class:`SampleRequest` is one
sample for one experiment (detector model and beams) and seed; :func:`make` generates it, applies
the detector response and the skim, and writes
``<generated>/<experiment>/seed<seed>/<sample>.<key>.root`` atomically, or reuses the file when it
exists. The key is a hash of everything that determines the events: the experiment, the
generator and its settings, the sample's name and flags, the seed, the number of events, the skim
and the source code of the simulation. Neither the dataset's name nor its luminosity is part of
it: every dataset of an experiment reads the same files, and a dataset at a new luminosity
simulates nothing.

Weights: the file stores per event ``f_i / N`` (``f_i`` the probability of a forced condition, or
of the sample's branch of a photon efficiency, 1 without either; ``N`` the simulated events), the
weight per unit of sigma x L. A dataset reads a
sample through :class:`~analysis_lib.io.ntuple.Ntuple` with ``weight_scale = sigma L``
(:func:`ntuples`), so the same events serve every luminosity.

Sizes: a signal sample has the fixed number of events of its spec; a background sample
``clip(oversampling x sigma p L_ref, n_min, n_max)`` events, ``L_ref`` the largest luminosity of the
experiment the book analyses or projects to (``Experiment.reference_luminosity_fb``: Belle II's
50 ab^-1), never the luminosity of a dataset.

Random numbers: every sample draws from its own stream, ``SeedSequence(seed, spawn_key=(crc32 of
its identity, stream))``: a sample does not change when other samples are added, removed or
produced on another worker, nor when the code changes elsewhere.

Shared generation: samples of one process that differ only in how the detector sees the events
(the two branches of a photon efficiency) may name one ``generation``. Their events are then
generated once, from the generation's own stream, and each sample reconstructs them with its own
stream for the detector; the first of them that is asked for makes them all (under one lock), so
the generator's time is spent once.

Pseudo-data: where a channel asks for event-level pseudo-data (``pool_luminosity_fb > 0``), every
background also has a *pool*: an independent sample (its own stream, never part of a background
prediction) of the events of ``pool_luminosity_fb``. A dataset's pseudo-data are a random subset
of the pools, ``Poisson(sigma p L x pass fraction)`` skimmed events of each, chosen with the
dataset's own stream (:func:`pseudo_data`), written as ``data.root`` of that dataset: no simulation.
Above the pools' luminosity, and for channels without pools, the analysis draws pseudo-data from
its expected counts (:func:`analysis_lib.analysis.samples.draw_pseudo_data`).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import inspect
import json
import logging
import re
import time
import zlib
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import Callable

import awkward as ak
import numpy as np

from ..core import timing
from ..core.errors import ParameterError
from ..detector.datasets import Dataset, generated_dir
from ..detector.experiments import Experiment
from ..detector.material import layers
from ..io.ntuple import Ntuple, read_events, read_meta, write_events
from .response import reconstruct
from .tagging import tag_model

__all__ = ["ProductionConfig", "SampleRequest", "SampleSpec", "make", "ntuples",
           "pseudo_data", "requests", "sample_rng"]

log = logging.getLogger(__name__)

#: Meta value of files whose weights are per unit of sigma x L (read them through an Ntuple).
WEIGHTS_PER_SIGMA_L = "per unit sigma x luminosity"

_PACKAGE = Path(__file__).resolve().parent.parent
#: The code a simulated sample depends on (part of its cache key): the simulation, the physics, the
#: detector models, the ntuple format, the constants and the shared candidate code the channels' skims
#: call (B candidates, Lambda candidates, the rest of a tagged event).
_SOURCES = [_PACKAGE / "simulation", _PACKAGE / "physics", _PACKAGE / "detector", _PACKAGE / "io" / "ntuple.py",
            _PACKAGE / "core" / "constants.py", _PACKAGE / "core" / "kinematics.py", _PACKAGE / "reco" / "bmeson.py",
            _PACKAGE / "reco" / "v0.py", _PACKAGE / "reco" / "tagged.py"]


@dataclass(frozen=True)
class SampleSpec:
    """One simulated sample.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"bkg_3gamma"`` or ``"signal_m1.000"``.
    label : str
        Legend label.
    kind : str
        ``"signal"`` or ``"background"``.
    sigma_pb : float or callable
        Cross section (times branching fraction) inside the generator cuts, in pb; for a signal
        sample the reference value the weights are computed with. It normalises the sample when a
        dataset reads it and is not part of the sample's key. A callable without arguments is
        evaluated when first needed (:meth:`cross_section_pb`): a cross section that takes an
        integration is then computed by the sample's task, not when the runner declares the samples
        (a fixed-size sample needs it only to be read).
    generate : callable
        ``generate(rng, n) -> GeneratedEvents``.
    config : dict
        JSON-serialisable description of the generator settings (part of the key).
    force_beam_background : bool
        Simulate only events with at least one beam-background cluster and weight them by its
        probability (for samples that pass the skim only with one).
    force_track_loss : bool
        Simulate only events whose tracks are all lost, weighted by the probability of that (for
        samples that pass the skim only then).
    photon_branch : (str, float), optional
        One outcome of the calorimeter's efficiency for the sample's photons (``("missed", e)`` or
        ``("seen", e)``, :func:`~analysis_lib.simulation.response.reconstruct`), weighted by its
        probability; events outside the branch weigh 0 and are not written. A process split into
        a sample of each branch is simulated with the events a photon veto keeps as often as the
        others. Not for pseudo-data pools (their events weigh 1).
    n_events : int, optional
        Fixed number of simulated events (signal); None (the default): sized for the reference
        luminosity (see the module docstring).
    tracks : bool
        Reconstruct tracks too (for channels that use them; False by default).
    chunk : int
        Events generated and reconstructed at a time (smaller for events with many particles).
    weighted : bool
        The generator can make weighted events (``generate`` takes ``weighted=``; partial
        unweighting: fewer trials for the same statistical precision): production calls it with
        ``weighted=True``, and pseudo-data pools with ``weighted=False`` (pseudo-data events weigh 1).
    generation : str, optional
        Name of the generated events this sample shares with the channel's other samples of that
        name (the same ``generate``, ``config``, ``n_events`` and ``chunk``): generated once, each
        sample reconstructing them its own way (e.g. its ``photon_branch``). Not for pseudo-data pools.
    hadronic_tag : bool
        Emulate the experiment's hadronic B tag in every event (:mod:`~analysis_lib.simulation.tagging`),
        each event weighted by the probability of a tag (False by default). Not for pseudo-data pools.
    conversions : bool
        Convert the photons in the material in front of the tracker and give the tracks as helices
        (:func:`~analysis_lib.simulation.response.reconstruct`; False by default): for searches whose
        pairs of tracks a conversion imitates.
    force_conversions : bool
        The same, every photon that crosses material converting, each event weighted by the probability
        of that (for samples that pass the skim only then: three photons giving six tracks). The
        probability differs from event to event: such a sample has a fixed ``n_events`` and is not for
        pseudo-data pools.
    internal_conversions : bool
        With either, photons also become their own virtual e+e- pairs (Kroll-Wada): for generators
        whose photons are not from hadron decays (Pythia gives those their Dalitz decays itself).
    """

    name: str
    label: str
    kind: str
    sigma_pb: float | Callable[[], float]
    generate: Callable
    config: dict
    force_beam_background: bool = False
    force_track_loss: bool = False
    photon_branch: tuple[str, float] | None = None
    n_events: int | None = None
    tracks: bool = False
    chunk: int = 250_000
    weighted: bool = False
    generation: str | None = None
    hadronic_tag: bool = False
    conversions: bool = False
    force_conversions: bool = False
    internal_conversions: bool = False

    def __post_init__(self):
        if self.force_conversions and self.n_events is None:
            raise ParameterError(f"sample {self.name!r} forces conversions, whose probability differs from event to "
                                 "event: give it a fixed n_events")
        if self.internal_conversions and not (self.conversions or self.force_conversions):
            raise ParameterError(f"sample {self.name!r}: internal_conversions go with conversions or force_conversions")

    def cross_section_pb(self) -> float:
        """The cross section in pb (:attr:`sigma_pb`, evaluated if it is a callable)."""
        return float(self.sigma_pb()) if callable(self.sigma_pb) else float(self.sigma_pb)

    def forced_probability(self, experiment) -> float:
        """Probability of the forced conditions (1 without any); for track loss, of losing the two
        tracks of a pair of charged particles inside the acceptance (the generator must put them
        there)."""
        p = 1.0
        if self.force_beam_background:
            p *= 1 - np.exp(-experiment.beam_background.mean_clusters)
        if self.force_track_loss:
            p *= (1 - experiment.tracker.efficiency) ** 2
        return p


@dataclass(frozen=True)
class ProductionConfig:
    """Sample sizes and the skim applied before writing.

    Attributes
    ----------
    skim : callable
        ``skim(events) -> mask`` applied to reconstructed events before writing; its name, settings
        and source are part of the key.
    oversampling : float
        Simulated events per expected event at the reference luminosity, for backgrounds (2).
    n_min, n_max : int
        Bounds on the number of simulated background events.
    luminosity_fb : float, optional
        The reference luminosity backgrounds are sized for; None (the default): the experiment's
        ``reference_luminosity_fb``.
    pool_luminosity_fb : float
        Luminosity of the pseudo-data pools (0, the default: no event-level pseudo-data); datasets
        up to it get event-level pseudo-data.
    extra_key : dict
        Anything else the channel wants in the key.
    """

    skim: Callable
    oversampling: float = 2.0
    n_min: int = 20_000
    n_max: int = 2_000_000
    luminosity_fb: float | None = None
    pool_luminosity_fb: float = 0.0
    extra_key: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SampleRequest:
    """One sample of one experiment and seed: what :func:`make` produces and the runner schedules.
    ``pool`` marks a pseudo-data pool (see the module docstring)."""

    spec: SampleSpec
    experiment: Experiment
    seed: int
    config: ProductionConfig
    pool: bool = False
    #: The specs of the samples that share this one's generation (itself included, by name); empty
    #: without one (set by :func:`requests`).
    siblings: tuple = ()

    @cached_property
    def identity(self) -> str:
        """What the events are, as JSON: experiment, sample, generator settings, flags and role (and
        the generation it shares, with the samples that share it)."""
        spec = self.spec
        fields = {
            "experiment": repr(self.experiment), "name": spec.name, "generator": spec.config, "kind": spec.kind,
            "force": [spec.force_beam_background, spec.force_track_loss], "tracks": spec.tracks,
            "weighted": spec.weighted and not self.pool, "pool": self.pool,
            "photon_branch": None if spec.photon_branch is None else list(spec.photon_branch),
        }
        if spec.hadronic_tag:
            fields["hadronic_tag"] = repr(tag_model(self.experiment))
        if spec.conversions or spec.force_conversions:
            fields["conversions"] = [repr(layers(self.experiment)), spec.force_conversions, spec.internal_conversions]
        if self.siblings:
            fields["generation"] = [spec.generation, [s.name for s in self.siblings]]
        return json.dumps(fields, sort_keys=True)

    @cached_property
    def generation_identity(self) -> str | None:
        """What the shared generated events are, as JSON (None without a generation): experiment,
        generation, generator settings, number of events and chunk."""
        if not self.siblings:
            return None
        spec = self.spec
        return json.dumps({"experiment": repr(self.experiment), "generation": spec.generation,
                           "generator": spec.config, "n": self.n_events, "chunk": spec.chunk,
                           "weighted": spec.weighted}, sort_keys=True)

    def sibling_requests(self) -> list[SampleRequest]:
        """The requests of the samples that share this one's generation (itself included)."""
        return [self if s.name == self.spec.name else replace(self, spec=s) for s in self.siblings]

    @cached_property
    def n_events(self) -> int:
        """Simulated events (see the module docstring)."""
        spec, config = self.spec, self.config
        if spec.n_events is not None and not self.pool:
            return int(spec.n_events)
        expected = spec.cross_section_pb() * spec.forced_probability(self.experiment)
        if self.pool:
            mean = expected * config.pool_luminosity_fb * 1e3
            return int(np.ceil(mean + 5 * np.sqrt(mean) + 10))
        luminosity_fb = config.luminosity_fb or self.experiment.reference_luminosity_fb
        return int(np.clip(np.ceil(config.oversampling * expected * luminosity_fb * 1e3), config.n_min, config.n_max))

    @cached_property
    def key(self) -> str:
        """Hash of everything that determines the file's contents."""
        blob = json.dumps({"identity": self.identity, "seed": self.seed, "n": self.n_events, "chunk": self.spec.chunk,
                           "code": _code_version(), "skim": _skim_identity(self.config.skim),
                           "extra": self.config.extra_key}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @cached_property
    def group(self) -> str | None:
        """Hash of the shared generation (None without one): of its samples' keys, the same for each of
        them (and another for another skim, size or seed)."""
        if not self.siblings:
            return None
        keys = sorted(r.key for r in self.sibling_requests())
        return hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:16]

    @property
    def path(self) -> Path:
        """The sample's file."""
        role = "pool_" if self.pool else ""
        return generated_dir() / self.experiment.tag / f"seed{self.seed}" / f"{role}{self.spec.name}.{self.key}.root"

    @property
    def label(self) -> str:
        """``<experiment>/<sample>`` (``pool`` added for a pool), for progress bars and profiles."""
        return f"{self.experiment.tag}/{self.spec.name}{' (pool)' if self.pool else ''}"

    def rng(self) -> np.random.Generator:
        """The sample's random stream."""
        return sample_rng(self.seed, self.identity, 0)

    def done(self) -> bool:
        """True when the file exists with this key."""
        return _cached(self.path, self.key)


def sample_rng(seed: int, identity: str, stream: int) -> np.random.Generator:
    """The random generator of one sample (or dataset, or purpose) ``identity`` and stream."""
    key = (zlib.crc32(identity.encode()), stream)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def requests(specs, dataset: Dataset, *, seed: int, config: ProductionConfig) -> list[SampleRequest]:
    """The samples ``specs`` of the experiment of ``dataset``, and the pseudo-data pools of its
    backgrounds when the dataset gets event-level pseudo-data (its luminosity within the pools')."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    experiment = dataset.experiment
    groups = {}
    for spec in specs:
        if spec.generation is not None:
            if not re.fullmatch(r"[A-Za-z0-9_]+", spec.generation):
                raise ParameterError(f"generation {spec.generation!r} of sample {spec.name!r}: use letters, digits and _")
            groups.setdefault(spec.generation, []).append(spec)
    siblings = {name: tuple(sorted(members, key=lambda m: m.name)) if len(members) > 1 else ()
                for name, members in groups.items()}
    out = [SampleRequest(spec, experiment, int(seed), config, siblings=siblings.get(spec.generation, ()))
           for spec in specs]
    for name, members in groups.items():
        shared = [r for r in out if r.spec.generation == name]
        made = {(r.generation_identity, repr(_generator(r.spec.generate)), r.spec.force_beam_background,
                 r.spec.force_track_loss) for r in shared}
        if len(made) > 1:
            raise ParameterError(f"the samples {[m.name for m in members]} share the generation {name!r} but not its "
                                 "generator, settings, number of events (cross section), chunk or forced conditions; "
                                 "give them the same, or separate generations")
    if 0 < dataset.luminosity_fb <= config.pool_luminosity_fb:
        branched = [spec.name for spec in specs if spec.kind == "background"
                    and (spec.photon_branch is not None or spec.hadronic_tag or spec.force_conversions)]
        if branched:
            raise ParameterError(
                f"the samples {branched} are simulated in one branch of a photon efficiency, with a tag or with forced "
                "conversions, with weights; pseudo-data "
                "pools need unit weights: set pool_luminosity_fb = 0 (pseudo-data from expected counts) for this channel"
            )
        out += [SampleRequest(spec, experiment, int(seed), config, pool=True) for spec in specs
                if spec.kind == "background"]
    return out


def _generator(generate):
    """What a ``generate`` callable is, comparable: a partial's function, arguments and keywords."""
    if isinstance(generate, partial):
        return (_generator(generate.func), generate.args, tuple(sorted(generate.keywords.items())))
    return generate


def make(request: SampleRequest) -> Path:
    """Produce the sample of ``request`` unless its file exists with the same key; returns the path.
    Two processes asking for the same sample at once (two notebooks, two invocations): one makes
    it, the other waits for it (a lock file beside it). The time goes to the stage ``simulation`` of
    :mod:`analysis_lib.core.timing`."""
    path = request.path
    if request.done():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_name = f".{path.name}.lock"
    if request.siblings:  # one lock for the samples of a generation: the first asked makes them all
        lock_name = f".generation_{request.spec.generation}.{request.group}.lock"
    with open(path.with_name(lock_name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not request.done():
                _remove_unfinished(request)
                _make(request)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


def _remove_unfinished(request: SampleRequest):
    """Remove what writers of this sample (and of its shared generation) killed before they finished
    left beside it (``.<file>.<pid>.tmp``); called holding the sample's lock, so no writer is alive."""
    for r in request.sibling_requests() if request.siblings else [request]:
        for leftover in r.path.parent.glob(f".{r.path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)


def _make(request: SampleRequest):
    """Simulate and write the sample of ``request``; with a shared generation, every sample of it
    not yet made (their events generated once, from the generation's stream)."""
    start = time.perf_counter()
    if request.siblings:
        todo = [r for r in request.sibling_requests() if r is request or not r.done()]
        if any(r.n_events != request.n_events for r in todo):  # requests() refuses them; never write such files
            raise ParameterError(f"the samples of generation {request.spec.generation!r} differ in size")
        generation_rng = sample_rng(request.seed, request.generation_identity, 0)
        detector_rngs = [sample_rng(r.seed, r.identity, 1) for r in todo]
    else:
        todo, generation_rng, detector_rngs = [request], None, [request.rng()]
    spec, n = request.spec, request.n_events
    with timing.stage("simulation"):
        log.info("simulating %s: %d events", ", ".join(r.label for r in todo), n)
        generate = partial(spec.generate, weighted=not request.pool) if spec.weighted else spec.generate
        made = _simulate([r.spec for r in todo], request.experiment, detector_rngs, n, 1.0 / n, request.config,
                         generate=generate, generation_rng=generation_rng)
        seconds = round(time.perf_counter() - start, 2)
        for r, events in zip(todo, made):
            s = r.spec
            meta = {
                "sample": s.name, "label": s.label, "kind": "pool" if r.pool else s.kind,
                "experiment": r.experiment.name, "sqrt_s_gev": r.experiment.sqrt_s_gev, "sigma_pb": s.cross_section_pb(),
                "n_generated": n, "seed": r.seed,
                "generator": s.config, "cache_key": r.key, "weights": WEIGHTS_PER_SIGMA_L,
                "force_beam_background": s.force_beam_background, "force_track_loss": s.force_track_loss,
                "photon_branch": None if s.photon_branch is None else list(s.photon_branch), "seconds": seconds,
            }
            if r.siblings:
                meta["generation"] = {"name": s.generation, "samples": [x.name for x in r.siblings]}
            write_events(r.path, events, meta)


def ntuples(specs, dataset: Dataset, *, seed: int, config: ProductionConfig, progress=None) -> dict[str, Ntuple]:
    """{sample name: :class:`~analysis_lib.io.ntuple.Ntuple`} of ``specs`` for ``dataset``, made or
    reused, weighted for the dataset (``weight_scale = sigma L``); with pools, ``"data"``: the
    dataset's event-level pseudo-data when its luminosity is within the pools' (:func:`pseudo_data`)."""
    if not dataset.simulated:
        raise ParameterError(
            f"dataset {dataset.name!r} holds real ntuples in {dataset.ntuples!r}; it is read, never simulated"
        )
    out, pools = {}, {}
    for request in requests(specs, dataset, seed=seed, config=config):
        path = make(request)
        if request.pool:
            pools[request.spec.name] = (request, path)
        else:
            out[request.spec.name] = Ntuple(path, weight_scale=request.spec.cross_section_pb() * dataset.luminosity_pb)
        if progress is not None:
            progress.update(1)
    if pools:
        data = pseudo_data(pools, dataset, seed=seed)
        if data is not None:
            out["data"] = Ntuple(data)
    return out


def pseudo_data(pools: dict, dataset: Dataset, *, seed: int) -> Path | None:
    """The event-level pseudo-data of ``dataset``: a random subset of every background's pool
    (``{name: (request, path)}``) with the dataset's own stream, unit weights, written once as
    ``<generated>/datasets/<dataset>/seed<seed>/data.<key>.root``; None when the dataset's luminosity
    exceeds the pools' (the analysis then draws pseudo-data from its expected counts)."""
    key = hashlib.sha256(json.dumps([dataset.name, dataset.luminosity_fb, seed,
                                     sorted((r.key, r.spec.cross_section_pb() * r.spec.forced_probability(r.experiment))
                                            for r, _ in pools.values())]).encode()).hexdigest()[:16]
    path = generated_dir() / "datasets" / dataset.name / f"seed{seed}" / f"data.{key}.root"
    if _cached(path, key):
        return path
    rng = sample_rng(seed, f"pseudo-data pools {dataset.name}", 1)
    parts, composition = [], {}
    for name in sorted(pools):
        request, pool_path = pools[name]
        events = read_events(Ntuple(pool_path, weight_scale=1.0), tracks=request.spec.tracks)
        # generated events of the dataset: Poisson(sigma p L); those passing the skim are a Poisson
        # share of them, as in the pool, drawn without replacement from the pool's skimmed events
        expected = request.spec.cross_section_pb() * request.spec.forced_probability(request.experiment) * dataset.luminosity_pb
        n = int(rng.poisson(expected * len(events) / request.n_events))
        if n > len(events):
            log.info("pool of %s too small for %s; pseudo-data from expected counts", name, dataset.name)
            return None
        composition[name] = n
        chosen = np.sort(rng.choice(len(events), size=n, replace=False))
        parts.append(ak.with_field(events[chosen], np.ones(n), "weight"))
    events = ak.concatenate(parts)
    write_events(path, events, {"sample": "data", "kind": "data", "dataset": dataset.name,
                                "luminosity_fb": dataset.luminosity_fb, "seed": seed, "events": composition,
                                "cache_key": key})
    return path


@functools.cache
def _code_version() -> str:
    digest = hashlib.sha256()
    for source in _SOURCES:
        files = sorted(source.rglob("*.py")) if source.is_dir() else [source]
        for f in files:
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def _simulate(specs, experiment, rngs, n, weight, config, *, generate, generation_rng=None):
    """Generate ``n`` events in fixed-size chunks (deterministic) and reconstruct and skim them for
    each of ``specs`` (one detector stream each, ``rngs``); returns their events. Without a
    ``generation_rng`` the one sample's generator draws from its own stream, as its detector does."""
    parts, n_done = [[] for _ in specs], 0
    while n_done < n:
        size = min(specs[0].chunk, n - n_done)
        generated = generate(generation_rng if generation_rng is not None else rngs[0], size)
        for spec, rng, part in zip(specs, rngs, parts):
            events = reconstruct(
                generated, experiment, rng, weight=weight,
                force_beam_background=spec.force_beam_background, force_track_loss=spec.force_track_loss,
                photon_branch=spec.photon_branch, tracks=spec.tracks,
                hadronic_tag=tag_model(experiment) if spec.hadronic_tag else None, conversions=spec.conversions,
                force_conversions=spec.force_conversions, internal_conversions=spec.internal_conversions,
            )
            # events outside the sample's branch of a photon efficiency weigh 0: not written
            part.append(events[config.skim(events) & (ak.to_numpy(events["weight"]) > 0)])
        n_done += size
    return [ak.concatenate(part) if len(part) > 1 else part[0] for part in parts]


def _skim_identity(skim) -> str:
    """The skim's name, settings and a hash of its source code (a changed skim makes the samples
    again; the shared candidate code it calls is part of the simulation's code version)."""
    settings = ""
    if isinstance(skim, functools.partial):
        settings = repr((skim.args, sorted(skim.keywords.items())))
        skim = skim.func
    name = getattr(skim, "__qualname__", str(skim)) + settings
    try:
        source = inspect.getsource(skim).encode()
    except (TypeError, OSError):
        return name
    return f"{name}:{hashlib.sha256(source).hexdigest()[:12]}"


def _cached(path: Path, key: str) -> bool:
    if not path.exists():
        return False
    try:
        return read_meta(path).get("cache_key") == key
    except Exception:  # a damaged file is simply made again
        return False
