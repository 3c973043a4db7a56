"""The runner: matrix expansion, content-hash caching, failure isolation (papermill replaced by
fakes, so no notebook executes here; ``--workers 1`` keeps the runs in this process, where the fakes
apply)."""

import json
import shutil
from pathlib import Path

import pytest

from analysis_lib.runner import cli as runner

ROOT = Path(__file__).resolve().parent.parent.parent


def write(tmp_path, entries):
    path = tmp_path / "runs.yaml"
    path.write_text(json.dumps({"runs": entries}))
    return path


def test_matrix_expands_into_runs(tmp_path):
    path = write(tmp_path, [{"id": "alp", "notebook": "belle2_alp_3gamma.ipynb", "title": "ALP {dataset}, seed {seed}",
                             "parameters": {"mass_min_gev": 1.0},
                             "matrix": {"dataset": ["belle2_2018", "belle2_50ab"], "seed": [1, 2]}}])
    runs = runner.load_runs(path)
    assert [r.id for r in runs] == ["alp_belle2_2018_1", "alp_belle2_2018_2", "alp_belle2_50ab_1",
                                    "alp_belle2_50ab_2"]
    assert runs[3].title == "ALP belle2_50ab, seed 2"
    assert all(r.parameters["mass_min_gev"] == 1.0 for r in runs)
    bad = write(tmp_path, [{"id": "alp", "notebook": "belle2_alp_3gamma.ipynb", "matrix": {"seed": [1, -1]}}])
    with pytest.raises(runner.ParameterError, match="alp_-1"):
        runner.load_runs(bad)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A copy of the notebooks, so that touching one does not touch the project; the runs of these
    tests read no samples (their notebooks are faked), so the simulation stage has nothing to make."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    monkeypatch.setattr(runner, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(runner, "sample_requests", lambda runs, client=None: ({}, {run.id: [] for run in runs}))
    return tmp_path


def fake_papermill(monkeypatch, fail_ids=()):
    import papermill

    calls = []

    def execute_notebook(source, output, parameters, cwd, **kwargs):
        calls.append(Path(cwd).name)
        if any(run_id in cwd for run_id in fail_ids):
            raise RuntimeError("kernel died")
        shutil.copy(source, output)

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    return calls


def test_runs_execute_again_only_when_their_inputs_change(sandbox, monkeypatch):
    book = sandbox / "book"
    book.mkdir()
    path = write(book, [{"id": "a", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {"seed": 1}},
                        {"id": "b", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {"seed": 2}}])
    calls = fake_papermill(monkeypatch)
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 0
    assert len(calls) == 2
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 0
    assert len(calls) == 2  # nothing changed: both cached
    path.write_text(path.read_text().replace('"seed": 2', '"seed": 3'))
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 0
    assert calls[-1].startswith(".b.") and len(calls) == 3  # a parameter changed: that run only
    notebook = runner.NOTEBOOKS / "belle2_alp_3gamma.ipynb"
    notebook.write_text(notebook.read_text() + " ")
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 0
    assert len(calls) == 5  # the notebook changed: both
    assert runner.main(["run", "--book", str(book), "--workers", "1", "--force", "--only", "a"]) == 0
    assert len(calls) == 6


def test_a_failing_run_is_isolated_and_reported(sandbox, monkeypatch, capsys):
    book = sandbox / "book"
    book.mkdir()
    write(book, [{"id": "good", "notebook": "belle2_alp_3gamma.ipynb"},
                 {"id": "bad", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {"seed": 5}}])
    fake_papermill(monkeypatch, fail_ids=("bad",))
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 1
    out = capsys.readouterr().out
    assert "good" in out and "failed" in out
    status = json.loads((book / "runs" / "bad" / "status.json").read_text())
    assert status["status"] == "failed" and "kernel died" in status["error"]
    assert (book / "runs" / "bad" / "error.md").exists()
    assert (book / "runs" / "good" / "belle2_alp_3gamma.ipynb").exists()
    assert not list((book / "runs").glob(".*partial"))
    runs = runner.load_runs(book / "runs.yaml")
    runner.write_toc(runs, book)
    toc = (book / "_toc.yml").read_text()
    assert "runs/bad/error" in toc and "runs/good/belle2_alp_3gamma" in toc
    # a failed run is not current: the next invocation tries it again, and only it
    calls = fake_papermill(monkeypatch)
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 0
    assert len(calls) == 1 and calls[0].startswith(".bad.") and calls[0].endswith(".partial")


