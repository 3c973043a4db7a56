"""Belle II: e+e- -> mu+ mu- Z', Z' -> invisible (L_mu - L_tau), arXiv:2212.03066.

What this search declares: its samples (the Z' signal on a mass grid and the shared backgrounds of
the two-muon plus missing-energy final state, :mod:`analysis_lib.simulation.dimuon`), a
preselection, a classifier against the backgrounds, and the counting of events in windows of the
recoil mass squared, split in bins of the recoil polar angle (the paper's two-dimensional search).

The flow (modelled on the paper; its selection was a neural network trained with a Punzi loss,
whose details are not all public):

1. the preselection of the two-muon final state (:data:`analysis_lib.reco.dimuon.PRESELECTION`): the
   two-track trigger, two muons of opposite charge, no extra photon, the recoil pointing into the
   barrel calorimeter and a dimuon transverse momentum well above the momentum resolution;
2. a boosted-decision-tree classifier (:mod:`analysis_lib.analysis.classifier`) trained on half of the
   simulation, one for every mass (signal masses pooled with equal weights), blind to the recoil
   mass so that it cannot learn the grid of simulated masses (see :data:`FEATURES`);
3. at every mass hypothesis, a window of +-2 sigma in the recoil mass squared and the classifier
   threshold that maximises Punzi's figure of merit on the other half of the simulation;
4. in the window, counts in three bins of the recoil polar angle (c.m. frame), the background
   from a smooth density fitted to the simulation, its normalisation measured in a sideband of the
   same selection beside the window (with its prior from simulation), and a CLs upper limit (90% CL)
   on the cross section, turned into limits on g' for the two decay hypotheses.

The background prediction: the simulation (2 x 10^6 events per background) stands for up to 10^5
times more events than it holds at 50 ab^-1, so the simulated events in a window at a tight
threshold are a handful. Each background is instead fitted, per recoil-angle bin, by a smooth
density on (classifier score, recoil mass squared) (:func:`analysis_lib.analysis.counting.smooth_backgrounds`),
with the fit's uncertainty; the threshold per mass is the running median of the Punzi-best ones
of neighbouring masses.

Pseudo-data: the evaluation half of the simulation is split in two: one quarter of the events makes
the prediction, the other quarter the model of the truth (the same smooth fit) from which the data
are one Poisson draw on (classifier score, recoil mass squared, recoil polar angle). The data thus
fluctuate about a truth that the prediction knows only through the simulation's statistics, as
real data would. Real data would be read from ``data.root`` and binned the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import cached_property, partial

import numpy as np
from scipy.interpolate import CubicSpline

from ..analysis import classifier as bdt
from ..analysis.classifier import merge_tables
from ..analysis.counting import (
    MIN_SIMULATED_BACKGROUND,
    NORMALISATION_PRIOR,
    CountingInputs,
    CountingWindow,
    best_threshold,
    smooth_backgrounds,
    smoothed_once,
    smooth_thresholds,
)
from ..analysis.samples import draw_pseudo_data, ntuple_paths, work_dir
from ..analysis.scan import CLs, scan_limits
from ..analysis.results import LimitScan, read_results
from ..analysis.sensitivity import scaled_model, sensitivity
from ..analysis.signal_shape import peak_summary
from ..core.errors import EmptySelectionError, KinematicError, ParameterError
from ..core.parameters import LUMINOSITY_SCAN, SEED, Parameter, mass_range
from ..detector.datasets import Dataset, dataset, dataset_parameter
from ..io.ntuple import read_meta
from ..io.published import PublishedRange
from ..physics.zprime import DECAY_MODES, invisible_branching_fraction
from ..reco.dimuon import TRIGGER_EFFICIENCY, preselect, skim
from ..reco.selection import cut_flow_table, require_events
from ..simulation.dimuon import background_specs, generate_mumu_vector, mumu_vector_sigma_pb
from ..simulation.production import ProductionConfig, SampleSpec
from ..stats.pspline import Basis
from .base import Channel, Overview, points_in_range, register

__all__ = [
    "CL", "PARAMETERS", "PUBLISHED_RANGE", "ZprimeInputs", "ZprimeInvisible", "analyse", "window",
    "feature_shapes", "g_minus_2_region", "peaking_events", "peaking_matters", "physics_table", "prepare",
    "recoil_histograms", "resolution_table", "sample_specs", "scan_masses", "template_modes", "window_table",
]

log = logging.getLogger(__name__)

NAME = "belle2_zprime_invisible"
#: The simulation-level resolution table of the search (for comparison only, never for tuning).
RESOLUTION_REFERENCE = "belle2_zprime_recoil_mass2_resolution_mc.txt"
#: No digitised curve of this search is available: its headline range is drawn instead.
PUBLISHED_RANGE = PublishedRange(
    quantity="g_prime_neutrinos", unit="", cl=0.90, low_mass_value=3e-3, high_point=(8.0, 1.0),
    source="Belle II, Phys. Rev. Lett. 130 (2023) 231801, arXiv:2212.03066, abstract: 90% CL upper limits on g' "
           "from 3 x 10^-3 at low Z' masses to 1 at 8 GeV",
    label="Belle II 2023, observed: headline range (arXiv:2212.03066)",
)

#: Confidence level of the paper's limits.
CL = 0.90
#: Simulated Z' masses (GeV); efficiencies and resolutions are interpolated in between.
#: Above 8.5 GeV the muons (together below 2 GeV) rarely reach the muon detector.
SIGNAL_MASSES_GEV = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5,
                     8.0, 8.5)

#: Classifier features (see :meth:`analysis_lib.reco.dimuon.RecoilCandidates.table`). The recoil
#: mass squared is not among them: the signal is simulated at 20 masses, 10-20 resolutions apart
#: above 2 GeV, and a classifier that sees the recoil mass learns that comb. It then keeps
#: background only at the simulated masses and signal efficiencies interpolated between them are
#: wrong (found: at thresholds of 0.92 the tau tau background passed only within a few
#: resolutions of a simulated mass). Without it, the selection varies smoothly with mass and the
#: window does the mass selection.
FEATURES = ("recoil_cos_cm", "pt_cm", "p_max_cm", "p_min_cm", "cos_mumu_cm", "acoplanarity")

# counting
#: Bins of the recoil polar angle, cos(theta*) in the c.m. frame.
COS_EDGES = (-1.0, -1 / 3, 1 / 3, 1.0)
#: Classifier thresholds tried: 1 - 10^(-k/10), k = 0..40 (0 to 0.9999).
SCORE_EDGES = np.concatenate([1 - 10 ** (-np.arange(41) / 10), [1.0 + 1e-9]])
SCORE_EDGES[0] = 0.0
#: Recoil mass squared binning of the count cubes (GeV^2).
M2_EDGES = np.linspace(-4.0, 112.0, 5801)
#: The backgrounds that peak in the recoil mass squared: mu mu (gamma) with its photon lost recoils
#: against a massless system, M^2 = 0 within the resolution; the photon went where no crystal is, or
#: the calorimeter missed it (two samples, :data:`analysis_lib.simulation.dimuon.MUMU_PHOTON_SPLIT_GEV`).
#: Their shapes come from the simulation (templates of the fit, :func:`fit_model`); the other
#: backgrounds are continua that the fit measures.
PEAKING = ("bkg_mumu", "bkg_mumu_missed")
#: The smooth background densities (:func:`_bases`): cubic B-splines in log(1 + k) of the score bin k
#: (the classifier's background falls steeply over the first bins, slowly in the tail) and, along the
#: recoil mass squared, segments of 3 GeV^2 for the continua (they vary on that scale or slower, so
#: that a log-polynomial continuum describes them across a fit window) and segments of 0.42 GeV in the
#: signed recoil mass sign(M^2) sqrt(|M^2|) for the peaking background (0.18 GeV^2 near M^2 = 0,
#: where it peaks as narrowly as the resolution).
SCORE_SEGMENTS = 8
M2_CONTINUUM = (-4.0, 80.0, 28)
RECOIL_PEAKING = (-2.0, 10.6, 30)
#: Relative uncertainty of the peaking background's normalisation beside the simulation's statistics
#: (a model, as :data:`~analysis_lib.analysis.counting.NORMALISATION_PRIOR`).
PEAKING_PRIOR = NORMALISATION_PRIOR
#: The sideband of a window: from 2 to 6 resolutions on either side of the mass hypothesis.
SIDEBAND_SIGMA = (2.0, 6.0)
#: Scan points over which the running median of the best thresholds is taken.
THRESHOLD_MEDIAN_WIDTH = 9


PARAMETERS = (
    dataset_parameter("belle2_2019_2020", "belle2"),
    SEED,
    LUMINOSITY_SCAN,
    *mass_range("Z'", (0.1, 8.0), bounds=(SIGNAL_MASSES_GEV[0], SIGNAL_MASSES_GEV[-1])),
    Parameter("mass_step_sigma", float, 1.0, "scan step in units of the recoil-mass-squared resolution",
              minimum=0.1, maximum=10),
    Parameter("n_signal_events", int, 20_000, "simulated events per signal mass", minimum=500, maximum=10_000_000),
    Parameter("max_mc_events", int, 2_000_000, "largest simulated background sample", minimum=10_000,
              maximum=100_000_000),
    Parameter("window_sigma", float, 2.0, "half width of the recoil-mass-squared window in resolutions",
              minimum=0.5, maximum=5),
    Parameter("fit_half_width_sigma", float, 6.0, "half width of the background fit window in resolutions",
              minimum=3, maximum=15),
    Parameter("background_degree", int, 3, "degree of the log-polynomial continuum in each fit window",
              minimum=0, maximum=6),
)


# ---------------------------------------------------------------------------------------------
# samples


def _signal_sigma_pb(mass_gev: float, sqrt_s_gev: float) -> float:
    """sigma(e+e- -> mu+ mu- Z') in pb for g' = 1 (the integration, kept on disk once made)."""
    return mumu_vector_sigma_pb(mass_gev, sqrt_s_gev)[0]


def sample_specs(ds: Dataset, *, n_signal_events: int, signal_masses_gev=SIGNAL_MASSES_GEV):
    """The samples of this channel: the Z' signal at every mass (cross section for g' = 1 and
    B(invisible) = 1) and the backgrounds of :func:`analysis_lib.simulation.dimuon.background_specs`."""
    beams = ds.experiment.beams
    specs = []
    for m in signal_masses_gev:
        # the cross section's integration grid is trained by the sample's task, not at declaration
        sigma = partial(_signal_sigma_pb, m, beams.sqrt_s_gev)
        specs.append(SampleSpec(
            name=f"signal_m{m:.3f}", label=f"Z′ {m:g} GeV", kind="signal", sigma_pb=sigma,
            generate=partial(generate_mumu_vector, beams=beams, mass_gev=m),
            config={"process": "mu mu Z'", "mass_gev": m, "g": 1.0}, n_events=n_signal_events, tracks=True,
        ))
    return specs + background_specs(beams)


def production_config(max_mc_events: int) -> ProductionConfig:
    """Sample sizes: backgrounds sized for the reference luminosity up to ``max_mc_events`` (the same
    samples as the dark Higgsstrahlung channel's); pseudo-data are drawn from the expected counts,
    never simulated event by event."""
    return ProductionConfig(skim=skim, n_max=max_mc_events)


# ---------------------------------------------------------------------------------------------
# preselection


# ---------------------------------------------------------------------------------------------
# the run's inputs


@dataclass(frozen=True)
class ZprimeInputs(CountingInputs):
    """Everything the limits of one run need, made once by :func:`prepare`: the shared counting inputs
    (background maps and data) on cells of (classifier score, recoil mass squared, recoil cos theta*)
    with the edges :data:`SCORE_EDGES`, :data:`M2_EDGES`, :data:`COS_EDGES`, the signal's efficiency
    cubes per simulated mass, and the classifier."""

    classifier: object  # analysis_lib.analysis.classifier.Classifier
    signal_masses_gev: np.ndarray
    signal_sigma_pb: np.ndarray  # sigma(e+e- -> mu mu Z') at g' = 1 per simulated mass
    resolution_gev2: np.ndarray  # sigma(M_recoil^2) per simulated mass
    signal_cubes: np.ndarray  # (mass, score, M^2, cos): efficiency per generated event (evaluation half)
    tables: dict  # sample name -> preselected feature table with score, weight and evaluation flag
    fits: dict  # (sample name, cos bin) -> SmoothCounts of the prediction quarter on (score, M^2)
    peaking_sums: dict  # peaking sample -> (sum w, sum w^2) of its prediction quarter on (score, M^2)
    truth: np.ndarray | None  # (score, M^2, cos): the truth pseudo-data are drawn from (None: real data)

    def sigma_pb(self, mass_gev):
        """sigma(e+e- -> mu+ mu- Z') at g' = 1 (pb), a cubic spline of log sigma in the simulated
        masses (the tests check it against the integral at masses in between)."""
        spline = CubicSpline(np.log(self.signal_masses_gev), np.log(self.signal_sigma_pb))
        return np.exp(spline(np.log(mass_gev)))

    def resolution(self, mass_gev):
        """sigma(M_recoil^2) in GeV^2 at ``mass_gev`` (linear between simulated masses)."""
        return np.interp(mass_gev, self.signal_masses_gev, self.resolution_gev2)

    @cached_property
    def peaking_names(self) -> tuple:
        """The peaking backgrounds (:data:`PEAKING`) this run has."""
        return tuple(name for name in PEAKING if name in self.background_maps)

    @cached_property
    def passing_m2(self) -> dict:
        """Events above each classifier threshold on (threshold, M^2), all recoil angles: of the whole
        predicted background (``"total"``) and of each peaking background; made once per run, since
        every scanned mass reads them (:func:`_fit_bins`)."""
        cubes = {"total": self.background_total, **{name: self.background_maps[name] for name in self.peaking_names}}
        return {name: _passing(cube.sum(axis=2)) for name, cube in cubes.items()}


def _bases(name: str):
    """The spline bases of the smooth density of background ``name`` at the cell centres (score, M^2)."""
    k = np.arange(len(SCORE_EDGES) - 1)
    centres = 0.5 * (M2_EDGES[1:] + M2_EDGES[:-1])
    if name in PEAKING:
        low, high, segments = RECOIL_PEAKING
        y = Basis.at(np.sign(centres) * np.sqrt(np.abs(centres)), low, high, segments)
    else:
        y = Basis.at(centres, *M2_CONTINUUM)
    return Basis.at(np.log1p(k), 0.0, np.log1p(k[-1]), SCORE_SEGMENTS), y


def _smooth(samples: dict, ds: Dataset, folder, role: str):
    """Per background and recoil-angle bin, the smooth density fitted to (weights, squared weights)
    on (score, M^2) of ``samples`` ({name: (feature table, weights for dataset ``ds``)}); returns the
    fits {(name, cos bin): SmoothCounts} and the cubes of their expected events {name: (score, M^2,
    cos)}. Fitted once for every luminosity of the experiment and kept in ``folder`` under ``role``
    (:func:`~analysis_lib.analysis.counting.smoothed_once`)."""
    sums = {name: (_digitise(table, weights), _digitise(table, weights**2)) for name, (table, weights) in samples.items()}
    return smoothed_once(_fit_cubes, sums, luminosity_pb=ds.luminosity_pb, folder=folder, name=f"zprime_smooth_{role}")


def _fit_cubes(sums: dict):
    """:func:`_smooth` of the cubes ``sums`` ({name: (sum of weights, sum of squared weights)})."""
    fits, cubes = {}, {}
    for name, (w, w2) in sums.items():
        x, y = _bases(name)
        cube = np.zeros_like(w)
        for c in range(w.shape[2]):
            fitted = smooth_backgrounds({name: (w[:, :, c], w2[:, :, c])}, x, y, join=(1, 5))
            if name in fitted:
                fits[name, c] = fitted[name]
                cube[:, :, c] = fitted[name].expected
        cubes[name] = cube
    return fits, cubes


def _digitise(table, weights):
    """A cube of ``weights`` on (score, M^2, cos) from a feature table."""
    sample = np.column_stack([table["score"], table["recoil_mass2"], table["recoil_cos_cm"]])
    cube, _ = np.histogramdd(sample, bins=(SCORE_EDGES, M2_EDGES, COS_EDGES), weights=weights)
    return cube


def _resolution_gev2(m2, mass_gev):
    """Half the central 68% interval of the recoil mass squared of a signal sample (robust against
    the tails of badly measured events)."""
    if len(m2) < 20:
        raise EmptySelectionError(
            f"only {len(m2)} simulated signal events at {mass_gev} GeV pass the preselection, too few to measure the "
            "resolution; raise n_signal_events"
        )
    return peak_summary(m2)[1]


def prepare(dataset_name: str, *, seed: int, n_signal_events: int, max_mc_events: int, progress=True,
            specs=None) -> ZprimeInputs:
    """Simulate (or reuse) the ntuples, preselect, train the classifier and fill the count cubes."""
    ds = dataset(dataset_name)
    specs = sample_specs(ds, n_signal_events=n_signal_events) if specs is None else specs
    paths = ntuple_paths(specs, ds, seed=seed, config=production_config(max_mc_events), progress=progress)
    flows, tables = {}, {}
    for spec in specs:
        c, flows[spec.label] = preselect(paths[spec.name], ds, simulated=True,
                                         generated_events=spec.cross_section_pb() * ds.luminosity_pb,
                                         cache_dir=work_dir(ds, seed))
        if spec.kind == "signal":
            require_events(np.ones(len(c.weight), dtype=bool) if len(c.weight) else np.zeros(1, bool),
                           what=f"the signal sample {spec.name}")
        table = c.table()
        table["weight"] = c.weight
        table["evaluate"] = ~bdt.training_half(len(c))  # the other half trains the classifier
        tables[spec.name] = table
    signal_names = [s.name for s in specs if s.kind == "signal"]
    background_names = [s.name for s in specs if s.kind == "background"]

    fields = (*FEATURES, "evaluate")
    signal_table, signal_weights = merge_tables(tables, signal_names, balance=True, fields=fields)
    background_table, background_weights = merge_tables(tables, background_names, fields=fields)
    folder = work_dir(ds, seed)
    classifier = bdt.train(signal_table, background_table, features=FEATURES, signal_weights=signal_weights,
                           background_weights=background_weights, signal_train=~signal_table["evaluate"],
                           background_train=~background_table["evaluate"], cache=folder / "classifier_zprime.pkl",
                           seed=seed)
    for table in tables.values():
        table["score"] = classifier.score(table)

    # signal: efficiency cubes per simulated mass, resolution
    n_masses = len(signal_names)
    signal_cubes = np.zeros((n_masses, len(SCORE_EDGES) - 1, len(M2_EDGES) - 1, len(COS_EDGES) - 1))
    masses = np.array([s.config["mass_gev"] for s in specs if s.kind == "signal"])
    sigmas = np.array([s.cross_section_pb() for s in specs if s.kind == "signal"])
    resolution = np.zeros(n_masses)
    for i, name in enumerate(signal_names):
        t = tables[name]
        n_generated = read_meta(paths[name]).get("n_generated", n_signal_events)
        evaluate = t["evaluate"]
        weights = np.where(evaluate, TRIGGER_EFFICIENCY * 2.0 / n_generated, 0.0)
        signal_cubes[i] = _digitise(t, weights)
        resolution[i] = _resolution_gev2(t["recoil_mass2"], masses[i])
    # backgrounds: the evaluation half in two quarters, one for the prediction, one for the truth,
    # each standing for the whole sample
    def quarter(name, which):
        t = tables[name]
        index = np.arange(len(t["weight"]))
        return t, np.where(t["evaluate"] & ((index // 2) % 2 == which), 4.0 * t["weight"], 0.0)

    prediction = {name: quarter(name, 0) for name in background_names}
    fits, cubes = _smooth(prediction, ds, folder, "prediction")
    raw = sum(_digitise(t, (w > 0).astype(float)) for t, w in prediction.values())
    peaking_sums = {name: tuple(_digitise(table, w**p).sum(axis=2) for p in (1, 2))
                    for name, (table, w) in prediction.items() if name in PEAKING}
    truth = None
    if "data" not in paths:
        _, truth_cubes = _smooth({name: quarter(name, 1) for name in background_names}, ds, folder, "truth")
        truth = sum(truth_cubes.values())
        data = draw_pseudo_data(truth, ds, seed)
        source = "pseudo-data"
    else:
        c, flows["data"] = preselect(paths["data"], ds, simulated=False)
        require_events(np.ones(len(c.weight), dtype=bool), what=f"the data of {ds.name}")
        table = c.table()
        table["score"] = classifier.score(table)
        data = _digitise(table, np.ones(len(c.weight)))
        source = "ntuple"
    return ZprimeInputs(
        dataset=ds, seed=seed, classifier=classifier, signal_masses_gev=masses, signal_sigma_pb=sigmas,
        resolution_gev2=resolution, signal_cubes=signal_cubes,
        backgrounds={s.name: s.label for s in specs if s.kind == "background"}, background_maps=cubes,
        background_raw=raw, peaking_sums=peaking_sums, data=data, data_source=source, cut_flow=cut_flow_table(flows),
        tables=tables, fits=fits, truth=truth,
    )


# ---------------------------------------------------------------------------------------------
# windows, thresholds and the counting model


def _signal_cube(inputs: ZprimeInputs, mass_gev, low_sigma, high_sigma):
    """Signal efficiency on (score, cos) in M^2 from ``low_sigma`` to ``high_sigma`` resolutions about
    ``mass_gev``^2: the two nearest simulated masses' efficiencies in the same interval of their own
    resolutions, interpolated linearly in mass."""
    masses = inputs.signal_masses_gev
    if not masses[0] <= mass_gev <= masses[-1]:
        raise KinematicError(
            f"Z' mass {mass_gev!r} GeV is outside the simulated range {masses[0]}-{masses[-1]} GeV; choose a mass inside it"
        )
    j = int(np.clip(np.searchsorted(masses, mass_gev) - 1, 0, len(masses) - 2))
    frac = (mass_gev - masses[j]) / (masses[j + 1] - masses[j])
    out = 0.0
    for k, share in ((j, 1 - frac), (j + 1, frac)):
        klo, khi = _bins(masses[k] ** 2 + low_sigma * inputs.resolution_gev2[k],
                         masses[k] ** 2 + high_sigma * inputs.resolution_gev2[k])
        out = out + share * inputs.signal_cubes[k][:, klo:khi].sum(axis=1)
    return out  # (score, cos)


def _bins(low_gev2, high_gev2):
    """The M^2 cells [lo, hi) of an interval (at least one)."""
    lo = int(np.clip(np.searchsorted(M2_EDGES, low_gev2), 0, len(M2_EDGES) - 2))
    hi = int(np.clip(np.searchsorted(M2_EDGES, high_gev2), lo + 1, len(M2_EDGES) - 1))
    return lo, hi


def _passing(cube):
    """Cumulative from the top score bin down: index i = passing threshold SCORE_EDGES[i]."""
    return np.cumsum(cube[::-1], axis=0)[::-1]


def _regions(inputs: ZprimeInputs, mass_gev, window_sigma):
    """M^2 cells of the window and of the two sideband intervals (:data:`SIDEBAND_SIGMA`, the inner
    edge at the window's), and their edges in resolutions."""
    m2, sigma = mass_gev**2, float(inputs.resolution(mass_gev))
    inner, outer = max(SIDEBAND_SIGMA[0], window_sigma), max(SIDEBAND_SIGMA[1], window_sigma + 2 * SIDEBAND_SIGMA[0])
    edges = {"window": (-window_sigma, window_sigma), "below": (-outer, -inner), "above": (inner, outer)}
    return {name: (_bins(m2 + a * sigma, m2 + b * sigma), (a, b)) for name, (a, b) in edges.items()}


def _threshold_merits(inputs: ZprimeInputs, mass_gev: float, *, window_sigma: float, fit_half_width_sigma: float):
    """Per classifier threshold at ``mass_gev``: signal efficiency and smooth background in the window,
    and the fewest simulated events (of the prediction quarter) the prediction rests on: of all
    backgrounds in the window and its sidebands, and the effective events of each peaking background's
    sample (:data:`PEAKING`, :func:`peaking_events`) in the fit window where it is a template of the
    fit (:func:`peaking_matters`)."""
    regions = _regions(inputs, mass_gev, window_sigma)
    (lo, hi), (a, b) = regions["window"]
    (slo, _), _ = regions["below"]
    (_, shi), _ = regions["above"]
    s_pass = _passing(_signal_cube(inputs, mass_gev, a, b)).sum(axis=1)
    b_pass = _passing(inputs.background_total[:, lo:hi].sum(axis=(1, 2)))
    raw = _passing(inputs.background_raw[:, slo:shi].sum(axis=(1, 2)))
    _, cells = fit_window(inputs, mass_gev, half_width_sigma=fit_half_width_sigma)
    # each template of the fit rests on enough effective events of its own sample
    events = np.where(peaking_matters(inputs, cells), peaking_events(inputs, cells[0], cells[-1]), np.inf)
    raw = np.minimum(raw, events.min(axis=0, initial=np.inf))
    return s_pass, b_pass, raw


#: A peaking background is a template of the fit (:func:`fit_model`) where the fit window reaches
#: into its peak, below this many resolutions of the recoil mass squared (at the lowest simulated
#: mass) above M^2 = 0 (the resolution's tails: beyond, the continuum follows its shape), and where its
#: prediction reaches :data:`PEAKING_RELEVANCE` times the statistical uncertainty of the whole
#: predicted background in a bin of the fit window.
PEAK_REACH_SIGMA = 5.0
PEAKING_RELEVANCE = 0.1


def _fit_bins(inputs: ZprimeInputs, name: str, cells):
    """Per classifier threshold, the events of ``name`` (``"total"`` or a peaking background,
    :attr:`ZprimeInputs.passing_m2`) above it in the fit bins between ``cells``: (thresholds, bins)."""
    return np.add.reduceat(inputs.passing_m2[name], cells, axis=1)[:, :-1]


def peaking_matters(inputs: ZprimeInputs, cells) -> np.ndarray:
    """(peaking backgrounds, thresholds): True where the fit window (bin edges at ``cells``) reaches
    below :data:`PEAK_REACH_SIGMA` resolutions above M^2 = 0 and the peaking background's predicted
    events reach :data:`PEAKING_RELEVANCE` times the square root of all predicted background in a
    fit bin, at the run's luminosity. The prediction alone decides (never the data), so that the
    thresholds, chosen before the data are looked at, and the fit agree on where the templates are."""
    names = inputs.peaking_names
    reach = PEAK_REACH_SIGMA * float(inputs.resolution(inputs.signal_masses_gev[0]))
    if M2_EDGES[cells[0]] >= reach:
        return np.zeros((len(names), len(SCORE_EDGES) - 1), dtype=bool)
    total = np.sqrt(np.maximum(_fit_bins(inputs, "total", cells), 1.0))
    return np.array([np.any(_fit_bins(inputs, name, cells) > PEAKING_RELEVANCE * total, axis=1)
                     for name in names]).reshape(-1, len(SCORE_EDGES) - 1)


def peaking_events(inputs: ZprimeInputs, lo: int, hi: int) -> np.ndarray:
    """(peaking backgrounds, thresholds): the effective number of simulated events (sum w)^2 / sum w^2
    (Kish's effective sample size: L. Kish, Survey Sampling, Wiley, 1965) of each peaking sample's
    prediction quarter in the M^2 cells [lo, hi) above each classifier threshold (in the order of
    :func:`peaking_matters`; a sample's events weigh alike up to its photons' branch probabilities)."""
    out = []
    for name in inputs.peaking_names:
        sum_w, sum_w2 = (_passing(cube[:, lo:hi].sum(axis=1)) for cube in inputs.peaking_sums[name])
        out.append(np.divide(sum_w**2, sum_w2, out=np.zeros_like(sum_w), where=sum_w2 > 0))
    return np.array(out).reshape(-1, len(SCORE_EDGES) - 1)


def best_threshold_index(inputs: ZprimeInputs, mass_gev: float, *, window_sigma: float,
                         fit_half_width_sigma: float = 6.0) -> int:
    """The Punzi-best classifier threshold at ``mass_gev`` (an index into :data:`SCORE_EDGES`) on the
    smooth background prediction, among thresholds whose prediction rests on simulated events (of
    the prediction quarter): at least :data:`~analysis_lib.analysis.counting.MIN_SIMULATED_BACKGROUND`
    of all backgrounds in the window and its sidebands, and as many effective events of each peaking
    background's own sample (:data:`PEAKING`, :func:`peaking_events`) in the fit window (of
    ``fit_half_width_sigma`` resolutions) where it is a template of the fit (:func:`peaking_matters`):
    a template's shape must not be the extrapolation of a smooth fit beyond the last few simulated
    events."""
    s_pass, b_pass, raw = _threshold_merits(inputs, mass_gev, window_sigma=window_sigma,
                                            fit_half_width_sigma=fit_half_width_sigma)
    return best_threshold(s_pass, b_pass, raw, min_simulated=MIN_SIMULATED_BACKGROUND)[0]


def window(inputs: ZprimeInputs, mass_gev: float, *, window_sigma: float, threshold_index: int | None = None
           ) -> CountingWindow:
    """The signal window at ``mass_gev`` (+-``window_sigma`` resolutions in M_recoil^2) at the classifier
    threshold ``threshold_index`` (by default :func:`best_threshold_index`): per recoil-angle bin the
    signal, the smooth background prediction of the simulation and the counts (for tables and for the
    choice of thresholds; the limits come from :func:`fit_model`)."""
    regions = _regions(inputs, mass_gev, window_sigma)
    (lo, hi), (a, b) = regions["window"]
    i = best_threshold_index(inputs, mass_gev, window_sigma=window_sigma) if threshold_index is None else int(
        threshold_index)
    signal = _passing(_signal_cube(inputs, mass_gev, a, b))[i]
    background = inputs.background_total[i:, lo:hi].sum(axis=(0, 1))
    lum = inputs.dataset.luminosity_pb * float(inputs.sigma_pb(mass_gev))
    return CountingWindow(
        mass_gev=float(mass_gev), ranges={"recoil_mass2": (float(M2_EDGES[lo]), float(M2_EDGES[hi]))},
        threshold=float(SCORE_EDGES[i]), efficiency=signal, signal_per_unit=lum * signal, background=background,
        background_uncertainty=np.zeros_like(background),
        simulated_background=float(inputs.background_raw[i:, lo:hi].sum()),
        counts=inputs.data[i:, lo:hi].sum(axis=(0, 1)), figure_of_merit=float(signal.sum() / (0.64 + np.sqrt(background.sum()))),
    )


def fit_window(inputs: ZprimeInputs, mass_gev: float, *, half_width_sigma: float):
    """Edges (GeV^2, on the M^2 cells) of the fit window: +-``half_width_sigma`` resolutions in bins of
    half a resolution, and the cell index of each edge."""
    sigma = float(inputs.resolution(mass_gev))
    targets = mass_gev**2 + sigma * np.arange(-half_width_sigma, half_width_sigma + 0.25, 0.5)
    cells = np.unique(np.clip(np.searchsorted(M2_EDGES, targets), 0, len(M2_EDGES) - 1))
    return M2_EDGES[cells], cells


def fit_model(inputs: ZprimeInputs, mass_gev: float, *, threshold_index: int, half_width_sigma: float,
              degree: int = 2, scale: float | None = None, systematics: bool = True):
    """The likelihood of one mass hypothesis: the recoil mass squared of the events above the
    classifier threshold in a fit window of +-``half_width_sigma`` resolutions (all recoil angles),
    the signal's shape from the simulated masses (interpolated) and the background a smooth
    log-polynomial continuum of ``degree`` fitted to the data
    (:class:`~analysis_lib.stats.SmoothBackgroundModel`): its level and shape are measured by the
    data beside the peak, so its uncertainty shrinks with the luminosity.

    ``scale`` (not None) gives the model at ``scale`` times the luminosity with the background-only fit of
    the data, scaled, as counts (for :mod:`analysis_lib.analysis.sensitivity`); without
    ``systematics`` the background is that fit, known (a template model with no free parameter).
    Returns (model, counts)."""
    from ..stats import SmoothBackgroundModel

    edges, cells = fit_window(inputs, mass_gev, half_width_sigma=half_width_sigma)
    sigma = float(inputs.resolution(mass_gev))
    offsets = (edges - mass_gev**2) / sigma
    signal = np.array([float(_passing(_signal_cube(inputs, mass_gev, a, b))[threshold_index].sum())
                       for a, b in zip(offsets[:-1], offsets[1:])])
    signal *= inputs.dataset.luminosity_pb * float(inputs.sigma_pb(mass_gev))
    counts = np.add.reduceat(inputs.data[threshold_index:].sum(axis=(0, 2)), cells)[:-1]
    templates, uncertainties, modes = _peaking_templates(inputs, threshold_index, cells)

    model = SmoothBackgroundModel(signal, edges, degree=degree, templates=templates if len(templates) else None,
                                  template_uncertainties=uncertainties, template_modes=modes)
    return scaled_model(model, counts, scale, systematics)


def _peaking_templates(inputs: ZprimeInputs, threshold_index: int, cells):
    """The peaking backgrounds (:data:`PEAKING`) in the fit bins ``cells`` above the threshold, where
    they matter (:func:`peaking_matters`; elsewhere their tail is part of the continuum); the relative
    uncertainty of each normalisation beside the simulation's statistics (:data:`PEAKING_PRIOR`); and
    each template's shape modes: the simulation's statistics as the covariance of its bins from the
    smooth fits (:func:`template_modes`). Returns (templates (k, bins), uncertainties (k,), modes (k
    arrays))."""
    templates, uncertainties, modes = [], [], []
    for name, matters in zip(inputs.peaking_names, peaking_matters(inputs, cells)[:, threshold_index]):
        if not matters:
            continue
        t = _fit_bins(inputs, name, cells)[threshold_index]
        covariance = np.zeros((len(cells) - 1, len(cells) - 1))
        for (sample, _), fit_ in inputs.fits.items():
            if sample == name:
                g = fit_.gradients([threshold_index] * (len(cells) - 1), [len(SCORE_EDGES) - 1] * (len(cells) - 1),
                                   cells[:-1], cells[1:])
                covariance = covariance + g @ fit_.covariance @ g.T
        templates.append(t)
        uncertainties.append(PEAKING_PRIOR)
        modes.append(template_modes(covariance))
    return np.array(templates), tuple(uncertainties), tuple(modes)


#: Share of the variance of a template's bins its shape modes keep (:func:`template_modes`), and at
#: most how many modes.
MODE_VARIANCE_SHARE = 0.999
MAX_MODES = 8


def template_modes(covariance) -> np.ndarray:
    """Shape modes (m, bins) of a template whose bins have ``covariance``: sqrt(lambda) v for the
    largest eigenvalues lambda and eigenvectors v, as many as keep :data:`MODE_VARIANCE_SHARE` of
    the total variance (at most :data:`MAX_MODES`); together they reproduce the covariance in those
    directions (sum_m M_m M_m^T)."""
    covariance = np.atleast_2d(np.asarray(covariance, dtype=float))
    values, vectors = np.linalg.eigh(0.5 * (covariance + covariance.T))
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    if values.sum() <= 0:
        return np.zeros((0, covariance.shape[0]))
    keep = min(int(np.searchsorted(np.cumsum(values) / values.sum(), MODE_VARIANCE_SHARE)) + 1, MAX_MODES,
               len(values))
    return (vectors[:, :keep] * np.sqrt(values[:keep])).T


def thresholds(inputs: ZprimeInputs, masses_gev, *, window_sigma: float, fit_half_width_sigma: float = 6.0
               ) -> np.ndarray:
    """The classifier threshold index at each scanned mass: the running median
    (:func:`~analysis_lib.analysis.counting.smooth_thresholds`, :data:`THRESHOLD_MEDIAN_WIDTH`
    points) of the Punzi-best ones (:func:`best_threshold_index`), so that it varies smoothly with
    mass, and never tighter than the tightest threshold whose prediction at that mass still rests on
    enough simulated events (a neighbour without a template in its fit window may prefer a tighter
    one; the loosest threshold where none does)."""
    best, tightest = [], []
    for m in masses_gev:
        s_pass, b_pass, raw = _threshold_merits(inputs, m, window_sigma=window_sigma,
                                                fit_half_width_sigma=fit_half_width_sigma)
        best.append(best_threshold(s_pass, b_pass, raw, min_simulated=MIN_SIMULATED_BACKGROUND)[0])
        measurable = np.flatnonzero(raw >= MIN_SIMULATED_BACKGROUND)
        tightest.append(int(measurable.max()) if measurable.size else 0)
    return np.minimum(smooth_thresholds(best, width=THRESHOLD_MEDIAN_WIDTH), tightest)


@dataclass(frozen=True)
class ScanModels:
    """The likelihoods of a scan (:func:`fit_model`) with the thresholds fixed in advance, at a
    luminosity ``scale`` (picklable, for the cluster)."""

    inputs: ZprimeInputs
    masses_gev: np.ndarray
    indices: np.ndarray
    half_width_sigma: float
    degree: int
    scale: float | None = None
    systematics: bool = True

    def __call__(self, mass_gev):
        k = int(np.argmin(np.abs(self.masses_gev - mass_gev)))
        return fit_model(self.inputs, float(mass_gev), threshold_index=int(self.indices[k]),
                         half_width_sigma=self.half_width_sigma, degree=self.degree, scale=self.scale,
                         systematics=self.systematics)


def scan_masses(inputs: ZprimeInputs, *, mass_min_gev: float, mass_max_gev: float, step_sigma: float):
    """Mass hypotheses from ``mass_min_gev`` to ``mass_max_gev``, in steps of ``step_sigma``
    resolutions of the recoil mass squared (so the windows overlap as the paper's)."""
    if mass_min_gev >= mass_max_gev:
        raise ParameterError(f"mass_min_gev={mass_min_gev} must be below mass_max_gev={mass_max_gev}")
    masses = [mass_min_gev]
    while True:
        m2 = masses[-1] ** 2 + step_sigma * inputs.resolution(masses[-1])
        if np.sqrt(m2) > mass_max_gev:
            break
        masses.append(float(np.sqrt(m2)))
    return np.array(masses)


#: The run parameters that define a scan's hypotheses and likelihoods.
SCAN_SETTINGS = ("mass_min_gev", "mass_max_gev", "mass_step_sigma", "window_sigma", "fit_half_width_sigma",
                 "background_degree")


def scan_models(inputs: ZprimeInputs, *, mass_min_gev, mass_max_gev, mass_step_sigma, window_sigma,
                fit_half_width_sigma=6.0, background_degree=3) -> ScanModels:
    """The scan's mass hypotheses (:func:`scan_masses`), their thresholds (:func:`thresholds`) and
    likelihoods (:func:`fit_model`) at the run's luminosity; ``.masses_gev`` are the hypotheses."""
    masses = scan_masses(inputs, mass_min_gev=mass_min_gev, mass_max_gev=mass_max_gev, step_sigma=mass_step_sigma)
    indices = thresholds(inputs, masses, window_sigma=window_sigma, fit_half_width_sigma=fit_half_width_sigma)
    return ScanModels(inputs, masses, indices, fit_half_width_sigma, background_degree)


def analyse(inputs: ZprimeInputs, *, progress=True, client=None, **settings):
    """Limits on sigma(e+e- -> mu+ mu- Z') x B(Z' -> invisible) (fb) and on g' for both decay
    hypotheses, versus the Z' mass (``settings``: :data:`SCAN_SETTINGS`, see :func:`scan_models`);
    with a dask ``client`` the masses are spread over its workers."""
    models = scan_models(inputs, **settings)
    mu = scan_limits(models.masses_gev, CLs(models, CL), quantity="mu", unit="", cl=CL,
                     mass_name="M_Z'", progress=progress, client=client, workspaces=True)
    sigma = mu.transform(lambda m, v: v * inputs.sigma_pb(m) * 1e3, quantity="sigma_mumu_zprime_x_br", unit="fb")
    out = {"sigma": sigma}
    for decay in DECAY_MODES:
        out[f"g_{decay}"] = coupling(mu, decay)
    return out


def coupling(mu: LimitScan, decay: str = "neutrinos") -> LimitScan:
    """Limits on sigma x B(invisible) in units of the g' = 1 cross section as limits on g' (the rate
    goes as g'^2) for the decay hypothesis ``decay``."""
    return mu.transform(lambda m, v: np.sqrt(v / invisible_branching_fraction(m, decay)),
                        quantity=f"g_prime_{decay}", unit="").stamped(model={"decay": decay})


def recast_invisible_fraction(folder, branching_invisible) -> LimitScan:
    """Limits on g' of a Z' whose invisible branching fraction is ``branching_invisible`` (a number in
    (0, 1], or a function of the mass), from the run in ``folder``. The selection sees the muon pair
    and the recoil alone, so neither its efficiency nor the signal's shape depends on what the Z'
    decays to invisibly: the rate goes as g'^2 B, and g'(B) = g'(B = 1) / sqrt(B), from the run's
    limit at B(Z' -> chi chi) = 1 (``g_prime_dark_matter``). No stored efficiency is needed."""
    scan = read_results(folder)["g_prime_dark_matter"]
    fraction = branching_invisible if callable(branching_invisible) else (lambda m, b=float(branching_invisible): b)
    values = np.asarray([fraction(m) for m in scan.masses_gev], dtype=float)
    if not np.all((values > 0) & (values <= 1)):
        raise ParameterError(f"an invisible branching fraction must lie in (0, 1]; got {values.min():g} to "
                             f"{values.max():g}")
    recast = scan.transform(lambda m, v: v / np.sqrt(np.interp(m, scan.masses_gev, values)),
                            quantity="g_prime_invisible", unit="")
    return replace(recast, model={"branching_invisible": branching_invisible if not callable(branching_invisible)
                                  else "a function"}, notes=scan.notes + ("recast without simulating again",))


def luminosity_scan(inputs: ZprimeInputs, points, *, client=None, **settings):
    """Expected limits on g' (L_mu - L_tau) at ``points`` (inside the scanned range) from 0.1 fb^-1
    to 50 ab^-1: the run's likelihoods (:func:`scan_models`, the thresholds of the run's scan) at
    scaled luminosities."""
    models = scan_models(inputs, **settings)
    masses = np.array(points_in_range(points, settings["mass_min_gev"], settings["mass_max_gev"]), dtype=float)

    def calculator_at(scale, systematics):
        return CLs(replace(models, scale=scale, systematics=systematics), CL)

    mu = sensitivity(calculator_at, masses, reference_fb=inputs.dataset.luminosity_fb, quantity="mu", unit="", cl=CL,
                     mass_name="M_Z'", client=client)
    return mu.map(coupling)


# ---------------------------------------------------------------------------------------------
# tables for the chapter


def window_table(inputs: ZprimeInputs, masses_gev, params):
    """At a few masses (inside the scanned range), with the thresholds of the run's scan: threshold,
    window, signal efficiency, the predicted background and its uncertainty (the smooth fit's), the
    simulated events behind it and the observed count."""
    import pandas as pd

    models = scan_models(inputs, **_scan_settings(params))
    rows = []
    for m in points_in_range(masses_gev, params["mass_min_gev"], params["mass_max_gev"]):
        i = int(models.indices[np.argmin(np.abs(models.masses_gev - m))])
        w = window(inputs, m, window_sigma=params["window_sigma"], threshold_index=i)
        (lo, hi), _ = _regions(inputs, m, params["window_sigma"])["window"]
        uncertainty = np.hypot.reduce([fit_.box_sums(i, len(SCORE_EDGES) - 1, lo, hi)[1][0]
                                       for fit_ in inputs.fits.values()]) if inputs.fits else 0.0
        rows.append({
            "M_Z' [GeV]": m,
            "M2 window [GeV2]": f"{w.ranges['recoil_mass2'][0]:.2f} to {w.ranges['recoil_mass2'][1]:.2f}",
            "threshold": w.threshold, "efficiency": w.efficiency.sum(), "background": w.background.sum(),
            "fit uncertainty": float(uncertainty), "simulated bkg events": w.simulated_background,
            "observed": w.counts.sum(),
        })
    return pd.DataFrame(rows)


def resolution_table(inputs: ZprimeInputs, reference):
    """This simulation's sigma(M_recoil^2) next to the search's own (``reference``, a
    :class:`analysis_lib.io.published.ReferenceTable`)."""
    import pandas as pd

    ref = reference.at(inputs.signal_masses_gev)
    return pd.DataFrame({"M_Z' [GeV]": inputs.signal_masses_gev, "sigma(M2) here [GeV2]": inputs.resolution_gev2,
                         "Belle II simulation [GeV2]": ref, "ratio": inputs.resolution_gev2 / ref})


def physics_table(masses_gev, sqrt_s_gev):
    """Per Z' mass: sigma(e+e- -> mu+ mu- Z') at g' = 1 from the matrix element (vegas), the
    massless-muon analytic value (valid for M >> m_mu), the total width over g'^2, B(Z' -> nu nu)
    and Delta a_mu at g' = 10^-3."""
    import pandas as pd

    from ..physics.radiated_vector import sigma_massless_pb
    from ..physics.zprime import delta_a_mu, widths_gev

    rows = []
    for m in masses_gev:
        sigma, error = mumu_vector_sigma_pb(m, sqrt_s_gev)
        rows.append({
            "M_Z' [GeV]": m, "sigma(g'=1) [pb]": sigma, "vegas error [pb]": error,
            "massless muons [pb]": sigma_massless_pb(m, sqrt_s_gev),
            "Gamma/g'^2 [MeV]": 1e3 * widths_gev(m)["total"],
            "B(nu nu)": invisible_branching_fraction(m), "Delta a_mu (g'=1e-3)": delta_a_mu(m, 1e-3),
        })
    return pd.DataFrame(rows)


def cross_section_curves(masses_gev, sqrt_s_gev):
    """sigma(e+e- -> mu+ mu- Z') at g' = 1 versus mass from the matrix element (vegas integral with its
    error, at ``masses_gev``) and from the analytic density of massless muons (a line, above 0.5 GeV
    where the muon mass is negligible), as curves for :func:`analysis_lib.plots.plot_curves`."""
    from ..physics.radiated_vector import sigma_massless_pb

    masses = np.asarray(masses_gev, dtype=float)
    vegas = np.array([mumu_vector_sigma_pb(m, sqrt_s_gev) for m in masses])
    massless = masses[masses >= 0.5]
    return {"matrix element, vegas": (masses, vegas[:, 0], vegas[:, 1]),
            "massless muons (Dalitz density)": (massless, [sigma_massless_pb(m, sqrt_s_gev) for m in massless])}


def recoil_histograms(inputs: ZprimeInputs, *, threshold: float = 0.0, bin_gev2: float = 0.5):
    """Recoil mass squared of the preselected events with a classifier score of at least
    ``threshold``: expected events per background sample and the data, as ``hist`` histograms
    (bins of ``bin_gev2``)."""
    import hist

    from ..analysis.histograms import from_values

    i = int(np.searchsorted(SCORE_EDGES, threshold, side="right") - 1)
    step = M2_EDGES[1] - M2_EDGES[0]
    factor = max(int(round(bin_gev2 / step)), 1)
    n = (len(M2_EDGES) - 1) // factor
    axis = hist.axis.Regular(n, M2_EDGES[0], M2_EDGES[0] + n * factor * step, name="m2_recoil",
                             label="M_recoil^2 [GeV^2]")

    def project(cube):
        return from_values(axis, cube[i:].sum(axis=(0, 2))[: n * factor].reshape(n, factor).sum(axis=1))

    return ({name: project(c) for name, c in inputs.background_maps.items()}, project(inputs.data))


def feature_shapes(inputs: ZprimeInputs, feature: str, *, masses_gev=(0.5, 2.0, 5.0)):
    """(values, weights) of a preselected feature (or ``score``) per background and for the signal
    at a few simulated masses, keyed by legend label (for :func:`analysis_lib.plots.plot_shapes`)."""
    out = {}
    for m in masses_gev:
        name = f"signal_m{m:.3f}"
        if name in inputs.tables:
            out[f"Z′ {m:g} GeV"] = (inputs.tables[name][feature], inputs.tables[name]["weight"])
    for name, label in inputs.backgrounds.items():
        out[label] = (inputs.tables[name][feature], inputs.tables[name]["weight"])
    return out


def g_minus_2_region(masses_gev):
    """The couplings that explain the (g-2)_mu discrepancy of the time (+-2 sigma), for
    :func:`analysis_lib.plots.plot_limit`."""
    from ..physics.zprime import g_minus_2_band

    _, low, high = g_minus_2_band(masses_gev)
    return (np.asarray(masses_gev), low, high, r"$(g-2)_\mu$ discrepancy of 2021, $\pm2\sigma$")


# ---------------------------------------------------------------------------------------------
# the channel


@register
class ZprimeInvisible(Channel):
    """Belle II e+e- -> mu+ mu- Z', Z' -> invisible: counting in recoil-mass windows."""

    name = NAME
    title = "Belle II: e+e- → μ+μ- Z′, Z′ → invisible"
    notebook = "belle2_zprime_invisible.ipynb"
    cl = CL
    parameters = PARAMETERS
    sample_specs = staticmethod(sample_specs)
    published_ranges = {"g_neutrinos": PUBLISHED_RANGE}
    paper = "Belle II, Phys. Rev. Lett. 130 (2023) 231801, arXiv:2212.03066"
    overview = (Overview("g_prime_neutrinos", published="g_neutrinos", label=r"$e^+e^-\to\mu^+\mu^-Z'$"),)
    #: The simulation-level resolution table of the search (for comparison only, never for tuning).
    resolution_reference = RESOLUTION_REFERENCE

    physics_table = staticmethod(physics_table)
    window_table = staticmethod(window_table)
    resolution_table = staticmethod(resolution_table)
    recoil_histograms = staticmethod(recoil_histograms)
    cross_section_curves = staticmethod(cross_section_curves)
    window = staticmethod(window)
    feature_shapes = staticmethod(feature_shapes)
    g_minus_2_region = staticmethod(g_minus_2_region)
    features = FEATURES
    signal_masses_gev = SIGNAL_MASSES_GEV
    sensitivity_points = (0.5, 2.0, 5.0)
    fit_model = staticmethod(fit_model)

    def production(self, params):
        return production_config(params["max_mc_events"])

    def prepare(self, params, *, progress=True):
        return prepare(params["dataset"], seed=params["seed"], n_signal_events=params["n_signal_events"],
                       max_mc_events=params["max_mc_events"], progress=progress, specs=self.samples(params))

    def example_fit(self, inputs, mass_gev, params):
        """The fit of the window at ``mass_gev`` (the threshold of the run's scan), for a figure."""
        from ..analysis.peak_search import fit_display

        models = scan_models(inputs, **_scan_settings(params))
        return fit_display(*models(mass_gev))

    def luminosity_scan(self, inputs, params, *, client=None):
        return luminosity_scan(inputs, self.sensitivity_points, client=client, **_scan_settings(params))

    def analyse(self, inputs, params, *, progress=True, client=None):
        return analyse(inputs, progress=progress, client=client, **_scan_settings(params))


def _scan_settings(params) -> dict:
    """The run parameters of :data:`SCAN_SETTINGS`."""
    return {name: params[name] for name in SCAN_SETTINGS}
