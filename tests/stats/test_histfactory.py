"""The HistFactory model: interpolation codes, likelihood and gradient, limits of models with several
samples and regions, and the refusals of malformed models."""

import json
from pathlib import Path

import numpy as np
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.stats import BinnedModel, upper_limit
from analysis_lib.stats import interpolation as interp
from analysis_lib.stats.histfactory import HistFactoryModel, Modifier, Region, Sample
from analysis_lib.stats.workspace import from_binned_model

REFERENCES = json.loads((Path(__file__).resolve().parent.parent / "data" / "pyhf_workspace_references.json").read_text())
INTERPOLATION = REFERENCES["interpolation_references"]


@pytest.mark.parametrize("code", ["code0", "code2", "code4p"])
def test_additive_interpolation_matches_pyhf(code):
    alphas = np.array(INTERPOLATION["alphas"])
    nominal, hi, lo = (np.array(INTERPOLATION[k]) for k in ("nominal", "hi", "lo"))
    ours, _ = interp.additive(code, alphas[:, None], hi - nominal, nominal - lo)
    reference = np.array(INTERPOLATION["codes"][code])
    # pyhf 0.7.6's code2 jumps at |alpha| = 1 (it leaves out the value there); compare inside only
    inside = np.abs(alphas) <= 1 if code == "code2" else np.ones(alphas.size, dtype=bool)
    assert ours[inside] == pytest.approx(reference[inside], abs=1e-12)


@pytest.mark.parametrize("code", ["code1", "code4"])
def test_multiplicative_interpolation_matches_pyhf(code):
    alphas = np.array(INTERPOLATION["alphas"])
    ours, _ = interp.multiplicative(code, alphas[:, None], INTERPOLATION["factor_hi"], INTERPOLATION["factor_lo"])
    assert ours == pytest.approx(np.array(INTERPOLATION["codes"][code]), abs=1e-12)


@pytest.mark.parametrize(("kind", "code"), [("additive", "code2"), ("additive", "code4p"), ("multiplicative", "code4")])
def test_smooth_codes_are_continuous_to_second_order(kind, code):
    # value, slope and curvature continuous at alpha = +-1 (the conditions that define the codes),
    # and the slope returned equals the numerical one
    function = getattr(interp, kind)
    args = ([0.3, 2.0], [0.5, 0.4]) if kind == "additive" else ([1.3, 0.8], [0.7, 1.1])
    orders = (0, 1) if code == "code2" else (0, 1, 2)

    def value(alpha):
        return function(code, np.array([[alpha]]), *args)[0][0]

    h = 1e-3
    for edge in (-1.0, 1.0):
        inward = -np.sign(edge)  # towards alpha = 0

        def one_sided(direction, edge=edge):
            # value, slope and curvature at the edge from the piece on one side (differences that
            # start at the edge and stay on that side)
            v = [value(edge + direction * i * h) for i in range(3)]
            return [v[0], direction * (v[1] - v[0]) / h, (v[2] - 2 * v[1] + v[0]) / h**2]

        inside, outside = one_sided(inward), one_sided(-inward)
        for order in orders:
            # differences err by the next derivative times h (order 1: curvature h / 2 <= 0.01 here)
            tolerance = (1e-12, 2e-2, 5e-2)[order]
            assert inside[order] == pytest.approx(outside[order], abs=tolerance)
    for alpha in (-1.7, -0.4, 0.3, 0.95, 2.2):
        numerical = (value(alpha + 1e-6) - value(alpha - 1e-6)) / 2e-6
        assert function(code, np.array([[alpha]]), *args)[1][0] == pytest.approx(numerical, rel=1e-5, abs=1e-8)


