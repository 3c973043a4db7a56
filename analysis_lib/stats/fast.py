"""A fast evaluator of the CLs limits of :class:`~analysis_lib.stats.likelihood.BinnedModel`.

The same likelihood as the readable iminuit path (:func:`analysis_lib.stats.limits.upper_limit`),
evaluated for many signal strengths, data sets and hypotheses at once: every row of the arrays
is one (model, data, mu). The per-bin factors gamma_i are profiled in closed form (as in
:meth:`BinnedModel.profiled_gamma`); the background normalisation theta by Newton steps in
log(theta) with the gradient from the envelope theorem, d NLL / d theta = sum_i gamma_i b_i
(1 - n_i / nu_i), and the exact Hessian of the profiled likelihood (the Schur complement of the
per-bin gamma block, derived here); the global fit is a joint Newton iteration in (mu, log theta).
The limits are the roots of CLs(mu) - alpha, bracketed on a grid and refined by bisection. Models with
different numbers of bins are padded with empty bins, which contribute nothing.
``tests/stats/test_fast.py`` checks it against the readable path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from ..core.errors import ParameterError
from .likelihood import BinnedModel
from .limits import (
    AUTO_TOYS,
    BANDS,
    LimitResult,
    _is_known_counting,
    _toy_limit,
    asymptotic_threshold,
    joined_notes,
    small_background_note,
    summarise_notes,
)

__all__ = ["fast_discovery_significances", "fast_upper_limit", "fast_upper_limits"]

log = logging.getLogger(__name__)

_NEWTON_STEPS = 30
_TOLERANCE = 1e-8
#: Bisections that refine each limit inside its grid interval (2^-40 of the interval).
_BISECTIONS = 40


@dataclass(frozen=True)
class _Rows:
    """Per-row model arrays (K, n): signal, background, tau (inf where unconstrained), and
    whether the background normalisation floats (K,)."""

    s: np.ndarray
    b: np.ndarray
    tau: np.ndarray
    floating: np.ndarray

    def take(self, index):
        return _Rows(self.s[index], self.b[index], self.tau[index], self.floating[index])


def _stack(models):
    width = max(m.signal.size for m in models)

    def pad(values, fill):
        out = np.full((len(models), width), fill, dtype=float)
        for i, v in enumerate(values):
            out[i, : v.size] = v
        return out

    return _Rows(
        s=pad([m.signal for m in models], 0.0),
        b=pad([m.background for m in models], 0.0),
        tau=pad([m.tau for m in models], np.inf),
        floating=np.array([m.float_background for m in models]),
    ), width


def _gamma(rows, mu, theta, counts, aux):
    finite = np.isfinite(rows.tau)
    if not finite.any():  # no per-bin uncertainty in these rows
        return np.ones_like(rows.b)
    tau_f = np.where(finite, rows.tau, 0.0)
    big_b = theta[:, None] * rows.b
    ms = mu[:, None] * rows.s
    qa = (big_b + tau_f) * big_b
    qb = (big_b + tau_f) * ms - counts * big_b - aux * big_b
    qc = -aux * ms
    disc = np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # the unused branch
        root = np.where(qb < 0, (-qb + disc) / (2 * qa), -2 * qc / np.where(qb + disc > 0, qb + disc, 1.0))
    root = np.where((qc == 0) & (qb >= 0), 0.0, root)
    root = np.where(qa > 0, root, 1.0)
    return np.where(finite, np.maximum(root, 1e-12), 1.0)


def _nll(rows, mu, theta, gamma, counts, aux):
    finite = np.isfinite(rows.tau)
    nu = np.maximum(mu[:, None] * rows.s + theta[:, None] * gamma * rows.b, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        main = np.sum(nu - counts + np.where(counts > 0, counts * np.log(np.where(counts > 0, counts, 1.0) / nu), 0.0),
                      axis=1)
        tg = np.where(finite, np.where(finite, rows.tau, 0.0) * gamma, 1.0)
        aux_log = np.where(aux > 0, aux * np.log(np.where(aux > 0, aux, 1.0) / tg), 0.0)
        constraint = np.sum(np.where(finite, tg - aux + aux_log, 0.0), axis=1)
    return main + constraint


def _derivatives(rows, mu, theta, gamma, counts, aux):
    """Gradient in (mu, theta) with gamma profiled, and the Hessian of the profiled nll:
    H_ab = sum_i [f_ab - f_ag f_bg / f_gg] (per-bin second derivatives f, g for gamma)."""
    s, b = rows.s, rows.b
    mu, theta = mu[:, None], theta[:, None]
    finite = np.isfinite(rows.tau)
    nu = np.maximum(mu * s + theta * gamma * b, 1e-300)
    r = 1 - counts / nu
    w = np.where(counts > 0, (counts / nu) / nu, 0.0)  # 0 in empty (padded) bins
    if not finite.any():  # no per-bin factor to profile: the plain second derivatives
        return (np.sum(s * r, axis=1), np.sum(b * r, axis=1), np.sum(w * s**2, axis=1), np.sum(w * s * b, axis=1),
                np.sum(w * b**2, axis=1))
    f_mg = w * s * theta * b
    f_tg = b * r + w * theta * gamma * b**2
    f_gg = w * (theta * b) ** 2 + aux / np.maximum(gamma, 1e-300) ** 2
    inv = np.where(finite & (f_gg > 0), 1 / np.where(f_gg > 0, f_gg, 1.0), 0.0)
    return (
        np.sum(s * r, axis=1),
        np.sum(gamma * b * r, axis=1),
        np.sum(w * s**2 - f_mg**2 * inv, axis=1),
        np.sum(w * s * gamma * b - f_mg * f_tg * inv, axis=1),
        np.sum(w * (gamma * b) ** 2 - f_tg**2 * inv, axis=1),
    )


def _profile(rows, mu, counts, aux, theta):
    """Profiled nll and theta-hat of every row at its mu (Newton in log theta where it floats;
    each iteration works only on the rows that have not converged)."""
    theta = np.array(theta, dtype=float)
    active = np.flatnonzero(rows.floating)
    for _ in range(_NEWTON_STEPS):
        if active.size == 0:
            break
        sub = rows.take(active)
        th, m_, c_, a_ = theta[active], mu[active], counts[active], aux[active]
        gamma = _gamma(sub, m_, th, c_, a_)
        _, grad, _, _, h_tt = _derivatives(sub, m_, th, gamma, c_, a_)
        d1 = th * grad
        d2 = th**2 * h_tt + d1
        d2 = np.where(d2 > 0, d2, np.abs(d1) + 1e-12)
        step = np.clip(-d1 / d2, -2.0, 2.0)
        theta[active] = th * np.exp(step)
        active = active[np.abs(step) >= _TOLERANCE]
    gamma = _gamma(rows, mu, theta, counts, aux)
    return _nll(rows, mu, theta, gamma, counts, aux), theta, gamma


def _start(rows, counts):
    """Starting point (theta, mu) of the global fit of every row: the background normalisation that
    gives the observed total (1 where it is fixed), and the signal strength of the excess over it."""
    b_total = np.maximum(rows.b.sum(axis=1), 1e-300)
    theta = np.where(rows.floating, np.maximum(counts.sum(axis=1), 1.0) / b_total, 1.0)
    return theta, np.maximum((counts.sum(axis=1) - theta * b_total) / np.maximum(rows.s.sum(axis=1), 1e-300), 0.0)


def _global_fit(rows, counts, aux, theta, mu):
    """mu-hat >= 0 and theta-hat of every row, by joint Newton steps in (mu, log theta), each iteration
    on the rows that have not converged; a step that raises the nll (far from the minimum, e.g. a
    background near zero under a single count) is halved until it does not."""
    theta, mu = np.array(theta, dtype=float), np.maximum(np.array(mu, dtype=float), 0.0)
    active = np.arange(mu.size)
    for _ in range(_NEWTON_STEPS):
        if active.size == 0:
            break
        sub, c_, a_ = rows.take(active), counts[active], aux[active]
        m_, t_ = mu[active], theta[active]
        gamma = _gamma(sub, m_, t_, c_, a_)
        g_mu, g_theta, h_mm, h_mt, h_tt = _derivatives(sub, m_, t_, gamma, c_, a_)
        h_mm = np.maximum(h_mm, 1e-12)
        g_t = np.where(sub.floating, t_ * g_theta, 0.0)
        h_mt = np.where(sub.floating, t_ * h_mt, 0.0)
        h_tt = np.where(sub.floating, np.maximum(t_**2 * h_tt + g_t, 1e-12), 1.0)
        det = h_mm * h_tt - h_mt**2
        det = np.where(det > 0, det, h_mm * h_tt)
        d_mu = -(h_tt * g_mu - h_mt * g_t) / det
        d_t = -(h_mm * g_t - h_mt * g_mu) / det
        boundary = m_ + d_mu < 0  # mu = 0 and a theta-only step
        d_mu = np.where(boundary, -m_, d_mu)
        d_t = np.where(sub.floating, np.where(boundary, -g_t / h_tt, d_t), 0.0)
        # at most a factor e^2 in theta per step: the whole step shortened, so that it stays a
        # Newton direction (clipping log theta alone can point uphill, and the halving then stalls)
        shorten = np.minimum(1.0, 2.0 / np.maximum(np.abs(d_t), 1e-300))
        d_mu, d_t = np.where(boundary, d_mu, d_mu * shorten), d_t * shorten
        nll_now = _nll(sub, m_, t_, gamma, c_, a_)
        scale = np.ones_like(m_)
        check = np.arange(active.size)
        for _ in range(40):
            s_ = sub.take(check)
            trial_mu, trial_theta = m_[check] + scale[check] * d_mu[check], t_[check] * np.exp(scale[check] * d_t[check])
            trial = _nll(s_, trial_mu, trial_theta, _gamma(s_, trial_mu, trial_theta, c_[check], a_[check]),
                         c_[check], a_[check])
            worse = ~(trial <= nll_now[check] + 1e-9 * (1 + np.abs(nll_now[check])))
            check = check[worse]
            if check.size == 0:
                break
            scale[check] *= 0.5
        d_mu, d_t = scale * d_mu, scale * d_t
        mu[active], theta[active] = m_ + d_mu, t_ * np.exp(d_t)
        converged = (np.abs(d_mu) < _TOLERANCE * (1 + np.abs(mu[active]))) & (np.abs(d_t) < _TOLERANCE)
        active = active[~converged]
    nll, theta, _ = _profile(rows, mu, counts, aux, theta)
    return mu, nll, theta


def _bracket(grid, values, target):
    """Per row, the grid interval [lo, hi] in which the increasing ``values`` first reach ``target``
    (lo = 0 before the first grid point; NaN where they never do)."""
    reached = values >= np.asarray(target, dtype=float).reshape(-1, 1) if np.ndim(target) else values >= target
    j = np.argmax(reached, axis=1)
    rows = np.arange(grid.shape[0])
    found = reached[rows, j]
    lo = np.where(j > 0, grid[rows, np.maximum(j - 1, 0)], 0.0)
    return np.where(found, lo, np.nan), np.where(found, grid[rows, j], np.nan)


def _bisect(function, index, lo, hi, target, *, iterations=_BISECTIONS):
    """Per row, the mu in [lo, hi] where the increasing ``function(index, mu)`` reaches ``target``."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = function(index, np.nan_to_num(mid)) >= target
        lo, hi = np.where(above, lo, mid), np.where(above, mid, hi)
    return 0.5 * (lo + hi)


