"""Counting in windows: background predictions, thresholds by Punzi's figure of merit, the CLs model
of a window and Bayesian counting limits, on hand-made numbers."""

from functools import partial

import numpy as np
import pytest
from scipy.stats import norm, poisson

from analysis_lib.analysis.counting import (
    MIN_SIMULATED_BACKGROUND,
    PUNZI_A,
    BayesianCounting,
    CountingInputs,
    CountingWindow,
    best_threshold,
    counting_model,
    punzi_figure_of_merit,
    summed_area,
    window_model,
)
from analysis_lib.analysis import counting
from analysis_lib.core.errors import KinematicError
from analysis_lib.stats import upper_limit
from analysis_lib.detector.datasets import dataset
from analysis_lib.stats.counting import bayesian_upper_limits_one_bin


def window(**fields):
    values = {"mass_gev": 2.0, "ranges": {"recoil_mass2": (3.5, 4.5)}, "efficiency": np.array([0.1, 0.0, 0.2]),
              "signal_per_unit": np.array([30.0, 0.0, 60.0]), "background": np.array([4.0, 2.0, 0.0]),
              "background_uncertainty": np.array([1.0, 0.5, 0.0]), "simulated_background": 50.0,
              "counts": np.array([5.0, 7.0, 1.0])}
    return CountingWindow(**{**values, **fields})


def test_punzi_figure_of_merit():
    # eps / (a/2 + sqrt(B)) with a = 1.28, the one-sided z of 90%
    assert PUNZI_A == pytest.approx(norm.ppf(0.9), abs=0.005)
    assert punzi_figure_of_merit(0.5, 4.0) == pytest.approx(0.5 / 2.64)
    np.testing.assert_allclose(punzi_figure_of_merit([0.2, 0.4], [0.0, 9.0], a=2.0), [0.2, 0.1])


def test_best_threshold_among_those_the_simulation_measures():
    efficiency = np.array([0.9, 0.8, 0.6, 0.3])
    background = np.array([100.0, 25.0, 4.0, 0.1])
    simulated = np.array([400, 100, 16, 2])
    merit = efficiency / (0.64 + np.sqrt(background))  # 0.085, 0.142, 0.227, 0.314
    # the tightest threshold would win, but rests on 2 simulated events
    assert MIN_SIMULATED_BACKGROUND == 10
    i, fom = best_threshold(efficiency, background, simulated)
    assert i == 2 and fom == pytest.approx(merit[2])
    assert best_threshold(efficiency, background, simulated, min_simulated=1) == (3, pytest.approx(merit[3]))
    # none qualifies: the loosest, with -inf
    assert best_threshold(efficiency, background, simulated, min_simulated=1000) == (0, -np.inf)


def test_summed_area_gives_box_sums():
    values = np.arange(12.0).reshape(3, 4)
    table = summed_area(values)
    assert table.shape == (4, 5) and np.all(table[0] == 0) and np.all(table[:, 0] == 0)
    box = table[3, 3] - table[1, 3] - table[3, 1] + table[1, 1]
    assert box == values[1:3, 1:3].sum()


def test_counting_model_of_a_window():
    w = window()
    model, counts = counting_model(w)
    # the bin without signal is left out; the background is fixed, its uncertainty a per-bin constraint
    np.testing.assert_array_equal(model.signal, [30.0, 60.0])
    np.testing.assert_array_equal(model.background, [4.0, 1e-3])  # an empty prediction gets a floor
    # a bin without uncertainty is known: no constraint (tau infinite), not a tiny one
    np.testing.assert_array_equal(model.background_uncertainty, [1.0, 0.0])
    assert np.isfinite(model.tau[0]) and np.isinf(model.tau[1])
    assert not model.float_background
    np.testing.assert_array_equal(counts, [5.0, 1.0])
    # window_model is the same for a window function (a scan calculator's build)
    again, counts_again = window_model((2.0,), window=lambda point: w)
    np.testing.assert_array_equal(again.signal, model.signal)
    np.testing.assert_array_equal(counts_again, counts)
    with pytest.raises(KinematicError, match="no simulated signal"):
        counting_model(window(signal_per_unit=np.zeros(3)))


