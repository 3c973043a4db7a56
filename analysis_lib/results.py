"""The files every run writes: ``limits.csv`` (long form) and ``meta.json``, written atomically."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from pathlib import Path

import pandas as pd

__all__ = ["LIMIT_COLUMNS", "package_versions", "write_limits", "write_meta"]

LIMIT_COLUMNS = [
    "quantity", "unit", "mass_gev", "observed",
    "expected_minus2", "expected_minus1", "expected", "expected_plus1", "expected_plus2",
]

_PACKAGES = ["numpy", "scipy", "awkward", "uproot", "hist", "iminuit", "pyhf", "particle", "vector",
             "mplhep", "matplotlib", "papermill", "jupyter-book"]


def _atomic_write_text(path: Path, text: str):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_limits(results, path):
    """Write scan results (:class:`analysis_lib.scan.ScanResult`) as one long-form CSV table."""
    frame = pd.concat([r.to_frame() for r in results], ignore_index=True)
    extra = [c for c in frame.columns if c not in LIMIT_COLUMNS]
    _atomic_write_text(path, frame[LIMIT_COLUMNS[:3] + extra + LIMIT_COLUMNS[3:]].to_csv(index=False))
    return frame


def package_versions() -> dict:
    """Versions of Python and of the packages the results depend on."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_meta(path, **fields):
    """Write ``meta.json`` with the given fields and the package versions."""
    payload = dict(fields)
    payload["package_versions"] = package_versions()
    _atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str))
