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

from dataclasses import dataclass

import numpy as np
from iminuit import Minuit

from ..errors import ParameterError

__all__ = ["BinnedModel", "FitResult", "fit"]


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
        root = np.where(qb < 0, (-qb + disc) / (2 * qa), -2 * qc / np.where(qb + disc > 0, qb + disc, 1.0))
        root = np.where((qc == 0) & (qb >= 0), 0.0, root)
        gamma[finite] = np.maximum(root, 1e-12)
        return gamma

    def expected(self, mu, theta, gamma):
        """Expected counts nu_i."""
        return mu * self.signal + theta * gamma * self.background

    def nll(self, mu, theta, counts, aux):
        """Twice the negative log likelihood ratio to the saturated model, gamma profiled.

        Poisson deviance sum 2 [nu - n + n ln(n / nu)] plus the auxiliary terms
        2 [tau g - m + m ln(m / (tau g))] (S. Baker, R. D. Cousins, Nucl. Instrum. Meth. 221 (1984)
        437); differences equal those of the full likelihood, so test statistics are unchanged.
        Returned halved, i.e. as a negative log likelihood (errordef 0.5).
        """
        gamma = self.profiled_gamma(mu, theta, counts, aux)
        nu = self.expected(mu, theta, gamma)
        if np.any(nu < 0):
            return np.inf
        nu = np.maximum(nu, 1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            main = np.sum(nu - counts + np.where(counts > 0, counts * np.log(counts / nu), 0.0))
            tau = self.tau
            finite = np.isfinite(tau)
            tg = tau[finite] * gamma[finite]
            m = aux[finite]
            constraint = np.sum(tg - m + np.where(m > 0, m * np.log(m / tg), 0.0))
        return float(main + constraint)

    def nominal_aux(self):
        """Auxiliary data at their nominal values, m_i = tau_i (zero where unconstrained)."""
        tau = self.tau
        return np.where(np.isfinite(tau), tau, 0.0)


@dataclass(frozen=True)
class FitResult:
    """Best-fit values of a likelihood fit."""

    mu: float
    theta: float
    nll: float
    valid: bool
    mu_error: float = float("nan")


def fit(model: BinnedModel, counts, *, aux=None, mu=None, theta_start=1.0, errors=False) -> FitResult:
    """Maximise the likelihood over (mu, theta), or over theta alone at fixed ``mu``.

    Parameters
    ----------
    model : BinnedModel
    counts : array
        Observed counts per bin.
    aux : array, optional
        Auxiliary data m_i; None (the default) takes the nominal tau_i.
    mu : float, optional
        Fix the signal strength; None (the default) fits it.
    theta_start : float
        Starting background normalisation, 1 by default.
    errors : bool
        Compute the uncertainty of mu with Hesse (False by default).
    """
    counts = np.asarray(counts, dtype=float)
    aux = model.nominal_aux() if aux is None else np.asarray(aux, dtype=float)
    total_b = model.background.sum()
    theta_guess = max(theta_start, 1e-3) if model.float_background else 1.0
    if mu is not None and not model.float_background:
        return FitResult(mu=float(mu), theta=1.0, nll=model.nll(mu, 1.0, counts, aux), valid=True)
    if mu is not None:
        m = Minuit(lambda theta: model.nll(mu, theta, counts, aux), theta=theta_guess)
        m.limits["theta"] = (1e-9, None)
    else:
        s_total = max(model.signal.sum(), 1e-12)
        mu_guess = max((counts.sum() - theta_guess * total_b) / s_total, 0.0) + 0.1
        lo, hi = model.mu_bounds
        mu_guess = min(max(mu_guess, lo + 1e-3 if np.isfinite(lo) else mu_guess), hi)
        m = Minuit(lambda mu_, theta: model.nll(mu_, theta, counts, aux), mu_=mu_guess, theta=theta_guess)
        m.limits["mu_"] = model.mu_bounds
        m.limits["theta"] = (1e-9, None)
        m.fixed["theta"] = not model.float_background
    m.errordef = Minuit.LIKELIHOOD
    m.strategy = 0
    m.migrad(iterate=1)
    mu_error = float("nan")
    if errors and mu is None:
        m.hesse()
        mu_error = float(m.errors["mu_"])
    values = m.values
    return FitResult(
        mu=float(mu) if mu is not None else float(values["mu_"]),
        theta=float(values["theta"]),
        nll=float(m.fval),
        valid=bool(m.valid),
        mu_error=mu_error,
    )
