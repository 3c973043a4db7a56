"""A study (a page about the method, not a search) run by the runner: the coverage map at a coarse
grid, through papermill as the book runs it."""

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis_lib.channels import notebook_declaration, study
from analysis_lib.core.errors import ParameterError
from analysis_lib.runner.cli import load_runs, main

pytestmark = pytest.mark.slow

COARSE = {"backgrounds": [0.3, 30.0], "n_signals": 2, "n_pseudo_data": 100, "n_toy_signals": 1, "n_toy_data": 50,
          "toys_per_limit": 100}


def test_the_coverage_study_runs_at_a_coarse_grid(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "runs.yaml").write_text(json.dumps({"runs": [
        {"id": "coverage", "notebook": "coverage.ipynb", "title": "Coverage, coarse", "parameters": COARSE}]}))
    assert main(["run", "--book", str(book), "--workers", "1"]) == 0
    folder = book / "runs" / "coverage"
    assert json.loads((folder / "status.json").read_text())["status"] == "ok"
    table = pd.read_csv(folder / "coverage.csv")
    # one bin: asymptotic and exact at both backgrounds; shape: asymptotic at both, pseudo-experiments
    # only where auto uses them (0.3 events in all, about 0.1 under the peak)
    counts = table.groupby(["model", "method"])["background"].unique().map(sorted).to_dict()
    assert counts == {("one bin", "asymptotic"): [0.3, 30.0], ("one bin", "exact"): [0.3, 30.0],
                      ("shape", "asymptotic"): [0.3, 30.0], ("shape", "pseudo-experiments"): [0.3]}
    exact = table[table.method == "exact"]
    assert (exact.coverage >= 0.95 - 1e-9).all()  # CLs covers by construction
    assert {"coverage_map.png", "coverage_one_bin.png", "profile.json"} <= {p.name for p in Path(folder).iterdir()}


def test_a_study_is_validated_like_a_channel(tmp_path):
    assert notebook_declaration("coverage.ipynb") is study("coverage")
    assert study("coverage").sample_requests({}) == []
    runs = tmp_path / "runs.yaml"
    runs.write_text(json.dumps({"runs": [{"id": "c", "notebook": "coverage.ipynb",
                                          "parameters": {"n_pseudo_data": 10}}]}))
    with pytest.raises(ParameterError, match="n_pseudo_data"):
        load_runs(runs)
    with pytest.raises(ParameterError, match="unknown study 'nothing'"):
        study("nothing")
