"""The look-elsewhere effect: the global significance of the largest local excess of a scan.

E. Gross and O. Vitells, "Trial factors for the look elsewhere effect in high energy physics",
Eur. Phys. J. C 70 (2010) 525, arXiv:1005.1891: for the one-sided discovery statistic q0 (half a
chi-square with one degree of freedom, asymptotically), the probability that its maximum over the
scan exceeds c is

    P(max q0 > c) ~ P(chi2_1 > c) / 2 + <N(c0)> exp(-(c - c0) / 2),

with <N(c0)> the mean number of up-crossings of a low reference level c0 by q0 under the
background-only hypothesis (their Eqs. (2) and (5) with one degree of freedom). <N(c0)> is
estimated by counting up-crossings in the scan itself (or averaged over background-only scans);
a low c0 gives more crossings and a better estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2, norm

__all__ = ["GlobalSignificance", "global_significance", "upcrossings"]


@dataclass(frozen=True)
class GlobalSignificance:
    """The largest local excess of a scan and its global significance."""

    mass_gev: float
    local_z: float
    local_p: float
    global_p: float
    global_z: float
    upcrossings: float
    reference_level: float
    method: str = "Gross-Vitells"


def upcrossings(q0, level):
    """Number of times the sequence ``q0`` crosses ``level`` upwards."""
    above = np.asarray(q0) > level
    return int(np.sum(~above[:-1] & above[1:]))


def global_significance(masses_gev, local_z, *, reference_level=0.5, mean_upcrossings=None) -> GlobalSignificance:
    """Global significance of the largest local significance of a scan (Gross-Vitells).

    Parameters
    ----------
    masses_gev, local_z : arrays
        The scan: masses and local significances (0 where the fit prefers no signal).
    reference_level : float
        The level c0 of q0 = Z^2 whose up-crossings are counted (0.5 by default).
    mean_upcrossings : float, optional
        <N(c0)> from background-only scans; None (the default) counts them in this scan.

    Examples
    --------
    A single local 3 sigma excess in a scan with 4 crossings of q0 = 0.5 is about 1.5 sigma globally:

    >>> z = [0.0, 0.9, 0.0, 0.8, 0.0, 3.0, 0.0, 1.0, 0.0]
    >>> r = global_significance(range(9), z)
    >>> r.upcrossings, round(r.global_z, 2)
    (4, 1.57)
    """
    z = np.clip(np.asarray(local_z, dtype=float), 0, None)
    q0 = z**2
    i = int(np.argmax(z))
    n = upcrossings(q0, reference_level) if mean_upcrossings is None else float(mean_upcrossings)
    c = q0[i]
    p_local = float(norm.sf(z[i]))
    p_global = float(min(chi2.sf(c, 1) / 2 + n * np.exp(-(c - reference_level) / 2), 1.0))
    p_global = max(p_global, p_local)
    return GlobalSignificance(
        mass_gev=float(np.asarray(masses_gev, dtype=float)[i]), local_z=float(z[i]), local_p=p_local,
        global_p=p_global, global_z=float(max(norm.isf(p_global), 0.0)), upcrossings=n,
        reference_level=reference_level,
    )
