"""Physics formulas against independent numbers: published values, numerical integrals, limits."""

import numpy as np
import pytest
from scipy.integrate import quad

from analysis_lib.constants import ALPHA_EM, GEV2_TO_PB, HBARC_GEV_MM, SIN2_THETA_W, mass_gev, width_gev
from analysis_lib.errors import KinematicError, ParameterError
from analysis_lib.physics.alp import (
    alp_ctau_mm,
    alp_decay_length_mm,
    alp_width_gamma_gamma_gev,
    coupling_from_cross_section,
    dsigma_dcostheta_pb,
    sigma_ee_to_gamma_alp_pb,
)
from analysis_lib.physics.qed import (
    dsigma_dcostheta_gamma_gamma_pb,
    matrix_element_squared_three_photons,
    sigma_gamma_gamma_pb,
)

SQRT_S = 10.58


def test_constants_are_the_stated_conventions():
    assert ALPHA_EM == pytest.approx(1 / 137.036, rel=1e-6)
    assert HBARC_GEV_MM == pytest.approx(1.97327e-13, rel=1e-5)
    assert GEV2_TO_PB == pytest.approx(0.3894e9, rel=1e-3)  # (hbar c)^2 = 0.3894 mb GeV^2
    assert SIN2_THETA_W == pytest.approx(0.2229, abs=2e-3)  # on-shell value, PHYSICS.md


def test_alp_cross_section_published_value():
    # 0.118 pb at g = 1e-3 GeV^-1 and m_a << sqrt(s) (PHYSICS.md, Dolan et al.)
    assert sigma_ee_to_gamma_alp_pb(1e-3, 1e-3, SQRT_S) == pytest.approx(0.118, abs=0.0005)


@pytest.mark.parametrize("mass", [0.0, 0.5, 3.0, 9.7])
def test_alp_cross_section_is_integral_of_differential(mass):
    total, _ = quad(lambda c: dsigma_dcostheta_pb(c, mass, 1e-3, SQRT_S), -1, 1)
    assert total == pytest.approx(sigma_ee_to_gamma_alp_pb(mass, 1e-3, SQRT_S), rel=1e-10)


def test_alp_cross_section_threshold_and_scaling():
    assert sigma_ee_to_gamma_alp_pb(SQRT_S * 0.999999, 1e-3, SQRT_S) < 1e-12
    ratio = sigma_ee_to_gamma_alp_pb(1.0, 2e-3, SQRT_S) / sigma_ee_to_gamma_alp_pb(1.0, 1e-3, SQRT_S)
    assert ratio == pytest.approx(4.0)
    g = coupling_from_cross_section(sigma_ee_to_gamma_alp_pb(2.0, 3e-4, SQRT_S), 2.0, SQRT_S)
    assert g == pytest.approx(3e-4)


def test_alp_mass_outside_kinematic_range_is_refused():
    with pytest.raises(KinematicError, match="sqrt"):
        sigma_ee_to_gamma_alp_pb(11.0, 1e-3, SQRT_S)


def test_width_reproduces_pi0_anomaly_prediction():
    # pi0 -> gamma gamma with g = alpha / (pi f_pi), f_pi = 92.07 MeV, is the chiral-anomaly
    # prediction (7.76 eV), within 2% of the measured width x branching fraction (PDG: 7.72 eV).
    f_pi = 0.13041 / np.sqrt(2)
    g = ALPHA_EM / (np.pi * f_pi)
    predicted = alp_width_gamma_gamma_gev(mass_gev(111), g)
    measured = width_gev(111) * 0.98823
    assert predicted == pytest.approx(measured, rel=0.02)


def test_lifetime_and_decay_length():
    gamma = alp_width_gamma_gamma_gev(1.0, 1e-3)
    assert alp_ctau_mm(1.0, 1e-3) == pytest.approx(HBARC_GEV_MM / gamma)
    # a 1 GeV ALP with g = 1e-3 decays within ~40 micrometres: prompt for this search
    assert alp_ctau_mm(1.0, 1e-3) == pytest.approx(3.97e-5, rel=0.01)
    assert alp_decay_length_mm(5.0, 1.0, 2.0) == pytest.approx(10.0)
    with pytest.raises(ParameterError, match="negative"):
        alp_decay_length_mm(5.0, 1.0, -1.0)


