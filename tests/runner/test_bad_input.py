"""Bad input and faults through the command line, as a user meets them: each is refused (or reported)
with a message naming the value and the fix, a non-zero exit code, nothing left half-written and
other runs untouched.

Most cases are a runs file or a dataset registry that ``dsbook validate`` refuses in milliseconds;
the faults (a full disk, a second invocation, a failed run, leftovers of a killed invocation) fake the
notebook's execution, so that no kernel starts; two cases execute a notebook through papermill.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis_lib.core.errors import DiskFullError, NtupleError
from analysis_lib.detector import datasets as datasets_module
from analysis_lib.runner import cli as runner
from analysis_lib.runner.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent
REGISTRY = ROOT / "data" / "datasets.yaml"

ALP = {"id": "alp", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {"dataset": "belle2_2018"}}
STUDY = {"id": "cov", "notebook": "coverage.ipynb", "parameters": {"n_pseudo_data": 100}}


def _with(run=None, **parameters):
    """The ALP run with ``parameters`` changed (None removes one)."""
    out = json.loads(json.dumps(run or ALP))
    for name, value in parameters.items():
        if value is None:
            out["parameters"].pop(name, None)
        else:
            out["parameters"][name] = value
    return out


def _registry(change):
    """The book's registry (as YAML text) with ``change(entries)`` applied."""
    entries = yaml.safe_load(REGISTRY.read_text())
    change(entries)
    return yaml.safe_dump(entries, sort_keys=False)


def _set(name, **keys):
    def change(entries):
        for key, value in keys.items():
            if value is None:
                entries[name].pop(key, None)
            else:
                entries[name][key] = value
    return change


def _add(name, entry):
    def change(entries):
        entries[name] = entry
    return change


REAL = {"experiment": "belle2", "luminosity_fb": 0.445, "luminosity_uncertainty_fb": 0.003, "description": "real",
        "projection": False, "reference": None, "ntuples": "real_ntuples"}
REAL_RUN = _with(dataset="belle2_real")

