"""The Belle II ALP channel end to end on small samples: reproducibility, selection, closure, limits."""

from dataclasses import replace

import awkward as ak
import numpy as np
import pytest

from analysis_lib.channels import belle2_alp_3gamma as channel
from analysis_lib.datasets import dataset
from analysis_lib.ntuple import read_events
from analysis_lib.simulation.production import ProductionConfig, produce
from analysis_lib.stats import fit

from .conftest import SMALL

pytestmark = pytest.mark.xdist_group("simulation")


def test_same_seed_same_events(alp_inputs, tmp_path, monkeypatch):
    # regenerate two samples into another folder: identical contents (ROOT files embed a UUID and a
    # time, so contents are compared, not bytes)
    ds = dataset("belle2_2018")
    specs = [s for s in channel.sample_specs(ds, n_signal_events=SMALL["n_signal_events"])
             if s.name in ("signal_m1.000", "bkg_gamma_eta")]
    first = {name: read_events(path) for name, path in
             produce(specs, ds, seed=7, config=ProductionConfig(skim=channel.skim, n_max=SMALL["max_mc_events"],
                                                                max_data_events=0)).items()}
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path))
    second = {name: read_events(path) for name, path in
              produce(specs, ds, seed=7, config=ProductionConfig(skim=channel.skim, n_max=SMALL["max_mc_events"],
                                                                 max_data_events=0)).items()}
    for name in first:
        assert ak.to_list(first[name]) == ak.to_list(second[name])
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path / "other"))
    third = read_events(produce(specs, ds, seed=8, config=ProductionConfig(
        skim=channel.skim, n_max=SMALL["max_mc_events"], max_data_events=0))["signal_m1.000"])
    assert ak.to_list(third["photon"]["E"]) != ak.to_list(first["signal_m1.000"]["photon"]["E"])


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
    assert 0 < channel.resolution_gev(alp_inputs, 1.0) < 0.05


def test_signal_injection_is_recovered(alp_inputs):
    # add the expected signal at mu = 3 to the pseudo-data of one window: the fit finds it
    # (signal strength free in sign, so that the fit is unbiased)
    model, counts, _ = channel.fit_inputs(alp_inputs, 1.5, half_width_sigma=5)
    model = replace(model, mu_bounds=(-np.inf, np.inf))
    baseline = fit(model, counts).mu
    rng = np.random.default_rng(3)
    shifts = np.array([fit(model, counts + rng.poisson(3.0 * model.signal)).mu - baseline for _ in range(50)])
    assert shifts.mean() == pytest.approx(3.0, abs=4 * shifts.std() / np.sqrt(len(shifts)))
    assert shifts.std() > 0


def test_limits_are_sensible_and_reproducible(alp_inputs):
    kwargs = dict(mass_min_gev=1.0, mass_max_gev=1.6, mass_step_sigma=4.0, fit_half_width_sigma=5.0, progress=False)
    first = channel.analyse(alp_inputs, **kwargs)
    second = channel.analyse(alp_inputs, **kwargs)
    g = first["g_agg"]
    assert len(g.masses_gev) >= 3
    assert np.all(g.observed > 0) and np.all(np.diff(g.expected, axis=1) > 0)
    # at the published level of ~1e-3 / GeV within an order of magnitude (small samples here)
    assert np.all((g.expected[:, 2] > 3e-4) & (g.expected[:, 2] < 1e-2))
    assert np.all(g.significance >= 0) and np.all(g.significance < 5)
    assert np.array_equal(g.observed, second["g_agg"].observed)
    assert np.array_equal(g.expected, second["g_agg"].expected)
    sigma = first["sigma"]
    assert sigma.unit == "pb" and g.unit == "GeV^-1" and g.cl == 0.95
