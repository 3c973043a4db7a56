"""Darkonium: the vector bound state Upsilon_D of a dark fermion chi and its antiparticle.

The model of H. An, B. Echenard, M. Pospelov, Y. Zhang, Phys. Rev. Lett. 116 (2016) 151801
(arXiv:1510.05020), searched for by BaBar (Phys. Rev. Lett. 128 (2022) 021802, arXiv:2106.08529):
a Dirac fermion chi of mass m_chi couples with alpha_D = g_D^2 / 4 pi to a dark photon A' of mass
m_A', which mixes kinetically with the photon (strength epsilon, :mod:`analysis_lib.physics.dark_photon`).
When the A' is light enough, chi chi-bar binds like positronium; its J^PC = 1-- state Upsilon_D (the
ortho-positronium analogue) is made in e+e- -> gamma Upsilon_D through the mixing and decays to three
A' (the analogue of o-Ps -> 3 gamma), each A' to a visible pair.

The bodies of the two papers could not be reached here, so every rate below is derived from the
positronium analogue and standard radiative return, and says so; the tests compare each with an
independent number. Conventions, used by every function:

* Masses in GeV; ``chi_mass`` is m_chi, ``darkonium_mass`` is M(Upsilon_D).
* Coulomb limit: the bound state's wave function is hydrogen-like with reduced mass m_chi / 2 and
  Bohr radius a = 2 / (alpha_D m_chi), so |psi(0)|^2 = 1 / (pi a^3) = (alpha_D m_chi)^3 / (8 pi). This
  holds for m_A' well below the inverse Bohr radius; nearer to the edge of binding
  (:func:`bound_state_exists`) the A' exchange is screened and the widths are overestimated.
* The mass of Upsilon_D is M = 2 m_chi - E_B with the Coulomb binding energy E_B = alpha_D^2 m_chi / 4
  (:func:`darkonium_mass_gev`; derived); the widths use M = 2 m_chi at their leading order.
* The three A' are treated as massless in the 3-body width (the o-Ps formula): the phase space of
  massive A' (M >= 3 m_A') lowers it, which only matters for the branching fraction, and
  Gamma(3 A') dominates the total width by a factor of order alpha_D^2 / (alpha epsilon^2).
* The fine-structure constant is alpha(0) (:mod:`analysis_lib.core.constants`), the electron mass
  from ``particle``.
"""

from __future__ import annotations

import numpy as np

from ..core.arrays import scalar_or_array
from ..core.constants import ALPHA_EM, GEV2_TO_PB, mass_gev
from ..core.errors import KinematicError, ParameterError
from .dark_photon import total_width_gev, width_to_leptons_gev

__all__ = [
    "YUKAWA_CRITICAL_SCREENING",
    "bound_state_exists",
    "chi_mass_gev",
    "darkonium_mass_gev",
    "dradiator_dcos",
    "radiator",
    "radiator_in_angle",
    "sigma_gamma_darkonium_pb",
    "sigma_radiative_return_pb",
    "wave_function_at_origin_squared",
    "width_three_dark_photons_gev",
    "width_to_electrons_gev",
    "width_to_standard_model_gev",
]

_ELECTRON = mass_gev(11)

#: The critical screening of the Yukawa potential V(r) = -alpha exp(-m r) / r: its ground state is bound
#: only for m < 1.19061 alpha mu (mu the reduced mass), F. J. Rogers, H. C. Graboske, D. J. Harwood,
#: Phys. Rev. A 1 (1970) 1577 (the value of that paper as quoted in the later literature; the tests
#: find the edge independently by solving the radial Schroedinger equation numerically).
YUKAWA_CRITICAL_SCREENING = 1.19061


def _positive(name, value):
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ParameterError(f"{name}={value!r} must be finite and positive")
    return array


