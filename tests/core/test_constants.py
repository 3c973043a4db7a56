"""Physical constants: the stated conventions against independent values."""

import pytest

from analysis_lib.core.constants import ALPHA_EM, GEV2_TO_PB, HBARC_GEV_MM, SIN2_THETA_W, mass_gev, width_gev


def test_constants_are_the_stated_conventions():
    assert ALPHA_EM == pytest.approx(1 / 137.036, rel=1e-6)
    assert HBARC_GEV_MM == pytest.approx(1.97327e-13, rel=1e-5)
    assert GEV2_TO_PB == pytest.approx(0.3894e9, rel=1e-3)  # (hbar c)^2 = 0.3894 mb GeV^2
    assert SIN2_THETA_W == pytest.approx(0.2229, abs=2e-3)  # on-shell value, PHYSICS.md


def test_particle_masses_and_widths_are_the_pdg_values():
    # PDG 2024: m(B+) = 5279.41 MeV, m(K+) = 493.677 MeV, m(pi0) = 134.9768 MeV, Gamma(pi0) = 7.81 eV
    assert mass_gev(521) == pytest.approx(5.27941, abs=2e-4)
    assert mass_gev(321) == pytest.approx(0.493677, abs=1e-5)
    assert mass_gev(111) == pytest.approx(0.1349768, abs=1e-6)
    assert width_gev(111) == pytest.approx(7.81e-9, rel=0.02)
