"""CLs upper limits from pseudo-experiments for every model: templates, shapes on a fitted smooth
background, several samples and regions.

The construction of pyhf's toy calculator (``pyhf.infer.calculators.ToyCalculator``) and of
Read, J. Phys. G 28 (2002) 2693, with the test statistic q~_mu (Eq. (16) of Cowan, Cranmer, Gross,
Vitells, arXiv:1007.1727). At a signal strength mu:

1. the nuisance parameters are fitted to the observed data at mu and at 0 (theta_mu, theta_0);
2. pseudo-experiments are drawn from the model at (mu, theta_mu) and at (0, theta_0): main counts
   Poisson, auxiliary data from their constraints around the fitted values (Gaussian, or Poisson
   with mean tau gamma), as pyhf draws them;
3. q~_mu of every pseudo-experiment comes from its own two fits (mu-hat >= 0, and at mu), by
   Newton's method vectorised over the pseudo-experiments (:mod:`analysis_lib.stats.newton`);
4. CLs+b = P(q >= q_obs | mu), CLb = P(q >= q_obs | 0) and CLs = CLs+b / CLb.

With a deficit, q~ of the data and of every background-only pseudo-experiment grow together with mu
(those with a larger mu-hat stay at 0), so CLb stays near the p-value of the deficit as mu grows (it
drifts somewhat, so near the threshold below a curve can be unresolved at some mu and resolved at
others). Where few background-only pseudo-experiments reach the data's q, CLs = CLs+b / CLb near
alpha rests on a handful of signal-plus-background ones: with fixed random numbers it can fall from
about 1 to 0 within one step of mu, and its crossing of alpha lands orders of magnitude under the
expected band. An
observed CLs is therefore used only where CLb holds enough of them that CLs = alpha would leave
:data:`MIN_TAIL_AT_ALPHA` signal-plus-background ones beyond the data (:func:`min_tail`: 30 at 90% CL,
60 at 95%, so deficits beyond about 2 standard deviations with 2000 pseudo-experiments, and nearly
every deficit with the fewest pseudo-experiments allowed, 100); where the crossing of alpha is not
between two such values, the observed limit is the asymptotic one, and the result's note says so
(:data:`~analysis_lib.stats.limits.OBSERVED_ASYMPTOTIC_NOTE`; logged, and counted per scan).

The expected limits come from the background-only pseudo-experiments: the band k is where the
Phi(k) quantile of CLs over them (CLs evaluated at each one's q) equals alpha, as pyhf's expected
CLs values. The pseudo-experiments reuse the same random numbers at every mu (Poisson counts by
inverse transform of fixed uniforms, Gaussian ones by fixed normal deviates), so that CLs is a
smooth function of mu between the steps the discreteness of counts makes; the seed fixes them, so a
limit is the same whatever runs it.

A :class:`~analysis_lib.stats.likelihood.BinnedModel` is fitted with the closed-form per-bin
profile of :mod:`analysis_lib.stats.fast`, a HistFactory model and a peak on a smooth background
(:class:`~analysis_lib.stats.smooth.SmoothBackgroundModel`) by Newton's method.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.special import ndtr, ndtri, pdtr

from ..core.errors import ParameterError
from .histfactory import HistFactoryModel
from .limits import BANDS, OBSERVED_ASYMPTOTIC_NOTE, LimitResult
from .newton import minimize

__all__ = ["MIN_TAIL_AT_ALPHA", "fast_toy_cls", "fast_toy_upper_limits", "min_tail", "poisson_quantile",
           "toy_upper_limit"]

log = logging.getLogger(__name__)


class _NewtonFits:
    """Vectorised fits by Newton's method (:mod:`analysis_lib.stats.newton`) of a model with the
    row interface it needs (``full_nll``, ``expected``, ``aux_at``, bounds and fixed parameters: a
    HistFactory model, or a peak on a smooth background); rows of full parameter vectors."""

    def __init__(self, model):
        self.model = model
        self.n_bins = model.n_bins
        self.signal_total = float(model.signal.sum())
        self.is_poisson, self.width = model._is_poisson, model._width
        self.free = ~model._fixed
        self.conditional_free = self.free.copy()
        self.conditional_free[0] = False

    def nominal_aux(self):
        return self.model.nominal_aux()

    def start(self, counts, aux):
        """The model's starting nuisance parameters, with mu from the excess over their background."""
        x = np.array([[0.0, *self.model.start(c, a)] for c, a in zip(counts, aux)])
        background = self.model.expected(x).sum(axis=1)
        x[:, 0] = np.maximum((counts.sum(axis=1) - background) / max(self.signal_total, 1e-12), 0.0)
        return x

    def global_fit(self, counts, aux, start):
        return minimize(self.model, counts, aux, start, free=self.free)

    def conditional(self, mu, counts, aux, start):
        x = np.array(start, dtype=float)
        x[:, 0] = mu
        return minimize(self.model, counts, aux, x, free=self.conditional_free)

    def expected(self, x):
        return self.model.expected(x)

    def aux_centre(self, x):
        return self.model.aux_at(x)


