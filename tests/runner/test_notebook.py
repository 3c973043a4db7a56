"""The notebook's side of a run: its parameters validated by :func:`setup`, its context, and the files it
writes, with the same fields for every channel."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis_lib.analysis.results import LimitScan
from analysis_lib.channels import channel, channels
from analysis_lib.core.errors import ParameterError
from analysis_lib.detector.datasets import dataset
from analysis_lib.io.results import LIMIT_COLUMNS
from analysis_lib.runner import NotebookRun, setup

NAMES = sorted(channels())


@pytest.mark.parametrize(("namespace", "message"), [
    ({"seed": -1}, "seed"),
    ({"dataset": "babar_4s"}, "'babar_4s' is not allowed"),
    ({"mass_min_gev": "low"}, "mass_min_gev"),
    ({"scheduler": 8786}, "scheduler"),
])
def test_setup_refuses_wrong_parameters(tmp_path, namespace, message):
    # a notebook's globals hold more than its parameters: those are ignored
    globals_ = {"np": np, "plt": None, "output_dir": str(tmp_path / "out"), **namespace}
    with pytest.raises(ParameterError, match=message):
        setup("belle2_alp_3gamma", globals_, style=False)
    assert not (tmp_path / "out").exists()


def test_setup_of_a_notebook(tmp_path):
    run = setup("belle2_dark_higgsstrahlung", {"seed": 4, "mass_h_step_gev": 1, "output_dir": str(tmp_path / "o"),
                                                "scheduler": "", "np": np}, style=False)
    assert isinstance(run, NotebookRun) and run.channel is channel("belle2_dark_higgsstrahlung")
    assert run.params == {**channel("belle2_dark_higgsstrahlung").validate({}), "seed": 4, "mass_h_step_gev": 1.0}
    assert run.dataset == dataset("belle2_2019") and run.output == tmp_path / "o" and run.output.is_dir()
    assert run.client is None and run.experiment == "Belle II" and run.lumi == "8.34 fb$^{-1}$"
    table = run.dataset_table("tracking", "muon_id")
    assert "| dataset | `belle2_2019`" in table and "| luminosity | 8.34 fb$^{-1}$" in table
    assert "| tracking |" in table and "| muon identification |" in table and "calorimeter" not in table
    with pytest.raises(ParameterError, match="unknown dataset-table rows \\['detector'\\]"):
        run.dataset_table("detector")
    run.close()


def hand_made(quantity, n, *, two=False, cl=0.9):
    masses = np.linspace(4.0, 6.0, n)
    return LimitScan(quantity=quantity, unit="", masses_gev=masses, observed=1e-6 * masses,
                     expected=1e-6 * masses[:, None] * np.array([0.5, 0.7, 1.0, 1.4, 2.0]), cl=cl,
                     method="CLs, asymptotic", test_statistic="q~_mu", masses2_gev=masses / 5 if two else None)


#: Hand-made results of the quantities each channel writes (small scans, the channel's confidence level).
WRITTEN = {
    "belle2_alp_3gamma": [("sigma_x_br", False), ("g_agg", False)],
    "babar_b_to_k_alp": [("br_b_to_k_a_x_br_gg", False), ("g_aw", False)],
    "belle2_zprime_invisible": [("sigma_mumu_zprime_x_br", False), ("g_prime_neutrinos", False),
                                ("g_prime_dark_matter", False)],
    "belle2_dark_higgsstrahlung": [("sigma_ahprime_x_br_mumu", True), ("eps2_alpha_d", True)],
    "belle_b_to_lambda_invisible": [("br_b0_lambda_psi", False)],
    "babar_darkonium": [("gamma_ee_x_br_visible", True), ("eps_alpha_d_0p1", True), ("eps_alpha_d_0p3", True),
                        ("eps_alpha_d_0p5", True)],
}


def test_every_channels_run_writes_the_same_fields(tmp_path):
    metas = {}
    for name in NAMES:
        run = setup(name, {"output_dir": str(tmp_path / name), "seed": 9}, style=False)
        ds = run.dataset
        results = [hand_made(q, 3 + i, two=two, cl=run.channel.cl).stamped(
                       dataset=ds.name, experiment=ds.experiment.label, luminosity_fb=ds.luminosity_fb,
                       projection=ds.projection, data_source="pseudo-data",
                       model=run.channel.model_parameters(run.params))
                   for i, (q, two) in enumerate(WRITTEN[name])]
        frame = run.write({f"r{i}": r for i, r in enumerate(results)})
        table = pd.read_csv(run.output / "limits.csv")
        two = WRITTEN[name][0][1]
        assert list(table.columns) == (LIMIT_COLUMNS[:3] + ["mass2_gev"] + LIMIT_COLUMNS[3:] if two else LIMIT_COLUMNS)
        assert len(table) == len(frame) == sum(3 + i for i in range(len(results)))
        assert list(dict.fromkeys(table["quantity"])) == [q for q, _ in WRITTEN[name]]
        meta = json.loads((run.output / "meta.json").read_text())
        assert meta["channel"] == name and meta["dataset"] == ds.name and meta["seed"] == 9
        assert meta["confidence_level"] == run.channel.cl and meta["scan_workers"] == 0
        assert meta["parameters"] == json.loads(json.dumps(run.params))
        assert [q["quantity"] for q in meta["quantities"]] == [q for q, _ in WRITTEN[name]]
        assert all(q["model"] == run.channel.model_parameters(run.params) for q in meta["quantities"])
        metas[name] = meta
        run.close()
    keys = {name: set(meta) for name, meta in metas.items()}
    assert all(k == keys[NAMES[0]] for k in keys.values()), keys
    quantity_keys = {frozenset(q) for meta in metas.values() for q in meta["quantities"]}
    assert len(quantity_keys) == 1
    assert metas["babar_b_to_k_alp"]["quantities"][0]["model"] == {"ctau_mm": 0.0}
