"""Coverage of upper limits: how often a 95% CL limit lies above the true signal.

Two models, the two kinds a chapter fits:

* one bin with a known background b (a counting window): the limit depends on the count n alone, so
  the coverage at a true signal s is the exact sum sum_n Poisson(n | s + b) [UL(n) >= s], no
  pseudo-experiments needed;
* a peak on a background whose normalisation floats, in ``SHAPE_BINS`` bins (a template fit): the
  coverage from pseudo-experiments drawn at s, with its binomial uncertainty.

CLs limits are built to cover at least CL (they are conservative by construction); the asymptotic
formulae (Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727) hold when the counts are large and fail
when they are small. :func:`coverage_map` measures where, for the asymptotic limits and for the
pseudo-experiments that replace them; :data:`analysis_lib.stats.limits.MIN_ASYMPTOTIC_BACKGROUND`
is chosen from it (the book's page on coverage shows the map).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from .fast import fast_upper_limits
from .likelihood import BinnedModel

__all__ = ["SHAPE_BINS", "Coverage", "counting_coverage", "coverage_map", "shape_coverage", "shape_model"]

#: Bins of the shape model.
SHAPE_BINS = 10


@dataclass(frozen=True)
class Coverage:
    """Coverage of one method at one background: the true signals (in units of the signal
    template), the coverage at each and its standard error (0 for the exact sums)."""

    background: float
    method: str
    signals: np.ndarray
    coverage: np.ndarray
    error: np.ndarray

    @property
    def minimum(self) -> float:
        return float(self.coverage.min())


def counting_coverage(background: float, signals, *, cl: float = 0.95, method: str = "asymptotic") -> Coverage:
    """Exact coverage of the limit of one bin with a known ``background`` at the true ``signals``;
    ``method`` "asymptotic" (the vectorised asymptotic CLs limit), "toys" (CLs from 20 000 pseudo-
    experiments, closed form for one bin: :func:`analysis_lib.stats.counting.toy_cls_upper_limit`) or
    "exact" (the limit of infinitely many: :func:`exact_counting_cls_limit`)."""
    from .counting import exact_counting_cls_limit, toy_cls_upper_limit

    signals = np.asarray(signals, dtype=float)
    n_max = int(poisson.isf(1e-9, signals.max() + background)) + 1
    n = np.arange(n_max + 1)
    if method == "asymptotic":
        model = BinnedModel([1.0], [background], float_background=False)
        limits = np.array([r.observed for r in _asymptotic([model] * n.size, [[k] for k in n], cl)])
    elif method == "toys":
        limits = np.array([toy_cls_upper_limit(int(k), 1.0, background, cl=cl, n_toys=20_000) for k in n])
    elif method == "exact":
        limits = np.array([exact_counting_cls_limit(int(k), 1.0, background, cl=cl) for k in n])
    else:
        raise ValueError(f"method={method!r}: use 'asymptotic', 'toys' or 'exact'")
    probability = poisson.pmf(n[None, :], signals[:, None] + background)
    coverage = np.sum(probability * (limits[None, :] >= signals[:, None]), axis=1)
    return Coverage(background, method, signals, coverage, np.zeros_like(coverage))


def _asymptotic(models, counts, cl, bands=False):
    """Asymptotic limits of many pseudo-data sets (their observed limits: no bands unless asked)."""
    return fast_upper_limits(models, counts, cl=cl, method="asymptotic", bands=bands)


def shape_model(background: float) -> BinnedModel:
    """A Gaussian peak (width 1.5 bins, unit total) on a falling background of ``background``
    events in total over :data:`SHAPE_BINS` bins, its normalisation free."""
    x = np.arange(SHAPE_BINS) + 0.5
    signal = np.exp(-0.5 * ((x - SHAPE_BINS / 2) / 1.5) ** 2)
    shape = np.exp(-x / SHAPE_BINS)
    return BinnedModel(signal / signal.sum(), background * shape / shape.sum(), float_background=True)


def shape_coverage(background: float, signals, *, cl: float = 0.95, n_toys: int = 2000, seed: int = 0,
                   method: str = "asymptotic", toys_per_limit: int = 1000) -> Coverage:
    """Coverage of the limit of :func:`shape_model` at the true ``signals`` from ``n_toys`` pseudo-
    data sets each (seeded); ``method`` "asymptotic" or "toys" (the limit of every pseudo-data set
    from ``toys_per_limit`` pseudo-experiments of its own). A limit covers s exactly when CLs at s is
    above 1 - cl, so with toys only CLs at s is computed
    (:func:`analysis_lib.stats.toys.fast_toy_cls`), not the limit, except where the pseudo-experiments
    do not resolve CLs at s near 1 - cl: there the limit itself decides (usually the asymptotic one,
    see :mod:`analysis_lib.stats.toys`). Every pseudo-data set's
    pseudo-experiments use the same random numbers (the batch evaluator's design), so their
    Monte-Carlo error is common to the sets and not in the binomial error returned; it shrinks as
    ``toys_per_limit`` grows (``method="auto"`` uses :data:`~analysis_lib.stats.limits.AUTO_TOYS`)."""
    from .toys import fast_toy_cls, fast_toy_upper_limits

    model = shape_model(background)
    signals = np.asarray(signals, dtype=float)
    rng = np.random.default_rng(seed)
    coverage = np.empty(signals.size)
    for i, s in enumerate(signals):
        counts = rng.poisson(s * model.signal + model.background, size=(n_toys, SHAPE_BINS)).astype(float)
        if method == "asymptotic":
            covered = np.array([r.observed for r in _asymptotic([model] * n_toys, list(counts), cl)]) >= s
        elif method == "toys":  # every pseudo-data set's CLs at s from its own pseudo-experiments, in one batch
            cls = fast_toy_cls([model] * n_toys, list(counts), s, n_toys=toys_per_limit, seed=seed + 1, cl=cl)[:, 0]
            covered = cls > 1 - cl
            unresolved = np.flatnonzero(~np.isfinite(cls))  # there: the limit itself, as the limit decides
            if unresolved.size:
                limits = fast_toy_upper_limits([model] * unresolved.size, list(counts[unresolved]), cl=cl,
                                               n_toys=toys_per_limit, seed=seed + 1)
                covered[unresolved] = np.array([r.observed for r in limits]) >= s
        else:
            raise ValueError(f"method={method!r}: use 'asymptotic' or 'toys'")
        coverage[i] = np.mean(covered)
    error = np.sqrt(coverage * (1 - coverage) / n_toys)
    return Coverage(background, method, signals, coverage, error)


def coverage_map(backgrounds, *, cl: float = 0.95, n_signals: int = 12, n_toys: int = 2000, seed: int = 0):
    """Coverage of the asymptotic limits of both models at every background of ``backgrounds``, at
    ``n_signals`` true signals from 0.2 to 2 times the median expected limit: {"counting": [...],
    "shape": [...]}, lists of :class:`Coverage`."""
    out = {"counting": [], "shape": []}
    for b in backgrounds:
        median = _asymptotic([BinnedModel([1.0], [b], float_background=False)], [[b]], cl, bands=True)[0].expected[2]
        out["counting"].append(counting_coverage(b, np.linspace(0.2, 2.0, n_signals) * median, cl=cl))
        model = shape_model(b)
        median = _asymptotic([model], [model.background], cl, bands=True)[0].expected[2]
        out["shape"].append(shape_coverage(b, np.linspace(0.2, 2.0, n_signals) * median, cl=cl, n_toys=n_toys,
                                           seed=seed))
    return out