def test_a_kernel_that_dies_at_start_up_is_started_again(sandbox, monkeypatch):
    """Regression: a kernel died when another process had taken its port ("Address already in use",
    then "Kernel died before replying to kernel_info"); the run is started again, and a kernel that
    keeps dying fails the run after the last attempt."""
    import papermill

    monkeypatch.setattr(runner.time, "sleep", lambda seconds: None)
    book = sandbox / "book"
    book.mkdir()
    write(book, [{"id": "once", "notebook": "belle2_alp_3gamma.ipynb"}])
    attempts = []

    def execute_notebook(source, output, parameters, cwd, **kwargs):
        attempts.append(cwd)
        if len(attempts) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        shutil.copy(source, output)

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 0
    assert len(attempts) == 2
    assert json.loads((book / "runs" / "once" / "status.json").read_text())["status"] == "ok"

    def always_dies(source, output, parameters, cwd, **kwargs):
        attempts.append(cwd)
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", always_dies)
    assert runner.main(["run", "--book", str(book), "--workers", "1", "--force"]) == 1
    assert len(attempts) == 2 + runner.KERNEL_START_ATTEMPTS


def test_a_cluster_without_notebook_workers_is_refused(sandbox, monkeypatch, capsys):
    # runs need workers that offer the 'notebook' resource (one notebook at a time per worker);
    # without them the command stops with the fix instead of waiting forever
    from dask.distributed import LocalCluster

    book = sandbox / "book"
    book.mkdir()
    write(book, [{"id": "a", "notebook": "belle2_alp_3gamma.ipynb"}])
    calls = fake_papermill(monkeypatch)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        assert runner.main(["run", "--book", str(book), "--scheduler", cluster.scheduler_address]) == 2
    err = capsys.readouterr().err
    assert "--resources notebook=1" in err and cluster.scheduler_address in err
    assert calls == [] and not (book / "runs" / "a").exists()


def test_an_unreachable_scheduler_is_reported():
    from analysis_lib.analysis.scan import connect

    assert connect("") is None
    with pytest.raises(runner.AnalysisError, match="no dask scheduler answers at 'tcp://127.0.0.1:9'"):
        connect("tcp://127.0.0.1:9", timeout_s=1)


def test_the_simulation_stage_makes_each_sample_once(tmp_path):
    # two runs of one experiment at two luminosities read the same samples: one request each; the
    # small dataset also reads the pseudo-data pools
    runs = runner.load_runs(write(tmp_path, [
        {"id": "small", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {"dataset": "belle2_2018"}},
        {"id": "large", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {"dataset": "belle2_50ab"}},
    ]))
    samples, needs = runner.sample_requests(runs)
    assert set(needs["large"]) < set(needs["small"]) == set(samples)
    assert sum(r.pool for r in samples.values()) == len(set(needs["small"]) - set(needs["large"])) == 6


def test_a_failing_sample_fails_the_runs_that_read_it(sandbox, monkeypatch):
    from analysis_lib.simulation import production

    book = sandbox / "book"
    book.mkdir()
    write(book, [{"id": "reads", "notebook": "belle2_alp_3gamma.ipynb"},
                 {"id": "other", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {"seed": 4}}])

    class Request:
        key, label = "k1", "belle2/broken"

        def done(self):
            return False

    monkeypatch.setattr(runner, "sample_requests",
                        lambda runs, client=None: ({"k1": Request()}, {"reads": ["k1"], "other": []}))

    def broken(request):
        raise RuntimeError("generator exploded")

    monkeypatch.setattr(production, "make", broken)
    fake_papermill(monkeypatch)
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 1
    # never executed: its page says why, and the next invocation tries it again
    status = json.loads((book / "runs" / "reads" / "status.json").read_text())
    assert status["status"] == "failed" and "belle2/broken" in status["error"] and "generator exploded" in status["error"]
    assert "generator exploded" in (book / "runs" / "reads" / "error.md").read_text()
    assert not list((book / "runs").glob(".*partial"))
    other = json.loads((book / "runs" / "other" / "status.json").read_text())
    assert other["status"] == "ok"
    profile = json.loads((book / "runs" / "profile.json").read_text())
    assert profile["runs"]["reads"]["status"] == "failed"


def test_a_run_whose_samples_cannot_be_declared_fails_alone(sandbox, monkeypatch):
    from analysis_lib.channels import channel

    book = sandbox / "book"
    book.mkdir()
    write(book, [{"id": "broken", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {"seed": 4}},
                 {"id": "fine", "notebook": "belle2_alp_3gamma.ipynb"}])
    monkeypatch.undo()  # the real simulation stage, with a declaration that fails for seed 4
    notebooks = sandbox / "notebooks"
    monkeypatch.setattr(runner, "NOTEBOOKS", notebooks)
    alp = type(channel("belle2_alp_3gamma"))

    def declare(self, params):
        if params["seed"] == 4:
            raise RuntimeError("no cross section")
        return []

    monkeypatch.setattr(alp, "sample_requests", declare)
    fake_papermill(monkeypatch)
    assert runner.main(["run", "--book", str(book), "--workers", "1"]) == 1
    status = json.loads((book / "runs" / "broken" / "status.json").read_text())
    assert status["status"] == "failed" and "no cross section" in status["error"]
    assert json.loads((book / "runs" / "fine" / "status.json").read_text())["status"] == "ok"


