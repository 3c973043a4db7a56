"""ALP coupled to the SU(2)_L gauge bosons ("W-coupled ALP"): B -> K a and the photon coupling it implies.

The interaction is L = -(g_aW / 4) a W^b W~^b (g_aW in GeV^-1). After electroweak symmetry breaking
the ALP couples to photons with g_agg = g_aW sin^2 theta_W, so it decays to two photons with the
width of :func:`analysis_lib.physics.alp.alp_width_gamma_gamma_gev`; a W loop gives the flavour-
changing coupling g_bsa of b -> s a, hence B -> K a (Izaguirre, Lin, Shuve, "A New Flavor of Searches
for Axion-Like Particles", Phys. Rev. Lett. 118 (2017) 111802, arXiv:1611.09355; the formulas as
quoted in the book's physics reference, which also follows their public implementation in the ALPaca
code). The three quantities of the BaBar search are tied: g_aW fixes B(B -> K a), and through g_agg
the ALP's lifetime.

Conventions: sin^2 theta_W on-shell, G_F, |V_tb V_ts*| and the top mass as in
:mod:`analysis_lib.core.constants`.
"""

from __future__ import annotations

import numpy as np

from ..core.arrays import scalar_or_array
from ..core.constants import G_FERMI, HBAR_GEV_S, SIN2_THETA_W, V_TB_V_TS, lifetime_s, mass_gev
from ..core.errors import KinematicError
from .alp import alp_ctau_mm

__all__ = [
    "B_TO_K_F0_M2_FIT_GEV2",
    "B_TO_K_F0_R2",
    "b_to_k_alp_branching",
    "b_to_k_alp_width_gev",
    "b_to_k_scalar_form_factor",
    "ctau_from_g_aw_mm",
    "g_agg_from_g_aw",
    "g_agg_from_g_aw_g_ab",
    "g_aw_from_branching",
    "g_bsa_per_gev",
    "kallen",
    "top_loop_function",
]

#: Ball-Zwicky light-cone sum-rule fit of the B -> K scalar form factor, f0(q^2) = r2 / (1 - q^2/m_fit^2):
#: P. Ball, R. Zwicky, Phys. Rev. D 71 (2005) 014015, arXiv:hep-ph/0406232 (its fit table for B -> K f0).
B_TO_K_F0_R2 = 0.330
B_TO_K_F0_M2_FIT_GEV2 = 37.46

_B_PLUS, _B_ZERO, _K_PLUS, _K_ZERO = 521, 511, 321, 311


def kallen(a, b, c):
    """The Kallen function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc.

    Examples
    --------
    >>> kallen(1.0, 0.0, 0.0)
    1.0
    """
    a, b, c = (np.asarray(v, dtype=float) for v in (a, b, c))
    return scalar_or_array(a * a + b * b + c * c - 2 * (a * b + a * c + b * c))


def top_loop_function(x):
    """The W-loop function f(x) = x [1 + x (ln x - 1)] / (1 - x)^2 of g_bsa, x = m_q^2 / m_W^2
    (Izaguirre, Lin, Shuve, arXiv:1611.09355, as quoted in the book's physics reference).

    f(x_t) = 1.215 for the top; f(x) -> x for light quarks, so the charm term is negligible.

    Examples
    --------
    >>> round(top_loop_function((mass_gev(6) / mass_gev(24)) ** 2), 2)
    1.22
    """
    x = np.asarray(x, dtype=float)
    return scalar_or_array(x * (1.0 + x * (np.log(x) - 1.0)) / (1.0 - x) ** 2)


def g_bsa_per_gev(g_aw_per_gev):
    """The b -> s a coupling g_bsa in GeV^-1 from g_aW (top loop only):
    g_bsa = -(3 sqrt(2) G_F m_W^2 g_aW / (16 pi^2)) V_tb V_ts* f(m_t^2 / m_W^2)
    (Izaguirre, Lin, Shuve, arXiv:1611.09355). The charm loop is suppressed by
    f(x_c)/f(x_t) ~ 2e-4 and is left out. The sign is kept; only |g_bsa| enters rates.
    """
    m_w = mass_gev(24)
    loop = top_loop_function((mass_gev(6) / m_w) ** 2)
    g_aw = np.asarray(g_aw_per_gev, dtype=float)
    return scalar_or_array(-3.0 * np.sqrt(2.0) * G_FERMI * m_w**2 * g_aw / (16.0 * np.pi**2) * V_TB_V_TS * loop)


def b_to_k_scalar_form_factor(q2_gev2):
    """The B -> K scalar form factor f0(q^2) of Ball and Zwicky (:data:`B_TO_K_F0_R2`,
    :data:`B_TO_K_F0_M2_FIT_GEV2`), valid over the physical range 0 <= q^2 <= (m_B - m_K)^2.

    Examples
    --------
    >>> round(b_to_k_scalar_form_factor(1.0), 3)
    0.339
    """
    q2 = np.asarray(q2_gev2, dtype=float)
    return scalar_or_array(B_TO_K_F0_R2 / (1.0 - q2 / B_TO_K_F0_M2_FIT_GEV2))


