"""The boosted-decision-tree layer: separation against the analytic optimum, training halves,
caching and its invalidation."""

import numpy as np
import pytest
from scipy.stats import norm

from analysis_lib.analysis.classifier import train, training_half
from analysis_lib.core.errors import EmptySelectionError

#: fewer trees than the analysis uses: enough for these one-dimensional problems
FAST = {"max_iter": 30}


def gaussians(rng, n, shift):
    return ({"x": rng.normal(shift, 1, n), "noise": rng.normal(0, 1, n)},
            {"x": rng.normal(0, 1, n), "noise": rng.normal(0, 1, n)})


def test_separation_reaches_the_optimum_for_two_gaussians():
    # two unit Gaussians a distance d apart: the best possible ROC area is Phi(d / sqrt(2))
    rng = np.random.default_rng(1)
    signal, background = gaussians(rng, 8000, 1.5)
    clf = train(signal, background, features=["x", "noise"], settings=FAST)
    assert clf.roc_auc == pytest.approx(norm.cdf(1.5 / np.sqrt(2)), abs=0.01)
    # background weights count: a background weighted like the signal shape is inseparable
    weights = np.exp(1.5 * background["x"] - 1.5**2 / 2)
    flat = train(signal, background, features=["x"], background_weights=weights, settings=FAST)
    assert flat.roc_auc == pytest.approx(0.5, abs=0.03)


def test_cache_is_reused_and_invalidated(tmp_path):
    rng = np.random.default_rng(2)
    signal, background = gaussians(rng, 2000, 1.0)
    path = tmp_path / "clf.pkl"
    first = train(signal, background, features=["x"], cache=path, settings=FAST)
    again = train(signal, background, features=["x"], cache=path, settings=FAST)
    assert again.key == first.key and path.stat().st_size > 0
    table = {"x": np.linspace(-3, 3, 50)}
    assert np.array_equal(first.score(table), again.score(table))
    changed = train({"x": signal["x"] + 0.5}, background, features=["x"], cache=path, settings=FAST)
    assert changed.key != first.key


def test_halves_and_too_few_events():
    assert list(training_half(5)) == [True, False, True, False, True]
    with pytest.raises(EmptySelectionError, match="simulate more"):
        train({"x": np.ones(6)}, {"x": np.zeros(100)}, features=["x"])


def test_explicit_training_halves_of_merged_samples():
    """Regression: a table merged from samples of odd lengths was split by the parity of the merged
    index, while each sample flagged its own even events as the training half. With each sample's
    halves passed as the mask, the classifier trains on exactly those; the default is the parity."""
    rng = np.random.default_rng(4)
    signal, background = gaussians(rng, 3001, 1.0)
    own = training_half(3001)
    default = train(signal, background, features=["x"], settings=FAST)
    same = train(signal, background, features=["x"], signal_train=own, background_train=own, settings=FAST)
    assert same.key == default.key
    parts = np.concatenate([training_half(1001), training_half(2000)])  # two samples, merged
    assert not np.array_equal(parts, own)
    merged = train(signal, background, features=["x"], signal_train=parts, background_train=parts, settings=FAST)
    assert merged.key != default.key
    with pytest.raises(ValueError, match="training mask"):
        train(signal, background, features=["x"], signal_train=own[:-1], settings=FAST)