@pytest.mark.parametrize("signal_uncertainty", [0.0, 0.05])
def test_bayesian_counting_against_the_one_bin_limits(signal_uncertainty):
    # two bins are counted as one: signal, background and counts summed, uncertainties in quadrature
    w = window(signal_per_unit=np.array([30.0, 10.0]), background=np.array([4.0, 2.0]),
               background_uncertainty=np.array([1.2, 0.5]), counts=np.array([5.0, 4.0]),
               efficiency=np.array([0.1, 0.03]))
    calculator = BayesianCounting(lambda point: w, 0.9, signal_uncertainty=signal_uncertainty)
    limit = calculator.limit(w)
    def direct(n):
        return bayesian_upper_limits_one_bin([n], 40.0, 6.0, background_uncertainty=1.3,
                                             signal_uncertainty=signal_uncertainty, cl=0.9)[0]

    assert limit.observed == pytest.approx(direct(9.0), rel=1e-12)
    # expected: the background-only counts at the band's quantiles of the count, Poisson with the
    # uncertain mean (counting.band_counts), wider than the Poisson quantiles alone
    for n, value in zip(counting.band_counts(6.0, 1.3), limit.expected):
        assert value == pytest.approx(direct(n), rel=1e-12)
    assert counting.band_counts(6.0, 1.3)[4] >= poisson.ppf(norm.cdf(2), 6.0)
    assert limit.cl == 0.9 and limit.method == BayesianCounting.method
    (batch_limit, z), = calculator.batch([(2.0, 0.5)])
    assert batch_limit == limit and np.isnan(z)


def test_bayesian_counting_limit_without_events_is_the_closed_form():
    # no event and a known background: the 90% limit is -ln(0.1) signal events, whatever the background
    w = window(signal_per_unit=np.array([20.0]), background=np.array([3.0]), background_uncertainty=np.array([0.0]),
               counts=np.array([0.0]), efficiency=np.array([0.2]))
    limit = BayesianCounting(partial(lambda point, w: w, w=w), 0.9).limit(w)
    assert limit.observed == pytest.approx(-np.log(0.1) / 20.0, rel=2e-3)


def test_counting_inputs_total_background():
    maps = {"a": np.array([[1.0, 2.0], [0.0, 1.0]]), "b": np.array([[0.5, 0.0], [3.0, 0.0]])}
    inputs = CountingInputs(dataset=dataset("belle2_2019"), seed=1, data_source="pseudo-data", cut_flow=None,
                            backgrounds={"a": "A", "b": "B"}, background_maps=maps,
                            background_raw=np.ones((2, 2)), data=np.zeros((2, 2)))
    np.testing.assert_array_equal(inputs.background_total, [[1.5, 2.0], [3.0, 1.0]])


def test_compare_methods_on_a_row_of_the_feldman_cousins_table():
    # n = 5 observed on a known background of 3 (Feldman and Cousins, Table IV: 90% interval 0-6.99),
    # with 10 signal events per unit of the rate
    from scipy.integrate import quad
    from scipy.optimize import brentq

    from analysis_lib.analysis.counting import compare_methods
    from analysis_lib.stats import BinnedModel, upper_limit

    w = window(signal_per_unit=np.array([10.0]), background=np.array([3.0]), background_uncertainty=np.array([0.0]),
               counts=np.array([5.0]), efficiency=np.array([0.1]))
    out = compare_methods(w, cl=0.9)
    assert (out["observed"], out["background"], out["background uncertainty"]) == (5, 3.0, 0.0)
    assert out["Feldman-Cousins (known background)"] == pytest.approx(0.699, abs=0.0006)
    # the Bayesian limit of a known background in closed form: posterior ~ (s mu + b)^n exp(-s mu)
    posterior = lambda mu: (10 * mu + 3.0) ** 5 * np.exp(-10 * mu)  # noqa: E731
    total = quad(posterior, 0, np.inf)[0]
    bayes = brentq(lambda x: quad(posterior, 0, x)[0] / total - 0.9, 0, 5)
    assert out["Bayesian (quadrature)"] == pytest.approx(bayes, rel=2e-3)
    assert out["Bayesian (Monte Carlo)"] == pytest.approx(bayes, rel=2e-3)
    model = BinnedModel([10.0], [3.0], [1e-6], float_background=False)
    assert out["CLs"] == pytest.approx(upper_limit(model, [5.0], cl=0.9).observed, rel=1e-9)


