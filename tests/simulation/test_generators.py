"""Generators: conservation laws, angular distributions, lifetimes, generator cuts and cross sections
against an independent integrator."""

import numpy as np
import pytest

from analysis_lib.core.constants import GEV2_TO_PB
from analysis_lib.core.errors import KinematicError, ParameterError
from analysis_lib.core.kinematics import invariant_mass2
from analysis_lib.detector.experiments import BELLE2
from analysis_lib.detector.frames import Frame
from analysis_lib.physics.qed import matrix_element_squared_three_photons
from analysis_lib.simulation.generators import (
    generate_gamma_gamma,
    generate_gamma_resonance,
    generate_radiative_bhabha,
    generate_three_photons,
    three_photon_sampler,
)
from analysis_lib.simulation.response import reconstruct

BEAMS = BELLE2.beams
FRAME = Frame(BEAMS)


def beams_total():
    e_minus, e_plus = BEAMS.four_momenta()
    return e_minus + e_plus


@pytest.mark.parametrize("mass", [0.2, 1.0, 9.0])
def test_signal_conserves_energy_momentum_and_mass(mass):
    ev = generate_gamma_resonance(np.random.default_rng(1), 2000, beams=BEAMS, mass_gev=mass, sigma_pb=1.0)
    assert np.allclose(ev.p4.sum(axis=1), beams_total(), atol=1e-9)
    assert np.allclose(invariant_mass2(ev.p4[:, 1], ev.p4[:, 2]), mass**2, rtol=1e-9)
    assert np.allclose(invariant_mass2(ev.p4[:, 0]), 0, atol=1e-9)


def test_signal_angular_distribution_is_one_plus_cos2():
    # <cos^2 theta*> = 0.4 for 1 + cos^2; its standard error for n events is sqrt(0.0971 / n)
    n = 100_000
    ev = generate_gamma_resonance(np.random.default_rng(2), n, beams=BEAMS, mass_gev=1.0, sigma_pb=1.0)
    cm = FRAME.to_cm(ev.p4[:, 0])
    cos2 = (cm[:, 3] / cm[:, 0]) ** 2
    assert cos2.mean() == pytest.approx(0.4, abs=5 * np.sqrt(0.0971 / n))


def test_displaced_decays_follow_the_lifetime():
    n = 50_000
    ev = generate_gamma_resonance(np.random.default_rng(4), n, beams=BEAMS, mass_gev=1.0, sigma_pb=1.0, ctau_mm=10)
    x = ev.p4[:, 1:].sum(axis=1)
    p = np.linalg.norm(x[:, 1:], axis=1)
    flight = np.linalg.norm(ev.vertex_mm[:, 1], axis=1)
    # flight / (beta gamma c tau) is exponential with mean 1
    assert np.mean(flight / (p / 1.0 * 10)) == pytest.approx(1.0, abs=5 / np.sqrt(n))
    with pytest.raises(ParameterError):
        generate_gamma_resonance(np.random.default_rng(4), 5, beams=BEAMS, mass_gev=1.0, sigma_pb=1.0, ctau_mm=-1)
    with pytest.raises(KinematicError):
        generate_gamma_resonance(np.random.default_rng(4), 5, beams=BEAMS, mass_gev=11.0, sigma_pb=1.0)


def test_gamma_gamma_angular_distribution():
    n = 200_000
    ev = generate_gamma_gamma(np.random.default_rng(5), n, beams=BEAMS, cos_max=0.9)
    cm = FRAME.to_cm(ev.p4)
    assert np.allclose(cm.sum(axis=1), [BEAMS.sqrt_s_gev, 0, 0, 0], atol=1e-9)
    c = cm[:, 0, 3] / cm[:, 0, 0]
    counts, edges = np.histogram(c, bins=18, range=(-0.9, 0.9))
    shape = lambda x: np.log((1 + x) / (1 - x)) - x  # noqa: E731, integral of (1+c^2)/(1-c^2)
    expected = np.diff(shape(edges)) / (shape(0.9) - shape(-0.9)) * n
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 18 + 5 * np.sqrt(2 * 18)


def test_three_photon_events_conserve_and_respect_cuts():
    ev = generate_three_photons(np.random.default_rng(6), 5000, beams=BEAMS, e_min_gev=0.2, cos_max=0.95,
                                pilot=50_000)
    cm = FRAME.to_cm(ev.p4)
    assert np.allclose(cm.sum(axis=1), [BEAMS.sqrt_s_gev, 0, 0, 0], atol=1e-9)
    assert cm[..., 0].min() > 0.2
    assert np.abs(cm[..., 3] / cm[..., 0]).max() < 0.95