def rich_model():
    x = np.linspace(-1, 1, 5)
    s, b1, b2 = 5 * np.exp(-(x**2) / 0.1), 20 * (1 + 0.3 * x), 7 * (1 - 0.2 * x)
    sr = Region("SR", [
        Sample("signal", s, [Modifier("mu", "normfactor"), Modifier("lumi", "lumi"), Modifier("eff", "normsys", {"hi": 1.05, "lo": 0.92})]),
        Sample("b1", b1, [Modifier("k", "normfactor"), Modifier("stat", "staterror", list(0.05 * b1)),
                          Modifier("shape", "histosys", {"hi_data": list(b1 * (1 + 0.1 * x)), "lo_data": list(b1 * (1 - 0.07 * x))})]),
        Sample("b2", b2, [Modifier("b2_unc", "shapesys", list(0.3 * b2)), Modifier("stat", "staterror", list(0.1 * b2)),
                          Modifier("shape", "normsys", {"hi": 1.1, "lo": 0.9})]),
    ])
    cr = Region("CR", [Sample("b1", 80 * (1 + 0.1 * x), [Modifier("k", "normfactor"), Modifier("free", "shapefactor"),
                                                         Modifier("lumi", "lumi")])])
    model = HistFactoryModel([sr, cr], settings={"lumi": {"auxdata": [1.0], "sigmas": [0.02]}})
    counts = np.concatenate([np.round(b1 + b2), np.round(80 * (1 + 0.1 * x))])
    return model, counts


def test_gradient_equals_finite_differences():
    model, counts = rich_model()
    rng = np.random.default_rng(4)
    x = model._init + rng.normal(0, 0.1, model.n_parameters)
    x[0] = 0.7
    aux = model.nominal_aux() * (1 + 0.01 * rng.normal(size=model.nominal_aux().size))
    _, gradient = model.full_nll(x[None], counts[None], aux[None], gradient=True)
    step = 1e-6
    numerical = [(model.full_nll((x + e)[None], counts[None], aux[None])[0]
                  - model.full_nll((x - e)[None], counts[None], aux[None])[0]) / (2 * step)
                 for e in np.eye(x.size) * step]
    assert gradient[0] == pytest.approx(np.array(numerical), rel=1e-5, abs=1e-6)


def test_shared_parameters_are_one():
    model, _ = rich_model()
    names = [name for name, _, _ in model.parameters]
    assert names[0] == "mu" and len(names) == len(set(names))
    # k on two samples in two regions, shape as a histosys and a normsys: one parameter each
    assert names.count("k") == 1 and dict((n, t) for n, t, _ in model.parameters)["shape"] == "histosys"
    sizes = {name: size for name, _, size in model.parameters}
    assert sizes["stat"] == 5 and sizes["free"] == 5 and sizes["eff"] == 1


def test_staterror_width_combines_the_samples():
    # two samples with nominal 50 and 20 and uncertainties 3 and 4: relative width 5 / 70 (pyhf's rule)
    model = HistFactoryModel([Region("r", [
        Sample("signal", [1.0], [Modifier("mu", "normfactor")]),
        Sample("a", [50.0], [Modifier("stat", "staterror", [3.0])]),
        Sample("b", [20.0], [Modifier("stat", "staterror", [4.0])]),
    ])])
    assert model._width == pytest.approx([5 / 70])


def test_known_background_counting_limit_in_closed_form():
    # one bin, no nuisance parameter: 2 [mu - b ln(1 + mu / b)] = Phi^-1(0.975)^2 at n = b = 10
    model = HistFactoryModel([Region("bin", [Sample("signal", [1.0], [Modifier("mu", "normfactor")]),
                                             Sample("background", [10.0])])])
    from scipy.optimize import brentq
    from scipy.stats import norm

    exact = brentq(lambda mu: 2 * (mu - 10 * np.log(1 + mu / 10)) - norm.isf(0.025) ** 2, 1, 30)
    result = upper_limit(model, [10.0], method="asymptotic")
    assert exact == pytest.approx(7.539, abs=1e-3)
    # auto on this one-bin model: pseudo-experiments (Newton fits with no free parameter), near it
    auto = upper_limit(model, [10.0])
    assert "pseudo-experiments" in auto.method and auto.observed == pytest.approx(exact, rel=0.1)
    assert result.observed == pytest.approx(exact, rel=1e-5)
    assert result.expected[2] == pytest.approx(exact, rel=1e-5)


