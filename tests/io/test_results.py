"""The files every run writes: ``limits.csv`` with its frozen columns and ``meta.json`` from the results
and the parameters alone."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis_lib.analysis.results import LimitScan
from analysis_lib.io.results import LIMIT_COLUMNS, package_versions, run_meta, write_limits, write_meta

RUN = {"dataset": "belle2_2019", "experiment": "Belle II", "luminosity_fb": 8.34, "projection": False,
       "data_source": "pseudo-data"}


def scan(quantity, n=3, *, two=False, **fields):
    masses = np.linspace(4.0, 5.0, n)
    values = {"quantity": quantity, "unit": "fb", "masses_gev": masses, "observed": masses,
              "expected": masses[:, None] * np.array([0.5, 0.7, 1.0, 1.4, 2.0]), "cl": 0.9, "method": "Bayesian",
              "test_statistic": "posterior", "masses2_gev": masses / 4 if two else None, **RUN, **fields}
    return LimitScan(**values)


def test_limits_csv_has_the_frozen_columns_and_mass2_where_a_scan_has_two_masses(tmp_path):
    path = tmp_path / "sub" / "limits.csv"
    write_limits([scan("a"), scan("b", n=2)], path)
    table = pd.read_csv(path)
    assert list(table.columns) == LIMIT_COLUMNS and len(table) == 5
    assert list(table["quantity"]) == ["a"] * 3 + ["b"] * 2
    np.testing.assert_allclose(table["expected_plus2"], 2 * table["mass_gev"])
    write_limits([scan("sigma", two=True), scan("eps2", two=True)], path)
    table = pd.read_csv(path)
    assert list(table.columns) == LIMIT_COLUMNS[:3] + ["mass2_gev"] + LIMIT_COLUMNS[3:]
    np.testing.assert_allclose(table["mass2_gev"], table["mass_gev"] / 4)
    assert not list(tmp_path.rglob(".*tmp"))  # written atomically


def test_meta_is_derived_from_the_results_and_the_parameters(tmp_path):
    params = {"dataset": "belle2_2019", "seed": 5, "window_sigma": 2.0}
    results = [scan("sigma", two=True, model={"alpha_d": 0.5}, notes=("a note",)), scan("eps2", n=2, two=True)]
    payload = write_meta(tmp_path / "meta.json", results, params, channel="belle2_dark_higgsstrahlung",
                         scan_workers=2)
    assert json.loads((tmp_path / "meta.json").read_text()) == json.loads(json.dumps(payload, default=str))
    assert payload["channel"] == "belle2_dark_higgsstrahlung"
    assert {key: payload[key] for key in RUN} == RUN
    assert payload["confidence_level"] == 0.9 and payload["seed"] == 5 and payload["parameters"] == params
    assert payload["method"] == "Bayesian" and payload["test_statistic"] == "posterior"
    assert payload["n_mass_points"] == 3 and payload["scan_workers"] == 2
    sigma, eps2 = payload["quantities"]
    assert sigma == {"quantity": "sigma", "unit": "fb", "method": "Bayesian", "test_statistic": "posterior",
                     "n_mass_points": 3, "two_masses": True, "mass_name": "m", "mass2_name": "",
                     "model": {"alpha_d": 0.5}, "notes": ["a note"]}
    assert eps2["n_mass_points"] == 2 and eps2["model"] == {} and eps2["notes"] == []
    assert payload["package_versions"] == package_versions() and payload["package_versions"]["pyhf"]


@pytest.mark.parametrize(("field", "value", "what"), [
    ("dataset", "belle2_50ab", "the dataset"), ("cl", 0.95, "the confidence level"),
    ("data_source", "ntuple", "the data source"), ("luminosity_fb", 79.7, "the luminosity"),
])
def test_results_of_one_run_must_agree_on_the_run(field, value, what):
    with pytest.raises(ValueError, match=f"disagree on {what}"):
        run_meta([scan("a"), scan("b", **{field: value})], {"seed": 1}, channel="x")
    with pytest.raises(ValueError, match="without results"):
        run_meta([], {"seed": 1}, channel="x")
