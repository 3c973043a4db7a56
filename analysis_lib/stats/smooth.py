"""A signal peak on a smooth background fitted to the data, plus fixed-shape background templates.

Expected counts in bin i of a fit window:

    nu_i = mu s_i + w_i exp(sum_d c_d P_d(u_i)) + sum_j theta_j t_ji

with u_i the bin centre mapped to [-1, 1] over the window, P_d Legendre polynomials, w_i the bin
width relative to the mean width, free coefficients c_d (the shape of the continuum is learnt from
the data in each window, as in a sideband fit), and templates t_j of peaking backgrounds from
simulation whose normalisations theta_j carry Gaussian constraints of relative width delta_j
(auxiliary measurements a_j, nominally 1). The exponential keeps the continuum positive; degree 1
is a falling or rising exponential, degree 2 adds curvature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import legendre

from ..core.errors import ParameterError
from .likelihood import poisson_nll

__all__ = ["SmoothBackgroundModel"]


@dataclass(frozen=True)
class SmoothBackgroundModel:
    """Signal template on a smooth log-polynomial background and constrained templates.

    Parameters
    ----------
    signal : array (n,)
        Expected signal per bin at mu = 1.
    edges : array (n + 1,)
        Bin edges of the window.
    degree : int
        Degree of the log-polynomial continuum (1 by default).
    templates : array (k, n), optional
        Peaking backgrounds at their nominal normalisation; None (the default) for none.
    template_uncertainties : sequence of k floats, optional
        Relative uncertainty of each template's normalisation (Gaussian constraint).
    mu_bounds : (float, float)
        Allowed range of mu, (0, inf) by default.
    """

    signal: np.ndarray
    edges: np.ndarray
    degree: int = 1
    templates: np.ndarray | None = None
    template_uncertainties: tuple = ()
    mu_bounds: tuple = (0.0, np.inf)

    def __post_init__(self):
        s = np.asarray(self.signal, dtype=float)
        edges = np.asarray(self.edges, dtype=float)
        if edges.shape != (s.size + 1,):
            raise ParameterError(f"edges have shape {edges.shape}, but ({s.size + 1},) is required")
        if self.degree < 0:
            raise ParameterError(f"degree={self.degree!r} must be >= 0")
        t = np.zeros((0, s.size)) if self.templates is None else np.atleast_2d(np.asarray(self.templates, float))
        if t.shape[1] != s.size or len(self.template_uncertainties) != t.shape[0]:
            raise ParameterError(
                f"templates have shape {t.shape} with {len(self.template_uncertainties)} uncertainties; "
                f"(k, {s.size}) templates and k uncertainties are required"
            )
        object.__setattr__(self, "signal", s)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "templates", t)
        centres = 0.5 * (edges[1:] + edges[:-1])
        span = edges[-1] - edges[0]
        object.__setattr__(self, "_u", 2 * (centres - edges[0]) / span - 1)
        # Legendre polynomials P_d(u_i), (degree + 1, n): the derivatives of the log continuum
        object.__setattr__(self, "_p", legendre.legvander(self._u, self.degree).T)
        widths = np.diff(edges)
        object.__setattr__(self, "_w", widths / widths.mean())
        object.__setattr__(self, "_delta", np.asarray(self.template_uncertainties, dtype=float))

    @property
    def parameter_names(self):
        return tuple(f"c{d}" for d in range(self.degree + 1)) + tuple(f"theta{j}" for j in range(len(self.templates)))

    def continuum(self, coefficients):
        """The smooth background per bin."""
        log_shape = np.asarray(coefficients, dtype=float) @ self._p
        return self._w * np.exp(np.minimum(np.maximum(log_shape, -700.0), 700.0))

    def expected_counts(self, mu, params, counts=None, aux=None):
        """Expected counts at (mu, params)."""
        params = np.asarray(params, dtype=float)
        c, theta = params[: self.degree + 1], params[self.degree + 1 :]
        nu = mu * self.signal + self.continuum(c)
        return nu + theta @ self.templates if theta.size else nu

    def nll(self, mu, params, counts, aux):
        """Negative log likelihood (up to a constant): Poisson terms plus Gaussian constraints."""
        params = np.asarray(params, dtype=float)
        theta = params[self.degree + 1 :]
        nll = poisson_nll(self.expected_counts(mu, params), counts)
        if theta.size:
            nll += 0.5 * float(np.square((theta - aux) / self._delta).sum())
        return nll

    def nll_gradient(self, mu, params, counts, aux):
        """The gradient of :meth:`nll` in (mu, c_0..c_d, theta_1..theta_k): with g_i = 1 - n_i / nu_i,
        dNLL/dmu = sum g_i s_i, dNLL/dc_d = sum g_i C_i P_d(u_i) (C_i the continuum),
        dNLL/dtheta_j = sum g_i t_ji + (theta_j - a_j) / delta_j^2 (derived here; the tests compare
        it with finite differences)."""
        params = np.asarray(params, dtype=float)
        c, theta = params[: self.degree + 1], params[self.degree + 1 :]
        continuum = self.continuum(c)
        nu = np.maximum(mu * self.signal + continuum + theta @ self.templates, 1e-300)
        g = 1.0 - np.asarray(counts, dtype=float) / nu
        d_theta = self.templates @ g + ((theta - aux) / self._delta**2 if theta.size else 0.0)
        return np.concatenate([[g @ self.signal], self._p @ (g * continuum), np.atleast_1d(d_theta)])

    def start(self, counts, aux):
        """Flat continuum at the mean count outside the templates; templates at their aux values."""
        rest = np.asarray(counts, float) - np.asarray(aux, float) @ self.templates if len(self.templates) else counts
        level = max(float(np.mean(np.clip(rest, 0, None))), 0.5)
        return (np.log(level), *([0.0] * self.degree), *np.asarray(aux, float))

    def limits(self):
        return tuple([(None, None)] * (self.degree + 1) + [(0.0, None)] * len(self.templates))

    def fixed(self):
        return (False,) * (self.degree + 1 + len(self.templates))

    def asimov(self, params, counts, aux):
        """Background-only Asimov data at ``params``, auxiliary data set to the fitted theta."""
        params = np.asarray(params, dtype=float)
        return self.expected_counts(0.0, params), params[self.degree + 1 :].copy()

    def nominal_aux(self):
        """The auxiliary measurements of the template normalisations, nominally 1."""
        return np.ones(len(self.templates))