def test_sideband_normalisation_is_the_posterior_of_sideband_and_prior():
    """The Gamma posterior's mean and width against a numerical integral of Poisson(n | theta b) x
    Poisson(n_aux | theta n_aux) over a uniform prior in theta."""
    from scipy.integrate import trapezoid
    from scipy.stats import poisson as poisson_dist

    for n, b, prior in ((0, 0.0, 0.1), (3, 5.0, 0.1), (150, 100.0, 0.3)):
        theta = np.linspace(1e-6, 4.0, 200_001)
        n_aux = 1 / prior**2
        density = poisson_dist.pmf(n, theta * b) * np.exp(n_aux * np.log(theta) - theta * n_aux) if b > 0 else \
            np.exp(n_aux * np.log(theta) - theta * n_aux)
        norm_ = trapezoid(density, theta)
        mean = trapezoid(theta * density, theta) / norm_
        sd = np.sqrt(trapezoid((theta - mean) ** 2 * density, theta) / norm_)
        got_mean, got_sd = counting.sideband_normalisation(n, b, prior=prior)
        assert got_mean == pytest.approx(mean, rel=1e-5) and got_sd == pytest.approx(sd, rel=1e-4)


def test_band_counts_are_quantiles_of_an_uncertain_poisson_mean():
    """The negative-binomial band against the quantiles of 4 x 10^5 Poisson draws whose mean is
    Gamma-distributed with the same mean and variance."""
    rng = np.random.default_rng(2)
    for b, u in ((30.0, 0.0), (30.0, 10.0), (2000.0, 300.0)):
        means = rng.gamma((b / u) ** 2, u**2 / b, 400_000) if u > 0 else np.full(400_000, b)
        draws = rng.poisson(means)
        reference = np.quantile(draws, norm.cdf([-2, -1, 0, 1, 2]), method="inverted_cdf")
        np.testing.assert_allclose(counting.band_counts(b, u), reference, rtol=0.01, atol=1.0)


