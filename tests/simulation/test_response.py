"""Detector response: calorimeter impact points and shower merging."""

import numpy as np
import pytest

from analysis_lib.detector.experiments import BELLE2
from analysis_lib.simulation.generators import generate_gamma_resonance
from analysis_lib.simulation.response import calorimeter_impact, reconstruct

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
