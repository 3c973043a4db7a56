"""The Belle II ALP channel end to end on small samples: selection, signal shape, closure, limits."""

from dataclasses import replace

import numpy as np
import pytest

from analysis_lib.analysis import peak_search
from analysis_lib.channels import belle2_alp_3gamma as module
from analysis_lib.channels import channel
from analysis_lib.physics.alp import coupling_from_cross_section
from analysis_lib.stats import fit

from ..conftest import SMALL, two_workers

pytestmark = pytest.mark.xdist_group("simulation")

ALP = channel("belle2_alp_3gamma")


def test_selection_and_signal_shape(alp_inputs):
    flow = alp_inputs.cut_flow
    assert (flow.diff().iloc[1:] <= 1e-9).all().all()  # cut flows never grow
    peaks = alp_inputs.peaks["m2_gg"]
    for mass in (0.5, 2.0, 5.0):
        assert 0.3 < peaks.efficiency(mass) < 0.95
        assert peaks.centre(mass) == pytest.approx(mass**2, rel=0.02)
    # the resolution in m^2 grows with the mass; the recoil mass is the better observable at high mass
    assert peaks.width(0.5) < peaks.width(2.0) < peaks.width(5.0)
    assert alp_inputs.peaks["m2_rec"].width(9.0) < peaks.width(9.0)
    assert alp_inputs.data_source == "ntuple"
    assert 0 < ALP.resolution_gev(alp_inputs, 1.0) < 0.05


def test_signal_injection_is_recovered(alp_inputs):
    # add the expected signal at mu = 3 to the pseudo-data of one window: the fit finds it
    # (signal strength free in sign, so that the fit is unbiased)
    model, counts, _ = peak_search.fit_inputs(module.SEARCH, alp_inputs, 1.5, half_width_sigma=5)
    model = replace(model, mu_bounds=(-np.inf, np.inf))
    baseline = fit(model, counts).mu
    rng = np.random.default_rng(3)
    shifts = np.array([fit(model, counts + rng.poisson(3.0 * model.signal)).mu - baseline for _ in range(50)])
    assert shifts.mean() == pytest.approx(3.0, abs=4 * shifts.std() / np.sqrt(len(shifts)))
    assert shifts.std() > 0


def test_limits_are_sensible_reproducible_and_stamped(alp_inputs):
    params = ALP.validate({"dataset": "belle2_2018", "seed": 7, "mass_min_gev": 1.0, "mass_max_gev": 1.6,
                           "mass_step_sigma": 4.0, "fit_half_width_sigma": 5.0, **SMALL})
    first = ALP.run(alp_inputs, params, progress=False)
    with two_workers() as client:  # the same limits whatever the number of workers
        second = module.analyse(alp_inputs, mass_min_gev=1.0, mass_max_gev=1.6, mass_step_sigma=4.0,
                                fit_half_width_sigma=5.0, progress=False, client=client)
    g = first["g_agg"]
    assert len(g.masses_gev) >= 3
    assert np.all(g.observed > 0) and np.all(np.diff(g.expected, axis=1) > 0)
    # at the published level of ~1e-3 / GeV within an order of magnitude (small samples here)
    assert np.all((g.expected[:, 2] > 3e-4) & (g.expected[:, 2] < 1e-2))
    assert np.all(g.significance >= 0) and np.all(g.significance < 5)
    assert np.array_equal(g.observed, second["g_agg"].observed)
    assert np.array_equal(g.expected, second["g_agg"].expected)
    sigma = first["sigma"]
    assert sigma.unit == "pb" and g.unit == "GeV^-1" and g.cl == sigma.cl == 0.95
    # the coupling from the cross section, at every mass and band
    sqrt_s = alp_inputs.dataset.experiment.sqrt_s_gev
    np.testing.assert_allclose(g.expected, coupling_from_cross_section(sigma.expected, g.masses_gev[:, None], sqrt_s),
                               rtol=1e-9)
    # stamped with the run's dataset; compared with the published curves of the same quantities
    for key, result in first.items():
        assert (result.dataset, result.experiment, result.luminosity_fb, result.data_source) == (
            "belle2_2018", "Belle II", 0.445, "ntuple")
        assert (ALP.reference(key).quantity, ALP.reference(key).unit) == (result.quantity, result.unit)
        assert ALP.reference(key).cl == result.cl
    within, median = peak_search.agreement(g, ALP.reference("g_agg"), factor=10.0)
    assert within == 1.0 and 0.1 < median < 10
    assert ALP.agreement(g, ALP.reference("g_agg")) == peak_search.agreement(g, ALP.reference("g_agg"),
                                                                              factor=ALP.agreement_factor)


def test_example_fit_is_the_windows_fit(alp_inputs):
    params = ALP.validate({"dataset": "belle2_2018", "seed": 7, **SMALL})
    shown = ALP.example_fit(alp_inputs, 1.5, params)
    model, counts, win = peak_search.fit_inputs(module.SEARCH, alp_inputs, 1.5,
                                                half_width_sigma=params["fit_half_width_sigma"],
                                                degree=params["background_degree"])
    np.testing.assert_array_equal(shown.edges, win.edges)
    np.testing.assert_array_equal(shown.counts, counts)
    np.testing.assert_allclose(shown.total - shown.background, shown.mu_hat * model.signal, atol=1e-9)
    assert shown.mu_hat == pytest.approx(fit(replace(model, mu_bounds=(-np.inf, np.inf)), counts).mu, rel=1e-6, abs=1e-9)


def test_efficiencies_for_recasting(alp_inputs):
    table = ALP.efficiencies(alp_inputs, {})
    assert list(table.columns) == ["quantity", "mass_gev", "efficiency", "observable"]
    assert set(table["quantity"]) == {"sigma_x_br"} and table["mass_gev"].is_monotonic_increasing
    for row in table.itertuples():
        assert row.observable == module.observable_for(row.mass_gev)
        assert row.efficiency == pytest.approx(alp_inputs.peaks[row.observable].efficiency(row.mass_gev))
    assert table["efficiency"].between(0.01, 1).all()
