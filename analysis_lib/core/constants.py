"""Physical constants and the conventions used everywhere in the book.

Conventions (stated once, used by every channel):

* Natural units, energies and masses in GeV, lengths in mm, cross sections in pb.
* The fine-structure constant is the Thomson-limit value alpha(0) = 1/137.035999084
  (CODATA 2018). On-shell real photons couple with alpha(0); using alpha(m_Z) instead would raise
  sigma(e+e- -> gamma a) by about 7%.
* sin^2 theta_W is the on-shell value 1 - m_W^2/m_Z^2 = 0.2233 (from the particle masses below),
  used where a coupling to W bosons is turned into a coupling to photons.
* Particle masses and widths come from the ``particle`` package (PDG tables shipped with it); the
  top-quark mass there is the directly measured ("pole-like") mass, used in loop functions.
* The Fermi constant and the CKM elements are PDG values (below).
"""

from __future__ import annotations

from hepunits import constants as _hep
from particle import Particle

__all__ = [
    "ALPHA_EM",
    "G_FERMI",
    "GEV2_TO_PB",
    "HBAR_GEV_S",
    "HBARC_GEV_MM",
    "SIN2_THETA_W",
    "V_TB_V_TS",
    "lifetime_s",
    "mass_gev",
    "width_gev",
]

#: alpha(0), CODATA 2018.
ALPHA_EM = 1.0 / 137.035999084

#: hbar c in GeV mm (hepunits: MeV mm).
HBARC_GEV_MM = _hep.hbarc / 1e3

#: hbar in GeV s (hepunits: MeV ns).
HBAR_GEV_S = _hep.hbar / 1e3 * 1e-9

#: Fermi constant in GeV^-2 (PDG 2024, from the muon lifetime).
G_FERMI = 1.1663788e-5

#: |V_tb V_ts*| from the magnitudes of the PDG 2024 global CKM fit, |V_tb| = 0.999118 and
#: |V_ts| = 0.04110 (review "CKM quark-mixing matrix").
V_TB_V_TS = 0.999118 * 0.04110

#: Conversion of a cross section from GeV^-2 to pb: (hbar c)^2 = 0.3893794 mb GeV^2.
GEV2_TO_PB = 0.3893793721e9


def mass_gev(pdgid: int) -> float:
    """Mass of a particle in GeV from the PDG table of the ``particle`` package.

    Parameters
    ----------
    pdgid : int
        PDG Monte Carlo identifier, e.g. 111 for the pi0.

    Examples
    --------
    >>> round(mass_gev(111), 6)
    0.134977
    """
    return Particle.from_pdgid(pdgid).mass / 1e3


def width_gev(pdgid: int) -> float:
    """Total width of a particle in GeV from the PDG table of the ``particle`` package.

    Examples
    --------
    >>> round(width_gev(111) * 1e9, 2)  # pi0 width in eV
    7.81
    """
    return Particle.from_pdgid(pdgid).width / 1e3


def lifetime_s(pdgid: int) -> float:
    """Mean lifetime of a particle in seconds from the PDG table of the ``particle`` package.

    Examples
    --------
    >>> round(lifetime_s(521) * 1e12, 3)  # B+ lifetime in ps
    1.637
    """
    return Particle.from_pdgid(pdgid).lifetime * 1e-9


#: On-shell weak mixing angle 1 - m_W^2/m_Z^2.
SIN2_THETA_W = 1.0 - (mass_gev(24) / mass_gev(23)) ** 2
