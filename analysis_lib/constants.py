"""Physical constants and the conventions used everywhere in the book.

Conventions (stated once, used by every channel):

* Natural units, energies and masses in GeV, lengths in mm, cross sections in pb.
* The fine-structure constant is the Thomson-limit value alpha(0) = 1/137.035999084
  (CODATA 2018). On-shell real photons couple with alpha(0); using alpha(m_Z) instead would raise
  sigma(e+e- -> gamma a) by about 7%.
* sin^2 theta_W is the on-shell value 1 - m_W^2/m_Z^2 = 0.2233 (from the particle masses below),
  used where a coupling to W bosons is turned into a coupling to photons.
* Particle masses and widths come from the ``particle`` package (PDG tables shipped with it).
"""

from __future__ import annotations

from hepunits import constants as _hep
from particle import Particle

__all__ = [
    "ALPHA_EM",
    "GEV2_TO_PB",
    "HBARC_GEV_MM",
    "SIN2_THETA_W",
    "mass_gev",
    "width_gev",
]

#: alpha(0), CODATA 2018.
ALPHA_EM = 1.0 / 137.035999084

#: hbar c in GeV mm (hepunits: MeV mm).
HBARC_GEV_MM = _hep.hbarc / 1e3

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


#: On-shell weak mixing angle 1 - m_W^2/m_Z^2.
SIN2_THETA_W = 1.0 - (mass_gev(24) / mass_gev(23)) ** 2
