"""The shared flow of a search for a narrow peak: ntuples -> selection -> histograms -> fits.

A channel declares a :class:`PeakSearch` (its samples, skim, candidates, selection, observables,
histogram axes, which observable to fit at each mass, its peaking backgrounds and the reference
signal cross section); the functions here do the rest, the same way for every channel:

* :func:`prepare` simulates (or reuses) the ntuples of a dataset, or reads real ones, applies the
  selection with a cut-flow table, fills one fine histogram per background sample and observable,
  builds the signal peak templates from the simulated masses, and takes the data from the data
  ntuple or, where event-level pseudo-data are absurd, draws them from the histograms;
* :func:`fit_inputs` makes the binned model of one mass hypothesis: the interpolated signal peak on
  a smooth background fitted to the data in the window, plus constrained peaking templates;
* :func:`scan` computes the limits over the masses of :func:`scan_masses`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import numpy as np

from ..core.parameters import Parameter
from ..detector.datasets import dataset
from ..io.ntuple import read_events, read_meta
from ..reco.selection import CutFlow, cut_flow_table, require_events, subset
from ..simulation.production import ProductionConfig
from ..stats import SmoothBackgroundModel, fit
from .histograms import fill, poisson_pseudo_data, smooth, window
from .inputs import Inputs
from .results import LimitScan
from .samples import ntuple_paths, pseudo_data_rng
from .scan import CLs, scan_limits
from .sensitivity import Sensitivity, scaled_model
from .sensitivity import sensitivity as luminosity_scan
from .signal_shape import PeakTemplates

__all__ = ["FIT_PARAMETERS", "FitDisplay", "PeakSearch", "SearchInputs", "agreement", "example_fit", "fit_inputs", "prepare",
           "production_config", "scan_settings", "expected_histograms",
           "pseudo_data_expectation",
           "resolution_gev", "scan", "scan_masses"]


@dataclass(frozen=True)
class PeakSearch:
    """What a peak-search channel declares.

    Attributes
    ----------
    name : str
    cl : float
        Confidence level of the limits.
    sample_specs : callable
        ``sample_specs(dataset, n_signal_events) -> list of SampleSpec``; signal specs carry
        ``config["mass_gev"]``.
    skim : callable
        ``skim(events) -> mask`` before ntuples are written.
    candidates : callable
        ``candidates(events, dataset) -> object`` whose array attributes have one row per event
        and which has a ``weight`` array.
    selection : CutFlow
        Cuts on the candidates.
    observables : callable
        ``observables(candidates) -> ({name: values (n, k)}, correct (n, k))``: k entries per
        event, and which entry is the signal's (simulation truth).
    axes : dict
        Observable name -> factory of its fine ``hist`` axis.
    observable_for : callable
        ``observable_for(mass_gev) -> name`` of the observable fitted at that mass.
    peaking : dict
        Background samples fitted as templates -> relative uncertainty of their normalisation;
        the other backgrounds are the continuum.
    signal_sigma_pb : callable
        ``signal_sigma_pb(mass_gev, sqrt_s_gev)``: the cross section of the simulated signal.
    smoothing_sigmas : float
        Width, in mass resolutions, of the kernel that smooths the simulated continuum before
        histogram-level pseudo-data are drawn from it (10 by default).
    mass_squared : bool
        The observables are masses squared (True, the default) or masses.
    tracks : bool
        Read the tracks of the ntuples too (False by default).
    signal_weights : callable, optional
        ``signal_weights(candidates) -> (n, k)`` weights of the signal entries (e.g. lifetime
        reweighting); None: every entry counts 1.
    production : callable, optional
        ``production(dataset, max_mc_events) -> ProductionConfig``; None: the channel's ``skim`` with
        ``max_mc_events`` as the largest background sample.
    vetoes : tuple
        Mass ranges (GeV) where no hypothesis is tested.
    pool_luminosity_fb : float
        Luminosity of the pseudo-data pools (event-level pseudo-data for datasets up to it, see
        :mod:`analysis_lib.simulation.production`); 0 (the default): pseudo-data from expected counts.
    """

    name: str
    cl: float
    sample_specs: Callable
    skim: Callable
    candidates: Callable
    selection: CutFlow
    observables: Callable
    axes: dict
    observable_for: Callable
    peaking: dict
    signal_sigma_pb: Callable
    smoothing_sigmas: float = 10.0
    mass_squared: bool = True
    tracks: bool = False
    signal_weights: Callable | None = None
    production: Callable | None = None
    vetoes: tuple = ()
    pool_luminosity_fb: float = 0.0


#: The run parameters of the fits, the same for every peak search (declared with the channel's own).
FIT_PARAMETERS = (
    Parameter("mass_step_sigma", float, 1.0, "scan step in units of the mass resolution", minimum=0.1, maximum=10),
    Parameter("fit_half_width_sigma", float, 5.0, "half width of the fit window in resolutions", minimum=2,
              maximum=20),
    Parameter("background_degree", int, 2, "degree of the log-polynomial continuum in each fit window",
              minimum=0, maximum=4),
)


def scan_settings(params) -> dict:
    """The settings of :func:`scan` among a run's validated parameters."""
    names = ("mass_min_gev", "mass_max_gev", "mass_step_sigma", "fit_half_width_sigma", "background_degree")
    return {name: params[name] for name in names}


