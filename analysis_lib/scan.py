"""Scans of upper limits over mass hypotheses, and their typed results.

A channel supplies ``build(mass) -> (BinnedModel, counts)``; :func:`scan_limits` computes the
CLs limit, its expected band and the local significance at every mass. The result carries its
conventions (confidence level, method, test statistic, quantity and unit), and converts to other
quantities with :meth:`ScanResult.transform` (e.g. signal strength -> cross section -> coupling).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .stats import discovery_significance, upper_limit

__all__ = ["ScanResult", "scan_limits"]

log = logging.getLogger(__name__)

_BAND_COLUMNS = ["expected_minus2", "expected_minus1", "expected", "expected_plus1", "expected_plus2"]


@dataclass(frozen=True)
class ScanResult:
    """Upper limits versus mass.

    Attributes
    ----------
    quantity, unit : str
        What is limited (e.g. ``"sigma"``, ``"pb"``).
    masses_gev : array (n,)
    observed : array (n,)
    expected : array (n, 5)
        Expected limits at -2, -1, 0, +1, +2 standard deviations.
    significance : array (n,)
        Local significance of an excess at each mass (0 where the fit prefers no signal).
    cl : float
    method, test_statistic : str
    """

    quantity: str
    unit: str
    masses_gev: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    significance: np.ndarray
    cl: float
    method: str
    test_statistic: str

    def transform(self, function, *, quantity: str, unit: str) -> ScanResult:
        """Apply an increasing ``function(mass_gev, value)`` to every limit."""
        m = self.masses_gev
        return replace(
            self,
            quantity=quantity,
            unit=unit,
            observed=function(m, self.observed),
            expected=function(m[:, None], self.expected),
        )

    def to_frame(self) -> pd.DataFrame:
        """Long-form table with the columns of ``limits.csv``."""
        frame = pd.DataFrame({"quantity": self.quantity, "unit": self.unit, "mass_gev": self.masses_gev,
                              "observed": self.observed})
        for i, column in enumerate(_BAND_COLUMNS):
            frame[column] = self.expected[:, i]
        return frame


def scan_limits(masses_gev, build, *, cl: float, progress: bool = True, quantity="mu", unit="") -> ScanResult:
    """CLs upper limits (asymptotic, q~_mu) and local significances at every mass.

    Parameters
    ----------
    masses_gev : array
        Mass hypotheses.
    build : callable
        ``build(mass_gev) -> (BinnedModel, counts)``.
    cl : float
        Confidence level.
    progress : bool
        Show a progress bar (True by default).
    """
    masses = np.asarray(masses_gev, dtype=float)
    observed = np.empty(len(masses))
    expected = np.empty((len(masses), 5))
    significance = np.empty(len(masses))
    method = test_statistic = ""
    for i, mass in enumerate(tqdm(masses, desc="mass hypotheses", disable=not progress, mininterval=2)):
        model, counts = build(mass)
        limit = upper_limit(model, counts, cl=cl)
        observed[i] = limit.observed
        expected[i] = limit.expected
        significance[i] = discovery_significance(model, counts)
        method, test_statistic = limit.method, limit.test_statistic
    return ScanResult(
        quantity=quantity, unit=unit, masses_gev=masses, observed=observed, expected=expected,
        significance=significance, cl=cl, method=method, test_statistic=test_statistic,
    )
