"""The Belle B0 -> Lambda psi_D chapter's candidates: signal events with a correct tag and a bare
Lambda peak at the two-body momentum in the signal B's frame, with no ROE track but the Lambda's and
a small E_ECL; generic B decays rarely look like that."""

import numpy as np
import pytest

from analysis_lib.channels import belle_b_to_lambda_invisible as channel
from analysis_lib.core.errors import KinematicError, ParameterError
from analysis_lib.detector.experiments import BELLE
from analysis_lib.physics.mesogenesis import lambda_momentum_gev
from analysis_lib.simulation import b_decays, tagging
from analysis_lib.simulation.response import reconstruct

from ..conftest import SMALL_L, assert_same_limits, two_workers


@pytest.mark.parametrize("m_psi", [1.5, 3.5])
def test_signal_candidates_peak_at_the_two_body_momentum(m_psi):
    rng = np.random.default_rng(int(10 * m_psi))
    generated = b_decays.b_to_lambda_invisible(rng, 6_000, beams=BELLE.beams, mass_gev_psi=m_psi, sigma_pb=1.0)
    table = channel.candidate_table(reconstruct(generated, BELLE, rng, tracks=True,
                                                hadronic_tag=tagging.TAGS["belle"]), BELLE.beams)
    bare = (table["tag_correct"] & (table["n_roe_tracks"] == 2) & (table["n_lambda"] == 1) & table["matched"])
    assert bare.sum() > 100
    p_star = table["p_star"][bare]
    assert np.median(p_star) == pytest.approx(float(lambda_momentum_gev(m_psi)), abs=0.006)
    assert np.median(table["e_ecl"][bare]) < 0.05
    assert np.all(np.abs(table["lambda_mass"][bare] - 1.115683) < channel.LAMBDA_SELECTION.mass_window_gev)
    # Lambda and Lambda-bar alike (charge conjugates)
    assert 0.35 < np.mean(table["anti"][bare]) < 0.65
    # a combinatorial tag gives the wrong frame: no peak
    fake = ~table["tag_correct"] & (table["n_lambda"] == 1) & table["matched"]
    off_peak = np.abs(table["p_star"][fake] - float(lambda_momentum_gev(m_psi))) > 0.05
    assert np.mean(off_peak) > 0.5


def test_generic_b_decays_rarely_leave_a_bare_lambda():
    rng = np.random.default_rng(3)
    generated = b_decays.generic_b_pairs(rng, 5_000, beams=BELLE.beams, sigma_pb=1.0, charged=False)
    table = channel.candidate_table(reconstruct(generated, BELLE, rng, tracks=True,
                                                hadronic_tag=tagging.TAGS["belle"]), BELLE.beams)
    lam = table["n_lambda"] > 0
    assert 0.005 < np.mean(lam) < 0.2  # B -> Lambda X, a few percent
    assert np.mean(lam & (table["n_roe_tracks"] == 2)) < 0.002
    assert np.all(np.isnan(table["p_star"][~lam]))


