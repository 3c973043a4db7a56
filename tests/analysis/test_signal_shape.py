"""Signal peak templates: weighted samples against repeated unweighted events."""

import numpy as np
import pytest

from analysis_lib.analysis.signal_shape import PeakTemplates, weighted_quantile


def test_weighted_peak_templates_match_unweighted_events():
    # weights that are integers act like repeated events
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 0.1, 4000)
    w = rng.integers(0, 4, x.size).astype(float)
    repeated = np.repeat(x, w.astype(int))
    assert weighted_quantile(x, [0.16, 0.5, 0.84], w) == pytest.approx(np.quantile(repeated, [0.16, 0.5, 0.84]),
                                                                      abs=2e-3)
    weighted = PeakTemplates.from_samples([1.0, 2.0], [x, x + 1], [8000, 8000], weights=[w, w])
    plain = PeakTemplates.from_samples([1.0, 2.0], [repeated, repeated + 1], [8000, 8000])
    assert weighted.efficiency(1.5) == pytest.approx(plain.efficiency(1.5))
    assert weighted.width(1.0) == pytest.approx(plain.width(1.0), rel=0.02)
    edges = np.linspace(1.0, 2.5, 31)
    assert weighted.histogram(1.5, edges) == pytest.approx(plain.histogram(1.5, edges), abs=3e-3)
