"""The BaBar B -> K a channel on small samples: kinematics, lifetimes, the optimisation sample kept
out of the limits, parameters, and the notebook."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_lib.channels import babar_b_to_k_alp as channel
from analysis_lib.errors import ParameterError
from analysis_lib.parameters import validate

from .conftest import SMALL_B

pytestmark = pytest.mark.xdist_group("babar")

ROOT = Path(__file__).resolve().parent.parent


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


def test_efficiency_falls_with_lifetime_at_low_mass(babar_inputs):
    effs = [channel.signal_peaks(babar_inputs, ctau).efficiency(0.3) for ctau in (0.0, 100.0, 1000.0)]
    assert effs[0] > 0.15 and effs[1] < 0.8 * effs[0] and effs[2] < 0.5 * effs[1]
    # and the displaced peak sits lower than the prompt one
    assert channel.signal_peaks(babar_inputs, 100.0).centre(1.0) < channel.signal_peaks(babar_inputs, 0.0).centre(1.0)


def test_optimisation_sample_never_enters_the_limit():
    # real data: the optimisation events fill only the optimisation counts, the others only the limit
    rng = np.random.default_rng(1)
    n = 4000
    table = {"m_es": rng.uniform(5.26, 5.29, n), "delta_e": rng.uniform(-0.1, 0.05, n),
             "bdt_continuum": rng.random(n), "bdt_bbbar": rng.random(n), "optimisation": rng.random(n) < 0.08,
             "train": np.zeros(n, bool)}
    region = channel.in_signal_region(table)
    counts = channel._optimisation_counts(table)
    assert counts.sum() == np.sum(table["optimisation"] & region) > 0
    mask, _ = channel.selection((0.0, 0.0), data=True).apply(table, weights=np.ones(n))
    assert not np.any(mask & table["optimisation"]) and mask.sum() == np.sum(~table["optimisation"] & region)


def test_limit_pseudo_data_are_the_remaining_share(babar_inputs):
    inputs = babar_inputs.inputs
    assert inputs.luminosity_fraction == pytest.approx(0.92)
    expected = sum(h.values().sum() for h in inputs.hists["m_gg_fit"].values())
    observed = inputs.data["m_gg_fit"].values().sum()
    assert observed == pytest.approx(0.92 * expected, rel=0.05)
    # simulated pseudo-data: the optimisation sample is a binomial share of the same pseudo-data events,
    # so the two parts are complementary, with the expected split
    rng_tables, specs = babar_inputs.tables, babar_inputs.specs
    axis = channel.AXES["m_gg_fit"]()
    held, rest = channel._pseudo_data(channel._expected_cubes(rng_tables, specs, axis), babar_inputs.dataset, 3, 0.08)
    assert held.sum() == pytest.approx(0.08 * (held.sum() + rest.sum()), rel=0.05)
    assert np.all(rest >= 0) and held.shape == (len(channel.THRESHOLDS),) * 2
    assert babar_inputs.thresholds[0] in channel.THRESHOLDS and babar_inputs.thresholds[1] in channel.THRESHOLDS


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
    import papermill

    from analysis_lib.results import LIMIT_COLUMNS

    out = tmp_path / "run"
    out.mkdir()
    papermill.execute_notebook(ROOT / "notebooks" / "babar_b_to_k_alp.ipynb", out / "nb.ipynb", cwd=str(out), kernel_name="python3",
                               progress_bar=False,
                               parameters={"seed": 3, "ctau_mm": 10.0, "mass_step_sigma": 6.0, **SMALL_B})
    limits = pd.read_csv(out / "limits.csv")
    assert list(limits.columns) == LIMIT_COLUMNS
    assert set(limits["quantity"]) == {"br_b_to_k_a_x_br_gg", "g_aw"}
    br = limits[limits["quantity"] == "br_b_to_k_a_x_br_gg"]
    assert (br["expected"] > 1e-9).all() and (br["expected"] < 1e-4).all()
    vetoed = br["mass_gev"].between(*channel.VETOES[0]) | br["mass_gev"].between(*channel.VETOES[1])
    assert not vetoed.any()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["ctau_mm"] == 10.0 and meta["confidence_level"] == 0.9


def test_coupling_limit_is_where_the_rate_meets_the_limit_at_its_own_lifetime(babar_inputs):
    # independent check of the root: at the solved g_aW, B(B -> K a; g) equals the rate limit at the
    # lifetime g implies, interpolated (log-log) between the direct limits at the two grid lifetimes
    # around it (small samples make the limit itself noisy in c tau; the solver must follow it)
    from analysis_lib.physics.alp_w import b_to_k_alp_branching, ctau_from_g_aw_mm

    masses = [1.5, 2.5]  # outside the vetoes
    grid = np.array(channel.CTAU_GRID_MM)
    coupling = channel.coupling_limits(babar_inputs, masses, fit_half_width_sigma=5.0, progress=False)
    for m, g in zip(masses, coupling.expected[:, 2]):
        ctau = float(ctau_from_g_aw_mm(m, g))
        k = int(np.searchsorted(grid, ctau))
        assert 1 < k < len(grid)  # inside the grid, above its first non-zero lifetime
        direct = [channel.analyse(channel.with_lifetime(babar_inputs, grid[i]), mass_min_gev=m, mass_max_gev=m,
                                  mass_step_sigma=1.0, fit_half_width_sigma=5.0, progress=False)["br"].expected[0, 2]
                  for i in (k - 1, k)]
        interpolated = np.exp(np.interp(np.log(ctau), np.log(grid[k - 1:k + 1]), np.log(direct)))
        assert b_to_k_alp_branching(m, g) == pytest.approx(interpolated, rel=1e-3)
