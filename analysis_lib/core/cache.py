"""Results shared between runs: computed once, stored under a key of everything they depend on.

Runs that differ only in what a result does not depend on compute it once (the four lifetimes of the
B -> K a search share their coupling limit, whose lifetime follows from the coupling; the runs of
the two-muon searches share the preselection of their common samples):
:func:`shared_result` stores it in a pickle named by its key, and a run that finds the key reuses
it. A file lock makes a second run that asks while the first computes wait for it instead of
computing it again. The key covers the arrays the result is computed from and the source code of
the library, so a changed input or a changed method computes it again.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import pickle
from pathlib import Path
from typing import Callable

import numpy as np

from .paths import written_atomically

__all__ = ["content_key", "shared_result"]

_PACKAGE = Path(__file__).resolve().parent.parent


@functools.cache
def _code_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def content_key(*parts) -> str:
    """A hash of ``parts`` (arrays, histograms, numbers, strings, and dicts, lists or tuples of them)
    and of the library's source code."""
    digest = hashlib.sha256(_code_version().encode())

    def feed(obj):
        if isinstance(obj, np.ndarray):
            digest.update(str((obj.dtype.str, obj.shape)).encode())
            digest.update(np.ascontiguousarray(obj).tobytes())
        elif hasattr(obj, "axes") and callable(getattr(obj, "values", None)):  # a histogram
            feed([np.asarray(axis.edges) for axis in obj.axes])
            feed(np.asarray(obj.values()))
            feed(None if obj.variances() is None else np.asarray(obj.variances()))
        elif isinstance(obj, dict):
            for k in sorted(obj, key=str):
                feed(str(k))
                feed(obj[k])
        elif isinstance(obj, list | tuple):
            digest.update(f"[{len(obj)}".encode())
            for item in obj:
                feed(item)
        else:
            digest.update(json.dumps(obj, default=str).encode())

    for part in parts:
        feed(part)
    return digest.hexdigest()[:20]


def shared_result(folder: Path, name: str, key: str, compute: Callable):
    """``compute()``, or the result stored for ``key`` in ``folder`` by a run before (``name`` labels
    the file). Two runs asking at once: one computes, the other waits for it and reads its result."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{key}.pkl"
    with open(folder / f".{name}.{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.exists():
                try:
                    with open(path, "rb") as f:
                        return pickle.load(f)
                except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
                    pass  # written by another version of the code, or damaged: computed again
            result = compute()
            with written_atomically(path) as tmp, open(tmp, "wb") as f:
                pickle.dump(result, f)
            return result
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
