"""CLs upper limits and discovery significance with the asymptotic formulae.

The test statistic for upper limits is q~_mu (Eq. (16) of Cowan, Cranmer, Gross, Vitells,
arXiv:1007.1727): the profile likelihood ratio with the fitted strength bounded below by 0, set to
zero when mu-hat > mu. Its asymptotic distributions give (same paper, Sec. 3.7, and Read, J. Phys. G 28
(2002) 2693)

    CLs+b = 1 - Phi(t),   CLb = 1 - Phi(t - sqrt(q_A)),   CLs = CLs+b / CLb,

with t = sqrt(q~) when q~ <= q_A and t = (q~ + q_A) / (2 sqrt(q_A)) otherwise, and q_A the
statistic on the background-only Asimov data set (Eq. (24)). The expected limit of band k
(k = -2 ... +2 standard deviations) solves (1 - Phi(sqrt(q_A) - k)) / Phi(k) = alpha, i.e. the
observed statistic placed at the k-th quantile of its background-only distribution; these are the
"exact" bands by root finding on sqrt(q_A), not the approximation sigma_A times normal quantiles.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm, poisson

from ..core.errors import ParameterError
from .counting import exact_counting_cls_limit
from .likelihood import fit

__all__ = [
    "AUTO_TOYS", "BANDS", "MIN_ASYMPTOTIC_BACKGROUND", "MIN_ASYMPTOTIC_BACKGROUND_ONE_BIN", "OBSERVED_ASYMPTOTIC_NOTE",
    "LimitResult", "asymptotic_threshold", "discovery_significance", "has_toys", "joined_notes",
    "signal_region_background", "summarise_notes", "upper_limit",
]

log = logging.getLogger(__name__)

#: The expected-band quantiles, in standard deviations, in the order results store them.
BANDS = (-2, -1, 0, 1, 2)


@dataclass(frozen=True)
class LimitResult:
    """An upper limit on the signal strength with its expected band.

    Attributes
    ----------
    observed : float
        Observed upper limit on mu.
    expected : tuple of 5 floats
        Expected limits at -2, -1, 0 (median), +1, +2 standard deviations of the background-only
        distribution, increasing.
    cl : float
        Confidence level (e.g. 0.95).
    method : str
        How the limit was computed.
    test_statistic : str
        The test statistic, ``"q~_mu"``.
    mu_hat : float
        Best-fit strength on the data.
    note : str
        Why the method was changed or why the result may be unreliable ("" when neither).
    background_core : float
        Expected background in the bins holding the central 68% of the signal (background-only fit
        to the data), which ``method="auto"`` judges; NaN where not computed.
    """

    observed: float
    expected: tuple
    cl: float
    method: str = "CLs, asymptotic"
    test_statistic: str = "q~_mu"
    mu_hat: float = float("nan")
    note: str = ""
    background_core: float = float("nan")


class _Tester:
    """Evaluates q~_mu on the data and q_mu,A on the background-only Asimov data of one model."""

    def __init__(self, model, counts, aux=None):
        self.model = model
        self.counts = np.asarray(counts, dtype=float)
        self.aux = model.nominal_aux() if aux is None else np.asarray(aux, dtype=float)
        self.best = fit(model, self.counts, aux=self.aux)
        # mu = 0 fit on the data, for q~ when mu-hat < 0 and for the Asimov data set
        self.zero = fit(model, self.counts, aux=self.aux, mu=0.0, start=self.best.params)
        # Asimov data: the background-only fit to the data, main and auxiliary (as pyhf does)
        self.asimov_counts, self.asimov_aux = model.asimov(self.zero.params, self.counts, self.aux)
        self.asimov_nll = model.nll(0.0, self.zero.params, self.asimov_counts, self.asimov_aux)
        self._qa_cache = {}

    def q_tilde(self, mu):
        if self.best.mu > mu:
            return 0.0
        cond = fit(self.model, self.counts, aux=self.aux, mu=mu, start=self.best.params)
        ref = self.best.nll if self.best.mu >= 0 else self.zero.nll
        return max(2 * (cond.nll - ref), 0.0)

    def q_asimov(self, mu):
        if mu not in self._qa_cache:
            cond = fit(self.model, self.asimov_counts, aux=self.asimov_aux, mu=mu, start=self.zero.params)
            self._qa_cache[mu] = max(2 * (cond.nll - self.asimov_nll), 0.0)
        return self._qa_cache[mu]

    def cls_observed(self, mu):
        qa = self.q_asimov(mu)
        q = self.q_tilde(mu)
        sqa = np.sqrt(qa)
        if sqa == 0:  # no sensitivity at this mu: CLs = 1
            return 1.0
        t = np.sqrt(q) if q <= qa else (q + qa) / (2 * sqa)
        clsb = norm.sf(t)
        clb = norm.sf(t - sqa)
        return clsb / clb if clb > 0 else 1.0

    def cls_expected(self, mu, k):
        sqa = np.sqrt(self.q_asimov(mu))
        return norm.sf(sqa - k) / norm.cdf(k)

    def expected_limits(self, alpha, scale):
        """The expected limits of every band k of :data:`BANDS`: CLs_exp(mu, k) = alpha is
        sqrt(q_mu,A) = k + Phi^-1(1 - alpha Phi(k)), and sqrt(q_mu,A), zero at mu = 0, grows nearly
        linearly with mu (as mu / sigma): each root by secant steps inside a bracket (a few Asimov
        fits instead of brentq's ten), to a relative precision of 1e-8."""
        def root_q(mu):
            return np.sqrt(self.q_asimov(mu))

        # every band starts from the tightest bracket of the Asimov fits made so far
        return tuple(_solve_increasing(root_q, k + norm.isf(alpha * norm.cdf(k)), scale,
                                       known={mu: np.sqrt(q) for mu, q in self._qa_cache.items()})
                     for k in BANDS)


def _solve_increasing(function, target, scale, *, known=None, rtol=1e-8, xtol=1e-6, max_steps=100):
    """The mu > 0 with function(mu) = target > 0 for an increasing function with function(0) = 0:
    secant steps from the line through the origin, kept inside a bracket (bisection when a step
    leaves it). ``known`` ({mu: function(mu)}, values computed before) narrows the first bracket.
    It stops when the function is within ``rtol`` of the target or the bracket within ``xtol`` of mu
    (relative). The function comes from fits of finite precision: when the steps stall below it, the
    middle of the last bracket is the answer."""
    lo, f_lo = 0.0, 0.0
    points = sorted((known or {}).items())
    below = [(mu, f) for mu, f in points if mu > 0 and f < target]
    above = [(mu, f) for mu, f in points if mu > 0 and f >= target]
    if below:
        lo, f_lo = below[-1]
    if above and above[0][0] > lo:
        hi, f_hi = above[0]
    else:
        hi = max(scale, 2 * lo)
        f_hi = function(hi)
    steps = 0
    while f_hi < target:
        lo, f_lo, hi = hi, f_hi, hi * 2
        f_hi = function(hi)
        steps += 1
        if steps > 60:
            raise RuntimeError("no upper limit found: CLs does not fall below alpha")
    # the secant through the bracket's ends, then through the last two points
    a, f_a, b, f_b = lo, f_lo, hi, f_hi
    for _ in range(max_steps):
        mu = b - (f_b - target) * (b - a) / (f_b - f_a) if f_b != f_a else 0.5 * (lo + hi)
        if not lo < mu < hi:
            mu = 0.5 * (lo + hi)
        f_mu = function(mu)
        if abs(f_mu - target) <= rtol * target or (hi - lo) <= xtol * mu:
            return mu
        if f_mu < target:
            lo, f_lo = mu, f_mu
        else:
            hi, f_hi = mu, f_mu
        a, f_a, b, f_b = b, f_b, mu, f_mu
    log.warning("expected limit: the secant steps stalled at a relative bracket of %.2g", (hi - lo) / hi)
    return 0.5 * (lo + hi)


def _solve(function, alpha, scale):
    """Smallest mu > 0 with function(mu) = alpha, for a decreasing function; bracket grown from scale."""
    lo, hi = 0.0, scale
    f_hi = function(hi)
    steps = 0
    while f_hi > alpha:
        lo, hi = hi, hi * 2
        f_hi = function(hi)
        steps += 1
        if steps > 60:
            raise RuntimeError("no upper limit found: CLs does not fall below alpha")
    if lo == 0.0:
        lo = hi * 1e-6
        while function(lo) < alpha and lo > 1e-300:
            lo /= 10
    return brentq(lambda mu: function(mu) - alpha, lo, hi, xtol=1e-6 * hi, rtol=1e-7)


#: Below this expected background under the signal the asymptotic formulae are not trusted, for
#: models of several bins (the core of the signal): the coverage map of
#: :mod:`analysis_lib.stats.coverage` (a peak in 10 bins on a background whose normalisation floats)
#: finds the asymptotic 95% limit covering 0.906 and 0.917 at 0.1 and 0.3 events in all bins (about
#: 0.04 and 0.1 under the peak), 0.949-0.955 from 1 event on (within the 0.007 of 1000 pseudo-
#: experiments); one event under the peak leaves a margin of three.
MIN_ASYMPTOTIC_BACKGROUND = 1.0
#: The same for one bin (a counting window): its exact coverage stays below 0.95 up to about 100
#: events (0.903 at b = 0.1, 0.932 at 3, 0.941 at 10, 0.945 at 30, 0.950 at 100; the minimum over
#: true signals of 0.2-2 times the median expected limit), as the discreteness of a single count
#: leaves it.
MIN_ASYMPTOTIC_BACKGROUND_ONE_BIN = 100.0
#: Pseudo-experiments per hypothesis where ``method="auto"`` replaces the formulae by them.
AUTO_TOYS = 2000


def asymptotic_threshold(model) -> float:
    """The expected background under the signal below which ``method="auto"`` uses pseudo-experiments
    (:data:`MIN_ASYMPTOTIC_BACKGROUND_ONE_BIN` for one bin, :data:`MIN_ASYMPTOTIC_BACKGROUND` else)."""
    return MIN_ASYMPTOTIC_BACKGROUND_ONE_BIN if np.size(model.signal) == 1 else MIN_ASYMPTOTIC_BACKGROUND


def has_toys(model) -> bool:
    """Whether pseudo-experiments exist for the model (:mod:`analysis_lib.stats.toys`: binned
    templates, HistFactory models, a peak on a smooth background)."""
    from .histfactory import HistFactoryModel
    from .likelihood import BinnedModel
    from .smooth import SmoothBackgroundModel

    return isinstance(model, BinnedModel | HistFactoryModel | SmoothBackgroundModel)


def small_background_note(b_core: float, threshold: float, used: bool, available: bool) -> str:
    """The note a limit carries where the background under the signal is below the threshold:
    pseudo-experiments ``used``, or the formulae, with or without pseudo-experiments ``available``."""
    return _background_prefix(b_core) + _small_background_reason(threshold, used, available)


def _background_prefix(b_core):
    return f"expected background {b_core:.3g} "


def _small_background_reason(threshold, used, available):
    start = f"< {threshold:g} under the signal: "
    if used:
        return start + "the asymptotic formulae under-cover there (coverage map), CLs from pseudo-experiments"
    if available:
        return start + "the asymptotic limit may be too strong (under-coverage); method='auto' uses pseudo-experiments"
    return start + "the asymptotic limit may be too strong (under-coverage), and this model has no pseudo-experiments"


#: The note of a limit whose observed value comes from the asymptotic formulae although its method is
#: pseudo-experiments (:mod:`analysis_lib.stats.toys`: they do not resolve CLs near alpha there).
OBSERVED_ASYMPTOTIC_NOTE = ("observed limit from the asymptotic formulae: the data lie beyond the background-only "
                            "pseudo-experiments that would resolve CLs near alpha")


def joined_notes(*notes: str) -> str:
    """The non-empty ``notes`` joined with "; "."""
    return "; ".join(n for n in notes if n)


def summarise_notes(results) -> tuple:
    """The notes of many limits (a scan's hypotheses) once each: the small-background notes of
    :func:`small_background_note` counted per reason, with the range of their backgrounds (``"12 of 136
    hypotheses: expected background 0.04-0.9 < 1 under the signal: ..."``), the
    :data:`OBSERVED_ASYMPTOTIC_NOTE` counted (``"2 of 104 hypotheses: observed limit from ..."``), any
    other note as it is."""
    results = list(results)
    groups, others, fallbacks = {}, [], 0
    for r in results:
        note = r.note
        if OBSERVED_ASYMPTOTIC_NOTE in note:
            fallbacks += 1
            note = joined_notes(*(part for part in note.split("; ") if part != OBSERVED_ASYMPTOTIC_NOTE))
        prefix = _background_prefix(r.background_core)
        if note.startswith(prefix) and np.isfinite(r.background_core):
            groups.setdefault(note.removeprefix(prefix), []).append(r.background_core)
        elif note:
            others.append(note)
    summary = [f"{len(b)} of {len(results)} hypotheses: expected background "
               f"{min(b):.2g}-{max(b):.2g} {reason}" if len(b) > 1 else _background_prefix(b[0]) + reason
               for reason, b in groups.items()]
    if fallbacks:
        summary.append(f"{fallbacks} of {len(results)} hypotheses: {OBSERVED_ASYMPTOTIC_NOTE}")
    return tuple(summary + list(dict.fromkeys(others)))


def signal_region_background(model, counts, aux=None) -> float:
    """Expected background in the bins that hold the central 68% of the signal (background-only
    fit to the data)."""
    aux = model.nominal_aux() if aux is None else np.asarray(aux, dtype=float)
    zero = fit(model, counts, aux=aux, mu=0.0)
    background = model.expected_counts(0.0, zero.params, np.asarray(counts, dtype=float), aux)
    order = np.argsort(-model.signal)
    fraction = np.cumsum(model.signal[order]) / max(model.signal.sum(), 1e-300)
    core = order[: int(np.searchsorted(fraction, 0.68)) + 1]
    return float(background[core].sum())


def upper_limit(model, counts, *, cl=0.95, aux=None, method="auto", bands=True) -> LimitResult:
    """Observed and expected CLs upper limits on mu at confidence level ``cl``.

    Parameters
    ----------
    model : BinnedModel or SmoothBackgroundModel
    counts : array
        Observed counts per bin.
    cl : float
        Confidence level, 0.95 by default.
    aux : array, optional
        Auxiliary data; None (the default) takes the nominal values.
    method : str
        ``"auto"`` (the default): asymptotic formulae, except where the expected background under
        the signal is below :func:`asymptotic_threshold` (one bin: 100 events; several bins: 1 event
        under the central 68% of the signal; both from the coverage map of
        :mod:`analysis_lib.stats.coverage`), where CLs comes from :data:`AUTO_TOYS` pseudo-experiments
        (:mod:`analysis_lib.stats.toys`; closed form for one bin with a known background), with the
        reason in the result's note; ``"asymptotic"``: always the asymptotic formulae (the note
        still says where they under-cover).
    bands : bool
        Compute the expected limits (True by default); without, ``expected`` holds NaN.

    Examples
    --------
    A counting experiment with 10 expected background events, 10 observed and a known background
    (the closed form 2 [mu - b ln(1 + mu/b)] = Phi^-1(0.975)^2 gives 7.539); ``"auto"`` would use
    pseudo-experiments here (one bin below 100 events):

    >>> from analysis_lib.stats import BinnedModel
    >>> m = BinnedModel(signal=[1.0], background=[10.0], float_background=False)
    >>> r = upper_limit(m, [10], cl=0.95, method="asymptotic")
    >>> round(r.observed, 2), round(r.expected[2], 2)
    (7.54, 7.54)
    """
    if not 0 < cl < 1:
        raise ParameterError(f"cl={cl!r} must be between 0 and 1, e.g. 0.95")
    if method not in ("auto", "asymptotic"):
        raise ParameterError(f"method={method!r} is not known; use 'auto' or 'asymptotic'")
    alpha = 1 - cl
    counts = np.asarray(counts, dtype=float)
    note = ""
    b_core = signal_region_background(model, counts, aux)
    threshold = asymptotic_threshold(model)
    if b_core < threshold:
        toys = method == "auto" and has_toys(model)
        note = small_background_note(b_core, threshold, toys, has_toys(model))
        if toys and _is_known_counting(model):  # one bin, known background: closed-form toys
            log.info(note)
            return replace(_toy_limit(model, counts, cl, note), background_core=b_core)
        if toys:
            from .toys import toy_upper_limit

            log.info(note)
            reference = upper_limit(model, counts, cl=cl, aux=aux, method="asymptotic", bands=True)
            result = toy_upper_limit(model, counts, aux=aux, cl=cl, n_toys=AUTO_TOYS, references=reference,
                                     bands=bands)
            return replace(result, note=joined_notes(note, result.note), background_core=b_core)
        if method == "auto":
            log.warning(note)
    tester = _Tester(model, counts, aux)
    # a scale: the signal that equals 3 standard deviations of the background
    s_total = max(model.signal.sum(), 1e-300)
    background = model.expected_counts(0.0, tester.zero.params, tester.counts, tester.aux).sum()
    scale = max(3 * np.sqrt(max(background, 1.0)) / s_total, 1e-12)
    observed = float(_solve(tester.cls_observed, alpha, scale))
    expected = (tuple(float(v) for v in tester.expected_limits(alpha, scale)) if bands
                else (float("nan"),) * len(BANDS))
    return LimitResult(observed=observed, expected=expected, cl=cl, mu_hat=float(tester.best.mu), note=note,
                       background_core=b_core)


def _is_known_counting(model) -> bool:
    """A one-bin template model with a fixed background (no nuisance parameter free): toys are closed form."""
    from .likelihood import BinnedModel

    return (isinstance(model, BinnedModel) and len(model.signal) == 1 and all(model.fixed())
            and np.all(~np.isfinite(model.tau)))


def _toy_limit(model, counts, cl, note):
    """One bin, known background: the CLs limits pseudo-experiments tend to, in closed form
    (:func:`analysis_lib.stats.counting.exact_counting_cls_limit`), the expected ones at the counts of
    the band quantiles of the background-only distribution."""
    s, b = float(model.signal[0]), float(model.background[0])
    observed = exact_counting_cls_limit(int(round(counts[0])), s, b, cl=cl)
    expected = tuple(exact_counting_cls_limit(int(poisson.ppf(norm.cdf(k), b)), s, b, cl=cl) for k in BANDS)
    return LimitResult(observed=observed, expected=expected, cl=cl, method="CLs, pseudo-experiments (exact)",
                       mu_hat=max((counts[0] - b) / s, 0.0), note=note)


def discovery_significance(model, counts, *, aux=None) -> float:
    """Local significance Z = sqrt(q0) of a positive signal (Eq. (12) and (52) of arXiv:1007.1727);
    0 when the fitted strength is not positive."""
    counts = np.asarray(counts, dtype=float)
    free = replace(model, mu_bounds=(0.0, np.inf))
    best = fit(free, counts, aux=aux)
    if best.mu <= 0:
        return 0.0
    zero = fit(free, counts, aux=aux, mu=0.0, start=best.params)
    return float(np.sqrt(max(2 * (zero.nll - best.nll), 0.0)))
