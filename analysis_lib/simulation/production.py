"""Cached production of simulated ntuples: one ROOT file per sample, per dataset and seed.

A channel declares its samples as :class:`SampleSpec` values (what to generate and its cross
section); :func:`produce` generates, applies the detector response and a loose skim, and writes
``data/generated/<dataset>/seed<seed>/<sample>.root`` atomically. A file is reused when its
recorded cache key (the spec, the dataset, the seed, the sample size and the source code of the
simulation) matches; otherwise it is made again.

Random numbers: every sample draws from its own stream, ``SeedSequence(seed, spawn_key=(dataset,
sample, stream))``, so a sample does not change when other samples are added, removed or produced
on another worker. The pseudo-data of a sample uses stream 1, its simulation stream 0.

Event counts: a background sample holds ``clip(oversampling x sigma L p, n_min, n_max)`` simulated
events of weight sigma L / N (times the probability p of a forced condition, see
:class:`SampleSpec`); a signal sample a fixed number of events whose weight is
sigma_ref L / N for the reference cross section in its spec. Pseudo-data ("data.root", weight 1) is
generated event by event, Poisson(sigma L p) events of every background sample, when the total is
at most ``max_data_events``; above that (e.g. 50 ab^-1) no data file is written and the analysis
draws pseudo-data from the weighted histograms (:func:`analysis_lib.analysis.histograms.poisson_pseudo_data`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import awkward as ak
import numpy as np

from ..core.errors import ParameterError
from ..detector.datasets import Dataset
from ..io.ntuple import read_meta, write_events
from .response import reconstruct

__all__ = ["ProductionConfig", "SampleSpec", "produce", "sample_rng"]

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent.parent
#: The code a simulated sample depends on (part of its cache key): the simulation, the physics, the
#: detector models, the ntuple format, the constants and the B-candidate skim.
_SOURCES = [_PACKAGE / "simulation", _PACKAGE / "physics", _PACKAGE / "detector", _PACKAGE / "io" / "ntuple.py",
            _PACKAGE / "core" / "constants.py", _PACKAGE / "core" / "kinematics.py", _PACKAGE / "reco" / "bmeson.py"]


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
    sigma_pb : float
        Cross section (times branching fraction) inside the generator cuts, in pb; for a signal
        sample the reference value the weights are computed with.
    generate : callable
        ``generate(rng, n) -> GeneratedEvents``.
    config : dict
        JSON-serialisable description of the generator settings (part of the cache key).
    force_beam_background : bool
        Simulate only events with at least one beam-background cluster and weight them by its
        probability (for samples that pass the skim only with one).
    force_track_loss : bool
        Simulate only events whose tracks are all lost, weighted by the probability of that (for
        samples that pass the skim only then).
    n_events : int, optional
        Fixed number of simulated events (signal); None (the default) follows the luminosity.
    tracks : bool
        Reconstruct tracks too (for channels that use them; False by default).
    chunk : int
        Events generated and reconstructed at a time (smaller for events with many particles).
    """

    name: str
    label: str
    kind: str
    sigma_pb: float
    generate: Callable
    config: dict
    force_beam_background: bool = False
    force_track_loss: bool = False
    n_events: int | None = None
    tracks: bool = False
    chunk: int = 250_000

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
    oversampling : float
        Simulated events per expected event for backgrounds (2 by default).
    n_min, n_max : int
        Bounds on the number of simulated background events.
    max_data_events : int
        Largest number of pseudo-data events generated event by event (5 million by default).
    skim : callable
        ``skim(events) -> mask`` applied to reconstructed events before writing; its name is part
        of the cache key.
    """

    skim: Callable
    oversampling: float = 2.0
    n_min: int = 20_000
    n_max: int = 2_000_000
    max_data_events: int = 5_000_000
    extra_key: dict = field(default_factory=dict)


def sample_rng(seed: int, dataset: str, sample: str, stream: int) -> np.random.Generator:
    """The random generator of one sample and stream (see the module docstring)."""
    key = (zlib.crc32(dataset.encode()), zlib.crc32(sample.encode()), stream)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _code_version() -> str:
    digest = hashlib.sha256()
    for source in _SOURCES:
        files = sorted(source.rglob("*.py")) if source.is_dir() else [source]
        for f in files:
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def _n_events(spec: SampleSpec, dataset: Dataset, config: ProductionConfig) -> int:
    if spec.n_events is not None:
        return int(spec.n_events)
    expected = spec.sigma_pb * dataset.luminosity_pb * spec.forced_probability(dataset.experiment)
    return int(np.clip(np.ceil(config.oversampling * expected), config.n_min, config.n_max))


def _simulate(spec, dataset, rng, n, weight, config, *, unit_weights=False):
    """Generate, reconstruct and skim ``n`` events in fixed-size chunks (deterministic); with
    ``unit_weights`` every event weighs 1 (pseudo-data)."""
    parts, n_done = [], 0
    while n_done < n:
        size = min(spec.chunk, n - n_done)
        generated = spec.generate(rng, size)
        events = reconstruct(
            generated, dataset.experiment, rng, weight=weight,
            force_beam_background=spec.force_beam_background, force_track_loss=spec.force_track_loss,
            tracks=spec.tracks,
        )
        if unit_weights:
            events = ak.with_field(events, np.ones(len(events)), "weight")
        parts.append(events[config.skim(events)])
        n_done += size
    return ak.concatenate(parts) if len(parts) > 1 else parts[0]


def produce(specs, dataset: Dataset, *, seed: int, config: ProductionConfig, progress=None) -> dict:
    """Make (or reuse) the ntuples of ``specs`` for ``dataset``; returns {sample name: path}.

    The pseudo-data file ``data.root`` is included under the key ``"data"`` when it is generated
    event by event (see the module docstring).
    """
    if not dataset.simulated:
        raise ParameterError(
            f"dataset {dataset.name!r} holds real ntuples in {dataset.ntuples!r}; it is read, never simulated"
        )
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    folder = dataset.ntuple_dir(seed)
    version = _code_version()
    paths = {}
    for spec in specs:
        n = _n_events(spec, dataset, config)
        weight = spec.sigma_pb * dataset.luminosity_pb / n
        key = _key(spec, dataset, seed, n, version, config)
        path = folder / f"{spec.name}.root"
        if not _cached(path, key):
            log.info("simulating %s: %d events for %s", spec.name, n, dataset.name)
            events = _simulate(spec, dataset, sample_rng(seed, dataset.name, spec.name, 0), n, weight, config)
            write_events(path, events, _meta(spec, dataset, seed, n, key, weight))
        paths[spec.name] = path
        if progress is not None:
            progress.update(1)
    backgrounds = [s for s in specs if s.kind == "background"]
    total = sum(s.sigma_pb * dataset.luminosity_pb * s.forced_probability(dataset.experiment) for s in backgrounds)
    if total <= config.max_data_events:
        paths["data"] = _produce_data(backgrounds, dataset, seed, config, version, folder)
    return paths


def _key(spec, dataset, seed, n, version, config):
    blob = json.dumps(
        {
            "spec": spec.config, "sigma_pb": spec.sigma_pb, "name": spec.name, "force": [spec.force_beam_background, spec.force_track_loss],
            "dataset": dataset.name, "lumi": dataset.luminosity_fb, "experiment": repr(dataset.experiment),
            "seed": seed, "n": n, "code": version, "skim": _skim_identity(config.skim), "tracks": spec.tracks,
            "extra": config.extra_key,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _skim_identity(skim) -> str:
    """The skim's name, settings and a hash of its source code (a changed skim makes the samples
    again; the shared candidate code it calls is part of the simulation's code version)."""
    import functools
    import inspect

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