def test_samples_of_the_upsilon_4s_and_of_its_off_resonance_partner():
    from analysis_lib.detector.datasets import dataset
    from analysis_lib.simulation.b_decays import continuum_sigma_pb
    from analysis_lib.simulation.production import requests

    on = dataset("belle_4s")
    off = on.off_resonance_dataset()
    specs_on = channel.sample_specs(on, n_signal_events=2000, max_mc_events=100_000)
    specs_off = channel.off_resonance_specs(off, max_mc_events=100_000)
    assert all(s.hadronic_tag and s.tracks for s in specs_on + specs_off)
    assert {s.name for s in specs_off} == {"bkg_continuum_uu", "bkg_continuum_dd", "bkg_continuum_ss", "bkg_continuum_cc"}
    # the continuum at 10.52 GeV: (10.58 / 10.52)^2 = 1.0114 times the table's
    sigma_off = {s.name: s.sigma_pb for s in specs_off}
    assert sigma_off["bkg_continuum_uu"] == pytest.approx(1610.0 * (10.58 / 10.52) ** 2)
    assert continuum_sigma_pb("u", 10.58) == pytest.approx(1610.0)
    # 772 million pairs in 711 fb^-1, 48.6% neutral, either B0, x B(Lambda -> p pi-)
    signal = next(s for s in specs_on if s.kind == "signal")
    assert signal.sigma_pb == pytest.approx(772e6 / 711e3 * 0.486 * 2 * channel.BR_REF * 0.641, rel=1e-9)
    with pytest.raises(ParameterError, match="belle_off.*below the B Bbar threshold"):
        channel.sample_specs(off, n_signal_events=1000, max_mc_events=100_000)
    config = channel.production_config()
    keys_on = {r.key for r in requests(specs_on, on, seed=1, config=config)}
    keys_off = {r.key for r in requests(specs_off, off, seed=1, config=config)}
    assert not keys_on & keys_off  # the same process at another energy: other samples
    # the skim's settings are part of the samples' key: another window, other samples
    from functools import partial

    from analysis_lib.simulation.production import ProductionConfig

    wider = ProductionConfig(skim=partial(channel.skim, mass_window_gev=0.03, min_flight_mm=channel.SKIM_MIN_FLIGHT_MM,
                                          max_roe_tracks=channel.SKIM_MAX_ROE_TRACKS))
    assert not keys_on & {r.key for r in requests(specs_on, on, seed=1, config=wider)}
    # the runner's simulation stage makes both: the channel asks for its dataset's and its partner's samples
    from analysis_lib.channels import channel as registered

    ch = registered("belle_b_to_lambda_invisible")
    params = ch.validate({"dataset": "belle_4s", "n_signal_events": 2000, "max_mc_events": 100_000})
    asked = ch.sample_requests(params)
    assert {r.key for r in asked} == keys_on | {r.key for r in requests(
        channel.off_resonance_specs(off, max_mc_events=channel.off_events(100_000)), off, seed=1, config=config)}
    with pytest.raises(ParameterError, match="belle_off"):
        ch.validate({"dataset": "belle_off"})


def test_tagged_samples_are_made_skimmed_and_read_back(tmp_path, monkeypatch):
    """Through the production and the ntuple: the tag's branches and flags survive, the skim keeps the
    signal's bare Lambdas, and the weights are the cross section times the tag's probability."""
    from analysis_lib.detector.datasets import dataset
    from analysis_lib.simulation.production import ntuples
    from analysis_lib.io.ntuple import read_events

    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path))
    on = dataset("belle_4s")
    spec = channel.sample_specs(on, n_signal_events=3000, max_mc_events=10_000, signal_masses_gev=(2.0,))[0]
    sample = ntuples([spec], on, seed=4, config=channel.production_config())[spec.name]
    events = read_events(sample, tracks=True)
    assert 0.05 < len(events) / 3000 < 0.9  # a loose Lambda and few tracks besides the tag
    table = channel.candidate_table(events, on.experiment.beams)
    bare = table["tag_correct"] & (table["n_roe_tracks"] == 2) & (table["n_lambda"] == 1)
    assert bare.sum() > 20
    assert np.median(table["p_star"][bare]) == pytest.approx(float(lambda_momentum_gev(2.0)), abs=0.01)
    # weights: sigma x L / N times the tag's probability, at most that of the one taggable B (the other
    # is the signal's) with a combinatorial tag besides
    per_event = spec.sigma_pb * on.luminosity_pb / 3000
    tag = tagging.TAGS["belle"]
    largest = 1 - (1 - tag.scale) * (1 - tag.fake_rate_bb)
    assert np.all(table["weight"] > 0) and np.all(table["weight"] <= largest * per_event * (1 + 1e-12))
    assert np.mean(table["weight"]) / per_event > tag.fake_rate_bb