def _uniforms(seed, n_toys, width, stream):
    """Uniform random numbers (2, n_toys, width) for the two hypotheses, each bin's column from its own
    stream (``SeedSequence(seed, spawn_key=(stream, bin))``): a model's pseudo-experiments do not
    depend on how many bins other models of the same batch have."""
    columns = [np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, j))).random((2, n_toys))
               for j in range(width)]
    return np.stack(columns, axis=-1) if columns else np.zeros((2, n_toys, 0))


def _normals(seed, n_toys, width, stream):
    """Standard normal deviates laid out as :func:`_uniforms`."""
    return ndtri(np.clip(_uniforms(seed, n_toys, width, stream), 1e-300, 1 - 1e-16))


def _fits(model):
    """The vectorised fits of a model's pseudo-experiments by Newton's method (a template model's are
    in closed form: :func:`fast_toy_upper_limits`)."""
    from .smooth import SmoothBackgroundModel

    if isinstance(model, HistFactoryModel | SmoothBackgroundModel):
        return _NewtonFits(model)
    raise ParameterError(f"pseudo-experiments by Newton's method need a HistFactoryModel or SmoothBackgroundModel, "
                         f"not {type(model).__name__}")


#: Pseudo-experiments fitted in one batch by Newton's method: at most 16 000, and fewer for models of
#: many parameters, whose Hessians (rows x p x p) are kept to about 100 MB.
_BATCH_ROWS = 16_000
_BATCH_BYTES = 1e8