def fast_upper_limits(models, counts, *, cl=0.95, aux=None, method="auto", n_grid=10, bands=True, warn=True):
    """Observed and expected CLs limits (asymptotic, q~_mu) of many hypotheses at once, with the
    notes of the readable path (:func:`analysis_lib.stats.limits.upper_limit`, ``method="auto"``).

    Parameters
    ----------
    models : sequence of BinnedModel
    counts : sequence of arrays
        Observed counts of each model.
    cl : float
        Confidence level, 0.95 by default.
    aux : sequence of arrays, optional
        Auxiliary data of each model (None entries, or None for all, the default: the nominal values).
    method : str
        "auto" (the default): as the readable path, pseudo-experiments where the background under
        the signal is below :func:`~analysis_lib.stats.limits.asymptotic_threshold`
        (:func:`~analysis_lib.stats.toys.fast_toy_upper_limits`, every such hypothesis at once);
        "asymptotic": the formulae everywhere (with the note).
    n_grid : int
        Points of the coarse grid in mu (10 by default).
    bands : bool
        Compute the expected limits (True by default); without, ``expected`` holds NaN (the observed
        limits of many pseudo-data sets of one model, for coverage, need none).
    warn : bool
        Log the notes of asymptotic limits where they under-cover (True by default; False where they
        only place the grid of the pseudo-experiments' limits).

    Returns
    -------
    list of LimitResult
    """
    if method not in ("auto", "asymptotic"):
        raise ParameterError(f"method={method!r} is not known; use 'auto' or 'asymptotic'")
    models = list(models)
    for m in models:
        if m.float_background and m.signal.size == 1:
            raise ParameterError(
                "a one-bin model with a free background normalisation has no constraint on the background; "
                "fix the normalisation (float_background=False) or use more bins"
            )
    rows, width = _stack(models)
    h = len(models)
    data = np.zeros((h, width))
    aux_given, aux = aux, np.zeros((h, width))
    given = [None] * h if aux_given is None else list(aux_given)
    if len(given) != h:
        raise ParameterError(f"aux has {len(given)} entries for {h} models; give one per model (or None)")
    for i, (m, c, a) in enumerate(zip(models, counts, given)):
        data[i, : m.signal.size] = np.asarray(c, dtype=float)
        values = m.nominal_aux() if a is None else np.asarray(a, dtype=float)
        if values.shape != (m.signal.size,):
            raise ParameterError(f"aux of model {i} has shape {values.shape}, but ({m.signal.size},) is required")
        aux[i, : m.signal.size] = values
    alpha = 1 - cl
    s_total = np.maximum(rows.s.sum(axis=1), 1e-300)
    b_total = np.maximum(rows.b.sum(axis=1), 1e-300)
    scale = np.maximum(3 * np.sqrt(np.maximum(b_total, 1.0)) / s_total, 1e-12)
    mu_hat, nll_hat, theta_hat = _global_fit(rows, data, aux, *_start(rows, data))
    _, theta_zero, gamma_zero = _profile(rows, np.zeros(h), data, aux, theta_hat)
    asimov = theta_zero[:, None] * gamma_zero * rows.b
    asimov_aux = np.where(np.isfinite(rows.tau), np.where(np.isfinite(rows.tau), rows.tau, 0.0) * gamma_zero, 0.0)
    asimov_nll = _nll(rows, np.zeros(h), theta_zero, gamma_zero, asimov, asimov_aux)

    def curves(index, grid):
        """CLs (observed, then the five expected) on ``grid`` (len(index), k) for the hypotheses
        ``index``: one stacked profile of observed and Asimov rows."""
        k = grid.shape[1]
        hyp = np.repeat(index, k)
        both = np.concatenate([hyp, hyp])
        mus = np.concatenate([grid.ravel(), grid.ravel()])
        sub = rows.take(both)
        counts_rows = np.concatenate([data[hyp], asimov[hyp]])
        aux_rows = np.concatenate([aux[hyp], asimov_aux[hyp]])
        start = np.concatenate([theta_hat[hyp], theta_zero[hyp]])
        nll, _, _ = _profile(sub, mus, counts_rows, aux_rows, start)
        n = hyp.size
        q = np.where(grid.ravel() < mu_hat[hyp], 0.0, np.maximum(2 * (nll[:n] - nll_hat[hyp]), 0.0))
        qa = np.maximum(2 * (nll[n:] - asimov_nll[hyp]), 1e-300)
        sqa = np.sqrt(qa)
        t = np.where(q <= qa, np.sqrt(q), (q + qa) / (2 * sqa))
        # CLs = Phi(-t) / Phi(sqrt(q_A) - t), in logarithms: both tails underflow far out (t of tens)
        observed = np.exp(log_ndtr(-t) - log_ndtr(sqa - t))
        out = [observed] + [ndtr(band - sqa) / ndtr(band) for band in BANDS]
        return [c.reshape(len(index), k) for c in out] + [sqa.reshape(len(index), k)]

    # bracket from the Asimov data: q_A(mu) ~ (mu / sigma_A)^2, so the +2 sigma expected limit is
    # about sigma_A (Phi^-1(1 - alpha Phi(2)) + 2); the grid runs to 1.5 times that
    nll_probe, _, _ = _profile(rows, scale, asimov, asimov_aux, theta_zero)
    sigma_a = scale / np.sqrt(np.maximum(2 * (nll_probe - asimov_nll), 1e-12))
    hi = np.maximum(1.5 * sigma_a * (ndtri(1 - alpha * ndtr(2.0)) + 2.0), mu_hat + 3 * sigma_a)
    grids = np.zeros((h, n_grid))
    observed_cls = np.ones((h, n_grid))
    sqrt_qa = np.zeros((h, n_grid))
    todo = np.arange(h)
    for _ in range(60):
        grid = np.linspace(0.0, 1.0, n_grid + 1)[None, 1:] * hi[todo, None]
        cls = curves(todo, grid)
        done = (cls[0][:, -1] < alpha) & (cls[5][:, -1] < alpha)
        grids[todo[done]] = grid[done]
        observed_cls[todo[done]] = cls[0][done]
        sqrt_qa[todo[done]] = cls[6][done]
        hi[todo[~done]] *= 2
        todo = todo[~done]
        if todo.size == 0:
            break
    # the roots, bracketed by the grid and refined by bisection (vectorised over hypotheses and bands):
    # observed where CLs = alpha; expected where sqrt(q_A) reaches k - Phi^-1(alpha Phi(k)), for which
    # CLs_k = Phi(k - sqrt(q_A)) / Phi(k) = alpha. Interpolating between grid points instead would miss
    # the kink of the observed CLs at mu-hat and the curvature of sqrt(q_A) at large uncertainties.
    targets = np.array([band - ndtri(alpha * ndtr(band)) for band in BANDS])
    all_rows = np.arange(h)
    observed = _bisect(lambda index, mu: -np.log(np.maximum(curves(index, mu[:, None])[0][:, 0], 1e-300)),
                       all_rows, *_bracket(grids, -np.log(np.maximum(observed_cls, 1e-300)), -np.log(alpha)),
                       -np.log(alpha))
    if bands:
        rows_k = np.tile(all_rows, len(BANDS))
        target_k = np.repeat(targets, h)
        lo, high = _bracket(grids[rows_k], sqrt_qa[rows_k], target_k)
        expected = _bisect(lambda index, mu: curves(index, mu[:, None])[6][:, 0], rows_k, lo, high,
                           target_k).reshape(len(BANDS), h).T
    else:
        expected = np.full((h, len(BANDS)), np.nan)
    limits = np.column_stack([observed, expected])
    # the background under the signal (background-only fit), as the readable path judges it
    b_core = _core_background(rows, theta_zero[:, None] * gamma_zero * rows.b)
    out, toys = [], []
    for i, (lim, mh) in enumerate(zip(limits, mu_hat)):
        result = LimitResult(observed=float(lim[0]), expected=tuple(float(x) for x in lim[1:]), cl=cl,
                             method="CLs, asymptotic (vectorised)", mu_hat=float(mh), background_core=float(b_core[i]))
        threshold = asymptotic_threshold(models[i])
        if b_core[i] < threshold:
            note = small_background_note(b_core[i], threshold, method == "auto", True)
            if method == "auto" and _is_known_counting(models[i]):  # as the readable path: closed-form toys
                result = replace(_toy_limit(models[i], np.asarray(counts[i], dtype=float), cl, note),
                                 background_core=float(b_core[i]))
            elif method == "auto":
                toys.append(i)
            result = replace(result, note=note)
        out.append(result)
    if method == "asymptotic" and warn:
        for note in summarise_notes(out):
            log.warning(note)
    if toys:  # as the readable path: pseudo-experiments, all these hypotheses at once
        from .toys import fast_toy_upper_limits

        given = [None] * h if aux_given is None else list(aux_given)
        limits = fast_toy_upper_limits([models[i] for i in toys], [counts[i] for i in toys], cl=cl,
                                       aux=[given[i] for i in toys], references=[out[i] for i in toys],
                                       n_toys=AUTO_TOYS)
        for i, result in zip(toys, limits, strict=True):
            out[i] = replace(result, note=joined_notes(out[i].note, result.note), background_core=out[i].background_core)
    return out


