"""Limits against pyhf on the same binned models, signal-injection closure, significance."""

import numpy as np
import pyhf
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.stats import BinnedModel, discovery_significance, fit, upper_limit


def pyhf_model(signal, background, uncertainty, float_background):
    modifiers = []
    if float_background:
        modifiers.append({"name": "bnorm", "type": "normfactor", "data": None})
    if uncertainty is not None:
        modifiers.append({"name": "stat", "type": "shapesys", "data": list(uncertainty)})
    spec = {"channels": [{"name": "c", "samples": [
        {"name": "sig", "data": list(signal), "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
        {"name": "bkg", "data": list(background), "modifiers": modifiers},
    ]}]}
    return pyhf.Model(spec, poi_name="mu")


def peak(n_bins, height, level, slope):
    x = np.linspace(-1, 1, n_bins) if n_bins > 1 else np.zeros(1)
    return height * np.exp(-(x**2) / 0.1), level + slope * x


CASES = [
    # (bins, signal height, background level, slope, relative uncertainty, float background, seed)
    (1, 10.0, 20.0, 0.0, 0.1, False, 1),
    (1, 5.0, 3.0, 0.0, None, False, 2),
    (5, 10.0, 20.0, 5.0, 0.1, False, 3),
    (5, 10.0, 20.0, 5.0, 0.1, True, 4),
    (8, 3.0, 0.5, 0.2, None, True, 5),
    (10, 20.0, 200.0, 50.0, 0.02, True, 6),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}bins-{i}" for i, c in enumerate(CASES)])
def test_limits_agree_with_pyhf(case):
    n_bins, height, level, slope, rel, float_bkg, seed = case
    s, b = peak(n_bins, height, level, slope)
    u = None if rel is None else rel * b
    n = np.random.default_rng(seed).poisson(b).astype(float)
    ours = upper_limit(BinnedModel(s, b, u, float_background=float_bkg), n, cl=0.95, method="asymptotic")
    pyhf.set_backend("numpy", "scipy")
    model = pyhf_model(s, b, u, float_bkg)
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0, 10 * ours.expected[4])
    data = list(n) + model.config.auxdata
    obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
        data, model, 0.1 * ours.expected[0], 3 * ours.expected[4], level=0.05, par_bounds=bounds, rtol=1e-6
    )
    assert ours.observed == pytest.approx(float(obs), rel=0.01)
    assert np.asarray(ours.expected) == pytest.approx(np.asarray(exp, dtype=float), rel=0.01)
    assert 0 < ours.expected[0] < ours.expected[1] < ours.expected[2] < ours.expected[3] < ours.expected[4]


@pytest.mark.parametrize("b", [3.0, 10.0, 100.0])
def test_counting_limit_closed_form(b):
    # known background b and n = b observed: mu-hat = 0, so q~_mu = q_mu,A = 2 [mu - b ln(1 + mu/b)]
    # and CLb = 1/2; CLs = 2 (1 - Phi(sqrt(q))) = 0.05 gives q = Phi^-1(0.975)^2 (derived from
    # Cowan et al., Eqs. (65)-(66), for one Poisson bin)
    from scipy.optimize import brentq
    from scipy.stats import norm

    target = norm.ppf(0.975) ** 2
    closed = brentq(lambda mu: 2 * (mu - b * np.log1p(mu / b)) - target, 1e-6, 10 * b + 50)
    r = upper_limit(BinnedModel([1.0], [b], float_background=False), [b], cl=0.95, method="asymptotic")
    assert r.observed == pytest.approx(closed, rel=1e-3)
    assert r.expected[2] == pytest.approx(closed, rel=1e-3)
    assert r.cl == 0.95 and r.test_statistic == "q~_mu"


def test_signal_injection_closure():
    # signal strength allowed negative; pulls (mu_hat - mu_true) / sigma have mean 0 and width 1
    s, b = peak(20, 15.0, 40.0, 5.0)
    model = BinnedModel(s, b, 0.02 * b, mu_bounds=(-2.0, 20.0), float_background=True)
    rng = np.random.default_rng(12)
    pulls = []
    for mu_true in (0.0, 1.0):
        for _ in range(200):
            n = rng.poisson(mu_true * s + b)
            r = fit(model, n, errors=True)
            pulls.append((r.mu - mu_true) / r.mu_error)
    pulls = np.array(pulls)
    n_toys = len(pulls)
    assert pulls.mean() == pytest.approx(0.0, abs=4 / np.sqrt(n_toys))
    assert pulls.std() == pytest.approx(1.0, abs=4 / np.sqrt(2 * n_toys))


def test_significance():
    s, b = peak(20, 30.0, 40.0, 0.0)
    known = BinnedModel(s, b, float_background=False)
    floating = BinnedModel(s, b, float_background=True)
    assert discovery_significance(floating, b) == pytest.approx(0.0, abs=1e-3)
    # Asimov data with signal, known background: Z_A of Cowan et al., Eq. (97), summed over bins
    expected = np.sqrt(2 * np.sum((s + b) * np.log(1 + s / b) - s))
    assert discovery_significance(known, s + b) == pytest.approx(expected, rel=1e-3)
    # a free background normalisation can only lose significance
    assert 0 < discovery_significance(floating, s + b) < expected


