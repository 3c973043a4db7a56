"""Photon conversions to e+e- pairs: in the detector's material, and a virtual photon's own pair.

A photon made in the collision can give a pair of tracks in two ways, both of which imitate a light
particle decaying to e+e- (a dark photon, say) when the pair is reconstructed:

* **external conversion**: the photon converts in the beam pipe or a tracker layer (the Bethe-Heitler
  process on the material's nuclei and electrons). At the photon energies of a B factory the
  high-energy limit holds to a few per cent above about 1 GeV for heavy materials (less well below it,
  and for the light ones of beam pipes and silicon layers, where it is a model): the probability
  to convert in a layer of t radiation lengths is 1 - exp(-7t/9), and the positron's energy fraction x
  follows (1 - 4x(1 - x)/3) (the complete-screening limit);
* **internal conversion**: a virtual photon of mass m is radiated instead of a real one and decays to
  a lepton pair. In the limit where m is small next to every other scale of the process, the rate of
  pairs of mass m is the rate of real photons times
  dP/dm = (2 alpha / 3 pi m) (1 + 2 m_l^2 / m^2) sqrt(1 - 4 m_l^2 / m^2)
  (N. M. Kroll and W. Wada, Phys. Rev. 98 (1955) 1355, there for pi0 -> gamma e+e-, whose extra factor
  (1 - m^2 / m_pi0^2)^3, one power from the phase space and two from the matrix element, goes to 1 in
  that limit; counting both photons of the pi0 the formula gives B(e+e- gamma) / B(gamma gamma) = 1.185%,
  which the tests compare with the measured ratio).

The pair-production formulas are those of the Review of Particle Physics (R. L. Workman et al.
(Particle Data Group), Prog. Theor. Exp. Phys. 2022 083C01), section "Passage of particles through
matter", pair production by photons (Y.-S. Tsai, Rev. Mod. Phys. 46 (1974) 815);
the integrals and the sampling below are derived here.
"""

from __future__ import annotations

import numpy as np

from ..core.arrays import scalar_or_array
from ..core.constants import ALPHA_EM, mass_gev
from ..core.errors import ParameterError

__all__ = [
    "PAIR_PRODUCTION_FACTOR",
    "conversion_probability",
    "energy_fraction_density",
    "internal_conversion_density",
    "internal_conversion_probability",
    "sample_energy_fraction",
    "sample_internal_conversion_mass",
]

#: The high-energy pair-production cross section is this factor times A / (X0 N_A): a photon converts
#: after 9/7 radiation lengths on average (RPP, passage of particles through matter).
PAIR_PRODUCTION_FACTOR = 7.0 / 9.0