def _core_background(rows, background):
    """Per row, the expected background in the bins that hold the central 68% of the signal (as
    :func:`analysis_lib.stats.limits.signal_region_background`)."""
    out = np.empty(len(background))
    for i in range(len(background)):
        s = rows.s[i]
        order = np.argsort(-s, kind="stable")
        fraction = np.cumsum(s[order]) / max(s.sum(), 1e-300)
        core = order[: int(np.searchsorted(fraction, 0.68)) + 1]
        out[i] = background[i][core].sum()
    return out


def fast_discovery_significances(models, counts) -> np.ndarray:
    """Local significances Z = sqrt(q0) of many hypotheses at once (0 where the fitted strength is
    not positive), as :func:`analysis_lib.stats.limits.discovery_significance`.

    Examples
    --------
    >>> m = BinnedModel([1.0], [10.0], float_background=False)
    >>> z = fast_discovery_significances([m], [[20.0]])[0]
    >>> round(float(z), 4) == round(float(np.sqrt(2 * (20 * np.log(2) - 10))), 4)
    True
    """
    models = list(models)
    rows, width = _stack(models)
    h = len(models)
    data, aux = np.zeros((h, width)), np.zeros((h, width))
    for i, (m, c) in enumerate(zip(models, counts)):
        data[i, : m.signal.size] = np.asarray(c, dtype=float)
        aux[i, : m.signal.size] = m.nominal_aux()
    mu_hat, nll_hat, theta_hat = _global_fit(rows, data, aux, *_start(rows, data))
    nll_zero, _, _ = _profile(rows, np.zeros(h), data, aux, theta_hat)
    return np.where(mu_hat > 0, np.sqrt(np.maximum(2 * (nll_zero - nll_hat), 0.0)), 0.0)


def fast_upper_limit(model: BinnedModel, counts, *, cl=0.95, aux=None, method="auto", n_grid=10) -> LimitResult:
    """Observed and expected CLs limits of one model (``aux``: its auxiliary data, nominal by
    default); see :func:`fast_upper_limits`.

    Examples
    --------
    >>> m = BinnedModel([1.0], [10.0], float_background=False)
    >>> round(fast_upper_limit(m, [10.0], method="asymptotic").observed, 2)
    7.54
    """
    return fast_upper_limits([model], [counts], cl=cl, aux=[aux], method=method, n_grid=n_grid)[0]
