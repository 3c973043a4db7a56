"""The two-muon generators: the vegas cross section of e+e- -> mu+ mu- Z' against its massless
integral, the two-photon background against the Breit-Wheeler formula and the full calculation, and
the signal events' kinematics (the Z' recoil, the dark Higgsstrahlung masses and angular distribution)."""

import numpy as np
import pytest
from scipy.integrate import quad

from analysis_lib.core.constants import GEV2_TO_PB
from analysis_lib.core.kinematics import two_body_momentum
from analysis_lib.detector.datasets import dataset
from analysis_lib.detector.frames import Frame
from analysis_lib.physics import radiated_vector as rv
from analysis_lib.physics.zprime import MUON_MASS_GEV
from analysis_lib.simulation import dimuon

SQRT_S = 10.58


@pytest.mark.parametrize("mass", [1.0, 3.0])
def test_vegas_cross_section_against_the_massless_dalitz_integral(mass):
    """Full matrix element with the muon mass (vegas) against the analytic massless-muon density
    integrated with scipy: equal up to muon-mass effects of order (m_mu / M)^2 log, below 1% for
    M >= 1 GeV (0.55% and 0.43% found), and the vegas error is 0.02-0.04%."""
    sigma, error = dimuon.mumu_vector_sigma_pb(mass, SQRT_S)
    massless = rv.sigma_massless_pb(mass, SQRT_S)
    assert error / sigma < 1e-3
    assert sigma == pytest.approx(massless, rel=0.01)
    assert sigma < massless  # the muon mass only closes phase space here


@pytest.mark.parametrize("w", [0.5, 1.0, 5.0])
def test_gamma_gamma_to_muons_matrix_element_integrates_to_breit_wheeler(w):
    def dsigma(cos_t):
        p_star = np.sqrt(w**2 / 4 - MUON_MASS_GEV**2)
        k1 = np.array([w / 2, 0, 0, w / 2])
        k2 = np.array([w / 2, 0, 0, -w / 2])
        p = np.array([w / 2, p_star * np.sqrt(1 - cos_t**2), 0, p_star * cos_t])
        me2 = dimuon.matrix_element_squared_gamma_gamma_to_leptons(p, k1, k2, MUON_MASS_GEV)
        return 2 * np.pi * (2 * p_star / w) * me2 / (64 * np.pi**2 * w**2)

    integral, _ = quad(dsigma, -1, 1, epsabs=0, epsrel=1e-10, limit=200)
    assert integral * GEV2_TO_PB == pytest.approx(dimuon.sigma_gamma_gamma_to_leptons_pb(w, MUON_MASS_GEV), rel=1e-7)


def test_two_photon_cross_section_near_the_full_calculation():
    """e+e- -> e+e- mu+ mu- with a pair mass above 0.5 GeV and no angular cuts: 18.9 nb in the Belle II
    Physics Book (arXiv:1808.10567, full four-fermion calculation); the equivalent-photon
    approximation is good to 10-20% there (21.2 nb found)."""
    cuts = dimuon.TwoPhotonCuts(w_min_gev=0.5, electron_theta_max_rad=3.1, muon_cos_max=1.0)
    assert dimuon.two_photon_sigma_pb(SQRT_S, cuts) == pytest.approx(18_900, rel=0.2)
    # the generator cuts of the background sample keep a small part of it
    assert dimuon.two_photon_sigma_pb(SQRT_S) < 0.1 * dimuon.two_photon_sigma_pb(SQRT_S, cuts)


def test_signal_events_conserve_momentum_and_have_the_zprime_recoil():
    beams = dataset("belle2_2019_2020").experiment.beams
    events = dimuon.generate_mumu_vector(np.random.default_rng(4), 2000, beams=beams, mass_gev=2.0)
    again = dimuon.generate_mumu_vector(np.random.default_rng(4), 2000, beams=beams, mass_gev=2.0)
    np.testing.assert_array_equal(events.p4, again.p4)
    muons_cm = Frame(beams).to_cm(events.p4)
    recoil = np.array([beams.sqrt_s_gev, 0, 0, 0]) - muons_cm.sum(axis=1)
    m2 = recoil[:, 0] ** 2 - np.sum(recoil[:, 1:] ** 2, axis=1)
    np.testing.assert_allclose(m2, 4.0, atol=1e-6)
    # the unweighted sample's cross section agrees with the integral within its statistics
    assert events.sigma_pb == pytest.approx(dimuon.mumu_vector_sigma_pb(2.0, beams.sqrt_s_gev)[0], rel=0.02)


def test_dark_higgsstrahlung_events_have_the_two_masses():
    beams = dataset("belle2_2019").experiment.beams
    ev = dimuon.generate_dark_higgsstrahlung(np.random.default_rng(2), 4000, beams=beams, mass_a_gev=6.0,
                                             mass_h_gev=2.0, sigma_pb=1.0)
    cm = Frame(beams).to_cm(ev.p4)
    pair = cm.sum(axis=1)
    recoil = np.array([beams.sqrt_s_gev, 0, 0, 0]) - pair

    def mass2(p):
        return p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1)

    np.testing.assert_allclose(mass2(pair), 36.0, rtol=1e-9)
    np.testing.assert_allclose(mass2(recoil), 4.0, atol=1e-6)
    # the A' polar angle: <cos^2> of lambda sin^2 + 8 M^2/s against its value from the distribution
    s = beams.sqrt_s_gev**2
    lam = (2 * float(two_body_momentum(beams.sqrt_s_gev, 6.0, 2.0)) / beams.sqrt_s_gev) ** 2
    c2 = (pair[:, 3] / np.linalg.norm(pair[:, 1:], axis=1)) ** 2
    expected = (lam * (1 / 3 - 1 / 5) + 8 * 36 / s / 3) / (lam * 2 / 3 + 8 * 36 / s)
    assert c2.mean() == pytest.approx(expected, abs=4 * c2.std() / np.sqrt(c2.size))
