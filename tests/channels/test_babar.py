"""The BaBar B -> K a channel on small samples: kinematics, lifetimes, the optimisation sample kept
out of the limits (pseudo-data and real ntuples), the rate and coupling limits, parameters, and the
notebook."""

import json
from dataclasses import replace
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from analysis_lib.analysis import peak_search
from analysis_lib.analysis.samples import ntuple_paths
from analysis_lib.channels import babar_b_to_k_alp as channel
from analysis_lib.channels import channel as registered
from analysis_lib.core.errors import ParameterError
from analysis_lib.core.parameters import validate
from analysis_lib.detector.datasets import dataset
from analysis_lib.io.ntuple import read_events, write_events
from analysis_lib.physics.alp_w import b_to_k_alp_branching, ctau_from_g_aw_mm

from ..conftest import SMALL_B, assert_same_limits, run_notebook, two_workers

pytestmark = pytest.mark.xdist_group("babar")

ROOT = Path(__file__).resolve().parent.parent.parent
BABAR = registered("babar_b_to_k_alp")
FRACTION = 0.08  # the default optimisation fraction of the fixture's run


def rate_limit(inputs, mass_gev):
    """The expected (median) limit on B(B+ -> K+ a) x B(a -> gamma gamma) at one mass, from the shared
    peak-search scan of the run's inputs."""
    mu = peak_search.scan(inputs.search, inputs, mass_min_gev=None, mass_max_gev=None, mass_step_sigma=None,
                          fit_half_width_sigma=5.0, progress=False, masses_gev=[mass_gev])
    return mu.expected[0, 2] * channel.BR_REF


def option(grid, thresholds):
    """The row of the optimisation table at a pair of thresholds."""
    row = grid[(grid["threshold_continuum"] == thresholds[0]) & (grid["threshold_bbbar"] == thresholds[1])]
    assert len(row) == 1
    return row.iloc[0]


def test_signal_candidates_peak_where_they_should(babar_inputs):
    tab = babar_inputs.tables["signal_m2.000"]
    prompt = tab["matched"] & (tab["proper_mm"] == 0)
    assert np.median(tab["m_es"][prompt]) == pytest.approx(5.2794, abs=0.002)
    assert np.median(tab["delta_e"][prompt]) == pytest.approx(0.0, abs=0.015)
    assert np.median(tab["m_gg_fit"][prompt]) == pytest.approx(2.0, abs=0.01)
    # continuum is jet-like, signal B Bbar events spherical
    continuum = babar_inputs.tables["bkg_continuum_uu"]
    assert np.median(continuum["r2"]) > np.median(tab["r2"]) + 0.1
    assert babar_inputs.classifiers["continuum"].roc_auc > 0.8