# ---------------------------------------------------------------------------------------------
# the counting: control regions, limits against the Poisson limit computed by hand


def _cls_poisson(n, s, b):
    """CLs of a one-bin count with a known background, the test statistic the count: the ratio of
    the Poisson probabilities of at most n events (computed here with scipy, independently)."""
    from scipy.stats import poisson

    return poisson.cdf(n, s + b) / poisson.cdf(n, b)


@pytest.mark.parametrize("n, b", [(0, 1e-6), (2, 0.5), (5, 3.0)])
def test_the_counting_limit_is_the_poisson_limit(n, b):
    """A window without control regions and with a known background: the CLs limit of the chapter's
    calculator (pseudo-experiments) is the one solved from the Poisson probabilities; for no event
    and no background it is ln 10 = 2.303 events at 90% CL."""
    from scipy.optimize import brentq

    from analysis_lib.analysis.counting import CountingWindow, counting_model
    from analysis_lib.analysis.scan import ToyCLs

    s = 4.0  # events per unit of the limited quantity
    w = CountingWindow(mass_gev=2.0, ranges={}, efficiency=np.array([1e-3]), signal_per_unit=np.array([s]),
                       background=np.array([b]), background_uncertainty=np.array([0.0]), simulated_background=100.0,
                       counts=np.array([float(n)]))
    by_hand = brentq(lambda mu: _cls_poisson(n, mu * s, b) - 0.1, 1e-6, 100.0)
    if n == 0:
        assert by_hand * s == pytest.approx(np.log(10.0), rel=1e-3)
    (limit, _), = ToyCLs(lambda point: counting_model(w), 0.9, n_toys=20_000).batch([2.0])
    assert limit.observed == pytest.approx(by_hand, rel=0.03)
    assert limit.method.startswith("CLs, pseudo-experiments")


def test_control_regions_measure_the_normalisation():
    """Two control regions in one likelihood with the window: the background-only fit finds the
    normalisation their counts and the prior give, the window's count not used where it is signal-
    free; the Asimov windows at a scaled luminosity carry it."""
    from analysis_lib.analysis.counting import (
        ControlRegion, CountingWindow, control_normalisation, counting_model, scaled_window, window_background,
    )
    from analysis_lib.stats import fit

    controls = (ControlRegion("E_ECL sideband", background=40.0, counts=80.0, signal_per_unit=0.5),
                ControlRegion("off resonance", background=10.0, counts=20.0))
    w = CountingWindow(mass_gev=2.0, ranges={}, efficiency=np.array([1e-3]), signal_per_unit=np.array([3.0]),
                       background=np.array([5.0]), background_uncertainty=np.array([0.0]), simulated_background=100.0,
                       counts=np.array([10.0]), controls=controls, normalisation_prior=0.3)
    model, counts = counting_model(w)
    assert counts.tolist() == [10.0, 80.0, 20.0, pytest.approx(1 / 0.09)]
    assert model.signal.tolist() == [3.0, 0.5, 0.0, 0.0]
    zero = fit(model, counts, mu=0.0)
    n_aux = 1 / 0.09
    assert zero.params[0] == pytest.approx((110.0 + n_aux) / (55.0 + n_aux), rel=1e-3)
    theta, sigma = control_normalisation(controls, prior=0.3)
    assert theta == pytest.approx((100.0 + n_aux + 1) / (50.0 + n_aux), rel=1e-9)
    b, u = window_background(w)
    assert b == pytest.approx(5.0 * theta) and u == pytest.approx(5.0 * sigma, rel=1e-9)
    scaled = scaled_window(w, 10.0)
    theta_hat = (100.0 + n_aux) / (50.0 + n_aux)
    assert scaled.counts[0] == pytest.approx(50.0 * theta_hat)
    assert [c.counts for c in scaled.controls] == pytest.approx([400.0 * theta_hat, 100.0 * theta_hat])
    assert not scaled_window(w, 10.0, systematics=False).controls
    with pytest.raises(ParameterError, match="sideband and control regions"):
        from analysis_lib.analysis.counting import Sideband

        CountingWindow(mass_gev=2.0, ranges={}, efficiency=np.array([1.0]), signal_per_unit=np.array([1.0]),
                       background=np.array([1.0]), background_uncertainty=np.array([0.0]), simulated_background=1.0,
                       counts=np.array([1.0]), controls=controls,
                       sideband=Sideband(ranges={}, background=1.0, signal_per_unit=0.0, counts=1.0,
                                         shape_uncertainty=np.array([0.0])))