#: (case, runs file text or runs, registry text or None, extra command-line options, words of the message)
CASES = [
    # the runs file
    ("missing runs file", None, None, [], "does not exist; give an existing file with --runs"),
    ("YAML syntax error", "runs:\n  - id: a\n    notebook: [x\n", None, [], "not valid YAML (line"),
    ("top level a list", "- id: a\n", None, [], "top level must be a mapping"),
    ("misspelled top-level key", {"run": [ALP]}, None, [], "top level must be a mapping with one key"),
    ("no runs", {"runs": []}, None, [], "expected a non-empty list under 'runs:', found []"),
    ("a run that is a string", {"runs": ["alp"]}, None, [], "is not a mapping"),
    ("unknown key of a run", {"runs": [{**ALP, "param": {}}]}, None, [], "unknown key(s) ['param']"),
    ("no id", {"runs": [{k: v for k, v in ALP.items() if k != "id"}]}, None, [], "id None must be a string"),
    ("id with a space", {"runs": [{**ALP, "id": "a b"}]}, None, [], "id 'a b' must be a string of letters"),
    ("id used twice", {"runs": [ALP, ALP]}, None, [], "id 'alp' is used twice; run ids must be unique"),
    ("notebook as an absolute path", {"runs": [{**ALP, "notebook": str(ROOT / "notebooks" / ALP["notebook"])}]},
     None, [], "without a folder"),
    ("notebook outside notebooks/", {"runs": [{**ALP, "notebook": "../notebooks/belle2_alp_3gamma.ipynb"}]}, None, [],
     "without a folder"),
    ("unknown notebook", {"runs": [{**ALP, "notebook": "alp.ipynb"}]}, None, [], "not found in notebooks/"),
    ("notebook not a string", {"runs": [{**ALP, "notebook": ["a.ipynb"]}]}, None, [], "must name a notebook"),
    ("title not text", {"runs": [{**ALP, "title": ["x"]}]}, None, [], "title ['x'] must be a line of text"),
    ("parameters as a list", {"runs": [{**ALP, "parameters": ["seed", 1]}]}, None, [], "must be a mapping"),
    ("misspelled parameter", {"runs": [_with(sed=1)]}, None, [], "unknown parameter 'sed'"),
    ("text for an integer", {"runs": [_with(seed="one")]}, None, [], "has type str, but int is required"),
    ("bool for a number", {"runs": [_with(mass_min_gev=True)]}, None, [], "has type bool"),
    ("negative seed", {"runs": [_with(seed=-1)]}, None, [], "outside its allowed range"),
    ("NaN step", "runs:\n  - id: a\n    notebook: belle2_alp_3gamma.ipynb\n    parameters: {mass_step_sigma: .nan}\n",
     None, [], "'mass_step_sigma' = nan is not a finite number"),
    ("infinite mass", "runs:\n  - id: a\n    notebook: belle2_alp_3gamma.ipynb\n    parameters: {mass_max_gev: .inf}\n",
     None, [], "is not a finite number"),
    ("NaN in a list", "runs:\n  - id: a\n    notebook: babar_darkonium.ipynb\n    parameters: "
     "{darkonium_masses_gev: [1.0, .nan]}\n", None, [], "not a finite number"),
    ("inverted mass range", {"runs": [_with(mass_min_gev=3.0, mass_max_gev=2.0)]}, None, [], "is not below"),
    ("unknown dataset", {"runs": [_with(dataset="belle2_2017")]}, None, [], "'belle2_2017' is not allowed"),
    ("dataset of another experiment", {"runs": [_with(dataset="babar_4s")]}, None, [], "'babar_4s' is not allowed"),
    ("a parameter the runner sets", {"runs": [_with(output_dir="/tmp")]}, None, [], "set by the runner"),
    ("matrix of a scalar", {"runs": [{**ALP, "matrix": {"seed": 3}}]}, None, [], "matrix = {'seed': 3} must map parameter names to non-empty lists"),
    ("matrix title with an unknown name", {"runs": [{**ALP, "title": "ALP {lumi}", "matrix": {"seed": [1, 2]}}]},
     None, [], "cannot be formatted"),
    ("study with too few pseudo-data", {"runs": [_with(STUDY, n_pseudo_data=10)]}, None, [],
     "'n_pseudo_data' = 10 is outside its allowed range"),
    ("a key given twice", "runs:\n  - id: a\n    notebook: coverage.ipynb\n    parameters: {seed: 1, seed: 2}\n", None, [],
     "key 'seed' is given twice (line 4); keep one of them"),
    # the command line
    ("unknown --only", {"runs": [ALP]}, None, ["--only", "alq"], "no such run"),
    ("no workers", {"runs": [ALP]}, None, ["--workers", "0"], "give at least 1"),
    # the dataset registry
    ("registry missing", {"runs": [ALP]}, "missing", [], "cannot be read (No such file or directory); restore"),
    ("registry not UTF-8", {"runs": [ALP]}, b"belle2_2018:\n  description: \xff\n", [], "is not UTF-8 text"),
    ("dataset registered twice", {"runs": [ALP]}, REGISTRY.read_text() + "\nbelle2_2018: {}\n", [],
     "key 'belle2_2018' is given twice"),
    ("registry syntax error", {"runs": [ALP]}, "belle2_2018:\n  experiment: [belle2\n", [], "not valid YAML (line"),
    ("registry a list", {"runs": [ALP]}, "- belle2_2018\n", [], "must map dataset names"),
    ("registry entry not a mapping", {"runs": [ALP]}, _registry(_add("belle2_x", 3)), [], "the entry must be a mapping"),
    ("negative luminosity", {"runs": [ALP]}, _registry(_set("belle2_2018", luminosity_fb=-0.4)), [],
     "luminosity_fb = -0.4 must be a finite number > 0 (fb^-1); correct it in the registry"),
    ("luminosity as YAML text", {"runs": [ALP]}, _registry(_set("belle2_2018", luminosity_fb="5e4")), [],
     "YAML reads '5e4' as text: write 5.000000e+04"),
    ("uncertainty above the luminosity", {"runs": [ALP]}, _registry(_set("belle2_2018", luminosity_uncertainty_fb=1.0)),
     [], "exceeds luminosity_fb = 0.445; give the uncertainty in fb^-1, not in %"),
    ("textual luminosity", {"runs": [ALP]}, _registry(_set("belle2_2018", luminosity_fb="lots")), [],
     "luminosity_fb = 'lots'"),
    ("NaN luminosity uncertainty", {"runs": [ALP]}, _registry(_set("belle2_2018", luminosity_uncertainty_fb=float("nan"))),
     [], "luminosity_uncertainty_fb = nan"),
    ("missing key", {"runs": [ALP]}, _registry(_set("belle2_2018", experiment=None)), [], "lacks the key(s) ['experiment']"),
    ("unknown key", {"runs": [ALP]}, _registry(_set("belle2_2018", lumi=1.0)), [], "unknown key(s) ['lumi']"),
    ("unknown experiment", {"runs": [ALP]}, _registry(_set("belle2_2018", experiment="belle3")), [],
     "unknown experiment 'belle3'"),
    ("projection as text", {"runs": [ALP]}, _registry(_set("belle2_2018", projection="yes")), [],
     "projection = 'yes' must be true or false"),
    ("negative sqrt(s)", {"runs": [ALP]}, _registry(_set("belle2_2018", sqrt_s_gev=-10.0)), [], "sqrt_s_gev = -10.0"),
    ("unknown off-resonance partner", {"runs": [ALP]}, _registry(_set("belle2_2018", off_resonance="belle2_nothing")),
     [], "off_resonance = 'belle2_nothing'"),
    ("combination of an unknown part", {"runs": [ALP]},
     _registry(_add("belle2_all", {"combines": ["belle2_2018", "belle2_x"], "experiment": "belle2", "description": "x",
                                   "projection": False, "reference": None})), [],
     "names ['belle2_x'], which are not registered datasets"),
    ("combination's projection as text", {"runs": [ALP]},
     _registry(_add("belle2_all", {"combines": ["belle2_2018", "belle2_2019"], "experiment": "belle2", "description": "x",
                                   "projection": "no", "reference": None})), [], "projection = 'no' must be true or false"),
    ("real ntuples missing", {"runs": [REAL_RUN]}, _registry(_add("belle2_real", REAL)), [],
     "does not exist; copy the ntuples there, correct the path, or set ntuples: simulate"),
    ("real ntuples without data.root", {"runs": [REAL_RUN]}, _registry(_add("belle2_real", REAL)), ["mkdir"],
     "lacks ['data.root'"),
    ("unknown logical branch", {"runs": [REAL_RUN]},
     _registry(_add("belle2_real", {**REAL, "branches": {"photon_energi": "E"}})), ["data"], "unknown logical name"),
    ("branches not a mapping", {"runs": [ALP]}, _registry(_set("belle2_2018", branches=["E"])), [],
     "branches = ['E'] must map"),
    ("a combination's part without its samples",
     {"runs": [{"id": "d", "notebook": "babar_darkonium.ipynb", "parameters": {"dataset": "babar_real"}}]},
     _registry(lambda entries: entries.update(
         babar_real_a={**REAL, "experiment": "babar", "luminosity_uncertainty_fb": 0.1},
         babar_real_b={**REAL, "experiment": "babar", "luminosity_uncertainty_fb": 0.1, "sqrt_s_gev": 10.3552},
         babar_real={"combines": ["babar_real_a", "babar_real_b"], "experiment": "babar", "description": "real",
                     "projection": False, "reference": None})),
     ["data"], "holds data.root and one file <sample>.root per simulated sample the channel reads"),
]