class _Toys:
    """Pseudo-experiments of one model and observed data set."""

    def __init__(self, fits, counts, aux, n_toys, seed, min_tail_b: int = 0):
        self.fits = fits
        self.min_tail_b = min_tail_b
        self.counts = np.asarray(counts, dtype=float)[None]
        self.aux = (fits.nominal_aux() if aux is None else np.asarray(aux, dtype=float))[None]
        # fixed random numbers per hypothesis (signal plus background, background only)
        size = self.aux.shape[1]
        self.uniforms = _uniforms(seed, n_toys, fits.n_bins, 0)
        self.aux_uniforms = _uniforms(seed, n_toys, size, 1)
        self.aux_normals = _normals(seed, n_toys, size, 2)
        self.best, self.best_nll = fits.global_fit(self.counts, self.aux, fits.start(self.counts, self.aux))
        self._cache = {}
        self._background_only = None

    def q_tilde(self, mu, counts, aux, best, best_nll):
        """q~_mu of rows of data, given each row's global fit (mu-hat >= 0, so the reference nll is
        that of mu = 0 when the unbounded mu-hat is negative, as q~ defines it)."""
        _, nll = self.fits.conditional(mu, counts, aux, best)
        return np.where(best[:, 0] > mu, 0.0, np.maximum(2 * (nll - best_nll), 0.0))

    def _sample(self, which, x):
        """Pseudo-experiments (main counts, auxiliary data) at the parameters ``x`` (1, P)."""
        fits = self.fits
        counts = poisson_quantile(self.uniforms[which], fits.expected(x)[0])
        centre = fits.aux_centre(x)[0]
        gauss = centre + fits.width * self.aux_normals[which]
        poisson_aux = poisson_quantile(self.aux_uniforms[which], np.where(fits.is_poisson, centre, 0.0))
        return counts, np.where(fits.is_poisson, poisson_aux, gauss)

    def _fitted(self, which, x):
        """Pseudo-experiments drawn at ``x`` with their global fits: (counts, aux, best, best_nll)."""
        counts, aux = self._sample(which, x)
        best, best_nll = self.fits.global_fit(counts, aux, np.repeat(x, counts.shape[0], axis=0))
        return counts, aux, best, best_nll

    def evaluate(self, mu):
        """(q_obs, q under mu, q under 0) at ``mu``, cached (see :meth:`evaluate_many`)."""
        if mu not in self._cache:
            self.evaluate_many([mu])
        return self._cache[mu]

    def evaluate_many(self, mus):
        """Fill the cache of :meth:`evaluate` at several signal strengths, their fits batched
        (:data:`_BATCH_ROWS` pseudo-experiments at a time, fewer for many parameters; each row's fit is
        independent of the others, so the numbers do not depend on the batching). The background-only pseudo-experiments, drawn
        at the mu = 0 fit to the data, do not depend on mu: drawn and fitted once."""
        fits = self.fits
        if self._background_only is None:
            fitted_zero, _ = fits.conditional(0.0, self.counts, self.aux, self.best)
            self._background_only = self._fitted(1, fitted_zero)
        todo = np.array([mu for mu in dict.fromkeys(float(m) for m in np.ravel(mus)) if mu not in self._cache])
        n = self.uniforms.shape[1]
        p = self.best.shape[1]
        per_batch = max(min(_BATCH_ROWS, int(_BATCH_BYTES / (8 * p * p))) // n, 1)
        for first in range(0, todo.size, per_batch):
            mus_now = todo[first : first + per_batch]
            m = mus_now.size
            fitted, nll = fits.conditional(mus_now, np.repeat(self.counts, m, axis=0), np.repeat(self.aux, m, axis=0),
                                           np.repeat(self.best, m, axis=0))
            q_obs = np.where(self.best[0, 0] > mus_now, 0.0, np.maximum(2 * (nll - self.best_nll[0]), 0.0))
            drawn = [self._sample(0, fitted[i : i + 1]) for i in range(m)]
            counts, aux = np.concatenate([d[0] for d in drawn]), np.concatenate([d[1] for d in drawn])
            best, best_nll = fits.global_fit(counts, aux, np.repeat(fitted, n, axis=0))
            rows_mu = np.repeat(mus_now, n)
            q_sb = self.q_tilde(rows_mu, counts, aux, best, best_nll).reshape(m, n)
            q_b = self.q_tilde(rows_mu, *(np.concatenate([part] * m) for part in self._background_only)).reshape(m, n)
            for i, mu in enumerate(mus_now):
                self._cache[float(mu)] = (float(q_obs[i]), q_sb[i], q_b[i])

    def cls(self, mu):
        """Observed CLs and the five expected CLs (quantiles Phi(k) of CLs over the background-only
        pseudo-experiments) at ``mu``."""
        values = _cls_values(*self.evaluate(mu), self.min_tail_b)
        return float(values[0]), values[1:]


#: Signal-plus-background pseudo-experiments that CLs = alpha must leave beyond the data for the observed
#: CLs to count as measured (see the module docstring and :func:`min_tail`).
MIN_TAIL_AT_ALPHA = 3


def min_tail(alpha: float) -> int:
    """Fewest background-only pseudo-experiments at or beyond the data's q for an observed CLs near
    ``alpha`` to be measured: :data:`MIN_TAIL_AT_ALPHA` / alpha, rounded up.

    Examples
    --------
    >>> min_tail(0.1), min_tail(0.05)
    (30, 60)
    """
    return int(np.ceil(MIN_TAIL_AT_ALPHA / alpha - 1e-9))


def _cls_values(q_obs, q_sb, q_b, min_tail_b: int = 0):
    """CLs of the data and the five expected CLs from the test statistics of the data, of the signal-
    plus-background and of the background-only pseudo-experiments: CLs+b = P(q >= q_obs | mu),
    CLb = P(q >= q_obs | 0) (ties within 1e-9 counted), the expected ones the Phi(k) quantiles of CLs
    over the background-only pseudo-experiments, each at its own q. Returns an array of 6; the
    observed CLs is NaN where fewer than ``min_tail_b`` background-only pseudo-experiments reach the
    data's q (unresolved, see the module docstring; 0, the default, never)."""
    sb, b = np.sort(q_sb), np.sort(q_b)
    q = np.append(q_obs, q_b) - 1e-9
    tail_sb = sb.size - np.searchsorted(sb, q, side="left")
    tail_b = b.size - np.searchsorted(b, q, side="left")
    cls = np.where(tail_b > 0, tail_sb / np.maximum(tail_b, 1) * (b.size / sb.size), 1.0)
    observed = cls[0] if tail_b[0] >= min(min_tail_b, b.size) else np.nan
    return np.concatenate([[observed], np.quantile(cls[1:], ndtr(np.array(BANDS, dtype=float)), method="inverted_cdf")])


def _observed_or_asymptotic(limit, reference):
    """The observed limit of the pseudo-experiments and no note, or, where they do not resolve it
    (NaN), the asymptotic ``reference``'s and :data:`OBSERVED_ASYMPTOTIC_NOTE`."""
    if np.isfinite(limit):
        return float(limit), ""
    log.info(OBSERVED_ASYMPTOTIC_NOTE)
    return float(reference.observed), OBSERVED_ASYMPTOTIC_NOTE


def _span(reference):
    """The smallest and largest of an asymptotic LimitResult's observed and expected limits."""
    values = [reference.observed, *reference.expected]
    return [np.nanmin(values), np.nanmax(values)]


def _check_toys(n_toys):
    if not isinstance(n_toys, int | np.integer) or n_toys < 100:
        raise ParameterError(f"n_toys={n_toys!r} must be an integer >= 100 (CLs near alpha needs many)")


def poisson_quantile(uniforms, means):
    """The smallest k with P(n <= k | mean) >= u, for arrays of ``uniforms`` and ``means`` (broadcast):
    Poisson counts by inverse transform (scipy's ``poisson.ppf``, ten times faster): a start from the
    normal approximation, then steps of one with the cumulative distribution ``pdtr``.

    Examples
    --------
    >>> from scipy.stats import poisson
    >>> u = np.linspace(0.001, 0.999, 7)
    >>> bool(np.all(poisson_quantile(u, 3.7) == poisson.ppf(u, 3.7)))
    True
    """
    uniforms, means = np.broadcast_arrays(np.asarray(uniforms, float), np.maximum(np.asarray(means, float), 0.0))
    shape = uniforms.shape
    u, lam = uniforms.ravel(), means.ravel()
    z = ndtri(np.clip(u, 1e-300, 1 - 1e-16))
    # the normal approximation with its first skewness correction (Cornish-Fisher): off by at most a
    # few counts, which the steps below correct, each on the entries that still need it
    k = np.maximum(np.floor(lam + np.sqrt(lam) * z + (z * z - 1) / 6), 0.0)
    todo = np.flatnonzero(pdtr(k, lam) < u)
    while todo.size:
        k[todo] += 1
        todo = todo[pdtr(k[todo], lam[todo]) < u[todo]]
    todo = np.flatnonzero(k > 0)
    todo = todo[pdtr(k[todo] - 1, lam[todo]) >= u[todo]]
    while todo.size:
        k[todo] -= 1
        todo = todo[k[todo] > 0]
        todo = todo[pdtr(k[todo] - 1, lam[todo]) >= u[todo]]
    return k.reshape(shape)


def toy_upper_limit(model, counts, *, aux=None, cl: float = 0.95, n_toys: int = 2000, seed: int = 0,
                    bands: bool = True, references=None, n_grid: int = 24) -> LimitResult:
    """Observed and expected CLs upper limits on mu from pseudo-experiments (see the module docstring).

    Parameters
    ----------
    model : HistFactoryModel, SmoothBackgroundModel or BinnedModel
    counts : array
        Observed counts (all regions' bins).
    aux : array, optional
        Auxiliary data; nominal by default.
    cl : float
        Confidence level, 0.95 by default.
    n_toys : int
        Pseudo-experiments per hypothesis and signal strength (2000 by default: CLs near 0.05 to
        about 0.005 absolute).
    seed : int
        Seed of the pseudo-experiments' random numbers (0 by default).
    bands : bool
        Compute the expected limits too (True by default).
    references : LimitResult, optional
        The asymptotic limits, which place the grid of signal strengths (computed when not given).
    n_grid : int
        Signal strengths of the grid (24 by default; see :func:`fast_toy_upper_limits`).

    Examples
    --------
    One bin, no background, no event: CLs = exp(-mu s), so the 95% limit is -ln(0.05) = 3.0 for s = 1.

    >>> from analysis_lib.stats import BinnedModel
    >>> r = toy_upper_limit(BinnedModel([1.0], [1e-9], float_background=False), [0.0], n_toys=40_000)
    >>> round(r.observed, 1)
    3.0
    """
    if not 0 < cl < 1:
        raise ParameterError(f"cl={cl!r} must be between 0 and 1, e.g. 0.95")
    _check_toys(n_toys)
    from .likelihood import BinnedModel

    counts = np.asarray(counts, dtype=float)
    if isinstance(model, BinnedModel):  # the batch evaluator on one model: the same numbers as in a scan
        return fast_toy_upper_limits([model], [counts], cl=cl, aux=[aux], n_toys=n_toys, seed=seed, n_grid=n_grid,
                                     references=None if references is None else [references])[0]
    fits = _fits(model)
    if counts.shape != (fits.n_bins,):
        raise ParameterError(f"counts have shape {counts.shape}, but ({fits.n_bins},) is required")
    alpha = 1 - cl
    toys = _Toys(fits, counts, aux, int(n_toys), seed, min_tail(alpha))
    if references is None:
        from .limits import upper_limit

        references = upper_limit(model, counts, cl=cl, aux=aux, method="asymptotic")
    span = _span(references)

    def curves(mu):
        observed, expected = toys.cls(float(mu[0]))
        return np.concatenate([[observed], expected])[None, :]

    grid, values, ends = _on_grid(curves, [span], alpha, n_grid, prefetch=lambda grid: toys.evaluate_many(grid[0]))
    limits = [_crossing(grid[0, : ends[0]], values[0, : ends[0], k], alpha) for k in range(values.shape[2])]
    expected = tuple(limits[1:]) if bands else (float("nan"),) * len(BANDS)
    observed, note = _observed_or_asymptotic(limits[0], references)
    return LimitResult(observed=observed, expected=expected, cl=cl, note=note,
                       method=f"CLs, pseudo-experiments ({n_toys} per hypothesis)", mu_hat=float(toys.best[0, 0]))


def fast_toy_upper_limits(models, counts, *, cl: float = 0.95, aux=None, references=None, n_toys: int = 2000,
                          seed: int = 0, n_grid: int = 24) -> list:
    """CLs limits from pseudo-experiments of many :class:`~analysis_lib.stats.likelihood.BinnedModel`
    at once (the hypotheses of a scan), vectorised over models and pseudo-experiments.

    The construction of :func:`toy_upper_limit`, with the closed-form fits of
    :mod:`analysis_lib.stats.fast`. Each model's CLs curves are evaluated on a geometric grid of
    ``n_grid`` signal strengths from 0.2 times the smallest to 2.5 times the largest of its
    ``references`` (the asymptotic LimitResults; computed when not given), extended upwards where a curve has not crossed alpha, and each limit is the crossing by
    linear interpolation of log CLs (grid steps of 10-15%, far below the pseudo-experiments'
    statistical precision). The background-only pseudo-experiments do not depend on mu: they are
    drawn and fitted once.

    Returns
    -------
    list of LimitResult
    """
    from . import fast

    models = list(models)
    h = len(models)
    if h == 0:
        return []
    _check_toys(n_toys)
    alpha = 1 - cl
    if references is None:
        # they only place the grid: their under-coverage notes do not concern these limits
        references = fast.fast_upper_limits(models, counts, cl=cl, aux=aux, method="asymptotic", warn=False)
    spans = np.array([_span(r) for r in references])
    curves, mu_hat = _binned_cls_curves(models, counts, aux, n_toys, seed, min_tail(alpha))
    grid, values, ends = _on_grid(curves, spans, alpha, n_grid)
    out = []
    for i in range(h):
        limits = [_crossing(grid[i, : ends[i]], values[i, : ends[i], k], alpha) for k in range(values.shape[2])]
        observed, note = _observed_or_asymptotic(limits[0], references[i])
        out.append(LimitResult(observed=observed, expected=tuple(limits[1:]), cl=cl, note=note,
                               method=f"CLs, pseudo-experiments ({n_toys} per hypothesis)", mu_hat=float(mu_hat[i])))
    return out


def fast_toy_cls(models, counts, mu, *, aux=None, n_toys: int = 2000, seed: int = 0,
                 cl: float | None = None) -> np.ndarray:
    """CLs from pseudo-experiments of many :class:`~analysis_lib.stats.likelihood.BinnedModel` at one
    signal strength each, ``mu`` (h,): (h, 6), the observed CLs and the five expected ones (the
    construction of :func:`fast_toy_upper_limits`, whose limits are where these fall to alpha). A
    limit covers a true signal s exactly when CLs at s is above alpha, so coverage needs only this.
    With ``cl`` (None by default: every CLs as the pseudo-experiments give it), the observed CLs is NaN
    where they do not resolve it near alpha = 1 - cl (:func:`min_tail`): the limit is then usually
    the asymptotic one (:func:`analysis_lib.stats.coverage.shape_coverage` computes it there)."""
    models = list(models)
    _check_toys(n_toys)
    curves, _ = _binned_cls_curves(models, counts, aux, n_toys, seed, 0 if cl is None else min_tail(1 - cl))
    return curves(np.broadcast_to(np.asarray(mu, dtype=float), (len(models),)).copy())


def _binned_cls_curves(models, counts, aux, n_toys, seed, min_tail_b: int = 0):
    """For many BinnedModels and their data, ``curves(mu (h,)) -> (h, 6)``: the observed and the five
    expected CLs from pseudo-experiments at each model's mu (the construction of the module
    docstring, with the closed-form fits of :mod:`analysis_lib.stats.fast`); and mu-hat of the data."""
    from . import fast

    h = len(models)
    rows, width = fast._stack(models)
    data, aux_rows = np.zeros((h, width)), np.zeros((h, width))
    given = [None] * h if aux is None else list(aux)
    for i, (m, c, a) in enumerate(zip(models, counts, given, strict=True)):
        data[i, : m.signal.size] = np.asarray(c, dtype=float)
        aux_rows[i, : m.signal.size] = m.nominal_aux() if a is None else np.asarray(a, dtype=float)
    finite = np.isfinite(rows.tau)
    tau = np.where(finite, rows.tau, 0.0)
    uniforms = _uniforms(seed, n_toys, width, 0)  # the same for every model: its toys depend only on it
    aux_uniforms = _uniforms(seed, n_toys, width, 1)

    mu_hat, nll_hat, theta_hat = fast._global_fit(rows, data, aux_rows, *fast._start(rows, data))

    def draw(which, index, mu, theta, gamma):
        """Pseudo-experiments of the models ``index`` at (mu, theta, gamma): (len(index) * n_toys, width)."""
        nu = mu[:, None] * rows.s[index] + theta[:, None] * gamma * rows.b[index]
        toys = poisson_quantile(uniforms[which][None], nu[:, None, :]).reshape(-1, width)
        centre = tau[index] * gamma
        aux_toys = poisson_quantile(aux_uniforms[which][None], centre[:, None, :]).reshape(-1, width)
        return toys, aux_toys

    every = np.arange(h)
    toy_rows = np.repeat(every, n_toys)
    sub = rows.take(toy_rows)
    # background only: drawn at the mu = 0 fit to the data, fitted once
    _, theta_zero, gamma_zero = fast._profile(rows, np.zeros(h), data, aux_rows, theta_hat)
    b_toys, b_aux = draw(1, every, np.zeros(h), theta_zero, gamma_zero)
    b_mu_hat, b_nll_hat, b_theta_hat = fast._global_fit(sub, b_toys, b_aux, *fast._start(sub, b_toys))

    def q_values(mu):
        """q~ of the data, the signal-plus-background and the background-only toys at mu (h,)."""
        nll_mu, theta_mu, gamma_mu = fast._profile(rows, mu, data, aux_rows, theta_hat)
        q_obs = np.where(mu_hat > mu, 0.0, np.maximum(2 * (nll_mu - nll_hat), 0.0))
        sb_toys, sb_aux = draw(0, every, mu, theta_mu, gamma_mu)
        sb_mu_hat, sb_nll_hat, sb_theta = fast._global_fit(sub, sb_toys, sb_aux, *fast._start(sub, sb_toys))
        mus = np.repeat(mu, n_toys)
        sb_nll, _, _ = fast._profile(sub, mus, sb_toys, sb_aux, sb_theta)
        b_nll, _, _ = fast._profile(sub, mus, b_toys, b_aux, b_theta_hat)
        q_sb = np.where(sb_mu_hat > mus, 0.0, np.maximum(2 * (sb_nll - sb_nll_hat), 0.0)).reshape(h, n_toys)
        q_b = np.where(b_mu_hat > mus, 0.0, np.maximum(2 * (b_nll - b_nll_hat), 0.0)).reshape(h, n_toys)
        return q_obs, q_sb, q_b

    def curves(mu):
        """Observed and five expected CLs of every model at its mu (h,) -> (h, 6)."""
        q_obs, q_sb, q_b = q_values(mu)
        return np.array([_cls_values(q_obs[i], q_sb[i], q_b[i], min_tail_b) for i in range(h)])

    return curves, mu_hat


def _on_grid(curves, spans, alpha, n_grid, prefetch=None):
    """CLs curves ``curves(mu (h,)) -> (h, c)`` of h hypotheses on geometric grids of ``n_grid`` signal
    strengths from 0.2 times the smallest to 2.5 times the largest of each row of ``spans`` (h, 2)
    (asymptotic limits), extended upwards until every curve has fallen to ``alpha`` or is NaN there (an
    unresolved observed CLs, whose limit is then not the pseudo-experiments'); ``prefetch(grid
    (h, n_grid))``, when given, is called first with the whole grid (to compute it in one batch).
    Returns the grid, the values and, per hypothesis, how many points of them are its own: up to where
    its curves alone would have stopped the extension, so that a hypothesis's limits do not depend on
    the others computed with it."""
    spans = np.asarray(spans, dtype=float)
    factors = np.geomspace(0.2, 2.5 * np.maximum(spans[:, 1] / np.maximum(spans[:, 0], 1e-300), 1.0), n_grid).T
    grid = factors * np.maximum(spans[:, :1], 1e-12)  # (h, n_grid)
    if prefetch is not None:
        prefetch(grid)
    values = np.stack([curves(grid[:, j]) for j in range(n_grid)], axis=1)  # (h, n_grid, c)
    for _ in range(40):
        if not np.any(values[:, -1, :] > alpha):
            break
        top = grid[:, -1] * 1.25
        grid = np.column_stack([grid, top])
        values = np.concatenate([values, curves(top)[:, None, :]], axis=1)
    else:
        raise RuntimeError("no upper limit found: CLs does not fall below alpha")
    could_stop = ~np.any(values > alpha, axis=2)
    could_stop[:, : n_grid - 1] = False
    return grid, values, np.argmax(could_stop, axis=1) + 1


def _crossing(grid, values, alpha):
    """Where ``values`` on the increasing ``grid`` first fall to ``alpha`` (log-linear interpolation;
    from CLs = 1 at mu = 0 when already below at the first point); NaN where no value falls to alpha
    or the one before the first that does is NaN (unresolved: the crossing is not measured)."""
    below = np.flatnonzero(values <= alpha)
    if below.size == 0:
        return float("nan")
    j = below[0]
    if j > 0 and not np.isfinite(values[j - 1]):
        return float("nan")
    lo, f_lo = (0.0, 0.0) if j == 0 else (grid[j - 1], np.log(max(values[j - 1], 1e-300)))
    hi, f_hi = grid[j], np.log(max(values[j], 1e-300))
    if f_lo == f_hi:
        return float(hi)
    return float(np.clip(lo + (np.log(alpha) - f_lo) * (hi - lo) / (f_hi - f_lo), lo, hi))
