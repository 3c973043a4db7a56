"""Selections by thresholds on two classifier outputs: counts at or above each pair of thresholds
against direct counting, the expected-background cube, and pseudo-data split into an optimisation
sample and the rest."""

import hist
import numpy as np
import pytest
from scipy.stats import norm

from analysis_lib.analysis.thresholds import ThresholdGrid, smooth_spectrum, split_pseudo_data

GRID = ThresholdGrid((0.0, 0.25, 0.5, 0.75))


def test_bins_of_the_thresholds():
    np.testing.assert_array_equal(GRID.bin([0.1, 0.25, 0.6, 0.99, 1.0, -0.1]), [0, 1, 2, 3, 3, 0])
    assert GRID.size == 4


def test_counts_at_or_above_every_pair_against_direct_counting():
    rng = np.random.default_rng(1)
    s1, s2, w = rng.random(500), rng.random(500), rng.exponential(size=500)
    above = GRID.at_or_above(GRID.counts(s1, s2, w))
    for i, t1 in enumerate(GRID.thresholds):
        for j, t2 in enumerate(GRID.thresholds):
            assert above[i, j] == pytest.approx(w[(s1 >= t1) & (s2 >= t2)].sum())


def test_expected_cube_as_simulated_and_factorised():
    rng = np.random.default_rng(2)
    n = 4000
    s1, s2, x, w = rng.random(n), rng.random(n), rng.normal(2.0, 0.3, n), rng.uniform(0.5, 1.5, n)
    axis = hist.axis.Regular(200, 0.0, 4.0)
    joint = GRID.expected_cube(s1, s2, x, w, axis, factorised=False)
    direct, _ = np.histogramdd(np.column_stack([GRID.bin(s1), GRID.bin(s2), x]),
                               bins=(np.arange(5) - 0.5, np.arange(5) - 0.5, axis.edges), weights=w)
    np.testing.assert_allclose(joint, direct)
    factorised = GRID.expected_cube(s1, s2, x, w, axis, factorised=True)
    # the total and both classifier marginals are kept; the two outputs are independent by construction
    assert factorised.sum() == pytest.approx(w.sum())
    np.testing.assert_allclose(factorised.sum(axis=(1, 2)), joint.sum(axis=(1, 2)))
    np.testing.assert_allclose(factorised.sum(axis=(0, 2)), joint.sum(axis=(0, 2)))
    # independent scores here: the factorised cube agrees with the joint one within its statistics
    np.testing.assert_allclose(factorised.sum(axis=2), joint.sum(axis=2), rtol=0.3)
    # passing: the spectrum at or above a pair of thresholds
    spectrum = GRID.passing(factorised, (0.5, 0.25))
    assert spectrum.shape == (200,) and spectrum.sum() == pytest.approx(factorised[2:, 1:].sum())
    assert GRID.expected_cube(s1[:0], s2[:0], x[:0], w[:0], axis, factorised=True).sum() == 0


def test_smooth_spectrum_follows_the_density_not_the_events():
    """A falling exponential and a Gaussian peak of width 150 MeV sampled with 3000 weighted events:
    the fitted spectrum is within 10% of the true density where it is above a tenth of its maximum,
    its scatter about the truth a quarter of the events' own histogram's; without events it is
    empty."""
    rng = np.random.default_rng(4)
    n = 3000
    x = np.where(rng.random(n) < 0.8, rng.exponential(1.0, n), rng.normal(2.0, 0.15, n))
    w = rng.uniform(0.5, 1.5, n)
    axis = hist.axis.Regular(400, 0.0, 4.0)
    c = axis.centers
    truth = 0.8 * np.exp(-c) + 0.2 * norm.pdf(c, 2.0, 0.15)
    truth /= truth.sum()
    spectrum = smooth_spectrum(x, w, axis, knot_spacing=0.05)
    assert spectrum.sum() == pytest.approx(1.0)
    big = truth > 0.1 * truth.max()
    assert np.max(np.abs(spectrum[big] / truth[big] - 1)) < 0.1
    raw, _ = np.histogram(x, bins=axis.edges, weights=w)
    raw /= raw.sum()
    assert np.std(spectrum[big] / truth[big]) < 0.25 * np.std(raw[big] / truth[big])
    assert np.all(smooth_spectrum(x[:0], w[:0], axis, knot_spacing=0.05) == 0)


def test_pseudo_data_split_into_optimisation_sample_and_the_rest():
    expected = np.full((4, 4, 50), 40.0)
    rng = np.random.default_rng(3)
    held, rest = split_pseudo_data(expected, rng, 0.08)
    assert held.shape == (4, 4) and rest.shape == expected.shape and np.all(rest >= 0)
    total = held.sum() + rest.sum()
    # one Poisson draw of 32000 expected events, of which a binomial 8% are held out
    assert total == pytest.approx(expected.sum(), abs=5 * np.sqrt(expected.sum()))
    assert held.sum() == pytest.approx(0.08 * total, rel=0.05)
    again = split_pseudo_data(expected, np.random.default_rng(3), 0.08)
    np.testing.assert_array_equal(again[0], held)
    np.testing.assert_array_equal(again[1], rest)
