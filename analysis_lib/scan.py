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

from .errors import AnalysisError
from .stats import discovery_significance, upper_limit
from .stats.significance import global_significance

__all__ = ["ScanResult", "connect", "scan_limits"]

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
    notes : tuple of str
        Warnings of the limit calculation (e.g. small backgrounds), once each.
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
    notes: tuple = ()

    def global_significance(self, *, reference_level=0.5):
        """Global significance of the largest local excess (Gross-Vitells, see
        :func:`analysis_lib.stats.significance.global_significance`)."""
        return global_significance(self.masses_gev, self.significance, reference_level=reference_level)

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


def connect(address: str, *, timeout_s: float = 30):
    """A client of the dask scheduler at ``address`` to give :func:`scan_limits`, or None when the
    address is empty (the scan then computes in this process).

    The book's runner passes each notebook the address of the cluster that executes it, so that
    the notebook's scan spreads over the same workers.
    """
    if not address:
        return None
    from dask.distributed import Client

    try:
        return Client(address, timeout=timeout_s)
    except OSError as exc:
        raise AnalysisError(
            f"no dask scheduler answers at {address!r} ({exc}); start one there, or give scheduler='' to compute "
            "the scan in this process"
        ) from None


def _limit_at(mass, build, cl):
    """Limit, expected band and local significance at one mass (runs in-process or on a worker)."""
    model, counts = build(mass)
    limit = upper_limit(model, counts, cl=cl)
    return limit, discovery_significance(model, counts)


def scan_limits(masses_gev, build, *, cl: float, progress: bool = True, client=None, quantity="mu",
                unit="") -> ScanResult:
    """CLs upper limits (q~_mu) and local significances at every mass.

    Parameters
    ----------
    masses_gev : array
        Mass hypotheses.
    build : callable
        ``build(mass_gev) -> (model, counts)``; it must be picklable to run on a cluster.
    cl : float
        Confidence level.
    progress : bool
        Show a progress bar (True by default).
    client : dask.distributed.Client, optional
        Spread the masses over this cluster; None (the default) computes in-process. Every mass is
        computed independently and deterministically, so the result does not depend on the number
        of workers.
    """
    masses = np.asarray(masses_gev, dtype=float)
    bar = tqdm(total=len(masses), desc="mass hypotheses", disable=not progress, mininterval=2)
    if client is None:
        points = []
        for mass in masses:
            points.append(_limit_at(mass, build, cl))
            bar.update(1)
    else:
        from dask.distributed import as_completed

        remote_build = client.scatter(build, broadcast=True)
        futures = client.map(_limit_at, masses, build=remote_build, cl=cl, pure=False)
        for _ in as_completed(futures):
            bar.update(1)
        points = client.gather(futures)
    bar.close()
    limits = [p[0] for p in points]
    notes = sorted({limit.note for limit in limits if limit.note})
    for note in notes:
        log.warning("scan: %s", note)
    return ScanResult(
        quantity=quantity, unit=unit, masses_gev=masses,
        observed=np.array([limit.observed for limit in limits]),
        expected=np.array([limit.expected for limit in limits]),
        significance=np.array([p[1] for p in points]),
        cl=cl, method=limits[0].method if limits else "", test_statistic=limits[0].test_statistic if limits else "",
        notes=tuple(notes),
    )
