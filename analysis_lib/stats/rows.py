"""Asymptotic CLs limits of a peak on a smooth background, vectorised over signal strengths.

The same construction as the readable path of :func:`analysis_lib.stats.limits.upper_limit` (q~_mu
of arXiv:1007.1727, Eq. (16); CLs from the asymptotic formulae with sigma from the Asimov data set
of the background-only fit to the data, Eq. (65)-(66) there), with every conditional fit made by
Newton's method on many signal strengths at once (:mod:`analysis_lib.stats.newton`) instead of one
Migrad fit per strength inside a root finder:

1. the global fit (mu-hat >= 0) and the fit at mu = 0 to the data; the Asimov data of the latter;
2. the observed CLs(mu) and the Asimov sqrt(q_mu,A) on a geometric grid of strengths around the
   scale of the background's fluctuation, which brackets every root (the observed limit, where CLs
   falls to alpha, and the five expected ones, where sqrt(q_mu,A) reaches k + Phi^-1(1 - alpha Phi(k)));
3. rounds that put equally spaced strengths inside every bracket at once and keep the interval that
   holds the root, then a linear interpolation inside the last one (log CLs for the observed limit).

Three rounds of twelve points narrow a bracket 2197 times, and the interpolation leaves a relative
error far below the fits' precision; ``tests/stats/test_rows.py`` compares the limits with the
readable path's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from ..core.errors import ParameterError
from .toys import _NewtonFits

__all__ = ["asymptotic_limits"]

#: Strengths of the first grid: the scale times 2^-12 ... 2^12 (extended by 2^24 where a root lies outside).
_GRID = 2.0 ** np.arange(-12, 13)
#: Points per bracket and rounds of the refinement.
_POINTS, _ROUNDS = 12, 3
#: Band positions (in standard deviations) of the expected limits.
_BANDS = (-2, -1, 0, 1, 2)


class _Evaluator:
    """Observed CLs and Asimov sqrt(q_mu,A) of one model and data set at rows of strengths, the
    conditional fits of both in one vectorised minimisation per call."""

    def __init__(self, model, counts, aux, zero):
        self.fits = _NewtonFits(model)
        c, a = np.asarray(counts, float)[None], np.asarray(aux, float)[None]
        self.counts, self.aux, self.zero = c, a, zero  # zero: the fit at mu = 0 (any signal normalisation)
        self.best, best_nll = self.fits.global_fit(c, a, self.fits.start(c, a))
        self.best_nll = float(best_nll[0])
        asimov_counts, asimov_aux = model.asimov(self.zero[0, 1:], counts, aux)
        self.asimov_counts, self.asimov_aux = asimov_counts[None], np.asarray(asimov_aux, float)[None]
        self.asimov_nll = float(model.full_nll(self.zero, self.asimov_counts, self.asimov_aux)[0])
        self.mu_hat = float(self.best[0, 0])

    def evaluate(self, mus_asimov, mus_observed):
        """(sqrt(q_mu,A) at ``mus_asimov``, sqrt(q_mu,A) and log CLs observed at ``mus_observed``: the
        observed CLs needs the Asimov fits at its own strengths too)."""
        mus_asimov, mus_observed = np.asarray(mus_asimov, float), np.asarray(mus_observed, float)
        every_asimov = np.concatenate([mus_asimov, mus_observed])
        na, no = every_asimov.size, mus_observed.size
        mus = np.concatenate([every_asimov, mus_observed])
        counts = np.concatenate([np.repeat(self.asimov_counts, na, 0), np.repeat(self.counts, no, 0)])
        aux = np.concatenate([np.repeat(self.asimov_aux, na, 0), np.repeat(self.aux, no, 0)])
        start = np.concatenate([np.repeat(self.zero, na, 0), np.repeat(self.best, no, 0)])
        _, nll = self.fits.conditional(mus, counts, aux, start)
        sqa = np.sqrt(np.maximum(2 * (nll[:na] - self.asimov_nll), 0.0))
        q = np.where(self.mu_hat > mus_observed, 0.0, np.maximum(2 * (nll[na:] - self.best_nll), 0.0))
        return sqa[: mus_asimov.size], sqa[mus_asimov.size :], _log_cls(q, sqa[mus_asimov.size :])


def _log_cls(q, sqa):
    """log CLs from q~_mu and sqrt(q_mu,A) (the readable path's formula, Eq. (65)-(66) of
    arXiv:1007.1727: CLs = 1 where q_mu,A = 0, no sensitivity)."""
    safe = np.where(sqa > 0, sqa, 1.0)
    t = np.where(q <= sqa**2, np.sqrt(q), (q + sqa**2) / (2 * safe))
    log_clsb, log_clb = log_ndtr(-t), log_ndtr(-(t - sqa))
    return np.where((sqa > 0) & np.isfinite(log_clb), np.minimum(log_clsb - log_clb, 0.0), 0.0)


def _interpolate(lo, hi, f_lo, f_hi, target):
    """The root of the line through (lo, f_lo), (hi, f_hi) at ``target`` (the middle where flat)."""
    span = f_hi - f_lo
    fraction = np.where(span != 0, (target - f_lo) / np.where(span != 0, span, 1.0), 0.5)
    return lo + np.clip(fraction, 0.0, 1.0) * (hi - lo)


def asymptotic_limits(model, counts, aux, *, alpha: float, bands: bool = True):
    """(observed, expected (5,), mu-hat) asymptotic CLs limits on mu of ``model`` (a
    :class:`~analysis_lib.stats.smooth.SmoothBackgroundModel`; any model with the row interface of
    :mod:`analysis_lib.stats.newton`) at ``1 - alpha``. The grid is centred on the signal that equals
    three standard deviations of the background-only fit's background (the readable path's first
    bracket). Raises RuntimeError where CLs never falls to alpha."""
    if not float(np.sum(model.signal)) > 0:
        raise ParameterError(f"the signal of the model sums to {float(np.sum(model.signal))!r}: a limit on its "
                             "strength needs a positive expected signal")
    fits = _NewtonFits(model)
    c, a = np.asarray(counts, float)[None], np.asarray(aux, float)[None]
    zero, _ = fits.conditional(0.0, c, a, fits.start(c, a))
    background = float(model.expected(zero)[0].sum())
    scale = max(3 * np.sqrt(max(background, 1.0)) / float(np.sum(model.signal)), 1e-12)
    # strengths in units of the scale: every parameter of the fits of order one (the fits' convergence
    # test is relative to the largest parameter of a row)
    ev = _Evaluator(replace(model, signal=model.signal * scale), counts, aux, zero)
    observed, expected, mu_hat = _limits(ev, alpha, bands)
    return float(observed * scale), tuple(float(e * scale) for e in expected), float(mu_hat * scale)


def _limits(ev, alpha, bands):
    """The roots of :func:`asymptotic_limits` for strengths whose scale is 1."""
    # targets: log alpha for log CLs (decreasing), k - Phi^-1(alpha Phi(k)) = k + Phi^-1(1 - alpha
    # Phi(k)) for sqrt(q_A) (increasing; the first form keeps its precision at small alpha)
    targets = np.array([k - ndtri(alpha * ndtr(k)) for k in _BANDS]) if bands else np.zeros(0)
    log_alpha = np.log(alpha)

    grid = _GRID.copy()
    _, sqa, log_cls = ev.evaluate(np.zeros(0), grid)
    for _ in range(3):  # extend the grid, 2^24 at a time at the failing end(s), until every root is inside
        low_ok = log_cls[0] >= log_alpha and (targets.size == 0 or sqa[0] < targets.min())
        high_ok = log_cls[-1] < log_alpha and (targets.size == 0 or sqa[-1] >= targets.max())
        if low_ok and high_ok:
            break
        below = grid[0] * _GRID[:-1] / _GRID[-1] if not low_ok else np.zeros(0)
        above = grid[-1] * _GRID[1:] / _GRID[0] if not high_ok else np.zeros(0)
        _, sqa_below, cls_below = ev.evaluate(np.zeros(0), below)
        _, sqa_above, cls_above = ev.evaluate(np.zeros(0), above)
        grid = np.concatenate([below, grid, above])
        sqa = np.concatenate([sqa_below, sqa, sqa_above])
        log_cls = np.concatenate([cls_below, log_cls, cls_above])
    else:
        what = "CLs does not fall below alpha" if log_cls[-1] >= log_alpha else "the expected limits are not bracketed"
        raise RuntimeError(f"no upper limit found: {what} on strengths {grid[0]:.3g}-{grid[-1]:.3g} "
                           "(in units of three standard deviations of the background)")
    if not (np.all(np.isfinite(sqa)) and np.all(np.isfinite(log_cls))):
        raise RuntimeError("the fits of the asymptotic limit failed (non-finite test statistics); the readable "
                           "path (analysis_lib.stats.limits._readable_asymptotic) may say why")

    def bracket(values, target, increasing):
        above = values >= target if increasing else values < target
        i = int(np.argmax(above))  # the first grid point past the root
        return i - 1, i

    # brackets: row 0 the observed limit (on log CLs), rows 1.. the expected ones (on sqrt(q_A))
    lo, hi, f_lo, f_hi = [], [], [], []
    i, j = bracket(log_cls, log_alpha, increasing=False)
    lo.append(grid[i]), hi.append(grid[j]), f_lo.append(log_cls[i]), f_hi.append(log_cls[j])
    for target in targets:
        i, j = bracket(sqa, target, increasing=True)
        lo.append(grid[i]), hi.append(grid[j]), f_lo.append(sqa[i]), f_hi.append(sqa[j])
    lo, hi, f_lo, f_hi = (np.array(v, dtype=float) for v in (lo, hi, f_lo, f_hi))
    goal = np.concatenate([[log_alpha], targets])
    increasing = np.array([False] + [True] * targets.size)

    for _ in range(_ROUNDS):
        inner = lo[:, None] + (hi - lo)[:, None] * np.arange(1, _POINTS + 1)[None, :] / (_POINTS + 1)
        sqa, _, log_cls = ev.evaluate(inner[1:].ravel(), inner[0])
        values = np.concatenate([log_cls[None], sqa.reshape(len(inner) - 1, _POINTS)])
        points = np.concatenate([lo[:, None], inner, hi[:, None]], axis=1)
        f = np.concatenate([f_lo[:, None], values, f_hi[:, None]], axis=1)
        past = np.where(increasing[:, None], f >= goal[:, None], f < goal[:, None])
        past[:, -1] = True  # the bracket's upper end is past the root by construction
        j = np.argmax(past[:, 1:], axis=1) + 1
        rows = np.arange(len(lo))
        lo, hi, f_lo, f_hi = points[rows, j - 1], points[rows, j], f[rows, j - 1], f[rows, j]

    roots = _interpolate(lo, hi, f_lo, f_hi, goal)
    expected = tuple(float(v) for v in roots[1:]) if bands else (float("nan"),) * len(_BANDS)
    return float(roots[0]), expected, ev.mu_hat
