"""Smooth densities from simulated counts: penalised B-splines of the log-density (P-splines).

A simulated background sample stands for many more events than it holds, so its histogram on the
cells of a search is noisy where the search looks closest (tight selections, tails). This module
fits the expected counts on a grid of one or two dimensions as

    mu(x, y) = exposure(x, y) * exp( sum_ab theta_ab B_a(x) C_b(y) ),

cubic B-splines on equally spaced knots along each axis, by maximising the Poisson likelihood of
the counts minus a penalty lambda_x |D_x theta|^2 + lambda_y |D_y theta|^2 on second differences of
neighbouring coefficients (P-splines: P. H. C. Eilers, B. D. Marx, "Flexible smoothing with
B-splines and penalties", Stat. Sci. 11 (1996) 89). The penalty's null space holds log-linear
densities, so an exponential tail is extrapolated without bias, and the fit conserves the total
count and its mean along each axis. The sums over the grid use its array structure (I. D. Currie,
M. Durban, P. H. C. Eilers, "Generalized linear array models with applications to multidimensional
smoothing", J. R. Stat. Soc. B 68 (2006) 259): the local support of the B-splines makes the
Hessian a sum of banded pieces, computed without forming the basis of the whole grid.

The smoothing parameters are estimated from the counts with the generalised Fellner-Schall update
(S. N. Wood, M. Fasiolo, "A generalized Fellner-Schall method for smoothing parameter optimization
with application to Tweedie location, scale and shape models", Biometrics 73 (2017) 1071):
lambda_j <- lambda_j (tr(S^- P_j) - tr(V P_j)) / theta^T P_j theta, with S = sum_j lambda_j P_j and
V = (H + S)^-1, interleaved with the Newton steps of theta. V is also the covariance of theta (the
Bayesian covariance of a penalised fit), from which :meth:`SmoothCounts.box_sums` gives the
uncertainty of the expected counts in any box of cells: the uncertainty of the fit, which replaces
the statistical uncertainty of the raw simulated counts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from scipy.linalg import cho_factor, cho_solve, eigh

from ..core.errors import ParameterError

__all__ = ["Basis", "SmoothCounts", "effective_counts", "fit_counts"]

#: Degree of the B-splines (cubic).
DEGREE = 3
#: Order of the difference penalty.
PENALTY_ORDER = 2
#: Bounds of the smoothing parameters, and the relative change below which they have settled (a
#: smoothing parameter matters to the fit through its logarithm; 5% changes nothing visible).
LAMBDA_RANGE = (1e-4, 1e8)
LAMBDA_TOLERANCE = 0.05


@dataclass(frozen=True)
class Basis:
    """Cubic B-splines on ``n_segments`` equal segments of [low, high], evaluated at points.

    Attributes
    ----------
    first : array (n,) of int
        Index of the first of the four B-splines that are non-zero at each point.
    values : array (n, 4)
        Their values (summing to 1).
    size : int
        Number of B-splines, ``n_segments + 3``; 1 for a constant basis (``n_segments = 0``).
    points : array (n,)
        Where it is evaluated; ``knots`` = (low, high, n_segments).
    """

    first: np.ndarray
    values: np.ndarray
    size: int
    points: np.ndarray = None
    knots: tuple = (0.0, 1.0, 0)

    def coarse(self, factor: int) -> Basis:
        """The same splines at the means of groups of ``factor`` consecutive points (the last group
        may be shorter): the basis of a grid whose cells join ``factor`` cells of this one."""
        starts = np.arange(0, self.points.size, factor)
        means = np.add.reduceat(self.points, starts) / np.diff(np.append(starts, self.points.size))
        return Basis.at(means, *self.knots)

    @classmethod
    def at(cls, points, low: float, high: float, n_segments: int) -> Basis:
        """The basis at ``points`` (clipped into [low, high]); ``n_segments = 0`` gives the constant
        basis (one function equal to 1), for an axis that is not smoothed.

        Examples
        --------
        >>> b = Basis.at([0.0, 0.5, 1.0], 0.0, 1.0, 2)
        >>> b.size, b.values.sum(axis=1).round(12).tolist()
        (5, [1.0, 1.0, 1.0])
        """
        x = np.asarray(points, dtype=float)
        if n_segments == 0:
            values = np.zeros((x.size, DEGREE + 1))
            values[:, 0] = 1.0
            return cls(first=np.zeros(x.size, dtype=int), values=values, size=1, points=x, knots=(low, high, 0))
        if not (np.isfinite(low) and np.isfinite(high) and high > low) or n_segments < 1:
            raise ParameterError(f"a spline basis needs low < high and n_segments >= 1, not ({low}, {high}, {n_segments})")
        u = (np.clip(x, low, high) - low) / (high - low) * n_segments
        first = np.minimum(np.floor(u).astype(int), n_segments - 1)
        t = u - first
        values = np.column_stack([(1 - t) ** 3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1, t**3]) / 6
        return cls(first=first, values=values, size=n_segments + DEGREE, points=x, knots=(low, high, n_segments))

    @cached_property
    def dense(self) -> np.ndarray:
        """The basis as a dense (points, size) matrix."""
        out = np.zeros((self.first.size, self.size))
        rows = np.arange(self.first.size)
        for k in range(DEGREE + 1):
            np.add.at(out, (rows, np.minimum(self.first + k, self.size - 1)), self.values[:, k])
        return out

    def penalty(self) -> np.ndarray:
        """D^T D of the second differences of the coefficients (zero for a constant basis)."""
        if self.size <= PENALTY_ORDER:
            return np.zeros((self.size, self.size))
        d = np.diff(np.eye(self.size), n=PENALTY_ORDER, axis=0)
        return d.T @ d


def effective_counts(sum_w, sum_w2):
    """Counts with the relative Poisson fluctuation of a weighted sample, and their unit weight.

    A sample whose events carry unequal weights w has per cell sum(w) with variance sum(w^2); in
    units of w_bar = sum(w^2) / sum(w) over the whole sample, n = sum(w) / w_bar fluctuates as a
    Poisson count of the sample's effective size (sum w)^2 / sum(w^2) (Kish's effective sample size:
    L. Kish, Survey Sampling, Wiley, 1965). Returns (n per cell, w_bar).

    Examples
    --------
    >>> n, unit = effective_counts([2.0, 4.0], [4.0, 8.0])
    >>> n.tolist(), unit
    ([1.0, 2.0], 2.0)
    """
    sum_w = np.asarray(sum_w, dtype=float)
    total, total2 = float(sum_w.sum()), float(np.sum(sum_w2))
    if total <= 0:
        return np.zeros_like(sum_w), 0.0
    unit = total2 / total
    return sum_w / unit, unit


def _pairs(first, values, n_basis, weights, axis):
    """sum over points of ``weights`` x B_j B_k, grouped by the first non-zero B-spline of each point:
    for every pair (r, s) of local indices an array over the groups (the other axes kept), and the
    groups' first indices."""
    starts = np.flatnonzero(np.r_[True, np.diff(first) != 0])
    groups = first[starts]
    out = {}
    for r in range(DEGREE + 1):
        for s in range(r, DEGREE + 1):
            product = values[:, r] * values[:, s]
            shape = [1] * weights.ndim
            shape[axis] = -1
            out[r, s] = np.add.reduceat(weights * product.reshape(shape), starts, axis=axis)
    return out, groups


