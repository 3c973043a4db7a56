"""Darkonium: each rate against an independent number. The three-photon width against the measured
ortho-positronium decay rate; the wave function at the origin, the binding energy and the edge of
binding against a numerical solution of the radial Schroedinger equation; the radiative-return cross
section against the numerical convolution of the radiator with the PDG Breit-Wigner form; the A'
decay length against a hand computation."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.linalg import eigh_tridiagonal

from analysis_lib.core.constants import ALPHA_EM, HBAR_GEV_S, mass_gev
from analysis_lib.core.errors import KinematicError, ParameterError
from analysis_lib.physics import dark_photon as dp
from analysis_lib.physics import darkonium as dk

M_E = mass_gev(11)


def radial_ground_state(alpha, reduced_mass, screening=0.0, *, box_bohr=60.0, n=30_000):
    """Lowest s-wave state of V(r) = -alpha exp(-screening r) / r by finite differences on a uniform
    grid (u(0) = u(box) = 0): (energy, |psi(0)|^2), |psi(0)|^2 = lim (u / r)^2 / 4 pi extrapolated
    from the first two grid points."""
    bohr = 1 / (alpha * reduced_mass)
    h = box_bohr * bohr / n
    r = h * np.arange(1, n + 1)
    diagonal = 1 / (reduced_mass * h * h) - alpha * np.exp(-screening * r) / r
    off = np.full(n - 1, -1 / (2 * reduced_mass * h * h))
    energy, vector = eigh_tridiagonal(diagonal, off, select="i", select_range=(0, 0))
    u = vector[:, 0] / np.sqrt(h)  # normalised: sum u^2 h = 1
    at_origin = 2 * u[0] / r[0] - u[1] / r[1]
    return float(energy[0]), at_origin**2 / (4 * np.pi)


def test_three_photon_width_is_the_measured_ortho_positronium_rate():
    """alpha -> alpha(0), m_chi -> m_e: the lowest order, times the known one-loop correction
    (1 - 10.2866 alpha / pi; G. S. Adkins et al., hep-ph/0506213), against the measured rate
    7.0404(13) per microsecond (R. S. Vallery, P. W. Zitzewitz, D. W. Gidley, Phys. Rev. Lett. 90
    (2003) 203402); the higher orders are below 0.1%."""
    rate_per_us = dk.width_three_dark_photons_gev(M_E, ALPHA_EM) / HBAR_GEV_S * 1e-6
    assert rate_per_us == pytest.approx(7.2112, rel=2e-4)  # Ore and Powell's lowest order
    assert rate_per_us * (1 - 10.2866 * ALPHA_EM / np.pi) == pytest.approx(7.0404, rel=1e-3)


@pytest.mark.parametrize("alpha_d", [0.1, 0.5])
def test_wave_function_and_binding_energy_against_the_schroedinger_equation(alpha_d):
    m_chi = 1.3
    energy, psi0_squared = radial_ground_state(alpha_d, m_chi / 2)
    assert psi0_squared == pytest.approx(dk.wave_function_at_origin_squared(m_chi, alpha_d), rel=2e-3)
    assert 2 * m_chi + energy == pytest.approx(dk.darkonium_mass_gev(m_chi, alpha_d), rel=1e-6)
    assert dk.chi_mass_gev(dk.darkonium_mass_gev(m_chi, alpha_d), alpha_d) == pytest.approx(m_chi, rel=1e-12)


def test_electronic_width_is_van_royen_weisskopf_with_the_numerical_wave_function():
    """Van Royen-Weisskopf for a colourless pair, 16 pi alpha alpha_D eps^2 |psi(0)|^2 / (3 M^2) times the A'
    propagator, with the numerical wave function; and true muonium (alpha_D = alpha, eps = 1, a massless
    A' is the photon): Gamma((mu+ mu-) 1^3S_1 -> e+ e-) = alpha^5 m_mu / 6, a lifetime of 1.81 ps
    (S. J. Brodsky, R. F. Lebed, Phys. Rev. Lett. 102 (2009) 213401)."""
    m_chi, alpha_d, eps, m_a = 2.0, 0.3, 1e-3, 0.4
    _, psi0_squared = radial_ground_state(alpha_d, m_chi / 2)
    big_m2 = (2 * m_chi) ** 2
    vrw = 16 * np.pi * ALPHA_EM * alpha_d * eps**2 * psi0_squared / (3 * big_m2) * (big_m2 / (big_m2 - m_a**2)) ** 2
    assert dk.width_to_electrons_gev(m_chi, alpha_d, eps, m_a) == pytest.approx(vrw, rel=2e-3)
    m_mu = mass_gev(13)
    true_muonium = dk.width_to_electrons_gev(m_mu, ALPHA_EM, 1.0, 1e-9)
    assert true_muonium == pytest.approx(ALPHA_EM**5 * m_mu / 6, rel=1e-9)
    assert HBAR_GEV_S / true_muonium * 1e12 == pytest.approx(1.81, abs=0.01)
    # the width to Standard-Model pairs adds muons (phase space 1 - 6e-6 at 4 GeV), taus (by hand:
    # r = (m_tau / 4 GeV)^2, (1 + 2 r) sqrt(1 - 4 r)) and R(4 GeV) hadrons
    ratio = dk.width_to_standard_model_gev(m_chi, alpha_d, eps, m_a) / dk.width_to_electrons_gev(m_chi, alpha_d, eps, m_a)
    r_tau = (mass_gev(15) / 4.0) ** 2
    assert ratio == pytest.approx(2 + (1 + 2 * r_tau) * np.sqrt(1 - 4 * r_tau) + dp.r_ratio(4.0), rel=1e-5)


def test_edge_of_binding_against_the_schroedinger_equation():
    """The Yukawa ground state is bound just below the critical screening and not above it."""
    alpha, mu = 0.4, 0.5
    below, _ = radial_ground_state(alpha, mu, 0.97 * dk.YUKAWA_CRITICAL_SCREENING * alpha * mu, box_bohr=400.0, n=200_000)
    above, _ = radial_ground_state(alpha, mu, 1.03 * dk.YUKAWA_CRITICAL_SCREENING * alpha * mu, box_bohr=400.0, n=200_000)
    assert below < 0 < above
    m_chi = 2 * mu
    edge = dk.YUKAWA_CRITICAL_SCREENING * alpha * m_chi / 2
    assert dk.bound_state_exists(0.99 * edge, m_chi, alpha) is True
    assert dk.bound_state_exists(1.01 * edge, m_chi, alpha) is False


def test_radiator_in_angle_is_the_integral_of_the_angular_form():
    for x, c in ((0.1, 0.8), (0.5, 0.95), (0.95, 0.6)):
        integral, _ = quad(lambda u: dk.dradiator_dcos(x, u), -c, c, epsabs=0, epsrel=1e-11)
        assert dk.radiator_in_angle(x, c) == pytest.approx(integral, rel=1e-9)
        assert dk.radiator_in_angle(x, c) < dk.radiator(x, 10.58)


def test_radiator_soft_limit_is_the_electron_radiation_exponent():
    """x W(s, x) -> beta = (2 alpha / pi)(ln(s / m_e^2) - 1) as x -> 0, the soft-photon spectrum."""
    beta = 2 * ALPHA_EM / np.pi * (np.log(10.58**2 / M_E**2) - 1)
    assert 1e-6 * dk.radiator(1e-6, 10.58) == pytest.approx(beta, rel=1e-5)


def test_radiative_return_against_the_convolution_with_a_breit_wigner():
    """A narrow vector (Gamma = 1e-4 M) made in e+e- -> gamma V: the closed form against the numerical
    integral over the photon's energy fraction of W(s, x) times the resonance's cross section at
    s' = s (1 - x), sigma(E) = (12 pi / M^2)(Gamma_ee / Gamma)(Gamma^2 / 4) / ((E - M)^2 + Gamma^2 / 4)
    summed over final states (the PDG's Breit-Wigner for J = 1 from two spin-1/2 beams)."""
    sqrt_s, mass, gamma = 10.58, 3.0, 3e-4
    gamma_ee = 5e-6
    s = sqrt_s**2

    def integrand(x):
        energy = np.sqrt(s * (1 - x))
        breit_wigner = 12 * np.pi / mass**2 * gamma_ee / gamma * (gamma**2 / 4) / ((energy - mass) ** 2 + gamma**2 / 4)
        return dk.radiator(x, sqrt_s) * breit_wigner

    x0 = 1 - mass**2 / s
    dx = 2 * mass * 400 * gamma / s  # +- 400 widths
    numerical, _ = quad(integrand, x0 - dx, x0 + dx, points=[x0], limit=500, epsabs=0, epsrel=1e-10)
    from analysis_lib.core.constants import GEV2_TO_PB

    assert dk.sigma_radiative_return_pb(mass, gamma_ee, sqrt_s) == pytest.approx(numerical * GEV2_TO_PB, rel=3e-3)


def test_darkonium_cross_section_refuses_an_unbound_state():
    # alpha_D = 0.1, M = 3 GeV: m_chi = 1.5 GeV, the A' binds below 1.19 * 0.1 * 0.75 = 0.089 GeV
    sigma = dk.sigma_gamma_darkonium_pb(3.0, 0.1, 1e-3, 0.05, 10.58)
    assert sigma > 0
    with pytest.raises(KinematicError, match="does not bind"):
        dk.sigma_gamma_darkonium_pb(3.0, 0.1, 1e-3, 0.1, 10.58)
    with pytest.raises(ParameterError, match="alpha_d"):
        dk.darkonium_mass_gev(1.0, 1.5)
    with pytest.raises(KinematicError, match="cos"):
        dk.dradiator_dcos(0.5, 1.0)


def test_dark_photon_decay_length_and_branching_fractions():
    """Below the muon threshold the A' decays to e+e- only: c tau = 3 hbar c / (alpha eps^2 M beta (1 + 2 r))
    by hand at 10 MeV and eps = 1e-4: 0.811 mm (it flies centimetres at B-factory boosts)."""
    hbarc_mm = 1.973269804e-13
    r = (M_E / 0.01) ** 2
    by_hand = hbarc_mm * 3 / (ALPHA_EM * 1e-8 * 0.01 * np.sqrt(1 - 4 * r) * (1 + 2 * r))
    assert dp.ctau_mm(0.01, 1e-4) == pytest.approx(by_hand, rel=1e-6)
    assert by_hand == pytest.approx(0.811, rel=2e-3)
    for mass in (0.05, 0.5, 1.2, 3.0):
        fractions = dp.branching_fractions(mass)
        assert sum(fractions.values()) == pytest.approx(1.0, rel=1e-12)
    assert dp.branching_fractions(0.15)["ee"] == 1.0
    with pytest.raises(KinematicError, match="2 m_e"):
        dp.total_width_gev(0.0009)


def test_pion_form_factor_against_the_r_table():
    """Below 0.9 GeV, away from the omega (782 MeV, decaying to three pions), e+e- -> hadrons is pi+ pi-:
    R_pipi of the Gounaris-Sakurai form factor (Belle's tau fit) against the PDG's R table."""
    for energy in (0.4, 0.6, 0.7, 0.85):
        assert dp.r_ratio_pipi(energy) == pytest.approx(dp.r_ratio(energy), rel=0.03)
    assert dp.pion_form_factor_squared(0.27) == 0.0  # below threshold
    # at threshold, F = 1 + s <r^2> / 6 + ... with the PDG pion charge radius 0.659 fm (<r^2> = 11.15 GeV^-2);
    # the next order raises it by a few per cent
    s_threshold = (2 * mass_gev(211)) ** 2
    assert dp.pion_form_factor_squared(2 * mass_gev(211) * (1 + 1e-9)) == pytest.approx(
        (1 + s_threshold * 11.15 / 6) ** 2, rel=0.06)
    fractions = dp.branching_fractions(0.7)
    assert fractions["pipi"] > 0.6 and fractions["other_hadrons"] >= 0
    assert dp.branching_fractions(2.5)["pipi"] < 0.01
