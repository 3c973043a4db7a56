"""Counting in windows: the background from simulation, optimised thresholds, and the limit models.

Shared by the searches that count events in a window around each mass hypothesis (the invisible
Z', dark Higgsstrahlung): their inputs hold the simulated background on a grid of cells (expected
events per sample, the summed squared weights, the number of simulated events) and the data on
the same cells (:class:`CountingInputs`); a channel sums them over the cells of its window into a
:class:`CountingWindow`. Selection thresholds are chosen by Punzi's figure of merit
(:func:`punzi_figure_of_merit`, :func:`best_threshold`) among those the simulation can measure.
A window becomes a limit through :func:`counting_model` (CLs, with
:class:`~analysis_lib.analysis.scan.FastCLs`) or :class:`BayesianCounting`.

Where the simulation stands for far more events than it holds, the background is a smooth density
fitted to it (:func:`smooth_backgrounds`, P-splines of :mod:`analysis_lib.stats.pspline`) with the
fit's uncertainty, and a window carries a *sideband*: the same selection beside the window, whose
counts measure the background normalisation together with its prior from simulation
(:data:`NORMALISATION_PRIOR`, written as an auxiliary count). The normalisation's uncertainty then
shrinks with the luminosity as a real analysis's does; what remains is the uncertainty of the
window-to-sideband ratio (the shape), set by the simulation's statistics. A window may instead carry
*control regions* (:class:`ControlRegion`): other selections or other datasets (a sideband of another
variable, data taken below a resonance) that measure the same normalisation, each one count of the
same likelihood with its own prediction and uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from typing import Callable

import numpy as np
from scipy.stats import norm, poisson

from ..core.cache import content_key, shared_result
from ..core.errors import KinematicError, ParameterError
from ..stats import BinnedModel
from ..stats.counting import CountingModel, bayesian_upper_limit, bayesian_upper_limits_one_bin, feldman_cousins_interval
from ..stats.limits import BANDS, LimitResult, upper_limit
from ..stats.pspline import Basis, SmoothCounts, effective_counts, fit_counts
from .inputs import Inputs

__all__ = [
    "MIN_SIMULATED_BACKGROUND", "NORMALISATION_PRIOR", "PUNZI_A", "BayesianCounting", "ControlRegion", "Sideband", "band_counts",
    "ScaledWindows", "control_normalisation", "scaled_window", "window_background", "sideband_normalisation", "smooth_backgrounds", "smoothed_once", "smooth_thresholds", "CountingInputs", "CountingWindow",
    "bayesian_limit", "best_threshold", "compare_methods", "counting_model", "feldman_cousins_limit", "punzi_figure_of_merit", "summed_area",
    "window_model",
]

#: Punzi's figure of merit eps / (a/2 + sqrt(B)) (G. Punzi, arXiv:physics/0308063, Eq. (7)) with
#: a = 1.28, the one-sided z of a 90% confidence level.
PUNZI_A = 1.28
#: Fewest simulated background events a selection must keep where its background is predicted: a
#: prediction that rests on fewer is noise of the simulation.
MIN_SIMULATED_BACKGROUND = 10
#: Relative prior uncertainty of a background normalisation taken from simulation, before the
#: sideband measures it (a model of the cross-section and efficiency uncertainties of a
#: simulated background; the searches' own values are not public in this form).
NORMALISATION_PRIOR = 0.10


def smooth_backgrounds(samples: dict, x: Basis, y: Basis, *, exposure=None, join=(1, 1)) -> dict[str, SmoothCounts]:
    """Smooth densities of simulated backgrounds on a grid of (nx, ny) cells.

    ``samples`` maps a sample name to (sum of weights, sum of squared weights) per cell; each is
    fitted by :func:`analysis_lib.stats.pspline.fit_counts` on its effective counts
    (:func:`~analysis_lib.stats.pspline.effective_counts`: a sample of equal weights is fitted on its
    simulated events), so the prediction in a window rests on the whole sample's shape, not on the
    events that fall inside it. ``exposure`` (0 outside the physical region) is passed to the fit.
    With ``join`` = (jx, jy) the fit is made on cells that join jx x jy cells (as fast as the grid
    is smaller; the splines are far wider than a cell) and evaluated back on the cells. Samples
    without events are left out."""
    jx, jy = (int(v) for v in join)
    e = np.ones(np.shape(next(iter(samples.values()))[0])) if exposure is None else np.asarray(exposure, float)

    def joined(values):
        values = np.add.reduceat(values, np.arange(0, values.shape[0], jx), axis=0)
        return np.add.reduceat(values, np.arange(0, values.shape[1], jy), axis=1)

    cx, cy = (x.coarse(jx), y.coarse(jy)) if (jx, jy) != (1, 1) else (x, y)
    # the joined cells' exposure: the mean of their cells'
    ce = joined(e) / joined(np.ones_like(e))
    out = {}
    for name, (sum_w, sum_w2) in samples.items():
        counts, unit = effective_counts(joined(np.asarray(sum_w, float)), joined(np.asarray(sum_w2, float)))
        if unit > 0:
            fitted = fit_counts(counts, cx, cy, unit=unit, exposure=ce)
            out[name] = fitted if (jx, jy) == (1, 1) else fitted.on(x, y, exposure=e, cell_fraction=1.0 / (jx * jy))
    return out


def smoothed_once(fit: Callable, samples: dict, *, luminosity_pb: float, folder, name: str, key=()):
    """``fit(samples)`` for simulated backgrounds ``samples`` ({sample: (sum of weights, sum of squared
    weights) per cell}) weighted for a dataset of ``luminosity_pb``, computed once for every
    luminosity: at unit luminosity (the sums over L and L^2, rounded to single precision, so that
    every dataset of an experiment asks with the same numbers) and kept in ``folder`` under ``name``
    and a key of the sums, ``key`` (what else the fit depends on) and the code
    (:func:`analysis_lib.core.cache.shared_result`); then scaled to L: every
    :class:`~analysis_lib.stats.pspline.SmoothCounts` of the result by L, every array by L (dicts and
    tuples of them). A fit of effective counts does not depend on the weights' scale: the result is the
    direct fit's to its convergence (1e-5 relative; the inputs differ by the single-precision rounding)."""
    lum = float(luminosity_pb)
    unit = {sample: (np.asarray(w, float) / lum, np.asarray(w2, float) / lum**2) for sample, (w, w2) in samples.items()}
    unit = {sample: tuple(v.astype(np.float32).astype(float) for v in pair) for sample, pair in unit.items()}
    result = shared_result(folder, name, content_key(name, unit, key), partial(fit, unit))

    def scale(obj):
        if isinstance(obj, SmoothCounts):
            return obj.scaled(lum)
        if isinstance(obj, np.ndarray):
            return obj * lum
        if isinstance(obj, dict):
            return {k: scale(v) for k, v in obj.items()}
        if isinstance(obj, tuple):
            return tuple(scale(v) for v in obj)
        raise TypeError(f"smoothed_once scales SmoothCounts, arrays, and dicts or tuples of them, not {type(obj).__name__}")

    return scale(result)


