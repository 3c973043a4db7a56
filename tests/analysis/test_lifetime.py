"""Limits on a coupling that also sets the lifetime: the rate limit between lifetimes, and the
coupling where the rate meets the limit, against closed forms."""

import numpy as np
import pytest

from analysis_lib.analysis.lifetime import coupling_limit, rate_limit_at

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
