"""Interpolation of systematic variations between their -1, 0 and +1 standard-deviation templates.

A systematic uncertainty is given by its nominal template and the templates at alpha = +1 and -1
(one standard deviation up and down); in between and beyond, the template is interpolated in
alpha. The codes are those of HistFactory (K. Cranmer, G. Lewis, L. Moneta, A. Shibata, W. Verkerke,
"HistFactory: A tool for creating statistical models for use with RooFit and RooStats",
CERN-OPEN-2012-016, section on interpolation and extrapolation) as pyhf names them:

* additive codes, on the difference to the nominal template (``histosys``): ``code0`` piecewise
  linear; ``code2`` quadratic for |alpha| <= 1 and linear beyond, continuous in value and slope
  (as HistFactory defines it; pyhf 0.7.6's ``code2`` leaves out the value at +-1 beyond |alpha| = 1
  and jumps there, so workspaces using it agree with pyhf only inside |alpha| <= 1);
  ``code4p`` linear for |alpha| > 1 and, inside, the polynomial of degree 6 through 0 at alpha = 0
  that joins the linear pieces with continuous first and second derivatives;
* multiplicative codes, on a normalisation factor (``normsys``): ``code1`` exponential,
  hi^alpha above 0 and lo^-alpha below; ``code4`` exponential for |alpha| > 1 and, inside, the
  polynomial 1 + sum_{i=1..6} a_i alpha^i that joins the exponentials with continuous first and
  second derivatives at alpha = +-1 (the a_i solve that 6 x 6 linear system; derived here from those
  six conditions, not copied).

Every function returns the interpolated value and its derivative in alpha (the likelihoods'
gradients need it), broadcast over alpha (K, 1) and the templates (n,).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import ParameterError

__all__ = ["ADDITIVE_CODES", "MULTIPLICATIVE_CODES", "additive", "multiplicative"]

ADDITIVE_CODES = ("code0", "code2", "code4p")
MULTIPLICATIVE_CODES = ("code1", "code4")


def _polynomial_system():
    """The 6 x 6 matrix of the conditions on a_1..a_6 of p(alpha) = sum a_i alpha^i at alpha = +1, -1:
    value, first and second derivative (rows in that order, +1 then -1)."""
    i = np.arange(1, 7)
    rows = []
    for x in (1.0, -1.0):
        rows.append(x**i)
        rows.append(i * x ** (i - 1))
        rows.append(i * (i - 1) * x ** np.maximum(i - 2, 0))
    return np.array(rows)


_INVERSE = np.linalg.inv(_polynomial_system())
_POWERS = np.arange(1, 7)


def _polynomial(coefficients, alpha):
    """p(alpha) = sum_i a_i alpha^i and p'(alpha) for coefficients (6, n) and alpha (K, 1): (K, n) each."""
    value = sum(a * alpha**power for a, power in zip(coefficients, _POWERS, strict=True))
    slope = sum(power * a * alpha ** (power - 1) for a, power in zip(coefficients, _POWERS, strict=True))
    return value, slope


def additive(code: str, alpha, up, down):
    """The shift of a template at ``alpha`` and its derivative, for ``up`` = hi - nominal and
    ``down`` = nominal - lo (arrays of n bins); alpha of shape (K, 1). Returns two (K, n) arrays."""
    alpha = np.asarray(alpha, dtype=float)
    up, down = np.atleast_1d(np.asarray(up, dtype=float)), np.atleast_1d(np.asarray(down, dtype=float))
    if code == "code0":
        slope = np.where(alpha >= 0, up, down)
        return alpha * slope, np.broadcast_to(slope, np.broadcast_shapes(alpha.shape, up.shape))
    if code == "code2":
        a, b = (up - down) / 2, (up + down) / 2
        inside = a * alpha**2 + b * alpha
        above = up + (2 * a + b) * (alpha - 1)
        below = -down + (b - 2 * a) * (alpha + 1)
        value = np.where(alpha > 1, above, np.where(alpha < -1, below, inside))
        slope = np.where(alpha > 1, 2 * a + b, np.where(alpha < -1, b - 2 * a, 2 * a * alpha + b))
        return value, np.broadcast_to(slope, value.shape)
    if code == "code4p":
        # conditions at +1: value up, slope up, curvature 0; at -1: value -down, slope down, curvature 0
        rhs = np.stack([up, up, np.zeros_like(up), -down, down, np.zeros_like(up)])
        inside, inside_slope = _polynomial(_INVERSE @ rhs, np.clip(alpha, -1, 1))
        linear = np.where(alpha >= 0, up, down)
        outside = np.abs(alpha) > 1
        return np.where(outside, alpha * linear, inside), np.where(outside, linear, inside_slope)
    raise ParameterError(f"additive interpolation code {code!r} is not known; use one of {ADDITIVE_CODES}")


def multiplicative(code: str, alpha, hi, lo):
    """A normalisation factor at ``alpha`` and its derivative, for the factors ``hi`` at +1 and
    ``lo`` at -1 (positive; arrays of n entries); alpha of shape (K, 1). Returns two (K, n) arrays."""
    alpha = np.asarray(alpha, dtype=float)
    hi, lo = np.atleast_1d(np.asarray(hi, dtype=float)), np.atleast_1d(np.asarray(lo, dtype=float))
    if np.any(hi <= 0) or np.any(lo <= 0):
        raise ParameterError(f"normalisation factors hi={hi.tolist()}, lo={lo.tolist()} must be positive")
    log_hi, log_lo = np.log(hi), np.log(lo)
    exponential = np.where(alpha >= 0, hi**alpha, lo ** (-alpha))
    exponential_slope = np.where(alpha >= 0, log_hi, -log_lo) * exponential
    if code == "code1":
        return exponential, exponential_slope
    if code == "code4":
        rhs = np.stack([hi - 1, hi * log_hi, hi * log_hi**2, lo - 1, -lo * log_lo, lo * log_lo**2])
        inside, inside_slope = _polynomial(_INVERSE @ rhs, np.clip(alpha, -1, 1))
        outside = np.abs(alpha) > 1
        return np.where(outside, exponential, 1 + inside), np.where(outside, exponential_slope, inside_slope)
    raise ParameterError(f"multiplicative interpolation code {code!r} is not known; use one of {MULTIPLICATIVE_CODES}")
