"""The Belle II invisible Z' channel on small samples: the recoil-mass resolution against the
search's own simulation, the interpolations, the windows, the counting model, bad input, and the
notebook."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_lib.channels import belle2_zprime_invisible as channel
from analysis_lib.errors import KinematicError, ParameterError
from analysis_lib.parameters import validate
from analysis_lib.published import load_reference_table
from analysis_lib.simulation import dimuon

from .conftest import SMALL_Z

pytestmark = pytest.mark.xdist_group("zprime")

ROOT = Path(__file__).resolve().parent.parent


def test_recoil_mass_resolution_against_the_belle2_simulation(zprime_inputs):
    """The table is compared with, never used to tune the model. Found: the parametric tracker (TDR
    momentum resolution, directions unsmeared, no beam-energy spread) gives 60-100% of the Belle II
    simulation's width between 0.25 and 8 GeV; the stated tolerance is a factor 1.7 either way, and
    the shape versus mass (narrowing towards the kinematic limit) must follow."""
    reference = load_reference_table(channel.RESOLUTION_REFERENCE)
    table = channel.resolution_table(zprime_inputs, reference)
    inside = table["M_Z' [GeV]"].between(0.25, 8.0)
    ratio = table["ratio"][inside]
    assert ratio.between(1 / 1.7, 1.7).all(), table
    ours = table["sigma(M2) here [GeV2]"]
    mass = table["M_Z' [GeV]"]
    assert ours[mass == 8.0].iloc[0] < 0.6 * ours[mass == 2.0].iloc[0]


def test_cross_section_interpolation_between_simulated_masses(zprime_inputs):
    """The spline of log sigma through the simulated masses against the integral in between (1%)."""
    for mass in (0.4, 2.25, 6.25):
        direct, _ = dimuon.mumu_vector_sigma_pb(mass, zprime_inputs.dataset.experiment.sqrt_s_gev)
        assert float(zprime_inputs.sigma_pb(mass)) == pytest.approx(direct, rel=0.01)


def test_windows_and_the_counting_model(zprime_inputs):
    w = channel.counting_inputs(zprime_inputs, 2.0, window_sigma=2.0)
    width = zprime_inputs.resolution(2.0)
    assert w.m2_range[0] == pytest.approx(4.0 - 2 * width, abs=0.02)
    assert w.m2_range[1] == pytest.approx(4.0 + 2 * width, abs=0.02)
    assert w.efficiency.shape == (3,) and 0 < w.efficiency.sum() < 1
    assert np.all(w.background > 0) and np.all(w.background_uncertainty > 0)
    # a simulated mass: its window holds most of its preselected events
    model, counts = channel._model(zprime_inputs, 2.0, 2.0)
    assert model.signal.sum() > 0 and counts.shape == model.signal.shape
    with pytest.raises(KinematicError, match="outside the simulated range"):
        channel.counting_inputs(zprime_inputs, 9.5, window_sigma=2.0)


def test_signal_injection_raises_the_limit(zprime_inputs):
    """Signal added to the pseudo-data at one mass, five times the background's uncertainty (of the
    small simulation here), gives a significant excess and a weaker observed limit than without it."""
    from analysis_lib.stats import discovery_significance, upper_limit

    model, counts = channel._model(zprime_inputs, 3.0, 2.0)
    size = 5 * np.sqrt(np.sum(model.background_uncertainty**2) + model.background.sum())
    injected = counts + np.round(size * model.signal / model.signal.sum())
    assert discovery_significance(model, injected) > 2.0
    assert upper_limit(model, injected, cl=0.9).observed > upper_limit(model, counts, cl=0.9).observed


def test_parameters_are_checked():
    defaults = {p.name: p.default for p in channel.PARAMETERS}
    with pytest.raises(ParameterError, match="dataset"):
        validate(channel.PARAMETERS, {**defaults, "dataset": "babar_4s"})
    with pytest.raises(ParameterError, match="mass_max_gev"):
        validate(channel.PARAMETERS, {**defaults, "mass_max_gev": 9.5})
    assert validate(channel.PARAMETERS, {**defaults, "dataset": "belle2_50ab"})["dataset"] == "belle2_50ab"


def test_notebook_runs_with_small_parameters(tmp_path, zprime_inputs):
    import papermill

    from analysis_lib.results import LIMIT_COLUMNS

    out = tmp_path / "run"
    out.mkdir()
    papermill.execute_notebook(ROOT / "notebooks" / "belle2_zprime_invisible.ipynb", out / "nb.ipynb", cwd=str(out),
                               kernel_name="python3", progress_bar=False,
                               parameters={"seed": 5, "mass_step_sigma": 6.0, **SMALL_Z})
    limits = pd.read_csv(out / "limits.csv")
    assert list(limits.columns) == LIMIT_COLUMNS
    assert set(limits["quantity"]) == {"sigma_mumu_zprime_x_br", "g_prime_neutrinos", "g_prime_dark_matter"}
    g = limits[limits["quantity"] == "g_prime_neutrinos"]
    dm = limits[limits["quantity"] == "g_prime_dark_matter"]
    assert (g["expected"] > 1e-4).all() and (g["expected"] < 10).all()
    # the neutrino case needs the larger coupling wherever the Z' also decays to muons
    above = g["mass_gev"].to_numpy() > 0.25
    assert np.all(g["expected"].to_numpy()[above] > dm["expected"].to_numpy()[above])
    meta = json.loads((out / "meta.json").read_text())
    assert meta["confidence_level"] == 0.9 and meta["dataset"] == "belle2_2019_2020"
