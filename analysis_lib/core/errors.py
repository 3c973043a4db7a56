"""The small set of exceptions the library raises.

Every message names the value that was received, what was required, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AnalysisError",
    "DiskFullError",
    "EmptySelectionError",
    "KinematicError",
    "NtupleError",
    "ParameterError",
    "disk_full",
    "yaml_problem",
]

import errno
import shutil
from pathlib import Path


class AnalysisError(Exception):
    """Base class of every error raised on purpose by ``analysis_lib``."""


class ParameterError(AnalysisError, ValueError):
    """A run or function parameter is unknown, of the wrong type or outside its allowed range."""


class KinematicError(AnalysisError, ValueError):
    """A mass or energy is outside the kinematically allowed range."""


class NtupleError(AnalysisError, OSError):
    """A ROOT ntuple is missing, truncated, or lacks a required branch."""


class EmptySelectionError(AnalysisError, RuntimeError):
    """No event survived a selection that must keep some."""


class DiskFullError(AnalysisError, OSError):
    """A file could not be written because its disk is full; nothing half-written was kept."""

    def __init__(self, path, what: str = "writing"):
        self.path, self.what = Path(path), what
        free = _free_bytes(self.path)
        super().__init__(
            errno.ENOSPC,
            f"No space left on device while {what} {str(self.path)!r}"
            + (f" ({free / 1e6:.1f} MB free there)" if free is not None else "")
            + "; nothing half-written was kept: free space on that disk (or point DSBOOK_GENERATED_DIR, for "
              "simulated data, or --book at a larger one) and run the command again",
        )

    def __str__(self):
        return self.strerror

    def __reduce__(self):  # raised on a dask worker, it travels back pickled
        return DiskFullError, (self.path, self.what)

    @classmethod
    def of(cls, exc: BaseException, path, what: str = "writing"):
        """The error for ``exc`` (a full disk, :func:`disk_full`): it names the file the failing write
        named where it did, else ``path``."""
        for link in _chain(exc):
            if isinstance(link, DiskFullError):
                return link
            if isinstance(link, OSError) and link.filename:
                return cls(link.filename, "writing")
        return cls(path, what)


def _free_bytes(path: Path) -> int | None:
    for folder in (path, *path.parents):
        try:
            return shutil.disk_usage(folder).free
        except OSError:
            continue
    return None


def disk_full(exc: BaseException) -> bool:
    """True when ``exc``, or an exception it was raised from or during, is a full disk (ENOSPC, or
    a library's message of one)."""
    return any((isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EDQUOT))
               or "No space left on device" in str(link) for link in _chain(exc))


def _chain(exc):
    """``exc`` and the exceptions it was raised from or during, innermost last."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def yaml_problem(exc) -> str:
    """Where and what a YAML parser's error is, in one line ("line 3, column 5: ...")."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem
