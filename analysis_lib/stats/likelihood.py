"""Binned Poisson likelihood of a signal template on a background template.

Expected counts in bin i:

    nu_i(mu, theta, gamma_i) = mu s_i + theta gamma_i b_i

with ``mu`` the signal strength (parameter of interest), ``theta`` a free background
normalisation and ``gamma_i`` per-bin background factors constrained by auxiliary Poisson
measurements m_i ~ Poisson(tau_i gamma_i), tau_i = 1 / delta_i^2 for a relative uncertainty
delta_i (the "shapesys" modifier of pyhf, and the Barlow-Beeston treatment of template
statistics, R. Barlow and C. Beeston, Comput. Phys. Commun. 77 (1993) 219). The gamma_i are profiled
in closed form: at fixed (mu, theta) each solves a quadratic (derived here from d NLL / d gamma_i = 0),

    (B + tau) B gamma^2 + [(B + tau) mu s - n B - m B] gamma - m mu s = 0,   B = theta b,

whose positive root is the conditional maximum. Only (mu, theta) are left to the minimiser (iminuit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from iminuit import Minuit
from scipy.special import xlogy

from ..core.errors import ParameterError
from .newton import bound_arrays

__all__ = ["BinnedModel", "FitResult", "fit", "poisson_nll"]


@dataclass(frozen=True)
class BinnedModel:
    """Signal and background templates of a binned search, with optional per-bin uncertainties.

    Parameters
    ----------
    signal : array
        Expected signal counts per bin at mu = 1.
    background : array
        Expected background counts per bin at theta = 1.
    background_uncertainty : array, optional
        Absolute per-bin uncertainty of ``background`` (e.g. template statistics); None (the
        default) fixes the background shape.
    mu_bounds : (float, float)
        Allowed range of mu; (0, inf) by default. A negative lower bound lets the fitted signal go
        negative (as long as every bin keeps a positive expectation).
    float_background : bool
        Fit the background normalisation theta freely (True, the default: pyhf's ``normfactor``),
        or fix it to 1 (a known background).
    """

    signal: np.ndarray
    background: np.ndarray
    background_uncertainty: np.ndarray | None = None
    mu_bounds: tuple[float, float] = (0.0, np.inf)
    float_background: bool = True

    def __post_init__(self):
        s = np.asarray(self.signal, dtype=float)
        b = np.asarray(self.background, dtype=float)
        if s.shape != b.shape or s.ndim != 1:
            raise ParameterError(
                f"signal has shape {s.shape} and background {b.shape}; both must be the same 1D shape"
            )
        if np.any(b < 0) or np.any(s < 0):
            raise ParameterError("templates must be non-negative")
        if not np.any(b > 0):
            raise ParameterError("the background template is empty; widen the fit window")
        object.__setattr__(self, "signal", s)
        object.__setattr__(self, "background", b)
        if self.background_uncertainty is not None:
            u = np.asarray(self.background_uncertainty, dtype=float)
            if u.shape != b.shape:
                raise ParameterError(
                    f"background_uncertainty has shape {u.shape}, but {b.shape} is required"
                )
            object.__setattr__(self, "background_uncertainty", u)

    @property
    def tau(self) -> np.ndarray:
        """tau_i = (b_i / sigma_i)^2 of the auxiliary measurements (inf where no uncertainty)."""
        if self.background_uncertainty is None:
            return np.full(self.background.shape, np.inf)
        with np.errstate(divide="ignore"):
            tau = np.square(self.background / self.background_uncertainty)
        return np.where((self.background_uncertainty > 0) & (self.background > 0), tau, np.inf)

    def profiled_gamma(self, mu, theta, counts, aux):
        """Conditional maximum-likelihood gamma_i at fixed (mu, theta), in closed form."""
        tau = self.tau
        finite = np.isfinite(tau)
        gamma = np.ones_like(self.background)
        if not finite.any():
            return gamma
        big_b = theta * self.background[finite]
        t, m, n = tau[finite], aux[finite], counts[finite]
        ms = mu * self.signal[finite]
        qa = (big_b + t) * big_b
        qb = (big_b + t) * ms - n * big_b - m * big_b
        qc = -m * ms
        disc = np.sqrt(np.maximum(qb * qb - 4 * qa * qc, 0.0))
        # numerically stable positive root of qa g^2 + qb g + qc = 0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # the unused branch
            root = np.where(qb < 0, (-qb + disc) / (2 * qa), -2 * qc / np.where(qb + disc > 0, qb + disc, 1.0))
        root = np.where((qc == 0) & (qb >= 0), 0.0, root)
        gamma[finite] = np.maximum(root, 1e-12)
        return gamma

    def expected(self, mu, theta, gamma):
        """Expected counts nu_i."""
        return mu * self.signal + theta * gamma * self.background

    # -- the interface every model offers to :func:`fit` and :mod:`analysis_lib.stats.limits` --

    parameter_names = ("theta",)

    def start(self, counts, aux):
        """Starting values of the nuisance parameters."""
        return (1.0,)

    def limits(self):
        """Bounds of the nuisance parameters."""
        return ((1e-9, None),)

    def fixed(self):
        """Which nuisance parameters are fixed."""
        return (not self.float_background,)

    def nll(self, mu, params, counts, aux):
        """Negative log likelihood (up to a constant) with the gamma_i profiled in closed form.

        Half the Poisson deviance, sum [nu - n + n ln(n / nu)], plus the auxiliary terms
        [tau g - m + m ln(m / (tau g))] (S. Baker, R. D. Cousins, Nucl. Instrum. Meth. 221 (1984)
        437); differences equal those of the full likelihood, so test statistics are unchanged
        (errordef 0.5).
        """
        theta = params[0]
        gamma = self.profiled_gamma(mu, theta, counts, aux)
        nu = self.expected(mu, theta, gamma)
        tau = self.tau
        finite = np.isfinite(tau)
        return poisson_nll(nu, counts) + poisson_nll(tau[finite] * gamma[finite], aux[finite])

    def expected_counts(self, mu, params, counts, aux):
        """Expected counts at (mu, params), with gamma profiled on ``counts``."""
        gamma = self.profiled_gamma(mu, params[0], counts, aux)
        return self.expected(mu, params[0], gamma)

    def asimov(self, params, counts, aux):
        """Background-only Asimov main and auxiliary data at the fitted nuisance parameters (as
        pyhf builds them: the auxiliary data are set to the fitted constraint parameters)."""
        gamma = self.profiled_gamma(0.0, params[0], counts, aux)
        tau = self.tau
        return self.expected(0.0, params[0], gamma), np.where(np.isfinite(tau), tau * gamma, 0.0)

    def nominal_aux(self):
        """Auxiliary data at their nominal values, m_i = tau_i (zero where unconstrained)."""
        tau = self.tau
        return np.where(np.isfinite(tau), tau, 0.0)


def poisson_nll(nu, counts):
    """sum [nu - n + n ln(n / nu)]: the Poisson negative log likelihood minus that of the saturated
    model (half the Baker-Cousins deviance); inf if any nu < 0."""
    nu = np.asarray(nu, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if (nu < 0).any():
        return np.inf
    nu = np.maximum(nu, 1e-300)
    return float((nu - counts + xlogy(counts, counts / nu)).sum())  # xlogy(0, .) = 0


@dataclass(frozen=True)
class FitResult:
    """Best-fit values of a likelihood fit: the strength ``mu``, the nuisance ``params`` (in the
    order of the model's ``parameter_names``), the minimum ``nll`` and the Hesse error of mu."""

    mu: float
    params: tuple
    nll: float
    valid: bool
    mu_error: float = float("nan")


def fit(model, counts, *, aux=None, mu=None, start=None, errors=False) -> FitResult:
    """Maximise the likelihood of ``model`` over mu and its nuisance parameters, or over the
    nuisance parameters alone at fixed ``mu``, with iminuit (Migrad, strategy 0; with the model's
    analytic gradient where it has one, ``nll_gradient``). A model with a ``polish`` method (the
    HistFactory model) refines Migrad's minimum with it: Migrad stops within its tolerance of the
    minimum, which differences of minima in many parameters do not tolerate.

    Parameters
    ----------
    model : BinnedModel or SmoothBackgroundModel
    counts : array
        Observed counts per bin.
    aux : array, optional
        Auxiliary data; None (the default) takes the model's nominal values.
    mu : float, optional
        Fix the signal strength; None (the default) fits it.
    start : sequence, optional
        Starting nuisance parameters; None (the default) asks the model.
    errors : bool
        Compute the uncertainty of mu with Hesse (False by default).
    """
    counts = np.asarray(counts, dtype=float)
    aux = model.nominal_aux() if aux is None else np.asarray(aux, dtype=float)
    params0 = np.array(model.start(counts, aux) if start is None else start, dtype=float)
    fixed = model.fixed()
    names = model.parameter_names
    if mu is not None and all(fixed):
        return FitResult(mu=float(mu), params=tuple(params0), nll=model.nll(mu, params0, counts, aux), valid=True)
    if mu is None:
        s_total = max(model.signal.sum(), 1e-12)
        background = model.expected_counts(0.0, params0, counts, aux).sum()
        lo, hi = model.mu_bounds
        guess = (counts.sum() - background) / s_total
        sigma_mu = np.sqrt(max(background, 1.0)) / s_total  # about one standard deviation of mu
        mu0 = float(np.clip(guess, lo if np.isfinite(lo) else guess, hi if np.isfinite(hi) else guess))

        def cost(x):
            return model.nll(x[0], x[1:], counts, aux)

        grad = None
        if hasattr(model, "nll_gradient"):
            def grad(x):
                return model.nll_gradient(x[0], x[1:], counts, aux)

        # mu is fitted without limits (Migrad can stall on a bounded parameter near its limit, and
        # the likelihood is defined beyond it as long as every expectation stays positive); a
        # minimum outside the bounds is replaced by the conditional fit at the bound
        m = Minuit(cost, np.concatenate([[mu0], params0]), grad=grad, name=("mu", *names))
        m.errors["mu"] = max(0.1 * abs(mu0), sigma_mu)
    else:

        def cost(x):
            return model.nll(mu, x, counts, aux)

        grad = None
        if hasattr(model, "nll_gradient"):
            def grad(x):
                return model.nll_gradient(mu, x, counts, aux)[1:]

        m = Minuit(cost, params0, grad=grad, name=names)
    lower, upper = bound_arrays(model.limits())
    for name, low, high, is_fixed in zip(names, lower, upper, fixed):
        m.limits[name] = (low, high)
        m.fixed[name] = is_fixed
    if mu is None:  # every parameter's bounds, mu's included, for the Newton polish
        bounds = (np.concatenate([[lo], lower]), np.concatenate([[hi], upper]))
    m.errordef = Minuit.LIKELIHOOD
    m.strategy = 0
    m.migrad(iterate=1)
    if mu is None and hasattr(model, "polish"):
        # Newton's method with the bounds (the model's ``polish``) from Migrad's point, clipped to them,
        # and from the start: Migrad with mu unbounded can wander off along a flat direction (a
        # background normalisation with a wide range trading against mu), which Newton does not
        values, nll = min((model.polish(None, np.clip(x, *bounds), counts, aux)
                           for x in (np.array(m.values), np.concatenate([[mu0], params0]))),
                          key=lambda candidate: candidate[1])
        mu_error = float("nan")
        if errors:  # Hesse at the polished minimum, not at Migrad's point
            m.values = values
            mu_error = _hesse_mu(m)
        # valid: Newton's minimum has a finite nll and lies within the bounds
        valid = bool(np.isfinite(nll) and np.all((values >= bounds[0]) & (values <= bounds[1])))
        return FitResult(mu=float(values[0]), params=tuple(float(v) for v in values[1:]), nll=float(nll),
                         valid=valid, mu_error=mu_error)
    if mu is None and not lo <= m.values["mu"] <= hi:
        bound = lo if m.values["mu"] < lo else hi
        start_params = np.array(m.values)[1:]
        return replace(fit(model, counts, aux=aux, mu=bound, start=start_params), mu_error=float("nan"))
    mu_error = _hesse_mu(m) if errors and mu is None else float("nan")
    values, nll = np.array(m.values), float(m.fval)
    if hasattr(model, "polish"):  # models with many parameters: Newton steps from Migrad's minimum
        values, nll = model.polish(mu, values, counts, aux)
    return FitResult(
        mu=float(mu) if mu is not None else float(values[0]),
        params=tuple(float(v) for v in (values if mu is not None else values[1:])),
        nll=nll,
        valid=bool(m.valid),
        mu_error=mu_error,
    )


def _hesse_mu(m) -> float:
    """The Hesse uncertainty of mu of a Minuit fit."""
    m.hesse()
    return float(m.errors["mu"])
