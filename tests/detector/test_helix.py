"""The helix at its closest approach to the beam line, against a numerical walk along the helix, the
straight-line limit, and the mass a conversion's tracks show when taken to come from the collision point."""

import numpy as np
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.detector.experiments import experiment
from analysis_lib.detector.helix import C_GEV_PER_T_M, apparent_pair_mass_gev, field_tesla, helix_at_closest_approach
from analysis_lib.simulation.response import impact_parameters

FIELD = 1.5


def _walk(vertex, p, q, field):
    """The point of the helix nearest the beam line found by walking it in 2 micron steps over the
    turn centred on the production point (an independent construction: the position integrated from
    the turning direction; the transverse distance repeats every turn, the helix's z does not)."""
    pt = np.hypot(p[0], p[1])
    radius = pt / (C_GEV_PER_T_M * field) * 1e3
    s = np.arange(-np.pi * radius, np.pi * radius, 0.002)
    phi_start = np.arctan2(p[1], p[0])
    phi = phi_start - q * s / radius
    x = vertex[0] - radius / q * (np.sin(phi) - np.sin(phi_start))
    y = vertex[1] + radius / q * (np.cos(phi) - np.cos(phi_start))
    i = np.argmin(np.hypot(x, y))
    return x[i] * np.sin(phi[i]) - y[i] * np.cos(phi[i]), vertex[2] + s[i] * p[2] / pt, np.angle(np.exp(1j * phi[i]))


def test_the_closest_approach_against_a_walk_along_the_helix():
    rng = np.random.default_rng(1)
    for _ in range(8):  # includes particles made moving towards the beam (their closest approach ahead)
        vertex = np.r_[rng.normal(size=2) * 40, rng.normal() * 10]
        p = rng.normal(size=3) * 0.4
        q = rng.choice([-1, 1])
        d0, z0, phi0 = helix_at_closest_approach(vertex, p, q, FIELD)
        d0_w, z0_w, phi0_w = _walk(vertex, p, q, FIELD)
        assert d0 == pytest.approx(d0_w, abs=1e-3)
        assert z0 == pytest.approx(z0_w, abs=2e-3)
        assert np.angle(np.exp(1j * (phi0 - phi0_w))) == pytest.approx(0, abs=2e-5)


def test_stiff_tracks_are_straight_lines_and_prompt_tracks_keep_their_direction():
    vertex = np.array([[30.0, 5.0, 3.0], [-4.0, 12.0, -8.0]])
    p = np.array([[1e5, 2e4, 5e3], [-3e4, -1e4, 2e4]])
    d0, z0, phi0 = helix_at_closest_approach(vertex, p, np.array([1, -1]), FIELD)
    d0_s, z0_s = impact_parameters(vertex, p / np.linalg.norm(p, axis=1, keepdims=True))
    assert np.allclose(d0, d0_s, atol=1e-4) and np.allclose(z0, z0_s, atol=1e-4)
    assert np.allclose(phi0, np.arctan2(p[:, 1], p[:, 0]), atol=1e-5)
    d0, z0, phi0 = helix_at_closest_approach(np.zeros(3), np.array([0.3, -0.2, 0.5]), -1, FIELD)
    assert d0 == pytest.approx(0, abs=1e-12) and z0 == pytest.approx(0, abs=1e-12)
    assert phi0 == pytest.approx(np.arctan2(-0.2, 0.3))


@pytest.mark.parametrize("energy", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("radius", [20.0, 60.0, 140.0])
def test_a_conversion_taken_from_the_collision_point_shows_a_mass_near_two_c_b_r(energy, radius):
    # a photon at 90 degrees converting at radius r, shared evenly: each track turns by
    # atan(r / R), R = (E / 2) / (c B), on the way in, so the massless pair shows the mass
    # E sin(atan(r / R)) = 2 c B r / sqrt(1 + (r / R)^2): 2 c B r whatever the photon's energy while
    # r << R (derived)
    mass = apparent_pair_mass_gev(radius, 0.5, energy, FIELD)
    r_over_r = radius * 1e-3 * C_GEV_PER_T_M * FIELD / (energy / 2)
    # (the electrons' mass adds 2 m_e = 1 MeV in quadrature, a few 1e-4 of these masses)
    assert mass == pytest.approx(2 * C_GEV_PER_T_M * FIELD * radius * 1e-3 / np.hypot(1, r_over_r), rel=2e-3)


def test_a_positive_track_turns_as_the_lorentz_force_says():
    # q = +1 moving along +x in B along +z: F = q v x B = -y, so forward it turns towards -y (clockwise)
    # and, made at (r, 0, 0), it was pointing above +x at its closest approach: phi0 = +atan(r / R)
    force = np.cross([1.0, 0.0, 0.0], [0.0, 0.0, FIELD])
    assert force[1] < 0
    p, r = 0.5, 40.0
    radius = p / (C_GEV_PER_T_M * FIELD) * 1e3
    _, _, phi0 = helix_at_closest_approach(np.array([r, 0.0, 0.0]), np.array([p, 0.0, 0.0]), 1, FIELD)
    assert phi0 == pytest.approx(np.arctan(r / radius), rel=1e-12)
    _, _, phi0 = helix_at_closest_approach(np.array([r, 0.0, 0.0]), np.array([p, 0.0, 0.0]), -1, FIELD)
    assert phi0 == pytest.approx(-np.arctan(r / radius), rel=1e-12)


@pytest.mark.parametrize("x", [0.1, 0.3])
def test_stiff_conversion_tracks_show_c_b_r_over_the_root_of_their_shares(x):
    # a 10 GeV photon at 90 degrees converting at 5 cm: both tracks stiff (E min(x, 1 - x) >> c B r = 22 MeV)
    energy, radius = 10.0, 50.0
    mass = apparent_pair_mass_gev(radius, x, energy, FIELD)
    assert mass == pytest.approx(C_GEV_PER_T_M * FIELD * radius * 1e-3 / np.sqrt(x * (1 - x)), rel=0.01)


def test_fields_and_bad_input():
    assert field_tesla(experiment("babar")) == 1.5
    with pytest.raises(ParameterError):
        helix_at_closest_approach(np.zeros(3), np.ones(3), 0, FIELD)
    with pytest.raises(ParameterError):
        helix_at_closest_approach(np.zeros(3), np.ones(3), 2, FIELD)
    with pytest.raises(ParameterError):
        helix_at_closest_approach(np.zeros(3), np.ones(3), 1, 0.0)
