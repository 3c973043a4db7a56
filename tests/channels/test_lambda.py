"""The Belle B0 -> Lambda psi_D chapter's candidates: signal events with a correct tag and a bare
Lambda peak at the two-body momentum in the signal B's frame, with no ROE track but the Lambda's and
a small E_ECL; generic B decays rarely look like that."""

import numpy as np
import pytest

from analysis_lib.channels import belle_b_to_lambda_invisible as channel
from analysis_lib.core.errors import ParameterError
from analysis_lib.detector.experiments import BELLE
from analysis_lib.physics.mesogenesis import lambda_momentum_gev
from analysis_lib.simulation import b_decays, tagging
from analysis_lib.simulation.response import reconstruct


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
    specs_on = channel.sample_specs(on, n_signal_events=1000, max_mc_events=100_000)
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
