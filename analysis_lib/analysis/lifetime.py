"""Limits on a coupling that also sets the lifetime: from rate limits computed at several lifetimes.

For a long-lived particle whose production rate B(g) and proper decay length c tau(g) both follow
from one coupling g (B grows as g^2, c tau falls as g^-2, so the efficiency rises with g), a
coupling is excluded where B(g) exceeds the rate limit L(c tau(g)) at the lifetime it implies.
Given L on a grid of lifetimes (:func:`rate_limit_at`: linear in c tau between prompt and the first
non-zero lifetime, linear in log c tau inside the grid, extrapolated in log-log above it), the
limit is the single root of log B(g) = log L(c tau(g)) (:func:`coupling_limit`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.optimize import brentq

__all__ = ["coupling_limit", "rate_limit_at"]


def rate_limit_at(ctau_grid_mm, limits, ctau_mm: float) -> float:
    """The rate limit at ``ctau_mm`` from its values ``limits`` on ``ctau_grid_mm`` (which starts at
    0, prompt, followed by increasing lifetimes).

    Examples
    --------
    >>> round(rate_limit_at([0.0, 1.0, 10.0], [1.0, 2.0, 20.0], 100.0), 6)
    200.0
    """
    grid = np.asarray(ctau_grid_mm, dtype=float)
    values = np.log(np.asarray(limits, dtype=float))
    positive = grid > 0
    log_ctau = np.log(grid[positive])
    if ctau_mm <= grid[positive][0]:
        # between prompt and the first lifetime: linear in c tau
        return float(np.exp(np.interp(ctau_mm, [0.0, grid[positive][0]], [values[0], values[positive][0]])))
    x = np.log(ctau_mm)
    if x <= log_ctau[-1]:
        return float(np.exp(np.interp(x, log_ctau, values[positive])))
    slope = (values[positive][-1] - values[positive][-2]) / (log_ctau[-1] - log_ctau[-2])
    return float(np.exp(values[positive][-1] + slope * (x - log_ctau[-1])))


def coupling_limit(ctau_grid_mm, limits, *, rate: Callable, ctau_mm: Callable, g_range=(1e-9, 1e-1)) -> float:
    """The coupling g where ``rate(g)`` equals the rate limit at ``ctau_mm(g)`` (NaN where the limits
    are not all finite or the root is outside ``g_range``).

    Examples
    --------
    A rate g^2 against a limit 1e-6 at every lifetime: g = 1e-3.

    >>> round(coupling_limit([0.0, 1.0, 10.0], [1e-6] * 3, rate=lambda g: g**2, ctau_mm=lambda g: 1e-6 / g**2), 8)
    0.001
    """
    if not np.isfinite(limits).all():
        return float("nan")

    def excess(log_g):
        g = np.exp(log_g)
        return np.log(rate(g)) - np.log(rate_limit_at(ctau_grid_mm, limits, ctau_mm(g)))

    low, high = np.log(g_range[0]), np.log(g_range[1])
    if not excess(low) < 0 < excess(high):
        return float("nan")
    return float(np.exp(brentq(excess, low, high, xtol=1e-6)))
