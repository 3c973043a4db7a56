"""Maximum-likelihood fits of :class:`~analysis_lib.stats.histfactory.HistFactoryModel` by Newton's
method with bounds, vectorised over rows (data sets, signal strengths, pseudo-experiments).

Each step solves H d = -g on the free parameters that are not held at a bound, with the exact
gradient g of the model and the Hessian H from forward differences of that gradient (one batched
evaluation of the gradient at every parameter shifted by a small step; a Levenberg term keeps H
positive definite), then halves the step until the negative log likelihood decreases (Armijo's
condition) and clips it to the bounds. A parameter at a bound whose gradient pushes outwards is held
there (an active set). Near the minimum the steps converge quadratically, so the minimum is found to
the precision of the arithmetic, which the test statistics (differences of minima) need; Migrad with
its default tolerance stops up to 1e-2 above it along weakly constrained directions of models with
many parameters.
"""

from __future__ import annotations

import numpy as np

__all__ = ["minimize"]

#: Relative step of the finite differences of the gradient.
_STEP = 1e-6
_MAX_ITERATIONS = 60


def minimize(model, counts, aux, start, *, free=None, max_iterations: int = _MAX_ITERATIONS):
    """Minimise ``model.full_nll`` over the free parameters of every row.

    Parameters
    ----------
    model : HistFactoryModel
    counts, aux : arrays (K, n_bins), (K, n_aux)
        Main and auxiliary data of each row.
    start : array (K, n_parameters)
        Starting points (clipped to the bounds); the parameters that are not free keep their value.
    free : array of bool (n_parameters,) or (K, n_parameters), optional
        Which parameters are fitted; by default every parameter the model does not fix.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The minima (K, n_parameters) and the negative log likelihoods there (K,).
    """
    x = np.array(np.atleast_2d(start), dtype=float)
    counts, aux = np.atleast_2d(counts), np.atleast_2d(aux)
    k, p = x.shape
    lower = np.array([-np.inf if b[0] is None else b[0] for b in model._bounds])
    upper = np.array([np.inf if b[1] is None else b[1] for b in model._bounds])
    free = np.broadcast_to(~model._fixed if free is None else np.asarray(free, dtype=bool), (k, p)).copy()
    x = np.clip(x, lower, upper)
    nll, gradient = model.full_nll(x, counts, aux, gradient=True)
    active = np.arange(k)
    for _ in range(max_iterations):
        if active.size == 0:
            break
        xa, ga, fa = x[active], gradient[active], free[active]
        # hold parameters at a bound that the gradient pushes out of the box
        held = ((xa <= lower) & (ga > 0)) | ((xa >= upper) & (ga < 0))
        moving = fa & ~held
        hessian = _hessian(model, xa, ga, counts[active], aux[active], moving)
        g = np.where(moving, ga, 0.0)
        step = _newton_step(hessian, g, moving)
        accepted, x_new, nll_new, g_new = _line_search(model, xa, nll[active], g, step, counts[active], aux[active],
                                                       lower, upper)
        x[active], nll[active], gradient[active] = x_new, nll_new, g_new
        change = np.max(np.abs(x_new - xa), axis=1)
        converged = ~accepted | (change <= 1e-10 * (1 + np.max(np.abs(x_new), axis=1)))
        active = active[~converged]
    return x, nll


def _hessian(model, x, gradient, counts, aux, moving):
    """Forward differences of the gradient in the moving parameters (identity for the others), symmetrised."""
    k, p = x.shape
    h = _STEP * np.maximum(np.abs(x), 1.0)
    row, column = np.nonzero(moving)
    hessian = np.zeros((k, p, p))
    if row.size:
        shifted = x[row].copy()
        shifted[np.arange(row.size), column] += h[row, column]
        _, g_shift = model.full_nll(shifted, counts[row], aux[row], gradient=True)
        hessian[row, column] = (g_shift - gradient[row]) / h[row, column][:, None]
    hessian = 0.5 * (hessian + np.swapaxes(hessian, 1, 2))
    hessian = np.where(moving[:, :, None] & moving[:, None, :], hessian, 0.0)
    hessian[:, np.arange(p), np.arange(p)] += ~moving
    return hessian


def _newton_step(hessian, gradient, moving):
    """Solve (H + lambda I) d = -g per row, with lambda raised until H + lambda I is positive definite."""
    k, p = gradient.shape
    step = np.zeros((k, p))
    damping = np.zeros(k)
    todo = np.arange(k)
    scale = np.maximum(np.abs(np.diagonal(hessian, axis1=1, axis2=2)).max(axis=1), 1e-12)
    for _ in range(30):
        if todo.size == 0:
            break
        matrix = hessian[todo] + (damping[todo] * scale[todo])[:, None, None] * np.eye(p)
        try:
            factor = np.linalg.cholesky(matrix)
            ok = np.ones(todo.size, dtype=bool)
        except np.linalg.LinAlgError:
            ok = np.array([_is_positive_definite(m) for m in matrix])
            factor = None
        if factor is not None:
            step[todo] = -np.linalg.solve(matrix, gradient[todo][..., None])[..., 0]
        else:
            good = todo[ok]
            if good.size:
                step[good] = -np.linalg.solve(matrix[ok], gradient[good][..., None])[..., 0]
        damping[todo[~ok]] = np.where(damping[todo[~ok]] == 0, 1e-8, damping[todo[~ok]] * 10)
        todo = todo[~ok]
    return np.where(moving, step, 0.0)


def _is_positive_definite(matrix):
    try:
        np.linalg.cholesky(matrix)
        return True
    except np.linalg.LinAlgError:
        return False


def _line_search(model, x, nll, gradient, step, counts, aux, lower, upper):
    """Halve the step until the clipped point decreases the nll (Armijo, c = 1e-4); rows that find no
    decrease keep their point and report it (they are at the minimum to the precision of the nll)."""
    k = x.shape[0]
    t = np.ones(k)
    best_x, best_nll = x.copy(), nll.copy()
    done = np.zeros(k, dtype=bool)
    for _ in range(40):
        todo = np.flatnonzero(~done)
        if todo.size == 0:
            break
        trial = np.clip(x[todo] + t[todo, None] * step[todo], lower, upper)
        trial_nll = model.full_nll(trial, counts[todo], aux[todo])
        slope = np.sum(gradient[todo] * (trial - x[todo]), axis=1)
        good = np.isfinite(trial_nll) & (trial_nll <= nll[todo] + 1e-4 * np.minimum(slope, 0.0))
        best_x[todo[good]], best_nll[todo[good]] = trial[good], trial_nll[good]
        done[todo[good]] = True
        t[todo[~good]] *= 0.5
    accepted = done & (best_nll < nll)
    _, best_gradient = model.full_nll(best_x, counts, aux, gradient=True)
    return accepted, best_x, best_nll, best_gradient
