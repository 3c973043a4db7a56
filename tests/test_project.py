"""Project contracts: run validation, parameters, notebooks, published data, environment file."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from analysis_lib.channels import CHANNELS, channel
from analysis_lib.datasets import dataset, datasets
from analysis_lib.errors import ParameterError
from analysis_lib.parameters import EXECUTION_PARAMETERS, validate
from analysis_lib.published import PUBLISHED_DIR, load_curve
from analysis_lib.runner import load_runs, main

ROOT = Path(__file__).resolve().parent.parent
ALP = channel("belle2_alp_3gamma")


def write_runs(tmp_path, parameters):
    runs = tmp_path / "runs.yaml"
    runs.write_text(json.dumps({"runs": [{"id": "r1", "notebook": ALP.NOTEBOOK, "parameters": parameters}]}))
    return runs


def test_book_runs_file_is_valid():
    runs = load_runs(ROOT / "book" / "runs.yaml")
    assert {r.parameters["dataset"] for r in runs} == {"belle2_2018", "belle2_50ab", "babar_4s", "belle_4s",
                                                       "belle2_2019_2020", "belle2_2019"}
    higgsstrahlung = {r.parameters["dataset"] for r in runs if r.notebook == "belle2_dark_higgsstrahlung.ipynb"}
    assert higgsstrahlung == {"belle2_2019", "belle2_50ab"}
    zprime = {r.parameters["dataset"] for r in runs if r.notebook == "belle2_zprime_invisible.ipynb"}
    assert zprime == {"belle2_2019_2020", "belle2_50ab"}
    # the paper's four lifetimes, each its own run
    lifetimes = sorted(r.parameters["ctau_mm"] for r in runs if r.parameters["dataset"] == "babar_4s")
    assert lifetimes == [0.0, 1.0, 10.0, 100.0]


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


def test_duplicate_and_unknown_notebook_are_refused(tmp_path):
    runs = tmp_path / "runs.yaml"
    runs.write_text(json.dumps({"runs": [{"id": "a", "notebook": ALP.NOTEBOOK}, {"id": "a", "notebook": ALP.NOTEBOOK}]}))
    with pytest.raises(ParameterError, match="used twice"):
        load_runs(runs)
    runs.write_text(json.dumps({"runs": [{"id": "a", "notebook": "nothing.ipynb"}]}))
    with pytest.raises(ParameterError, match="not found"):
        load_runs(runs)


def test_ints_are_accepted_for_floats_and_defaults_filled():
    values = validate(ALP.PARAMETERS, {"mass_min_gev": 1})
    assert values["mass_min_gev"] == 1.0 and isinstance(values["mass_min_gev"], float)
    assert values["dataset"] == "belle2_2018"


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_notebook_parameters_cell_matches_declaration(name):
    module = channel(name)
    nb = nbformat.read(ROOT / "notebooks" / module.NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    defaults = {}
    for node in ast.parse(cells[0].source).body:
        defaults[node.targets[0].id] = ast.literal_eval(node.value)
    declared = {p.name: p.default for p in module.PARAMETERS + EXECUTION_PARAMETERS}
    assert defaults == declared


def test_notebooks_are_committed_without_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
        assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), path.name


def test_every_channel_has_published_curves_with_provenance():
    for name in CHANNELS:
        module = channel(name)
        # a channel without a digitised curve states the paper's headline range instead
        headlines = list(getattr(module, "PUBLISHED_RANGES", {}).values())
        if getattr(module, "PUBLISHED_RANGE", None) is not None:
            headlines.append(module.PUBLISHED_RANGE)
        assert module.PUBLISHED or headlines, name
        for headline in headlines:
            assert "arXiv" in headline.source and headline.cl == module.CL
        for filename in channel(name).PUBLISHED:
            text = (PUBLISHED_DIR / filename).read_text()
            header = [line for line in text.splitlines() if line.startswith("#")]
            assert any("arXiv" in line for line in header) and any("Digitis" in line for line in header)
            curve = load_curve(filename)
            assert curve.cl == channel(name).CL


def test_dataset_registry():
    ds = dataset("belle2_2018")
    assert ds.luminosity_fb == pytest.approx(0.445) and not ds.projection
    assert dataset("belle2_50ab").projection
    assert all(d.experiment.sqrt_s_gev > 10 for d in datasets().values())
    with pytest.raises(ParameterError, match="registered datasets"):
        dataset("nope")


def test_environment_file_is_in_step_with_pyproject():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_environment.py"), "--check"])
    assert result.returncode == 0


def test_nothing_at_run_time_reads_shared():
    for path in (ROOT / "analysis_lib").rglob("*.py"):
        assert "../shared" not in path.read_text(), path
