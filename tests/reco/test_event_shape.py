"""Event shapes: thrust, its axis, the Fox-Wolfram ratio and Legendre moments against exact values and
a brute-force search."""

import numpy as np
import pytest

from analysis_lib.core.kinematics import isotropic_directions
from analysis_lib.reco.event_shape import (
    EXACT_THRUST_MAX,
    fox_wolfram_ratio,
    legendre_moments,
    thrust,
    thrust_axis,
)


def test_thrust_and_fox_wolfram_against_exact_values():
    rng = np.random.default_rng(7)
    back_to_back = np.array([[[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 0]]])
    assert thrust(back_to_back)[0] == pytest.approx(1.0) and fox_wolfram_ratio(back_to_back)[0] == pytest.approx(1.0)
    star = np.array([[[1.0, 0, 0], [-0.5, np.sqrt(3) / 2, 0], [-0.5, -np.sqrt(3) / 2, 0]]])
    assert thrust(star)[0] == pytest.approx(2 / 3)
    isotropic = isotropic_directions(rng, 1000 * 60).reshape(1000, 60, 3)
    assert np.mean(thrust(isotropic)) == pytest.approx(0.5, abs=0.1)  # finite-N events: above 1/2
    assert np.mean(fox_wolfram_ratio(isotropic)) < 0.03
    # exact (up to 10 particles) against a brute-force search over directions
    q = rng.normal(size=(100, 5, 3))
    directions = isotropic_directions(rng, 100_000)
    brute = np.array([np.abs(e @ directions.T).sum(0).max() / np.linalg.norm(e, axis=1).sum() for e in q])
    assert thrust(q) == pytest.approx(brute, abs=1e-4) and np.all(thrust(q) >= brute - 1e-9)
    # the iterative search (more than EXACT_THRUST_MAX particles) against the exact axis of the same
    # momenta: one empty row more switches to the iterative search without changing T. Nearly isotropic
    # events are the hardest case
    q = rng.normal(size=(2000, EXACT_THRUST_MAX, 3))
    exact = thrust(q)
    iterative = thrust(np.concatenate([q, np.zeros((2000, 1, 3))], axis=1))
    assert np.all(iterative <= exact + 1e-12) and np.mean(exact - iterative) < 1e-3
    axis = thrust_axis(back_to_back)
    l0, l2 = legendre_moments(np.array([[[0, 0, 2.0], [1.0, 0, 0]]]), np.array([[0, 0, 1.0]]))
    assert l0[0] == pytest.approx(3.0) and l2[0] == pytest.approx(2.0)
    assert abs(axis[0, 0]) == pytest.approx(1.0)


def test_fox_wolfram_ratio_equals_the_sum_over_pairs():
    rng = np.random.default_rng(8)
    p = rng.normal(size=(50, 9, 3)) * rng.exponential(1.0, (50, 9, 1))
    p[:, 6:] = 0.0  # padding
    p[0] = 0.0  # an empty event
    magnitude = np.linalg.norm(p, axis=-1)
    unit = p / np.maximum(magnitude, 1e-300)[..., None]
    cos = np.einsum("nij,nkj->nik", unit, unit)
    weights = magnitude[:, :, None] * magnitude[:, None, :]
    h0 = weights.sum(axis=(1, 2))
    h2 = (weights * 0.5 * (3 * cos**2 - 1)).sum(axis=(1, 2))
    expected = np.where(h0 > 0, h2 / np.where(h0 > 0, h0, 1.0), 0.0)
    np.testing.assert_allclose(fox_wolfram_ratio(p), expected, rtol=1e-12, atol=1e-14)


def test_thrust_axes_do_not_depend_on_the_other_events_of_the_batch():
    # each event takes the method of its own multiplicity in a group padded to the group's largest:
    # its axis in a batch of 1 to 59 particles is its axis alone (exact up to EXACT_THRUST_MAX
    # particles), and above that the iteration over the whole batch's padding (the same starts)
    from analysis_lib.reco.event_shape import _iterated_thrust_axis

    rng = np.random.default_rng(5)
    counts = rng.integers(1, 60, size=300)
    counts[:40] = rng.integers(1, EXACT_THRUST_MAX + 1, size=40)
    k = int(counts.max())
    p = np.zeros((len(counts), k, 3))
    for i, c in enumerate(counts):
        p[i, :c] = rng.normal(size=(c, 3)) * rng.exponential(1.0, size=(c, 1))
    axes = thrust_axis(p)
    alone = np.concatenate([thrust_axis(p[i : i + 1, :c]) for i, c in enumerate(counts)])
    np.testing.assert_allclose(np.abs(np.sum(axes * alone, axis=1)), 1.0, atol=1e-12)
    busy = counts > EXACT_THRUST_MAX
    padded = _iterated_thrust_axis(p[busy], 8, 8)
    np.testing.assert_allclose(np.abs(np.sum(axes[busy] * padded, axis=1)), 1.0, atol=1e-12)
    # the quiet events' axes are the exact ones: the largest thrust over every sign pattern
    quiet = np.flatnonzero(~busy)[:10]
    for i in quiet:
        c = counts[i]
        signs = np.array(np.meshgrid(*([[1.0, -1.0]] * c), indexing="ij")).reshape(c, -1).T
        best = np.linalg.norm(signs @ p[i, :c], axis=1).max()
        assert thrust(p[i : i + 1, :c])[0] == pytest.approx(best / np.linalg.norm(p[i, :c], axis=1).sum(), rel=1e-12)
        assert thrust(p[i : i + 1])[0] == pytest.approx(np.abs(p[i, :c] @ axes[i]).sum()
                                                        / np.linalg.norm(p[i, :c], axis=1).sum(), rel=1e-12)
