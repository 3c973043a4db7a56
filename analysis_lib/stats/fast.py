"""A fast evaluator of the CLs limits of :class:`~analysis_lib.stats.likelihood.BinnedModel`.

The same likelihood as the readable iminuit path (:func:`analysis_lib.stats.limits.upper_limit`),
evaluated for many signal strengths at once: the per-bin factors gamma_i are profiled in closed
form (as in :meth:`BinnedModel.profiled_gamma`), the background normalisation theta by Newton steps
in log(theta), vectorised over rows (signal strengths, and data sets: observed and Asimov), with
the gradient from the envelope theorem, d NLL / d theta = sum_i gamma_i b_i (1 - n_i / nu_i), and
a Gauss-Newton curvature. The global fit is a joint Newton iteration in (mu, log theta). The limits
are the roots of CLs(mu) - alpha on a grid, refined on a finer local grid. ``tests/test_fast.py``
checks it against the readable path.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ..errors import ParameterError
from .likelihood import BinnedModel
from .limits import BANDS, LimitResult

__all__ = ["fast_upper_limit"]

_NEWTON_STEPS = 30
_TOLERANCE = 1e-10


def _gamma(model, mu, theta, counts, aux):
    """Closed-form conditional gamma (rows x bins) for rows of (mu, theta, counts, aux)."""
    tau = model.tau[None, :]
    finite = np.isfinite(tau)
    tau_f = np.where(finite, tau, 0.0)
    big_b = theta * model.background[None, :]
    ms = mu * model.signal[None, :]
    qa = (big_b + tau_f) * big_b
    qb = (big_b + tau_f) * ms - counts * big_b - aux * big_b
    qc = -aux * ms
    disc = np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(qb < 0, (-qb + disc) / (2 * qa), -2 * qc / np.where(qb + disc > 0, qb + disc, 1.0))
    root = np.where((qc == 0) & (qb >= 0), 0.0, root)
    root = np.where(qa > 0, root, 1.0)
    return np.where(finite, np.maximum(root, 1e-12), 1.0)


def _nll(model, mu, theta, gamma, counts, aux):
    tau = model.tau[None, :]
    finite = np.isfinite(tau)
    nu = np.maximum(mu * model.signal[None, :] + theta * gamma * model.background[None, :], 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_n = np.where(counts > 0, counts, 1.0)
        main = np.sum(nu - counts + np.where(counts > 0, counts * np.log(safe_n / nu), 0.0), axis=1)
        tg = np.where(finite, np.where(finite, tau, 0.0) * gamma, 1.0)
        safe_m = np.where(aux > 0, aux, 1.0)
        constraint = np.sum(np.where(finite, tg - aux + np.where(aux > 0, aux * np.log(safe_m / tg), 0.0), 0.0), axis=1)
    return main + constraint


def _derivatives(model, mu, theta, gamma, counts, aux):
    """Gradient in (mu, theta) of the nll with gamma profiled (envelope theorem) and its Hessian:
    the second derivatives minus the gamma couplings, H_ab = sum_i [f_ab - f_ag f_bg / f_gg]
    (the Schur complement of the per-bin gamma block, derived here)."""
    s, b = model.signal[None, :], model.background[None, :]
    finite = np.isfinite(model.tau)[None, :]
    nu = np.maximum(mu * s + theta * gamma * b, 1e-300)
    r = 1 - counts / nu
    w = counts / nu**2
    grad_mu = np.sum(s * r, axis=1)
    grad_theta = np.sum(gamma * b * r, axis=1)
    f_mm, f_mt, f_tt = w * s**2, w * s * gamma * b, w * (gamma * b) ** 2
    f_mg = w * s * theta * b
    f_tg = b * r + w * theta * gamma * b**2
    f_gg = w * (theta * b) ** 2 + aux / np.maximum(gamma, 1e-300) ** 2
    inv = np.where(finite & (f_gg > 0), 1 / np.where(f_gg > 0, f_gg, 1.0), 0.0)
    h_mm = np.sum(f_mm - f_mg**2 * inv, axis=1)
    h_mt = np.sum(f_mt - f_mg * f_tg * inv, axis=1)
    h_tt = np.sum(f_tt - f_tg**2 * inv, axis=1)
    return grad_mu, grad_theta, h_mm, h_mt, h_tt


def _profile(model, mu, counts, aux, theta):
    """Profiled nll and theta-hat for rows: mu (K,), counts and aux (K, n), theta start (K,)."""
    mu = np.asarray(mu, dtype=float)[:, None]
    theta = np.asarray(theta, dtype=float)[:, None].copy()
    if model.float_background:
        for _ in range(_NEWTON_STEPS):
            gamma = _gamma(model, mu, theta, counts, aux)
            _, grad, _, _, h_tt = _derivatives(model, mu, theta, gamma, counts, aux)
            # Newton in t = log(theta): d/dt = theta g, d2/dt2 = theta^2 H + theta g
            d1 = theta[:, 0] * grad
            d2 = np.maximum(theta[:, 0] ** 2 * h_tt + d1, 1e-12)
            d2 = np.where(d2 > 0, d2, np.abs(d1) + 1e-12)
            step = np.clip(-d1 / d2, -2.0, 2.0)[:, None]
            theta = theta * np.exp(step)
            if np.max(np.abs(step)) < _TOLERANCE:
                break
    gamma = _gamma(model, mu, theta, counts, aux)
    return _nll(model, mu, theta, gamma, counts, aux), theta[:, 0], gamma


def _global_fit(model, counts, aux, theta0, mu0):
    """(mu-hat >= 0, theta-hat) by joint Newton steps in (mu, log theta)."""
    mu, theta = np.array([[max(mu0, 0.0)]]), np.array([[theta0]])
    for _ in range(_NEWTON_STEPS):
        gamma = _gamma(model, mu, theta, counts, aux)
        grad_mu, grad_theta, h_mm, h_mt, h_tt = (float(x[0]) for x in _derivatives(model, mu, theta, gamma, counts, aux))
        g_mu = grad_mu
        g_t = theta[0, 0] * grad_theta if model.float_background else 0.0
        h_mm = max(h_mm, 1e-12)
        if model.float_background:
            h_mt = theta[0, 0] * h_mt
            h_tt = max(theta[0, 0] ** 2 * h_tt + g_t, 1e-12)
            det = h_mm * h_tt - h_mt**2
            d_mu = -(h_tt * g_mu - h_mt * g_t) / det
            d_t = -(-h_mt * g_mu + h_mm * g_t) / det
        else:
            d_mu, d_t = -g_mu / h_mm, 0.0
        new_mu = mu[0, 0] + d_mu
        if new_mu < 0:  # on the boundary: mu = 0 and a theta-only step
            new_mu = 0.0
            if model.float_background:
                d_t = -g_t / h_tt
        d_t = float(np.clip(d_t, -2.0, 2.0))
        converged = abs(new_mu - mu[0, 0]) < _TOLERANCE * (1 + abs(mu[0, 0])) and abs(d_t) < _TOLERANCE
        mu[0, 0], theta[0, 0] = new_mu, theta[0, 0] * np.exp(d_t)
        if converged:
            break
    nll, theta_hat, _ = _profile(model, mu[:, 0], counts, aux, theta[:, 0])
    return float(mu[0, 0]), float(nll[0]), float(theta_hat[0])


def _first_root(grid, values, alpha):
    """Smallest mu on ``grid`` where the decreasing ``values`` cross ``alpha`` (log-linear)."""
    below = np.flatnonzero(values < alpha)
    if below.size == 0:
        return np.nan
    j = below[0]
    if j == 0:
        return grid[0]
    x0, x1 = grid[j - 1], grid[j]
    y0, y1 = np.log(max(values[j - 1], 1e-300)), np.log(max(values[j], 1e-300))
    return x0 + (np.log(alpha) - y0) * (x1 - x0) / (y1 - y0)


def fast_upper_limit(model: BinnedModel, counts, *, cl=0.95, aux=None, n_grid=24) -> LimitResult:
    """Observed and expected CLs limits of ``model`` (asymptotic, q~_mu), vectorised over mu.

    Examples
    --------
    >>> m = BinnedModel([1.0], [10.0], float_background=False)
    >>> round(fast_upper_limit(m, [10.0]).observed, 2)
    7.54
    """
    if model.float_background and model.signal.size == 1:
        raise ParameterError(
            "a one-bin model with a free background normalisation has no constraint on the background; "
            "fix the normalisation (float_background=False) or use more bins"
        )
    counts = np.asarray(counts, dtype=float)[None, :]
    aux = (model.nominal_aux() if aux is None else np.asarray(aux, dtype=float))[None, :]
    alpha = 1 - cl
    s_total = max(model.signal.sum(), 1e-300)
    mu_scale = max(3 * np.sqrt(max(model.background.sum(), 1.0)) / s_total, 1e-12)
    theta0 = max(counts.sum(), 1.0) / max(model.background.sum(), 1e-300) if model.float_background else 1.0
    guess = max((counts.sum() - theta0 * model.background.sum()) / s_total, 0.0)
    mu_hat, nll_hat, theta_hat = _global_fit(model, counts, aux, theta0, guess)
    nll_zero, theta_zero, gamma_zero = _profile(model, np.zeros(1), counts, aux, np.array([theta_hat]))
    asimov = model.expected(0.0, theta_zero[0], gamma_zero[0])[None, :]
    tau = model.tau
    asimov_aux = np.where(np.isfinite(tau), tau * gamma_zero[0], 0.0)[None, :]
    asimov_nll = float(_nll(model, np.zeros((1, 1)), theta_zero[:, None], gamma_zero, asimov, asimov_aux)[0])

    def curves(grid):
        """CLs observed and the five expected curves on ``grid``: one stacked profile of the
        observed and the Asimov data."""
        k = grid.size
        rows_mu = np.concatenate([grid, grid])
        rows_counts = np.concatenate([np.repeat(counts, k, 0), np.repeat(asimov, k, 0)])
        rows_aux = np.concatenate([np.repeat(aux, k, 0), np.repeat(asimov_aux, k, 0)])
        start = np.concatenate([np.full(k, theta_hat), np.full(k, theta_zero[0])])
        nll, _, _ = _profile(model, rows_mu, rows_counts, rows_aux, start)
        q = np.where(grid < mu_hat, 0.0, np.maximum(2 * (nll[:k] - nll_hat), 0.0))
        qa = np.maximum(2 * (nll[k:] - asimov_nll), 1e-300)
        sqa = np.sqrt(qa)
        t = np.where(q <= qa, np.sqrt(q), (q + qa) / (2 * sqa))
        observed = ndtr(-t) / np.maximum(ndtr(sqa - t), 1e-300)
        expected = [ndtr(k_ - sqa) / ndtr(k_) for k_ in BANDS]
        return observed, expected

    hi = 2 * mu_scale
    while True:
        grid = np.linspace(0.0, hi, n_grid + 1)[1:]
        observed, expected = curves(grid)
        if observed[-1] < alpha and expected[-1][-1] < alpha:
            break
        hi *= 2
    # refine every root on its own fine grid, all in one stacked evaluation
    step = grid[1] - grid[0]
    coarse = [_first_root(grid, values, alpha) for values in (observed, *expected)]
    fine = np.concatenate([np.linspace(max(c - step, step * 1e-3), c + step, 9) for c in coarse])
    obs_f, exp_f = curves(fine)
    limits = [_first_root(fine[9 * i : 9 * (i + 1)], values[9 * i : 9 * (i + 1)], alpha)
              for i, values in enumerate([obs_f, *exp_f])]
    return LimitResult(observed=float(limits[0]), expected=tuple(float(x) for x in limits[1:]), cl=cl,
                       method="CLs, asymptotic (vectorised)", mu_hat=float(mu_hat))