def test_runs_sharing_a_notebook_and_dataset_start_after_every_groups_first(tmp_path):
    path = write(tmp_path, [
        {"id": "lifetimes", "notebook": "babar_b_to_k_alp.ipynb", "title": "t", "parameters": {"dataset": "babar_4s"},
         "matrix": {"ctau_mm": [0.0, 1.0, 10.0]}},
        {"id": "belle", "notebook": "babar_b_to_k_alp.ipynb", "title": "t", "parameters": {"dataset": "belle_4s"}},
        {"id": "alp", "notebook": "belle2_alp_3gamma.ipynb", "title": "t", "parameters": {"dataset": "belle2_2018"}},
    ])
    order = runner.run_order(runner.load_runs(path))
    assert order == {"lifetimes_0p0": 0, "lifetimes_1p0": 1, "lifetimes_10p0": 2, "belle": 0, "alp": 0}


def test_kernel_start_failures_are_told_from_run_failures():
    assert runner._kernel_did_not_start(RuntimeError("Kernel didn't respond in 60 seconds"))
    assert runner._kernel_did_not_start(RuntimeError("Kernel died before replying to kernel_info"))
    assert not runner._kernel_did_not_start(RuntimeError("division by zero"))


def test_worker_environment_shares_the_cores_and_keeps_the_users_values(monkeypatch):
    from analysis_lib.runner.cli import MALLOC_ENVIRONMENT, THREAD_VARIABLES, worker_environment

    for name in (*THREAD_VARIABLES, *MALLOC_ENVIRONMENT):
        monkeypatch.delenv(name, raising=False)
    two = worker_environment(2, cores=2)
    assert {two[name] for name in THREAD_VARIABLES} == {"1"}
    assert {name: two[name] for name in MALLOC_ENVIRONMENT} == MALLOC_ENVIRONMENT
    assert worker_environment(1, cores=4)["OPENBLAS_NUM_THREADS"] == "4"
    assert worker_environment(8, cores=2)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert worker_environment(2, cores=2)["OMP_NUM_THREADS"] == "3"


def test_release_memory_hands_freed_blocks_back():
    # with malloc keeping freed blocks (the workers' environment), a process that freed 400 MB still
    # holds them until release_memory returns them to the system
    import subprocess
    import sys

    code = ("import numpy as np, psutil\n"
            "from analysis_lib.core.memory import release_memory\n"
            "a = [np.ones(5_000_000) for _ in range(10)]\n"
            "del a\n"
            "held = psutil.Process().memory_info().rss\n"
            "assert release_memory()\n"
            "print(held - psutil.Process().memory_info().rss)\n")
    env = {**__import__("os").environ, "MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**30)}
    freed = int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                               check=True).stdout)
    assert freed > 300e6


def test_the_samples_of_a_shared_generation_follow_the_first(tmp_path, monkeypatch):
    """The simulation stage gives the second sample of a generation the first's task to wait for: it
    finds its file made, simulating nothing."""
    from dataclasses import replace

    from analysis_lib.channels import belle2_alp_3gamma as alp
    from analysis_lib.detector.datasets import dataset
    from analysis_lib.simulation.production import ProductionConfig, requests

    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path))
    ds = dataset("belle2_2018")
    eta = replace(next(s for s in alp.sample_specs(ds, n_signal_events=1000) if s.name == "bkg_gamma_eta"),
                  n_events=3000, chunk=1500)
    pair = [replace(eta, name=f"eta_{b}", photon_branch=(b, 0.1), generation="eta") for b in ("seen", "missed")]
    samples = {r.key: r for r in requests(pair, ds, seed=4, config=ProductionConfig(skim=alp.skim))}
    samples["other"] = type("Plain", (), {"group": None})()  # a sample of no generation
    plan = runner.sample_plan(samples)
    assert [leader is None for _, _, leader in plan] == [True, True, False]  # the follower last
    (first_key, first, _), (follower_key, follower, leader) = [p for p in plan if p[0] != "other"]
    assert leader == first_key == min(k for k in samples if k != "other")
    made = runner.make_sample(first)
    followed = runner.make_sample(follower, after=[made])
    assert made["simulated"] and not followed["simulated"]