@dataclass(frozen=True)
class SearchInputs(Inputs):
    """Everything the fits of one run need, made once by :func:`prepare` (besides the fields of
    :class:`~analysis_lib.analysis.inputs.Inputs`)."""

    hists: dict  # observable -> {sample name -> Hist}, background samples
    data: dict  # observable -> Hist (pseudo-data or real data)
    peaks: dict  # observable -> PeakTemplates
    luminosity_fraction: float = 1.0  # share of the dataset's luminosity in the data histograms
    search: PeakSearch | None = None  # the declaration the inputs were made with (its fits read it)


def production_config(search: PeakSearch, ds, max_mc_events: int) -> ProductionConfig:
    """The production settings of a search: its own, or its skim with ``max_mc_events`` as the
    largest background sample and its pseudo-data pools."""
    if search.production is not None:
        return search.production(ds, max_mc_events)
    return ProductionConfig(skim=search.skim, n_max=max_mc_events, pool_luminosity_fb=search.pool_luminosity_fb)


def _select(search, path, ds):
    events = read_events(path, branches=ds.branches, tracks=search.tracks)
    cands = search.candidates(events, ds)
    mask, flow = search.selection.apply(cands, weights=cands.weight)
    return cands, mask, flow


def prepare(search: PeakSearch, dataset_name: str, *, seed: int, n_signal_events: int, max_mc_events: int,
            progress=True, luminosity_fraction: float = 1.0, specs=None) -> SearchInputs:
    """Simulate (or reuse) the ntuples, select, and fill the histograms and signal templates.

    ``luminosity_fraction`` is the share of the dataset the limits use (the rest chose the
    selection): histogram-level pseudo-data are drawn for that share, the signal expectation is
    scaled by it, and the channel's selection must remove the other share from real data. ``specs``:
    the samples (the channel's declaration for the run; by default its ``sample_specs``).
    """
    ds = dataset(dataset_name)
    specs = search.sample_specs(ds, n_signal_events=n_signal_events) if specs is None else specs
    paths = ntuple_paths(specs, ds, seed=seed, config=production_config(search, ds, max_mc_events),
                         progress=progress)
    axes = {name: make() for name, make in search.axes.items()}
    hists = {obs: {} for obs in axes}
    flows, backgrounds = {}, {}
    peak_values = {obs: [] for obs in axes}
    peak_weights = {obs: [] for obs in axes}
    n_generated, signal_masses = [], []
    for spec in specs:
        cands, mask, flows[spec.label] = _select(search, paths[spec.name], ds)
        sel = subset(cands, mask)
        values, correct = search.observables(sel)
        if spec.kind == "signal":
            n_generated.append(read_meta(paths[spec.name]).get("n_generated", spec.n_events))
            signal_masses.append(spec.config["mass_gev"])
            weights = search.signal_weights(sel) if search.signal_weights is not None else None
            for obs in axes:
                peak_values[obs].append(values[obs][correct])
                if weights is not None:
                    peak_weights[obs].append(np.broadcast_to(weights, correct.shape)[correct])
            continue
        backgrounds[spec.name] = spec.label
        for obs, axis in axes.items():
            entries = values[obs].shape[1]
            hists[obs][spec.name] = fill(axis, values[obs].ravel(), np.repeat(sel.weight, entries))
    peaks = {obs: PeakTemplates.from_samples(signal_masses, peak_values[obs], n_generated,
                                             weights=peak_weights[obs] if search.signal_weights else None)
             for obs in axes}
    if "data" in paths:
        cands, mask, flows["data"] = _select(search, paths["data"], ds)
        require_events(mask, what=f"the data of {ds.name}")
        sel = subset(cands, mask)
        values, _ = search.observables(sel)
        data = {obs: fill(axis, values[obs].ravel(), np.ones(values[obs].size)) for obs, axis in axes.items()}
        source = "ntuple"
    else:
        rng = pseudo_data_rng(ds, seed, stream="data-histogram")
        data = {obs: poisson_pseudo_data(
                    luminosity_fraction * pseudo_data_expectation(search, hists[obs], peaks[obs], axis), rng)
                for obs, axis in axes.items()}
        source = "pseudo-data"
    return SearchInputs(dataset=ds, seed=seed, backgrounds=backgrounds, hists=hists, data=data, data_source=source,
                        peaks=peaks, cut_flow=cut_flow_table(flows), luminosity_fraction=luminosity_fraction,
                        search=search)