@pytest.mark.parametrize(("uncertainty", "floating"), [(None, True), (0.1, False), (0.05, True)])
def test_binned_model_as_histfactory_gives_the_same_limits(uncertainty, floating):
    # the closed-form per-bin profile of BinnedModel against the numerical profile of the general model
    x = np.linspace(-1, 1, 8)
    signal, background = 6 * np.exp(-(x**2) / 0.08), 25 * (1 + 0.2 * x)
    counts = np.random.default_rng(7).poisson(background).astype(float)
    binned = BinnedModel(signal, background, None if uncertainty is None else uncertainty * background,
                         float_background=floating)
    ours = upper_limit(binned, counts, method="asymptotic")
    general = upper_limit(from_binned_model(binned), counts, method="asymptotic")
    assert general.observed == pytest.approx(ours.observed, rel=2e-3)
    assert np.asarray(general.expected) == pytest.approx(np.asarray(ours.expected), rel=2e-3)


def _one_region(*samples, **options):
    return HistFactoryModel([Region("r", [Sample("signal", [1.0, 1.0], [Modifier("mu", "normfactor")]), *samples])],
                            **options)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: _one_region(Sample("b", [1.0, 2.0], [Modifier("x", "custom")])), "type 'custom', which is not supported"),
    (lambda: _one_region(Sample("b", [1.0, 2.0, 3.0])), "has 3 bins"),
    (lambda: _one_region(Sample("b", [1.0, np.nan])), "non-finite"),
    (lambda: _one_region(Sample("b", [1.0, 2.0], [Modifier("u", "shapesys", [0.1, 0.2])]),
                         Sample("c", [1.0, 2.0], [Modifier("u", "shapesys", [0.1, 0.2])])), "shapesys 'u' is on two samples"),
    (lambda: _one_region(Sample("b", [1.0, 2.0], [Modifier("mu", "normsys", {"hi": 1.1, "lo": 0.9})])), "is a normfactor and a normsys"),
    (lambda: HistFactoryModel([Region("sr", [Sample("s", [1.0], [Modifier("mu", "normfactor")]), Sample("b", [1.0], [
        Modifier("shape", "histosys", {"hi_data": [1.2], "lo_data": [0.8]})])])], settings={"shape": {"sigmas": [2.0]}}),
     "pyhf uses sigmas only for staterror and lumi"),
    (lambda: _one_region(Sample("b", [1.0, 2.0], [Modifier("lumi", "lumi")])), "needs its auxdata and sigmas"),
    (lambda: _one_region(Sample("b", [1.0, 2.0], [Modifier("n", "normsys", {"hi": 1.1})])), "keys ('hi', 'lo')"),
    (lambda: _one_region(Sample("b", [1.0, 2.0], [Modifier("n", "normsys", {"hi": -1.0, "lo": 0.9})])), "positive factor"),
    (lambda: _one_region(Sample("b", [1.0, 2.0], [Modifier("s", "staterror", [0.1])])), "2 finite non-negative"),
    (lambda: _one_region(Sample("b", [1.0, 2.0]), poi="nu"), "'nu' must be the name of a normfactor"),
    (lambda: _one_region(Sample("b", [1.0, 2.0]), settings={"theta": {"fixed": True}}), "no modifier names"),
    (lambda: _one_region(Sample("b", [1.0, 2.0], [Modifier("k", "normfactor")]), settings={"k": {"width": [1]}}), "not known"),
    (lambda: _one_region(Sample("b", [1.0, 2.0]), interpolation={"normsys": "code0"}), "normsys interpolation 'code0'"),
])
def test_malformed_models_are_refused_with_the_reason(build, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()