def _hessian(mu, bx: Basis, by: Basis) -> np.ndarray:
    """sum_xy mu(x, y) B_a(x) B_c(x) C_b(y) C_d(y) as a dense (ab, cd) matrix, from the banded
    pieces of the two axes (the array arithmetic of Currie, Durban and Eilers)."""
    nx, ny = bx.size, by.size
    flat, values = [], []
    zy, gy = _pairs(by.first, by.values, ny, mu, axis=1)  # (points x, groups y)
    for (r, s), z in zy.items():
        zx, gx = _pairs(bx.first, bx.values, nx, z, axis=0)  # (groups x, groups y)
        a, b = np.meshgrid(gx, gy, indexing="ij")
        for (p, q), h in zx.items():
            for pp, qq in {(p, q), (q, p)}:
                for rr, ss in {(r, s), (s, r)}:
                    ia, ic, ib, id_ = a + pp, a + qq, b + rr, b + ss
                    ok = (ia < nx) & (ic < nx) & (ib < ny) & (id_ < ny)
                    flat.append(((ia * ny + ib) * (nx * ny) + ic * ny + id_)[ok])
                    values.append(h[ok])
    size = nx * ny
    return np.bincount(np.concatenate(flat), weights=np.concatenate(values), minlength=size * size).reshape(size, size)