def test_sideband_counting_model_and_scaling():
    """A window with a sideband: the CLs model floats the normalisation, measured by the sideband
    and the prior's auxiliary count; with an exact prior (tiny) it is the counting model of a known
    background, and scaling the luminosity scales every count but the prior's."""
    side = counting.Sideband(ranges={}, background=40.0, signal_per_unit=0.5, counts=40.0,
                             shape_uncertainty=np.array([0.05]), prior=0.1)
    w = CountingWindow(mass_gev=1.0, ranges={}, efficiency=np.array([0.3]), signal_per_unit=np.array([10.0]),
                       background=np.array([20.0]), background_uncertainty=np.array([1.0]),
                       simulated_background=100.0, counts=np.array([20.0]), sideband=side)
    model, counts = counting_model(w)
    assert model.float_background
    np.testing.assert_allclose(model.signal, [10.0, 0.5, 0.0])
    np.testing.assert_allclose(model.background, [20.0, 40.0, 100.0])
    np.testing.assert_allclose(model.background_uncertainty, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(counts, [20.0, 40.0, 100.0])
    scaled = counting.scaled_window(w, 10.0)
    np.testing.assert_allclose(counting_model(scaled)[1], [200.0, 400.0, 100.0])
    assert scaled.sideband.prior == 0.1 and scaled.sideband.shape_uncertainty[0] == 0.05
    known = counting.scaled_window(w, 10.0, systematics=False)
    assert known.sideband is None and known.background_uncertainty[0] == 0.0
    # a sideband that saw 60 of 40 predicted events: theta_hat = (60 + 100) / (40 + 100) joins the
    # prediction at every luminosity, the counts are that prediction (the prior's auxiliary count
    # stays), and the background-only fit to them returns theta = 1
    from dataclasses import replace

    from analysis_lib.stats import fit

    high = replace(w, sideband=replace(side, counts=60.0))
    theta = 160.0 / 140.0
    model10, counts10 = counting_model(counting.scaled_window(high, 10.0))
    np.testing.assert_allclose(counts10, [200.0 * theta, 400.0 * theta, 100.0])
    assert fit(model10, counts10, mu=0.0).params[0] == pytest.approx(1.0, rel=1e-3)
    np.testing.assert_allclose(counting.scaled_window(high, 1.0).counts, [20.0 * theta])
    np.testing.assert_allclose(counting.scaled_window(high, 10.0, systematics=False).background, [200.0 * theta])
    # the limit with the sideband lies between the known background and no knowledge of it
    from analysis_lib.stats import BinnedModel

    with_side = upper_limit(model, counts, cl=0.9, method="asymptotic").expected[2]
    exact = upper_limit(BinnedModel(signal=[10.0], background=[20.0], float_background=False), [20.0], cl=0.9,
                        method="asymptotic").expected[2]
    assert exact < with_side < 1.5 * exact


def test_smooth_thresholds_remove_isolated_flips():
    best = np.array([5, 5, 5, 12, 5, 5, 6, 6, 6, 6, 1, 6, 6])
    out = counting.smooth_thresholds(best, width=3)
    assert out[3] == 5 and out[10] == 6
    np.testing.assert_array_equal(counting.smooth_thresholds(best, width=1), best)


def test_smooth_backgrounds_fitted_once_for_every_luminosity(tmp_path, monkeypatch):
    # the fit of a weighted simulated background at one luminosity, scaled, is the fit at another:
    # smoothed_once fits the sums at unit luminosity once and every luminosity reads that fit
    from analysis_lib.analysis.counting import smooth_backgrounds, smoothed_once
    from analysis_lib.stats.pspline import Basis

    rng = np.random.default_rng(2)
    centres_x, centres_y = np.linspace(0.05, 0.95, 10), np.linspace(0.025, 0.975, 20)
    x, y = Basis.at(centres_x, 0.0, 1.0, 4), Basis.at(centres_y, 0.0, 1.0, 6)
    truth = 40 * np.exp(-3 * centres_x)[:, None] * np.exp(-((centres_y - 0.4) / 0.3) ** 2)[None, :]
    events = rng.poisson(truth)
    calls = []

    def fit(samples):
        calls.append(1)
        return smooth_backgrounds(samples, x, y)

    for luminosity_pb in (8.34e3, 5e7, 8.34e3):
        weight = 3e-4 * luminosity_pb  # per simulated event
        samples = {"bkg": (events * weight, events * weight**2)}
        shared = smoothed_once(fit, samples, luminosity_pb=luminosity_pb, folder=tmp_path, name="test_smooth")
        direct = smooth_backgrounds(samples, x, y)
        # the same to the fit's convergence (its inputs differ by the single-precision rounding)
        np.testing.assert_allclose(shared["bkg"].expected, direct["bkg"].expected, rtol=1e-4)
        assert shared["bkg"].unit == pytest.approx(weight, rel=1e-7)
        np.testing.assert_allclose(shared["bkg"].box_sums([0], [5], [0], [10])[1],
                                   direct["bkg"].box_sums([0], [5], [0], [10])[1], rtol=1e-4)
    assert len(calls) == 1