def conversion_probability(thickness_x0, *, sin_theta=1.0):
    """Probability that a photon converts in a cylindrical layer ``thickness_x0`` radiation lengths
    thick at normal incidence, crossed at polar angle theta (``sin_theta``, 1 by default: normal
    incidence; path t / sin theta): 1 - exp(-7 t / 9 sin theta). High-energy limit (see the module
    docstring).

    Examples
    --------
    >>> round(conversion_probability(0.01), 5)
    0.00775
    """
    t = np.asarray(thickness_x0, dtype=float)
    s = np.asarray(sin_theta, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ParameterError(f"thickness_x0={thickness_x0!r}: radiation lengths must be finite and >= 0")
    if np.any(~np.isfinite(s)) or np.any(s <= 0) or np.any(s > 1):
        raise ParameterError(f"sin_theta={sin_theta!r} must be in (0, 1]")
    return scalar_or_array(-np.expm1(-PAIR_PRODUCTION_FACTOR * t / s))


def energy_fraction_density(x):
    """Probability density of the energy fraction x = E+/E_gamma of the positron of a conversion,
    (9/7)(1 - 4x(1 - x)/3) on [0, 1] (complete screening; its integral, 7/9 before normalisation, is
    the factor of :data:`PAIR_PRODUCTION_FACTOR`). Zero outside [0, 1]."""
    x = np.asarray(x, dtype=float)
    inside = (x >= 0) & (x <= 1)
    return scalar_or_array(np.where(inside, (1 - 4.0 / 3.0 * x * (1 - x)) / PAIR_PRODUCTION_FACTOR, 0.0))


def sample_energy_fraction(rng, n: int) -> np.ndarray:
    """``n`` positron energy fractions from :func:`energy_fraction_density`, by rejection from the
    uniform distribution (the density is at most 9/7 at x = 0 and 1 and at least 6/7 at x = 1/2, so
    two thirds of the proposals or more are kept)."""
    out = np.empty(0)
    while len(out) < n:
        x = rng.random(2 * (n - len(out)) + 16)
        keep = rng.random(len(x)) < 1 - 4.0 / 3.0 * x * (1 - x)
        out = np.concatenate([out, x[keep]])
    return out[:n]


def _check_lepton(lepton_pdgid):
    if abs(int(lepton_pdgid)) not in (11, 13):
        raise ParameterError(f"lepton_pdgid={lepton_pdgid!r}: internal conversions to e+e- (11) or mu+mu- (13)")
    return mass_gev(abs(int(lepton_pdgid)))


def internal_conversion_density(mass_gev, *, lepton_pdgid: int = 11):
    """dP/dm (per GeV) of a lepton pair of mass ``mass_gev`` in place of a real photon (Kroll-Wada, see
    the module docstring), the pair e+e- (``lepton_pdgid`` 11, the default) or mu+mu- (13); 0 below
    the pair threshold."""
    m_l = _check_lepton(lepton_pdgid)
    m = np.asarray(mass_gev, dtype=float)
    r = np.where(m > 2 * m_l, (m_l / np.maximum(m, 1e-300)) ** 2, 0.25)
    value = 2 * ALPHA_EM / (3 * np.pi * np.maximum(m, 1e-300)) * (1 + 2 * r) * np.sqrt(np.clip(1 - 4 * r, 0, None))
    return scalar_or_array(np.where(m > 2 * m_l, value, 0.0))


def _primitive(mass, m_l):
    """The integral of :func:`internal_conversion_density` from threshold to ``mass`` (derived here: with
    y = sqrt(1 - 4 m_l^2 / m^2) the density becomes (alpha / 3 pi)(y^2 - 2 + 2 / (1 - y^2)) dy, whose
    integral is (alpha / 3 pi)(y^3 / 3 - 2 y + ln((1 + y) / (1 - y))))."""
    m = np.asarray(mass, dtype=float)
    y = np.sqrt(np.clip(1 - 4 * (m_l / np.maximum(m, 2 * m_l)) ** 2, 0, 1))
    # ln((1 + y)/(1 - y)) = 2 atanh(y), and 1 - y = 4 m_l^2 / (m^2 (1 + y)) keeps it exact near y = 1
    log_term = np.log1p(y) - np.log(4 * m_l**2 / (np.maximum(m, 2 * m_l) ** 2 * (1 + y)))
    return ALPHA_EM / (3 * np.pi) * (y**3 / 3 - 2 * y + log_term)


def internal_conversion_probability(mass_min_gev, mass_max_gev, *, lepton_pdgid: int = 11):
    """Probability that a photon is replaced by a lepton pair (e+e- by default, see
    :func:`internal_conversion_density`) with mass between ``mass_min_gev`` and ``mass_max_gev``, the
    integral of :func:`internal_conversion_density` (closed form, see :func:`_primitive`).

    Examples
    --------
    >>> round(internal_conversion_probability(0.02, 1.0), 5)  # an e+e- pair of 20 MeV to 1 GeV
    0.00606
    """
    m_l = _check_lepton(lepton_pdgid)
    low, high = np.asarray(mass_min_gev, dtype=float), np.asarray(mass_max_gev, dtype=float)
    if np.any(~np.isfinite(low)) or np.any(~np.isfinite(high)) or np.any(high < low) or np.any(low < 0):
        raise ParameterError(f"mass range {mass_min_gev!r}-{mass_max_gev!r} GeV must be finite, >= 0 and ordered")
    return scalar_or_array(_primitive(high, m_l) - _primitive(low, m_l))


def sample_internal_conversion_mass(rng, n: int, mass_min_gev: float, mass_max_gev: float, *, lepton_pdgid: int = 11):
    """``n`` pair masses (GeV) between ``mass_min_gev`` and ``mass_max_gev`` (a number, or one upper
    bound per mass, shape (n,)) from :func:`internal_conversion_density` (e+e- by default), by
    inverting its closed-form integral on a logarithmic grid."""
    m_l = _check_lepton(lepton_pdgid)
    low = max(float(mass_min_gev), 2 * m_l * (1 + 1e-12))
    high = np.broadcast_to(np.asarray(mass_max_gev, dtype=float), (n,))
    if not (np.isfinite(low) and np.all(np.isfinite(high)) and np.all(high > low)):
        raise ParameterError(f"mass range {mass_min_gev!r}-{mass_max_gev!r} GeV is empty above the pair threshold "
                             f"{2 * m_l:.4g} GeV")
    grid = np.geomspace(low, float(high.max(initial=2 * low)), 6001)
    cdf = _primitive(grid, m_l) - _primitive(low, m_l)
    return np.interp(rng.random(n) * (_primitive(high, m_l) - _primitive(low, m_l)), cdf, grid)
