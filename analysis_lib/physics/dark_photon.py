"""Dark photon A' with a dark Higgs h': dark Higgsstrahlung e+e- -> A' h' and the A' decays.

The A' mixes kinetically with the photon (strength epsilon: it couples to the electromagnetic
current with charge epsilon e) and couples with alpha_D = g_D^2 / 4 pi to the dark sector; the dark
Higgs h' (unit dark charge) gives the A' its mass, which fixes the A'A'h' coupling to 2 g_D M_A'.
Conventions (alpha(0), units) are in :mod:`analysis_lib.core.constants`.

* :func:`sigma_dark_higgsstrahlung_pb`: the cross section of e+e- -> gamma*/A'* -> A' h' (B. Batell,
  M. Pospelov, A. Ritz, Phys. Rev. D 79 (2009) 115008, in the form of the book's physics reference:
  the kinematics of Standard-Model Zh production). The body of that paper could not be reached
  here; the formula is checked instead against the matrix element derived here from the couplings
  above (:func:`matrix_element_squared_dark_higgsstrahlung`, integrated numerically in the tests),
  which fixes its normalisation independently;
* :func:`branching_fraction_mumu`, :func:`branching_fractions`, :func:`total_width_gev` and
  :func:`ctau_mm`: the A' decays with the hadronic width from the R ratio (darkcast, P. Ilten,
  Y. Soreq, M. Williams, W. Xue, JHEP 06 (2018) 004, arXiv:1801.04847), the R table of the PDG
  (``data/published/r_ratio_pdg2020.dat``), and its pi+ pi- share from the pion form factor
  (:func:`pion_form_factor_squared`, Gounaris-Sakurai with Belle's fit).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..core.arrays import scalar_or_array
from ..core.constants import ALPHA_EM, GEV2_TO_PB, HBARC_GEV_MM, mass_gev
from ..core.errors import KinematicError
from ..core.paths import PUBLISHED_DIR

__all__ = [
    "PION_FORM_FACTOR_RESONANCES",
    "R_TABLE",
    "branching_fraction_mumu",
    "branching_fractions",
    "ctau_mm",
    "dsigma_dcos_dark_higgsstrahlung_pb",
    "matrix_element_squared_dark_higgsstrahlung",
    "pion_form_factor_squared",
    "r_ratio",
    "r_ratio_pipi",
    "sigma_dark_higgsstrahlung_pb",
    "total_width_gev",
    "width_to_leptons_gev",
]

#: The R-ratio table (sqrt(s) in GeV, R), PDG 2020 compilation; see its header for provenance.
R_TABLE = "r_ratio_pdg2020.dat"

_LEPTONS = (mass_gev(11), mass_gev(13), mass_gev(15))


def _kallen(x, y, z):
    return x * x + y * y + z * z - 2 * (x * y + y * z + z * x)


def _check(mass_a_gev, mass_h_gev, sqrt_s_gev):
    m_a, m_h = np.asarray(mass_a_gev, dtype=float), np.asarray(mass_h_gev, dtype=float)
    if np.any(m_a <= 0) or np.any(m_h < 0) or np.any(m_a + m_h >= sqrt_s_gev):
        raise KinematicError(
            f"masses M_A' = {mass_a_gev!r}, M_h' = {mass_h_gev!r} GeV need M_A' > 0, M_h' >= 0 and "
            f"M_A' + M_h' < sqrt(s) = {sqrt_s_gev} GeV; choose masses inside that range"
        )
    return m_a, m_h


def sigma_dark_higgsstrahlung_pb(mass_a_gev, mass_h_gev, sqrt_s_gev, *, eps2_alpha_d=1.0):
    """sigma(e+e- -> A' h') in pb for epsilon^2 alpha_D = ``eps2_alpha_d``:

    sigma = (pi alpha alpha_D eps^2 / 3 s) lambda^(1/2) (lambda + 12 M_A'^2 / s) / (1 - M_A'^2 / s)^2,
    lambda = lambda(1, M_A'^2 / s, M_h'^2 / s) (Batell, Pospelov, Ritz, PRD 79 (2009) 115008, as
    quoted in the book's physics reference; its normalisation is checked in the tests against the
    matrix element of :func:`matrix_element_squared_dark_higgsstrahlung`).

    Examples
    --------
    >>> round(sigma_dark_higgsstrahlung_pb(5.0, 1.0, 10.58, eps2_alpha_d=1e-7) * 1e3, 2)  # fb
    10.96
    """
    m_a, m_h = _check(mass_a_gev, mass_h_gev, sqrt_s_gev)
    s = sqrt_s_gev**2
    lam = _kallen(1.0, m_a**2 / s, m_h**2 / s)
    sigma = (np.pi * ALPHA_EM * eps2_alpha_d / (3 * s) * np.sqrt(lam) * (lam + 12 * m_a**2 / s)
             / (1 - m_a**2 / s) ** 2)
    return scalar_or_array(sigma * GEV2_TO_PB)


def dsigma_dcos_dark_higgsstrahlung_pb(cos_theta, mass_a_gev, mass_h_gev, sqrt_s_gev, *, eps2_alpha_d=1.0):
    """d sigma / d cos(theta) of the A' (polar angle to the e- beam, c.m. frame), in pb:
    the total of :func:`sigma_dark_higgsstrahlung_pb` shared as (3/4) (lambda sin^2 theta + 8 M_A'^2 / s)
    / (lambda + 12 M_A'^2 / s), the angular distribution of Zh production (a vector emitted with
    its longitudinal and transverse polarisations; derived here from the matrix element, whose
    integral over cos(theta) it reproduces)."""
    m_a, m_h = _check(mass_a_gev, mass_h_gev, sqrt_s_gev)
    s = sqrt_s_gev**2
    lam = _kallen(1.0, m_a**2 / s, m_h**2 / s)
    c = np.asarray(cos_theta, dtype=float)
    shape = 0.75 * (lam * (1 - c**2) + 8 * m_a**2 / s) / (lam + 12 * m_a**2 / s)
    return scalar_or_array(shape * sigma_dark_higgsstrahlung_pb(m_a, m_h, sqrt_s_gev, eps2_alpha_d=eps2_alpha_d))


def matrix_element_squared_dark_higgsstrahlung(p1, p2, k, mass_a_gev, *, eps2_alpha_d=1.0):
    """Spin-summed |M|^2 (summed over the A' polarisations, not averaged over the beams) of
    e-(p1) e+(p2) -> A'(k) h', massless electrons, derived here: the electron current couples to
    the A' with eps e; the A'* of virtuality s turns into A' h' through 2 g_D M_A' g^{mu nu}, so

    M = eps e 2 g_D M_A' / (s - M_A'^2) [v(p2) gamma_mu u(p1)] eps*^mu(k),
    sum |M|^2 = eps^2 e^2 4 g_D^2 M_A'^2 / (s - M_A'^2)^2 L_{mu nu} (-g^{mu nu} + k^mu k^nu / M_A'^2),
    L_{mu nu} = 4 (p1_mu p2_nu + p2_mu p1_nu - g_{mu nu} p1.p2),

    which gives 4 s + 4 (2 (p1.k)(p2.k) - p1.p2 M_A'^2) / M_A'^2 for the contraction.
    """
    def dot(a, b):
        return a[..., 0] * b[..., 0] - np.sum(a[..., 1:] * b[..., 1:], axis=-1)

    s = dot(p1 + p2, p1 + p2)
    p12, p1k, p2k = dot(p1, p2), dot(p1, k), dot(p2, k)
    m2 = mass_a_gev**2
    contraction = 4 * (2 * p12) + 4 * (2 * p1k * p2k - p12 * m2) / m2  # L(-g) = 4 (2 p1.p2), 2 p1.p2 = s
    e2 = 4 * np.pi * ALPHA_EM
    g_d2 = 4 * np.pi  # alpha_D = 1: eps^2 alpha_D carries the couplings
    return eps2_alpha_d * e2 * 4 * g_d2 * m2 / (s - m2) ** 2 * contraction


def width_to_leptons_gev(mass_gev_a, lepton_mass_gev, *, epsilon=1.0):
    """Gamma(A' -> l+ l-) = (alpha eps^2 M / 3)(1 + 2 m_l^2 / M^2) sqrt(1 - 4 m_l^2 / M^2) in GeV
    (the book's physics reference; e.g. darkcast, arXiv:1801.04847); zero below threshold."""
    m = np.asarray(mass_gev_a, dtype=float)
    r = np.square(lepton_mass_gev / m)
    open_ = r < 0.25
    beta = np.sqrt(np.where(open_, 1 - 4 * r, 0.0))
    return scalar_or_array(np.where(open_, ALPHA_EM * epsilon**2 * m / 3 * (1 + 2 * r) * beta, 0.0))


@cache
def _r_table():

    raw = np.loadtxt(PUBLISHED_DIR / R_TABLE)
    order = np.argsort(raw[:, 0], kind="stable")
    return raw[order, 0], raw[order, 1]


def r_ratio(sqrt_s_gev):
    """R = sigma(e+e- -> hadrons) / sigma(e+e- -> mu+ mu-) at ``sqrt_s_gev``, interpolated linearly
    in the PDG table (0 below its first point, 0.3 GeV)."""
    x, r = _r_table()
    e = np.asarray(sqrt_s_gev, dtype=float)
    return scalar_or_array(np.where(e < x[0], 0.0, np.interp(e, x, r)))


#: The rho resonances of Belle's fit of the pion form factor in tau -> pi pi0 nu (M. Fujikawa et al.,
#: Phys. Rev. D 78 (2008) 072006, Table VII, the fit with F(0) = 1 fixed; read from the copy of Belle's
#: fit function in TAUOLA): (mass, width in GeV, complex weight) of rho(770), rho(1450), rho(1700).
PION_FORM_FACTOR_RESONANCES = (
    (0.7746, 0.1481, 1.0 + 0.0j),
    (1.446, 0.434, 0.15 * np.exp(1j * np.radians(202.0))),
    (1.728, 0.164, 0.037 * np.exp(1j * np.radians(24.0))),
)


def _gounaris_sakurai(s, mass, width):
    """The Gounaris-Sakurai Breit-Wigner (G. J. Gounaris, J. J. Sakurai, Phys. Rev. Lett. 21 (1968) 244),
    normalised to 1 at s = 0, for s >= 4 m_pi^2 (the form of Belle's fit above):
    m^2 (1 + d Gamma / m) / (m^2 - s + f(s) - i m Gamma(s)), with k the pion momentum in the pair's
    frame, Gamma(s) = Gamma (m / sqrt(s)) (k / k_m)^3, h(s) = (2 / pi)(k / sqrt(s)) ln((sqrt(s) + 2k) / 2 m_pi),
    f(s) = Gamma m^2 / k_m^3 [k^2 (h(s) - h(m^2)) + (m^2 - s) k_m^2 h'(m^2)] and d fixed by F(0) = 1."""
    m_pi = mass_gev(211)
    k = 0.5 * np.sqrt(s - 4 * m_pi**2)
    k_m = 0.5 * np.sqrt(mass**2 - 4 * m_pi**2)

    def h(q2, q):
        return 2 / np.pi * q / np.sqrt(q2) * np.log((np.sqrt(q2) + 2 * q) / (2 * m_pi))

    h_m = h(mass**2, k_m)
    dh_m = h_m * (1 / (8 * k_m**2) - 1 / (2 * mass**2)) + 1 / (2 * np.pi * mass**2)
    f = width * mass**2 / k_m**3 * (k**2 * (h(s, k) - h_m) + (mass**2 - s) * k_m**2 * dh_m)
    d = (3 / np.pi * m_pi**2 / k_m**2 * np.log((mass + 2 * k_m) / (2 * m_pi)) + mass / (2 * np.pi * k_m)
         - m_pi**2 * mass / (np.pi * k_m**3))
    width_s = width * mass / np.sqrt(s) * (k / k_m) ** 3
    return mass**2 * (1 + d * width / mass) / (mass**2 - s + f - 1j * mass * width_s)


def pion_form_factor_squared(sqrt_s_gev):
    """|F_pi(s)|^2 of the pion's electromagnetic form factor above the pi+ pi- threshold (0 below): the
    Gounaris-Sakurai rho, rho(1450) and rho(1700) of :data:`PION_FORM_FACTOR_RESONANCES`, summed with their
    weights and divided by their sum (F(0) = 1). The rho-omega interference of e+e- data (a few per cent
    within about 10 MeV of 782 MeV) is neglected: Belle's fit is to tau decays, which have none."""
    e = np.asarray(sqrt_s_gev, dtype=float)
    above = e > 2 * mass_gev(211)
    s = np.where(above, e, 1.0) ** 2
    total = sum(weight * _gounaris_sakurai(s, mass, width) for mass, width, weight in PION_FORM_FACTOR_RESONANCES)
    norm = sum(weight for _, _, weight in PION_FORM_FACTOR_RESONANCES)
    return scalar_or_array(np.where(above, np.abs(total / norm) ** 2, 0.0))


def r_ratio_pipi(sqrt_s_gev):
    """R_pipi = beta^3 |F_pi|^2 / 4, beta = sqrt(1 - 4 m_pi^2 / s): sigma(e+e- -> pi+ pi-) = pi alpha^2 beta^3
    |F_pi|^2 / (3 s) divided by sigma(e+e- -> mu+ mu-) = 4 pi alpha^2 / (3 s) for massless muons (derived;
    the tests compare it with the PDG's R table below 0.9 GeV, where pi+ pi- dominates)."""
    e = np.asarray(sqrt_s_gev, dtype=float)
    beta = np.sqrt(np.clip(1 - 4 * mass_gev(211) ** 2 / np.where(e > 0, e, 1.0) ** 2, 0.0, None))
    return scalar_or_array(beta**3 * np.asarray(pion_form_factor_squared(e)) / 4)


def branching_fraction_mumu(mass_gev_a):
    """B(A' -> mu+ mu-) = Gamma_mumu / (Gamma_ee + Gamma_mumu + Gamma_tautau + R Gamma_mumu(m_mu -> 0)),
    the A' decaying only to Standard-Model particles (darkcast, arXiv:1801.04847). Independent of eps.

    Examples
    --------
    >>> round(branching_fraction_mumu(0.5), 3)  # R(0.5 GeV) ~ 0.47
    0.401
    """
    return branching_fractions(mass_gev_a)["mumu"]


def _check_visible(given, m):
    if np.any(~np.isfinite(m)) or np.any(m <= 2 * _LEPTONS[0]):
        raise KinematicError(f"A' mass {given!r} GeV must lie above 2 m_e = {2 * _LEPTONS[0]:.6f} GeV (no visible decay below)")


def branching_fractions(mass_gev_a) -> dict:
    """The A' branching fractions to Standard-Model particles, independent of eps: ``ee``, ``mumu``,
    ``tautau`` (:func:`width_to_leptons_gev`), ``pipi`` and ``other_hadrons``: the hadronic width is R(M)
    times the width to massless leptons (darkcast, arXiv:1801.04847), of which pi+ pi- takes
    R_pipi (:func:`r_ratio_pipi`, at most R) and the other hadrons the rest. For an A' that cannot decay
    to the dark sector, above 2 m_e. The R table starts at 0.3 GeV: below it the A' has no hadronic
    width (pi+ pi- between 2 m_pi and 0.3 GeV would take R_pipi < 0.01, neglected)."""
    m = np.asarray(mass_gev_a, dtype=float)
    _check_visible(mass_gev_a, m)
    widths = {name: np.asarray(width_to_leptons_gev(m, ml)) for name, ml in zip(("ee", "mumu", "tautau"), _LEPTONS)}
    massless = np.asarray(width_to_leptons_gev(m, 0.0))
    r_total = np.asarray(r_ratio(m))
    r_pipi = np.minimum(np.asarray(r_ratio_pipi(m)), r_total)
    widths["pipi"] = massless * r_pipi
    widths["other_hadrons"] = massless * (r_total - r_pipi)
    total = sum(widths.values())
    return {name: scalar_or_array(w / total) for name, w in widths.items()}


def total_width_gev(mass_gev_a, *, epsilon=1.0):
    """The total width of an A' that decays only to Standard-Model particles, in GeV: the leptonic widths
    plus R(M) times the width to massless leptons (:func:`branching_fractions`)."""
    m = np.asarray(mass_gev_a, dtype=float)
    _check_visible(mass_gev_a, m)
    leptons = sum(np.asarray(width_to_leptons_gev(m, ml, epsilon=epsilon)) for ml in _LEPTONS)
    return scalar_or_array(leptons + np.asarray(width_to_leptons_gev(m, 0.0, epsilon=epsilon)) * np.asarray(r_ratio(m)))


def ctau_mm(mass_gev_a, epsilon):
    """The A' proper decay length c tau = hbar c / Gamma in mm (:func:`total_width_gev`).

    Examples
    --------
    A 100 MeV A' at eps = 1e-4 decays only to e+e-: c tau = 3 hbar c / (alpha eps^2 M) = 0.081 mm.

    >>> round(ctau_mm(0.1, 1e-4), 4)
    0.0811
    """
    return scalar_or_array(HBARC_GEV_MM / np.asarray(total_width_gev(mass_gev_a, epsilon=epsilon)))
