"""The small set of exceptions the library raises.

Every message names the value that was received, what was required, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AnalysisError",
    "EmptySelectionError",
    "KinematicError",
    "NtupleError",
    "ParameterError",
]


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