def _masses(charged):
    return (mass_gev(_B_PLUS), mass_gev(_K_PLUS)) if charged else (mass_gev(_B_ZERO), mass_gev(_K_ZERO))


def b_to_k_alp_width_gev(mass_gev_a, g_aw_per_gev, *, charged=True):
    """Partial width Gamma(B -> K a) in GeV:
    m_B^3 |g_bsa|^2 / (64 pi) (1 - m_K^2/m_B^2)^2 f0(m_a^2)^2 lambda^(1/2)(1, m_K^2/m_B^2, m_a^2/m_B^2)
    (Izaguirre, Lin, Shuve, arXiv:1611.09355, as quoted in the book's physics reference).

    Parameters
    ----------
    mass_gev_a : float or array
        ALP mass, 0 <= m_a < m_B - m_K.
    g_aw_per_gev : float or array
        ALP-W coupling in GeV^-1.
    charged : bool
        B+ -> K+ a (default) or B0 -> K0 a.
    """
    m_b, m_k = _masses(charged)
    m_a = np.asarray(mass_gev_a, dtype=float)
    if np.any(m_a < 0) or np.any(m_a >= m_b - m_k):
        raise KinematicError(
            f"ALP mass {mass_gev_a!r} GeV is outside the B -> K a range 0 <= m_a < m_B - m_K = {m_b - m_k:.3f} GeV; "
            "choose a lighter ALP"
        )
    g = g_bsa_per_gev(g_aw_per_gev)
    lam = kallen(1.0, (m_k / m_b) ** 2, (m_a / m_b) ** 2)
    width = (m_b**3 * np.square(g) / (64.0 * np.pi) * (1.0 - (m_k / m_b) ** 2) ** 2
             * np.square(b_to_k_scalar_form_factor(m_a**2)) * np.sqrt(lam))
    return scalar_or_array(width)


def b_to_k_alp_branching(mass_gev_a, g_aw_per_gev, *, charged=True):
    """B(B -> K a) = Gamma(B -> K a) tau_B / hbar, with the PDG B lifetime.

    Examples
    --------
    >>> f"{b_to_k_alp_branching(1.0, 1e-5):.2g}"  # the physics reference's check value
    '2e-07'
    """
    tau = lifetime_s(_B_PLUS if charged else _B_ZERO)
    return scalar_or_array(b_to_k_alp_width_gev(mass_gev_a, g_aw_per_gev, charged=charged) * tau / HBAR_GEV_S)


def g_aw_from_branching(branching, mass_gev_a, *, charged=True):
    """Invert :func:`b_to_k_alp_branching` (which goes as g_aW^2): the g_aW (GeV^-1) giving ``branching``."""
    reference = b_to_k_alp_branching(mass_gev_a, 1.0, charged=charged)
    return scalar_or_array(np.sqrt(np.asarray(branching, dtype=float) / reference))


def g_agg_from_g_aw(g_aw_per_gev):
    """Photon coupling g_agg = g_aW sin^2 theta_W (on-shell sin^2 theta_W; book's physics reference).

    Examples
    --------
    >>> round(g_agg_from_g_aw(1.0), 4)
    0.2233
    """
    return scalar_or_array(np.asarray(g_aw_per_gev, dtype=float) * SIN2_THETA_W)


def g_agg_from_g_aw_g_ab(g_aw_per_gev, g_ab_per_gev):
    """Photon coupling of an ALP coupled to the SU(2)_L and the hypercharge gauge bosons,
    L = -(g_aW / 4) a W^b W~^b - (g_aB / 4) a B B~:  g_agg = s_W^2 g_aW + c_W^2 g_aB (derived: the photon
    is A = s_W W^3 + c_W B, so W^3 W~^3 holds s_W^2 F F~ and B B~ holds c_W^2 F F~; the combination
    used, e.g., by Bauer, Neubert, Thamm, JHEP 12 (2017) 044, arXiv:1708.00443). With g_aB = 0 it is
    :func:`g_agg_from_g_aw`; B -> K a still comes from g_aW alone (only the W changes flavour at one loop).

    Examples
    --------
    >>> round(g_agg_from_g_aw_g_ab(1.0, 1.0), 12), round(g_agg_from_g_aw_g_ab(1.0, -SIN2_THETA_W / (1 - SIN2_THETA_W)), 12)
    (1.0, 0.0)
    """
    g_aw, g_ab = np.asarray(g_aw_per_gev, dtype=float), np.asarray(g_ab_per_gev, dtype=float)
    return scalar_or_array(SIN2_THETA_W * g_aw + (1.0 - SIN2_THETA_W) * g_ab)


def ctau_from_g_aw_mm(mass_gev_a, g_aw_per_gev):
    """Proper decay length (mm) of a W-coupled ALP lighter than 3 pions: it decays to two photons only,
    Gamma = (g_aW sin^2 theta_W)^2 m_a^3 / (64 pi).

    Examples
    --------
    >>> round(ctau_from_g_aw_mm(1.0, 1e-5), 2)  # mm; c tau goes as m_a^-3 g_aW^-2
    7.95
    """
    return alp_ctau_mm(mass_gev_a, g_agg_from_g_aw(g_aw_per_gev))
