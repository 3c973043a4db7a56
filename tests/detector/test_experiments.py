"""Detector models: beams and the centre-of-mass frame, calorimeter acceptance and resolution."""

import numpy as np
import pytest

from analysis_lib.detector.experiments import BELLE2
from analysis_lib.detector.frames import Frame

BEAMS = BELLE2.beams
FRAME = Frame(BEAMS)


def test_beams():
    assert BEAMS.sqrt_s_gev == pytest.approx(10.58, abs=0.005)
    assert BEAMS.beta_gamma == pytest.approx(0.287, abs=0.005)  # 0.28 nominal, + crossing angle
    cm = FRAME.to_cm(np.array(BEAMS.four_momenta()))
    assert np.allclose(cm.sum(axis=0), [BEAMS.sqrt_s_gev, 0, 0, 0], atol=1e-12)
    assert np.allclose(cm[0, 1:3], 0, atol=1e-12)  # the electron runs along +z in the c.m. frame


def test_energy_resolution_matches_quoted_points():
    cal = BELLE2.calorimeter
    assert cal.energy_resolution(0.1) / 0.1 == pytest.approx(0.04, rel=0.02)
    assert cal.energy_resolution(8.0) / 8.0 == pytest.approx(0.016, rel=0.02)


def test_calorimeter_acceptance_gaps():
    # photons in the gap between barrel and forward endcap (31.4-32.2 degrees) are lost
    assert not BELLE2.calorimeter.in_acceptance(np.radians(31.8))
    assert BELLE2.calorimeter.in_acceptance(np.radians(90.0))


def test_frame_round_trip():
    rng = np.random.default_rng(4)
    p = rng.normal(size=(50, 3))
    p4 = np.column_stack([np.sqrt(np.sum(p**2, axis=1) + 0.1**2), p])
    np.testing.assert_allclose(FRAME.to_lab(FRAME.to_cm(p4)), p4, atol=1e-12)