def expected_histograms(inputs: SearchInputs, observable: str) -> dict:
    """The expected background histograms of ``observable`` for the share of the luminosity the
    limits use (the scale of the data histograms)."""
    return {name: h * inputs.luminosity_fraction for name, h in inputs.hists[observable].items()}


def pseudo_data_expectation(search, hists, peaks: PeakTemplates, axis):
    """The expectation of histogram-level pseudo-data: the simulated continuum smoothed over
    ``search.smoothing_sigmas`` mass resolutions (its simulation is far sparser than the data it
    stands for, and its bin-to-bin noise would look like signals), plus the peaking backgrounds as
    simulated."""
    edges = axis.edges
    centres = np.clip(0.5 * (edges[1:] + edges[:-1]), 0, None)
    mass = np.sqrt(centres) if search.mass_squared else centres
    grid = np.clip(mass, peaks.masses_gev[0], peaks.masses_gev[-1])
    sigma_x = np.interp(grid, peaks.masses_gev, peaks.widths)
    half_width_bins = np.maximum(2 * search.smoothing_sigmas * sigma_x / np.diff(edges), 1).astype(int)
    continuum = [h for name, h in hists.items() if name not in search.peaking]
    peaking = [h for name, h in hists.items() if name in search.peaking]
    return smooth(sum(continuum), half_width_bins) + sum(peaking)


def resolution_gev(search: PeakSearch, inputs: SearchInputs, mass_gev: float) -> float:
    """Mass resolution at ``mass_gev``: the peak width, or sigma(m^2) / (2 m) for observables in mass
    squared."""
    width = inputs.peaks[search.observable_for(mass_gev)].width(mass_gev)
    return width / (2 * mass_gev) if search.mass_squared else width


def scan_masses(search: PeakSearch, inputs: SearchInputs, *, mass_min_gev: float, mass_max_gev: float,
                step_sigma: float):
    """Mass hypotheses from ``mass_min_gev`` to ``mass_max_gev`` in steps of ``step_sigma`` resolutions."""
    masses = [mass_min_gev]
    while masses[-1] + step_sigma * resolution_gev(search, inputs, masses[-1]) <= mass_max_gev:
        masses.append(masses[-1] + step_sigma * resolution_gev(search, inputs, masses[-1]))
    masses = np.array(masses)
    for low, high in search.vetoes:
        masses = masses[(masses < low) | (masses > high)]
    return masses


def fit_inputs(search: PeakSearch, inputs: SearchInputs, mass_gev: float, *, half_width_sigma: float,
               degree: int = 2):
    """The binned model and observed counts of one mass hypothesis, and its window.

    Background: a smooth log-polynomial continuum of ``degree`` fitted to the data in the window
    (the simulated continuum only makes the pseudo-data), plus the simulated peaking backgrounds
    wherever they reach a tenth of the data's statistical uncertainty in a bin, with constrained
    normalisations. Signal: the interpolated peak at
    the reference cross section, L sigma times the efficiency per bin.
    """
    obs = search.observable_for(mass_gev)
    peaks = inputs.peaks[obs]
    x0, sigma = peaks.centre(mass_gev), peaks.width(mass_gev)
    any_hist = next(iter(inputs.hists[obs].values()))
    win = window(any_hist.axes[0], x0, half_width_sigma * sigma, bin_width=sigma / 2)
    counts = win.values(inputs.data[obs])
    templates, uncertainties = [], []
    for name, relative in search.peaking.items():
        if name in inputs.hists[obs]:
            t = win.values(inputs.hists[obs][name])
            # in the model wherever it reaches a tenth of a standard deviation of the data in a bin
            if np.max(t / np.sqrt(np.maximum(counts, 1.0))) > 0.1:
                templates.append(t)
                uncertainties.append(relative)
    sigma_ref = float(search.signal_sigma_pb(mass_gev, inputs.dataset.experiment.sqrt_s_gev))
    luminosity = inputs.luminosity_fraction * inputs.dataset.luminosity_pb
    s = luminosity * sigma_ref * peaks.histogram(mass_gev, win.edges)
    templates = [inputs.luminosity_fraction * t for t in templates]
    model = SmoothBackgroundModel(s, win.edges, degree=degree, templates=np.array(templates) if templates else None,
                                  template_uncertainties=tuple(uncertainties))
    return model, counts, win


