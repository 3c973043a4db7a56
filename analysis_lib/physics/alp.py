"""Axion-like particle (ALP) coupled to photons: production in e+e- -> gamma a and decay a -> gamma gamma.

The interaction is L = -(g_agg / 4) a F F~ with g_agg in GeV^-1. Conventions (alpha(0), units) are in
:mod:`analysis_lib.core.constants`.
"""

from __future__ import annotations

import numpy as np

from ..core.arrays import scalar_or_array
from ..core.constants import ALPHA_EM, GEV2_TO_PB, HBARC_GEV_MM
from ..core.errors import KinematicError, ParameterError

__all__ = [
    "alp_decay_length_mm",
    "alp_ctau_mm",
    "alp_width_gamma_gamma_gev",
    "coupling_from_cross_section",
    "dsigma_dcostheta_pb",
    "sigma_ee_to_gamma_alp_pb",
]


def _check_mass(mass_gev, sqrt_s_gev):
    mass = np.asarray(mass_gev, dtype=float)
    if np.any(mass < 0) or np.any(mass >= sqrt_s_gev):
        raise KinematicError(
            f"ALP mass {mass_gev!r} GeV is outside 0 <= m_a < sqrt(s) = {sqrt_s_gev} GeV; "
            "choose a mass below the collision energy"
        )
    return mass


def sigma_ee_to_gamma_alp_pb(mass_gev, g_agg_per_gev, sqrt_s_gev):
    """Total cross section of e+e- -> gamma a through an s-channel photon, in pb.

    sigma = alpha g_agg^2 / 24 (1 - m_a^2 / s)^3, from M. J. Dolan, T. Ferber, C. Hearty,
    F. Kahlhoefer, K. Schmidt-Hoberg, "Revised constraints and Belle II sensitivity for visible and
    invisible axion-like particles", JHEP 12 (2017) 094, arXiv:1709.00009 (the formula quoted in
    the Belle II search, arXiv:2007.13071). alpha is alpha(0).

    Parameters
    ----------
    mass_gev : float or array
        ALP mass in GeV, 0 <= m_a < sqrt(s).
    g_agg_per_gev : float or array
        Photon coupling in GeV^-1.
    sqrt_s_gev : float
        Centre-of-mass energy in GeV.

    Examples
    --------
    >>> round(sigma_ee_to_gamma_alp_pb(0.0, 1e-3, 10.58), 4)
    0.1184
    """
    mass = _check_mass(mass_gev, sqrt_s_gev)
    s = sqrt_s_gev**2
    sigma_gev2 = ALPHA_EM * np.square(g_agg_per_gev) / 24.0 * (1.0 - mass**2 / s) ** 3
    return scalar_or_array(sigma_gev2 * GEV2_TO_PB)


def dsigma_dcostheta_pb(cos_theta, mass_gev, g_agg_per_gev, sqrt_s_gev):
    """Differential cross section d sigma / d cos(theta*) of e+e- -> gamma a, in pb.

    dsigma/dOmega = alpha g^2 / (128 pi) (1 - m_a^2/s)^3 (1 + cos^2 theta*), with theta* the
    photon (or ALP) polar angle to the beam in the centre-of-mass frame (Dolan et al.,
    arXiv:1709.00009); integrated over the azimuth this is
    alpha g^2 / 64 (1 - m_a^2/s)^3 (1 + cos^2 theta*). Its integral over -1..1 is
    :func:`sigma_ee_to_gamma_alp_pb`.

    Examples
    --------
    >>> round(dsigma_dcostheta_pb(0.0, 0.0, 1e-3, 10.58) / sigma_ee_to_gamma_alp_pb(0, 1e-3, 10.58), 4)
    0.375
    """
    mass = _check_mass(mass_gev, sqrt_s_gev)
    s = sqrt_s_gev**2
    c = np.asarray(cos_theta, dtype=float)
    shape = ALPHA_EM * np.square(g_agg_per_gev) / 64.0 * (1.0 - mass**2 / s) ** 3
    return scalar_or_array(shape * (1.0 + c**2) * GEV2_TO_PB)


def coupling_from_cross_section(sigma_pb, mass_gev, sqrt_s_gev):
    """Invert :func:`sigma_ee_to_gamma_alp_pb`: the coupling g_agg (GeV^-1) that gives ``sigma_pb``.

    Examples
    --------
    >>> round(coupling_from_cross_section(0.1184, 0.0, 10.58) * 1e3, 3)
    1.0
    """
    sigma_ref = sigma_ee_to_gamma_alp_pb(mass_gev, 1.0, sqrt_s_gev)
    return scalar_or_array(np.sqrt(np.asarray(sigma_pb, dtype=float) / sigma_ref))


def alp_width_gamma_gamma_gev(mass_gev, g_agg_per_gev):
    """Partial width Gamma(a -> gamma gamma) = g_agg^2 m_a^3 / (64 pi), in GeV.

    Standard result for L = -(g/4) a F F~ (e.g. Dolan et al., arXiv:1709.00009). Applied to the
    pi0 with g = alpha / (pi f_pi) it gives the anomaly prediction of Gamma(pi0 -> gamma gamma).

    Examples
    --------
    >>> f"{alp_width_gamma_gamma_gev(1.0, 1e-3):.4e}"
    '4.9736e-09'
    """
    mass = np.asarray(mass_gev, dtype=float)
    if np.any(mass <= 0):
        raise KinematicError(f"ALP mass {mass_gev!r} GeV must be positive for a decay width")
    return scalar_or_array(np.square(g_agg_per_gev) * mass**3 / (64.0 * np.pi))


def alp_ctau_mm(mass_gev, g_agg_per_gev, *, branching_gamma_gamma=1.0):
    """Proper decay length c tau = hbar c / Gamma_total in mm.

    Gamma_total = Gamma(a -> gamma gamma) / B(a -> gamma gamma); a photophilic ALP has
    ``branching_gamma_gamma`` = 1 (the default).
    """
    if not 0 < branching_gamma_gamma <= 1:
        raise ParameterError(
            f"branching_gamma_gamma={branching_gamma_gamma!r} must be in (0, 1]"
        )
    width = alp_width_gamma_gamma_gev(mass_gev, g_agg_per_gev) / branching_gamma_gamma
    return scalar_or_array(HBARC_GEV_MM / width)


def alp_decay_length_mm(momentum_gev, mass_gev, ctau_mm):
    """Mean decay length in the lab, beta gamma c tau = (p / m) c tau, in mm.

    Parameters
    ----------
    momentum_gev : float or array
        ALP momentum in the frame where the length is wanted (lab), GeV.
    mass_gev : float or array
        ALP mass in GeV (> 0).
    ctau_mm : float or array
        Proper decay length in mm (>= 0; 0 is a prompt decay).

    Examples
    --------
    >>> alp_decay_length_mm(5.0, 0.5, 1.0)
    10.0
    """
    ctau = np.asarray(ctau_mm, dtype=float)
    if np.any(ctau < 0):
        raise ParameterError(f"ctau_mm={ctau_mm!r} is negative; a lifetime must be >= 0 (0 = prompt)")
    mass = np.asarray(mass_gev, dtype=float)
    if np.any(mass <= 0):
        raise KinematicError(f"mass {mass_gev!r} GeV must be positive")
    return scalar_or_array(np.asarray(momentum_gev, dtype=float) / mass * ctau)
