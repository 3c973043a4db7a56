"""B-mesogenesis: B0 -> Lambda psi_D, a visible baryon and a dark antibaryon.

The model (G. Elor, M. Escudero, A. E. Nelson, "Baryogenesis and dark matter from B mesons",
Phys. Rev. D 99 (2019) 035031, arXiv:1810.00880): B mesons produced late in the early universe,
out of equilibrium, oscillate with CP violation (B0-B0bar mixing) and decay through a heavy coloured
mediator to a visible baryon and a dark-sector antibaryon psi_D, which carries the baryon number the
visible sector lacks; the dark antibaryons are the dark matter. The matter asymmetry comes out right
when the inclusive branching fraction B(B -> psi_D + baryon + X) is of order 1e-4 or more (the talks on
the model quote "> 1e-4"), within reach of the B factories. The exclusive B0 -> Lambda psi_D is one of
the decays it predicts, with the branching fraction a free parameter.

The mass of psi_D is bounded below by the stability of the proton (p -> psi_D e+ nu is open when
m_psi < m_p - m_e) and, for this decay, above by kinematics: m_B0 - m_Lambda. Charge conjugates are
included: B0 -> Lambda psi_D and B0bar -> Lambda-bar psi_D-bar are both signal, and the analysis uses
no flavour (B0-B0bar mixing leaves the two B's flavours only partly correlated, the time-integrated
probability of equal flavours being chi_d = 0.19).

Masses and the Lambda lifetime come from the ``particle`` package's PDG table (the edition of
:mod:`analysis_lib.core.constants`: tau(Lambda) = 2.617e-10 s, c tau = 78.5 mm); the branching
fraction B(Lambda -> p pi-) = (64.1 +- 0.5)% is the PDG's of the same edition (pdgLive, the Lambda
listing with that lifetime).
"""

from __future__ import annotations

import numpy as np

from ..core.constants import HBAR_GEV_S, HBARC_GEV_MM, lifetime_s, mass_gev
from ..core.errors import KinematicError
from ..core.kinematics import two_body_momentum

__all__ = [
    "B_ZERO", "LAMBDA", "LAMBDA_TO_P_PI", "LAMBDA_TO_P_PI_UNCERTAINTY", "PROTON", "lambda_ctau_mm",
    "lambda_momentum_gev", "lambda_survival", "psi_mass_range_gev",
]

#: PDG ids of the B0, the Lambda and the proton.
B_ZERO, LAMBDA, PROTON = 511, 3122, 2212
#: B(Lambda -> p pi-) and its uncertainty (PDG, pdgLive Lambda listing: 64.1 +- 0.5%).
LAMBDA_TO_P_PI = 0.641
LAMBDA_TO_P_PI_UNCERTAINTY = 0.005


def psi_mass_range_gev() -> tuple[float, float]:
    """The masses psi_D may have in B0 -> Lambda psi_D: from m_p - m_e (below it the proton would
    decay to psi_D e+ nu; Elor, Escudero, Nelson, arXiv:1810.00880) to m_B0 - m_Lambda (kinematics),
    0.938 to 4.164 GeV."""
    return mass_gev(PROTON) - mass_gev(11), mass_gev(B_ZERO) - mass_gev(LAMBDA)


def lambda_momentum_gev(mass_psi_gev):
    """Momentum of the Lambda in the rest frame of the signal B0 for B0 -> Lambda psi_D (GeV): the
    two-body momentum p* = sqrt[(m_B^2 - (m_L + m_psi)^2)(m_B^2 - (m_L - m_psi)^2)] / (2 m_B) (the
    standard two-body kinematics, PDG review "Kinematics", section on two-body decays), fixed by
    m_psi: the peak the analysis looks for."""
    m = np.asarray(mass_psi_gev, dtype=float)
    low, high = psi_mass_range_gev()
    if np.any(~np.isfinite(m)) or np.any(m < 0) or np.any(m > high):
        raise KinematicError(f"m_psi = {mass_psi_gev!r} GeV is outside 0 <= m <= m_B0 - m_Lambda = {high:.4f} GeV; "
                             "choose a mass inside it")
    return two_body_momentum(mass_gev(B_ZERO), mass_gev(LAMBDA), m)


def lambda_ctau_mm() -> float:
    """c tau of the Lambda in mm (the lifetime of the ``particle`` package's PDG table)."""
    speed_of_light_mm_s = HBARC_GEV_MM / HBAR_GEV_S
    return lifetime_s(LAMBDA) * speed_of_light_mm_s


def lambda_survival(length_mm, momentum_gev):
    """Probability that a Lambda of lab momentum ``momentum_gev`` flies farther than ``length_mm``
    before it decays: exp(-L / (beta gamma c tau)), beta gamma = p / m (the exponential decay law)."""
    beta_gamma = np.asarray(momentum_gev, dtype=float) / mass_gev(LAMBDA)
    return np.exp(-np.asarray(length_mm, dtype=float) / (beta_gamma * lambda_ctau_mm()))