def _coupling(alpha_d):
    array = _positive("alpha_d", alpha_d)
    if np.any(array >= 1):
        raise ParameterError(f"alpha_d={alpha_d!r} must lie below 1 (a perturbative dark coupling), e.g. 0.1-0.5")
    return array


def darkonium_mass_gev(chi_mass, alpha_d):
    """M(Upsilon_D) = 2 m_chi - alpha_D^2 m_chi / 4 in GeV: twice the fermion mass less the Coulomb
    binding energy of reduced mass m_chi / 2 (derived from the hydrogen atom, E_B = alpha^2 mu / 2).

    Examples
    --------
    >>> round(darkonium_mass_gev(1.0, 0.5), 4)
    1.9375
    """
    m_chi, alpha = _positive("chi_mass", chi_mass), _coupling(alpha_d)
    return scalar_or_array(m_chi * (2 - alpha**2 / 4))


def chi_mass_gev(darkonium_mass, alpha_d):
    """m_chi of a darkonium of mass M: the inverse of :func:`darkonium_mass_gev`, M / (2 - alpha_D^2 / 4)."""
    mass, alpha = _positive("darkonium_mass", darkonium_mass), _coupling(alpha_d)
    return scalar_or_array(mass / (2 - alpha**2 / 4))


def bound_state_exists(dark_photon_mass_gev, chi_mass, alpha_d):
    """Whether the A' exchange binds chi chi-bar at all: the Yukawa potential -alpha_D exp(-m_A' r) / r
    with reduced mass m_chi / 2 has a bound ground state only for
    m_A' < :data:`YUKAWA_CRITICAL_SCREENING` alpha_D m_chi / 2 (the chapter's condition for a
    darkonium to exist; near the edge the Coulomb-limit rates of this module overestimate the widths)."""
    m_a = _positive("dark_photon_mass_gev", dark_photon_mass_gev)
    m_chi, alpha = _positive("chi_mass", chi_mass), _coupling(alpha_d)
    binds = np.asarray(m_a < YUKAWA_CRITICAL_SCREENING * alpha * m_chi / 2)
    return bool(binds) if binds.ndim == 0 else binds


def wave_function_at_origin_squared(chi_mass, alpha_d):
    """|psi(0)|^2 = (alpha_D m_chi)^3 / (8 pi) in GeV^3: the hydrogen-like ground state with reduced
    mass m_chi / 2 (|psi(0)|^2 = 1 / (pi a^3), a = 1 / (alpha_D mu))."""
    m_chi, alpha = _positive("chi_mass", chi_mass), _coupling(alpha_d)
    return scalar_or_array((alpha * m_chi) ** 3 / (8 * np.pi))


def width_three_dark_photons_gev(chi_mass, alpha_d):
    """Gamma(Upsilon_D -> A' A' A') = 2 (pi^2 - 9) / (9 pi) alpha_D^6 m_chi in GeV: the lowest-order
    ortho-positronium rate Gamma(o-Ps -> 3 gamma) of A. Ore and J. L. Powell, Phys. Rev. 75 (1949) 1696,
    with alpha -> alpha_D and m_e -> m_chi (massless A'; see the module docstring). Derived by analogy,
    as the physics reference of the book states it; the paper's own equation was not seen.

    Examples
    --------
    >>> f"{width_three_dark_photons_gev(1.0, 0.3):.4e}"
    '4.4842e-05'
    """
    m_chi, alpha = _positive("chi_mass", chi_mass), _coupling(alpha_d)
    return scalar_or_array(2 * (np.pi**2 - 9) / (9 * np.pi) * alpha**6 * m_chi)