def test_the_factorised_background_recovers_known_fractions(tmp_path):
    """Synthetic loose events with independent tag quality, track multiplicity, E_ECL and p*: the
    factorisation returns their fractions, and its p* density integrates to the loose total."""
    rng = np.random.default_rng(2)
    n = 200_000
    table = {
        "weight": np.full(n, 0.5), "p_star": rng.uniform(0.2, 2.5, n),
        "mbc": np.where(rng.random(n) < 0.2, 5.28, 5.22), "delta_e": np.zeros(n),
        "n_roe_tracks": np.where(rng.random(n) < 0.1, 2.0, 4.0), "n_lambda": np.ones(n),
        "e_ecl": np.where(rng.random(n) < 0.3, 0.1, 0.6),
    }
    pred = channel.class_prediction([table], folder=tmp_path, luminosity_pb=1.0, name="synthetic")
    assert pred.loose == pytest.approx(0.5 * n)
    assert pred.tag[0] == pytest.approx(0.2, rel=0.02)
    assert pred.side["signal"][0] == pytest.approx(0.1 * 0.3, rel=0.04)
    assert pred.side["sideband"][0] == pytest.approx(0.1 * 0.7, rel=0.03)
    assert pred.shape.sum() == pytest.approx(1.0)
    # a window (cells of 1 MeV from 1.0 to 1.2 GeV) holds its share of the flat density, 0.2 / 2.3
    events, share_uncertainty = pred.window(1000, 1200, "signal")
    assert events == pytest.approx(0.5 * n * 0.2 * 0.03 * 0.2 / 2.3, rel=0.05)
    assert 0 < share_uncertainty < 0.05
    assert pred.simulated[1000:1200].sum() == pytest.approx(n * 0.2 / 2.3, rel=0.05)
    # a share no event passes is bounded by half an event of the largest weight, not zero
    table["n_roe_tracks"] = np.full(n, 4.0)
    empty = channel.class_prediction([table], folder=tmp_path, luminosity_pb=1.0, name="synthetic")
    assert empty.two == (pytest.approx(0.5 / n), 1.0)
    assert np.all(empty.expected("signal") > 0)


def test_off_resonance_mbc_is_put_on_the_resonance_scale():
    """Combinatorial tags below the Upsilon(4S) end at its beam energy, as on the resonance."""
    from analysis_lib.detector.datasets import dataset

    off = dataset("belle_off")
    rng = np.random.default_rng(5)
    beams = off.experiment.beams
    generated = b_decays.continuum(rng, 20_000, beams=beams, sigma_pb=1.0, flavour=3)
    events = reconstruct(generated, off.experiment, rng, tracks=True, hadronic_tag=tagging.TAGS["belle"])
    raw = channel.candidate_table(events, beams)["mbc"]
    scaled = channel.candidate_table(events, beams, nominal_sqrt_s_gev=BELLE.sqrt_s_gev)["mbc"]
    assert raw.max() <= beams.sqrt_s_gev / 2 + 1e-9
    assert scaled == pytest.approx(raw * BELLE.sqrt_s_gev / beams.sqrt_s_gev)
    assert scaled.max() > beams.sqrt_s_gev / 2  # above the off-resonance end point, below the resonance's
    assert scaled.max() <= BELLE.sqrt_s_gev / 2 + 1e-9


