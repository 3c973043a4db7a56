"""The BaBar darkonium channel: its lifetimes in turn, the interpolations, the factorised background,
the windows, the combination of datasets, the inversion to epsilon, bad input, and the notebook."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis_lib.analysis.counting import BayesianCounting
from analysis_lib.channels import babar_darkonium as D
from analysis_lib.channels import channel
from analysis_lib.core.errors import EmptySelectionError, KinematicError, ParameterError
from analysis_lib.detector.datasets import dataset

from ..conftest import SMALL_D, assert_same_limits, run_notebook, two_workers

pytestmark = pytest.mark.xdist_group("darkonium")


def test_signal_samples_hold_each_lifetime_in_turn():
    """A sample generated with several proper lengths holds exactly n / k events at each (the events take
    them in turn), and a unit cross section makes events of the kinematics alone (no alpha_D needed)."""
    from analysis_lib.simulation.darkonium import generate_darkonium

    beams = dataset("babar_4s").experiment.beams
    ev = generate_darkonium(np.random.default_rng(1), 400, beams=beams, darkonium_mass_gev=3.0,
                            dark_photon_mass_gev=0.5, ctau_mm=D.CTAU_MM, sigma_pb=1.0)
    ctau = ev.truth["ctau_mm"]
    assert [int(np.sum(ctau == c)) for c in D.CTAU_MM] == [100] * 4
    assert ev.sigma_pb == 1.0
    proper = np.stack([ev.truth[f"proper_length_mm_{i}"] for i in range(3)], axis=1)
    assert np.all(proper[ctau == 0] == 0)
    assert np.mean(proper[ctau == 10.0]) == pytest.approx(10.0, rel=0.15)
    with pytest.raises(ParameterError, match="alpha_d=None, epsilon=None"):
        generate_darkonium(np.random.default_rng(1), 10, beams=beams, darkonium_mass_gev=3.0, dark_photon_mass_gev=0.5)
    assert D._signal_chunk(8000) % len(D.CTAU_MM) == 0 and D._signal_chunk(250_001) == 100_000
    # a number of events that the lifetimes do not divide is rounded up: every chunk holds each lifetime alike
    assert D.signal_events(4001) == 4004 and D.signal_events(4000) == 4000
    specs = D.sample_specs(dataset("babar_3s_off"), n_signal_events=4001, max_mc_events=10_000)
    assert {s.n_events for s in specs if s.kind == "signal"} == {4004}


def test_lifetime_interpolation():
    per_ctau = np.array([0.4, 0.36, 0.2, 0.04])
    assert D._lifetime_interpolation(per_ctau, [0.0, 0.001, 0.01]).tolist() == [0.4, 0.4, 0.4]
    # linear in log10(c tau): half-way between 0.1 and 1 mm in the logarithm
    assert D._lifetime_interpolation(per_ctau, [np.sqrt(0.1)])[0] == pytest.approx(0.28)
    assert D._lifetime_interpolation(per_ctau, [1.0, 10.0]).tolist() == pytest.approx([0.2, 0.04])
    assert D._lifetime_interpolation(per_ctau, [20.0])[0] == pytest.approx(0.04 / 8)  # three A' must decay inside


def test_fractional_box_sums():
    """Sums over boxes with fractional edges: exact on cell edges, a cell's share in between (the map
    uniform within each cell)."""
    rng = np.random.default_rng(2)
    values = rng.random((7, 9))
    table = D.summed_area(values)
    assert D._fractional_box(table, 1, 4, 2, 8) == pytest.approx(values[1:4, 2:8].sum())
    assert D._fractional_box(table, 1.5, 2, 3, 4) == pytest.approx(0.5 * values[1, 3])
    assert D._fractional_box(table, 0.25, 0.75, 0.5, 1.0) == pytest.approx(0.25 * values[0, 0])
    assert D._fractional_box(table, -3, 20, -3, 20) == pytest.approx(values.sum())  # clipped to the map


def test_binned_share_recovers_a_known_share():
    """The share of weighted events that pass, in bins of M_6 of at least 20 passing events: a share of
    10% below 5 GeV and 30% above is found within the statistics."""
    rng = np.random.default_rng(3)
    mass6 = rng.uniform(0, 10, 20_000)
    passes = rng.random(mass6.size) < np.where(mass6 < 5, 0.1, 0.3)
    share = D.BinnedShare.measure(mass6, np.full(mass6.size, 2.0), passes, what="a test")
    assert np.all(share.passing >= D.SHARE_MIN_EVENTS)
    assert share(2.0) == pytest.approx(0.1, rel=0.35) and share(8.0) == pytest.approx(0.3, rel=0.35)
    assert share.uncertainty(2.0) == pytest.approx(1 / np.sqrt(share.passing[0]), rel=0.5)
    with pytest.raises(EmptySelectionError, match="only 3 simulated loose background events pass a test"):
        D.BinnedShare.measure(mass6, np.ones(mass6.size), np.arange(mass6.size) < 3, what="a test")


def test_visible_width_goes_as_eps2_and_exists_only_bound():
    w1, w2 = D.visible_width_ev(5.0, 0.1, 0.5, np.array([1e-4, 1e-3]))
    assert w2 / w1 == pytest.approx(100.0, rel=1e-6)
    # Gamma_ee alone, the A' decays visible and B(3A') ~ 1: alpha alpha_D^4 eps^2 m_chi / 6 [M^2/(M^2-m^2)]^2
    from analysis_lib.core.constants import ALPHA_EM as ALPHA
    from analysis_lib.physics import darkonium

    m_chi = darkonium.chi_mass_gev(5.0, 0.5)
    direct = ALPHA * 0.5**4 * 1e-6 * m_chi / 6 * (25 / (25 - 0.01)) ** 2 * 1e9
    assert w2 == pytest.approx(direct * D.dark_photon.branching_fractions(0.1)["ee"] ** 3, rel=1e-3)
    assert np.all(np.isnan(D.visible_width_ev(5.0, 1.0, 0.5, np.array([1e-3]))))  # 1 GeV does not bind at 0.5


def test_windows_follow_the_resolutions(darkonium_inputs):
    inputs = darkonium_inputs
    part = inputs.parts[0]
    i, j = 3, 2  # m_Upsilon_D = 5 GeV, the middle A' mass
    m_ups, m_a = inputs.grid_m[i], float(D.mass_a_at(inputs.grid_m[i], inputs.grid_f[j]))
    (m0, m1), (s0, s1) = D.window_edges(inputs, (m_a, m_ups))
    assert (m1 - m0) / 2 == pytest.approx(inputs.window_sigma * part.sigma_mean[i, j], rel=1e-9)
    assert (s1 - s0) / 2 == pytest.approx(inputs.window_sigma * part.sigma_mass6[i, j], rel=1e-9)
    # pair-mass resolution of about a per cent at 0.17 GeV (the tracks' multiple scattering, a few MeV),
    # six-track mass of a few per mille of 5 GeV
    assert 3e-3 < part.sigma_mean[i, j] / m_a < 3e-2 and 1e-3 < part.sigma_mass6[i, j] / m_ups < 5e-3
    w = D.window(inputs, (m_a, m_ups))
    assert w.efficiency[0] == pytest.approx(part.efficiency[i, j, 0], rel=1e-9)
    assert 0.1 < w.efficiency[0] < 0.5  # tight, in the window, prompt
    # signal per eV of visible width: L (95%) x sigma(Gamma_ee = 1 eV) x efficiency
    from analysis_lib.physics import darkonium

    sigma = darkonium.sigma_radiative_return_pb(m_ups, 1e-9, part.dataset.sqrt_s_gev)
    assert w.signal_per_unit[0] == pytest.approx(0.95 * part.dataset.luminosity_pb * sigma * w.efficiency[0], rel=1e-9)
    assert 0 < w.background[0] < 5 and w.background_uncertainty[0] >= D.FACTORISATION_SYSTEMATIC * w.background[0]
    with pytest.raises(ParameterError, match="part_index=3"):
        D.efficiency_table(inputs, 3)
    with pytest.raises(KinematicError, match="outside the chapter's range"):
        D.window(inputs, (2.0, 5.0))


def test_the_factorised_background_closes_on_the_simulation(darkonium_inputs):
    """Per group of backgrounds, the factorised prediction (loose events x tight share) of the whole plane
    against the simulated tight events, and on the smooth loose density against the loose events it was
    fitted to; the initial-state six pions nearly all have a photon-like recoil, the continuum rarely."""
    part = darkonium_inputs.parts[0]
    assert set(part.closure) == {"continuum", "isr"}
    for group, closure in part.closure.items():
        assert closure["predicted_tight"] == pytest.approx(closure["factorised_tight"], rel=0.1), group
        if closure["simulated_tight_events"] >= 30:
            assert closure["simulated_tight"] == pytest.approx(closure["factorised_tight"], rel=0.5), group
    assert part.share["isr"].photon(3.0) > 0.5 > 0.05 > part.share["continuum"].photon(3.0)
    # the closure in bands of pair mass adds up to the whole plane's
    for group, closure in part.closure.items():
        bands = [v for k, v in closure.items() if k.startswith("band")]
        assert sum(b[0] for b in bands) == closure["simulated_tight_events"]
        assert sum(b[2] for b in bands) == pytest.approx(closure["factorised_tight"], rel=1e-9)
    table = D.closure_table(darkonium_inputs)
    assert set(table["pair mass"]) == {"all", "0.015-0.28 GeV", "0.28-1 GeV", "1-3.5 GeV"}
    samples = D.samples_table(darkonium_inputs)
    assert (samples["equivalent luminosity [fb^-1]"] > 0).all() and "γ_ISR 3(π+π−)" in set(samples["sample"])
    total = sum(c["predicted_tight"] for c in part.closure.values())
    assert np.sum(part.background) == pytest.approx(0.95 * 2620 * total, rel=1e-6)
    # the pseudo-data fluctuate about the other half's prediction: within 5 standard deviations of this one
    n, b = len(part.data), np.sum(part.background)
    assert abs(n - b) < 5 * np.sqrt(b) + 0.5 * b


def test_a_combination_is_prepared_part_by_part(darkonium_inputs, tmp_path, monkeypatch):
    """A combination of two datasets at the same energy (the second a copy of the first in a registry of
    the test's: the same samples) is prepared part by part: the same efficiencies and backgrounds in each,
    each part its own pseudo-data, and the common factorisation uncertainty adds linearly: the window's
    uncertainties in quadrature equal the statistical ones in quadrature and the common one linearly."""
    import yaml

    from analysis_lib.detector import datasets as registry

    entries = yaml.safe_load(registry.REGISTRY.read_text())
    entries["babar_3s_off_copy"] = dict(entries["babar_3s_off"])
    entries["babar_3s_off_twice"] = {"experiment": "babar", "combines": ["babar_3s_off", "babar_3s_off_copy"],
                                     "description": "a test", "projection": False, "reference": None}
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(entries))
    monkeypatch.setenv("DSBOOK_REGISTRY", str(path))
    inputs = D.prepare("babar_3s_off_twice", seed=5, progress=False, **SMALL_D)
    one, two = inputs.parts
    np.testing.assert_array_equal(one.efficiency, two.efficiency)
    np.testing.assert_array_equal(one.background, two.background)
    np.testing.assert_array_equal(one.background, darkonium_inputs.parts[0].background)
    assert not np.array_equal(one.data, two.data)
    w, single = D.window(inputs, (0.1, 5.0)), D.window(darkonium_inputs, (0.1, 5.0))
    assert w.signal_per_unit.tolist() == pytest.approx([single.signal_per_unit[0]] * 2)
    statistical = single.background_uncertainty[0] ** 2 - (D.FACTORISATION_SYSTEMATIC * single.background[0]) ** 2
    expected = np.sqrt(2 * statistical + (2 * D.FACTORISATION_SYSTEMATIC * single.background[0]) ** 2)
    assert np.sqrt(np.sum(w.background_uncertainty**2)) == pytest.approx(expected, rel=1e-9)
    assert inputs.dataset.luminosity_fb == pytest.approx(2 * 2.62)


def test_datasets_of_a_combination_add_up(darkonium_inputs):
    """Two parts of one run: the window holds both, each with its own signal, and the limit is that of
    their sum."""
    inputs = darkonium_inputs
    other = replace(inputs.parts[0], dataset=dataset("babar_3s"))
    both = replace(inputs, parts=(inputs.parts[0], other))
    point = (0.1, 5.0)
    one, two = D.window(inputs, point), D.window(both, point)
    assert two.background.tolist() == pytest.approx([one.background[0]] * 2)
    ratio = dataset("babar_3s").luminosity_pb / dataset("babar_3s_off").luminosity_pb
    from analysis_lib.physics import darkonium

    sigma = [darkonium.sigma_radiative_return_pb(5.0, 1e-9, d.sqrt_s_gev) for d in (dataset("babar_3s_off"),
                                                                                   dataset("babar_3s"))]
    assert two.signal_per_unit[1] / two.signal_per_unit[0] == pytest.approx(ratio * sigma[1] / sigma[0], rel=1e-9)
    limit = BayesianCounting(lambda p: D.window(both, p), D.CL, signal_uncertainty=D.SIGNAL_SYSTEMATIC)
    single = limit.limit(two)
    assert single.expected[2] < BayesianCounting(lambda p: D.window(inputs, p), D.CL).limit(one).expected[2]


def test_epsilon_limits_invert_the_rate(darkonium_inputs):
    """The epsilon at which the model's visible width times the lifetime's efficiency ratio equals a given
    width limit: at a heavy A' (prompt at any epsilon reached) exactly the square root of the ratio."""
    inputs = darkonium_inputs
    point = (0.5, 7.0)
    target = float(D.visible_width_ev(7.0, 0.5, 0.5, np.array([3e-4]))[0])
    eps = D.epsilon_limit(inputs, point, 0.5, np.array([target, 4 * target]))
    assert eps == pytest.approx([3e-4, 6e-4], rel=2e-3)
    # a light A' flies at small epsilon: the efficiency falls, a larger epsilon is needed for the same limit
    light = (0.02, 7.0)
    width = float(D.visible_width_ev(7.0, 0.02, 0.5, np.array([3e-5]))[0])
    assert D.epsilon_limit(inputs, light, 0.5, np.array([width]))[0] > 3e-5
    assert np.isnan(D.epsilon_limit(inputs, (1.5, 7.0), 0.5, np.array([target]))[0])  # unbound at alpha_D = 0.5


def test_limits_are_the_bayesian_limits_of_the_windows(darkonium_inputs):
    inputs = darkonium_inputs
    results = D.analyse(inputs, darkonium_masses_gev=[5.0], map_masses=2, mass_step_sigma=40.0, progress=False)
    with two_workers() as client:  # the same limits whatever the number of workers
        assert_same_limits(results, D.analyse(inputs, darkonium_masses_gev=[5.0], map_masses=2, mass_step_sigma=40.0,
                                              progress=False, client=client))
    width = results["gamma_ee_x_br"]
    assert set(results) == {"gamma_ee_x_br", "eps_alpha_d_0p1", "eps_alpha_d_0p3", "eps_alpha_d_0p5"}
    assert all(results[k].quantity == k for k in D.Darkonium.result_keys)
    calculator = BayesianCounting(lambda p: D.window(inputs, p), D.CL, signal_uncertainty=D.SIGNAL_SYSTEMATIC)
    for k in (0, len(width) // 2, len(width) - 1):
        point = (width.masses_gev[k], width.masses2_gev[k])
        assert width.expected[k].tolist() == pytest.approx(list(calculator.limit(D.window(inputs, point)).expected))
    # epsilon limits only where alpha_D binds, and the heavier alpha_D reaches further in m_A'
    for a, key in zip(D.ALPHA_D, D.Darkonium.result_keys):
        r = results[key]
        assert np.all(r.masses_gev < 1.19061 * a * r.masses2_gev / (2 - a**2 / 4) / 2)
    assert results["eps_alpha_d_0p5"].masses_gev.max() > results["eps_alpha_d_0p1"].masses_gev.max()


def test_bad_parameters_are_refused(darkonium_inputs):
    ch = channel("babar_darkonium")
    with pytest.raises(ParameterError, match="darkonium_masses_gev"):
        ch.validate({"darkonium_masses_gev": [0.2]})
    with pytest.raises(ParameterError, match="outside the simulated range"):
        D.scan_points(darkonium_inputs, darkonium_masses_gev=[9.7], map_masses=2, mass_step_sigma=2.0)
    with pytest.raises(ParameterError, match="combines"):
        D.sample_specs(dataset("babar_514"), n_signal_events=400, max_mc_events=10_000)
    requests = ch.sample_requests(ch.validate({"dataset": "babar_514", "seed": 9, **SMALL_D}))
    energies = {round(r.experiment.sqrt_s_gev, 4) for r in requests}
    assert energies == {round(p.sqrt_s_gev, 4) for p in dataset("babar_514").parts}


@pytest.mark.slow
def test_notebook_runs_with_small_parameters(tmp_path, darkonium_inputs):
    out = run_notebook("babar_darkonium.ipynb", tmp_path,
                       {"dataset": "babar_3s_off", "seed": 5, "darkonium_masses_gev": [5.0, 9.0], "map_masses": 3,
                        "mass_step_sigma": 16.0, **SMALL_D})
    limits = pd.read_csv(out / "limits.csv")
    assert set(limits["quantity"]) == {"gamma_ee_x_br_visible", "eps_alpha_d_0p1", "eps_alpha_d_0p3",
                                       "eps_alpha_d_0p5"}
    assert "mass2_gev" in limits.columns and (limits["mass2_gev"] > 3 * limits["mass_gev"]).all()
    eps = limits[limits["quantity"] == "eps_alpha_d_0p5"]
    assert (eps["expected"] > 1e-5).all() and (eps["expected"] < 1).all()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["confidence_level"] == 0.9 and meta["dataset"] == "babar_3s_off"
    assert meta["channel"] == "babar_darkonium"


def test_optimisation_sample_and_results_table(darkonium_inputs):
    """The set-apart 5%: its pseudo-data against the prediction in bands of M_6 (the bands add up to all of
    it); the results table picks each result's hypothesis nearest the asked point, none where a result has
    no hypothesis there (an epsilon limit where alpha_D does not bind)."""
    inputs = darkonium_inputs
    part = inputs.parts[0]
    check = D.optimisation_check(inputs)
    assert check["observed"].sum() == len(part.optimisation_data)
    assert check["predicted"].sum() == pytest.approx(np.sum(part.optimisation_background), rel=1e-9)
    assert np.sum(part.optimisation_background) == pytest.approx(np.sum(part.background) * 0.05 / 0.95, rel=1e-9)
    results = D.analyse(inputs, darkonium_masses_gev=[5.0], map_masses=2, mass_step_sigma=40.0, progress=False)
    with two_workers() as client:  # the same limits whatever the number of workers
        assert_same_limits(results, D.analyse(inputs, darkonium_masses_gev=[5.0], map_masses=2, mass_step_sigma=40.0,
                                              progress=False, client=client))
    width = results["gamma_ee_x_br"].at_mass2(5.0)
    k = int(np.argmin(np.abs(width.masses_gev - 0.1)))
    table = D.results_table(results, [(1.02 * float(width.masses_gev[k]), 5.0), (1.4, 5.0)])
    assert table.loc[0, "expected gamma_ee_x_br [eV]"] == pytest.approx(width.expected[k, 2])
    assert np.isnan(D.results_table(results, [(1.3 * float(width.masses_gev[k]), 5.0)]).iloc[0, 2])  # none within 5%
    assert np.isnan(table.loc[1, "expected eps_alpha_d_0p1"])  # 1.4 GeV does not bind a 5 GeV darkonium at 0.1


def test_the_conversion_mass_table_reaches_the_chapters_lowest_pair_masses():
    from analysis_lib.detector.experiments import experiment

    table = D.conversion_mass_table(experiment("babar"), radii_mm=(30.0, 60.0), fractions=(0.5, 0.1))
    assert list(table.columns) == ["positron's energy fraction", "r = 30 mm", "r = 60 mm"]
    # by default at the radii of the experiment's material, from the beam pipe (27.9 mm) out
    default = D.conversion_mass_table(experiment("babar"))
    assert default.columns[1] == "r = 27.9 mm" and len(default.columns) == 1 + 7
    # an even split at 3 cm in 1.5 T: 2 c B r = 27.0 MeV (derived in analysis_lib.detector.helix)
    assert table.loc[0, "r = 30 mm"] == pytest.approx(27.0, rel=0.01)
    values = table.drop(columns="positron's energy fraction").to_numpy()
    assert np.all(np.diff(values, axis=1) > 0) and np.all(values[1] > values[0])