def width_to_electrons_gev(chi_mass, alpha_d, epsilon, dark_photon_mass_gev):
    """Gamma(Upsilon_D -> e+ e-) in GeV: the Van Royen-Weisskopf width of a vector bound state of a
    colourless fermion pair, 16 pi alpha^2 |psi(0)|^2 / (3 M^2) (R. Van Royen, V. F. Weisskopf, Nuovo
    Cimento A 50 (1967) 617; the quarkonium form 16 pi alpha^2 e_q^2 |psi(0)|^2 / M^2 holds the colour
    factor 3), with the photon's coupling e to the bound fermions replaced by the A' exchange:
    e^2 -> e epsilon g_D [M^2 / (M^2 - m_A'^2)] (the A' propagator at q^2 = M^2 relative to the photon's).
    With |psi(0)|^2 of :func:`wave_function_at_origin_squared` and M = 2 m_chi:

        Gamma_ee = (alpha alpha_D^4 epsilon^2 m_chi / 6) [M^2 / (M^2 - m_A'^2)]^2

    (derived). The book's physics reference writes m_chi / 2, marked unchecked: that is the colour
    factor of quarkonium, three times too large for a colourless pair (the tests compare the form here
    with the width of true muonium, (mu+ mu-) -> e+ e-, alpha^5 m_mu / 6). The electron mass is
    neglected."""
    m_chi, alpha = _positive("chi_mass", chi_mass), _coupling(alpha_d)
    eps = _positive("epsilon", epsilon)
    m_a = _positive("dark_photon_mass_gev", dark_photon_mass_gev)
    m2 = (2 * m_chi) ** 2
    if np.any(m_a**2 >= m2):
        raise KinematicError(f"dark photon mass {dark_photon_mass_gev!r} GeV must lie below 2 m_chi = "
                             f"{float(np.min(2 * m_chi)):.4g} GeV")
    return scalar_or_array(ALPHA_EM * alpha**4 * eps**2 * m_chi / 6 * (m2 / (m2 - m_a**2)) ** 2)


def width_to_standard_model_gev(chi_mass, alpha_d, epsilon, dark_photon_mass_gev):
    """Gamma(Upsilon_D -> Standard-Model pairs) in GeV: :func:`width_to_electrons_gev` times the virtual
    photon's branching pattern at q^2 = M^2, the width of a vector of mass M = 2 m_chi to every Standard-
    Model pair over its width to massless leptons
    (:func:`analysis_lib.physics.dark_photon.total_width_gev`: the leptons and R(M) hadrons)."""
    mass = 2 * _positive("chi_mass", chi_mass)
    ratio = np.asarray(total_width_gev(mass)) / np.asarray(width_to_leptons_gev(mass, 0.0))
    return scalar_or_array(np.asarray(width_to_electrons_gev(chi_mass, alpha_d, epsilon, dark_photon_mass_gev)) * ratio)


def _fraction(x):
    x = np.asarray(x, dtype=float)
    if np.any(~np.isfinite(x)) or np.any(x <= 0) or np.any(x >= 1):
        raise KinematicError(f"photon energy fraction x={x!r} must lie in (0, 1): x = 1 - M^2 / s")
    return x


def radiator(x, sqrt_s_gev):
    """The lowest-order radiator function of initial-state radiation over all photon angles,
    W(s, x) = (alpha / (pi x)) (ln(s / m_e^2) - 1)(2 - 2x + x^2), x = 2 E_gamma / sqrt(s) (the form used
    by the radiative-return generators, e.g. EvtGen's and BESIII's ISR models; M. Benayoun et al., Mod.
    Phys. Lett. A 14 (1999) 2605)."""
    x = _fraction(x)
    large_log = np.log(sqrt_s_gev**2 / _ELECTRON**2)
    return scalar_or_array(ALPHA_EM / (np.pi * x) * (large_log - 1) * (2 - 2 * x + x * x))


