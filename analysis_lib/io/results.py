"""The files every run writes: ``limits.csv`` (long form) and ``meta.json``, written atomically; and
``workspaces.zip``, the pyhf workspaces of its hypotheses, where its scans made them.

Both are made from the run's results (:class:`analysis_lib.analysis.results.LimitScan`, read here
through their fields) and its validated parameters alone, with the same fields for every channel.
The columns of ``limits.csv`` are frozen: new ones may be added, none renamed or removed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import zipfile
from pathlib import Path

import pandas as pd

from ..core.paths import written_atomically

__all__ = ["LIMIT_COLUMNS", "package_versions", "run_meta", "write_efficiencies", "write_limits", "write_meta",
           "write_sensitivity", "write_workspaces"]

LIMIT_COLUMNS = [
    "quantity", "unit", "mass_gev", "observed",
    "expected_minus2", "expected_minus1", "expected", "expected_plus1", "expected_plus2",
]

_PACKAGES = ["numpy", "scipy", "awkward", "uproot", "hist", "iminuit", "pyhf", "particle", "vector",
             "mplhep", "matplotlib", "papermill", "jupyter-book"]


def _atomic_write_text(path: Path, text: str):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_atomically(path) as tmp:
        tmp.write_text(text)


def write_limits(results, path):
    """Write limit scans (:class:`analysis_lib.analysis.results.LimitScan`) as one long-form CSV table
    with the columns :data:`LIMIT_COLUMNS` (``mass2_gev`` after ``mass_gev`` where a scan has two masses)."""
    frame = pd.concat([r.to_frame() for r in results], ignore_index=True)
    extra = [c for c in frame.columns if c not in LIMIT_COLUMNS]
    _atomic_write_text(path, frame[LIMIT_COLUMNS[:3] + extra + LIMIT_COLUMNS[3:]].to_csv(index=False))
    return frame


def write_sensitivity(sensitivity, path) -> pd.DataFrame:
    """``sensitivity.csv``: the expected limits versus luminosity of a run
    (:meth:`analysis_lib.analysis.sensitivity.Sensitivity.to_frame`), written atomically."""
    frame = sensitivity.to_frame()
    _atomic_write_text(Path(path), frame.to_csv(index=False))
    return frame


def write_efficiencies(table, path):
    """``efficiencies.csv``: the signal efficiencies a run's rate limits come from (a DataFrame with
    the columns ``quantity``, ``mass_gev``, any model parameter such as ``ctau_mm``, ``efficiency``),
    written atomically; nothing for None."""
    if table is None:
        return None
    missing = [c for c in ("quantity", "mass_gev", "efficiency") if c not in table]
    if missing:
        raise ValueError(f"an efficiency table needs the columns quantity, mass_gev and efficiency; {missing} missing")
    _atomic_write_text(Path(path), table.to_csv(index=False))
    return table


def package_versions() -> dict:
    """Versions of Python and of the packages the results depend on."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _one(values, name):
    values = sorted({json.dumps(v, sort_keys=True, default=str) for v in values})
    if len(values) != 1:
        raise ValueError(f"the results of one run disagree on {name}: {values}")
    return json.loads(values[0])


def run_meta(results, parameters: dict, *, channel: str, scan_workers: int = 0) -> dict:
    """The fields of ``meta.json``: the run's channel, dataset and conventions (from its results, which
    must agree on them), one entry per quantity (unit, method, test statistic, masses, model
    parameters, notes), the validated parameters and the package versions."""
    results = list(results)
    if not results:
        raise ValueError("a run without results has no meta.json")
    quantities = [{
        "quantity": r.quantity, "unit": r.unit, "method": r.method, "test_statistic": r.test_statistic,
        "n_mass_points": len(r.masses_gev), "two_masses": r.masses2_gev is not None,
        "mass_name": r.mass_name, "mass2_name": r.mass2_name,
        "model": dict(r.model), "notes": list(r.notes),
    } for r in results]
    return {
        "channel": channel,
        "dataset": _one([r.dataset for r in results], "the dataset"),
        "experiment": _one([r.experiment for r in results], "the experiment"),
        "luminosity_fb": _one([r.luminosity_fb for r in results], "the luminosity"),
        "projection": _one([r.projection for r in results], "projection"),
        "data_source": _one([r.data_source for r in results], "the data source"),
        "pseudo_data": _one([bool(r.pseudo_data) for r in results], "whether the data are pseudo-data"),
        "confidence_level": _one([r.cl for r in results], "the confidence level"),
        "method": results[0].method,
        "test_statistic": results[0].test_statistic,
        "n_mass_points": len(results[0].masses_gev),
        "seed": parameters.get("seed"),
        "parameters": dict(parameters),
        "quantities": quantities,
        "scan_workers": scan_workers,
        "package_versions": package_versions(),
    }


def write_meta(path, results, parameters: dict, *, channel: str, scan_workers: int = 0) -> dict:
    """Write ``meta.json`` (the fields of :func:`run_meta`); returns them."""
    payload = run_meta(results, parameters, channel=channel, scan_workers=scan_workers)
    _atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str))
    return payload


def write_workspaces(results, path) -> Path | None:
    """Write the pyhf workspaces of the results' hypotheses (:attr:`LimitScan.workspaces`) into one zip
    file, atomically: ``<quantity>/<masses>.json`` for each (once, where several results are
    conversions of one scan), and ``index.json`` naming for every file its masses, the results that
    come from it (quantity, unit, CL, method), the dataset and luminosity, what the workspace was
    converted from (its metadata) and the re-creation caveat. None (and nothing written) when no
    result has workspaces."""
    results = [r for r in results if r.workspaces]
    if not results:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    entries = {}  # id of the workspace -> its index entry
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for r in results:
            masses2 = r.masses2_gev if r.masses2_gev is not None else [None] * len(r)
            for m, m2, (spec, metadata) in zip(r.masses_gev, masses2, r.workspaces):
                use = {"quantity": r.quantity, "unit": r.unit, "confidence_level": r.cl, "method": r.method}
                if id(spec) in entries:
                    entries[id(spec)]["results"].append(use)
                    continue
                label = f"{r.mass_name}_{m:.4f}" + ("" if m2 is None else f"_{r.mass2_name}_{m2:.4f}")
                name = f"{r.quantity}/{label}.json".replace("'", "p")
                archive.writestr(name, json.dumps(spec, indent=1))
                entries[id(spec)] = {
                    "file": name, "mass_gev": float(m), **({} if m2 is None else {"mass2_gev": float(m2)}),
                    "results": [use], "dataset": r.dataset, "experiment": r.experiment,
                    "luminosity_fb": r.luminosity_fb, "pseudo_data": r.pseudo_data, "metadata": metadata,
                }
        archive.writestr("index.json", json.dumps({
            "format": "pyhf JSON workspaces, schema 1.0.0",
            "poi": "mu, the signal strength of the hypothesis in units of its reference signal; each result's limit "
                   "is the limit on mu through the chapter's conversion to its quantity",
            "caveat": "a simulation re-creation: the observations are seeded pseudo-data where pseudo_data is true, "
                      "and every template comes from this project's simulation, not from the experiment",
            "workspaces": list(entries.values())}, indent=1))
    os.replace(tmp, path)
    return path
