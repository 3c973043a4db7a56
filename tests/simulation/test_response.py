"""Detector response: calorimeter impact points and shower merging."""

import numpy as np
import pytest

from analysis_lib.detector.experiments import BELLE2
from analysis_lib.simulation.generators import generate_gamma_resonance
from analysis_lib.simulation.response import _merge_close_showers, calorimeter_impact, reconstruct

BEAMS = BELLE2.beams


def test_calorimeter_impact_points():
    cal = BELLE2.calorimeter
    theta = np.radians([90.0, 20.0, 150.0])
    directions = np.column_stack([np.sin(theta), np.zeros(3), np.cos(theta)])
    hits = calorimeter_impact(np.zeros((3, 3)), directions, BELLE2)
    assert np.hypot(hits[0, 0], hits[0, 1]) == pytest.approx(cal.barrel_radius_mm)
    assert hits[1, 2] == pytest.approx(cal.forward_z_mm)
    assert hits[2, 2] == pytest.approx(cal.backward_z_mm)


def test_close_photons_merge_into_one_cluster():
    # a 0.15 GeV ALP at 5 GeV has two photons about 6 cm apart at the barrel: one cluster;
    # a 1 GeV ALP's photons are resolved
    rng = np.random.default_rng(11)
    light = generate_gamma_resonance(rng, 4000, beams=BEAMS, mass_gev=0.1, sigma_pb=1.0)
    heavy = generate_gamma_resonance(rng, 4000, beams=BEAMS, mass_gev=1.0, sigma_pb=1.0)
    n_light = np.asarray([len(x) for x in reconstruct(light, BELLE2, rng)["photon"]["E"]])
    n_heavy = np.asarray([len(x) for x in reconstruct(heavy, BELLE2, rng)["photon"]["E"]])
    assert np.mean(n_light >= 3) < 0.2
    assert np.mean(n_heavy >= 3) > 0.6


def _merge_event_by_event(energy, points, origin, has_track, candidate, separation):
    """The merging rule read literally: per event, two passes over the pairs (i < j) in order."""
    for e in range(len(energy)):
        for _ in range(2):
            for i in range(energy.shape[1]):
                for j in range(i + 1, energy.shape[1]):
                    if energy[e, i] > 0 and energy[e, j] > 0 and np.linalg.norm(points[e, i] - points[e, j]) < separation:
                        ei, ej = energy[e, i], energy[e, j]
                        points[e, i] = (points[e, i] * ei + points[e, j] * ej) / (ei + ej)
                        origin[e, i] = origin[e, j] if ej > ei else origin[e, i]
                        has_track[e, i] |= has_track[e, j]
                        candidate[e, i] |= candidate[e, j]
                        energy[e, i], energy[e, j] = ei + ej, 0.0


def test_shower_merging_follows_the_rule_event_by_event():
    # crowded events (showers within 30 cm of each other, many closer than the 10 cm separation;
    # absent showers between present ones), merged in chains: the fast path must do the same
    rng = np.random.default_rng(5)
    n, k = 300, 12
    energy = np.where(rng.random((n, k)) < 0.6, rng.exponential(0.3, (n, k)), 0.0)
    points = rng.uniform(-150, 150, (n, k, 3))
    origin = rng.integers(0, 5, (n, k))
    has_track = rng.random((n, k)) < 0.2
    candidate = rng.random((n, k)) < 0.9
    arrays = (energy, points, origin, has_track, candidate)
    n_before = np.sum(energy > 0, axis=1)
    expected = [a.copy() for a in arrays]
    _merge_event_by_event(*expected, 100.0)
    _merge_close_showers(*arrays, 100.0)
    for got, want in zip(arrays, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    merged = np.sum(energy > 0, axis=1) < n_before
    assert 0.2 < merged.mean() < 1
