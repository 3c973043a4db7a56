"""Measured hadronic cross sections and their production with initial-state radiation.

* :func:`sigma_six_pions_nb`: sigma(e+e- -> 3(pi+ pi-)) from BaBar's measurement (Phys. Rev. D 73 (2006)
  052003, hep-ex/0602006; the table of ``data/published/babar_2006_6pi_cross_section_nb.dat``, with its
  provenance), linear between the 25 MeV bins' centres and zero outside the measured range.
* :func:`isr_mass_density_pb`, :func:`sigma_isr_pb`: radiative return, e+e- -> gamma X with the photon
  at any angle, from the cross section sigma_X(m) of e+e- -> X at the lower energy m: the cross section
  per unit of x = 2 E_gamma / sqrt(s) is W(s, x) sigma_X(sqrt(s (1 - x))) with the radiator W of
  :func:`analysis_lib.physics.darkonium.radiator` (the same lowest-order form), so per unit of m,
  dsigma/dm = (2 m / s) W(s, 1 - m^2 / s) sigma_X(m) (derived: x = 1 - m^2 / s). For a narrow resonance
  it is the narrow-width formula :func:`~analysis_lib.physics.darkonium.sigma_radiative_return_pb` (the
  tests check it).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..core.errors import KinematicError, ParameterError
from ..core.paths import PUBLISHED_DIR
from .darkonium import radiator

__all__ = ["SIX_PION_TABLE", "isr_mass_density_pb", "sigma_isr_pb", "sigma_six_pions_nb", "six_pion_range_gev"]

#: BaBar's e+e- -> 3(pi+ pi-) cross section (see the file's header).
SIX_PION_TABLE = "babar_2006_6pi_cross_section_nb.dat"


@cache
def _six_pion_table():
    table = np.loadtxt(PUBLISHED_DIR / SIX_PION_TABLE)
    return table[:, 0], np.clip(table[:, 1], 0.0, None)


def six_pion_range_gev() -> tuple[float, float]:
    """The energies (GeV) between which BaBar's table holds the cross section (first and last bin centres)."""
    energy, _ = _six_pion_table()
    return float(energy[0]), float(energy[-1])


def sigma_six_pions_nb(sqrt_s_gev):
    """sigma(e+e- -> 3(pi+ pi-)) in nb at ``sqrt_s_gev`` (BaBar 2006, the module docstring): linear between
    the measured bins' centres, zero outside their range (below 1.31 GeV it is below 0.01 nb; above 4.49
    GeV not measured).

    Examples
    --------
    >>> round(float(sigma_six_pions_nb(1.8375)), 2)  # the first maximum
    1.44
    """
    energy, sigma = _six_pion_table()
    e = np.asarray(sqrt_s_gev, dtype=float)
    return np.interp(e, energy, sigma, left=0.0, right=0.0)


def isr_mass_density_pb(mass_gev, sqrt_s_gev, sigma_pb):
    """dsigma(e+e- -> gamma X)/dm in pb per GeV at the masses ``mass_gev`` of X, for the cross section
    ``sigma_pb`` (pb) of e+e- -> X at those masses (arrays alike): (2 m / s) W(s, 1 - m^2 / s) sigma_X(m)
    (the module docstring), the photon at any angle."""
    m = np.asarray(mass_gev, dtype=float)
    s = float(sqrt_s_gev) ** 2
    bad = (m <= 0) | (m >= np.sqrt(s))
    if np.any(bad):
        raise KinematicError(f"the mass of X {float(np.atleast_1d(m)[np.atleast_1d(bad)][0])!r} GeV is outside "
                             f"(0, sqrt(s) = {np.sqrt(s):.4g} GeV): radiative return makes X below sqrt(s)")
    return 2 * m / s * np.asarray(radiator(1 - m**2 / s, np.sqrt(s))) * np.asarray(sigma_pb, dtype=float)


def sigma_isr_pb(sigma_pb_of_mass, sqrt_s_gev, mass_range_gev, *, points: int = 4001) -> float:
    """sigma(e+e- -> gamma X) in pb with X of mass in ``mass_range_gev``: the integral of
    :func:`isr_mass_density_pb` with ``sigma_pb_of_mass(m)`` (pb), by the trapezoidal rule on ``points``
    masses."""
    low, high = (float(v) for v in mass_range_gev)
    if not (isinstance(points, int) and points >= 3):
        raise ParameterError(f"points={points!r} must be an integer >= 3")
    if not 0 < low < high < float(sqrt_s_gev):
        raise ParameterError(f"mass_range_gev={mass_range_gev!r} must satisfy 0 < low < high < sqrt(s) = {sqrt_s_gev}")
    m = np.linspace(low, high, points)
    return float(np.trapezoid(isr_mass_density_pb(m, sqrt_s_gev, sigma_pb_of_mass(m)), m))
