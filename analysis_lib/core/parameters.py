"""Declared run parameters: name, type, default, allowed range, and their validation.

A channel declares its parameters once (a tuple of :class:`Parameter`); the runner validates every
run against that declaration before anything executes, and the notebook's ``parameters`` cell holds
the same defaults (a test checks that they agree).

Examples
--------
>>> decl = (Parameter("seed", int, 1, "random seed", minimum=0),)
>>> validate(decl, {"seed": 4})
{'seed': 4}
>>> validate(decl, {"sed": 4})
Traceback (most recent call last):
...
analysis_lib.core.errors.ParameterError: unknown parameter 'sed'; known parameters: ['seed']
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Any, Callable

from .errors import ParameterError

__all__ = ["EXECUTION_PARAMETERS", "LUMINOSITY_SCAN", "SEED", "Parameter", "mass_range", "validate"]


@dataclass(frozen=True)
class Parameter:
    """One run parameter.

    Attributes
    ----------
    name : str
    type : type
        ``int``, ``float``, ``str``, ``bool`` or ``list`` (of floats).
    default : Any
    doc : str
        One line for the book and for error messages.
    minimum, maximum : float, optional
        Inclusive bounds for numbers (for lists: of every element).
    choices : callable or sequence, optional
        Allowed values of a string (a callable returns them when asked, e.g. the registered
        datasets).
    depends : callable, optional
        ``depends(values) -> (minimum, maximum)``: bounds that depend on other parameters (e.g. a
        mass range fixed by the dataset's sqrt(s)).
    """

    name: str
    type: type
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: Callable | tuple | None = None
    depends: Callable | None = None

    def allowed(self, values=None) -> str:
        """The allowed values, in words."""
        if self.choices is not None:
            return f"one of {sorted(self._choices())}"
        lo, hi = self._bounds(values or {})
        parts = [self.type.__name__ if self.type is not list else "list of numbers"]
        if lo is not None:
            parts.append(f">= {lo:g}")
        if hi is not None:
            parts.append(f"<= {hi:g}")
        return " ".join(parts)

    def _choices(self):
        return self.choices() if callable(self.choices) else self.choices

    def _bounds(self, values):
        lo, hi = self.minimum, self.maximum
        if self.depends is not None:
            try:
                dlo, dhi = self.depends(values)
            except ParameterError:
                dlo, dhi = None, None
            lo = dlo if dlo is not None else lo
            hi = dhi if dhi is not None else hi
        return lo, hi

    def check(self, value, values):
        """The value converted to the declared type; :class:`ParameterError` when not allowed."""
        where = f"parameter {self.name!r}"
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type in (float, list):
            items = value if self.type is list and isinstance(value, list | tuple) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in items):
                raise ParameterError(f"{where} = {value!r} is not a finite number; give a finite value ({self.doc})")
        if self.type is list:
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value
            ):
                raise ParameterError(f"{where} = {value!r} must be a list of numbers ({self.doc})")
            value = [float(v) for v in value]
            items = value
        else:
            if not isinstance(value, self.type) or (self.type is not bool and isinstance(value, bool)):
                raise ParameterError(
                    f"{where} = {value!r} has type {type(value).__name__}, but {self.type.__name__} is "
                    f"required ({self.doc})"
                )
            items = [value]
        if self.choices is not None and value not in self._choices():
            raise ParameterError(f"{where} = {value!r} is not allowed; use {self.allowed(values)}")
        lo, hi = self._bounds(values)
        for item in items if self.type in (int, float, list) else []:
            if (lo is not None and item < lo) or (hi is not None and item > hi):
                raise ParameterError(
                    f"{where} = {value!r} is outside its allowed range: {self.allowed(values)} ({self.doc})"
                )
        return value


def validate(declaration, values: dict, *, context: str = "") -> dict:
    """All declared parameters, with ``values`` checked and defaults filled in.

    Unknown names, wrong types and out-of-range values raise :class:`ParameterError`, prefixed
    with ``context`` (e.g. the run id).
    """
    prefix = f"{context}: " if context else ""
    known = {p.name: p for p in declaration}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterError(
            f"{prefix}unknown parameter {unknown[0]!r}; known parameters: {sorted(known)}"
        )
    merged = {p.name: values.get(p.name, p.default) for p in declaration}
    out = {}
    # parameters without dependencies first, so that bounds can use them
    for p in sorted(declaration, key=lambda p: p.depends is not None):
        try:
            out[p.name] = p.check(merged[p.name], {**merged, **out})
        except ParameterError as exc:
            raise ParameterError(f"{prefix}{exc}") from None
    for name in out:  # every range given as <prefix>_min_... and <prefix>_max_... must be increasing
        if "_min_" in name and (upper := name.replace("_min_", "_max_", 1)) in out and out[name] >= out[upper]:
            raise ParameterError(f"{prefix}parameter {name!r} = {out[name]!r} is not below {upper!r} = "
                                 f"{out[upper]!r}; give a range whose lower end is below its upper end")
    return {p.name: out[p.name] for p in declaration}


def mass_range(particle: str, defaults: tuple, *, prefix: str = "mass", bounds: tuple | None = None,
               depends: Callable | None = None) -> tuple:
    """The two parameters ``<prefix>_min_gev`` and ``<prefix>_max_gev`` of a scan's mass range, with
    ``defaults`` (low, high) and allowed values within ``bounds`` (low, high) or ``depends`` (bounds
    that follow other parameters, e.g. the dataset's sqrt(s))."""
    low, high = bounds if bounds is not None else (None, None)
    return tuple(Parameter(f"{prefix}_{end}_gev", float, default, f"{word} {particle} mass of the scan, GeV",
                           minimum=low, maximum=high, depends=depends)
                 for end, word, default in (("min", "lowest", defaults[0]), ("max", "highest", defaults[1])))


#: The seed of a run's simulation and pseudo-data, a parameter of every channel.
SEED = Parameter("seed", int, 1, "random seed of the simulation and pseudo-data", minimum=0)

#: Whether a run computes its expected limits versus luminosity (0.1 fb^-1 to 50 ab^-1: the run's
#: likelihoods, with its selection, scaled to each luminosity), a parameter of every channel. A
#: projection run whose chapter draws the curve in its run at the published luminosity may leave it
#: out: its own limits are the projection, with the selection chosen at its luminosity.
LUMINOSITY_SCAN = Parameter("luminosity_scan", bool, True, "compute the expected limits versus luminosity, "
                            "0.1 fb^-1 to 50 ab^-1, from this run's likelihoods (False: a projection run whose "
                            "chapter draws them in its run at the published luminosity)")

#: Parameters of every notebook that the runner sets for each execution. They say where and how a
#: run executes, not what it computes: they are not part of a run's identity or cache key, and a
#: runs file may not set them.
EXECUTION_PARAMETERS = (
    Parameter("output_dir", str, ".", "folder for limits.csv, meta.json and figures (the runner: the run's folder)"),
    Parameter("scheduler", str, "", "address of a dask scheduler to spread the mass scan over ('': in the kernel)"),
)