def test_gamma_gamma_cross_section():
    total, _ = quad(lambda c: dsigma_dcostheta_gamma_gamma_pb(c, SQRT_S), -0.9, 0.9)
    assert sigma_gamma_gamma_pb(SQRT_S, cos_max=0.9) == pytest.approx(total, rel=1e-10)
    # The Belle II Physics Book (arXiv:1808.10567) quotes about 5.0 nb for 10-170 degrees with a
    # generator including radiative corrections (BabaYaga@NLO); the lowest order is ~10% lower.
    lo = sigma_gamma_gamma_pb(SQRT_S, cos_max=np.cos(np.radians(10))) / 1e3
    assert 0.85 * 5.0 < lo < 5.0
    with pytest.raises(ParameterError):
        sigma_gamma_gamma_pb(SQRT_S, cos_max=1.0)


def _massless(e, cos_theta, phi):
    s = np.sqrt(1 - cos_theta**2)
    return np.array([e, e * s * np.cos(phi), e * s * np.sin(phi), e * cos_theta])


@pytest.mark.parametrize("e_soft", [1e-3, 1e-4])
def test_three_photon_matrix_element_soft_limit(e_soft):
    # k3 -> 0: |M3|^2 -> e^2 2 (p.p') / ((p.k3)(p'.k3)) x 2 e^4 (u/t + t/u), the eikonal theorem
    half = SQRT_S / 2
    p, pbar = np.array([half, 0, 0, half]), np.array([half, 0, 0, -half])
    k3 = _massless(e_soft, 0.3, 1.0)
    # k1, k2 back to back in the frame recoiling against k3: to first order k1 + k2 = P - k3
    c, phi = 0.4, 2.0
    e1 = (SQRT_S - e_soft) / 2
    k1 = _massless(e1, c, phi)
    k2 = np.array([SQRT_S, 0, 0, 0]) - k1 - k3
    e2 = 4 * np.pi * ALPHA_EM

    def dot(a, b):
        return a[0] * b[0] - a[1:] @ b[1:]

    eikonal = e2 * 2 * dot(p, pbar) / (dot(p, k3) * dot(pbar, k3))
    two_photon = 2 * e2**2 * (dot(p, k2) / dot(p, k1) + dot(p, k1) / dot(p, k2))
    ratio = matrix_element_squared_three_photons(p, pbar, k1, k2, k3) / (eikonal * two_photon)
    assert ratio == pytest.approx(1.0, rel=20 * e_soft / half)


def test_three_photon_matrix_element_symmetric():
    half = SQRT_S / 2
    p, pbar = np.array([half, 0, 0, half]), np.array([half, 0, 0, -half])
    k1 = _massless(3.0, 0.2, 0.1)
    k2 = _massless(4.0, -0.5, 2.5)
    k3 = np.array([SQRT_S, 0, 0, 0]) - k1 - k2
    values = [matrix_element_squared_three_photons(p, pbar, *perm)
              for perm in ((k1, k2, k3), (k2, k3, k1), (k3, k1, k2), (k2, k1, k3))]
    assert np.allclose(values, values[0], rtol=1e-12)
    # C invariance: exchanging the beams leaves |M|^2 unchanged
    assert matrix_element_squared_three_photons(pbar, p, k1, k2, k3) == pytest.approx(values[0], rel=1e-12)


@pytest.mark.parametrize("e_soft", [1e-3, 1e-4])
def test_radiative_bhabha_soft_limit(e_soft):
    # k -> 0: |M|^2 -> e^2 B x 2 e^4 (s^4 + t^4 + u^4) / (s^2 t^2), B the eikonal factor of the four
    # charges (derived independently from the current J = sum eta_i Q_i p_i / (p_i.k))
    from analysis_lib.physics.qed import matrix_element_squared_radiative_bhabha

    half = SQRT_S / 2
    p_minus, p_plus = np.array([half, 0, 0, half]), np.array([half, 0, 0, -half])
    k = _massless(e_soft, -0.2, 0.7)
    e_out = (SQRT_S - e_soft) / 2
    q_minus = _massless(e_out, 0.6, 1.9)
    q_plus = np.array([SQRT_S, 0, 0, 0]) - q_minus - k
    e2 = 4 * np.pi * ALPHA_EM

    def dot(a, b):
        return a[0] * b[0] - a[1:] @ b[1:]

    legs = [(p_minus, +1), (p_plus, -1), (q_minus, -1), (q_plus, +1)]  # eta_i Q_i
    current_sq = sum(ci * cj * dot(pi, pj) / (dot(pi, k) * dot(pj, k)) for pi, ci in legs for pj, cj in legs)
    s, t = 2 * dot(p_minus, p_plus), -2 * dot(p_minus, q_minus)
    u = -s - t
    bhabha = 2 * e2**2 * (s**4 + t**4 + u**4) / (s**2 * t**2)
    ratio = matrix_element_squared_radiative_bhabha(p_minus, p_plus, q_minus, q_plus, k) / (-e2 * current_sq * bhabha)
    assert ratio == pytest.approx(1.0, rel=50 * e_soft / half)


