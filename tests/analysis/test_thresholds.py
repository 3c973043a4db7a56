"""Selections by thresholds on two classifier outputs: counts at or above each pair of thresholds
against direct counting, the expected-background cube, and pseudo-data split into an optimisation
sample and the rest."""

import hist
import numpy as np
import pytest
from scipy.stats import norm

from analysis_lib.analysis.thresholds import ThresholdGrid, smoothed_density, split_pseudo_data

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
    joint = GRID.expected_cube(s1, s2, x, w, axis, factorised=False, smoothing=0.1)
    direct, _ = np.histogramdd(np.column_stack([GRID.bin(s1), GRID.bin(s2), x]),
                               bins=(np.arange(5) - 0.5, np.arange(5) - 0.5, axis.edges), weights=w)
    np.testing.assert_allclose(joint, direct)
    factorised = GRID.expected_cube(s1, s2, x, w, axis, factorised=True, smoothing=0.1)
    # the total and both classifier marginals are kept; the two outputs are independent by construction
    assert factorised.sum() == pytest.approx(w.sum())
    np.testing.assert_allclose(factorised.sum(axis=(1, 2)), joint.sum(axis=(1, 2)))
    np.testing.assert_allclose(factorised.sum(axis=(0, 2)), joint.sum(axis=(0, 2)))
    # independent scores here: the factorised cube agrees with the joint one within its statistics
    np.testing.assert_allclose(factorised.sum(axis=2), joint.sum(axis=2), rtol=0.3)
    # passing: the spectrum at or above a pair of thresholds
    spectrum = GRID.passing(factorised, (0.5, 0.25))
    assert spectrum.shape == (200,) and spectrum.sum() == pytest.approx(factorised[2:, 1:].sum())
    assert GRID.expected_cube(s1[:0], s2[:0], x[:0], w[:0], axis, factorised=True, smoothing=0.1).sum() == 0


def test_smoothed_density_is_a_normalised_gaussian_kernel():
    centres = np.linspace(0.0, 4.0, 401)
    density = smoothed_density(np.array([1.5, 2.5]), np.array([1.0, 3.0]), centres, 0.2, chunk=1)
    expected = norm.pdf(centres, 1.5, 0.2) + 3 * norm.pdf(centres, 2.5, 0.2)
    np.testing.assert_allclose(density, expected / expected.sum(), atol=1e-12)
    assert np.all(smoothed_density(np.array([]), np.array([]), centres, 0.2) == 0)


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
