"""QED processes against independent numbers: e+e- -> gamma gamma, the three-photon and radiative
Bhabha matrix elements in their soft limits, symmetries, and the small-angle Bhabha limit."""

import numpy as np
import pytest
from scipy.integrate import quad

from analysis_lib.core.constants import ALPHA_EM
from analysis_lib.core.errors import ParameterError
from analysis_lib.physics.qed import (
    dsigma_dcostheta_gamma_gamma_pb,
    matrix_element_squared_radiative_bhabha,
    matrix_element_squared_three_photons,
    sigma_gamma_gamma_pb,
)

SQRT_S = 10.58


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
