"""The photophilic ALP: cross section, width, lifetime and decay length against published values and
numerical integrals."""

import numpy as np
import pytest
from scipy.integrate import quad

from analysis_lib.core.constants import ALPHA_EM, HBARC_GEV_MM, mass_gev, width_gev
from analysis_lib.core.errors import KinematicError, ParameterError
from analysis_lib.physics.alp import (
    alp_ctau_mm,
    alp_decay_length_mm,
    alp_width_gamma_gamma_gev,
    coupling_from_cross_section,
    dsigma_dcostheta_pb,
    sigma_ee_to_gamma_alp_pb,
)

SQRT_S = 10.58


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
