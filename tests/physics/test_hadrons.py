"""Measured hadronic cross sections and radiative return: BaBar's six-pion table, and the radiative-return
density against the narrow-resonance formula."""

import numpy as np
import pytest

from analysis_lib.core.constants import GEV2_TO_PB
from analysis_lib.physics import darkonium, hadrons


def test_six_pion_cross_section_is_babars_table():
    assert hadrons.sigma_six_pions_nb(1.8375) == pytest.approx(1.44)  # the first maximum
    assert hadrons.sigma_six_pions_nb(2.0375) == pytest.approx(1.54)
    assert hadrons.sigma_six_pions_nb(1.85) == pytest.approx(0.5 * (1.44 + 1.35))  # linear between bins
    assert hadrons.sigma_six_pions_nb([1.0, 5.0]).tolist() == [0.0, 0.0]  # outside the measurement
    assert hadrons.six_pion_range_gev() == pytest.approx((1.3125, 4.4875))


def test_radiative_return_of_a_narrow_resonance():
    """The density (2 m / s) W sigma_X(m) integrated over a narrow Breit-Wigner, sigma_X = 12 pi Gamma_ee
    Gamma / ((m^2 - M^2)^2 + M^2 Gamma^2), is the narrow-width formula 12 pi^2 Gamma_ee W / (M s)."""
    mass, width, width_ee = 3.0, 0.001, 1e-6

    def breit_wigner(m):
        return 12 * np.pi * width_ee * width / ((m**2 - mass**2) ** 2 + mass**2 * width**2) * GEV2_TO_PB

    numeric = hadrons.sigma_isr_pb(breit_wigner, 10.58, (2.0, 4.0), points=2_000_001)
    # the Breit-Wigner's tails beyond +-1 GeV hold (2 / pi) (M Gamma / 2) / (M x 1 GeV)... of its area: 1e-3 / pi
    assert numeric == pytest.approx(darkonium.sigma_radiative_return_pb(mass, width_ee, 10.58), rel=2e-3)


def test_six_pions_with_an_initial_state_photon():
    """About 4 pb at 10.58 GeV (1.5 nb over 1.5 GeV of mass, times the radiator at x ~ 0.95), and more at
    lower sqrt(s) (the radiator grows as x falls: dsigma/dm ~ 1/s at fixed m)."""
    from analysis_lib.simulation.darkonium import sigma_isr_six_pions_pb

    sigma = sigma_isr_six_pions_pb(10.58)
    assert 3.0 < sigma < 6.0
    assert sigma_isr_six_pions_pb(10.0233) > sigma
