"""B0 -> Lambda psi_D: the mass range, the Lambda momentum and the Lambda's decay length."""

import numpy as np
import pytest

from analysis_lib.core.errors import KinematicError
from analysis_lib.physics import mesogenesis


def test_mass_range_from_proton_stability_to_kinematics():
    low, high = mesogenesis.psi_mass_range_gev()
    # m_p - m_e = 938.272 - 0.511 MeV; m_B0 - m_Lambda = 5279.72 - 1115.683 MeV (PDG)
    assert low == pytest.approx(0.93776, abs=2e-5)
    assert high == pytest.approx(4.16404, abs=2e-4)


@pytest.mark.parametrize("m_psi", [0.94, 1.5, 2.5, 3.5, 4.1])
def test_lambda_momentum_conserves_energy(m_psi):
    p = float(mesogenesis.lambda_momentum_gev(m_psi))
    m_b, m_lambda = 5.27972, 1.115683
    assert np.hypot(p, m_lambda) + np.hypot(p, m_psi) == pytest.approx(m_b, rel=2e-5)


def test_lambda_momentum_at_the_ends_of_the_range():
    # m_psi = 0: p = (m_B^2 - m_L^2) / (2 m_B) = (27.8754 - 1.2447) / 10.5594 = 2.5219 GeV
    assert float(mesogenesis.lambda_momentum_gev(0.0)) == pytest.approx(2.5219, abs=2e-4)
    assert float(mesogenesis.lambda_momentum_gev(mesogenesis.psi_mass_range_gev()[1])) == pytest.approx(0.0, abs=1e-6)
    # heavier psi_D, slower Lambda
    p = mesogenesis.lambda_momentum_gev(np.linspace(1.0, 4.0, 7))
    assert np.all(np.diff(p) < 0)
    with pytest.raises(KinematicError, match="m_B0 - m_Lambda"):
        mesogenesis.lambda_momentum_gev(4.2)
    with pytest.raises(KinematicError):
        mesogenesis.lambda_momentum_gev(float("nan"))


def test_lambda_decay_length():
    # tau = 2.617e-10 s (PDG) times c = 2.99792458e11 mm/s
    assert mesogenesis.lambda_ctau_mm() == pytest.approx(78.456, rel=1e-3)
    # a 2 GeV Lambda: beta gamma c tau = (2 / 1.115683) x 78.456 mm = 140.6 mm
    assert float(mesogenesis.lambda_survival(140.64, 2.0)) == pytest.approx(np.exp(-1), rel=1e-3)
