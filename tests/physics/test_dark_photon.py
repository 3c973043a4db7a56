"""The dark photon and dark Higgsstrahlung: the cross section against a hand computation and against
the numerical integral of the matrix element and of its angular distribution, and B(A' -> mu mu)
against the R table."""

from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from analysis_lib.core.constants import ALPHA_EM, GEV2_TO_PB
from analysis_lib.core.errors import KinematicError
from analysis_lib.core.kinematics import two_body_momentum
from analysis_lib.physics import dark_photon as dp

ROOT = Path(__file__).resolve().parent.parent.parent
SQRT_S = 10.58


def test_cross_section_by_hand():
    """M_A' = 5, M_h' = 1 GeV at sqrt(s) = 10.58 GeV, eps^2 alpha_D = 1, step by step: s = 111.9364,
    a = 25/s = 0.223341, h = 1/s = 0.0089336, lambda = (1 - a - h)^2 - 4 a h = 0.581421,
    sqrt(lambda) = 0.762510, lambda + 12 a = 3.261514, (1 - a)^2 = 0.603199,
    pi alpha / 3 s = 6.82689e-5 GeV^-2: sigma = 2.81466e-4 GeV^-2 = 1.09597e5 pb."""
    s = SQRT_S**2
    a, h = 25 / s, 1 / s
    lam = (1 - a - h) ** 2 - 4 * a * h
    by_hand = np.pi * ALPHA_EM / (3 * s) * np.sqrt(lam) * (lam + 12 * a) / (1 - a) ** 2 * GEV2_TO_PB
    assert by_hand == pytest.approx(1.09597e5, rel=1e-5)
    assert dp.sigma_dark_higgsstrahlung_pb(5.0, 1.0, SQRT_S) == pytest.approx(by_hand, rel=1e-12)
    assert dp.sigma_dark_higgsstrahlung_pb(5.0, 1.0, SQRT_S, eps2_alpha_d=1e-8) == pytest.approx(by_hand * 1e-8)


@pytest.mark.parametrize(("mass_a", "mass_h"), [(4.0, 0.1), (5.0, 1.0), (8.0, 2.0), (9.7, 0.5)])
def test_cross_section_is_the_integral_of_the_matrix_element_and_of_the_angular_distribution(mass_a, mass_h):
    """The formula of the physics reference against |M|^2 derived from the couplings, integrated
    over the A' direction: flux 1/2s, spin average 1/4, dPhi_2 = p / (4 pi sqrt(s)) dOmega / 4 pi."""
    s = SQRT_S**2
    p = float(two_body_momentum(SQRT_S, mass_a, mass_h))
    p1, p2 = np.array([SQRT_S / 2, 0, 0, SQRT_S / 2]), np.array([SQRT_S / 2, 0, 0, -SQRT_S / 2])

    def dsigma(c):
        k = np.array([np.hypot(p, mass_a), p * np.sqrt(1 - c * c), 0.0, p * c])
        me2 = dp.matrix_element_squared_dark_higgsstrahlung(p1, p2, k, mass_a)
        return me2 / 4 / (2 * s) * p / (4 * np.pi * SQRT_S) * 2 * np.pi / (4 * np.pi) * GEV2_TO_PB

    total = dp.sigma_dark_higgsstrahlung_pb(mass_a, mass_h, SQRT_S)
    assert quad(dsigma, -1, 1, epsrel=1e-10)[0] == pytest.approx(total, rel=1e-9)
    angular = quad(lambda c: dp.dsigma_dcos_dark_higgsstrahlung_pb(c, mass_a, mass_h, SQRT_S), -1, 1)[0]
    assert angular == pytest.approx(total, rel=1e-9)
    # and point by point: the angular distribution is the matrix element's
    for c in (-0.7, 0.0, 0.4):
        assert dp.dsigma_dcos_dark_higgsstrahlung_pb(c, mass_a, mass_h, SQRT_S) == pytest.approx(dsigma(c), rel=1e-9)


def test_cross_section_outside_the_kinematic_range():
    with pytest.raises(KinematicError, match="M_A' \\+ M_h' < sqrt"):
        dp.sigma_dark_higgsstrahlung_pb(8.0, 3.0, SQRT_S)


@pytest.mark.parametrize("mass", [1.0, 3.0, 6.0, 9.0])
def test_branching_fraction_against_the_r_table(mass):
    """B(A' -> mu mu) from the table's R at a few masses, computed here from the table's rows
    directly (nearest points, linear interpolation) and the lepton widths."""
    table = np.loadtxt(ROOT / "data" / "published" / "r_ratio_pdg2020.dat")
    table = table[np.argsort(table[:, 0])]
    r = np.interp(mass, table[:, 0], table[:, 1])
    def width(m_l):
        x = (m_l / mass) ** 2
        return (1 + 2 * x) * np.sqrt(1 - 4 * x) if x < 0.25 else 0.0
    leptons = [width(m) for m in (0.000511, 0.10566, 1.77686)]
    expected = leptons[1] / (sum(leptons) + r)
    assert dp.branching_fraction_mumu(mass) == pytest.approx(expected, rel=1e-3)
    # between the heavy-flavour thresholds R is 2-4: B(mu mu) is 15-30%
    assert 0.1 < dp.branching_fraction_mumu(mass) < 0.35
