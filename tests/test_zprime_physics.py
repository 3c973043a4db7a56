"""The L_mu - L_tau Z' and e+e- -> mu+ mu- Z' against independent numbers: limits of the widths and of
(g-2)_mu, the matrix element against the analytic Dalitz density, the vegas cross section against
its massless integral, and the two-photon background against the Breit-Wheeler formula."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.spatial.transform import Rotation

from analysis_lib.constants import ALPHA_EM, GEV2_TO_PB
from analysis_lib.errors import KinematicError, ParameterError
from analysis_lib.physics import radiated_vector as rv
from analysis_lib.physics.zprime import (
    MUON_MASS_GEV,
    delta_a_mu,
    g_minus_2_band,
    invisible_branching_fraction,
    width_to_leptons_gev,
    widths_gev,
)
from analysis_lib.simulation import dimuon

SQRT_S = 10.58


@pytest.mark.parametrize("mass", [0.15, 1.0, 3.0, 5.0])
def test_widths_sum_to_the_total_and_follow_the_formulae(mass):
    w = widths_gev(mass, 0.01)
    assert w["total"] == pytest.approx(w["mumu"] + w["tautau"] + w["nunu"], rel=1e-12)
    # two neutrino flavours of half a Dirac lepton each: together one massless charged lepton
    assert w["nunu"] == pytest.approx(width_to_leptons_gev(mass, 0.01, 0.0), rel=1e-12)
    assert invisible_branching_fraction(mass) == pytest.approx(w["nunu"] / w["total"])
    assert invisible_branching_fraction(mass, "dark_matter") == 1.0


def test_invisible_fraction_limits():
    assert invisible_branching_fraction(0.2) == 1.0  # below the muon threshold only neutrinos
    assert invisible_branching_fraction(1000.0) == pytest.approx(1 / 3, rel=1e-4)  # nu nu : mu mu : tau tau
    with pytest.raises(ParameterError, match="decay"):
        invisible_branching_fraction(1.0, "photons")
    with pytest.raises(ParameterError, match="positive"):
        widths_gev(-1.0)


def test_delta_a_mu_limits_and_the_factor_quoted_at_0p1_gev():
    heavy = lambda m: 0.01**2 * MUON_MASS_GEV**2 / (12 * np.pi**2 * m**2)  # noqa: E731
    assert delta_a_mu(200.0, 0.01) == pytest.approx(heavy(200.0), rel=1e-3)
    assert delta_a_mu(1e-7, 0.01) == pytest.approx(0.01**2 / (8 * np.pi**2), rel=1e-5)
    # the book's physics reference: the heavy limit is a factor 3.4 too large at 0.1 GeV
    assert heavy(0.1) / delta_a_mu(0.1, 0.01) == pytest.approx(3.4, abs=0.1)
    central, low, high = g_minus_2_band([0.1, 1.0])
    assert np.all(low < central) and np.all(central < high)
    assert delta_a_mu(1.0, central[1]) == pytest.approx(251e-11, rel=1e-9)


def test_matrix_element_averaged_over_orientations_is_the_dalitz_density():
    """At fixed energies of the final state, the average of |M|^2 over the orientations of the
    event equals the analytic massless Dalitz density: d sigma / dx1 dx2 = <|M|^2> / (1024 pi^3)
    (flux 1/2s, spin average 1/4, dPhi_3 = s / (128 pi^3) dx1 dx2 dOmega dphi / (8 pi^2), derived here)."""
    mass, m_lepton = 3.0, 1e-5
    space = rv.PhaseSpace(SQRT_S, mass, m_lepton)
    p3, p4, k, _ = space.momenta(np.array([[0.37, 0.5, 0.23, 0.6]]))
    n = 40_000
    rotations = Rotation.random(n, random_state=11).as_matrix()
    def rotate(p):
        return np.concatenate([np.repeat(p[:, :1], n, axis=0), np.einsum("nij,j->ni", rotations, p[0, 1:])], axis=1)
    half = SQRT_S / 2
    p1 = np.broadcast_to([half, 0, 0, half], (n, 4))
    p2 = np.broadcast_to([half, 0, 0, -half], (n, 4))
    me2 = rv.matrix_element_squared(p1, p2, rotate(p3), rotate(p4), rotate(k), lepton_mass_gev=m_lepton)
    x1, x2 = 2 * p3[0, 0] / SQRT_S, 2 * p4[0, 0] / SQRT_S
    s = SQRT_S**2
    expected = 4 * np.pi * ALPHA_EM**2 / (3 * s) / (8 * np.pi**2) * rv.dalitz_density(x1, x2, mass**2 / s)
    # the orientation average of a 1 + cos^2-like distribution: 40000 rotations give ~0.2%
    assert me2.mean() / (1024 * np.pi**3) == pytest.approx(expected, rel=0.01)


def test_matrix_element_is_symmetric_under_charge_conjugation():
    """Swapping e- <-> e+ and mu- <-> mu+ together leaves |M|^2 unchanged (both vertices are vector
    couplings), point by point; a wrong sign between the two diagrams would break it."""
    space = rv.PhaseSpace(SQRT_S, 2.0, MUON_MASS_GEV)
    rng = np.random.default_rng(3)
    p3, p4, k, _ = space.momenta(rng.random((50, 4)), rng.uniform(0, 2 * np.pi, 50))
    half = SQRT_S / 2
    p1 = np.broadcast_to([half, 0, 0, half], (50, 4))
    p2 = np.broadcast_to([half, 0, 0, -half], (50, 4))
    direct = rv.matrix_element_squared(p1, p2, p3, p4, k, lepton_mass_gev=MUON_MASS_GEV)
    swapped = rv.matrix_element_squared(p2, p1, p4, p3, k, lepton_mass_gev=MUON_MASS_GEV)
    np.testing.assert_allclose(direct, swapped, rtol=1e-10)
    assert np.all(direct > 0)


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


def test_cross_section_limits_and_errors():
    with pytest.raises(KinematicError, match="V mass"):
        rv.PhaseSpace(SQRT_S, 10.5, MUON_MASS_GEV)
    with pytest.raises(KinematicError):
        rv.sigma_massless_pb(11.0, SQRT_S)


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
    from analysis_lib.datasets import dataset
    from analysis_lib.simulation.generators import Frame

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
