"""HEPData submissions of a run's limits (analysis_lib.io.hepdata): valid for the HEPData validator,
holding the limits and their bands, units, CL and the re-creation caveat."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest
import yaml

from analysis_lib.analysis.results import LimitScan
from analysis_lib.core.errors import AnalysisError
from analysis_lib.io.hepdata import CAVEAT, _flow, validate_submission, write_hepdata


def _scan(two_masses=False, n=6):
    m = np.linspace(0.5, 3.0, n)
    e = np.column_stack([m * f * 1e-4 for f in (0.5, 0.7, 1.0, 1.5, 2.2)])
    extra = {"masses2_gev": np.linspace(1.0, 2.0, n), "mass2_name": "M_h'"} if two_masses else {}
    return LimitScan(quantity="g_agg", unit="GeV^-1", masses_gev=m, observed=e[:, 2] * 1.2, expected=e, cl=0.95,
                     method="CLs, asymptotic", test_statistic="q~_mu", mass_name="m_a", dataset="belle2_2018",
                     experiment="Belle II", luminosity_fb=0.445, model={"ctau_mm": 1.0}, **extra)


def _unpack(archive, folder):
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_a_submission_is_valid_and_holds_the_limits(tmp_path):
    csv = tmp_path / "limits.csv"
    csv.write_text("quantity\n")
    scan = _scan()
    nan = scan.expected.copy()
    nan[2, 0] = np.nan
    with_nan = LimitScan(**{**scan.__dict__, "quantity": "sigma_x_br", "unit": "pb", "expected": nan})
    path = write_hepdata([scan, with_nan], tmp_path / "hepdata.tar.gz", title="Belle II γa, belle2_2018",
                         paper="Phys. Rev. Lett. 125 (2020) 161806", sqrt_s_gev=[10.58], resources=[(csv, "the CSV")],
                         validate=True)
    folder = _unpack(path, tmp_path / "out")
    assert validate_submission(folder) == []
    docs = list(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    assert CAVEAT in docs[0]["comment"] and "limits.csv" in {r["location"] for r in docs[0]["additional_resources"]}
    assert [d["name"] for d in docs[1:]] == ["Upper limits on g_agg", "Upper limits on sigma_x_br"]
    assert "95% CL" in docs[1]["description"] and CAVEAT in docs[1]["description"]
    assert "1 hypotheses without a finite limit left out" in docs[2]["description"]
    assert docs[1]["keywords"][1] == {"name": "cmenergies", "values": [10.58]}
    table = yaml.safe_load((folder / docs[1]["data_file"]).read_text())
    masses = [v["value"] for v in table["independent_variables"][0]["values"]]
    np.testing.assert_allclose(masses, scan.masses_gev, rtol=1e-7)
    observed, expected = table["dependent_variables"]
    assert observed["header"] == {"name": "Observed upper limit (pseudo-data)", "units": "GeV^-1"}
    assert {"name": "CL", "value": "95%"} in observed["qualifiers"] and {"name": "ctau_mm", "value": "1.0"} in observed["qualifiers"]
    np.testing.assert_allclose([v["value"] for v in expected["values"]], scan.expected[:, 2], rtol=1e-7)
    bands = {e["label"]: e["asymerror"] for e in expected["values"][3]["errors"]}
    np.testing.assert_allclose([bands["1 sigma"]["minus"], bands["1 sigma"]["plus"], bands["2 sigma"]["minus"],
                                bands["2 sigma"]["plus"]],
                               np.array([0.7 - 1, 1.5 - 1, 0.5 - 1, 2.2 - 1]) * scan.expected[3, 2], rtol=1e-6)
    table2 = yaml.safe_load((folder / docs[2]["data_file"]).read_text())
    assert len(table2["independent_variables"][0]["values"]) == len(scan) - 1


def test_two_masses_are_two_independent_variables(tmp_path):
    path = write_hepdata([_scan(two_masses=True)], tmp_path / "h.tar.gz", title="t", paper="p", sqrt_s_gev=[10.58, 10.355],
                         validate=True)
    folder = _unpack(path, tmp_path / "out")
    table = yaml.safe_load((folder / "upper_limits_on_g_agg.yaml").read_text())
    assert [v["header"]["name"] for v in table["independent_variables"]] == ["m_a", "M_h'"]


def test_numbers_read_back_as_numbers():
    # PyYAML (YAML 1.1, the validator's reader) reads 1e-05 as a string: every float has a decimal point
    assert yaml.safe_load(_flow({"v": 1e-05, "w": [3.0, 2, "x"]})) == {"v": 1e-05, "w": [3.0, 2, "x"]}


def test_an_invalid_submission_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(AnalysisError, match="centre-of-mass"):
        write_hepdata([_scan()], tmp_path / "h.tar.gz", title="t", paper="p", sqrt_s_gev=[float("nan")])
    with pytest.raises(AnalysisError, match="distinct names"):
        write_hepdata([_scan(), _scan()], tmp_path / "h.tar.gz", title="t", paper="p", sqrt_s_gev=[10.58])
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(RuntimeError, match="nowhere.csv"):
        write_hepdata([_scan()], tmp_path / "h.tar.gz", title="t", paper="p", sqrt_s_gev=[10.58],
                      resources=[(missing, "absent")])
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert write_hepdata([], tmp_path / "h.tar.gz", title="t", paper="p", sqrt_s_gev=[10.58]) is None


def test_what_the_validator_rejects_is_not_written(tmp_path, monkeypatch):
    import analysis_lib.io.hepdata as hepdata

    monkeypatch.setattr(hepdata, "validate_submission", lambda folder: ["upper_limits_on_g_agg.yaml: a fault"])
    with pytest.raises(AnalysisError, match="not valid: upper_limits_on_g_agg.yaml: a fault"):
        write_hepdata([_scan()], tmp_path / "h.tar.gz", title="t", paper="p", sqrt_s_gev=[10.58], validate=True)
    assert list(tmp_path.iterdir()) == []


def test_a_resource_above_hepdatas_size_limit_is_left_out(tmp_path, monkeypatch):
    import analysis_lib.io.hepdata as hepdata

    big, small = tmp_path / "workspaces.zip", tmp_path / "limits.csv"
    big.write_bytes(b"x" * 2000)
    small.write_text("quantity\n")
    monkeypatch.setattr(hepdata, "_MAX_RESOURCE_BYTES", 1000)
    path = write_hepdata([_scan()], tmp_path / "h.tar.gz", title="t", paper="p", sqrt_s_gev=[10.58],
                         resources=[(big, "workspaces"), (small, "limits")], validate=True)
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
    assert "limits.csv" in names and "workspaces.zip" not in names