@pytest.mark.parametrize(("runs", "registry", "options", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys, runs, registry, options, words):
    book = tmp_path / "book"
    book.mkdir()
    if isinstance(runs, str):
        (book / "runs.yaml").write_text(runs)
    elif runs is not None:
        (book / "runs.yaml").write_text(yaml.safe_dump(runs))
    done = book / "runs" / "done"  # another run's finished results, which nothing may touch
    done.mkdir(parents=True)
    (done / "status.json").write_text('{"status": "ok"}')
    if registry is not None:
        path = tmp_path / "datasets.yaml"
        if isinstance(registry, bytes):
            path.write_bytes(registry)
        elif registry != "missing":
            path.write_text(registry)
        monkeypatch.setenv("DSBOOK_REGISTRY", str(path))
    folder = tmp_path / "real_ntuples"
    if "mkdir" in options or "data" in options:
        folder.mkdir()
    if "data" in options:
        (folder / "data.root").write_bytes(b"")
        for name in ("sig_m0p15", "bkg_ee_gamma"):
            (folder / f"{name}.root").write_bytes(b"")
    options = [o for o in options if o not in ("mkdir", "data")]
    datasets_module._load_file.cache_clear()
    try:
        for command in ("validate", "run"):
            code = main([command, "--book", str(book), *options])
            err = capsys.readouterr().err
            assert code == 2, err
            assert words in err, err
            assert err.startswith("error: ") and "Traceback" not in err
    finally:
        datasets_module._load_file.cache_clear()
    assert sorted(p.name for p in book.iterdir()) == (["runs", "runs.yaml"] if runs is not None else ["runs"])
    assert [p.name for p in (book / "runs").iterdir()] == ["done"]
    assert [p.name for p in done.iterdir()] == ["status.json"] and (done / "status.json").read_text() == '{"status": "ok"}'


def test_the_table_holds_forty_cases():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)  # 57 today


