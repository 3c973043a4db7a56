"""QED backgrounds of the photon final states: e+e- -> gamma gamma and e+e- -> gamma gamma gamma.

Electron masses are neglected (they matter only within m_e/E of the beam axis, far outside any
detector acceptance used here). alpha is alpha(0), see :mod:`analysis_lib.core.constants`.
"""

from __future__ import annotations

import numpy as np

from ..core.arrays import scalar_or_array
from ..core.constants import ALPHA_EM, GEV2_TO_PB
from ..core.errors import ParameterError

__all__ = [
    "dsigma_dcostheta_gamma_gamma_pb",
    "matrix_element_squared_radiative_bhabha",
    "matrix_element_squared_three_photons",
    "sigma_gamma_gamma_pb",
]


def _check_cos_max(cos_max):
    if not 0 < cos_max < 1:
        raise ParameterError(
            f"cos_max={cos_max!r} must be in (0, 1): the massless QED cross section diverges "
            "along the beam, so a polar-angle cut is required"
        )


def dsigma_dcostheta_gamma_gamma_pb(cos_theta, sqrt_s_gev):
    """d sigma / d cos(theta*) of e+e- -> gamma gamma at lowest order, massless electrons, in pb.

    dsigma/dOmega = (alpha^2 / 2s) (1 + cos^2 theta*) / (1 - cos^2 theta*) per photon direction
    (both photons counted once: integrate over the full solid angle and the identical-particle
    factor 1/2 is included). Derived here from |M|^2 = 2 e^4 (u/t + t/u) (spin-averaged, e.g.
    Peskin and Schroeder, problem 5.2).
    """
    c = np.asarray(cos_theta, dtype=float)
    s = sqrt_s_gev**2
    return scalar_or_array(np.pi * ALPHA_EM**2 / s * (1 + c**2) / (1 - c**2) * GEV2_TO_PB)


def sigma_gamma_gamma_pb(sqrt_s_gev, *, cos_max):
    """sigma(e+e- -> gamma gamma) with both photons at |cos theta*| < ``cos_max``, in pb.

    The integral of :func:`dsigma_dcostheta_gamma_gamma_pb` over -c..c (derived here):
    (pi alpha^2 / s) [2 ln((1 + c)/(1 - c)) - 2 c].

    Examples
    --------
    >>> round(sigma_gamma_gamma_pb(10.58, cos_max=0.9) / 1e3, 2)  # nb
    2.38
    """
    _check_cos_max(cos_max)
    s = sqrt_s_gev**2
    c = cos_max
    return scalar_or_array(np.pi * ALPHA_EM**2 / s * (2 * np.log((1 + c) / (1 - c)) - 2 * c) * GEV2_TO_PB)


def matrix_element_squared_three_photons(p_minus, p_plus, k1, k2, k3):
    """Spin-summed and averaged |M|^2 of e-(p_minus) e+(p_plus) -> gamma(k1) gamma(k2) gamma(k3).

    Massless electrons:

        |M|^2 = e^6 s sum_i (p.k_i)(p'.k_i)[(p.k_i)^2 + (p'.k_i)^2] / prod_j (p.k_j)(p'.k_j),

    the structure of F. A. Berends and R. Kleiss, Nucl. Phys. B 186 (1981) 22. The normalisation
    e^6 is derived here from the soft-photon limit: for k3 -> 0 the expression must factorise into
    the eikonal factor e^2 2 (p.p') / ((p.k3)(p'.k3)) times |M(e+e- -> gamma gamma)|^2
    = 2 e^4 (u/t + t/u); ``tests/physics/test_qed.py`` checks that limit numerically.

    Parameters
    ----------
    p_minus, p_plus, k1, k2, k3 : array, shape (..., 4)
        Four-momenta (E, px, py, pz) in GeV, in any common frame.

    Returns
    -------
    array
        |M|^2 (dimensionless), to be divided by the 3! identical-photon factor when integrated.
    """
    s = 2.0 * _dot(p_minus, p_plus)
    ks = (k1, k2, k3)
    kp = np.stack([_dot(p_minus, k) for k in ks])
    km = np.stack([_dot(p_plus, k) for k in ks])
    numerator = np.sum(kp * km * (kp**2 + km**2), axis=0)
    denominator = np.prod(kp * km, axis=0)
    e2 = 4 * np.pi * ALPHA_EM
    return e2**3 * s * numerator / denominator


def _dot(a, b):
    return a[..., 0] * b[..., 0] - np.sum(a[..., 1:] * b[..., 1:], axis=-1)


def matrix_element_squared_radiative_bhabha(p_minus, p_plus, q_minus, q_plus, k):
    """Spin-summed and averaged |M|^2 of e-(p_minus) e+(p_plus) -> e-(q_minus) e+(q_plus) gamma(k).

    Tree-level QED with massless electrons, all eight diagrams (photon exchange only; the Z is
    negligible at 10.58 GeV):

        |M|^2 = e^6 [s s'(s^2 + s'^2) + t t'(t^2 + t'^2) + u u'(u^2 + u'^2)] / (s s' t t') x B,
        B = s/((p+.k)(p-.k)) + s'/((q+.k)(q-.k)) - t/((p+.k)(q+.k)) - t'/((p-.k)(q-.k))
            + u/((p+.k)(q-.k)) + u'/((p-.k)(q+.k)),

    with s = (p+ + p-)^2, s' = (q+ + q-)^2, t = (p+ - q+)^2, t' = (p- - q-)^2, u = (p+ - q-)^2,
    u' = (p- - q+)^2: the form of F. A. Berends et al. (CALKUL collaboration), Nucl. Phys. B 206
    (1982) 61. B is minus the square of the eikonal current of the four charges; the overall
    factor e^6 follows from the soft-photon limit, where the expression must factorise into
    e^2 B times the massless Bhabha |M|^2 = 2 e^4 (s^4 + t^4 + u^4)/(s^2 t^2) (derived here;
    ``tests/physics/test_qed.py`` checks the limit).
    """
    pp, pm, qp, qm = p_plus, p_minus, q_plus, q_minus
    s = 2 * _dot(pp, pm)
    s1 = 2 * _dot(qp, qm)
    t = -2 * _dot(pp, qp)
    t1 = -2 * _dot(pm, qm)
    u = -2 * _dot(pp, qm)
    u1 = -2 * _dot(pm, qp)
    kpp, kpm, kqp, kqm = _dot(pp, k), _dot(pm, k), _dot(qp, k), _dot(qm, k)
    hard = (s * s1 * (s**2 + s1**2) + t * t1 * (t**2 + t1**2) + u * u1 * (u**2 + u1**2)) / (s * s1 * t * t1)
    eikonal = (
        s / (kpp * kpm) + s1 / (kqp * kqm) - t / (kpp * kqp) - t1 / (kpm * kqm) + u / (kpp * kqm) + u1 / (kpm * kqp)
    )
    e2 = 4 * np.pi * ALPHA_EM
    return e2**3 * hard * eikonal
