"""The vectorised limit evaluator against the readable iminuit path, on the same models: limits,
notes, the fallback to pseudo-experiments, and discovery significances."""

import numpy as np
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.stats import BinnedModel, discovery_significance, upper_limit
from analysis_lib.stats.fast import fast_discovery_significances, fast_upper_limit, fast_upper_limits

CASES = [
    # bins, relative per-bin uncertainty, background level, signal height, free background norm
    (1, None, 10.0, 5.0, False),
    (1, 0.2, 30.0, 10.0, False),
    (5, 0.1, 20.0, 8.0, True),
    (20, None, 5.0, 6.0, True),
    (50, 0.05, 50.0, 20.0, True),
    (50, 0.3, 2.0, 4.0, False),
    (200, 0.05, 50.0, 20.0, True),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}bins-{i}" for i, c in enumerate(CASES)])
def test_fast_equals_readable(case):
    n_bins, rel, level, height, free = case
    x = np.linspace(-1, 1, n_bins) if n_bins > 1 else np.zeros(1)
    signal = height * np.exp(-(x**2) / (2 * max(0.1, 2 / n_bins) ** 2))
    background = level * (1 + 0.3 * x)
    model = BinnedModel(signal, background, None if rel is None else rel * background, float_background=free)
    counts = np.random.default_rng(n_bins).poisson(background).astype(float)
    readable = upper_limit(model, counts, cl=0.95, method="asymptotic")
    fast = fast_upper_limit(model, counts, cl=0.95, method="asymptotic")
    assert fast.observed == pytest.approx(readable.observed, rel=1e-3)
    assert np.asarray(fast.expected) == pytest.approx(np.asarray(readable.expected), rel=1e-3)


def test_many_hypotheses_at_once_equal_one_at_a_time():
    # models with different numbers of bins are padded with empty bins, which contribute nothing
    rng = np.random.default_rng(9)
    models, counts = [], []
    for n_bins in (3, 10, 25):
        x = np.linspace(-1, 1, n_bins)
        background = 40 * (1 + 0.2 * x)
        models.append(BinnedModel(15 * np.exp(-(x**2) / 0.1), background, 0.05 * background))
        counts.append(rng.poisson(background).astype(float))
    together = fast_upper_limits(models, counts)
    for model, n, result in zip(models, counts, together):
        alone = fast_upper_limit(model, n)
        assert result.observed == pytest.approx(alone.observed, rel=1e-6)
        assert np.asarray(result.expected) == pytest.approx(np.asarray(alone.expected), rel=1e-6)


def test_notes_and_pseudo_experiments_as_the_readable_path():
    # small backgrounds: a known one-bin background switches to pseudo-experiments in both paths; a
    # small backgrounds: pseudo-experiments in both paths, with the same note and limits
    x = np.linspace(-1, 1, 10)
    cases = [(BinnedModel([1.0], [0.8], float_background=False), np.array([1.0])),
             (BinnedModel(np.exp(-(x**2) / 0.05), np.full(10, 0.1), float_background=True),
              np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])),
             (BinnedModel([2.0, 1.0], [0.3, 0.15], [0.06, 0.03], float_background=False), np.array([1.0, 0.0]))]
    for model, counts in cases:
        readable = upper_limit(model, counts, cl=0.95)
        fast = fast_upper_limit(model, counts, cl=0.95)
        assert fast.note == readable.note and fast.note
        assert ("pseudo-experiments" in fast.method) == ("pseudo-experiments" in readable.method)
        assert fast.observed == pytest.approx(readable.observed, rel=1e-3)
        assert np.asarray(fast.expected) == pytest.approx(np.asarray(readable.expected), rel=1e-3)
    assert "pseudo-experiments" in fast_upper_limit(*cases[0], cl=0.95).method
    with pytest.raises(ParameterError, match="no constraint on the background"):
        fast_upper_limits([BinnedModel([1.0], [5.0], float_background=True)], [[5.0]])


def test_discovery_significances_equal_the_readable_ones():
    rng = np.random.default_rng(4)
    x = np.linspace(-1, 1, 12)
    models, counts = [], []
    for level, free, rel in ((5.0, False, None), (40.0, True, 0.05), (200.0, True, None), (20.0, False, 0.2)):
        signal = 15 * np.exp(-(x**2) / 0.05)
        background = level * (1 + 0.2 * x)
        model = BinnedModel(signal, background, None if rel is None else rel * background, float_background=free)
        for strength in (0.0, 1.5):
            models.append(model)
            counts.append(rng.poisson(background + strength * signal).astype(float))
    fast = fast_discovery_significances(models, counts)
    readable = np.array([discovery_significance(m, n) for m, n in zip(models, counts)])
    np.testing.assert_allclose(fast, readable, rtol=1e-3, atol=1e-6)
    assert np.all(fast >= 0) and fast.max() > 3


def test_auxiliary_data_enter_the_fast_path_as_the_readable_one():
    # auxiliary measurements away from nominal (a control measurement that came out high) move both
    # paths' limits alike; a wrong shape is refused with the shape required
    x = np.linspace(-1, 1, 6)
    model = BinnedModel(5 * np.exp(-(x**2) / 0.1), 12 * (1 + 0.2 * x), 0.2 * 12 * (1 + 0.2 * x), float_background=False)
    counts = np.array([11.0, 14, 12, 16, 13, 15])
    aux = model.nominal_aux() * 1.3
    readable = upper_limit(model, counts, aux=aux, method="asymptotic")
    fast = fast_upper_limit(model, counts, aux=aux, method="asymptotic")
    nominal = fast_upper_limit(model, counts, method="asymptotic")
    assert fast.observed == pytest.approx(readable.observed, rel=1e-3)
    assert np.asarray(fast.expected) == pytest.approx(np.asarray(readable.expected), rel=1e-3)
    assert abs(fast.observed / nominal.observed - 1) > 0.01
    with pytest.raises(ParameterError, match=r"aux of model 0 has shape \(2,\), but \(6,\) is required"):
        fast_upper_limit(model, counts, aux=[1.0, 2.0])