def _build(mass_gev, *, search, inputs, half_width_sigma, degree, scale=None, systematics=True):
    model, counts, _ = fit_inputs(search, inputs, mass_gev, half_width_sigma=half_width_sigma, degree=degree)
    return scaled_model(model, counts, scale, systematics)


def sensitivity(search: PeakSearch, inputs: SearchInputs, masses_gev, *, half_width_sigma: float, degree: int = 2,
                client=None) -> Sensitivity:
    """The expected limits on the signal strength at ``masses_gev`` from 0.1 fb^-1 to 50 ab^-1
    (:func:`analysis_lib.analysis.sensitivity.sensitivity`): each window's likelihood at the scaled
    luminosity, the continuum still fitted (its shape and level measured by the data), and without
    systematics the fitted continuum known."""
    def calculator_at(scale, systematics):
        return CLs(partial(_build, search=search, inputs=inputs, half_width_sigma=half_width_sigma, degree=degree,
                           scale=scale, systematics=systematics), search.cl)

    return luminosity_scan(calculator_at, np.asarray(masses_gev, dtype=float),
                           reference_fb=inputs.luminosity_fraction * inputs.dataset.luminosity_fb, quantity="mu",
                           unit="", cl=search.cl, client=client)


def scan(search: PeakSearch, inputs: SearchInputs, *, mass_min_gev, mass_max_gev, mass_step_sigma,
         fit_half_width_sigma, background_degree=2, progress=True, client=None, masses_gev=None,
         workspaces=True) -> LimitScan:
    """Limits on the signal strength (in units of the reference cross section) versus mass, at the
    masses of :func:`scan_masses` (or at ``masses_gev``), with the pyhf workspace of every window
    (``workspaces``, True by default: its fitted continuum as templates,
    :func:`analysis_lib.stats.workspace.from_smooth_model`); with a dask ``client`` the masses are
    spread over its workers."""
    masses = scan_masses(search, inputs, mass_min_gev=mass_min_gev, mass_max_gev=mass_max_gev,
                         step_sigma=mass_step_sigma) if masses_gev is None else np.asarray(masses_gev, dtype=float)
    build = partial(_build, search=search, inputs=inputs, half_width_sigma=fit_half_width_sigma,
                    degree=background_degree)
    return scan_limits(masses, CLs(build, search.cl), quantity="mu", unit="", cl=search.cl, progress=progress,
                       client=client, workspaces=workspaces)


@dataclass(frozen=True)
class FitDisplay:
    """A fitted window, for a figure: edges, counts, fitted background and total, mu-hat."""

    edges: np.ndarray
    counts: np.ndarray
    background: np.ndarray
    total: np.ndarray
    mu_hat: float


def example_fit(search: PeakSearch, inputs: SearchInputs, mass_gev: float, *, half_width_sigma: float,
                degree: int = 2) -> FitDisplay:
    """The signal-plus-background fit at one mass, signal allowed negative (for a figure)."""
    model, counts, _ = fit_inputs(search, inputs, mass_gev, half_width_sigma=half_width_sigma, degree=degree)
    return fit_display(model, counts)


def fit_display(model: SmoothBackgroundModel, counts) -> FitDisplay:
    """The signal-plus-background fit of a window's model to its counts, the signal strength free
    (negative allowed), for a figure."""
    result = fit(replace(model, mu_bounds=(-np.inf, np.inf)), counts)
    background = model.expected_counts(0.0, result.params)
    return FitDisplay(model.edges, np.asarray(counts, dtype=float), background, background + result.mu * model.signal,
                      result.mu)


def agreement(result: LimitScan, published, *, factor=1.5):
    """Fraction of scanned masses where the expected limit is within ``factor`` of the published
    curve (either way), and the median ratio expected / published."""
    ratio = result.expected[:, 2] / published.at(result.masses_gev)
    ratio = ratio[np.isfinite(ratio)]
    if not ratio.size:
        return float("nan"), float("nan")
    return float(np.mean((ratio < factor) & (ratio > 1 / factor))), float(np.median(ratio))
