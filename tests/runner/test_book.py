"""The notebook executed by papermill with small parameters, and the book built from it with -W."""

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from analysis_lib.io.results import LIMIT_COLUMNS
from analysis_lib.runner.cli import main
from analysis_lib.runner.pages import copy_book_files

from ..conftest import SMALL

# two groups of end-to-end runs, so that both test workers take a share (each prepares its own small
# ALP inputs)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent


def _validated_hepdata(archive, folder) -> set:
    """The names in the HEPData submission ``archive``, after the HEPData validator accepted it."""
    import tarfile

    from analysis_lib.io.hepdata import validate_submission

    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    assert validate_submission(folder) == []
    return {p.name for p in folder.iterdir()}


@pytest.mark.xdist_group("book-a")
def test_notebook_run_and_book(tmp_path, generated_dir, alp_inputs):
    book = tmp_path / "book"
    copy_book_files(ROOT / "book", book)  # the book's own pages (the runs are this test's)
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

    # the publication outputs: a HEPData submission the validator accepts, the figures as PDF and PNG
    hepdata = _validated_hepdata(run / "hepdata.tar.gz", tmp_path / "hepdata")
    assert {"upper_limits_on_g_agg.yaml", "upper_limits_on_sigma_x_br.yaml", "limits.csv"} <= hepdata
    assert (run / "limit_g_agg.pdf").exists() and (run / "limit_g_agg.png").exists()
    with zipfile.ZipFile(run / "figures.zip") as archive:
        names = set(archive.namelist())
    assert len(names) >= 12 and {n.replace(".png", ".pdf") for n in names if n.endswith(".png")} <= names

    html = book / "_build" / "html"
    page = html / "runs" / "alp_small" / "belle2_alp_3gamma.html"
    assert page.exists() and (html / "index.html").exists() and (html / "adding_a_search.html").exists()
    text = page.read_text()
    assert "ALP, small" in text and "Downloads" in text and "hepdata.tar.gz" in text
    assert "Show code cell source" in text  # code folded
    assert "ALP, small" in (html / "index.html").read_text()  # the landing page's table of runs
    images = list((html / "_images").glob("*.png"))
    assert len(images) >= 6  # kinematics, efficiency, fit, two limits, significance
    assert "_static/mathjax/" in text  # MathJax served from the book, not a CDN


#: Runs of the coverage study at a coarse grid (5-7 s each, no samples to simulate): what the runner does
#: with an interrupt or a killed worker does not depend on what a run computes.
STUDY = {"backgrounds": [0.3, 30.0], "n_signals": 2, "n_pseudo_data": 100, "n_toy_signals": 1, "n_toy_data": 50,
         "toys_per_limit": 100}


def _study_runs(book, n):
    book.mkdir()
    (book / "runs.yaml").write_text(json.dumps({"runs": [
        {"id": f"r{i}", "notebook": "coverage.ipynb", "parameters": {**STUDY, "seed": i + 1}} for i in range(n)]}))