def test_bhabha_limit_matches_textbook_small_angle():
    # the 2 -> 2 Bhabha |M|^2 used above at small angles: dsigma/dOmega -> 16 alpha^2 / (s theta^4),
    # the t-channel limit behind the luminosity-monitor formula sigma = (16 pi alpha^2 / s)
    # (1/theta_min^2 - 1/theta_max^2)
    s = SQRT_S**2
    theta = 0.01
    t = -s / 2 * (1 - np.cos(theta))
    u = -s - t
    e2 = 4 * np.pi * ALPHA_EM
    dsigma = 2 * e2**2 * (s**4 + t**4 + u**4) / (s**2 * t**2) / (64 * np.pi**2 * s)
    assert dsigma == pytest.approx(16 * ALPHA_EM**2 / (s * theta**4), rel=1e-3)


# W-coupled ALP: B -> K a (Izaguirre, Lin, Shuve) and the lifetime it implies

from analysis_lib.physics import alp_w  # noqa: E402


def test_b_to_k_alp_branching_check_value():
    # PHYSICS.md: B(B+ -> K+ a) = 2.0e-7 at g_aW = 1e-5 GeV^-1 and m_a = 1 GeV
    assert alp_w.b_to_k_alp_branching(1.0, 1e-5) == pytest.approx(2.0e-7, rel=0.03)
    # f(x_t) ~ 1.215 and f0(1 GeV^2) ~ 0.34 (PHYSICS.md)
    x_t = (mass_gev(6) / mass_gev(24)) ** 2
    assert alp_w.top_loop_function(x_t) == pytest.approx(1.215, abs=0.005)
    assert alp_w.b_to_k_scalar_form_factor(1.0) == pytest.approx(0.34, abs=0.005)
    # a light quark: f(x) -> x (charm negligible)
    assert alp_w.top_loop_function(1e-4) == pytest.approx(1e-4, rel=1e-2)


def test_b_to_k_alp_phase_space_is_the_two_body_momentum():
    # lambda^(1/2)(1, k, a) = 2 p* / m_B with p* from the energies of a two-body decay at rest
    m_b, m_k, m_a = mass_gev(521), mass_gev(321), 2.0
    e_k = (m_b**2 + m_k**2 - m_a**2) / (2 * m_b)
    p_star = np.sqrt(e_k**2 - m_k**2)
    assert np.sqrt(alp_w.kallen(1.0, (m_k / m_b) ** 2, (m_a / m_b) ** 2)) == pytest.approx(2 * p_star / m_b)
    # the width vanishes at threshold and scales as g_aW^2
    assert alp_w.b_to_k_alp_width_gev(m_b - m_k - 1e-12, 1e-5) < 1e-5 * alp_w.b_to_k_alp_width_gev(1.0, 1e-5)
    ratio = alp_w.b_to_k_alp_branching(2.0, 3e-5) / alp_w.b_to_k_alp_branching(2.0, 1e-5)
    assert ratio == pytest.approx(9.0)
    assert alp_w.g_aw_from_branching(alp_w.b_to_k_alp_branching(2.0, 4e-6), 2.0) == pytest.approx(4e-6)
    with pytest.raises(KinematicError, match="m_B - m_K"):
        alp_w.b_to_k_alp_branching(4.9, 1e-5)


def test_w_coupled_alp_lifetime():
    # g_agg = g_aW sin^2 theta_W, Gamma = g_agg^2 m^3 / (64 pi), c tau = hbar c / Gamma
    g_aw, m = 1e-5, 1.0
    width = (g_aw * SIN2_THETA_W) ** 2 * m**3 / (64 * np.pi)
    assert alp_w.ctau_from_g_aw_mm(m, g_aw) == pytest.approx(HBARC_GEV_MM / width)
    # metres at 0.2 GeV, sub-millimetre at 4.5 GeV for couplings near the limit (issue 5)
    assert alp_w.ctau_from_g_aw_mm(0.2, 1e-5) > 500
    assert alp_w.ctau_from_g_aw_mm(4.5, 1e-5) < 0.1