# ---------------------------------------------------------------------------------------------
# the chapter on small samples


@pytest.fixture(scope="module")
def lambda_inputs(generated_dir):
    from analysis_lib.channels import channel as registered

    ch = registered("belle_b_to_lambda_invisible")
    return ch.prepare(ch.validate({"dataset": "belle_4s", "seed": 5, **SMALL_L}), progress=False)


@pytest.mark.xdist_group("lambda")
def test_windows_and_limits_on_small_samples(lambda_inputs):
    inputs = lambda_inputs
    assert inputs.off_dataset.name == "belle_off" and inputs.off_data is not None
    assert np.all(np.diff(inputs.masses) > 0) and np.all(inputs.widths > 0)
    assert np.all((inputs.efficiency > 1e-5) & (inputs.efficiency < 1e-3))
    w = channel.window(inputs, 2.0)
    low, high = w.ranges["p_star"]
    assert low < float(lambda_momentum_gev(2.0)) < high
    assert [c.name for c in w.controls] == ["E_ECL sideband", "off resonance"]
    assert w.signal_per_unit[0] == pytest.approx(inputs.interpolate(inputs.signal_per_unit, 2.0))
    masses = channel.scan_masses(inputs, mass_min_gev=1.0, mass_max_gev=4.1, step_sigma=4.0)
    p = lambda_momentum_gev(masses)
    assert masses[0] == 1.0 and masses[-1] == 4.1 and np.all(np.diff(masses) > 0)
    # steps of 4 resolutions in p* (the last step shorter)
    steps = -np.diff(p)[:-1] / np.array([inputs.resolution_gev(m) for m in masses[:-2]])
    assert steps == pytest.approx(4.0, rel=0.15)
    with pytest.raises(KinematicError, match="outside the simulated range"):
        channel.window(inputs, 4.15)
    results = channel.analyse(inputs, mass_min_gev=1.5, mass_max_gev=3.5, mass_step_sigma=20.0, n_toys=400,
                              progress=False)
    with two_workers() as client:  # the same pseudo-experiments and limits whatever the number of workers
        assert_same_limits(results, channel.analyse(inputs, mass_min_gev=1.5, mass_max_gev=3.5, mass_step_sigma=20.0,
                                                    n_toys=400, progress=False, client=client))
    result = results["br"]
    assert result.cl == 0.9 and result.quantity == "br_b0_lambda_psi"
    assert np.all((result.expected[:, 2] > 1e-6) & (result.expected[:, 2] < 1e-3))
    assert np.all(result.expected[:, 0] <= result.expected[:, 2] + 1e-12)
    # without an off-resonance partner: the E_ECL sideband alone
    from dataclasses import replace

    alone = channel.window(replace(inputs, off_predictions={}, off_data=None), 2.0)
    assert [c.name for c in alone.controls] == ["E_ECL sideband"]
    assert alone.background[0] == w.background[0]
    fc = channel.feldman_cousins(inputs, [2.0])
    assert 0.3 < fc["Feldman-Cousins (known background)"][0] / np.interp(2.0, result.masses_gev, result.observed) < 3


@pytest.mark.slow
@pytest.mark.xdist_group("lambda")
def test_notebook_runs_with_small_parameters(tmp_path, lambda_inputs):
    import json

    import pandas as pd

    from ..conftest import run_notebook

    out = run_notebook("belle_b_to_lambda_invisible.ipynb", tmp_path,
                       {"seed": 5, "mass_min_gev": 2.0, "mass_max_gev": 3.0, "mass_step_sigma": 8.0, "n_toys": 200, **SMALL_L})
    limits = pd.read_csv(out / "limits.csv")
    assert set(limits["quantity"]) == {"br_b0_lambda_psi"}
    assert (limits["expected"] > 1e-6).all() and (limits["expected"] < 1e-3).all()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["confidence_level"] == 0.9 and meta["dataset"] == "belle_4s"
    assert (out / "sensitivity.csv").exists() and (out / "distribution_mbc.png").exists()