# faults: the notebook's execution faked (no kernel), the runner's handling real


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A book of two coverage-study runs (no samples), with the notebooks copied."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    monkeypatch.setattr(runner, "NOTEBOOKS", notebooks)
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "runs.yaml").write_text(yaml.safe_dump({"runs": [{**STUDY, "id": "r0"}, {**STUDY, "id": "r1"}]}))
    return folder


def _fake_papermill(monkeypatch, behaviour):
    import papermill

    def execute_notebook(source, output, parameters, cwd, **kwargs):
        behaviour(Path(cwd), Path(output), Path(source))

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)


def _finished(book, run_id):
    """Put a finished earlier result of run ``run_id`` in place (a result the next attempt must not lose)."""
    folder = book / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(json.dumps({"id": run_id, "status": "ok", "seconds": 1.0, "key": "old"}))
    (folder / "coverage.csv").write_text("earlier results\n")


def test_a_full_disk_is_reported_and_loses_nothing(book, monkeypatch, capsys):
    # the notebook's writer runs out of space half-way: the attempt is removed, the earlier results stay,
    # the summary says "No space left on device" with the path, and the exit code is non-zero
    _finished(book, "r0")

    def full(cwd, output, source):
        output.write_text('{"cells": [')  # half a notebook
        raise OSError(errno.ENOSPC, "No space left on device", str(output))

    _fake_papermill(monkeypatch, full)
    code = main(["run", "--book", str(book), "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert "No space left on device while writing" in captured.out and "coverage.ipynb'" in captured.out  # the file
    assert "r0 failed" in captured.out and "r1 failed" in captured.out
    assert (book / "runs" / "r0" / "coverage.csv").read_text() == "earlier results\n"
    assert not (book / "runs" / "r1").exists() and not list((book / "runs").glob(".*partial"))


def test_a_notebook_that_cannot_be_read_back_on_a_full_disk_is_a_full_disk(book, monkeypatch, capsys):
    # the writer's error is not ENOSPC (papermill reports the truncated notebook), but the disk is full
    def truncated(cwd, output, source):
        output.write_text('{"cells": [')

    _fake_papermill(monkeypatch, truncated)
    monkeypatch.setattr(runner, "_NEARLY_FULL_BYTES", 1 << 62)  # every disk is nearly full
    monkeypatch.setattr(runner, "finish_page", lambda path, title, parameters: json.loads(path.read_text()))
    code = main(["run", "--book", str(book), "--workers", "1", "--only", "r0"])
    out = capsys.readouterr().out
    assert code == 1 and "No space left on device" in out and "JSONDecodeError" not in out
    assert not (book / "runs" / "r0").exists() and not list((book / "runs").glob(".*partial"))


def test_a_full_disk_while_writing_a_sample_leaves_no_file(tmp_path, monkeypatch):
    import awkward as ak
    import uproot

    from analysis_lib.io.ntuple import write_events

    class Full:
        def __init__(self, path, **kwargs):
            Path(path).write_bytes(b"root")  # the start of a file

        def __enter__(self):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __exit__(self, *args):
            return False

    monkeypatch.setattr(uproot, "recreate", Full)
    path = tmp_path / "sample.root"
    with pytest.raises(DiskFullError, match="No space left on device while writing .*sample.root"):
        write_events(path, ak.Array({"n_tracks": np.zeros(3, dtype=np.int32)}), {})
    assert list(tmp_path.iterdir()) == []


def test_a_second_invocation_is_refused_and_touches_nothing(book, monkeypatch, capsys):
    # the first invocation holds the book and has an attempt under way: the second is refused, naming
    # the first, and neither deletes that attempt nor executes anything
    held = runner.lock_book(book)
    attempt = book / "runs" / ".r0.first.partial"
    attempt.mkdir()
    calls = []
    _fake_papermill(monkeypatch, lambda cwd, output, source: calls.append(cwd))
    try:
        code = main(["run", "--book", str(book), "--workers", "1"])
        err = capsys.readouterr().err
        assert code == 2 and f"pid {os.getpid()}" in err and "in use by another dsbook invocation" in err
        assert attempt.exists() and calls == []
    finally:
        held.close()
    # once the first has ended, its leftovers go whatever the next invocation has to do
    assert main(["run", "--book", str(book), "--workers", "1"]) == 0
    assert not attempt.exists() and len(calls) == 2


def test_leftovers_of_a_killed_invocation_go_even_when_everything_is_up_to_date(book, monkeypatch, capsys):
    runs = runner.load_runs(book / "runs.yaml")
    for run in runs:  # both finished, with the inputs they have now
        run.folder.mkdir(parents=True)
        (run.folder / "status.json").write_text(json.dumps({"id": run.id, "status": "ok", "seconds": 1.0,
                                                            "key": runner.run_key(run)}))
    left = book / "runs" / ".r1.killed.partial"
    left.mkdir()
    assert main(["run", "--book", str(book), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "r0 is up to date" in out and "removed 1 unfinished attempt(s)" in out and not left.exists()


def test_a_failed_run_is_summarised_with_its_error_and_page(book, monkeypatch, capsys):
    import papermill

    def fail(cwd, output, source):
        shutil.copy(source, output)
        raise papermill.PapermillExecutionError(cell_index=4, exec_count=5, source="x", ename="ValueError",
                                                evalue="no events above threshold", traceback=[])

    _fake_papermill(monkeypatch, fail)
    assert main(["run", "--book", str(book), "--workers", "1", "--only", "r1"]) == 1
    captured = capsys.readouterr()
    page = book / "runs" / "r1" / "coverage.ipynb"
    assert f"r1 failed: ValueError: no events above threshold (in cell 5) (see {page})" in captured.out
    assert "1 run(s) failed" in captured.err and page.exists()


# real ntuples: checked on reading


def _real_file(path, **columns):
    """A ROOT file as another experiment's software writes it: the book's branch names, no metadata."""
    import uproot

    with uproot.recreate(path) as f:
        tree = f.mktree("events", {name: array.type.content for name, array in columns.items()},
                        counter_name=lambda counted: f"n{counted}", field_name=lambda outer, inner: f"{outer}_{inner}")
        if len(columns["n_tracks"]):
            tree.extend(columns)


def _photons(energies):
    import awkward as ak

    e = ak.Array(energies) if energies else ak.Array([[0.0]])[:0]  # an empty list of lists of floats
    return {"gamma": ak.zip({"E": e, "theta": ak.ones_like(e), "phi": ak.zeros_like(e)}),
            "n_tracks": ak.Array(np.zeros(len(e), dtype=np.int32))}


def test_non_finite_values_in_real_ntuples_are_refused_per_branch(tmp_path):
    from analysis_lib.io.ntuple import read_events

    path = tmp_path / "data.root"
    _real_file(path, **_photons([[1.0, float("nan")], [2.0], [float("inf"), float("nan"), 3.0]]))
    with pytest.raises(NtupleError, match=r"gamma_E \(photon_energy\): 3 non-finite value\(s\) of 6") as info:
        read_events(path)
    assert "refuses them rather than drop events silently" in str(info.value)
    good = tmp_path / "good.root"
    _real_file(good, **_photons([[1.0], [2.0, 0.5]]))
    assert len(read_events(good)) == 2


def test_an_empty_real_ntuple_is_refused(tmp_path):
    from analysis_lib.io.ntuple import read_events

    path = tmp_path / "data.root"
    _real_file(path, **_photons([]))
    with pytest.raises(NtupleError, match="has no events"):
        read_events(path)


@pytest.mark.slow
def test_papermill_alone_refuses_a_misspelled_parameter(tmp_path):
    # run as papermill runs a notebook by hand: a misspelled name is refused, not ignored
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="unknown parameter 'n_pseudo_dta'"):
        papermill.execute_notebook(ROOT / "notebooks" / "coverage.ipynb", tmp_path / "out.ipynb", cwd=str(tmp_path),
                                   kernel_name="python3", progress_bar=False,
                                   parameters={"n_pseudo_dta": 100, "output_dir": str(tmp_path / "out")})
    assert not (tmp_path / "out").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 400 kB tmpfs (where this process may mount one: root, and a kernel that lets it), unmounted after."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8); the injected ENOSPC tests cover the runner's path")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"no tmpfs can be mounted here ({mounted.stderr.strip()}); the injected ENOSPC tests cover it")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.slow
def test_a_book_on_a_full_disk_says_so_and_keeps_the_earlier_results(small_disk):
    # a real execution on a real small disk: the notebook's figures and the executed copy fill it
    book = small_disk / "book"
    book.mkdir()
    coarse = {"backgrounds": [0.3, 30.0], "n_signals": 2, "n_pseudo_data": 100, "n_toy_signals": 1, "n_toy_data": 50,
              "toys_per_limit": 100}
    (book / "runs.yaml").write_text(yaml.safe_dump({"runs": [{"id": "r0", "notebook": "coverage.ipynb",
                                                              "parameters": coarse}]}))
    _finished(book, "r0")
    result = subprocess.run([os.sys.executable, "-m", "analysis_lib.runner", "run", "--book", str(book), "--workers",
                             "1"], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "No space left on device" in result.stdout + result.stderr, result.stdout + result.stderr
    # no traceback of the runner's; a kernel whose heartbeat lost its port to another process at start-up
    # prints one from its thread (seen with the test suite's other kernels starting beside it), and the
    # runner starts it again
    assert "Traceback" not in result.stdout
    heartbeat = re.compile(r"Exception in thread Heartbeat:\nTraceback \(most recent call last\):\n(?:\s.*\n)*\S.*\n?")
    assert "Traceback" not in heartbeat.sub("", result.stderr), result.stderr
    assert (book / "runs" / "r0" / "coverage.csv").read_text() == "earlier results\n"
    assert not list((book / "runs").glob(".*partial"))


def test_a_full_disk_while_simulating_keeps_the_readers_earlier_results(book, monkeypatch, capsys):
    # the simulation stage cannot write a sample: the runs that read it fail with the disk's message,
    # and their earlier results stay
    from types import SimpleNamespace

    _finished(book, "r0")
    request = SimpleNamespace(label="belle2/bkg_3gamma")
    monkeypatch.setattr(runner, "sample_requests", lambda runs, client=None: ({"k": request},
                                                                              {run.id: ["k"] for run in runs}))

    def make_sample(request, after=()):
        raise DiskFullError("/data/generated/belle2/seed1/bkg_3gamma.root")

    monkeypatch.setattr(runner, "make_sample", make_sample)
    assert main(["run", "--book", str(book), "--workers", "1"]) == 1
    out = capsys.readouterr().out
    assert "r0 failed: sample belle2/bkg_3gamma: DiskFullError: No space left on device while writing" in out
    assert (book / "runs" / "r0" / "coverage.csv").read_text() == "earlier results\n"
    assert not (book / "runs" / "r1").exists() and not list((book / "runs").glob(".*partial"))


def test_the_disk_full_error_travels_from_a_worker():
    import pickle

    error = pickle.loads(pickle.dumps(DiskFullError("/data/x.root", "reading")))
    assert isinstance(error, DiskFullError) and str(error).startswith("No space left on device while reading '/data/x.root'")


def test_a_swap_of_results_cut_short_is_undone(book):
    # a killed invocation between moving a run's old results aside and putting the new ones in place
    runs = book / "runs"
    aside = runs / ".r0.1234abcd.old"
    aside.mkdir(parents=True)
    (aside / "status.json").write_text("{}")
    replaced = runs / ".r1.5678abcd.old"  # the new results made it: the old ones go
    replaced.mkdir()
    (runs / "r1").mkdir()
    (runs / ".profile.json.99.tmp").write_text("{")
    assert sorted(runner.remove_leftovers(book)) == [".r0.1234abcd.old", ".r1.5678abcd.old"]
    assert (runs / "r0" / "status.json").exists() and not replaced.exists()
    assert sorted(p.name for p in runs.iterdir()) == ["r0", "r1"]


def test_an_attempt_still_executing_elsewhere_is_left_alone(book, capsys):
    # a run of an ended invocation still executes on an external cluster's worker (it holds its
    # attempt's lock): the next holder of the book leaves that attempt alone, and removes it once it ended
    runs = book / "runs"
    live = runs / ".r0.abcd1234.partial"
    live.mkdir(parents=True)
    with runner._attempt_lock(live):
        assert runner.remove_leftovers(book) == [] and live.exists()
        # and the run is not executed a second time beside it
        assert main(["run", "--book", str(book), "--workers", "1", "--only", "r0"]) == 1
        out = capsys.readouterr().out
        assert f"r0 failed: its attempt {live.name} of an earlier invocation still executes on a worker; wait" in out
        assert live.exists() and not (runs / "r0").exists()
    assert runner.remove_leftovers(book) == [live.name] and live not in list(runs.iterdir())


def test_a_book_folder_that_cannot_be_written_is_refused(book, monkeypatch, capsys):
    def refuse(book):
        raise PermissionError(errno.EACCES, "Permission denied", str(book / "runs"))

    monkeypatch.setattr(runner, "lock_book", refuse)
    assert main(["run", "--book", str(book), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot write into the book folder" in err and "(Permission denied); give a folder you can write to" in err
