"""Maximum-likelihood fits by Newton's method with bounds, vectorised over rows (data sets, signal
strengths, pseudo-experiments), of a model with the row interface: ``full_nll(x, counts, aux,
gradient=)``, optionally ``full_hessian(x, counts, aux)``, and the parameters' ``_bounds`` and
``_fixed`` (:class:`~analysis_lib.stats.histfactory.HistFactoryModel`,
:class:`~analysis_lib.stats.smooth.SmoothBackgroundModel`).

Each step solves H d = -g on the free parameters that are not held at a bound, with the exact
gradient g of the model and its Hessian H (the model's closed form where it has one, else forward
differences of the gradient: one batched evaluation at every parameter shifted by a small step; a
Levenberg term keeps H positive definite), then halves the step until the negative log likelihood
decreases (Armijo's condition), or doubles a full step while it keeps decreasing, and clips it to the
bounds. A parameter at a bound whose gradient pushes outwards is held there (an active set). Near the
minimum the steps converge quadratically, so the minimum is found to the precision of the
arithmetic, which the test statistics (differences of minima) need; Migrad with its default
tolerance stops up to 1e-2 above it along weakly constrained directions of models with many
parameters.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bound_arrays", "minimize"]

#: Relative step of the finite differences of the gradient.
_STEP = 1e-6
_MAX_ITERATIONS = 60

try:  # numpy's stacked Cholesky kernel (np.linalg.cholesky calls it and raises when any matrix fails)
    from numpy.linalg import _umath_linalg

    _CHOLESKY = _umath_linalg.cholesky_lo
except (ImportError, AttributeError):  # pragma: no cover - other numpy versions
    _CHOLESKY = None


def bound_arrays(bounds) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) arrays of a list of (low, high) bounds, None meaning unbounded."""
    return (np.array([-np.inf if b[0] is None else b[0] for b in bounds], dtype=float),
            np.array([np.inf if b[1] is None else b[1] for b in bounds], dtype=float))


