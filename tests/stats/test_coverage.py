"""Coverage of the CLs upper limits with pseudo-experiments (2000 each), and where it fails.

CLs is conservative by construction: a 95% limit covers the true signal in at least 95% of
experiments (within the binomial error of the toys). The tolerance is three binomial standard
deviations, sqrt(CL (1 - CL) / n).
"""

import numpy as np
import pytest

from analysis_lib.stats import BinnedModel, upper_limit

N_TOYS = 2000


def coverage(model, truth_mu, cl, seed):
    rng = np.random.default_rng(seed)
    expected = truth_mu * model.signal + model.background
    covered = 0
    for _ in range(N_TOYS):
        counts = rng.poisson(expected).astype(float)
        covered += upper_limit(model, counts, cl=cl, bands=False).observed >= truth_mu
    return covered / N_TOYS


@pytest.mark.parametrize("cl", [0.9, 0.95])
def test_counting_model_covers(cl):
    # one bin, known background of 10 events, signal at the median expected limit
    model = BinnedModel([1.0], [10.0], float_background=False)
    truth = upper_limit(model, [10.0], cl=cl).expected[2]
    assert coverage(model, truth, cl, seed=1) >= cl - 3 * np.sqrt(cl * (1 - cl) / N_TOYS)


def test_peak_on_background_covers():
    x = np.linspace(-1, 1, 20)
    model = BinnedModel(12 * np.exp(-(x**2) / 0.02), 30 + 8 * x, float_background=True)
    truth = upper_limit(model, model.background, cl=0.95).expected[2]
    assert coverage(model, truth, 0.95, seed=2) >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / N_TOYS)
