"""The W-coupled ALP: B -> K a (Izaguirre, Lin, Shuve) and the lifetime it implies, against the
check values of the physics reference and hand computations."""

import numpy as np
import pytest

from analysis_lib.core.constants import HBARC_GEV_MM, SIN2_THETA_W, mass_gev
from analysis_lib.core.errors import KinematicError
from analysis_lib.physics import alp_w


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