@pytest.mark.xdist_group("book-a")
def test_interrupted_invocation_resumes(tmp_path):
    # two runs executed in turn; SIGINT once the first has finished: it is kept, nothing half-written
    # stays, and the next invocation executes only the second
    import os
    import signal
    import subprocess
    import sys
    import time

    book = tmp_path / "book"
    _study_runs(book, 2)
    command = [sys.executable, "-m", "analysis_lib.runner", "run", "--book", str(book), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    deadline = time.monotonic() + 300
    while not (book / "runs" / "r0" / "status.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) != 0
    assert json.loads((book / "runs" / "r0" / "status.json").read_text())["status"] == "ok"
    assert not (book / "runs" / "r1").exists()
    assert not list((book / "runs").glob(".*partial"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "r0 is up to date" in result.stdout
    assert json.loads((book / "runs" / "r1" / "status.json").read_text())["status"] == "ok"


def _descendants(tag):
    """Processes still alive that were started with the environment variable DSBOOK_TEST_TAG=tag."""
    import os

    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if f"DSBOOK_TEST_TAG={tag}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:  # gone, or not ours
            pass
    return [pid for pid in found if pid != os.getpid()]


def _kernels(tag, runs: Path):
    """(pid, working directory) of the kernels started under ``tag`` that execute in ``runs``."""
    for pid in _descendants(tag):
        try:
            cwd = Path(f"/proc/{pid}/cwd").resolve()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone
            continue
        if b"ipykernel" in cmdline and cwd.parent == runs:
            yield pid, cwd


def _no_process_left(tag, seconds=10):
    import time

    deadline = time.monotonic() + seconds
    while _descendants(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _descendants(tag)


def _start(book, workers, tag, *options, env=None):
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "analysis_lib.runner", "run", "--book", str(book), "--workers", str(workers),
               *options]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "DSBOOK_TEST_TAG": tag, **(env or {})})


@pytest.mark.xdist_group("book-a")
def test_a_killed_worker_is_replaced_and_finished_runs_are_kept(tmp_path):
    # once a run has finished, the worker process of a running notebook is killed (as the kernel's
    # out-of-memory killer would): its run executes again on the restarted worker, the finished runs
    # are not executed again, no attempt folder and no process stays behind
    import os
    import signal
    import time

    book = tmp_path / "book"
    _study_runs(book, 3)
    process = _start(book, 2, tmp_path.name)
    runs = book / "runs"
    deadline = time.monotonic() + 300
    killed = None
    while killed is None:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        finished = {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("r*/status.json")}
        for pid, cwd in _kernels(tmp_path.name, runs) if finished else []:
            if cwd.name.endswith(".partial"):
                os.kill(int(Path(f"/proc/{pid}/stat").read_text().split()[3]), signal.SIGKILL)  # its worker
                killed = cwd.name.split(".")[1]
                break
        time.sleep(0.1)
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    assert killed not in finished
    for run_id, mtime in finished.items():
        assert (runs / run_id / "status.json").stat().st_mtime_ns == mtime  # not executed again
    for i in range(3):
        assert json.loads((runs / f"r{i}" / "status.json").read_text())["status"] == "ok"
    assert (runs / killed / "coverage.csv").exists()
    assert not list(runs.glob(".*partial"))
    assert _no_process_left(tmp_path.name)


def _contents(folder):
    """{sample file name: its events} of a generated-data folder (ROOT files embed a UUID and a time:
    contents are compared, not bytes, with :func:`_same_events`)."""
    import uproot

    out = {}
    for path in sorted(folder.rglob("*.root")):
        with uproot.open(path) as f:
            out[path.relative_to(folder).as_posix()] = f["events"].arrays(library="ak")
    return out


def _same_events(a, b) -> bool:
    """The same fields, types and values, exactly."""
    import awkward as ak

    return a.fields == b.fields and ak.array_equal(a, b, dtype_exact=True)


@pytest.mark.xdist_group("book-b")
def test_one_or_two_workers_make_the_same_samples_once_and_the_same_limits(tmp_path):
    # a small book of two runs at two luminosities of one experiment: its simulation stage makes every
    # sample once (both runs read the same samples), with the same contents and the same limits
    # whatever the number of workers; with two, on worker processes (papermill changes its process's
    # working directory, so thread workers would collide), each notebook spreading its scan over the
    # same two workers gives the limits of the scan in its kernel; nothing stays behind
    parameters = {"seed": 11, "mass_min_gev": 1.0, "mass_max_gev": 1.3, "mass_step_sigma": 3.0, **SMALL}
    # the projection leaves the curve versus luminosity to the other run (luminosity_scan: false)
    runs = [{"id": f"alp_{ds}", "notebook": "belle2_alp_3gamma.ipynb",
             "parameters": {**parameters, "dataset": ds, "luminosity_scan": ds == "belle2_2019"}}
            for ds in ("belle2_2019", "belle2_50ab")]
    results = {}
    for workers in (1, 2):
        generated = tmp_path / f"generated-{workers}"
        book = tmp_path / f"book-{workers}"
        book.mkdir()
        (book / "runs.yaml").write_text(json.dumps({"runs": runs}))
        tag = f"{tmp_path.name}-{workers}"
        process = _start(book, workers, tag, *(["--scans", "cluster"] if workers == 2 else []),
                         env={"DSBOOK_GENERATED_DIR": str(generated)})
        out, _ = process.communicate(timeout=900)
        assert process.returncode == 0, out
        profile = json.loads((book / "runs" / "profile.json").read_text())
        # one task per sample, all simulated here, none twice, none in the kernels
        assert len(profile["samples"]) == 35 and all(m["simulated"] for m in profile["samples"].values())
        assert all(p.get("simulation", 0.0) == 0.0 for p in profile["runs"].values())
        for run in runs:
            meta = json.loads((book / "runs" / run["id"] / "meta.json").read_text())
            assert meta["scan_workers"] == (2 if workers == 2 else 0)
            scanned = (book / "runs" / run["id"] / "sensitivity.csv").exists()
            assert scanned == run["parameters"]["luminosity_scan"]
        results[workers] = (_contents(generated),
                            {r["id"]: pd.read_csv(book / "runs" / r["id"] / "limits.csv") for r in runs})
        assert not list((book / "runs").glob(".*partial")) and _no_process_left(tag)
    samples_1, limits_1 = results[1]
    samples_2, limits_2 = results[2]
    assert samples_1.keys() == samples_2.keys() and len(samples_1) == 35
    for name in samples_1:
        assert _same_events(samples_1[name], samples_2[name]), name
    for run_id in limits_1:
        pd.testing.assert_frame_equal(limits_1[run_id], limits_2[run_id])


@pytest.mark.xdist_group("book-a")
def test_a_kernel_that_dies_fails_its_run_alone(tmp_path):
    # the kernel of the first run is killed while its notebook executes (as the out-of-memory killer
    # would): that run fails with the reason in the summary and its page, the second run is executed
    import os
    import signal
    import time

    book = tmp_path / "book"
    _study_runs(book, 2)
    process = _start(book, 1, tmp_path.name)
    runs = book / "runs"
    deadline = time.monotonic() + 300
    killed = False
    while not killed:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        for pid, cwd in _kernels(tmp_path.name, runs):
            if cwd.name.startswith(".r0.") and _past_setup(cwd / "coverage.ipynb"):  # started, running the notebook
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
        time.sleep(0.1)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 1, out
    record = json.loads((runs / "r0" / "status.json").read_text())
    assert record["status"] == "failed" and "DeadKernelError" in record["error"], record
    assert "r0 failed: DeadKernelError" in out
    assert json.loads((runs / "r1" / "status.json").read_text())["status"] == "ok"
    assert not list(runs.glob(".*partial")) and _no_process_left(tmp_path.name)


def _past_setup(notebook: Path) -> bool:
    """True once papermill's copy of a notebook (saved at every cell's start and end) shows the cell
    that calls ``setup_study`` completed."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError):  # not written yet, or caught half-written
        return False
    return any("setup_study(" in "".join(c["source"]) and c.get("metadata", {}).get("papermill", {}).get("status")
               == "completed" for c in cells)


@pytest.mark.xdist_group("book-a")
def test_a_second_invocation_is_refused_and_a_killed_one_is_cleaned_up(tmp_path):
    # a first `dsbook run` executes its first run; a second invocation on the same book is refused,
    # naming the first, and touches nothing; the first is then killed (SIGKILL: it cleans nothing up);
    # the next invocation removes its unfinished attempt and executes both runs
    import os
    import signal
    import subprocess
    import sys
    import time

    book = tmp_path / "book"
    _study_runs(book, 2)
    runs = book / "runs"
    first = _start(book, 1, tmp_path.name)
    deadline = time.monotonic() + 300
    while not list(runs.glob(".r0.*.partial")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
        time.sleep(0.1)
    command = [sys.executable, "-m", "analysis_lib.runner", "run", "--book", str(book), "--workers", "1"]
    before = list(runs.glob(".r*.partial"))
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"in use by another dsbook invocation (pid {first.pid}" in second.stderr
    for attempt in before:  # the first's work untouched: still under way, or finished in place
        assert attempt.exists() or (runs / attempt.name.split(".")[1] / "status.json").exists()
    assert first.poll() is None
    while not (left := list(runs.glob(".r*.partial"))):  # killed while an attempt of it is under way
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    for pid in _descendants(tmp_path.name):  # its kernel, orphaned
        os.kill(pid, signal.SIGKILL)
    left = [attempt for attempt in left if attempt.exists()]  # (unless it finished just before the kill)
    third = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stdout + third.stderr
    assert all(attempt.name in third.stdout for attempt in left) and ("removed 1 unfinished" in third.stdout) == bool(left)
    for run_id in ("r0", "r1"):
        assert json.loads((runs / run_id / "status.json").read_text())["status"] == "ok"
    assert not list(runs.glob(".*partial"))