def _meta(spec, dataset, seed, n, key, weight):
    return {
        "sample": spec.name, "label": spec.label, "kind": spec.kind, "dataset": dataset.name,
        "luminosity_fb": dataset.luminosity_fb, "sigma_pb": spec.sigma_pb, "n_generated": n,
        "weight": weight, "seed": seed, "generator": spec.config, "cache_key": key,
        "force_beam_background": spec.force_beam_background, "force_track_loss": spec.force_track_loss,
    }


def _produce_data(backgrounds, dataset, seed, config, version, folder):
    key = _key_data(backgrounds, dataset, seed, version, config)
    path = folder / "data.root"
    if _cached(path, key):
        return path
    parts, composition = [], {}
    for spec in backgrounds:
        # a forced sample's pseudo-data: the Poisson number of events in which the forced
        # condition holds, the only ones that pass the skim
        rng = sample_rng(seed, dataset.name, spec.name, 1)
        n = int(rng.poisson(spec.sigma_pb * dataset.luminosity_pb * spec.forced_probability(dataset.experiment)))
        composition[spec.name] = n
        if n:
            parts.append(_simulate(spec, dataset, rng, n, 1.0, config, unit_weights=True))
    events = ak.concatenate(parts)
    log.info("pseudo-data for %s: %d generated, %d after skim", dataset.name, sum(composition.values()), len(events))
    meta = {"sample": "data", "kind": "data", "dataset": dataset.name, "luminosity_fb": dataset.luminosity_fb,
            "seed": seed, "generated_events": composition, "cache_key": key}
    write_events(path, events, meta)
    return path


def _key_data(backgrounds, dataset, seed, version, config):
    return hashlib.sha256(
        json.dumps([_key(s, dataset, seed, 0, version, config) for s in backgrounds]).encode()
    ).hexdigest()[:20]