def test_candidate_tables_made_in_slices_equal_the_whole(babar_inputs, monkeypatch):
    # a sample's candidates are made a slice of events at a time (memory): the same table as at once
    ds = dataset("babar_4s")
    path = ntuple_paths(channel.sample_specs(ds, **SMALL_B), ds, seed=3,
                        config=channel.production_config(ds), progress=False)["bkg_continuum_uu"]
    whole = channel._candidate_table(path, ds, simulated=True)
    monkeypatch.setattr(channel, "CANDIDATE_CHUNK", 7)
    sliced = channel._candidate_table(path, ds, simulated=True)
    assert len(whole["weight"]) > 20 and set(sliced) == set(whole)
    for name in whole:
        np.testing.assert_allclose(sliced[name], whole[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_efficiency_falls_with_lifetime_at_low_mass(babar_inputs):
    effs = [channel.signal_peaks(babar_inputs, ctau).efficiency(0.3) for ctau in (0.0, 100.0, 1000.0)]
    assert effs[0] > 0.15 and effs[1] < 0.8 * effs[0] and effs[2] < 0.5 * effs[1]
    # and the displaced peak sits lower than the prompt one
    assert channel.signal_peaks(babar_inputs, 100.0).centre(1.0) < channel.signal_peaks(babar_inputs, 0.0).centre(1.0)


def test_the_data_selection_leaves_the_optimisation_sample_out():
    # real data: the final selection keeps only events outside the optimisation sample
    rng = np.random.default_rng(1)
    n = 4000
    table = {"m_es": rng.uniform(5.26, 5.29, n), "delta_e": rng.uniform(-0.1, 0.05, n),
             "bdt_continuum": rng.random(n), "bdt_bbbar": rng.random(n), "optimisation": rng.random(n) < 0.08,
             "train": np.zeros(n, bool)}
    region = channel.in_signal_region(table)
    assert 0 < np.sum(table["optimisation"] & region) < np.sum(region)
    mask, _ = channel.selection((0.0, 0.0), data=True).apply(table, weights=np.ones(n))
    assert not np.any(mask & table["optimisation"]) and mask.sum() == np.sum(~table["optimisation"] & region)
    # simulation: the evaluation half, not the optimisation flag
    mask, _ = channel.selection((0.5, 0.25)).apply({**table, "train": np.arange(n) % 2 == 0}, weights=np.ones(n))
    expected = region & (np.arange(n) % 2 == 1) & (table["bdt_continuum"] >= 0.5) & (table["bdt_bbbar"] >= 0.25)
    np.testing.assert_array_equal(mask, expected)


def test_limit_pseudo_data_are_the_remaining_share(babar_inputs):
    inputs = babar_inputs
    assert inputs.data_source == "pseudo-data"
    assert inputs.luminosity_fraction == pytest.approx(1 - FRACTION) and inputs.optimisation_fraction == FRACTION
    assert inputs.thresholds[0] in channel.THRESHOLDS and inputs.thresholds[1] in channel.THRESHOLDS
    expected = sum(h.values().sum() for h in inputs.hists["m_gg_fit"].values())
    observed = inputs.data["m_gg_fit"].values().sum()
    assert observed == pytest.approx((1 - FRACTION) * expected, rel=0.05)
    # the optimisation sample is a binomial share of one Poisson draw of the whole expected background in
    # the signal region (the evaluation half of every background sample, standing for all of it)
    region = sum(tab["weight_eval"][channel.in_signal_region(tab)].sum() for name, tab in inputs.tables.items()
                 if inputs.specs[name].kind == "background")
    held = FRACTION * option(inputs.optimisation, (0.0, 0.0))["background_estimate"]
    assert held == pytest.approx(FRACTION * region, abs=5 * np.sqrt(FRACTION * region))
    assert held == pytest.approx(FRACTION * region, rel=0.05)
    # the same pseudo-data events, complementary at the chosen thresholds: held-out and limit shares
    # add up to one draw of the expected background there
    held_chosen = FRACTION * option(inputs.optimisation, inputs.thresholds)["background_estimate"]
    assert held_chosen + observed == pytest.approx(expected, abs=5 * np.sqrt(expected) + 1)
    # the chosen thresholds have the best figure of merit of the table
    grid = inputs.optimisation
    assert option(grid, inputs.thresholds)["figure_of_merit"] == grid["figure_of_merit"].max()


def test_optimisation_sample_of_real_data_never_enters_the_limit(babar_inputs, tmp_path, monkeypatch):
    """A dataset of real ntuples (the simulated samples, and a data ntuple made of simulated background
    events): the held-out share of the data fills only the optimisation table, the rest only the
    histogram the limits fit, as counted here from the data ntuple itself."""
    ds = dataset("babar_4s")
    specs = channel.sample_specs(ds, **SMALL_B)
    paths = ntuple_paths(specs, ds, seed=3, config=channel.production_config(ds), progress=False)
    folder = tmp_path / "real"
    folder.mkdir()
    for name, ntuple in paths.items():  # real simulation files carry the weights of their dataset
        write_events(folder / f"{name}.root", read_events(ntuple, tracks=True), {})
    backgrounds = [s.name for s in specs if s.kind == "background"]
    write_events(folder / "data.root", ak.concatenate([read_events(paths[n], tracks=True) for n in backgrounds]), {})
    real = replace(ds, ntuples=str(folder))
    assert not real.simulated
    monkeypatch.setattr(channel, "dataset", lambda name: real)
    inputs = channel.prepare("babar_4s", seed=3, ctau_mm=0.0, optimisation_fraction=FRACTION, progress=False,
                             **SMALL_B)
    assert inputs.data_source == "ntuple" and "data" in inputs.cut_flow.columns
    # the data ntuple's candidates, scored by the run's classifiers, counted here
    table, _ = channel.candidate_table(read_events(folder / "data.root", tracks=True), ds.experiment.beams)
    score_c = inputs.classifiers["continuum"].score(table)
    score_b = inputs.classifiers["bbbar"].score(table)
    region = channel.in_signal_region(table)
    passing = region & (score_c >= inputs.thresholds[0]) & (score_b >= inputs.thresholds[1])
    # a random share of the events in the signal region is held out for the optimisation
    held = FRACTION * option(inputs.optimisation, (0.0, 0.0))["background_estimate"]
    assert held == pytest.approx(round(held), abs=1e-6)  # events, not a prediction
    assert held == pytest.approx(FRACTION * region.sum(), abs=4 * np.sqrt(FRACTION * (1 - FRACTION) * region.sum()))
    # at the chosen thresholds, the held-out events and the events of the limit's histogram are
    # complementary: every passing event is in exactly one of them
    held_chosen = FRACTION * option(inputs.optimisation, inputs.thresholds)["background_estimate"]
    in_limit = inputs.data["m_gg_fit"].sum(flow=True).value
    assert held_chosen + in_limit == pytest.approx(passing.sum()) and in_limit > 0
    assert inputs.luminosity_fraction == pytest.approx(1 - FRACTION)


def test_rate_and_coupling_limits_of_a_run(babar_inputs):
    params = BABAR.validate({"dataset": "babar_4s", "seed": 3, "mass_min_gev": 1.5, "mass_max_gev": 2.0,
                             "mass_step_sigma": 4.0, **SMALL_B})
    results = BABAR.run(babar_inputs, params, progress=False)
    with two_workers() as client:  # the same limits whatever the number of workers
        assert_same_limits(results, BABAR.run(babar_inputs, params, progress=False, client=client))
    assert set(results) == {"br", "g_aw"}
    br, coupling = results["br"], results["g_aw"]
    assert br.quantity == "br_b_to_k_a_x_br_gg" and coupling.quantity == "g_aw" and coupling.unit == "GeV^-1"
    assert br.cl == coupling.cl == 0.90
    # the coupling every fourth step of the rate's scan, inside the range
    assert 1 <= len(coupling) <= len(br) // channel.COUPLING_STEP + 1
    assert np.all((coupling.masses_gev >= 1.5) & (coupling.masses_gev <= 2.0))
    np.testing.assert_allclose(coupling.masses_gev, channel.coupling_masses(
        babar_inputs, mass_min_gev=1.5, mass_max_gev=2.0, step_sigma=channel.COUPLING_STEP * 4.0))
    assert np.all(np.diff(br.expected, axis=1) > 0) and np.all(np.diff(coupling.expected, axis=1) > 0)
    # at the coupling limit the rate equals the rate limit: between the prompt limit and the weakest
    g = coupling.expected[:, 2]
    assert np.all((g > 1e-7) & (g < 1e-3))
    # stamped: the rate at the run's lifetime, the coupling at the lifetime it implies
    assert br.model == {"ctau_mm": 0.0} and coupling.model == {"ctau_mm": "from the coupling"}
    assert coupling.significance is None and br.significance is not None
    assert any("classifier thresholds" in n for n in br.notes) and "lifetime from the coupling" in coupling.notes
    assert all(r.dataset == "babar_4s" and r.data_source == "pseudo-data" for r in results.values())
    reference = BABAR.reference("br")
    assert (reference.quantity, reference.cl) == (br.quantity, br.cl)


def test_parameters_depend_on_the_kinematic_range():
    values = validate(channel.PARAMETERS, {"dataset": "belle_4s", "ctau_mm": 10})
    assert values["ctau_mm"] == 10.0
    with pytest.raises(ParameterError, match="ctau_mm"):
        validate(channel.PARAMETERS, {"ctau_mm": -1.0})
    with pytest.raises(ParameterError, match="mass_max_gev"):
        validate(channel.PARAMETERS, {"mass_max_gev": 4.9})  # above m_B - m_K
    with pytest.raises(ParameterError, match="not allowed"):
        validate(channel.PARAMETERS, {"dataset": "babar_3s"})


@pytest.mark.slow
def test_notebook_runs_with_small_parameters(tmp_path, babar_inputs):
    from analysis_lib.io.results import LIMIT_COLUMNS

    out = run_notebook("babar_b_to_k_alp.ipynb", tmp_path,
                       {"seed": 3, "ctau_mm": 10.0, "mass_step_sigma": 6.0, **SMALL_B})
    limits = pd.read_csv(out / "limits.csv")
    assert list(limits.columns) == LIMIT_COLUMNS
    assert set(limits["quantity"]) == {"br_b_to_k_a_x_br_gg", "g_aw"}
    br = limits[limits["quantity"] == "br_b_to_k_a_x_br_gg"]
    assert (br["expected"] > 1e-9).all() and (br["expected"] < 1e-4).all()
    vetoed = br["mass_gev"].between(*channel.VETOES[0]) | br["mass_gev"].between(*channel.VETOES[1])
    assert not vetoed.any()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["parameters"]["ctau_mm"] == 10.0 and meta["confidence_level"] == 0.9
    assert meta["channel"] == "babar_b_to_k_alp" and meta["dataset"] == "babar_4s"
    models = {q["quantity"]: q["model"] for q in meta["quantities"]}
    assert models == {"br_b_to_k_a_x_br_gg": {"ctau_mm": 10.0}, "g_aw": {"ctau_mm": "from the coupling"}}


def test_coupling_limit_is_where_the_rate_meets_the_limit_at_its_own_lifetime(babar_inputs):
    # independent check of the root: at the solved g_aW, B(B -> K a; g) equals the rate limit at the
    # lifetime g implies, interpolated (log-log) between the direct limits at the two grid lifetimes
    # around it (small samples make the limit itself noisy in c tau; the solver must follow it)
    masses = [1.5, 2.5]  # outside the vetoes
    grid = np.array(channel.CTAU_GRID_MM)
    coupling = channel.coupling_limits(babar_inputs, masses, fit_half_width_sigma=5.0, progress=False)
    for m, g in zip(masses, coupling.expected[:, 2]):
        ctau = float(ctau_from_g_aw_mm(m, g))
        k = int(np.searchsorted(grid, ctau))
        assert 1 <= k < len(grid)  # inside the grid
        direct = [rate_limit(channel.with_lifetime(babar_inputs, grid[i]), m) for i in (k - 1, k)]
        if k == 1:  # between prompt and the first non-zero lifetime: log L linear in c tau
            interpolated = np.exp(np.interp(ctau, grid[:2], np.log(direct)))
        else:
            interpolated = np.exp(np.interp(np.log(ctau), np.log(grid[k - 1:k + 1]), np.log(direct)))
        assert b_to_k_alp_branching(m, g) == pytest.approx(interpolated, rel=1e-3)


def test_efficiencies_for_recasting(babar_inputs):
    table = BABAR.efficiencies(babar_inputs, {})
    assert list(table.columns) == ["quantity", "mass_gev", "ctau_mm", "efficiency"]
    assert set(table["quantity"]) == {"br_b_to_k_a_x_br_gg"} and set(table["ctau_mm"]) == set(channel.CTAU_GRID_MM)
    # NaN where too few events are kept near the kinematic edge to shape a peak (unknown, not zero)
    unknown = table[table["efficiency"].isna()]
    assert (table["efficiency"].between(0, 1) | table["efficiency"].isna()).all()
    assert len(unknown) < 0.1 * len(table) and (unknown["mass_gev"] > 4.5).all()
    low = table[table["mass_gev"] == 0.3].set_index("ctau_mm")["efficiency"]
    assert low[0.0] == pytest.approx(channel.signal_peaks(babar_inputs, 0.0).efficiency(0.3))
    assert low[0.0] > low[100.0] > low[1000.0]  # the ALP escapes the tracker


def test_recast_from_four_lifetimes_agrees_with_the_chapters_coupling_limit(babar_inputs, tmp_path):
    # the chapter's own g_aW limit recomputes the rate limit at every lifetime of its grid; the recast reads
    # four runs' rate limits and the stored efficiencies only: the same couplings, to the interpolation
    from analysis_lib.io.results import write_efficiencies, write_limits, write_meta

    params = BABAR.validate({"dataset": "babar_4s", "seed": 3, **SMALL_B})
    masses = np.array([0.3, 1.5, 3.0])
    folders = []
    for ctau in (0.0, 1.0, 10.0, 100.0):
        run = channel.with_lifetime(babar_inputs, ctau)
        mu = peak_search.scan(run.search, run, mass_min_gev=None, mass_max_gev=None, mass_step_sigma=None,
                              fit_half_width_sigma=params["fit_half_width_sigma"], progress=False, masses_gev=masses,
                              workspaces=False)
        br = channel.rate_limits(mu).stamped(dataset="babar_4s", experiment="BaBar", luminosity_fb=424.0,
                                             data_source="pseudo-data", model={"ctau_mm": ctau})
        folder = tmp_path / f"ctau{ctau:g}"
        folder.mkdir()
        write_limits([br], folder / "limits.csv")
        write_meta(folder / "meta.json", [br], params, channel="babar_b_to_k_alp")
        write_efficiencies(BABAR.efficiencies(babar_inputs, params), folder / "efficiencies.csv")
        folders.append(folder)
    recast = channel.recast_hypercharge(folders, 0.0)
    direct = channel.coupling_limits(babar_inputs, masses, fit_half_width_sigma=params["fit_half_width_sigma"],
                                     progress=False)
    ratio = np.column_stack([recast.observed, recast.expected]) / np.column_stack([direct.observed, direct.expected])
    assert np.all(np.abs(ratio - 1) < 0.1), ratio