def test_bad_models_are_refused():
    with pytest.raises(ParameterError, match="shape"):
        BinnedModel([1.0, 2.0], [1.0])
    with pytest.raises(ParameterError, match="empty"):
        BinnedModel([1.0], [0.0])
    with pytest.raises(ParameterError, match="cl"):
        upper_limit(BinnedModel([1.0], [1.0]), [1.0], cl=95)


def test_smooth_background_model_agrees_with_pyhf():
    # degree 0 on equal bins is a flat background with a free normalisation (pyhf: normfactor on a
    # sample of ones); a peaking template with a Gaussian-constrained normalisation is pyhf's
    # "lumi" modifier on that sample alone
    from analysis_lib.stats import SmoothBackgroundModel

    n_bins = 12
    edges = np.linspace(0.0, 1.2, n_bins + 1)
    s, _ = peak(n_bins, 8.0, 0.0, 0.0)
    template = 6.0 * np.exp(-((np.linspace(-1, 1, n_bins) - 0.4) ** 2) / 0.05)
    counts = np.random.default_rng(21).poisson(30.0 + template).astype(float)
    ours = upper_limit(SmoothBackgroundModel(s, edges, degree=0, templates=[template],
                                             template_uncertainties=(0.2,)), counts, cl=0.95)
    spec = {
        "channels": [{"name": "c", "samples": [
            {"name": "sig", "data": list(s), "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
            {"name": "flat", "data": [1.0] * n_bins, "modifiers": [{"name": "norm", "type": "normfactor", "data": None}]},
            {"name": "peak", "data": list(template), "modifiers": [{"name": "lumi", "type": "lumi", "data": None}]},
        ]}],
        "parameters": [{"name": "lumi", "auxdata": [1.0], "sigmas": [0.2], "bounds": [[0.0, 5.0]], "inits": [1.0]},
                       {"name": "norm", "bounds": [[0.0, 1000.0]], "inits": [30.0]}],
    }
    pyhf.set_backend("numpy", "scipy")
    model = pyhf.Model(spec, poi_name="mu")
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0, 10 * ours.expected[4])
    init = model.config.suggested_init()
    obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
        list(counts) + model.config.auxdata, model, 0.1 * ours.expected[0], 3 * ours.expected[4], level=0.05,
        par_bounds=bounds, init_pars=init, rtol=1e-6,
    )
    assert ours.observed == pytest.approx(float(obs), rel=0.01)
    assert np.asarray(ours.expected) == pytest.approx(np.asarray(exp, dtype=float), rel=0.01)


def _smooth_case(seed=3):
    from analysis_lib.stats import SmoothBackgroundModel

    rng = np.random.default_rng(seed)
    edges = np.linspace(0, 1, 21)
    x = 0.5 * (edges[1:] + edges[:-1])
    signal = np.exp(-0.5 * ((x - 0.5) / 0.05) ** 2)
    template = 5 * np.exp(-0.5 * ((x - 0.3) / 0.05) ** 2)
    counts = rng.poisson(50 * np.exp(-2 * x) + template).astype(float)
    model = SmoothBackgroundModel(signal / signal.sum(), edges, degree=2, templates=[template],
                                  template_uncertainties=(0.25,))
    return model, counts


def test_smooth_model_gradient_against_finite_differences():
    model, counts = _smooth_case()
    aux = model.nominal_aux()
    point = np.array([3.0, 1.2, -0.4, 0.1, 1.1])  # mu, c0, c1, c2, theta
    gradient = model.nll_gradient(point[0], point[1:], counts, aux)
    for i in range(point.size):
        step = np.zeros_like(point)
        step[i] = 1e-6
        plus = model.nll((point + step)[0], (point + step)[1:], counts, aux)
        minus = model.nll((point - step)[0], (point - step)[1:], counts, aux)
        assert gradient[i] == pytest.approx((plus - minus) / 2e-6, rel=1e-5, abs=1e-6)


def test_expected_limits_solve_the_band_equations():
    # the secant solution of sqrt(q_mu,A) = k + Phi^-1(1 - alpha Phi(k)) against brentq on CLs_exp
    from scipy.optimize import brentq

    from analysis_lib.stats.limits import _Tester

    model, counts = _smooth_case(5)
    tester = _Tester(model, counts)
    expected = upper_limit(model, counts, cl=0.95).expected
    for k, mu in zip((-2, -1, 0, 1, 2), expected):
        assert tester.cls_expected(mu, k) == pytest.approx(0.05, rel=1e-6)
        root = brentq(lambda m, k=k: tester.cls_expected(m, k) - 0.05, 0.5 * mu, 2 * mu, xtol=1e-10)
        assert mu == pytest.approx(root, rel=1e-6)