def test_three_photon_cross_section_matches_flat_phase_space_integral():
    # independent integrator: flat massless 3-body phase space (uniform Dalitz plot and random
    # orientation), sigma = 1/(2s) 1/3! s/(256 pi^3) <|M|^2 cuts>
    sqrt_s, e_min, cos_max = BEAMS.sqrt_s_gev, 0.5, 0.9
    rng = np.random.default_rng(8)
    n = 1_000_000
    x1, x2 = rng.random(n), rng.random(n)
    flip = x1 + x2 < 1
    x1[flip], x2[flip] = 1 - x1[flip], 1 - x2[flip]
    e = np.column_stack([x1, x2, 2 - x1 - x2]) * sqrt_s / 2
    c12 = 1 - 2 * (1 - e[:, 2] * 2 / sqrt_s) / (x1 * x2)
    s12 = np.sqrt(np.clip(1 - c12**2, 0, None))
    from scipy.spatial.transform import Rotation

    rot = Rotation.random(n, random_state=9)
    k1 = rot.apply(np.column_stack([np.zeros(n), np.zeros(n), e[:, 0]]))
    k2 = rot.apply(np.column_stack([s12 * e[:, 1], np.zeros(n), c12 * e[:, 1]]))
    k3 = -(k1 + k2)
    ks = [np.column_stack([np.linalg.norm(k, axis=1), k]) for k in (k1, k2, k3)]
    passed = np.all([(k[:, 0] > e_min) & (np.abs(k[:, 3] / k[:, 0]) < cos_max) for k in ks], axis=0)
    half = sqrt_s / 2
    me2 = matrix_element_squared_three_photons(np.array([half, 0, 0, half]), np.array([half, 0, 0, -half]), *ks)
    values = np.where(passed, me2, 0.0) / (2 * sqrt_s**2) / 6 * sqrt_s**2 / (256 * np.pi**3) * GEV2_TO_PB
    flat, flat_err = values.mean(), values.std() / np.sqrt(n)
    sampler = three_photon_sampler(sqrt_s, e_min, cos_max)
    _, w = sampler.sample(np.random.default_rng(10), 400_000)
    mc, mc_err = w.mean(), w.std() / np.sqrt(w.size)
    assert mc == pytest.approx(flat, abs=4 * np.hypot(flat_err, mc_err))
    assert mc_err / mc < 0.01  # the importance sampling is efficient


def test_radiative_bhabha_events():
    ev = generate_radiative_bhabha(np.random.default_rng(13), 2000, beams=BEAMS, e_min_gev=0.2, photon_cos_max=0.95,
                                   lepton_cos_range=(-0.94, 0.94), lepton_lab_theta_deg=(17.0, 150.0),
                                   pilot=50_000)
    assert np.allclose(ev.p4.sum(axis=1), beams_total(), atol=1e-9)
    theta = np.degrees(np.arccos(ev.p4[:, :2, 3] / ev.p4[:, :2, 0]))
    assert theta.min() > 17.0 and theta.max() < 150.0
    assert ev.sigma_pb > 0 and list(ev.pdgid) == [11, -11, 22]
    # both tracks lost on request, with the probability as weight
    rec = reconstruct(ev, BELLE2, np.random.default_rng(14), weight=2.0, force_track_loss=True)
    assert np.all(rec["n_tracks"] == 0)
    assert np.allclose(rec["weight"], 2.0 * (1 - BELLE2.tracker.efficiency) ** 2)
    natural = reconstruct(ev, BELLE2, np.random.default_rng(14))
    assert np.mean(natural["n_tracks"] == 2) > 0.95


def test_partial_unweighting_keeps_the_distribution_and_the_cross_section():
    # e+e- -> 3 gamma: partially unweighted events (weights above the 0.5 quantile) against plain
    # accept-reject: the same cross section and the same weighted distribution of the hardest photon
    from analysis_lib.simulation.generators import three_photon_sampler
    from analysis_lib.simulation.phase_space import partially_unweight, unweight

    sampler = three_photon_sampler(10.58, 0.2, 0.975)
    k_plain, sigma_plain = unweight(sampler, np.random.default_rng(1), 40_000)
    k_part, sigma_part, w = partially_unweight(sampler, np.random.default_rng(2), 40_000, quantile=0.5)
    assert w.mean() == pytest.approx(1.0) and w.min() > 0 and w.std() > 0.05  # weighted indeed
    assert sigma_part == pytest.approx(sigma_plain, rel=0.02)
    bins = np.linspace(0, 5.3, 11)
    plain, _ = np.histogram(k_plain[..., 0].max(axis=1), bins)
    part, _ = np.histogram(k_part[..., 0].max(axis=1), bins, weights=w)
    part2, _ = np.histogram(k_part[..., 0].max(axis=1), bins, weights=w**2)
    filled = plain > 100
    pull = (part[filled] - plain[filled]) / np.sqrt(plain[filled] + part2[filled])
    assert np.all(np.abs(pull) < 4)


def test_particles_generated_in_the_centre_of_mass_frame_reach_the_lab_with_their_vertices():
    import awkward as ak

    from analysis_lib.detector.experiments import BELLE
    from analysis_lib.simulation.generators import particles_to_lab

    # a particle made 10 mm/c after the collision at rest in the centre-of-mass frame is made in the
    # lab at gamma beta x 10 mm along the boost, gamma x 10 mm/c later
    particles = ak.Array([[{"id": 2212, "E": 1.0, "px": 0.0, "py": 0.0, "pz": 0.0, "vt": 10.0, "vx": 0.0, "vy": 0.0,
                            "vz": 0.0}]])
    lab = particles_to_lab(particles, BELLE.beams, 6)
    beta = BELLE.beams.beta
    gamma = 1 / np.sqrt(1 - beta @ beta)
    vertex = np.array([lab.vx[0, 0], lab.vy[0, 0], lab.vz[0, 0]])
    np.testing.assert_allclose(vertex, 10 * gamma * beta, atol=1e-9)
    assert float(lab.E[0, 0]) == pytest.approx(gamma) and int(lab.origin[0, 0]) == 6
