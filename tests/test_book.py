"""The notebook executed by papermill with small parameters, and the book built from it with -W."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis_lib.results import LIMIT_COLUMNS
from analysis_lib.runner import main

from .conftest import SMALL

pytestmark = [pytest.mark.xdist_group("simulation"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent


def test_notebook_run_and_book(tmp_path, generated_dir, alp_inputs):
    book = tmp_path / "book"
    book.mkdir()
    for name in ("_config.yml", "intro.md"):
        shutil.copy(ROOT / "book" / name, book / name)
    parameters = {"dataset": "belle2_2018", "seed": 7, "mass_min_gev": 0.9, "mass_max_gev": 1.3,
                  "mass_step_sigma": 3.0, **SMALL}
    (book / "runs.yaml").write_text(json.dumps({"runs": [
        {"id": "alp_small", "notebook": "belle2_alp_3gamma.ipynb", "title": "ALP, small", "parameters": parameters},
    ]}))
    assert main(["build", "--book", str(book)]) == 0

    run = book / "runs" / "alp_small"
    limits = pd.read_csv(run / "limits.csv")
    assert list(limits.columns) == LIMIT_COLUMNS
    assert set(limits["quantity"]) == {"sigma_x_br", "g_agg"}
    bands = limits[LIMIT_COLUMNS[4:]].to_numpy()
    assert (limits["observed"] > 0).all() and (bands[:, 1:] > bands[:, :-1]).all()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["channel"] == "belle2_alp_3gamma" and meta["confidence_level"] == 0.95
    assert meta["parameters"]["seed"] == 7 and meta["package_versions"]["pyhf"]
    assert json.loads((run / "status.json").read_text())["status"] == "ok"
    assert not list((book / "runs").glob(".*partial"))

    html = book / "_build" / "html"
    page = html / "runs" / "alp_small" / "belle2_alp_3gamma.html"
    assert page.exists() and (html / "intro.html").exists() and (html / "runs" / "summary.html").exists()
    text = page.read_text()
    assert "ALP, small" in text
    images = list((html / "_images").glob("*.png"))
    assert len(images) >= 6  # kinematics, efficiency, fit, two limits, significance
    assert "_static/mathjax/" in text  # MathJax served from the book, not a CDN


def test_interrupted_invocation_resumes(tmp_path, generated_dir, alp_inputs):
    # two runs executed in turn; SIGINT once the first has finished: it is kept, nothing half-written
    # stays, and the next invocation executes only the second
    import os
    import signal
    import subprocess
    import sys
    import time

    book = tmp_path / "book"
    book.mkdir()
    small = {"dataset": "belle2_2018", "seed": 7, "mass_step_sigma": 4.0, **SMALL}
    (book / "runs.yaml").write_text(json.dumps({"runs": [
        {"id": "first", "notebook": "belle2_alp_3gamma.ipynb",
         "parameters": {**small, "mass_min_gev": 1.0, "mass_max_gev": 1.2}},
        {"id": "second", "notebook": "belle2_alp_3gamma.ipynb",
         "parameters": {**small, "mass_min_gev": 2.0, "mass_max_gev": 2.2}},
    ]}))
    command = [sys.executable, "-m", "analysis_lib.runner", "run", "--book", str(book), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    deadline = time.monotonic() + 300
    while not (book / "runs" / "first" / "status.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) != 0
    assert json.loads((book / "runs" / "first" / "status.json").read_text())["status"] == "ok"
    assert not (book / "runs" / "second").exists()
    assert not list((book / "runs").glob(".*partial"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "first is up to date" in result.stdout
    assert json.loads((book / "runs" / "second" / "status.json").read_text())["status"] == "ok"


def test_runs_on_a_local_cluster_of_two_processes(tmp_path, generated_dir, alp_inputs):
    # three small runs on two worker processes: all finish, each in its own folder (papermill changes
    # its process's working directory, so thread workers would collide)
    import subprocess
    import sys

    book = tmp_path / "book"
    book.mkdir()
    small = {"dataset": "belle2_2018", "seed": 7, "mass_step_sigma": 4.0, "mass_max_gev": 1.5, **SMALL}
    (book / "runs.yaml").write_text(json.dumps({"runs": [
        {"id": f"r{i}", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {**small, "mass_min_gev": 1.0 + 0.1 * i}}
        for i in range(3)
    ]}))
    result = subprocess.run([sys.executable, "-m", "analysis_lib.runner", "run", "--book", str(book), "--workers", "2"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    for i in range(3):
        status = json.loads((book / "runs" / f"r{i}" / "status.json").read_text())
        assert status["status"] == "ok"
        limits = pd.read_csv(book / "runs" / f"r{i}" / "limits.csv")
        assert limits["mass_gev"].min() == pytest.approx(1.0 + 0.1 * i)
