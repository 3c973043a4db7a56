"""Counting in windows: the background from simulation, optimised thresholds, and the limit models.

Shared by the searches that count events in a window around each mass hypothesis (the invisible
Z', dark Higgsstrahlung): their inputs hold the simulated background on a grid of cells (expected
events per sample, the summed squared weights, the number of simulated events) and the data on
the same cells (:class:`CountingInputs`); a channel sums them over the cells of its window into a
:class:`CountingWindow`, whose background prediction and uncertainty come from
:func:`background_estimate`. Selection thresholds are chosen by Punzi's figure of merit
(:func:`punzi_figure_of_merit`, :func:`best_threshold`) among those the simulation can measure.
A window becomes a limit through :func:`counting_model` (CLs, with
:class:`~analysis_lib.analysis.scan.FastCLs`) or :class:`BayesianCounting`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
from scipy.stats import norm, poisson

from ..core.errors import KinematicError
from ..stats import BinnedModel
from ..stats.counting import CountingModel, bayesian_upper_limit, bayesian_upper_limits_one_bin, feldman_cousins_interval
from ..stats.limits import BANDS, LimitResult, upper_limit
from .inputs import Inputs

__all__ = [
    "MIN_SIMULATED_BACKGROUND", "PUNZI_A", "BayesianCounting", "CountingInputs", "CountingWindow",
    "background_cells", "background_estimate", "best_threshold", "compare_methods", "counting_model", "punzi_figure_of_merit", "summed_area",
    "window_model",
]

#: Punzi's figure of merit eps / (a/2 + sqrt(B)) (G. Punzi, arXiv:physics/0308063, Eq. (7)) with
#: a = 1.28, the one-sided z of a 90% confidence level.
PUNZI_A = 1.28
#: Fewest simulated background events a selection must keep where its background is predicted: a
#: prediction that rests on fewer is noise of the simulation.
MIN_SIMULATED_BACKGROUND = 10


def punzi_figure_of_merit(efficiency, background, *, a: float = PUNZI_A):
    """eps / (a/2 + sqrt(B)) (G. Punzi, arXiv:physics/0308063), ``a`` = 1.28 by default.

    Examples
    --------
    >>> round(float(punzi_figure_of_merit(0.5, 4.0)), 4)
    0.1894
    """
    return np.asarray(efficiency) / (a / 2 + np.sqrt(np.asarray(background)))


def best_threshold(efficiency, background, simulated, *, min_simulated: float = MIN_SIMULATED_BACKGROUND,
                   simulated_per_bin=None, min_per_bin: float = 0.0):
    """The threshold with the largest Punzi figure of merit among those whose background the
    simulation measures.

    Parameters
    ----------
    efficiency, background, simulated : arrays (n_thresholds,)
        Signal efficiency, expected background and simulated background events that pass each
        threshold.
    min_simulated : float
        Fewest simulated events a threshold must keep (:data:`MIN_SIMULATED_BACKGROUND` by default).
    simulated_per_bin : array (n_thresholds, n_bins), optional
        Simulated events per counting bin; with ``min_per_bin`` (0 by default) every bin must keep
        that many.

    Returns
    -------
    (index, figure of merit): the loosest threshold (index 0) with -inf where none qualifies.
    """
    merit = punzi_figure_of_merit(efficiency, background)
    measurable = np.asarray(simulated) >= min_simulated
    if simulated_per_bin is not None:
        measurable &= np.asarray(simulated_per_bin).min(axis=1) >= min_per_bin
    merit = np.where(measurable, merit, -np.inf)
    i = int(np.argmax(merit)) if np.isfinite(merit).any() else 0
    return i, float(merit[i])


def background_estimate(expected, sum_w2, n_simulated, *, unit_weight: float, systematic: float):
    """A background prediction from simulation and its uncertainty, per counting bin.

    The (smoothed) simulated expectation with the statistical uncertainty of the simulation (sqrt of
    the summed squared weights) and a relative ``systematic`` in quadrature. In a bin where no
    simulated event remains, both are set to at least the weight of one simulated event
    (``unit_weight``): the simulation cannot tell a background below that from none, and claiming
    none would make the limit as strong as the simulation is small. Returns (background,
    uncertainty).

    Examples
    --------
    >>> b, u = background_estimate([4.0, 0.0], [1.0, 0.0], [16, 0], unit_weight=0.25, systematic=0.1)
    >>> b.tolist(), [round(float(x), 4) for x in u]
    ([4.0, 0.25], [1.077, 0.25])
    """
    # sums over windows come from differences of cumulative sums: clip their rounding errors
    expected = np.clip(np.asarray(expected, dtype=float), 0.0, None)
    uncertainty = np.sqrt(np.clip(np.asarray(sum_w2, dtype=float), 0.0, None) + (systematic * expected) ** 2)
    empty = np.asarray(n_simulated) < 0.5
    return (np.where(empty, np.maximum(expected, unit_weight), expected),
            np.where(empty, np.maximum(uncertainty, unit_weight), uncertainty))


def background_cells(samples: dict, digitise, *, smooth=None, smooth_statistics: bool = False):
    """The simulated background on a counting search's cells.

    ``samples`` maps a sample name to (table, weights): its events and the weight each stands for (0
    for events left out, e.g. a classifier's training half); ``digitise(table, weights)`` bins them on
    the cells. Returns the expected events per sample (smoothed by ``smooth``, a function of an array
    of cells, where given), the summed squared weights and the number of simulated events per cell
    (all samples; smoothed alike with ``smooth_statistics``), and the largest weight of one event.
    """
    identity = lambda cells: cells  # noqa: E731
    smooth = smooth or identity
    statistics = smooth if smooth_statistics else identity
    maps, w2, raw, unit = {}, 0.0, 0.0, 0.0
    for name, (table, weights) in samples.items():
        maps[name] = smooth(digitise(table, weights))
        raw = raw + statistics(digitise(table, (weights > 0).astype(float)))
        w2 = w2 + statistics(digitise(table, weights**2))
        unit = max(unit, float(weights.max(initial=0.0)))
    return maps, w2, raw, unit


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
    background_w2 : array
        Summed squared weights per cell, all backgrounds.
    background_raw : array
        Simulated events per cell, all backgrounds.
    background_unit : float
        The largest weight of one simulated background event.
    data : array
        Counts per cell.
    """

    background_maps: dict
    background_w2: np.ndarray
    background_raw: np.ndarray
    background_unit: float
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
        The prediction (:func:`background_estimate`).
    simulated_background : float
        Simulated background events in the window.
    counts : array (k,)
        Observed counts.
    threshold, figure_of_merit : float
        The chosen selection threshold and its figure of merit (NaN where none is chosen).
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


def counting_model(window: CountingWindow):
    """The CLs model of a window: mu in units of the limited rate, the signal per bin
    ``signal_per_unit``, the background fixed to its prediction with its uncertainty as a per-bin
    constraint; bins without signal are left out. Returns (model, counts).

    The signal's own uncertainty (luminosity, efficiencies: a few percent) is not in this model;
    beside the background's it changes the limits little.
    """
    signal = np.asarray(window.signal_per_unit, dtype=float)
    keep = signal > 0
    if not keep.any():
        raise KinematicError(f"no simulated signal passes the selection at {window.mass_gev} GeV")
    model = BinnedModel(signal=signal[keep], background=np.maximum(window.background[keep], 1e-3),
                        background_uncertainty=np.maximum(window.background_uncertainty[keep], 1e-6),
                        float_background=False)
    return model, np.asarray(window.counts, dtype=float)[keep]


def window_model(point, *, window: Callable):
    """:func:`counting_model` of the window ``window(point)`` (a ``build`` for the scan calculators)."""
    return counting_model(window(point))


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
        """Observed and expected limits of one window."""
        background = float(np.sum(w.background))
        expected_counts = [poisson.ppf(norm.cdf(z), background) for z in BANDS]
        counts = np.array([float(np.sum(w.counts))] + expected_counts)
        unique, back = np.unique(counts, return_inverse=True)
        limits = bayesian_upper_limits_one_bin(
            unique, float(np.sum(w.signal_per_unit)), background,
            background_uncertainty=float(np.sqrt(np.sum(np.square(w.background_uncertainty)))),
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


def compare_methods(window: CountingWindow, *, cl: float, signal_uncertainty: float = 0.0) -> dict:
    """Upper limits of one one-bin window by four constructions, in units of its ``signal_per_unit``:
    the Bayesian limit with the uncertainties marginalised by quadrature (:class:`BayesianCounting`)
    and by Monte Carlo (:func:`analysis_lib.stats.counting.bayesian_upper_limit`, an independent
    integration of the same posterior), the CLs limit (:func:`analysis_lib.stats.limits.upper_limit`:
    the background uncertainty as a constraint, pseudo-experiments below three background events)
    and the upper end of the Feldman-Cousins interval for the predicted background taken as known
    (:func:`analysis_lib.stats.counting.feldman_cousins_interval`; its uncertainty is ignored; NaN
    above :data:`FELDMAN_COUSINS_MAX_EVENTS` observed plus expected events).

    The Bayesian and CLs limits differ by construction (credibility versus frequentist coverage,
    CLs conservative for a downward fluctuation); Feldman-Cousins is the unified frequentist interval.
    """
    s = float(np.sum(window.signal_per_unit))
    b = float(np.sum(window.background))
    u = float(np.sqrt(np.sum(np.square(window.background_uncertainty))))
    n = int(round(float(np.sum(window.counts))))
    bayes = BayesianCounting(lambda point: window, cl, signal_uncertainty=signal_uncertainty).limit(window).observed
    monte_carlo = bayesian_upper_limit([n], CountingModel(signal=[s], background=[b], background_uncertainty=u,
                                                          signal_uncertainty=signal_uncertainty), cl=cl)
    model = BinnedModel(signal=[s], background=[max(b, 1e-3)], background_uncertainty=[max(u, 1e-6)],
                        float_background=False)
    cls = upper_limit(model, [n], cl=cl).observed
    fc = float("nan")
    if n + b <= FELDMAN_COUSINS_MAX_EVENTS:  # above: the Gaussian regime, and a construction of many GB
        # the grid of the signal mean: to well above the upper limit, 10^4 steps (or 0.0005)
        mu_max = max(n - b, 0.0) + 8 * np.sqrt(n + b + 1) + 10
        fc = feldman_cousins_interval(n, b, cl=cl, step=max(5e-4, mu_max / 10_000), mu_max=mu_max)[1] / s
    return {"observed": n, "background": b, "background uncertainty": u,
            "Bayesian (quadrature)": bayes, "Bayesian (Monte Carlo)": float(monte_carlo), "CLs": cls,
            "Feldman-Cousins (known background)": fc}
