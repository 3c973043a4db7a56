"""Extended likelihoods of a peak on a smooth background, built with iminuit's cost functions.

The model (in one observable x, or two, x and y, factorised) for a mass hypothesis:

    dN/dx = mu s0 L E  G(x; m, r w) + N_b B(x; c)

with the signal a Gaussian at the hypothesis ``m`` of width ``w`` times a resolution scale r, the
background B an exponential of a Legendre polynomial with free coefficients c, normalised over
the fit range, a free background yield N_b, the signal strength mu times the expected signal s0,
and the luminosity L, efficiency E and resolution r as nuisance parameters with Gaussian
constraints (:class:`iminuit.cost.NormalConstraint`). Binned data use
:class:`iminuit.cost.ExtendedBinnedNLL` (bin contents from the exact cumulative distributions;
empty bins and tiny expectations need no special treatment), unbinned data
:class:`iminuit.cost.ExtendedUnbinnedNLL`. In two dimensions the signal and the background are
products of one-dimensional shapes.

The model offers the interface of :func:`analysis_lib.stats.fit` and
:func:`analysis_lib.stats.upper_limit` for binned data, so limits, bands and significances come
from the same code as for the template models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from iminuit import cost
from numpy.polynomial import legendre
from scipy.special import ndtr

from ..errors import ParameterError

__all__ = ["PeakModel"]

_NUISANCES = ("lumi", "efficiency", "resolution")
_GAUSS_LEGENDRE = np.polynomial.legendre.leggauss(8)


@dataclass(frozen=True)
class _Axis:
    edges: np.ndarray
    mass: float
    width: float
    degree: int

    @property
    def range(self):
        return self.edges[0], self.edges[-1]

    def _u(self, x):
        lo, hi = self.range
        return 2 * (np.asarray(x, dtype=float) - lo) / (hi - lo) - 1

    def background_density(self, x, coefficients):
        """exp(Legendre series) normalised over the range (8-point Gauss-Legendre per bin)."""
        return np.exp(np.clip(legendre.legval(self._u(x), coefficients), -700, 700)) / self._norm(coefficients)

    def _norm(self, coefficients):
        return np.sum(self._bin_integrals_raw(coefficients))

    def _bin_integrals_raw(self, coefficients):
        nodes, weights = _GAUSS_LEGENDRE
        lo, hi = self.edges[:-1, None], self.edges[1:, None]
        x = 0.5 * (hi - lo) * nodes[None, :] + 0.5 * (hi + lo)
        values = np.exp(np.clip(legendre.legval(self._u(x), coefficients), -700, 700))
        return 0.5 * (hi - lo)[:, 0] * np.sum(values * weights[None, :], axis=1)

    def background_cdf(self, coefficients):
        """Cumulative background fraction at the bin edges."""
        integrals = self._bin_integrals_raw(coefficients)
        return np.concatenate([[0.0], np.cumsum(integrals)]) / integrals.sum()

    def signal_cdf(self, scale):
        """Cumulative signal fraction at the bin edges (the Gaussian inside the range)."""
        z = (self.edges - self.mass) / (self.width * scale)
        cdf = ndtr(z)
        return (cdf - cdf[0]) / max(cdf[-1] - cdf[0], 1e-300)

    def signal_density(self, x, scale):
        sigma = self.width * scale
        z0, z1 = (np.array(self.range) - self.mass) / sigma
        inside = max(ndtr(z1) - ndtr(z0), 1e-300)
        return np.exp(-0.5 * ((np.asarray(x) - self.mass) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma * inside)


@dataclass(frozen=True)
class PeakModel:
    """A Gaussian peak on a smooth background in one or two observables (see the module docstring).

    Parameters
    ----------
    edges : array or tuple of two arrays
        Bin edges of the fit range (one array per observable).
    mass : float or tuple
        Peak position(s), in the observables' units.
    width : float or tuple
        Peak width(s) (the resolution).
    signal_yield : float
        Expected signal events at mu = 1 for the nominal luminosity and efficiency.
    uncertainties : dict
        Relative uncertainties of ``lumi``, ``efficiency`` and ``resolution`` (Gaussian constraints
        on factors with nominal value 1); a missing key fixes that factor at 1.
    degree : int
        Degree of the log-polynomial background in each observable (1 by default).
    mu_bounds : (float, float)
        Allowed range of mu, (0, inf) by default.
    """

    edges: object
    mass: object
    width: object
    signal_yield: float
    uncertainties: dict = field(default_factory=dict)
    degree: int = 1
    mu_bounds: tuple = (0.0, np.inf)

    def __post_init__(self):
        edges = self.edges if isinstance(self.edges, tuple) else (self.edges,)
        masses = self.mass if isinstance(self.mass, tuple) else (self.mass,)
        widths = self.width if isinstance(self.width, tuple) else (self.width,)
        if not len(edges) == len(masses) == len(widths) or len(edges) not in (1, 2):
            raise ParameterError("edges, mass and width must describe one or two observables alike")
        unknown = set(self.uncertainties) - set(_NUISANCES)
        if unknown:
            raise ParameterError(f"unknown nuisance(s) {sorted(unknown)}; known: {list(_NUISANCES)}")
        axes = tuple(_Axis(np.asarray(e, dtype=float), float(m), float(w), self.degree)
                     for e, m, w in zip(edges, masses, widths))
        object.__setattr__(self, "_axes", axes)
        object.__setattr__(self, "_constrained", tuple(n for n in _NUISANCES if n in self.uncertainties))
        object.__setattr__(self, "signal", self._signal_counts(1.0).ravel())

    # parameters: constrained nuisances, background yield, background coefficients per axis
    @property
    def parameter_names(self):
        names = list(self._constrained) + ["n_background"]
        for a in range(len(self._axes)):
            names += [f"c{d}_{a}" for d in range(1, self.degree + 1)]
        return tuple(names)

    def _unpack(self, params):
        params = np.asarray(params, dtype=float)
        k = len(self._constrained)
        factors = dict(zip(self._constrained, params[:k]))
        n_background = params[k]
        coefficients, start = [], k + 1
        for _ in self._axes:
            coefficients.append(np.concatenate([[0.0], params[start : start + self.degree]]))
            start += self.degree
        return factors, n_background, coefficients

    def _signal_counts(self, scale):
        shares = [np.diff(axis.signal_cdf(scale)) for axis in self._axes]
        out = shares[0] if len(shares) == 1 else np.outer(shares[0], shares[1])
        return self.signal_yield * out

    def _background_counts(self, coefficients):
        shares = [np.diff(axis.background_cdf(c)) for axis, c in zip(self._axes, coefficients)]
        return shares[0] if len(shares) == 1 else np.outer(shares[0], shares[1])

    def expected_counts(self, mu, params, counts=None, aux=None):
        """Expected counts per bin (flattened in two dimensions)."""
        factors, n_background, coefficients = self._unpack(params)
        signal_factor = factors.get("lumi", 1.0) * factors.get("efficiency", 1.0)
        signal = mu * signal_factor * self._signal_counts(factors.get("resolution", 1.0))
        return (signal + n_background * self._background_counts(coefficients)).ravel()

    def _scaled_cdf(self, mu):
        """The model in the form ExtendedBinnedNLL wants: cumulative expected counts at the edges."""
        shape = tuple(len(a.edges) for a in self._axes)

        def scaled_cdf(xe, *params):
            factors, n_background, coefficients = self._unpack(params)
            s = mu * factors.get("lumi", 1.0) * factors.get("efficiency", 1.0) * self.signal_yield
            cdfs_s = [a.signal_cdf(factors.get("resolution", 1.0)) for a in self._axes]
            cdfs_b = [a.background_cdf(c) for a, c in zip(self._axes, coefficients)]
            if len(self._axes) == 1:
                return s * cdfs_s[0] + n_background * cdfs_b[0]
            grid = s * np.outer(cdfs_s[0], cdfs_s[1]) + n_background * np.outer(cdfs_b[0], cdfs_b[1])
            return grid.reshape(shape).ravel()

        return scaled_cdf

    def binned_cost(self, counts, mu, aux=None):
        """The iminuit cost (-2 ln L) of binned ``counts`` at fixed mu: ExtendedBinnedNLL plus the
        NormalConstraint of every constrained nuisance (measured at ``aux``, nominally 1)."""
        counts = np.asarray(counts, dtype=float).reshape(tuple(len(a.edges) - 1 for a in self._axes))
        edges = [a.edges for a in self._axes]
        xe = edges[0] if len(edges) == 1 else edges
        nll = cost.ExtendedBinnedNLL(counts, xe, self._scaled_cdf(mu), name=self.parameter_names)
        if self._constrained:
            aux = self.nominal_aux() if aux is None else aux
            errors = [self.uncertainties[n] for n in self._constrained]
            nll = nll + cost.NormalConstraint(list(self._constrained), list(aux), errors)
        return nll

    def unbinned_cost(self, data, aux=None):
        """The iminuit cost of unbinned ``data`` (shape (n,) or (2, n)), with the parameters
        ``("mu", *parameter_names)``: ExtendedUnbinnedNLL plus the constraints."""
        data = np.asarray(data, dtype=float)

        def scaled_pdf(x, *mu_and_params):
            mu, params = mu_and_params[0], mu_and_params[1:]
            factors, n_background, coefficients = self._unpack(params)
            s = mu * factors.get("lumi", 1.0) * factors.get("efficiency", 1.0) * self.signal_yield
            points = [x] if len(self._axes) == 1 else list(x)
            dens_s = np.prod([a.signal_density(p, factors.get("resolution", 1.0))
                              for a, p in zip(self._axes, points)], axis=0)
            dens_b = np.prod([a.background_density(p, c) for a, p, c in zip(self._axes, points, coefficients)], axis=0)
            return s + n_background, s * dens_s + n_background * dens_b

        nll = cost.ExtendedUnbinnedNLL(data, scaled_pdf, name=("mu", *self.parameter_names))
        if self._constrained:
            aux = self.nominal_aux() if aux is None else aux
            errors = [self.uncertainties[n] for n in self._constrained]
            nll = nll + cost.NormalConstraint(list(self._constrained), list(aux), errors)
        return nll

    # -- the interface of analysis_lib.stats.fit and upper_limit (binned data) --

    def nll(self, mu, params, counts, aux):
        """Negative log likelihood (half the iminuit cost)."""
        return 0.5 * float(self.binned_cost(counts, mu, aux)(*params))

    def start(self, counts, aux):
        return (*([1.0] * len(self._constrained)), max(float(np.sum(counts)), 1.0),
                *([0.0] * (self.degree * len(self._axes))))

    def limits(self):
        return tuple([(1e-3, None)] * len(self._constrained) + [(0.0, None)]
                     + [(None, None)] * (self.degree * len(self._axes)))

    def fixed(self):
        return (False,) * len(self.parameter_names)

    def nominal_aux(self):
        return np.ones(len(self._constrained))

    def asimov(self, params, counts, aux):
        """Background-only Asimov counts, auxiliary data at the fitted nuisances."""
        return self.expected_counts(0.0, params), np.asarray(params[: len(self._constrained)], dtype=float)
