"""Coverage of the CLs upper limits, and the choice of ``method="auto"`` it justifies.

CLs from pseudo-experiments is conservative by construction: a 95% limit covers the true signal in at
least 95% of experiments. The asymptotic formulae are not at small counts: the tests measure where
they under-cover (the coarse grid of the book's coverage map, within seconds) and that the automatic
method uses pseudo-experiments there and covers.
"""

import numpy as np
import pytest

from analysis_lib.stats import BinnedModel, upper_limit
from analysis_lib.stats.counting import toy_cls_upper_limit
from analysis_lib.stats.coverage import counting_coverage, shape_coverage, shape_model
from analysis_lib.stats.limits import asymptotic_threshold


@pytest.mark.parametrize("b", [0.3, 3.0, 10.0])
def test_one_bin_asymptotic_under_covers_and_toys_cover(b):
    # exact sums over the count (no pseudo-experiments in the coverage itself); signals around the
    # median expected limit, where a limit is used
    median = upper_limit(BinnedModel([1.0], [b], float_background=False), [b], method="asymptotic").expected[2]
    signals = np.linspace(0.2, 2.0, 10) * median  # the map's
    asymptotic = counting_coverage(b, signals, method="asymptotic")
    exact = counting_coverage(b, signals, method="exact")
    assert asymptotic.minimum < 0.945  # 0.91-0.94 here (the map: below 0.95 up to b = 100)
    assert exact.minimum >= 0.95 - 1e-9  # CLs covers by construction
    # auto uses the exact limit here, which 20000 pseudo-experiments reproduce (their own precision:
    # CLs near 0.05 to 3-5% where few background-only counts are as low, the limit to about 5%)
    # (counts the background gives at least 2% of the time: rarer ones leave toys without any
    # background-only experiment as low)
    for n in (max(int(b - 2 * np.sqrt(b)), 0), int(b), int(b) + 3):
        auto = upper_limit(BinnedModel([1.0], [b], float_background=False), [float(n)])
        assert "pseudo-experiments" in auto.method and "under-cover" in auto.note
        toys = toy_cls_upper_limit(n, 1.0, b, n_toys=20_000, seed=3)
        assert auto.observed == pytest.approx(toys, rel=0.06)


def test_shape_model_coverage_map_coarse():
    # a peak in 10 bins on a background with a free normalisation: under-coverage of the formulae at
    # 0.1 events in all bins, none from 3 on (binomial errors of 300 pseudo-data sets: 0.013)
    error = 3 * np.sqrt(0.95 * 0.05 / 300)
    low = shape_coverage(0.1, [2.2, 3.0], n_toys=300, seed=5)
    high = shape_coverage(3.0, [3.0, 4.5], n_toys=300, seed=5)
    assert low.minimum < 0.95 - error / 3
    assert high.minimum >= 0.95 - error
    # where auto replaces the formulae (background under the peak below 1)
    model = shape_model(0.1)
    assert model.background.sum() < asymptotic_threshold(model)
    assert "pseudo-experiments" in upper_limit(model, np.zeros(10)).method


def test_pseudo_experiment_limits_cover_where_auto_uses_them():
    # the shape model at 0.3 events in all bins (about 0.1 under the peak): each pseudo-data set's own
    # pseudo-experiments; CLs at the true signal above alpha exactly when the limit covers it
    model = shape_model(0.3)
    median = upper_limit(model, model.background, method="asymptotic").expected[2]
    toys = shape_coverage(0.3, [median], n_toys=150, method="toys", toys_per_limit=300, seed=2)
    assert toys.minimum >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / 150)


def test_cls_at_the_limit_is_alpha():
    # fast_toy_cls (what coverage needs) and fast_toy_upper_limits are one construction
    from analysis_lib.stats.toys import fast_toy_cls, fast_toy_upper_limits

    model = shape_model(0.5)
    counts = [np.array([0, 0, 1, 0, 0, 1, 0, 0, 0, 0], dtype=float)]
    limit = fast_toy_upper_limits([model], counts, n_toys=1000, seed=4)[0].observed
    below, above = fast_toy_cls([model, model], counts * 2, [0.9 * limit, 1.1 * limit], n_toys=1000, seed=4)[:, 0]
    assert below > 0.05 > above


def test_peak_on_background_covers():
    # 20 bins, about 30 events per bin: the asymptotic regime, 1000 pseudo-data sets at the median limit
    x = np.linspace(-1, 1, 20)
    model = BinnedModel(12 * np.exp(-(x**2) / 0.02), 30 + 8 * x, float_background=True)
    truth = upper_limit(model, model.background, cl=0.95).expected[2]
    rng = np.random.default_rng(2)
    from analysis_lib.stats.fast import fast_upper_limits

    counts = rng.poisson(truth * model.signal + model.background, size=(1000, 20)).astype(float)
    limits = np.array([r.observed for r in fast_upper_limits([model] * 1000, list(counts))])
    assert np.mean(limits >= truth) >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / 1000)
