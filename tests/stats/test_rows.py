"""The asymptotic limits of a peak on a smooth background with the fits vectorised over signal
strengths (analysis_lib.stats.rows) against the readable path (one Migrad fit per strength inside
root finders): the same construction, so the same limits to the precision of the fits (Migrad's
minima are the less precise ones: the limits differ by up to a few 1e-5, tested to 1e-4)."""

import numpy as np
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.stats import SmoothBackgroundModel, upper_limit
from analysis_lib.stats.limits import _readable_asymptotic
from analysis_lib.stats.rows import asymptotic_limits
from analysis_lib.stats.toys import _NewtonFits


def _model(level, *, degree=2, template=0.0, modes=False, excess=0.0, seed=3):
    edges = np.linspace(1.0, 2.0, 41)
    x = 0.5 * (edges[1:] + edges[:-1])
    signal = np.exp(-0.5 * ((x - 1.5) / 0.03) ** 2)
    signal /= signal.sum()
    background = level * np.exp(-1.5 * (x - 1.0)) * (1 + 0.3 * (x - 1.5) ** 2)
    templates, uncertainties, shape = (), (), ()
    if template:
        peak = template * level * np.exp(-0.5 * ((x - 1.3) / 0.05) ** 2)
        templates, uncertainties = [peak], (0.15,)
        if modes:
            shape = (np.array([0.1 * np.gradient(peak), 0.05 * (peak - peak.mean())]),)
        background = background + peak
    model = SmoothBackgroundModel(signal, edges, degree=degree, templates=templates or None,
                                  template_uncertainties=uncertainties, template_modes=shape)
    counts = np.random.default_rng(seed).poisson(background + excess * signal).astype(float)
    return model, counts


@pytest.mark.parametrize("level, kwargs", [
    (5.0, {}),
    (200.0, {}),
    (3000.0, {"degree": 3}),
    (50.0, {"template": 0.5}),
    (50.0, {"template": 0.5, "modes": True}),
    (80.0, {"excess": 60.0}),  # an excess: mu-hat > 0
    (2.0, {"degree": 1}),
])
def test_vectorised_limits_are_the_readable_ones(level, kwargs):
    model, counts = _model(level, **kwargs)
    aux = model.nominal_aux()
    observed, expected, mu_hat = asymptotic_limits(model, counts, aux, alpha=0.05)
    reference = _readable_asymptotic(model, counts, aux, cl=0.95, bands=True)
    assert observed == pytest.approx(reference.observed, rel=1e-4)
    np.testing.assert_allclose(expected, reference.expected, rtol=1e-4)
    # mu-hat: Migrad's lies up to 1% away along the flat profile; the vectorised one's nll is lower
    fits = _NewtonFits(model)
    profile = [fits.conditional(m, counts[None], aux[None], fits.start(counts[None], aux[None]))[1][0]
               for m in (mu_hat, reference.mu_hat)]
    assert profile[0] <= profile[1] + 1e-9
    assert mu_hat == pytest.approx(reference.mu_hat, rel=2e-2, abs=1e-3 * reference.expected[2])
    assert np.all(np.diff(expected) > 0)


def test_upper_limit_of_a_smooth_model_takes_the_vectorised_path():
    model, counts = _model(200.0)
    result = upper_limit(model, counts, cl=0.9, method="asymptotic")
    observed, expected, _ = asymptotic_limits(model, counts, model.nominal_aux(), alpha=0.1)
    assert result.observed == pytest.approx(observed, rel=1e-12)
    np.testing.assert_allclose(result.expected, expected, rtol=1e-12)
    without = upper_limit(model, counts, cl=0.9, method="asymptotic", bands=False)
    assert without.observed == pytest.approx(observed, rel=1e-12) and np.all(np.isnan(without.expected))


def test_limits_scale_with_the_signal_normalisation():
    # a signal 10^-9 of the unit: the strengths are 10^9 times larger, the limits too (the fits work in
    # units of the grid's scale; Migrad's fits at strengths of 10^10 miss the limit by 9% there)
    model, counts = _model(200.0)
    weak = SmoothBackgroundModel(model.signal * 1e-9, model.edges, degree=2)
    observed, expected, _ = asymptotic_limits(weak, counts, weak.nominal_aux(), alpha=0.05)
    reference = _readable_asymptotic(model, counts, model.nominal_aux(), cl=0.95, bands=True)
    assert observed == pytest.approx(1e9 * reference.observed, rel=1e-4)
    np.testing.assert_allclose(expected, 1e9 * np.array(reference.expected), rtol=1e-4)


def test_a_fitted_strength_far_above_the_first_grid_is_bracketed():
    # a peak of 10^9 events on 100 per bin: mu-hat and the observed limit lie some 10^4 times above
    # the grid's range, the expected ones inside it; the grid grows at its upper end only
    model, _ = _model(100.0)
    x = 0.5 * (model.edges[1:] + model.edges[:-1])
    counts = np.round(100.0 * np.exp(-1.5 * (x - 1.0)) + 1e9 * model.signal)
    observed, expected, mu_hat = asymptotic_limits(model, counts, model.nominal_aux(), alpha=0.05)
    reference = _readable_asymptotic(model, counts, model.nominal_aux(), cl=0.95, bands=True)
    assert mu_hat == pytest.approx(1e9, rel=1e-3)
    assert observed == pytest.approx(reference.observed, rel=1e-4)
    np.testing.assert_allclose(expected, reference.expected, rtol=1e-4)


def test_a_model_without_signal_is_refused():
    model, counts = _model(50.0)
    empty = SmoothBackgroundModel(np.zeros_like(model.signal), model.edges, degree=2)
    with pytest.raises(ParameterError, match="signal of the model sums to 0.0"):
        asymptotic_limits(empty, counts, empty.nominal_aux(), alpha=0.05)
