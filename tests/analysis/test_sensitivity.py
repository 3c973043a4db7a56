"""Sensitivity versus luminosity: the scaling a counting search must show, and where a systematic
uncertainty takes over, against the regimes derived in :mod:`analysis_lib.analysis.sensitivity`."""

from dataclasses import dataclass

import numpy as np
import pytest

from analysis_lib.analysis.counting import BayesianCounting, CountingWindow, ScaledWindows
from analysis_lib.analysis.sensitivity import reference_scaling, sensitivity
from analysis_lib.core.errors import ParameterError


def _window(background: float, relative: float) -> CountingWindow:
    return CountingWindow(mass_gev=1.0, ranges={}, efficiency=np.array([0.2]), signal_per_unit=np.array([1.0]),
                          background=np.array([background]), background_uncertainty=np.array([relative * background]),
                          simulated_background=1e4, counts=np.array([background]))


@dataclass(frozen=True)
class Fixed:
    """window(point): the same window at every point (picklable)."""

    w: CountingWindow

    def __call__(self, point):
        return self.w


def _curve(background, relative, luminosities):
    def calculator_at(scale, systematics):
        return BayesianCounting(ScaledWindows(Fixed(_window(background, relative)), scale, systematics), 0.9)

    return sensitivity(calculator_at, np.array([1.0]), reference_fb=1.0, quantity="rate", unit="fb", cl=0.9,
                       luminosities_fb=luminosities)


def test_background_free_and_background_limited_scaling():
    """Without background the limit on a rate falls as 1/L (2.30 / L signal events at 90% CL);
    with a large known background as 1/sqrt(L)."""
    lums = np.array([1.0, 10.0, 100.0])
    free = _curve(1e-6, 0.0, lums).median_statistical()[0]
    np.testing.assert_allclose(free * lums, 2.3026, rtol=2e-3)
    limited = _curve(1e4, 0.0, lums).median_statistical()[0]
    np.testing.assert_allclose(limited[1:] / limited[:-1], 10**-0.5, rtol=0.02)


def test_systematic_takes_over_where_it_exceeds_the_statistical_uncertainty():
    """A 1% background uncertainty stops the limit where delta B exceeds sqrt(B), B = 1e4 here: the
    takeover is at 1-10 times the run's luminosity, and far above it the limit with systematics no
    longer falls while the statistics-only one falls as 1/sqrt(L)."""
    lums = np.array([1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3])
    curve = _curve(1e6, 0.01, lums)  # B = 1e6 L: delta B = sqrt(B) at L = 0.01
    takeover = curve.takeover()
    assert takeover[0] in (1e-2, 0.1), takeover
    median = curve.expected()[0, :, 2]
    assert median[-1] == pytest.approx(median[-2], rel=0.02)
    frame = curve.to_frame()
    assert list(frame["luminosity_fb"]) == list(lums)
    np.testing.assert_allclose(frame["expected_statistics_only"], curve.median_statistical()[0])
    # without the systematic there is no takeover
    assert np.isnan(_curve(1e6, 0.0, lums).takeover()[0])


def test_reference_lines_and_bad_luminosities():
    np.testing.assert_allclose(reference_scaling([1.0, 100.0], 1.0, 2.0, 0.5), [2.0, 0.2])
    with pytest.raises(ParameterError, match="luminosity"):
        sensitivity(lambda s, syst: None, [1.0], reference_fb=float("nan"), quantity="rate", unit="fb", cl=0.9)
    with pytest.raises(ParameterError, match="increasing"):
        _curve(10.0, 0.0, np.array([10.0, 1.0]))