def smooth_thresholds(indices, *, width: int = 9):
    """Selection thresholds (indices into a list of thresholds) that vary smoothly along a scan:
    the running median of the best threshold of each point over ``width`` neighbours (fewer at the
    ends), so that a threshold does not flip between neighbouring masses where two figures of merit
    are nearly equal.

    Examples
    --------
    >>> smooth_thresholds([3, 3, 9, 3, 3, 5, 5, 5], width=3).tolist()
    [3, 3, 3, 3, 3, 5, 5, 5]
    """
    indices = np.asarray(indices, dtype=int)
    half = max(int(width) // 2, 0)
    out = np.empty_like(indices)
    for k in range(indices.size):
        lo, hi = max(k - half, 0), min(k + half + 1, indices.size)
        out[k] = int(np.round(np.median(indices[lo:hi])))
    return out


def sideband_normalisation(counts, background, *, prior: float = NORMALISATION_PRIOR):
    """The background normalisation theta measured by a sideband and its prior from simulation.

    The prior, theta = 1 with a relative uncertainty ``prior``, is an auxiliary count n_aux =
    1 / prior^2 with expectation theta n_aux (the Poisson form of a relative uncertainty, e.g.
    R. D. Cousins, J. T. Linnemann, J. Tucker, NIM A 595 (2008) 480); with the sideband's ``counts``
    of expectation theta ``background`` and a uniform prior in theta, the posterior is a Gamma
    distribution of shape n + n_aux + 1 and rate b + n_aux (derived here). Returns its mean and
    standard deviation.

    Examples
    --------
    >>> [round(float(v), 4) for v in sideband_normalisation(0.0, 0.0)]
    [1.01, 0.1005]
    >>> [round(float(v), 4) for v in sideband_normalisation(2e4, 1e4)]
    [1.9902, 0.014]
    """
    n_aux = 1.0 / prior**2
    shape = np.asarray(counts, dtype=float) + n_aux + 1.0
    rate = np.asarray(background, dtype=float) + n_aux
    return shape / rate, np.sqrt(shape) / rate


@dataclass(frozen=True)
class Sideband:
    """The region beside a window with the same selection: what the background normalisation is
    measured in.

    Attributes
    ----------
    ranges : dict
        Observable -> list of (low, high) intervals of the sideband.
    background : float
        Predicted background events (normalisation 1).
    signal_per_unit : float
        Signal events for a unit of the limited rate (the tails of the signal's peak).
    counts : float
        Observed events.
    shape_uncertainty : array (k,)
        Relative uncertainty of the ratio of each window bin's background to the sideband's (the
        smooth fit's, from the simulation's statistics): what the sideband cannot measure.
    prior : float
        Relative prior uncertainty of the normalisation (:data:`NORMALISATION_PRIOR`).
    """

    ranges: dict
    background: float
    signal_per_unit: float
    counts: float
    shape_uncertainty: np.ndarray
    prior: float = NORMALISATION_PRIOR


@dataclass(frozen=True)
class ControlRegion:
    """A region that measures a window's background normalisation with the window: another selection
    (a sideband in another variable) or another dataset (data below a resonance), one count whose
    predicted background is tied to the window's by the simulation.

    Attributes
    ----------
    name : str
        What it is, for tables (e.g. ``"E_ECL sideband"``).
    background : float
        Predicted background events (the window's normalisation 1).
    counts : float
        Observed events.
    signal_per_unit : float
        Signal events for a unit of the limited rate (0 where the signal cannot reach it).
    uncertainty : float
        Relative uncertainty of its prediction that the window's does not share (its own simulated
        statistics, a composition that differs from the window's).
    """

    name: str
    background: float
    counts: float
    signal_per_unit: float = 0.0
    uncertainty: float = 0.0


def control_normalisation(controls, prior: float = NORMALISATION_PRIOR):
    """The background normalisation theta that control regions and the prior from simulation measure
    (:func:`sideband_normalisation` of their summed counts and predictions; their own uncertainties
    neglected): its posterior mean and standard deviation."""
    return sideband_normalisation(sum(float(c.counts) for c in controls),
                                  sum(float(c.background) for c in controls), prior=prior)


def punzi_figure_of_merit(efficiency, background, *, a: float = PUNZI_A):
    """eps / (a/2 + sqrt(B)) (G. Punzi, arXiv:physics/0308063), ``a`` = 1.28 by default.

    Examples
    --------
    >>> round(float(punzi_figure_of_merit(0.5, 4.0)), 4)
    0.1894
    """
    return np.asarray(efficiency) / (a / 2 + np.sqrt(np.asarray(background)))


def best_threshold(efficiency, background, simulated, *, min_simulated: float = MIN_SIMULATED_BACKGROUND):
    """The threshold with the largest Punzi figure of merit among those whose background the
    simulation measures.

    Parameters
    ----------
    efficiency, background, simulated : arrays (n_thresholds,)
        Signal efficiency, expected background and simulated background events that pass each
        threshold.
    min_simulated : float
        Fewest simulated events a threshold must keep (:data:`MIN_SIMULATED_BACKGROUND` by default).

    Returns
    -------
    (index, figure of merit): the loosest threshold (index 0) with -inf where none qualifies.
    """
    merit = punzi_figure_of_merit(efficiency, background)
    measurable = np.asarray(simulated) >= min_simulated
    merit = np.where(measurable, merit, -np.inf)
    i = int(np.argmax(merit)) if np.isfinite(merit).any() else 0
    return i, float(merit[i])


def summed_area(values):
    """The summed-area table of a 2D array (a leading row and column of zeros), for sums over boxes."""
    out = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    out[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    return out


@dataclass(frozen=True)
class CountingInputs(Inputs):
    """The inputs of a counting search: the simulated background and the data on one grid of cells.

    Attributes
    ----------
    background_maps : dict
        Background sample name -> expected events per cell (smoothed where the channel says so).
    background_raw : array
        Simulated events per cell, all backgrounds (of the sample the prediction is made from).
    data : array
        Counts per cell.
    """

    background_maps: dict
    background_raw: np.ndarray
    data: np.ndarray

    @cached_property
    def background_total(self) -> np.ndarray:
        """Expected background events per cell, all samples."""
        return sum(self.background_maps.values())


@dataclass(frozen=True)
class CountingWindow:
    """The window of one mass hypothesis and what it holds, per counting bin.

    Attributes
    ----------
    mass_gev, mass2_gev : float
        The hypothesis (``mass2_gev`` NaN for one mass).
    ranges : dict
        Observable -> (low, high) edges of the window.
    efficiency : array (k,)
        Signal efficiency per bin.
    signal_per_unit : array (k,)
        Expected signal events per bin for a unit of the limited rate.
    background, background_uncertainty : array (k,)
        The predicted background (normalisation 1) and its uncertainty (the smooth fit's).
    simulated_background : float
        Simulated background events in the window.
    counts : array (k,)
        Observed counts.
    threshold, figure_of_merit : float
        The chosen selection threshold and its figure of merit (NaN where none is chosen).
    sideband : Sideband, optional
        Where the background normalisation is measured; None: the background is the prediction with
        its uncertainty.
    controls : tuple of ControlRegion
        Regions that measure the normalisation instead of a sideband (empty: none); the window's
        ``background_uncertainty`` is then that of its prediction relative to theirs.
    normalisation_prior : float
        Relative prior uncertainty of the normalisation the controls measure.
    """

    mass_gev: float
    ranges: dict
    efficiency: np.ndarray
    signal_per_unit: np.ndarray
    background: np.ndarray
    background_uncertainty: np.ndarray
    simulated_background: float
    counts: np.ndarray
    mass2_gev: float = float("nan")
    threshold: float = float("nan")
    figure_of_merit: float = float("nan")
    sideband: Sideband | None = None
    controls: tuple = ()
    normalisation_prior: float = NORMALISATION_PRIOR

    def __post_init__(self):
        if self.controls and self.sideband is not None:
            raise ParameterError(f"the window at {self.mass_gev} GeV has a sideband and control regions; the "
                                 "normalisation is measured by one or the other (put the sideband among the controls)")


def counting_model(window: CountingWindow):
    """The CLs model of a window: mu in units of the limited rate, the signal per bin
    ``signal_per_unit``; bins without signal are left out. Returns (model, counts).

    Without a sideband the background is fixed to its prediction with its uncertainty as a per-bin
    constraint. With a :class:`Sideband` the background normalisation floats, measured by two more
    bins: the sideband (its signal tails included) and the auxiliary count of the normalisation's
    prior (1 / prior^2 events, see :func:`sideband_normalisation`); the window bins keep only the
    uncertainty of their ratio to the sideband. With :class:`ControlRegion` values the same, one bin per
    control region with its own uncertainty.

    The signal's own uncertainty (luminosity, efficiencies: a few percent) is not in this model;
    beside the background's it changes the limits little.
    """
    signal = np.asarray(window.signal_per_unit, dtype=float)
    keep = signal > 0
    if not keep.any():
        raise KinematicError(f"no simulated signal passes the selection at {window.mass_gev} GeV")
    side = window.sideband
    if window.controls:
        n_aux = 1.0 / window.normalisation_prior**2
        controls = window.controls
        model = BinnedModel(
            signal=np.concatenate([signal[keep], [c.signal_per_unit for c in controls], [0.0]]),
            background=np.concatenate([np.maximum(np.asarray(window.background, dtype=float)[keep], 1e-6),
                                       [max(float(c.background), 1e-6) for c in controls], [n_aux]]),
            background_uncertainty=np.concatenate([np.asarray(window.background_uncertainty, dtype=float)[keep],
                                                   [c.uncertainty * max(float(c.background), 1e-6) for c in controls],
                                                   [0.0]]),
            float_background=True)
        counts = np.concatenate([np.asarray(window.counts, dtype=float)[keep], [c.counts for c in controls], [n_aux]])
        return model, counts
    if side is not None:
        n_aux = 1.0 / side.prior**2
        background = np.maximum(np.asarray(window.background, dtype=float)[keep], 1e-6)
        model = BinnedModel(
            signal=np.concatenate([signal[keep], [side.signal_per_unit, 0.0]]),
            background=np.concatenate([background, [max(side.background, 1e-6), n_aux]]),
            background_uncertainty=np.concatenate([background * np.asarray(side.shape_uncertainty)[keep], [0.0, 0.0]]),
            float_background=True)
        return model, np.concatenate([np.asarray(window.counts, dtype=float)[keep], [side.counts, n_aux]])
    # a bin without uncertainty is known (its factor fixed), not given a tiny constrained one
    model = BinnedModel(signal=signal[keep], background=np.maximum(window.background[keep], 1e-3),
                        background_uncertainty=np.maximum(window.background_uncertainty[keep], 0.0),
                        float_background=False)
    return model, np.asarray(window.counts, dtype=float)[keep]


def scaled_window(window: CountingWindow, scale: float, systematics: bool = True) -> CountingWindow:
    """The window at ``scale`` times the luminosity (for :mod:`analysis_lib.analysis.sensitivity`):
    the Asimov data of the background the run measured. With a sideband, the normalisation theta_hat
    that its counts and the prior give (the maximum of their likelihood, (n + n_aux) / (b + n_aux))
    becomes part of the prediction, in the window and in the sideband, and the counts are that
    prediction: the background-only fit to these data returns theta = 1, the prior's auxiliary count
    as it is (the Asimov data set of Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727, Sec. 3.2, with
    the nuisance parameter at its fitted value). Signal and predictions scale with ``scale``,
    relative uncertainties stay (the prior of a normalisation and the simulation behind a shape do
    not grow with the data); the run's own luminosity is ``scale`` 1, the same construction.
    With control regions, theta_hat is that of their summed counts and predictions and the prior
    (their own uncertainties neglected), and they scale as a sideband does.
    Without ``systematics``: that background, known (no uncertainty, no sideband)."""
    from dataclasses import replace

    k = float(scale)
    side = window.sideband
    theta = 1.0
    if window.controls:
        n_aux = 1.0 / window.normalisation_prior**2
        theta = ((sum(float(c.counts) for c in window.controls) + n_aux)
                 / (sum(float(c.background) for c in window.controls) + n_aux))
    if side is not None:
        n_aux = 1.0 / side.prior**2
        theta = (float(side.counts) + n_aux) / (float(side.background) + n_aux)
    background = k * theta * np.asarray(window.background, float)
    signal = k * np.asarray(window.signal_per_unit, float)
    if not systematics:
        return replace(window, signal_per_unit=signal, background=background,
                       background_uncertainty=np.zeros(np.shape(background)), counts=background, sideband=None,
                       controls=())
    controls = tuple(replace(c, background=k * theta * c.background, signal_per_unit=k * c.signal_per_unit,
                             counts=k * theta * c.background) for c in window.controls)
    if side is not None:
        side = replace(side, background=k * theta * side.background, signal_per_unit=k * side.signal_per_unit,
                       counts=k * theta * side.background)
    return replace(window, signal_per_unit=signal, background=background,
                   background_uncertainty=k * theta * np.asarray(window.background_uncertainty, float),
                   counts=background, sideband=side, controls=controls)


@dataclass(frozen=True)
class ScaledWindows:
    """``window(point)`` at a luminosity ``scale`` (:func:`scaled_window`; picklable)."""

    window: Callable
    scale: float = 1.0
    systematics: bool = True

    def __call__(self, point):
        return scaled_window(self.window(point), self.scale, self.systematics)


def window_model(point, *, window: Callable):
    """:func:`counting_model` of the window ``window(point)`` (a ``build`` for the scan calculators)."""
    return counting_model(window(point))


def window_background(w: CountingWindow) -> tuple[float, float]:
    """The background of a window counted as one bin and its uncertainty: the prediction with its
    uncertainties in quadrature; with a sideband, the prediction times the normalisation the
    sideband and its prior measure (:func:`sideband_normalisation`), with the uncertainties of that
    normalisation and of the window-to-sideband ratio in quadrature; with control regions the same,
    the normalisation :func:`control_normalisation`'s."""
    background = float(np.sum(w.background))
    uncertainty = float(np.sqrt(np.sum(np.square(w.background_uncertainty))))
    if w.controls:
        theta, sigma = control_normalisation(w.controls, prior=w.normalisation_prior)
        return float(theta) * background, float(theta) * float(np.hypot(uncertainty, background * sigma / theta))
    if w.sideband is None:
        return background, uncertainty
    shape = float(np.sqrt(np.sum(np.square(np.asarray(w.sideband.shape_uncertainty) * w.background)))) / max(
        background, 1e-300)
    theta, sigma = sideband_normalisation(w.sideband.counts, w.sideband.background, prior=w.sideband.prior)
    background = float(theta) * background
    return background, background * float(np.hypot(sigma / theta, shape))


def band_counts(background: float, uncertainty: float = 0.0) -> np.ndarray:
    """The counts at the quantiles of the expected band (-2 to +2 standard deviations) when the
    background is ``background`` with a Gaussian ``uncertainty``: the quantiles of the prior
    predictive distribution of the count, Poisson counts whose mean is itself uncertain, a negative
    binomial of mean b and variance b + sigma^2 (the Gamma-Poisson mixture; derived here), Poisson
    without an uncertainty. A band of Poisson counts alone is too narrow where the background's
    uncertainty exceeds its square root.

    Examples
    --------
    >>> band_counts(100.0).tolist()
    [81.0, 90.0, 100.0, 110.0, 120.0]
    >>> band_counts(1e4, 500.0).tolist()
    [9006.0, 9490.0, 9992.0, 10510.0, 11045.0]
    """
    from scipy.stats import nbinom

    q = norm.cdf(BANDS)
    b, u = float(background), float(uncertainty)
    if u <= 0 or b <= 0:
        return poisson.ppf(q, b)
    r = b * b / (u * u)
    return nbinom.ppf(q, r, r / (r + b)).astype(float)


@dataclass(frozen=True)
class BayesianCounting:
    """Bayesian upper limits of a one-bin counting window (a scan calculator, see
    :func:`analysis_lib.analysis.scan.scan_limits`): uniform prior in the signal rate, the
    background and signal uncertainties marginalised (:func:`analysis_lib.stats.counting.bayesian_upper_limits_one_bin`);
    the expected band from the background-only counts at the Poisson quantiles of the bands.

    ``window(point) -> CountingWindow``; ``signal_uncertainty`` relative; the limits are in units of the
    window's ``signal_per_unit``.
    """

    window: Callable
    cl: float
    signal_uncertainty: float = 0.0
    chunk: int = 1

    method = "Bayesian, uniform prior in the signal, nuisance parameters marginalised"
    test_statistic = "posterior of the signal rate"

    def limit(self, w: CountingWindow) -> LimitResult:
        """Observed and expected limits of one window.

        With a sideband, the background is the prediction times the normalisation the observed
        sideband measures (:func:`sideband_normalisation`), its uncertainty that of the normalisation
        and of the window-to-sideband ratio in quadrature, for the observed limit and for the
        expected band alike (the band of the background as the sideband measured it, as a CLs band
        is that of the background-only fit to the data); the signal's tails in the sideband are
        neglected (they would only raise the background estimate: conservative). The band's counts
        are those of :func:`band_counts`: Poisson counts of a background that is itself uncertain."""
        background, uncertainty = window_background(w)
        counts = np.array([float(np.sum(w.counts))] + list(band_counts(background, uncertainty)))
        unique, back = np.unique(counts, return_inverse=True)
        limits = bayesian_upper_limits_one_bin(
            unique, float(np.sum(w.signal_per_unit)), background, background_uncertainty=uncertainty,
            signal_uncertainty=self.signal_uncertainty, cl=self.cl)[back]
        return LimitResult(observed=float(limits[0]), expected=tuple(float(x) for x in limits[1:]), cl=self.cl,
                           method=self.method, test_statistic=self.test_statistic)

    def batch(self, points):
        return [(self.limit(self.window(point)), float("nan")) for point in points]

    def workspace(self, point):
        """The window's likelihood as a pyhf workspace (:func:`analysis_lib.stats.workspace.from_counting`:
        Gaussian uncertainties entering linearly, those the Bayesian limit marginalises) and its metadata."""
        from ..stats.workspace import from_counting, to_workspace

        w = self.window(point)
        model = from_counting(float(np.sum(w.signal_per_unit)), float(np.sum(w.background)),
                              float(np.sqrt(np.sum(np.square(w.background_uncertainty)))),
                              signal_uncertainty=self.signal_uncertainty)
        return to_workspace(model, [float(np.sum(w.counts))]), {
            "converted_from": "a one-bin counting window whose limits the chapter computes as Bayesian (uniform "
                              "prior in the signal, uncertainties marginalised): the same likelihood, for other "
                              "constructions", "window": {k: list(map(float, v)) for k, v in w.ranges.items()}}


#: Largest count plus background for which :func:`compare_methods` builds the Feldman-Cousins interval
#: (its acceptance regions grow with the count; far above, the interval is Gaussian and the memory of
#: the construction is gigabytes).
FELDMAN_COUSINS_MAX_EVENTS = 1000


def feldman_cousins_limit(window: CountingWindow, *, cl: float) -> float:
    """The upper end of the Feldman-Cousins interval of a one-bin window's count, in units of its
    ``signal_per_unit``, with the background of :func:`window_background` (with a sideband or control
    regions: as they measure it) taken as known
    (:func:`analysis_lib.stats.counting.feldman_cousins_interval`); NaN above
    :data:`FELDMAN_COUSINS_MAX_EVENTS` observed plus expected events."""
    s = float(np.sum(window.signal_per_unit))
    if not s > 0:
        raise KinematicError(f"no signal is expected in the window at {window.mass_gev} GeV")
    b, _ = window_background(window)
    n = int(round(float(np.sum(window.counts))))
    if n + b > FELDMAN_COUSINS_MAX_EVENTS:  # the Gaussian regime, and a construction of many GB
        return float("nan")
    # the grid of the signal mean: to well above the upper limit, 10^4 steps (or 0.0005)
    mu_max = max(n - b, 0.0) + 8 * np.sqrt(n + b + 1) + 10
    return float(feldman_cousins_interval(n, b, cl=cl, step=max(5e-4, mu_max / 10_000), mu_max=mu_max)[1]) / s


def bayesian_limit(window: CountingWindow, *, cl: float, signal_uncertainty: float = 0.0) -> float:
    """The observed Bayesian upper limit of one one-bin window (:class:`BayesianCounting`: uniform prior
    in the signal, uncertainties marginalised by quadrature), in units of its ``signal_per_unit``;
    ``signal_uncertainty`` relative."""
    return BayesianCounting(lambda point: window, cl, signal_uncertainty=signal_uncertainty).limit(window).observed


def compare_methods(window: CountingWindow, *, cl: float, signal_uncertainty: float = 0.0) -> dict:
    """Upper limits of one one-bin window by four constructions, in units of its ``signal_per_unit``:
    the Bayesian limit with the uncertainties marginalised by quadrature (:class:`BayesianCounting`)
    and by Monte Carlo (:func:`analysis_lib.stats.counting.bayesian_upper_limit`, an independent
    integration of the same posterior), the CLs limit (:func:`analysis_lib.stats.limits.upper_limit`:
    the background uncertainty as a constraint, pseudo-experiments below three background events)
    and the upper end of the Feldman-Cousins interval for the predicted background taken as known
    (:func:`analysis_lib.stats.counting.feldman_cousins_interval`; its uncertainty is ignored; NaN
    above :data:`FELDMAN_COUSINS_MAX_EVENTS` observed plus expected events). The background and its
    uncertainty are those of :func:`window_background` (with a sideband: as the sideband measures it).

    The Bayesian and CLs limits differ by construction (credibility versus frequentist coverage,
    CLs conservative for a downward fluctuation); Feldman-Cousins is the unified frequentist interval.
    """
    s = float(np.sum(window.signal_per_unit))
    b, u = window_background(window)
    n = int(round(float(np.sum(window.counts))))
    bayes = bayesian_limit(window, cl=cl, signal_uncertainty=signal_uncertainty)
    monte_carlo = bayesian_upper_limit([n], CountingModel(signal=[s], background=[b], background_uncertainty=u,
                                                          signal_uncertainty=signal_uncertainty), cl=cl)
    model = BinnedModel(signal=[s], background=[max(b, 1e-3)], background_uncertainty=[max(u, 1e-6)],
                        float_background=False)
    cls = upper_limit(model, [n], cl=cl).observed
    fc = feldman_cousins_limit(window, cl=cl)
    return {"observed": n, "background": b, "background uncertainty": u,
            "Bayesian (quadrature)": bayes, "Bayesian (Monte Carlo)": float(monte_carlo), "CLs": cls,
            "Feldman-Cousins (known background)": fc}