@dataclass(frozen=True)
class SmoothCounts:
    """A fitted smooth density on a grid (:func:`fit_counts`).

    Attributes
    ----------
    expected : array (nx, ny)
        Fitted expected counts per cell, times ``unit``.
    theta : array (nx_basis * ny_basis,)
        Spline coefficients of the log-density.
    covariance : array
        Covariance of ``theta`` (the inverse penalised Hessian).
    lambdas : (float, float)
        The estimated smoothing parameters along x and y.
    unit : float
        What one fitted count stands for (a simulated event's weight).
    observed : float
        The fitted counts' total (equal to the fit's total: the fit conserves it).
    iterations : int
        Newton steps taken.
    """

    x: Basis
    y: Basis
    theta: np.ndarray
    covariance: np.ndarray
    lambdas: tuple
    unit: float
    expected: np.ndarray
    observed: float
    iterations: int = 0

    def on(self, x: Basis, y: Basis, *, exposure=None, cell_fraction: float = 1.0) -> SmoothCounts:
        """The fitted density on another grid of the same splines (e.g. the fine cells of a fit made
        on joined cells): expected counts per cell ``cell_fraction`` times the density of the fitted
        cells (the fitted cell's share that one new cell is) times ``exposure``."""
        if (x.size, y.size) != (self.x.size, self.y.size) or x.knots != self.x.knots or y.knots != self.y.knots:
            raise ParameterError("the new grid's splines must be those of the fit (same knots)")
        eta = x.dense @ self.theta.reshape(x.size, y.size) @ y.dense.T
        e = np.ones(eta.shape) if exposure is None else np.asarray(exposure, dtype=float)
        expected = np.where(e > 0, np.exp(np.clip(eta, -700, 700)) * cell_fraction * e, 0.0) * self.unit
        return replace(self, x=x, y=y, expected=expected)

    def scaled(self, factor: float) -> SmoothCounts:
        """The same fit for weights ``factor`` times larger: a fit of effective counts does not depend
        on the weights' scale, only what a count stands for (``unit``, and the ``expected`` counts
        with it) does."""
        return replace(self, unit=self.unit * float(factor), expected=self.expected * float(factor))

    def box_sums(self, x0, x1, y0, y1):
        """Expected counts in the boxes of cells [x0, x1) x [y0, y1) (arrays of indices) and their
        standard deviations from the fit's covariance. Returns (sums, uncertainties)."""
        x0, x1, y0, y1 = (np.atleast_1d(np.asarray(v, dtype=int)) for v in (x0, x1, y0, y1))
        bx, by = self.x.dense, self.y.dense
        sums = np.empty(x0.size)
        gradients = np.empty((x0.size, self.theta.size))
        for k in range(x0.size):
            mu = self.expected[x0[k]:x1[k], y0[k]:y1[k]]
            sums[k] = mu.sum()
            gradients[k] = (bx[x0[k]:x1[k]].T @ mu @ by[y0[k]:y1[k]]).ravel()
        variances = np.einsum("ki,ij,kj->k", gradients, self.covariance, gradients)
        return sums, np.sqrt(np.clip(variances, 0.0, None))

    def gradients(self, x0, x1, y0, y1):
        """d(box sum)/d theta for each box (to propagate the fit's covariance into ratios of boxes)."""
        x0, x1, y0, y1 = (np.atleast_1d(np.asarray(v, dtype=int)) for v in (x0, x1, y0, y1))
        bx, by = self.x.dense, self.y.dense
        return np.stack([(bx[a:b].T @ self.expected[a:b, c:d] @ by[c:d]).ravel()
                         for a, b, c, d in zip(x0, x1, y0, y1)])


