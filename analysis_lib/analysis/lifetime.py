"""Limits on a coupling that also sets the lifetime: from rate limits computed at several lifetimes.

For a long-lived particle whose production rate B(g) and proper decay length c tau(g) both follow
from one coupling g (B grows as g^2, c tau falls as g^-2, so the efficiency rises with g), a
coupling is excluded where B(g) exceeds the rate limit L(c tau(g)) at the lifetime it implies.
Given L on a grid of lifetimes (:func:`rate_limit_at`: linear in c tau between prompt and the first
non-zero lifetime, linear in log c tau inside the grid, extrapolated in log-log above it), the
limit is the single root of log B(g) = log L(c tau(g)) (:func:`coupling_limit`).

A root needs L at a few lifetimes only (the two of each interval its search visits: about half of
an 11-point grid), so :func:`coupling_limits` computes them as the searches ask for them, a round
at a time, each lifetime for the masses that need it: the limits are those of the whole grid,
bit for bit, for the rate limits the searches read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

import numpy as np
from scipy.optimize import brentq

__all__ = ["MissingLimits", "PartialLimits", "coupling_limit", "coupling_limits", "rate_limit_at"]


class MissingLimits(LookupError):
    """Rate limits that an interpolation needs and that are not computed yet: grid ``indices``."""

    def __init__(self, indices):
        self.indices = tuple(sorted(int(i) for i in indices))
        super().__init__(f"rate limits at the lifetime grid points {list(self.indices)} are not computed yet")


class _NotFinite(ArithmeticError):
    """A rate limit read by the interpolation is not finite."""


def _neighbours(grid, ctau_mm) -> tuple[int, int]:
    """The two grid indices whose limits :func:`rate_limit_at` interpolates between at ``ctau_mm``."""
    positive = np.flatnonzero(grid > 0)
    if ctau_mm <= grid[positive[0]]:
        return 0, int(positive[0])
    above = int(np.searchsorted(grid[positive], ctau_mm))  # grid[positive][above - 1] < ctau <= ...
    if above >= len(positive):
        return int(positive[-2]), int(positive[-1])
    return int(positive[above - 1]), int(positive[above])


class PartialLimits:
    """Rate limits on a lifetime grid of which only some are computed (``known``): reading another
    raises :class:`MissingLimits`, naming every unknown index the interpolation needs."""

    def __init__(self, values, known):
        self.values, self.known = np.asarray(values, dtype=float), np.asarray(known, dtype=bool)

    def __getitem__(self, index):
        if not self.known[index]:
            raise MissingLimits([index])
        return self.values[index]

    def need(self, indices):
        """Raise :class:`MissingLimits` for every unknown index among ``indices``."""
        missing = [i for i in indices if not self.known[i]]
        if missing:
            raise MissingLimits(missing)


def rate_limit_at(ctau_grid_mm, limits, ctau_mm: float) -> float:
    """The rate limit at ``ctau_mm`` from its values ``limits`` on ``ctau_grid_mm`` (which starts at
    0, prompt, followed by increasing lifetimes): the logarithm linear in c tau between prompt and
    the first lifetime, linear in log c tau inside the grid, extrapolated from the last two above it.
    ``limits`` may be a :class:`PartialLimits` (only the two values used are read); NaN where one of
    them is not finite.

    Examples
    --------
    >>> round(rate_limit_at([0.0, 1.0, 10.0], [1.0, 2.0, 20.0], 100.0), 6)
    200.0
    """
    grid = np.asarray(ctau_grid_mm, dtype=float)
    i, j = _neighbours(grid, ctau_mm)
    if isinstance(limits, PartialLimits):
        limits.need((i, j))
    values = [float(limits[i]), float(limits[j])]
    if not np.all(np.isfinite(values)):
        return float("nan")
    low, high = np.log(values)
    if i == 0:
        # between prompt and the first lifetime: linear in c tau
        return float(np.exp(np.interp(ctau_mm, [0.0, grid[j]], [low, high])))
    x, x_low, x_high = np.log(ctau_mm), np.log(grid[i]), np.log(grid[j])
    if x <= x_high:
        return float(np.exp(np.interp(x, [x_low, x_high], [low, high])))
    slope = (high - low) / (x_high - x_low)
    return float(np.exp(high + slope * (x - x_high)))


def coupling_limit(ctau_grid_mm, limits, *, rate: Callable, ctau_mm: Callable, g_range=(1e-9, 1e-1)) -> float:
    """The coupling g where ``rate(g)`` equals the rate limit at ``ctau_mm(g)`` (NaN where a limit it
    reads is not finite or the root is outside ``g_range``). ``limits`` may be a
    :class:`PartialLimits`: a value the search needs and that is unknown raises
    :class:`MissingLimits`.

    Examples
    --------
    A rate g^2 against a limit 1e-6 at every lifetime: g = 1e-3.

    >>> round(coupling_limit([0.0, 1.0, 10.0], [1e-6] * 3, rate=lambda g: g**2, ctau_mm=lambda g: 1e-6 / g**2), 8)
    0.001
    """
    def excess(log_g):
        g = np.exp(log_g)
        limit = rate_limit_at(ctau_grid_mm, limits, ctau_mm(g))
        if not np.isfinite(limit):
            raise _NotFinite
        return np.log(rate(g)) - np.log(limit)

    low, high = np.log(g_range[0]), np.log(g_range[1])
    try:
        if not excess(low) < 0 < excess(high):
            return float("nan")
        return float(np.exp(brentq(excess, low, high, xtol=1e-6)))
    except _NotFinite:
        return float("nan")


def coupling_limits(ctau_grid_mm, compute: Callable, *, rates, ctaus, columns: int = 1, g_range=(1e-9, 1e-1)):
    """:func:`coupling_limit` at many masses, computing the rate limits only where the searches read
    them.

    Parameters
    ----------
    ctau_grid_mm : sequence
        The lifetime grid (prompt first).
    compute : callable
        ``compute(k, js) -> array (len(js), columns)``: the rate limits at grid point ``k`` for the
        masses of indices ``js`` (one column per limit: observed, each expected quantile).
    rates, ctaus : sequences of callables
        Per mass, ``rate(g)`` and ``ctau_mm(g)``.

    Returns the couplings (masses, columns). Each round runs every mass's searches (one per column)
    as far as the computed limits take them, then computes the missing ones, a grid point at a time
    for the masses that need it; the searches read the same values as with the whole grid, so the
    couplings are the same.
    """
    grid = np.asarray(ctau_grid_mm, dtype=float)
    n = len(rates)
    if len(ctaus) != n:
        raise ValueError(f"{n} rates but {len(ctaus)} lifetimes; give one of each per mass")
    values = np.full((len(grid), n, columns), np.nan)
    known = np.zeros((len(grid), n), dtype=bool)
    out = np.full((n, columns), np.nan)
    pending = list(range(n))
    while pending:
        needs, still = defaultdict(list), []
        for j in pending:
            complete = True
            for c in range(columns):
                try:
                    out[j, c] = coupling_limit(grid, PartialLimits(values[:, j, c], known[:, j]), rate=rates[j],
                                               ctau_mm=ctaus[j], g_range=g_range)
                except MissingLimits as missing:
                    complete = False
                    for k in missing.indices:
                        if j not in needs[k]:
                            needs[k].append(j)
            if not complete:
                still.append(j)
        for k in sorted(needs):
            js = sorted(needs[k])
            values[k, js] = np.asarray(compute(k, js), dtype=float).reshape(len(js), columns)
            known[k, js] = True
        pending = still
    return out
