"""Limits on a coupling that also sets the lifetime: the rate limit between lifetimes, and the
coupling where the rate meets the limit, against closed forms."""

import numpy as np
import pytest

from analysis_lib.analysis.lifetime import MissingLimits, PartialLimits, coupling_limit, coupling_limits, rate_limit_at

GRID = [0.0, 1.0, 10.0, 1000.0]


def test_rate_limit_between_and_beyond_the_lifetimes():
    limits = [3.0, 4.0, 40.0, 4000.0]
    # prompt to the first lifetime: linear in c tau of the logarithm
    assert rate_limit_at(GRID, limits, 0.0) == pytest.approx(3.0)
    assert rate_limit_at(GRID, limits, 0.5) == pytest.approx(np.sqrt(12.0))
    # inside: linear in log c tau (a power law is exact); above: extrapolated in log-log
    assert rate_limit_at(GRID, limits, 10.0) == pytest.approx(40.0)
    assert rate_limit_at(GRID, limits, np.sqrt(10.0)) == pytest.approx(4 * np.sqrt(10.0))
    assert rate_limit_at(GRID, limits, 1e4) == pytest.approx(4e4)


def test_coupling_limit_of_a_power_law():
    # B(g) = g^2, c tau(g) = 1e-2 / g^2 mm, L(c tau) = 1e-6 c tau: g^2 = 1e-8 / g^2, g = 1e-2 (c tau = 100 mm)
    limits = [1e-6, 1e-6, 1e-5, 1e-3]
    g = coupling_limit(GRID, limits, rate=lambda g: g**2, ctau_mm=lambda g: 1e-2 / g**2)
    assert g == pytest.approx(1e-2, rel=1e-5)
    # a constant limit: g = sqrt(L), whatever the lifetime
    g = coupling_limit(GRID, [4e-6] * 4, rate=lambda g: g**2, ctau_mm=lambda g: 1e-6 / g**2)
    assert g == pytest.approx(2e-3, rel=1e-5)
    # no finite limit at some lifetime, or the root outside the range: NaN
    assert np.isnan(coupling_limit(GRID, [1e-6, np.inf, 1e-5, 1e-3], rate=lambda g: g**2, ctau_mm=lambda g: 1.0))
    assert np.isnan(coupling_limit(GRID, [4e-6] * 4, rate=lambda g: g**2, ctau_mm=lambda g: 1.0,
                                   g_range=(1e-9, 1e-3)))


def test_couplings_computed_where_the_searches_read_them_equal_the_whole_grid():
    # rate limits on an 11-point grid at 30 masses: rising with c tau as the efficiency falls, with
    # fluctuations; rate g^2 m and c tau = 1e-4 / (g^2 m^3) mm
    rng = np.random.default_rng(3)
    grid = [0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0]
    masses = np.linspace(0.2, 4.5, 30)
    table = 1e-7 * (1 + np.asarray(grid)[:, None, None] / 20.0) * rng.uniform(0.7, 1.4, (len(grid), len(masses), 3))
    rates = [lambda g, m=m: g**2 * m for m in masses]
    ctaus = [lambda g, m=m: 1e-4 / (g**2 * m**3) for m in masses]
    asked = np.zeros((len(grid), len(masses)), dtype=int)

    def compute(k, js):
        asked[k, js] += 1
        return table[k, js]

    lazy = coupling_limits(grid, compute, rates=rates, ctaus=ctaus, columns=3)
    whole = np.array([[coupling_limit(grid, table[:, j, c], rate=rates[j], ctau_mm=ctaus[j]) for c in range(3)]
                      for j in range(len(masses))])
    assert np.isfinite(whole).all()
    assert np.array_equal(lazy, whole)
    assert asked.max() == 1  # each rate limit computed at most once
    assert asked.sum() < 0.8 * asked.size
    # an unknown limit that a search reads is named
    partial_limits = PartialLimits(table[:, 0, 0], np.arange(len(grid)) < 2)
    with pytest.raises(MissingLimits, match=r"\[9, 10\]"):
        coupling_limit(grid, partial_limits, rate=rates[0], ctau_mm=ctaus[0])


def _whole_grid_rate_limit(grid, limits, ctau):
    """The interpolation as it was written over the whole grid (np.interp of every point)."""
    grid, values = np.asarray(grid, dtype=float), np.log(np.asarray(limits, dtype=float))
    positive = grid > 0
    log_ctau = np.log(grid[positive])
    if ctau <= grid[positive][0]:
        return float(np.exp(np.interp(ctau, [0.0, grid[positive][0]], [values[0], values[positive][0]])))
    x = np.log(ctau)
    if x <= log_ctau[-1]:
        return float(np.exp(np.interp(x, log_ctau, values[positive])))
    slope = (values[positive][-1] - values[positive][-2]) / (log_ctau[-1] - log_ctau[-2])
    return float(np.exp(values[positive][-1] + slope * (x - log_ctau[-1])))


def test_two_point_interpolation_equals_the_whole_grid_bit_for_bit():
    rng = np.random.default_rng(5)
    grid = [0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0]
    limits = 1e-7 * rng.uniform(0.5, 50.0, len(grid))
    points = np.concatenate([grid, 10 ** rng.uniform(-4, 6, 2000)])
    assert all(rate_limit_at(grid, limits, c) == _whole_grid_rate_limit(grid, limits, c) for c in points)
    # a limit that is not finite gives NaN where it is read, not elsewhere
    broken = limits.copy()
    broken[5] = np.nan
    assert np.isnan(rate_limit_at(grid, broken, 20.0)) and rate_limit_at(grid, broken, 0.5) == rate_limit_at(grid, limits, 0.5)
