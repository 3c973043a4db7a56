"""The material model: where lines from the collision cross its cylinders and how much they traverse."""

import numpy as np
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.detector.experiments import experiment
from analysis_lib.detector.material import MATERIAL, Layer, crossings, layers

PIPE = Layer("pipe", 25.0, 100.0, 0.01)
SILICON = Layer("silicon", 40.0, 150.0, 0.005)


def test_a_line_from_the_beam_line_traverses_the_thickness_over_sin_theta():
    theta = np.radians([90.0, 60.0, 30.0])
    direction = np.column_stack([np.sin(theta), np.zeros(3), np.cos(theta)])
    points, thickness = crossings(np.zeros((3, 3)), direction, (PIPE, SILICON))
    # by hand: t / sin(theta) = 0.01, 0.011547, 0.02 for the pipe; z = R cot(theta)
    assert thickness[:, 0] == pytest.approx([0.01, 0.01 / np.sin(np.pi / 3), 0.02])
    assert np.hypot(points[:, 0, 0], points[:, 0, 1]) == pytest.approx([25.0] * 3)
    assert points[:, 0, 2] == pytest.approx(25.0 / np.tan(theta))
    # at 30 degrees the line leaves the silicon's 150 mm half length (z = 69 mm: inside) ...
    assert thickness[2, 1] == pytest.approx(0.005 / 0.5)
    # ... and at 10 degrees the pipe's (z = 142 mm > 100 mm)
    t10 = np.radians(10.0)
    _, shallow = crossings(np.zeros(3), np.array([np.sin(t10), 0.0, np.cos(t10)]), (PIPE, SILICON))
    assert shallow.tolist() == [0.0, 0.0]


def test_a_line_made_outside_a_layer_does_not_cross_it_and_an_oblique_one_traverses_more():
    _, outside = crossings(np.array([30.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]), (PIPE, SILICON))
    assert outside.tolist() == [0.0, pytest.approx(0.005)]
    # made at x = 30 mm moving along y: crosses the silicon (R = 40) where sin psi = sqrt(40^2 - 30^2) / 40
    _, oblique = crossings(np.array([30.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), (SILICON,))
    assert oblique[0] == pytest.approx(0.005 / (np.sqrt(40**2 - 30**2) / 40))
    _, along = crossings(np.zeros(3), np.array([0.0, 0.0, 1.0]), (PIPE,))
    assert along.tolist() == [0.0]


def test_every_experiment_has_ordered_layers_of_plausible_thickness():
    for name in ("babar", "belle", "belle2"):
        material = layers(experiment(name))
        radii = [layer.radius_mm for layer in material]
        assert radii == sorted(radii) and len(radii) >= 3
        total = sum(layer.x_over_x0 for layer in material)
        assert 0.01 < total < 0.1  # a few per cent of a radiation length before the drift chamber
    assert set(MATERIAL) == {"babar", "belle", "belle2"}


def test_a_bad_layer_is_refused():
    with pytest.raises(ParameterError, match="x_over_x0"):
        Layer("bad", 10.0, 100.0, float("nan"))
    with pytest.raises(ParameterError, match="radius_mm"):
        Layer("bad", -1.0, 100.0, 0.01)


def test_helix_tracks_carry_the_directions_resolution():
    """Pions of 0.5 GeV at 90 degrees in a sample with helices: their azimuth and polar angle scatter about
    the true ones by the resolution of detector.material, the Highland width of the beam pipe and first
    silicon layer (BaBar: 1.8% X0, 3.4 mrad at 0.5 GeV) with 0.5 mrad in quadrature; at 30 degrees the path
    is longer by 1 / sin theta and the azimuth's spread larger by it too; p, p_T and theta agree."""
    from analysis_lib.detector.material import direction_resolution_rad
    from analysis_lib.simulation.generators import GeneratedEvents
    from analysis_lib.simulation.response import reconstruct

    babar = experiment("babar")
    n = 40_000
    rng = np.random.default_rng(16)
    phi = rng.uniform(0, 2 * np.pi, n)
    p = np.sqrt(0.5**2 - 0.13957**2)
    p4 = np.column_stack([np.full(n, 0.5), p * np.cos(phi), p * np.sin(phi), np.zeros(n)])[:, None, :]
    events = GeneratedEvents(p4=p4, vertex_mm=np.zeros((n, 1, 3)), pdgid=np.array([211]), origin=np.array([2]),
                             sigma_pb=1.0)
    tracks = reconstruct(events, babar, rng, tracks=True, conversions=True).track
    measured = np.concatenate(tracks.phi.to_list())
    kept = np.concatenate([np.full(len(t), i) for i, t in enumerate(tracks.phi.to_list())]).astype(int)
    dphi = np.angle(np.exp(1j * (measured - phi[kept])))
    beta = p / 0.5
    t = 0.018
    highland = 0.0136 / (p * beta) * np.sqrt(t) * (1 + 0.038 * np.log(t / beta**2))
    expected = np.hypot(5e-4, highland)
    assert direction_resolution_rad(babar, p, beta, np.pi / 2) == pytest.approx(expected, rel=1e-9)
    assert np.std(dphi) == pytest.approx(expected, rel=0.03)
    assert np.std(np.concatenate(tracks.theta.to_list()) - np.pi / 2) == pytest.approx(expected, rel=0.03)
    # at theta = 30 degrees (forward): the thickness over sin theta, the azimuth's spread over sin theta too
    theta0 = np.radians(30.0)
    p4 = np.column_stack([np.full(n, 0.5), p * np.sin(theta0) * np.cos(phi), p * np.sin(theta0) * np.sin(phi),
                          np.full(n, p * np.cos(theta0))])[:, None, :]
    events = GeneratedEvents(p4=p4, vertex_mm=np.zeros((n, 1, 3)), pdgid=np.array([211]), origin=np.array([2]),
                             sigma_pb=1.0)
    tracks = reconstruct(events, babar, rng, tracks=True, conversions=True).track
    t = 0.018 / np.sin(theta0)
    forward = np.hypot(5e-4, 0.0136 / (p * beta) * np.sqrt(t) * (1 + 0.038 * np.log(t / beta**2)))
    theta = np.concatenate(tracks.theta.to_list())
    assert np.std(theta - theta0) == pytest.approx(forward, rel=0.03)
    measured = np.concatenate(tracks.phi.to_list())
    kept = np.concatenate([np.full(len(x), i) for i, x in enumerate(tracks.phi.to_list())]).astype(int)
    assert np.std(np.angle(np.exp(1j * (measured - phi[kept])))) == pytest.approx(forward / np.sin(theta0), rel=0.03)
    # the momentum is the measured p_T over the measured sin theta
    pt = np.concatenate(tracks.p.to_list()) * np.sin(theta)
    assert np.std(pt / (p * np.sin(theta0)) - 1) < 0.01