def test_real_data_are_predicted_from_all_of_the_simulation(lambda_inputs, monkeypatch):
    """With data ntuples the prediction comes from all of the simulation, not from the half that
    pseudo-data leave it: its loose events are the two halves' mean, its shares measured on twice the
    events. Here a simulated background sample stands in for the data of each dataset."""
    ds, seed = lambda_inputs.dataset, lambda_inputs.seed
    specs = channel.sample_specs(ds, **SMALL_L)
    folder = channel.work_dir(ds, seed)
    halves = [channel._predictions(lambda_inputs.tables["on"], specs, ds, folder, which) for which in (0, 1)]
    whole = channel._predictions(lambda_inputs.tables["on"], specs, ds, folder, None)
    for cls, pred in whole.items():
        assert pred.loose == pytest.approx(0.5 * (halves[0][cls].loose + halves[1][cls].loose), rel=1e-9)
        # twice the events: the relative uncertainty of a share about 1/sqrt(2) of a half's (the halves'
        # passing events differ by their Poisson fluctuation, so within a generous margin)
        half_mean = 0.5 * (halves[0][cls].tag[1] + halves[1][cls].tag[1])
        assert 0.5 * half_mean < pred.tag[1] < 0.95 * half_mean
    assert channel._prediction_half(lambda_inputs.data_source) == 0 and channel._prediction_half("ntuple") is None

    real_paths = channel.ntuple_paths
    off = ds.off_resonance_dataset()

    def with_data(sample_specs, dataset, **options):
        paths = real_paths(sample_specs or channel.off_resonance_specs(off, max_mc_events=channel.off_events(
            SMALL_L["max_mc_events"])), dataset, **options)
        paths["data"] = paths[next(name for name in paths if name.startswith("bkg_continuum"))]
        return paths

    monkeypatch.setattr(channel, "ntuple_paths", with_data)
    real = channel.prepare(ds.name, seed=seed, progress=False, **SMALL_L)
    assert real.data_source == "ntuple" and not real.truth_predictions
    for cls, pred in real.predictions.items():
        assert pred.loose == pytest.approx(whole[cls].loose, rel=1e-9) and pred.tag == whole[cls].tag


def test_the_composition_moves_the_sideband_against_the_window_as_derived(lambda_inputs):
    """One normalisation fitted to the sideband, B Bbar off by (1 + d): the window's prediction is then
    off by (f_sideband - f_window) d to first order (the derivation behind COMPOSITION_UNCERTAINTY),
    checked on the chapter's own window and sideband predictions; the sideband carries that term."""
    mass = 2.0
    i0, i1 = channel.window_cells(lambda_inputs, mass)
    parts = {r: {c: p.window(i0, i1, r)[0] for c, p in lambda_inputs.predictions.items()} for r in ("signal", "sideband")}
    f_w = parts["signal"]["bb"] / sum(parts["signal"].values())
    f_s = parts["sideband"]["bb"] / sum(parts["sideband"].values())
    d = 1e-3
    theta = (parts["sideband"]["continuum"] + (1 + d) * parts["sideband"]["bb"]) / sum(parts["sideband"].values())
    true_window = parts["signal"]["continuum"] + (1 + d) * parts["signal"]["bb"]
    shift = 1 - theta * sum(parts["signal"].values()) / true_window  # the sideband against the window
    assert shift == pytest.approx(-(f_s - f_w) * d, rel=0.01)
    # and the model's sideband uncertainty holds (f_s - f_w) times the composition's
    sideband = channel.window(lambda_inputs, mass).controls[0]
    composition = np.sqrt(channel.COMPOSITION_UNCERTAINTY**2 + sum(
        p.common**2 + p.window(i0, i1, "signal")[1] ** 2 for p in lambda_inputs.predictions.values()))
    assert sideband.uncertainty >= abs(f_s - f_w) * composition > 0
