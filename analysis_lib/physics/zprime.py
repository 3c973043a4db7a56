"""The L_mu - L_tau gauge boson Z': decay widths, the invisible branching fraction and (g-2)_mu.

The Z' couples with strength g' (vector couplings) to the second- and third-generation leptons:
charge +1 for mu and nu_mu, -1 for tau and nu_tau, nothing else at tree level. Two decay
hypotheses, as in the Belle II search (arXiv:2212.03066):

* ``"neutrinos"``: the model as it stands, Z' -> nu nu invisible and Z' -> mu mu, tau tau visible
  where open;
* ``"dark_matter"``: a fully invisible Z' (decays to light dark matter dominate), B(invisible) = 1.

Widths are at tree level (the book's physics reference, PHYSICS.md section 4):
Gamma(Z' -> l l) = g'^2 M / (12 pi) (1 + 2 m_l^2 / M^2) sqrt(1 - 4 m_l^2 / M^2) and
Gamma(Z' -> nu nu) = g'^2 M / (24 pi) per flavour (left-handed neutrinos only: half a Dirac lepton).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import quad

from ..core.arrays import scalar_or_array
from ..core.constants import mass_gev
from ..core.errors import ParameterError

__all__ = [
    "DECAY_MODES",
    "DELTA_A_MU",
    "MUON_MASS_GEV",
    "TAU_MASS_GEV",
    "delta_a_mu",
    "g_minus_2_band",
    "invisible_branching_fraction",
    "width_to_leptons_gev",
    "width_to_neutrinos_gev",
    "widths_gev",
]

MUON_MASS_GEV = mass_gev(13)
TAU_MASS_GEV = mass_gev(15)

#: The two decay hypotheses of the search.
DECAY_MODES = ("neutrinos", "dark_matter")

#: The (g-2)_mu discrepancy the search compared with: Delta a_mu = a_mu(exp) - a_mu(SM)
#: = (251 +- 59) x 10^-11, the Fermilab Run-1 result combined with BNL E821 against the 2020 Theory
#: Initiative prediction (B. Abi et al., Phys. Rev. Lett. 126 (2021) 141801). Later lattice
#: determinations of the hadronic vacuum polarisation largely removed it: the band is historical.
DELTA_A_MU = (251e-11, 59e-11)


def _mass(mass_gev_z):
    m = np.asarray(mass_gev_z, dtype=float)
    if np.any(~np.isfinite(m)) or np.any(m <= 0):
        raise ParameterError(f"Z' mass {mass_gev_z!r} GeV must be positive and finite")
    return m


def width_to_leptons_gev(mass_gev_z, g, lepton_mass_gev):
    """Gamma(Z' -> l+ l-) in GeV for a vector coupling ``g``; zero below threshold.

    Gamma = g^2 M / (12 pi) (1 + 2 m_l^2 / M^2) sqrt(1 - 4 m_l^2 / M^2) (PHYSICS.md section 4; the
    standard width of a vector into a fermion pair).

    Examples
    --------
    >>> round(width_to_leptons_gev(1.0, 1.0, 0.0) * 12 * 3.141592653589793, 12)
    1.0
    """
    m = _mass(mass_gev_z)
    r = np.square(lepton_mass_gev / m)
    open_ = r < 0.25
    beta = np.sqrt(np.where(open_, 1 - 4 * r, 0.0))
    return scalar_or_array(np.where(open_, np.square(g) * m / (12 * np.pi) * (1 + 2 * r) * beta, 0.0))


def width_to_neutrinos_gev(mass_gev_z, g):
    """Gamma(Z' -> nu nubar) in GeV for one neutrino flavour: g^2 M / (24 pi) (PHYSICS.md section 4)."""
    m = _mass(mass_gev_z)
    return scalar_or_array(np.square(g) * m / (24 * np.pi))


def widths_gev(mass_gev_z, g=1.0) -> dict:
    """Partial widths (GeV) of the L_mu - L_tau Z' without dark matter: ``mumu``, ``tautau`` and
    ``nunu`` (nu_mu and nu_tau together); their sum is ``total``."""
    out = {
        "mumu": width_to_leptons_gev(mass_gev_z, g, MUON_MASS_GEV),
        "tautau": width_to_leptons_gev(mass_gev_z, g, TAU_MASS_GEV),
        "nunu": 2 * np.asarray(width_to_neutrinos_gev(mass_gev_z, g)),
    }
    out["total"] = out["mumu"] + out["tautau"] + out["nunu"]
    return {k: scalar_or_array(v) for k, v in out.items()}


def invisible_branching_fraction(mass_gev_z, decay: str = "neutrinos"):
    """B(Z' -> invisible): the neutrino share of the width (``"neutrinos"``, 1 below the muon
    threshold, 1/3 well above the tau threshold), or 1 (``"dark_matter"``). Independent of g'.

    Examples
    --------
    >>> round(invisible_branching_fraction(0.1), 3), round(invisible_branching_fraction(100.0), 3)
    (1.0, 0.333)
    """
    if decay not in DECAY_MODES:
        raise ParameterError(f"decay {decay!r} is not one of {DECAY_MODES}")
    if decay == "dark_matter":
        return scalar_or_array(np.ones_like(_mass(mass_gev_z)))
    w = widths_gev(mass_gev_z)
    return scalar_or_array(np.asarray(w["nunu"]) / np.asarray(w["total"]))


def _a_mu_integral(ratio2):
    """int_0^1 dx x^2 (1 - x) / (x^2 + (1 - x) ratio2), ratio2 = M^2 / m_mu^2."""
    value, _ = quad(lambda x: x * x * (1 - x) / (x * x + (1 - x) * ratio2), 0.0, 1.0, epsabs=0, epsrel=1e-10)
    return value


def delta_a_mu(mass_gev_z, g):
    """One-loop contribution of a vector with coupling ``g`` to the muon to a_mu = (g-2)_mu / 2:
    (g^2 / 4 pi^2) int_0^1 dx x^2 (1 - x) / (x^2 + (1 - x) M^2 / m_mu^2) (PHYSICS.md section 4; the
    standard one-loop vector result, e.g. Jegerlehner and Nyffeler, Phys. Rept. 477 (2009) 1). For
    M >> m_mu it tends to g^2 m_mu^2 / (12 pi^2 M^2); for M -> 0 to g^2 / (8 pi^2) = alpha' / (2 pi).

    Examples
    --------
    >>> round(delta_a_mu(1e-9, 1.0) * 8 * 3.141592653589793**2, 6)
    1.0
    """
    m = _mass(mass_gev_z)
    integral = np.vectorize(_a_mu_integral)(np.square(m / MUON_MASS_GEV))
    return scalar_or_array(np.square(g) / (4 * np.pi**2) * integral)


def g_minus_2_band(masses_gev, *, n_sigma: float = 2.0):
    """Couplings g' that explain the (g-2)_mu discrepancy :data:`DELTA_A_MU` at each mass: the
    central value and the range for Delta a_mu within ``n_sigma`` (2 by default) standard
    deviations. Returns (central, low, high) arrays; Delta a_mu is proportional to g'^2."""
    per_g2 = np.asarray(delta_a_mu(masses_gev, 1.0))
    centre, sigma = DELTA_A_MU
    return (np.sqrt(centre / per_g2), np.sqrt(max(centre - n_sigma * sigma, 0.0) / per_g2),
            np.sqrt((centre + n_sigma * sigma) / per_g2))