def fit_counts(counts, x: Basis, y: Basis, *, unit: float = 1.0, exposure=None, max_iterations: int = 200,
               tolerance: float = 1e-6) -> SmoothCounts:
    """Fit a P-spline log-density to ``counts`` on a (nx, ny) grid.

    Parameters
    ----------
    counts : array (nx, ny)
        Non-negative counts (simulated events, or :func:`effective_counts` of a weighted sample).
    x, y : Basis
        The splines at the cell centres of each axis (``Basis.at(..., n_segments=0)`` for an axis
        that is not smoothed).
    unit : float
        What one count stands for; the fitted ``expected`` counts are multiplied by it.
    exposure : array (nx, ny), optional
        Relative exposure of each cell (0 for cells outside the physical region, which the fit
        ignores and predicts empty); 1 by default.

    Returns
    -------
    SmoothCounts

    The iteration: a Newton step of theta on the penalised log-likelihood (halved until it
    increases), then the Fellner-Schall update of the smoothing parameters; stops when both settle.
    """
    n = np.asarray(counts, dtype=float)
    if n.shape != (x.first.size, y.first.size):
        raise ParameterError(f"counts of shape {n.shape} given on bases of {x.first.size} x {y.first.size} points; "
                             "evaluate the bases at the grid's cell centres of each axis")
    bad = ~np.isfinite(n) | (n < 0)
    if bad.any():
        raise ParameterError(f"{int(bad.sum())} of the {n.size} counts to fit are negative or not finite (the first "
                             f"at cell {tuple(int(v) for v in np.argwhere(bad)[0])}: {n[bad][0]}); counts must be "
                             "finite and non-negative")
    e = np.ones_like(n) if exposure is None else np.asarray(exposure, dtype=float)
    if e.shape != n.shape or not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ParameterError(f"the exposure (shape {e.shape}) must be finite, non-negative and of the counts' shape "
                             f"{n.shape}")
    total = float((n * (e > 0)).sum())
    if total <= 0:
        raise ParameterError("no counts to fit: the sample has no event in the cells where the exposure is positive")
    bx, by = x.dense, y.dense
    # the penalties along x and y, the matrices on theta and the eigenvalues of the difference
    # matrices (S = sum_j lambda_j P_j is diagonal in their common eigenbasis: tr(S^- P_j) in closed form)
    axes = []
    for basis, big in ((x, lambda p: np.kron(p, np.eye(y.size))), (y, lambda p: np.kron(np.eye(x.size), p))):
        p = basis.penalty()
        if not p.any():
            axes.append(None)
            continue
        eig = np.clip(eigh(p, eigvals_only=True), 0, None)  # ascending
        eig[:PENALTY_ORDER] = 0.0  # the null space (polynomials of degree < PENALTY_ORDER), exactly
        axes.append((big(p), eig))
    eig_x = axes[0][1][:, None] if axes[0] else np.zeros((x.size, 1))
    eig_y = axes[1][1][None, :] if axes[1] else np.zeros((1, y.size))
    lambdas = np.array([1.0 if a else 0.0 for a in axes])
    theta = np.full(x.size * y.size, np.log(total / max(float((e > 0).sum()), 1.0)))
    log_e = np.log(np.where(e > 0, e, 1.0))
    inside = e > 0

    def predict(th):
        eta = bx @ th.reshape(x.size, y.size) @ by.T + log_e
        return np.where(inside, np.exp(np.clip(eta, -700, 700)), 0.0), eta

    def objective(th, penalty):
        mu, eta = predict(th)
        return float(np.sum(np.where(inside, n * eta, 0.0) - mu)) - 0.5 * th @ penalty @ th

    def penalty(lams):
        return sum((lam * a[0] for lam, a in zip(lams, axes) if a), np.zeros((theta.size, theta.size)))

    def newton(th, big_s):
        """The gradient, the Cholesky factor of the penalised Hessian and the Newton step at ``th``."""
        mu, _ = predict(th)
        gradient = (bx.T @ np.where(inside, n - mu, 0.0) @ by).ravel() - big_s @ th
        hessian = _hessian(mu, x, y) + big_s
        factor = cho_factor(hessian + 1e-10 * np.trace(hessian) / th.size * np.eye(th.size))
        return gradient, factor, cho_solve(factor, gradient)

    for iteration in range(1, max_iterations + 1):
        big_s = penalty(lambdas)
        gradient, factor, step = newton(theta, big_s)
        before = objective(theta, big_s)
        scale = 1.0
        while scale > 1e-6 and objective(theta + scale * step, big_s) < before - 1e-12 * abs(before):
            scale /= 2
        theta = theta + scale * step
        decrement = float(gradient @ step)
        covariance = cho_solve(factor, np.eye(theta.size))
        s_eig = lambdas[0] * eig_x + lambdas[1] * eig_y
        positive = s_eig > 1e-12 * s_eig.max() if s_eig.max() > 0 else np.zeros(s_eig.shape, bool)
        new = lambdas.copy()
        for j, (a, eig) in enumerate(zip(axes, (eig_x, eig_y))):
            if not a:
                continue
            tr_s = float(np.sum(np.where(positive, np.broadcast_to(eig, s_eig.shape) / np.where(positive, s_eig, 1), 0)))
            quadratic = float(theta @ a[0] @ theta)
            if quadratic > 0:
                new[j] = np.clip(lambdas[j] * max(tr_s - float(np.sum(covariance * a[0])), 1e-12) / quadratic,
                                 *LAMBDA_RANGE)
        settled = all(abs(np.log(nw / lam)) < LAMBDA_TOLERANCE for nw, lam in zip(new, lambdas) if lam > 0)
        lambdas = new
        if settled and decrement < tolerance:
            break
    else:
        warnings.warn(f"the P-spline fit of {total:.6g} counts on {n.shape} cells did not settle in {max_iterations} "
                      f"iterations (last Newton decrement {decrement:.3g}, smoothing parameters {lambdas.tolist()}); "
                      "its prediction may be rougher or smoother than the counts support", RuntimeWarning, stacklevel=2)
    # a last Newton step at the final smoothing parameters, and the covariance there; near the maximum
    # (a small Newton decrement) the step is taken as it is: the objective's change is then below the
    # rounding of its penalty term at large smoothing parameters
    big_s = penalty(lambdas)
    gradient, _, step = newton(theta, big_s)
    if float(gradient @ step) < 1e-3 or objective(theta + step, big_s) >= objective(theta, big_s):
        theta = theta + step
    _, factor, _ = newton(theta, big_s)
    covariance = cho_solve(factor, np.eye(theta.size))
    mu, _ = predict(theta)
    return SmoothCounts(x=x, y=y, theta=theta, covariance=covariance, lambdas=tuple(float(v) for v in lambdas),
                        unit=float(unit), expected=mu * unit, observed=total, iterations=iteration)
