"""A signal peak on a smooth background fitted to the data, plus fixed-shape background templates.

Expected counts in bin i of a fit window:

    nu_i = mu s_i + w_i exp(sum_d c_d P_d(u_i)) + sum_j theta_j t_ji

with u_i the bin centre mapped to [-1, 1] over the window, P_d Legendre polynomials, w_i the bin
width relative to the mean width, free coefficients c_d (the shape of the continuum is learnt from
the data in each window, as in a sideband fit), and templates t_j of peaking backgrounds from
simulation whose normalisations theta_j carry Gaussian constraints of relative width delta_j
(auxiliary measurements a_j, nominally 1). The exponential keeps the continuum positive; degree 1
is a falling or rising exponential, degree 2 adds curvature.

A template known only to the precision of a finite simulation may also vary in shape: optional
modes M_jm (one standard deviation each, e.g. sqrt(lambda_m) v_m for the eigenvalues and vectors of
the covariance of the template's bins) add sum_m eta_m M_jm to nu_i, each eta_m with a unit
Gaussian constraint (auxiliary measurement nominally 0): the likelihood of a template whose bins
are uncertain as that covariance says (the Barlow-Beeston idea, R. Barlow and C. Beeston, Comput.
Phys. Commun. 77 (1993) 219, with the correlations of a smooth fit kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import legendre
from scipy.special import xlogy

from ..core.errors import ParameterError

__all__ = ["SmoothBackgroundModel"]

#: Bounds of the log-continuum's coefficients (see :meth:`SmoothBackgroundModel.limits`).
_MIN_LEVEL = -40.0
_MAX_SHAPE = 20.0


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
    template_modes : sequence of k arrays (m_j, n), optional
        Shape variations of each template at one standard deviation (none by default).
    mu_bounds : (float, float)
        Allowed range of mu, (0, inf) by default.
    """

    signal: np.ndarray
    edges: np.ndarray
    degree: int = 1
    templates: np.ndarray | None = None
    template_uncertainties: tuple = ()
    template_modes: tuple = ()
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
        # products P_d(u_i) P_e(u_i) as (n, (degree+1)^2): the continuum's second derivatives
        object.__setattr__(self, "_pp", np.einsum("di,ei->ide", self._p, self._p).reshape(self._u.size, -1))
        widths = np.diff(edges)
        object.__setattr__(self, "_w", widths / widths.mean())
        object.__setattr__(self, "_delta", np.asarray(self.template_uncertainties, dtype=float))
        modes = tuple(np.zeros((0, s.size)) if m is None else np.atleast_2d(np.asarray(m, dtype=float))
                      for m in self.template_modes)
        if modes and (len(modes) != t.shape[0] or any(m.shape[1] != s.size for m in modes)):
            raise ParameterError(
                f"template_modes must give one (m, {s.size}) array of shape variations per template "
                f"({t.shape[0]}), not shapes {[m.shape for m in modes]}"
            )
        object.__setattr__(self, "template_modes", modes)
        # the constrained parameters: template normalisations (nominal 1, widths delta, >= 0), then
        # the shape modes' (nominal 0, width 1, unbounded); their columns of d nu / d parameter
        stacked = np.vstack([t, *modes]) if modes else t
        n_modes = stacked.shape[0] - t.shape[0]
        object.__setattr__(self, "_columns", stacked)
        object.__setattr__(self, "_widths", np.concatenate([self._delta, np.ones(n_modes)]))
        object.__setattr__(self, "_nominal", np.concatenate([np.ones(t.shape[0]), np.zeros(n_modes)]))

    @property
    def parameter_names(self):
        modes = [f"eta{j}_{m}" for j, block in enumerate(self.template_modes) for m in range(len(block))]
        return (tuple(f"c{d}" for d in range(self.degree + 1)) + tuple(f"theta{j}" for j in range(len(self.templates)))
                + tuple(modes))

    @property
    def _n_constrained(self) -> int:
        return len(self._widths)

    def continuum(self, coefficients):
        """The smooth background per bin (n,) at one set of coefficients (degree + 1,), or (K, n) at rows
        of them (K, degree + 1)."""
        log_shape = np.asarray(coefficients, dtype=float) @ self._p
        return self._w * np.exp(np.minimum(np.maximum(log_shape, -700.0), 700.0))

    # -- vectorised evaluation: rows x of full parameter vectors (mu, c_0..c_d, theta_1..theta_k, then
    # each template's shape-mode parameters eta), the
    # interface of Newton's method (:mod:`analysis_lib.stats.newton`) and of the pseudo-experiments

    @property
    def n_bins(self) -> int:
        return self.signal.size

    @property
    def _init(self):
        return np.zeros(self.degree + 2 + self._n_constrained)

    @property
    def _fixed(self):
        return np.zeros(self.degree + 2 + self._n_constrained, dtype=bool)

    @property
    def _bounds(self):
        low, high = self.mu_bounds
        return [(low if np.isfinite(low) else None, high if np.isfinite(high) else None), *self.limits()]

    @property
    def _is_poisson(self):
        return np.zeros(self._n_constrained, dtype=bool)

    @property
    def _width(self):
        return self._widths

    def expected(self, x) -> np.ndarray:
        """Expected counts (K, n) at rows ``x`` (K, n_parameters)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        d = self.degree + 2
        return x[:, :1] * self.signal + self.continuum(x[:, 1:d]) + x[:, d:] @ self._columns

    def full_nll(self, x, counts, aux, *, gradient=False):
        """Negative log likelihood (K,) at rows ``x``: half the Poisson deviance of the counts
        (:func:`~analysis_lib.stats.likelihood.poisson_nll`) plus the Gaussian constraints, inf where
        an expected count is negative; with ``gradient``, also its gradient (K, n_parameters): with
        g_i = 1 - n_i / nu_i, dNLL/dmu = sum g_i s_i, dNLL/dc_d = sum g_i C_i P_d(u_i) (C_i the
        continuum), dNLL/dtheta_j = sum g_i t_ji + (theta_j - a_j) / delta_j^2, and alike for a
        shape mode with M_jm and width 1 (derived here; the tests compare it with finite differences)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        counts = np.atleast_2d(np.asarray(counts, dtype=float))
        aux = np.atleast_2d(np.asarray(aux, dtype=float))
        d = self.degree + 2
        continuum = self.continuum(x[:, 1:d])
        theta = x[:, d:]
        nu = x[:, :1] * self.signal + continuum + theta @ self._columns
        negative = np.any(nu < 0, axis=1)
        nu = np.maximum(nu, 1e-300)
        nll = np.sum(nu - counts + xlogy(counts, np.maximum(counts, 1e-300) / nu), axis=1)
        nll = nll + 0.5 * np.sum(np.square((theta - aux) / self._widths), axis=1)
        nll = np.where(negative, np.inf, nll)
        if not gradient:
            return nll
        g = 1.0 - counts / nu
        d_theta = g @ self._columns.T + (theta - aux) / self._widths**2
        return nll, np.column_stack([g @ self.signal, (g * continuum) @ self._p.T, d_theta])

    def full_hessian(self, x, counts, aux) -> np.ndarray:
        """The Hessian (K, p, p) of :meth:`full_nll` at rows ``x``, in closed form: with J_ai the
        derivative of nu_i in parameter a (s_i; C_i P_d(u_i); t_ji), H_ab = sum_i n_i / nu_i^2 J_ai J_bi
        + sum_i g_i d^2 nu_i / da db (only the continuum's coefficients have second derivatives,
        C_i P_d P_e) + 1 / delta_j^2 on the template normalisations and 1 on the shape modes (derived
        here; the tests compare it with differences of the gradient)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        counts = np.atleast_2d(np.asarray(counts, dtype=float))
        d = self.degree + 2
        continuum = self.continuum(x[:, 1:d])
        nu = np.maximum(x[:, :1] * self.signal + continuum + x[:, d:] @ self._columns, 1e-300)
        k = x.shape[0]
        jacobian = np.concatenate([np.broadcast_to(self.signal, (k, 1, self.n_bins)),
                                   continuum[:, None, :] * self._p[None],
                                   np.broadcast_to(self._columns, (k, *self._columns.shape))], axis=1)
        hessian = (jacobian * (counts / nu**2)[:, None, :]) @ np.swapaxes(jacobian, 1, 2)
        g = 1.0 - counts / nu
        hessian[:, 1:d, 1:d] += ((g * continuum) @ self._pp).reshape(k, d - 1, d - 1)
        index = np.arange(d, x.shape[1])
        hessian[:, index, index] += 1.0 / self._widths**2
        return hessian

    def aux_at(self, x) -> np.ndarray:
        """Auxiliary data equal to the constrained parameters (template normalisations and shape modes)
        of rows ``x``."""
        return np.atleast_2d(np.asarray(x, dtype=float))[:, self.degree + 2 :]

    # -- the interface of fit() and upper_limit() ------------------------------------------------

    def _row(self, mu, params):
        return np.concatenate([[float(mu)], np.asarray(params, dtype=float)])[None, :]

    def expected_counts(self, mu, params, counts=None, aux=None):
        """Expected counts at (mu, params)."""
        return self.expected(self._row(mu, params))[0]

    def nll(self, mu, params, counts, aux):
        """Negative log likelihood (up to a constant): Poisson terms plus Gaussian constraints."""
        return float(self.full_nll(self._row(mu, params), counts, aux)[0])

    def nll_gradient(self, mu, params, counts, aux):
        """The gradient of :meth:`nll` in (mu, c_0..c_d, theta_1..theta_k, eta...) (see :meth:`full_nll`)."""
        return self.full_nll(self._row(mu, params), counts, aux, gradient=True)[1][0]

    def start(self, counts, aux):
        """Flat continuum at the mean count outside the templates; templates and modes at their aux values."""
        aux = np.asarray(aux, float)
        rest = np.asarray(counts, float) - aux @ self._columns if len(self._columns) else counts
        level = max(float(np.mean(np.clip(rest, 0, None))), 0.5)
        return (np.log(level), *([0.0] * self.degree), *aux)

    def limits(self):
        """Bounds of the nuisance parameters: the continuum's level c_0 >= -40 (e^-40 events per bin,
        nothing), its shape |c_d| <= 20 (a factor e^40 across the window, beyond any continuum) and the
        templates' normalisations >= 0 (their shape modes unbounded). Without them the fit of a window
        with a few events runs to infinite slopes (all events at one edge) or to a zero level (no
        event), where the likelihood flattens out and iterations never end."""
        shape = [(-_MAX_SHAPE, _MAX_SHAPE)] * self.degree
        n_modes = self._n_constrained - len(self.templates)
        return tuple([(_MIN_LEVEL, None), *shape] + [(0.0, None)] * len(self.templates) + [(None, None)] * n_modes)

    def fixed(self):
        return (False,) * (self.degree + 1 + self._n_constrained)

    def asimov(self, params, counts, aux):
        """Background-only Asimov data at ``params``, auxiliary data set to the fitted theta."""
        params = np.asarray(params, dtype=float)
        return self.expected_counts(0.0, params), params[self.degree + 1 :].copy()

    def nominal_aux(self):
        """The auxiliary measurements: of the template normalisations nominally 1, of the shape modes 0."""
        return self._nominal.copy()