def dradiator_dcos(x, cos_theta):
    """dW / dcos(theta) = (alpha / (pi x)) [(2 - 2x + x^2) / sin^2(theta) - x^2 / 2] of the photon at
    c.m. polar angle theta, valid away from the beams (theta >> m_e / E): the form of BaBar's ISR
    analyses (e.g. Phys. Rev. D 73 (2006) 012005, Eq. (1), as quoted by generator code; not seen)."""
    x, c = _fraction(x), np.asarray(cos_theta, dtype=float)
    if np.any(np.abs(c) >= 1):
        raise KinematicError(f"cos(theta)={cos_theta!r} must lie strictly inside (-1, 1): the form diverges along the beams")
    return scalar_or_array(ALPHA_EM / (np.pi * x) * ((2 - 2 * x + x * x) / (1 - c * c) - x * x / 2))


def radiator_in_angle(x, cos_max):
    """W integrated over |cos(theta)| < cos_max: (alpha / (pi x)) [(2 - 2x + x^2) ln((1 + c)/(1 - c)) - x^2 c]
    (the integral of :func:`dradiator_dcos`; derived)."""
    x, c = _fraction(x), np.asarray(cos_max, dtype=float)
    if np.any(c <= 0) or np.any(c >= 1):
        raise KinematicError(f"cos_max={cos_max!r} must lie in (0, 1)")
    return scalar_or_array(ALPHA_EM / (np.pi * x) * ((2 - 2 * x + x * x) * np.log((1 + c) / (1 - c)) - x * x * c))


def sigma_radiative_return_pb(mass_gev_v, width_ee_gev, sqrt_s_gev, *, cos_max=None):
    """sigma(e+e- -> gamma V) in pb of a narrow vector V of mass M and electronic width Gamma_ee:
    (12 pi^2 Gamma_ee / (M s)) W(s, x), x = 1 - M^2 / s (the narrow-width limit of radiative return: the
    Breit-Wigner integrated over the radiator; e.g. Benayoun et al. above). ``cos_max``: only photons
    with |cos(theta)| < cos_max (:func:`radiator_in_angle`); None: all (:func:`radiator`). Summed over
    every decay of V: multiply by the branching fraction of a final state."""
    mass = _positive("mass_gev_v", mass_gev_v)
    gamma_ee = _positive("width_ee_gev", width_ee_gev)
    s = float(sqrt_s_gev) ** 2
    if np.any(mass * mass >= s):
        raise KinematicError(f"mass {mass_gev_v!r} GeV must lie below sqrt(s) = {sqrt_s_gev} GeV")
    x = 1 - mass * mass / s
    w = radiator(x, sqrt_s_gev) if cos_max is None else radiator_in_angle(x, cos_max)
    return scalar_or_array(12 * np.pi**2 * gamma_ee / (mass * s) * np.asarray(w) * GEV2_TO_PB)


def sigma_gamma_darkonium_pb(darkonium_mass, alpha_d, epsilon, dark_photon_mass_gev, sqrt_s_gev, *, cos_max=None):
    """sigma(e+e- -> gamma Upsilon_D) in pb (:func:`sigma_radiative_return_pb` with
    :func:`width_to_electrons_gev`; m_chi from :func:`chi_mass_gev`). Refuses a darkonium that the A'
    does not bind (:func:`bound_state_exists`), naming the largest A' mass that binds."""
    m_chi = chi_mass_gev(darkonium_mass, alpha_d)
    binds = np.asarray(bound_state_exists(dark_photon_mass_gev, m_chi, alpha_d))
    if not np.all(binds):
        edge = YUKAWA_CRITICAL_SCREENING * np.asarray(alpha_d) * np.asarray(m_chi) / 2
        raise KinematicError(f"no darkonium of mass {darkonium_mass!r} GeV at alpha_D={alpha_d!r}: the A' of mass "
                             f"{dark_photon_mass_gev!r} GeV does not bind it (it must lie below {float(np.max(edge)):.4g} GeV)")
    gamma_ee = width_to_electrons_gev(m_chi, alpha_d, epsilon, dark_photon_mass_gev)
    return sigma_radiative_return_pb(darkonium_mass, gamma_ee, sqrt_s_gev, cos_max=cos_max)