def minimize(model, counts, aux, start, *, free=None, max_iterations: int = _MAX_ITERATIONS):
    """Minimise ``model.full_nll`` over the free parameters of every row.

    Parameters
    ----------
    model : HistFactoryModel or SmoothBackgroundModel (any model with the row interface)
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
    lower, upper = bound_arrays(model._bounds)
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
        # the decrease the Newton step promises (half the squared Newton decrement): below 1e-10 the
        # minimum is reached to far better than the 1e-6 the test statistics need, including along
        # directions where the nll flattens out towards a bound at infinity (a background level fitted
        # to empty bins falls by one e-fold per step); rows promised less than 1e-12 stop here
        promised = -0.5 * np.sum(g * step, axis=1)
        settled = promised <= 1e-12
        active, xa, g, step = active[~settled], xa[~settled], g[~settled], step[~settled]
        promised = promised[~settled]
        accepted, x_new, nll_new, g_new = _line_search(model, xa, nll[active], g, step, counts[active], aux[active],
                                                       lower, upper)
        x[active], nll[active], gradient[active] = x_new, nll_new, g_new
        change = np.max(np.abs(x_new - xa), axis=1)
        converged = ~accepted | (change <= 1e-10 * (1 + np.max(np.abs(x_new), axis=1))) | (promised <= 1e-10)
        active = active[~converged]
    return x, nll


def _hessian(model, x, gradient, counts, aux, moving):
    """The model's Hessian (``full_hessian``) where it has one, else forward differences of the
    gradient (:func:`_difference_hessian`), symmetrised; the identity for the parameters that do not
    move."""
    k, p = x.shape
    if hasattr(model, "full_hessian"):
        hessian = model.full_hessian(x, counts, aux)
    else:
        hessian = _difference_hessian(model, x, gradient, counts, aux, moving)
    hessian = np.where(moving[:, :, None] & moving[:, None, :], hessian, 0.0)
    hessian[:, np.arange(p), np.arange(p)] += ~moving
    return hessian


def _difference_hessian(model, x, gradient, counts, aux, moving):
    """Forward differences of the gradient, with the sparsity of per-bin parameters (A. R. Curtis,
    M. J. D. Powell, J. K. Reid, J. Inst. Maths Applics 13 (1974) 117): a parameter that acts on
    one bin (a staterror or shapesys factor) has second derivatives only with the parameters acting
    on that bin, so such parameters of different bins are shifted together, one evaluation of the
    gradient for all (its row in the bin tells its column); the others are shifted one at a time, and
    their rows are their columns (the Hessian is symmetric). For the 85 parameters of a 50-bin model
    with two per-bin factors per bin: 7 evaluations instead of 85."""
    k, p = x.shape
    h = _STEP * np.maximum(np.abs(x), 1.0)
    wide, groups, partner = _sparsity(model)
    hessian = np.zeros((k, p, p))
    for column in wide:  # one at a time: the whole column, then the row by symmetry
        rows = np.flatnonzero(moving[:, column])
        if rows.size:
            shifted = x[rows].copy()
            shifted[:, column] += h[rows, column]
            _, g_shift = model.full_nll(shifted, counts[rows], aux[rows], gradient=True)
            hessian[rows, :, column] = (g_shift - gradient[rows]) / h[rows, column][:, None]
    for g, members in enumerate(groups):  # per-bin parameters of different bins together
        shifted = x.copy()
        shifted[:, members] += np.where(moving[:, members], h[:, members], 0.0)
        _, g_shift = model.full_nll(shifted, counts, aux, gradient=True)
        change = g_shift - gradient
        rows = np.flatnonzero(partner[g] >= 0)  # per-bin rows with a member of the group in their bin
        columns = partner[g][rows]
        hessian[:, rows, columns] = np.where(moving[:, columns], change[:, rows] / h[:, columns], 0.0)
    narrow = np.setdiff1d(np.arange(p), wide)
    hessian[:, wide[:, None], narrow[None, :]] = np.swapaxes(hessian[:, narrow[:, None], wide[None, :]], 1, 2)
    return 0.5 * (hessian + np.swapaxes(hessian, 1, 2))


def _sparsity(model):
    """(wide parameters, groups of per-bin parameters, partner): a parameter is per-bin when changing
    it changes the expected counts of at most one bin (each parameter shifted by 0.1 at the initial
    values and at three points around them; a parameter that changes none is treated as wide); groups hold per-bin parameters of
    different bins (greedy colouring); ``partner[g][j]`` is the member of group g acting on the bin of
    per-bin parameter j (-1 for none, and for wide j). Computed once per model, kept on it."""
    cached = getattr(model, "_hessian_sparsity", None)
    if cached is not None:
        return cached
    p = model._init.size
    lower, upper = bound_arrays(model._bounds)
    rng = np.random.default_rng(0)
    changed = np.zeros((p, model.n_bins), dtype=bool)
    # at the initial values and at points around them (a parameter's reach can depend on the others':
    # a normalisation of a sample that a histosys makes non-zero in more bins)
    for point in [model._init] + [np.clip(model._init + 0.3 * rng.standard_normal(p), lower, upper) for _ in range(3)]:
        base = model.expected(point[None])[0]
        shifted = np.repeat(point[None], p, axis=0)
        shifted[np.arange(p), np.arange(p)] += 0.1
        changed |= np.abs(model.expected(shifted) - base) > 1e-12 * (1 + np.abs(base))
    touched = changed.sum(axis=1)
    per_bin = np.flatnonzero(touched == 1)
    bins = np.argmax(changed[per_bin], axis=1)
    wide = np.flatnonzero(touched != 1)
    groups, used = [], []
    for parameter, b in zip(per_bin, bins):
        for g, taken in enumerate(used):
            if b not in taken:
                groups[g].append(parameter)
                taken.add(b)
                break
        else:
            groups.append([parameter])
            used.append({b})
    bin_of = dict(zip(per_bin, bins))
    partner = np.full((len(groups), p), -1)
    for g, members in enumerate(groups):
        by_bin = {bin_of[m]: m for m in members}
        for j, b in bin_of.items():
            partner[g, j] = by_bin.get(b, -1)
    structure = (wide, [np.array(m) for m in groups], partner)
    object.__setattr__(model, "_hessian_sparsity", structure)
    return structure


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
        # positive definite: a Cholesky factorisation vectorised over the rows (a row's step does not
        # depend on its batch)
        ok = _positive_definite(matrix)
        good = todo[ok]
        if good.size:
            try:
                step[good] = -np.linalg.solve(matrix[ok], gradient[good][..., None])[..., 0]
            except np.linalg.LinAlgError:  # a factorisable matrix singular to working precision: damped
                solved = np.array([_solves(m, g) for m, g in zip(matrix[ok], gradient[good])], dtype=object)
                singular = np.array([x is None for x in solved])
                for row, x in zip(good[~singular], solved[~singular]):
                    step[row] = -x
                ok[np.flatnonzero(ok)[singular]] = False
        damping[todo[~ok]] = np.where(damping[todo[~ok]] == 0, 1e-8, damping[todo[~ok]] * 10)
        todo = todo[~ok]
    return np.where(moving, step, 0.0)


def _solves(matrix, gradient):
    """The solution of matrix x = gradient, or None where the matrix is singular."""
    try:
        return np.linalg.solve(matrix, gradient)
    except np.linalg.LinAlgError:
        return None


def _positive_definite(matrices) -> np.ndarray:
    """Per matrix of a stack (K, p, p) of symmetric ones: whether it is positive definite to working
    precision, i.e. whether every entry is finite and LAPACK's Cholesky factorisation (dpotrf) finds
    every pivot positive. The factorisation runs over the stack in one call of numpy's linear-algebra
    kernel with the "invalid" error ignored, so that a matrix it cannot factorise comes back as NaN
    instead of raising for the whole stack: each matrix is tested on its own, so a row's answer does
    not depend on its batch. Where numpy has no such kernel, :func:`_positive_definite_columns`."""
    matrices = np.asarray(matrices, dtype=float)
    finite = np.all(np.isfinite(matrices), axis=(1, 2))
    if _CHOLESKY is None:
        return finite & _positive_definite_columns(matrices)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore", under="ignore"):
        factor = _CHOLESKY(np.where(finite[:, None, None], matrices, 0.0))
    return finite & np.all(np.isfinite(factor), axis=(1, 2))


def _positive_definite_columns(matrices) -> np.ndarray:
    """:func:`_positive_definite` by a Cholesky-Banachiewicz factorisation written out column by
    column for all matrices at once (LAPACK's pivot test up to the order of rounding)."""
    matrices = np.asarray(matrices, dtype=float)
    k, p, _ = matrices.shape
    factor = np.zeros_like(matrices)
    ok = np.all(np.isfinite(matrices), axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for j in range(p):
            pivot = matrices[:, j, j] - np.sum(factor[:, j, :j] ** 2, axis=1)
            ok &= pivot > 0
            root = np.sqrt(np.where(ok, pivot, 1.0))
            factor[:, j, j] = root
            below = matrices[:, j + 1 :, j] - (factor[:, j + 1 :, :j] @ factor[:, j, :j, None])[..., 0]
            factor[:, j + 1 :, j] = below / root[:, None]
    return ok


def _line_search(model, x, nll, gradient, step, counts, aux, lower, upper):
    """Halve the step until the clipped point decreases the nll (Armijo, c = 1e-4), or double a full
    step while that decreases it further; rows that find no decrease keep their point and report it
    (they are at the minimum to the precision of the nll). Every row tries the full step; a row stops
    halving once the decrease its step could give (t |g.d|, the slope's bound on it) is below the
    rounding of its nll (a sum of terms of the size of the counts: 1e-15 of |nll| plus the total
    count, plus 1e-15): there the comparison is noise, and without this a row at its minimum halved
    forty times."""
    k = x.shape[0]
    t = np.ones(k)
    best_x, best_nll = x.copy(), nll.copy()
    done = np.zeros(k, dtype=bool)
    noise = np.where(np.isfinite(nll), 1e-15 * (np.abs(nll) + np.sum(np.abs(counts), axis=1) + 1.0), 0.0)
    slope_full = np.abs(np.sum(gradient * step, axis=1))
    for _ in range(40):
        todo = np.flatnonzero(~done & ((t == 1.0) | (t * slope_full > noise)))
        if todo.size == 0:
            break
        trial = np.clip(x[todo] + t[todo, None] * step[todo], lower, upper)
        trial_nll = model.full_nll(trial, counts[todo], aux[todo])
        slope = np.sum(gradient[todo] * (trial - x[todo]), axis=1)
        good = np.isfinite(trial_nll) & (trial_nll <= nll[todo] + 1e-4 * np.minimum(slope, 0.0))
        best_x[todo[good]], best_nll[todo[good]] = trial[good], trial_nll[good]
        done[todo[good]] = True
        t[todo[~good]] *= 0.5
    # rows that took the full step try doubling it while the nll keeps falling: along a direction where
    # the nll decays exponentially towards a bound at infinity (a background level fitted to bins
    # without events) a Newton step gains one e-fold, the doubled ones many
    todo = np.flatnonzero(done & (t == 1.0))
    for _ in range(6):
        if todo.size == 0:
            break
        t[todo] *= 2
        trial = np.clip(x[todo] + t[todo, None] * step[todo], lower, upper)
        trial_nll = model.full_nll(trial, counts[todo], aux[todo])
        good = np.isfinite(trial_nll) & (trial_nll < best_nll[todo])
        best_x[todo[good]], best_nll[todo[good]] = trial[good], trial_nll[good]
        todo = todo[good]
    accepted = done & (best_nll < nll)
    _, best_gradient = model.full_nll(best_x, counts, aux, gradient=True)
    return accepted, best_x, best_nll, best_gradient
