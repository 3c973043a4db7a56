"""Recasting from stored efficiencies (analysis_lib.analysis.recast and the chapters' recast functions):
rate limits at any lifetime from runs at a few, and couplings whose lifetime follows from them,
against the limits computed directly from the same numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis_lib.analysis.lifetime import coupling_limit
from analysis_lib.analysis.recast import coupling_limits, efficiency_at, rate_limits_on_grid, read_efficiencies
from analysis_lib.analysis.results import LimitScan
from analysis_lib.core.errors import ParameterError
from analysis_lib.io.results import write_efficiencies, write_limits, write_meta
from analysis_lib.physics.alp import alp_ctau_mm
from analysis_lib.physics.alp_w import b_to_k_alp_branching, ctau_from_g_aw_mm, g_agg_from_g_aw, g_agg_from_g_aw_g_ab

CTAU_GRID = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
RUN_CTAUS = (0.0, 1.0, 10.0, 100.0)
SIM_MASSES = np.array([0.2, 0.5, 1.0, 2.0, 3.0, 4.0])
SCAN_MASSES = np.linspace(0.25, 3.9, 30)
#: Upper limit on selected signal events per produced B (the same for every lifetime)
EVENTS = 3e-8 * np.array([1.0, 0.6, 0.8, 1.0, 1.3, 1.8])  # observed, then -2..+2 sigma


def _efficiency(m, ctau):
    """A prompt efficiency falling with mass, times the chance to decay within 5 cm at beta gamma = 2.6 / m."""
    prompt = 0.3 - 0.03 * m
    return prompt * (1 - np.exp(-50.0 / max(2.6 / m * ctau, 1e-12))) if ctau > 0 else prompt


def _table():
    return pd.DataFrame([{"quantity": "br_b_to_k_a_x_br_gg", "mass_gev": m, "ctau_mm": c, "efficiency": _efficiency(m, c)}
                         for c in CTAU_GRID for m in SIM_MASSES])


def _scan(ctau, table):
    eff = np.array([efficiency_at(table, m, ctau) for m in SCAN_MASSES])
    values = EVENTS[None, :] / eff[:, None]
    return LimitScan(quantity="br_b_to_k_a_x_br_gg", unit="", masses_gev=SCAN_MASSES, observed=values[:, 0],
                     expected=values[:, 1:], cl=0.9, method="CLs, asymptotic", test_statistic="q~_mu", mass_name="m_a",
                     model={"ctau_mm": ctau}, dataset="babar_4s", experiment="BaBar", luminosity_fb=424.0,
                     data_source="pseudo-data")


def _write_run(folder, scan, table):
    folder.mkdir(parents=True)
    write_limits([scan], folder / "limits.csv")
    write_meta(folder / "meta.json", [scan], {"dataset": scan.dataset, "seed": 1}, channel="babar_b_to_k_alp")
    write_efficiencies(table, folder / "efficiencies.csv")
    return folder


def test_rate_limits_at_every_lifetime_from_four_runs():
    table = _table()
    grid = rate_limits_on_grid([(c, _scan(c, table), table) for c in RUN_CTAUS])
    assert grid.limits.shape == (len(SCAN_MASSES), len(CTAU_GRID), 6)
    for k, ctau in enumerate(CTAU_GRID):
        direct = EVENTS[None, :] / np.array([efficiency_at(table, m, ctau) for m in SCAN_MASSES])[:, None]
        np.testing.assert_allclose(grid.limits[:, k, :], direct, rtol=1e-12)


def test_the_product_is_interpolated_across_the_runs_lifetimes():
    # runs whose event limits differ (the peak's shape changes with the lifetime): at a run's own lifetime
    # its own limit, between two runs the product interpolated linearly in log c tau
    table = _table()
    runs = [(c, _scan(c, table), table) for c in (1.0, 100.0)]
    runs[1] = (100.0, runs[1][1].transform(lambda m, v: 4.0 * v, quantity="br_b_to_k_a_x_br_gg", unit=""), table)
    grid = rate_limits_on_grid(runs)
    k1, k10, k100 = CTAU_GRID.index(1.0), CTAU_GRID.index(10.0), CTAU_GRID.index(100.0)
    np.testing.assert_allclose(grid.limits[:, k1, 0], runs[0][1].observed, rtol=1e-12)
    np.testing.assert_allclose(grid.limits[:, k100, 0], runs[1][1].observed, rtol=1e-12)
    eff10 = np.array([efficiency_at(table, m, 10.0) for m in SCAN_MASSES])
    np.testing.assert_allclose(grid.limits[:, k10, 0] * eff10, 2.0 * EVENTS[0], rtol=1e-12)  # sqrt(1 x 4)


def test_coupling_limits_equal_the_direct_solution():
    table = _table()
    grid = rate_limits_on_grid([(c, _scan(c, table), table) for c in RUN_CTAUS])
    recast = coupling_limits(grid, rate=b_to_k_alp_branching, ctau_mm=ctau_from_g_aw_mm, quantity="g_aw",
                             unit="GeV^-1", model={"g_ab_over_g_aw": 0.0})
    for i, m in enumerate(SCAN_MASSES):
        exact = [EVENTS[0] / efficiency_at(table, m, c) for c in CTAU_GRID]
        direct = coupling_limit(CTAU_GRID, exact, rate=lambda g: b_to_k_alp_branching(m, g),
                                ctau_mm=lambda g: ctau_from_g_aw_mm(m, g))
        assert recast.observed[i] == pytest.approx(direct, rel=1e-9)
    assert recast.cl == 0.9 and recast.dataset == "babar_4s" and "recast" in recast.method
    assert np.all(recast.expected[:, :-1] <= recast.expected[:, 1:])


def test_a_hypercharge_coupling_moves_the_b_to_k_a_limits_as_the_lifetime_says(tmp_path):
    from analysis_lib.channels.babar_b_to_k_alp import recast_hypercharge

    table = _table()
    folders = [_write_run(tmp_path / f"ctau{c:g}", _scan(c, table), table) for c in RUN_CTAUS]
    w_only = recast_hypercharge(folders, 0.0)
    assert w_only.quantity == "g_aw" and w_only.model["g_ab_over_g_aw"] == 0.0
    photophilic = recast_hypercharge(folders, 1.0)  # g_agg = g_aW: a shorter lifetime
    hidden = recast_hypercharge(folders, -0.2)  # g_agg = 0.068 g_aW: a longer one
    # at low mass the W-only ALP is long-lived at its limit: a larger photon coupling helps, a smaller one hurts
    low = SCAN_MASSES < 1.0
    assert np.all(photophilic.observed[low] < w_only.observed[low])
    assert np.all(hidden.observed[low] > w_only.observed[low])
    # where the ALP decays promptly at every coupling near the limit, the lifetime does not matter
    prompt_limit = np.sqrt(EVENTS[0] / np.array([efficiency_at(table, m, 0.0) for m in SCAN_MASSES])
                           / b_to_k_alp_branching(SCAN_MASSES, 1.0))
    np.testing.assert_allclose(recast_hypercharge(folders, 30.0).observed[-5:], prompt_limit[-5:], rtol=0.02)
    # the photon coupling of the model: s_W^2 g_aW + c_W^2 g_aB
    assert g_agg_from_g_aw_g_ab(1.0, 0.0) == pytest.approx(g_agg_from_g_aw(1.0))
    g = photophilic.observed[0]
    assert alp_ctau_mm(SCAN_MASSES[0], g_agg_from_g_aw_g_ab(g, g)) == pytest.approx(alp_ctau_mm(SCAN_MASSES[0], g))


def test_missing_efficiencies_are_named(tmp_path):
    with pytest.raises(ParameterError, match="efficiencies.csv"):
        read_efficiencies(tmp_path)
    (tmp_path / "efficiencies.csv").write_text("quantity,mass_gev\nx,1.0\n")
    with pytest.raises(ParameterError, match="lacks the columns"):
        read_efficiencies(tmp_path)
    with pytest.raises(ParameterError, match="give ctau_mm"):
        efficiency_at(_table(), 1.0)


def _single_run(folder, quantity, unit, masses, values, *, dataset, channel, cl):
    scan = LimitScan(quantity=quantity, unit=unit, masses_gev=masses, observed=values,
                     expected=np.column_stack([values * f for f in (0.6, 0.8, 1.0, 1.3, 1.7)]), cl=cl,
                     method="CLs", test_statistic="q~_mu", dataset=dataset, experiment="Belle II", luminosity_fb=79.7)
    folder.mkdir()
    write_limits([scan], folder / "limits.csv")
    write_meta(folder / "meta.json", [scan], {"dataset": dataset}, channel=channel)
    return scan


def test_an_invisible_branching_fraction_scales_g_prime(tmp_path):
    from analysis_lib.channels.belle2_zprime_invisible import recast_invisible_fraction

    masses = np.linspace(0.5, 8.0, 5)
    scan = _single_run(tmp_path / "z", "g_prime_dark_matter", "", masses, 1e-3 * (1 + masses), dataset="belle2_2019_2020",
                       channel="belle2_zprime_invisible", cl=0.9)
    quarter = recast_invisible_fraction(tmp_path / "z", 0.25)
    np.testing.assert_allclose(quarter.observed, 2 * scan.observed)
    np.testing.assert_allclose(quarter.expected, 2 * scan.expected)
    varying = recast_invisible_fraction(tmp_path / "z", lambda m: 1.0 if m < 2 else 0.5)
    np.testing.assert_allclose(varying.observed, scan.observed * np.where(masses < 2, 1.0, np.sqrt(2.0)))
    with pytest.raises(ParameterError, match=r"\(0, 1\]"):
        recast_invisible_fraction(tmp_path / "z", 1.5)


def test_a_non_photon_width_weakens_the_gamma_a_limits(tmp_path):
    from analysis_lib.channels.belle2_alp_3gamma import recast_other_width
    from analysis_lib.physics.alp import alp_width_gamma_gamma_gev, coupling_from_cross_section, sigma_ee_to_gamma_alp_pb

    masses = np.array([0.5, 1.0, 3.0, 6.0])
    sigma = _single_run(tmp_path / "a", "sigma_x_br", "pb", masses, np.array([0.02, 0.01, 0.01, 0.02]),
                        dataset="belle2_2018", channel="belle2_alp_3gamma", cl=0.95)
    from analysis_lib.detector.datasets import dataset

    sqrt_s = dataset("belle2_2018").sqrt_s_gev
    none = recast_other_width(tmp_path / "a", 0.0)
    np.testing.assert_allclose(none.observed, coupling_from_cross_section(sigma.observed, masses, sqrt_s), rtol=1e-6)
    width = 1e-8  # GeV, comparable to Gamma_gg at g = 1e-3 and 1 GeV (5e-9 GeV)
    recast = recast_other_width(tmp_path / "a", width)
    assert np.all(recast.observed > none.observed)
    g = recast.observed
    gg = alp_width_gamma_gamma_gev(masses, g)
    np.testing.assert_allclose(sigma_ee_to_gamma_alp_pb(masses, g, sqrt_s) * gg / (gg + width), sigma.observed, rtol=1e-6)
    assert json.loads(json.dumps(recast.model)) == {"other_width_gev": width}


def test_lifetimes_where_no_signal_is_kept_exclude_nothing():
    # beyond 100 mm the selection keeps nothing: the limit is the rate limit's "none" there, as the
    # chapter's coupling limit takes it, and the root is found where signal is kept
    table = _table()
    table.loc[table["ctau_mm"] > 100.0, "efficiency"] = 0.0
    grid = rate_limits_on_grid([(c, _scan(c, table), table) for c in RUN_CTAUS])
    assert np.isinf(grid.limits[:, CTAU_GRID.index(300.0), :]).all()
    recast = coupling_limits(grid, rate=b_to_k_alp_branching, ctau_mm=ctau_from_g_aw_mm, quantity="g_aw",
                             unit="GeV^-1", model={}, no_limit=1e6)
    for i, m in enumerate(SCAN_MASSES):
        exact = [EVENTS[0] / efficiency_at(table, m, c) if efficiency_at(table, m, c) > 0 else 1e6 for c in CTAU_GRID]
        direct = coupling_limit(CTAU_GRID, exact, rate=lambda g: b_to_k_alp_branching(m, g),
                                ctau_mm=lambda g: ctau_from_g_aw_mm(m, g))
        assert recast.observed[i] == pytest.approx(direct, rel=1e-9)
    assert np.isfinite(recast.observed).all()


def test_one_lifetime_limits_the_rate_alone_and_two_runs_at_one_lifetime_are_refused():
    prompt = _table()
    prompt = prompt[prompt["ctau_mm"] == 0.0].drop(columns="ctau_mm")
    grid = rate_limits_on_grid([(0.0, _scan(0.0, _table()), prompt)])
    recast = coupling_limits(grid, rate=lambda m, g: g**2, ctau_mm=lambda m, g: 1.0, quantity="g", unit="", model={})
    np.testing.assert_allclose(recast.observed**2, _scan(0.0, _table()).observed, rtol=1e-6)
    with pytest.raises(ParameterError, match="two runs at one lifetime"):
        rate_limits_on_grid([(1.0, _scan(1.0, _table()), _table()), (1.0, _scan(1.0, _table()), _table())])
