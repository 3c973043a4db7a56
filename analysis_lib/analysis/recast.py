"""Recasting: a chapter's limits on a rate as limits on another model's coupling, from the signal
efficiencies its runs store, without simulating again.

A run's limit on a rate R (say B(B+ -> K+ a) B(a -> gamma gamma)) at a mass is the limit on the
number of selected signal events divided by what one unit of R gives: R_lim = N_up / (N epsilon).
Another model changes the rate (its couplings) and, where the particle is long-lived, the
efficiency through the lifetime; the data, backgrounds and selection stay. So

    R_lim(m, c tau) = P(m) / epsilon(m, c tau),    P(m) = R_lim,run(m) epsilon(m, c tau_run),

with epsilon from the run's ``efficiencies.csv`` (the selection's efficiency versus mass, and versus
c tau where the chapter reweights its simulated decays). Where several runs exist at different
lifetimes (the BaBar B -> K a chapter's four), P is taken from them and interpolated across their
lifetimes (:func:`rate_limits_on_grid`): its small dependence on the lifetime (the signal peak's
shape) is followed, not assumed away. A coupling whose rate and lifetime both follow from it is then
limited where the rate reaches the limit at its own lifetime (:func:`coupling_limits`, the root of
:func:`analysis_lib.analysis.lifetime.coupling_limit`).

The approximation: the limit on selected events is the run's (the same likelihood), which holds for
a model with the same signal kinematics (mass, production and decay), whatever its rate and
lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..core.errors import ParameterError
from .lifetime import coupling_limit
from .results import LimitScan

__all__ = ["EFFICIENCY_COLUMNS", "RateGrid", "coupling_limits", "efficiency_at", "rate_limits_on_grid",
           "read_efficiencies"]

#: The columns every ``efficiencies.csv`` has (a column per model parameter it varies with may follow
#: ``mass_gev``, e.g. ``ctau_mm``).
EFFICIENCY_COLUMNS = ("quantity", "mass_gev", "efficiency")


def read_efficiencies(folder) -> pd.DataFrame:
    """The signal efficiencies a run wrote (``<folder>/efficiencies.csv``); a
    :class:`~analysis_lib.core.errors.ParameterError` naming the file when it is missing or lacks a
    column."""
    path = Path(folder) / "efficiencies.csv"
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ParameterError(f"no signal efficiencies in {path} ({exc}); run the chapter again "
                             "(its runs write them)") from exc
    missing = [c for c in EFFICIENCY_COLUMNS if c not in table]
    if missing:
        raise ParameterError(f"{path} lacks the columns {missing}; its columns are {list(table.columns)}")
    return table


def _ctau_weights(ctaus, ctau_mm) -> tuple[int, int, float]:
    """Where ``ctau_mm`` falls among increasing ``ctaus`` (the first may be 0, prompt): the two
    neighbours and the weight of the second, linear in c tau between prompt and the first lifetime,
    linear in log c tau above, held at the ends beyond them."""
    ctaus = np.asarray(ctaus, dtype=float)
    if len(ctaus) == 1 or ctau_mm <= ctaus[0]:
        return 0, 0, 0.0
    if ctau_mm >= ctaus[-1]:
        return len(ctaus) - 1, len(ctaus) - 1, 0.0
    k = int(np.searchsorted(ctaus, ctau_mm, side="right")) - 1  # ctaus[k] <= ctau < ctaus[k + 1]
    low, high = ctaus[k], ctaus[k + 1]
    if low == 0.0:
        return k, k + 1, float(ctau_mm / high)
    return k, k + 1, float(np.log(ctau_mm / low) / np.log(high / low))


def _in_log_ctau(ctaus, values, ctau_mm):
    """``values`` (along the first axis, at ``ctaus``) interpolated at ``ctau_mm`` (:func:`_ctau_weights`)."""
    k0, k1, w = _ctau_weights(ctaus, ctau_mm)
    values = np.asarray(values, dtype=float)
    return (1.0 - w) * values[k0] + w * values[k1]


def _efficiency_grid(table: pd.DataFrame, masses) -> tuple[np.ndarray, np.ndarray]:
    """The lifetimes of ``table`` (``[0.0]`` without a ``ctau_mm`` column) and its efficiencies at
    ``masses`` for each (linear between the simulated masses, NaN outside them)."""
    masses = np.asarray(masses, dtype=float)
    groups = table.groupby("ctau_mm") if "ctau_mm" in table else [(0.0, table)]
    ctaus, rows = [], []
    for ctau, group in groups:
        group = group.sort_values("mass_gev")
        ctaus.append(float(ctau))
        rows.append(np.interp(masses, group["mass_gev"].to_numpy(float), group["efficiency"].to_numpy(float),
                              left=np.nan, right=np.nan))
    order = np.argsort(ctaus)
    return np.asarray(ctaus)[order], np.asarray(rows)[order]


def efficiency_at(table: pd.DataFrame, mass_gev, ctau_mm: float | None = None):
    """The efficiency of ``table`` (one quantity's rows of :func:`read_efficiencies`) at ``mass_gev``
    (linear between the simulated masses; NaN outside them) and, where the table has a ``ctau_mm``
    column, at ``ctau_mm`` (linear in c tau up to its first lifetime, in log c tau above).

    Examples
    --------
    >>> t = pd.DataFrame({"quantity": "r", "mass_gev": [1.0, 2.0, 1.0, 2.0], "ctau_mm": [0.0, 0.0, 10.0, 10.0],
    ...                   "efficiency": [0.2, 0.4, 0.1, 0.2]})
    >>> round(float(efficiency_at(t, 1.5, 5.0)), 6), round(float(efficiency_at(t, 1.5, 0.0)), 6)
    (0.225, 0.3)
    """
    if "ctau_mm" in table and ctau_mm is None:
        raise ParameterError("these efficiencies vary with c tau: give ctau_mm")
    ctaus, grid = _efficiency_grid(table, np.atleast_1d(mass_gev))
    values = _in_log_ctau(ctaus, grid, 0.0 if ctau_mm is None else ctau_mm)
    return values if np.ndim(mass_gev) else values[0]


@dataclass(frozen=True)
class RateGrid:
    """Rate limits on a grid of lifetimes at each mass: ``limits[i, k, c]`` at ``masses_gev[i]``,
    ``ctau_grid_mm[k]``, column c (observed, then the five expected quantiles); ``inf`` where the
    selection keeps no signal at that lifetime. ``scan`` is the run whose conventions (CL, method,
    dataset) the recast limits carry."""

    masses_gev: np.ndarray
    ctau_grid_mm: np.ndarray
    limits: np.ndarray
    scan: LimitScan


def rate_limits_on_grid(runs, *, masses_gev=None) -> RateGrid:
    """Rate limits versus mass and lifetime from runs at several lifetimes: ``runs`` are
    (c tau of the run in mm, its rate :class:`LimitScan`, its efficiency table, with a ``ctau_mm``
    column where it varies with the lifetime). At each mass (``masses_gev``, by default the first
    run's), P = limit x efficiency at the run's own lifetime is interpolated across the runs'
    lifetimes (in log P), and divided by the efficiency at each lifetime of the tables' grid (the
    module's formula)."""
    runs = sorted(runs, key=lambda run: run[0])
    if not runs:
        raise ParameterError("recasting needs at least one run with its rate limits and efficiencies")
    lifetimes = [run[0] for run in runs]
    if len(set(lifetimes)) != len(lifetimes):
        raise ParameterError(f"two runs at one lifetime among c tau = {lifetimes} mm: give one run per lifetime "
                             "(of one dataset, selection and seed)")
    masses = np.asarray(runs[0][1].masses_gev if masses_gev is None else masses_gev, dtype=float)
    run_ctaus = np.array([run[0] for run in runs], dtype=float)
    log_products = np.full((len(runs), len(masses), 6), np.nan)
    for j, (ctau, scan, table) in enumerate(runs):
        values = np.column_stack([scan.observed, scan.expected])
        order = np.argsort(scan.masses_gev)
        efficiency = efficiency_at(table, masses, ctau if "ctau_mm" in table else None)
        with np.errstate(divide="ignore", invalid="ignore"):
            for c in range(6):
                log_limit = np.interp(masses, np.asarray(scan.masses_gev)[order], np.log(values[order, c]),
                                      left=np.nan, right=np.nan)
                log_products[j, :, c] = log_limit + np.log(efficiency)
    ctau_grid, efficiencies = _efficiency_grid(runs[0][2], masses)  # (lifetimes, masses)
    limits = np.full((len(masses), len(ctau_grid), 6), np.inf)
    for i in range(len(masses)):
        for c in range(6):
            ok = np.isfinite(log_products[:, i, c])
            if not ok.any():
                continue
            for k, ctau in enumerate(ctau_grid):
                if np.isfinite(efficiencies[k, i]) and efficiencies[k, i] > 0:
                    log_p = _in_log_ctau(run_ctaus[ok], log_products[ok, i, c], ctau)
                    limits[i, k, c] = np.exp(log_p) / efficiencies[k, i]
    return RateGrid(masses_gev=masses, ctau_grid_mm=ctau_grid, limits=limits, scan=runs[0][1])


def coupling_limits(grid: RateGrid, *, rate: Callable, ctau_mm: Callable, quantity: str, unit: str, model: dict,
                    no_limit: float | None = None, g_range=(1e-9, 1e-1)) -> LimitScan:
    """Limits on a coupling g whose rate ``rate(mass, g)`` and proper decay length ``ctau_mm(mass, g)``
    both follow from it, at the masses of ``grid``: observed and expected, with the conventions of the
    grid's runs and the recast model's parameters ``model``.

    At a lifetime where the selection keeps no signal the rate limit is ``no_limit`` (a rate far
    above any the model reaches, as the chapter's own coupling limit takes it: the coupling is then
    excluded nowhere near that lifetime); by default a million times the largest finite rate limit at
    that mass. A grid of one lifetime (efficiencies that do not vary with it) limits the rate alone."""
    out = np.full((len(grid.masses_gev), 6), np.nan)
    ctaus = grid.ctau_grid_mm if len(grid.ctau_grid_mm) > 1 else np.array([0.0, 1.0])
    for i, m in enumerate(grid.masses_gev):
        for c in range(6):
            limits = grid.limits[i, :, c]
            finite = np.isfinite(limits)
            if not finite.any():
                continue
            cap = no_limit if no_limit is not None else 1e6 * limits[finite].max()
            limits = np.where(finite, limits, cap)
            if len(limits) == 1:
                limits = np.repeat(limits, 2)
            out[i, c] = coupling_limit(ctaus, limits, rate=lambda g, m=m: rate(m, g),
                                       ctau_mm=lambda g, m=m: ctau_mm(m, g), g_range=g_range)
    scan = grid.scan
    return replace(scan, quantity=quantity, unit=unit, masses_gev=grid.masses_gev, observed=out[:, 0],
                   expected=out[:, 1:], significance=None, masses2_gev=None, workspaces=(),
                   method=f"{scan.method}; recast from the stored efficiencies (analysis_lib.analysis.recast)",
                   model=dict(model), notes=scan.notes + ("recast without simulating again",))
