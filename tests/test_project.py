"""Project contracts: run validation, parameters, notebooks, published data, environment file."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from analysis_lib.channels import channel, channels, notebook_declaration, studies
from analysis_lib.core.errors import ParameterError
from analysis_lib.core.parameters import EXECUTION_PARAMETERS
from analysis_lib.detector.datasets import dataset
from analysis_lib.io.published import PUBLISHED_DIR, load_curve
from analysis_lib.runner.cli import load_runs, main

ROOT = Path(__file__).resolve().parent.parent
ALP = channel("belle2_alp_3gamma")


def write_runs(tmp_path, parameters):
    runs = tmp_path / "runs.yaml"
    runs.write_text(json.dumps({"runs": [{"id": "r1", "notebook": ALP.notebook, "parameters": parameters}]}))
    return runs


def test_book_runs_file_is_valid():
    every = load_runs(ROOT / "book" / "runs.yaml")
    # the coverage map, a study, beside the searches
    assert [r.id for r in every if r.notebook == "coverage.ipynb"] == ["coverage"]
    runs = [r for r in every if r.notebook != "coverage.ipynb"]
    assert {r.parameters["dataset"] for r in runs} == {"belle2_2018", "belle2_50ab", "babar_4s", "belle_4s",
                                                       "belle2_2019_2020", "belle2_2019", "belle2_1ab", "babar_514"}
    # issue 15: 50 ab^-1 for every chapter, 1 ab^-1 for every Belle II chapter
    for notebook in ("belle2_alp_3gamma.ipynb", "belle2_zprime_invisible.ipynb", "belle2_dark_higgsstrahlung.ipynb",
                     "babar_b_to_k_alp.ipynb", "belle_b_to_lambda_invisible.ipynb", "babar_darkonium.ipynb"):
        datasets = {r.parameters["dataset"] for r in runs if r.notebook == notebook}
        assert "belle2_50ab" in datasets, notebook
        assert notebook.startswith(("babar", "belle_")) or "belle2_1ab" in datasets, notebook
    darkonium = {r.parameters["dataset"] for r in runs if r.notebook == "babar_darkonium.ipynb"}
    assert darkonium == {"babar_514", "babar_4s", "belle2_50ab"}  # issue 17: the combination, the 4S alone, 50 ab^-1
    higgsstrahlung = {r.parameters["dataset"] for r in runs if r.notebook == "belle2_dark_higgsstrahlung.ipynb"}
    assert higgsstrahlung == {"belle2_2019", "belle2_1ab", "belle2_50ab"}
    zprime = {r.parameters["dataset"] for r in runs if r.notebook == "belle2_zprime_invisible.ipynb"}
    assert zprime == {"belle2_2019_2020", "belle2_1ab", "belle2_50ab"}
    # the paper's four lifetimes, each its own run
    lifetimes = sorted(r.parameters["ctau_mm"] for r in runs
                       if r.parameters["dataset"] == "babar_4s" and r.notebook == "babar_b_to_k_alp.ipynb")
    assert lifetimes == [0.0, 1.0, 10.0, 100.0]
    # a run without the curve versus luminosity is a projection whose chapter draws it for the same
    # experiment, seed and model in a run that is not a projection
    for r in runs:
        if r.parameters.get("luminosity_scan", True):
            continue
        ds = dataset(r.parameters["dataset"])
        same = {k: v for k, v in r.parameters.items() if k not in ("dataset", "luminosity_scan", "background_degree")}
        drawn = [o for o in runs if o.notebook == r.notebook and o.parameters.get("luminosity_scan", True)
                 and not dataset(o.parameters["dataset"]).projection
                 and dataset(o.parameters["dataset"]).experiment.name == ds.experiment.name
                 and all(o.parameters.get(k) == v for k, v in same.items())]
        assert ds.projection and drawn, r.id


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"datset": "belle2_2018"}, "unknown parameter 'datset'"),
        ({"dataset": "belle2_2030"}, "'belle2_2030' is not allowed"),
        ({"seed": "one"}, "has type str, but int is required"),
        ({"seed": -1}, "outside its allowed range"),
        ({"mass_max_gev": 10.5}, "mass_max_gev"),
        ({"mass_min_gev": 0.01}, "mass_min_gev"),
        ({"n_signal_events": 1.5}, "int is required"),
        ({"scheduler": "tcp://127.0.0.1:8786"}, "set by the runner for each execution"),
        ({"output_dir": "x"}, "set by the runner for each execution"),
        ({"mass_min_gev": 5.0, "mass_max_gev": 2.0}, "'mass_min_gev' = 5.0 is not below 'mass_max_gev' = 2.0"),
    ],
)
def test_bad_run_parameters_are_refused_before_execution(tmp_path, parameters, message, capsys):
    runs = write_runs(tmp_path, parameters)
    with pytest.raises(ParameterError, match=message):
        load_runs(runs)
    # the command line exits non-zero with the message, and executes nothing
    assert main(["run", "--runs", str(runs), "--book", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "run 'r1'" in err and message.split("'")[0] in err
    assert not (tmp_path / "runs").exists()


def test_non_finite_values_are_refused(tmp_path):
    # YAML's .nan and .inf, as a runs file gives them
    runs = tmp_path / "runs.yaml"
    runs.write_text(f"runs:\n  - id: r1\n    notebook: {ALP.notebook}\n    parameters: {{mass_step_sigma: .nan}}\n")
    with pytest.raises(ParameterError, match="'mass_step_sigma' = nan is not a finite number"):
        load_runs(runs)
    with pytest.raises(ParameterError, match="'fit_half_width_sigma' = inf is not a finite number"):
        ALP.validate({"fit_half_width_sigma": float("inf")})


def test_duplicate_and_unknown_notebook_are_refused(tmp_path):
    runs = tmp_path / "runs.yaml"
    runs.write_text(json.dumps({"runs": [{"id": "a", "notebook": ALP.notebook}, {"id": "a", "notebook": ALP.notebook}]}))
    with pytest.raises(ParameterError, match="used twice"):
        load_runs(runs)
    runs.write_text(json.dumps({"runs": [{"id": "a", "notebook": "nothing.ipynb"}]}))
    with pytest.raises(ParameterError, match="not found"):
        load_runs(runs)


def test_ints_are_accepted_for_floats_and_defaults_filled():
    values = ALP.validate({"mass_min_gev": 1})
    assert values["mass_min_gev"] == 1.0 and isinstance(values["mass_min_gev"], float)
    assert values["dataset"] == "belle2_2018"


@pytest.mark.parametrize("notebook", sorted([c.notebook for c in channels().values()]
                                             + [s.notebook for s in studies().values()]))
def test_notebook_parameters_cell_matches_declaration(notebook):
    ch = notebook_declaration(notebook)  # a channel's or a study's
    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    defaults = {}
    for node in ast.parse(cells[0].source).body:
        defaults[node.targets[0].id] = ast.literal_eval(node.value)
    declared = {p.name: p.default for p in ch.parameters + EXECUTION_PARAMETERS}
    assert defaults == declared


def test_notebooks_are_committed_without_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
        assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), path.name


@pytest.mark.parametrize("name", sorted(channels()))
def test_every_channel_has_published_references_with_provenance(name):
    ch = channel(name)
    # a channel without a digitised curve states the paper's headline range instead, or, where not even
    # that was found, what was (with its source)
    assert ch.published or ch.published_ranges or "arXiv" in ch.published_note, name
    for key, headline in ch.published_ranges.items():
        assert "arXiv" in headline.source and headline.cl == ch.cl
        assert ch.reference(key) is headline
    for key, filename in ch.published.items():
        text = (PUBLISHED_DIR / filename).read_text()
        header = [line for line in text.splitlines() if line.startswith("#")]
        assert any("arXiv" in line for line in header) and any("Digitis" in line for line in header)
        curve = load_curve(filename)
        assert curve.cl == ch.cl
        np.testing.assert_array_equal(ch.reference(key).value, curve.value)
    assert ch.reference("no such result") is None


def test_environment_file_is_in_step_with_pyproject():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_environment.py"), "--check"])
    assert result.returncode == 0


def test_nothing_at_run_time_reads_shared():
    for path in (ROOT / "analysis_lib").rglob("*.py"):
        assert "../shared" not in path.read_text(), path
