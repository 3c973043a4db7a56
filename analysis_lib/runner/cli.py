"""Runs of the book: validate, execute with papermill, and render with jupyter-book.

``book/runs.yaml`` lists the runs, each a notebook with parameters::

    runs:
      - id: belle2_alp_3gamma_belle2_2018
        notebook: belle2_alp_3gamma.ipynb
        title: "e+e- -> gamma a: Belle II 2018, 445 pb^-1"
        parameters: {dataset: belle2_2018}

Every run's parameters are checked against its channel's declaration before anything executes.
A run executes in a temporary folder ``book/runs/.<id>.<attempt>.partial`` that replaces
``book/runs/<id>`` only when the run has finished (successfully or not), so an interrupted command
or a killed worker leaves no half-written results. A failed run keeps its notebook (with the error)
as its page, and the command exits non-zero after all runs with a summary table.

On a dask cluster every worker executes one notebook at a time (the worker resource
``notebook``), and while its notebook executes, the worker's thread is free for other tasks: the
notebook can receive the scheduler's address as its ``scheduler`` parameter and spread its mass scan
over the same workers. ``--scans auto`` (the default) does that when there are fewer runs than
workers, so that the workers the runs leave idle help with the scans; when the runs alone fill the
cluster, spreading the scans too only adds traffic (measured: 4 runs on 2 workers took 68 s with
the scans on the cluster, 58 s without). ``--scans cluster`` and ``--scans kernel`` force either. A run whose worker dies is executed again on another worker (once; a second
death fails that run only).

Command line (``dsbook`` or ``python -m analysis_lib.runner``)::

    dsbook validate            check runs.yaml
    dsbook run [--only ID]     execute runs whose inputs changed (--force: all), in parallel on a
                               local dask cluster (--workers N) or an existing one (--scheduler ADDRESS)
    dsbook render              write the table of contents and build the HTML
    dsbook build               all three

A run executes again only when something it depends on changed (:func:`run_key`: its notebook,
parameters, the ``analysis_lib`` code, the published curves, the dataset registry and any real
ntuples, by content hash). An entry with ``matrix: {name: [values...]}`` expands into one run per
combination of values.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.scan import connect
from ..channels import notebook_declaration
from ..core.errors import AnalysisError, DiskFullError, ParameterError, disk_full
from ..core.memory import release_memory
from ..core.parameters import EXECUTION_PARAMETERS
from ..core.paths import written_atomically
from ..core.yaml_files import read_yaml
from .notebook import PROFILE
from .pages import RESERVED_IDS, chosen_parameters, finish_page, write_toc

__all__ = ["Run", "load_runs", "main"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"
#: The dask worker resource a run holds while its notebook executes: one notebook per worker.
RESOURCE = "notebook"
#: How often a run may lose its worker before it counts as failed (local cluster).
ALLOWED_WORKER_DEATHS = 1

#: The environment of the processes that simulate and execute (workers, kernels), where not set by
#: the user: one BLAS thread per process when several run at once (two kernels with a thread per core
#: each compete for the cores), and glibc's malloc keeping freed blocks up to 1 GiB instead of
#: returning every large array to the system at once (numpy's large temporaries were mapped and
#: unmapped at every step: a third of the book's CPU time was the kernel's page faults; the B -> K a
#: candidate table of Belle II's K+ pi0 sample 88 -> 69 s, same peak memory). Other C libraries
#: ignore the MALLOC_ variables.
MALLOC_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**30),
                      "MALLOC_TOP_PAD_": str(2**28)}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def worker_environment(workers: int, cores: int | None = None) -> dict:
    """The variables :data:`MALLOC_ENVIRONMENT` and the BLAS threads of each of ``workers`` processes
    (the cores shared among them, at least one); the values the environment already has win."""
    cores = (os.cpu_count() or 1) if cores is None else cores
    threads = str(max(1, cores // max(1, workers)))
    wanted = {**MALLOC_ENVIRONMENT, **dict.fromkeys(THREAD_VARIABLES, threads)}
    return {name: os.environ.get(name, value) for name, value in wanted.items()}


@dataclass(frozen=True)
class Run:
    """One run: a notebook with validated parameters."""

    id: str
    notebook: str
    title: str
    parameters: dict = field(default_factory=dict)
    book_dir: Path = BOOK
    notebooks: Path = NOTEBOOKS

    @property
    def source(self) -> Path:
        """The notebook to execute."""
        return self.notebooks / self.notebook

    @property
    def folder(self) -> Path:
        """Where the run's executed notebook and results go: ``<book>/runs/<id>``."""
        return self.book_dir / "runs" / self.id


def load_runs(path: Path = BOOK / "runs.yaml", *, book_dir: Path | None = None) -> list[Run]:
    """Read and validate the runs file; :class:`ParameterError` names the file, the run, the value
    and the fix.

    Everything a run reads is checked before anything executes: the file's syntax and shape, each
    run's keys, its notebook (a file of the project's ``notebooks`` folder, named without a folder),
    its parameters against the channel's declaration, and its dataset (a registry that passes its
    schema; real ntuples present, with known logical branch names). The runs' results go below
    ``book_dir``, the folder of the runs file by default.
    """
    path = Path(path)
    book_dir = Path(book_dir) if book_dir is not None else path.parent
    if not path.is_file():
        raise ParameterError(f"runs file {str(path)!r} does not exist; give an existing file with --runs, or a book "
                             "folder holding runs.yaml with --book")
    raw = read_yaml(path, "runs file", "check its permissions, or give another file with --runs")
    if not isinstance(raw, dict) or set(raw) != {"runs"}:
        found = sorted(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__
        raise ParameterError(f"{path.name}: the top level must be a mapping with one key, 'runs:', holding the list of "
                             f"runs (found {found}); see book/runs.yaml")
    entries = raw["runs"]
    if not isinstance(entries, list) or not entries:
        raise ParameterError(f"{path.name}: expected a non-empty list under 'runs:', found {entries!r}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ParameterError(f"{path.name}, run {i + 1}: {entry!r} is not a mapping; a run gives id, notebook, "
                                 "title and parameters (and optionally matrix)")
    runs, seen = [], set()
    for i, entry in enumerate(_expand(entries, path.name)):
        where = f"{path.name}, run {i + 1}"
        unknown = set(entry) - {"id", "notebook", "title", "parameters"}
        if unknown:
            raise ParameterError(f"{where}: unknown key(s) {sorted(unknown)}; use id, notebook, title, parameters, matrix")
        run_id = entry.get("id")
        if not isinstance(run_id, str) or not run_id.replace("_", "").replace("-", "").isalnum():
            raise ParameterError(f"{where}: id {run_id!r} must be a string of letters, digits, '_' and '-'")
        if run_id in seen:
            raise ParameterError(f"{where}: id {run_id!r} is used twice; run ids must be unique")
        if run_id in RESERVED_IDS:
            raise ParameterError(f"{where}: id {run_id!r} names a folder of the book's own pages "
                                 f"(runs/{run_id}); choose another id")
        seen.add(run_id)
        where = f"{path.name}, run {run_id!r}"
        notebook = _notebook_name(entry.get("notebook"), where)
        title = entry.get("title", run_id)
        if not isinstance(title, str) or not title.strip():
            raise ParameterError(f"{where}: title {title!r} must be a line of text")
        values = entry.get("parameters") or {}
        if not isinstance(values, dict):
            raise ParameterError(f"{where}: parameters {values!r} must be a mapping of names to values")
        search = notebook_declaration(notebook)
        for p in EXECUTION_PARAMETERS:
            if p.name in values:
                raise ParameterError(f"{where}: parameter {p.name!r} is set by the runner for each execution "
                                     f"({p.doc}); remove it from {path.name}"
                                     + ("; give a cluster with --scheduler ADDRESS" if p.name == "scheduler" else ""))
        params = search.validate(values, context=where)
        if "dataset" in params:
            _check_dataset(search, params, where)
        runs.append(Run(id=run_id, notebook=notebook, title=title, parameters=params, book_dir=book_dir,
                        notebooks=NOTEBOOKS))
    return runs


def _notebook_name(notebook, where) -> str:
    """A run's notebook: the name of a file in the project's ``notebooks`` folder (never a path: the
    executed copy is written under the same name into the run's folder)."""
    known = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    if not isinstance(notebook, str) or not notebook:
        raise ParameterError(f"{where}: notebook {notebook!r} must name a notebook of notebooks/: one of {known}")
    if Path(notebook).name != notebook or notebook in (".", ".."):
        raise ParameterError(f"{where}: notebook {notebook!r} must be a file name in the project's notebooks/ folder, "
                             f"without a folder (one of {known}); write {Path(notebook).name!r}")
    if not (NOTEBOOKS / notebook).is_file():
        raise ParameterError(f"{where}: notebook {notebook!r} not found in notebooks/; known notebooks: {known}")
    return notebook


def _check_dataset(search, params, where):
    """A run's dataset before it executes: its real ntuples present (folder, data.root and the
    channel's sample files) and its branch mapping naming known logical branches."""
    from ..detector.datasets import dataset
    from ..io.ntuple import DEFAULT_BRANCHES

    ds = dataset(params["dataset"])

    def names(part):  # the channel's samples of a dataset (each part of a combination on its own)
        try:
            return [spec.name for spec in search.samples({**params, "dataset": part.name})]
        except AnalysisError:
            return []

    try:
        for part in ds.parts:
            unknown = sorted(set(part.branches) - set(DEFAULT_BRANCHES))
            if unknown:
                raise ParameterError(f"dataset {part.name!r}: branches maps unknown logical name(s) {unknown}; the "
                                     f"logical names are {sorted(DEFAULT_BRANCHES)}")
        ds.check_ntuples(names)
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None


def _expand(entries, filename):
    """Entries with a ``matrix`` (parameter name -> list of values) become one run per combination:
    id ``<id>_<value>_...``, parameters merged, the title formatted with the values."""
    out = []
    for entry in entries:
        matrix = entry.get("matrix")
        if matrix is None:
            out.append(entry)
            continue
        if not isinstance(matrix, dict) or not all(isinstance(v, list) and v for v in matrix.values()):
            raise ParameterError(f"{filename}: run {entry.get('id')!r}: matrix = {matrix!r} must map parameter names to "
                                 "non-empty lists of values, e.g. {seed: [1, 2]}")
        if not isinstance(entry.get("parameters") or {}, dict):
            raise ParameterError(f"{filename}: run {entry.get('id')!r}: parameters {entry['parameters']!r} must be a "
                                 "mapping of names to values")
        names = list(matrix)
        for values in itertools.product(*(matrix[n] for n in names)):
            combination = dict(zip(names, values))
            suffix = "_".join(re.sub(r"[^A-Za-z0-9_-]+", "-", str(v).replace(".", "p")) for v in values)
            expanded = {k: v for k, v in entry.items() if k != "matrix"}
            expanded["id"] = f"{entry.get('id')}_{suffix}"
            expanded["parameters"] = {**(entry.get("parameters") or {}), **combination}
            title = str(entry.get("title", expanded["id"]))
            try:
                expanded["title"] = title.format(**combination)
            except (KeyError, IndexError, ValueError) as exc:
                raise ParameterError(f"{filename}: run {entry.get('id')!r}: title {title!r} cannot be formatted with "
                                     f"the matrix {sorted(names)} ({type(exc).__name__}: {exc}); name only matrix "
                                     "parameters in braces, and double literal braces ({{ }})") from None
            out.append(expanded)
    return out


def _hash_files(digest, paths):
    for path in paths:
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())


def run_key(run: Run) -> str:
    """What a run's results depend on, as a content hash: its notebook, its parameters, the
    ``analysis_lib`` code, the published curves and dataset registry, and the real ntuples it
    reads (simulated ntuples follow from the code and the parameters). Modification times play no
    part."""
    digest = hashlib.sha256()
    _hash_files(digest, [run.source])
    digest.update(json.dumps(run.parameters, sort_keys=True).encode())
    package = ROOT / "analysis_lib"
    _hash_files(digest, sorted(package.rglob("*.py")))
    from ..detector.datasets import dataset, registry_path

    _hash_files(digest, sorted((ROOT / "data" / "published").glob("*")) + [registry_path()])
    name = run.parameters.get("dataset")
    if name is not None:
        for part in dataset(name).parts:  # a combination's real ntuples are its parts'
            if not part.simulated and part.ntuple_dir(0).is_dir():
                _hash_files(digest, sorted(p for p in part.ntuple_dir(0).rglob("*") if p.is_file()))
    return digest.hexdigest()


def _record(run: Run) -> dict | None:
    status = run.folder / "status.json"
    return json.loads(status.read_text()) if status.exists() else None


def is_current(run: Run) -> bool:
    """True when the run has finished successfully with the inputs it would have now."""
    record = _record(run)
    return record is not None and record.get("status") == "ok" and record.get("key") == run_key(run)


def _leave_thread_pool():
    """On a dask worker, give this task's thread back to the worker while the notebook executes, so
    that the notebook's own scan tasks can run there (the ``notebook`` resource, held until the
    task ends, keeps a second run off this worker)."""
    try:
        from dask.distributed import get_worker, secede

        get_worker()
    except (ImportError, ValueError):  # not on a worker
        return
    secede()


def _requests_of(run: Run):
    """The samples one run reads (its channel's declaration; none for a study), or the error of
    declaring them."""
    try:
        return notebook_declaration(run.notebook).sample_requests(run.parameters)
    except Exception as exc:  # this run fails, the others go on
        return f"declaring its samples: {type(exc).__name__}: {exc}"


def sample_requests(runs, client=None) -> tuple[dict, dict]:
    """The simulation stage of ``runs``: ({sample key: SampleRequest}, {run id: [sample keys]}).
    Every sample appears once however many runs read it (the channel contract's
    :meth:`~analysis_lib.channels.base.Channel.sample_requests`). Declaring the samples needs their
    cross sections (integration grids, computed once and kept on disk); with a dask ``client`` the
    runs declare theirs on the workers, in parallel. A run whose declaration fails gets the error
    message in place of its list of keys."""
    if client is not None:
        declared = client.gather(client.map(_requests_of, runs, pure=False))
    else:
        declared = [_requests_of(run) for run in runs]
    samples, needs = {}, {}
    for run, wanted in zip(runs, declared):
        if isinstance(wanted, str):
            needs[run.id] = wanted
            continue
        needs[run.id] = [r.key for r in wanted]
        for request in wanted:
            samples.setdefault(request.key, request)
    return samples, needs


def make_sample(request, after=()) -> dict:
    """Make (or find) one sample of the simulation stage; returns {"sample", "seconds",
    "simulated"} for the profile. The worker then hands its freed memory back to the system
    (:func:`release_memory`): it keeps freed blocks while it simulates (:data:`MALLOC_ENVIRONMENT`),
    not while a kernel it started runs a notebook. ``after`` holds the results of the tasks it waited
    for (the sample that made its shared generation), unused."""
    from ..simulation.production import make

    done = request.done()
    start = time.perf_counter()
    try:
        make(request)
    finally:
        release_memory()
    return {"sample": request.label, "seconds": round(time.perf_counter() - start, 1), "simulated": not done}


def execute(run: Run, *, scheduler: str = "", invocation: str = "", after=()) -> dict:
    """Execute one run with papermill into its folder; returns its status record.

    ``scheduler`` is passed to the notebook for its scan. ``invocation`` names the command that
    asked: when dask executes a run again within one invocation (it recomputes a finished task whose
    worker died before the result was collected), the finished run is returned as it is. ``after``
    holds the results of the tasks the run waited for (its samples), unused.
    """
    done = _record(run)
    if invocation and done is not None and done.get("invocation") == invocation:
        return done
    _leave_thread_pool()
    partial = run.folder.with_name(f".{run.id}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with _attempt_lock(partial):  # taken before the folder exists: no sweep takes it for a leftover
            partial.mkdir(parents=True)
            return _execute_attempt(run, partial, scheduler, invocation)
    except OSError as exc:
        if not disk_full(exc):
            raise
        return _lost_to_a_full_disk(run, partial, 0.0, exc)


@contextmanager
def _attempt_lock(partial: Path):
    """Hold the lock of an attempt (``<attempt>.lock`` beside its folder) while it executes: an
    attempt whose task still runs (on the workers of an external cluster, after its invocation
    ended) is live, and :func:`remove_leftovers` leaves it alone."""
    path = partial.with_name(partial.name + ".lock")
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def _attempt_is_live(partial: Path) -> bool:
    """True when the attempt's lock (:func:`_attempt_lock`) is held by a process that executes it."""
    path = partial.with_name(partial.name + ".lock")
    if not path.exists():
        return False
    try:
        handle = open(path, "a")  # opened for writing: NFS emulates flock with fcntl locks, which need it
    except OSError:
        return True  # a lock that cannot be examined is taken for a live one: nothing is deleted
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held (BlockingIOError), or not to be examined here
            return True
        return False


def live_attempts(book: Path) -> dict[str, str]:
    """{run id: attempt folder} of the attempts in ``<book>/runs`` that still execute (an external
    cluster's worker of an ended invocation holds their lock)."""
    return {folder.name[1:].split(".")[0]: folder.name for folder in sorted((book / "runs").glob(".*.partial"))
            if _attempt_is_live(folder)}


def _execute_attempt(run: Run, partial: Path, scheduler: str, invocation: str) -> dict:
    """:func:`execute` in the attempt folder ``partial``, under the attempt's lock."""
    import papermill

    output = partial / run.notebook
    parameters = {**run.parameters, "output_dir": ".", "scheduler": scheduler}
    key = run_key(run)
    start = time.perf_counter()
    status, error, last = "ok", None, None
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        if _INTERRUPTED.is_set():
            shutil.rmtree(partial, ignore_errors=True)
            raise KeyboardInterrupt
        try:
            papermill.execute_notebook(
                run.source, output, parameters=parameters, kernel_name=KERNEL, cwd=str(partial),
                progress_bar=False, log_output=False,
            )
        except papermill.PapermillExecutionError as exc:
            status, error, last = "failed", f"{exc.ename}: {exc.evalue} (in cell {exc.exec_count})", exc
        except Exception as exc:  # the kernel died, the notebook could not be started or written
            if _kernel_did_not_start(exc) and attempt < KERNEL_START_ATTEMPTS:
                log.warning("run %s: the kernel did not start (%s); starting it again", run.id, exc)
                time.sleep(attempt)
                continue
            status, error, last = "failed", f"{type(exc).__name__}: {exc}", exc
        break
    if _INTERRUPTED.is_set():  # an interrupt that a library turned into an error: not the run's fault
        shutil.rmtree(partial, ignore_errors=True)
        raise KeyboardInterrupt
    seconds = time.perf_counter() - start
    # a full disk: said by the error, or (where a library turned the failed write into an error of
    # its own, not the notebook's) by the disk
    if error is not None and (disk_full(last) or (not isinstance(last, papermill.PapermillExecutionError)
                                                  and _disk_nearly_full(partial))):
        return _lost_to_a_full_disk(run, partial, seconds, last)
    record = {"id": run.id, "status": status, "seconds": round(seconds, 1), "error": error, "key": key,
              "invocation": invocation}
    try:
        if output.exists():
            finish_page(output, run.title, chosen_parameters(run))
        else:  # nothing executed: an error page takes the notebook's place in the book
            (partial / "error.md").write_text(f"# {run.title}\n\nThis run failed before its notebook ran:\n\n"
                                              f"```text\n{error}\n```\n")
        record["profile"] = _run_profile(partial)
        (partial / "status.json").write_text(json.dumps(record, indent=2))
    except Exception as exc:
        if disk_full(exc) or _disk_nearly_full(partial):
            return _lost_to_a_full_disk(run, partial, seconds, exc)
        raise
    _put_in_place(partial, run.folder)
    return record


def _put_in_place(partial: Path, folder: Path):
    """Replace a run's ``folder`` by its finished attempt ``partial``. The old folder is first renamed
    aside (``.<id>.<attempt>.old``) and removed last, so that at every moment one of them holds the
    run's results (:func:`remove_leftovers` puts back an old folder that a killed invocation left
    alone, and removes one that was replaced)."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old")
        folder.rename(old)
    partial.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


#: Free space below which a failed write is taken for a full disk (libraries that write the
#: notebook turn the ENOSPC into errors of their own, e.g. a notebook that is not JSON).
_NEARLY_FULL_BYTES = 1 << 20


def _disk_nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def _lost_to_a_full_disk(run: Run, partial: Path, seconds: float, exc=None) -> dict:
    """The record of a run whose files could not be written (a full disk): the attempt is removed,
    the run's earlier results stay as they were, and the record is not written (there is no room):
    the summary reports it, naming the file whose write failed where the error says."""
    shutil.rmtree(partial, ignore_errors=True)
    error = str(DiskFullError.of(exc, run.folder, "writing the run's results for"))
    log.error("run %s: %s", run.id, error)
    return {"id": run.id, "status": "failed", "seconds": round(seconds, 1), "error": error, "written": False}


#: Set when the command receives SIGINT: a run interrupted while its kernel starts must not be taken
#: for a kernel that failed to start and be started again (nor recorded as a failed run).
_INTERRUPTED = threading.Event()


def _interrupt(signum, frame):
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def _catch_interrupts():
    """Route SIGINT through :func:`_interrupt` (in the main thread; asyncio, under papermill, then
    leaves it alone and the KeyboardInterrupt reaches the runner)."""
    _INTERRUPTED.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupt)


def _run_profile(folder: Path) -> dict:
    """The seconds per stage the run's notebook wrote (``profile.json``), or {}."""
    path = folder / PROFILE
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        return {}


#: Attempts to start a run's kernel: a kernel can die at start-up when another process took the port
#: it was given (jupyter picks free ports before the kernel binds them), which is no fault of the run.
KERNEL_START_ATTEMPTS = 3


def _kernel_did_not_start(exc) -> bool:
    """True for the errors of a kernel that died or hung before running any cell (a port taken
    between jupyter choosing it and the kernel binding it: the kernel dies, or its atexit hangs
    and the client gives up waiting for it to be ready)."""
    text = str(exc)
    return any(sign in text for sign in ("before replying to kernel_info", "Address already in use",
                                         "Kernel didn't respond in"))


def _require_notebook_workers(client):
    """Refuse a cluster on which no worker offers the ``notebook`` resource (runs would wait forever)."""
    address = client.scheduler.address
    client.wait_for_workers(1, timeout=60)
    workers = client.scheduler_info()["workers"].values()
    if not any(w.get("resources", {}).get(RESOURCE) for w in workers):
        raise AnalysisError(
            f"no worker of the scheduler at {address} offers the resource {RESOURCE!r}, which a run holds while its "
            f"notebook executes; start workers with: dask worker {address} --resources {RESOURCE}=1"
        )


def run_order(runs) -> dict[str, int]:
    """The rank of each run among the runs of the same notebook and dataset (0 for the first in the
    runs file): the runner starts every group's first run before any group's second, so that runs
    sharing results (the candidate tables and coupling limit of the four B -> K a lifetimes) do not
    wait for each other on two workers while other runs could go."""
    seen: dict[tuple, int] = {}
    order = {}
    for run in runs:
        group = (run.notebook, str(run.parameters.get("dataset")))
        order[run.id] = seen.get(group, 0)
        seen[group] = order[run.id] + 1
    return order


def sample_plan(samples: dict) -> list:
    """The simulation stage's tasks in the order they are submitted: (key, request, the key of the
    sample whose task it waits for, or None). The samples of a shared generation follow the first of
    them (by key), whose task makes them all: they find their files rather than hold a worker on
    the generation's lock."""
    leaders = {}
    for key in sorted(samples):
        group = getattr(samples[key], "group", None)
        if group is not None:
            leaders.setdefault(group, key)
    plan = [(key, request, None if leaders.get(getattr(request, "group", None), key) == key
             else leaders[request.group]) for key, request in samples.items()]
    return sorted(plan, key=lambda item: item[2] is not None)


def execute_all(runs, *, workers=1, scheduler=None, scans="auto") -> dict:
    """Make the samples the runs read, then execute ``runs`` (in turn, or on a dask cluster: a local
    one of ``workers`` worker processes, or the one at ``scheduler``), with a progress bar per stage;
    returns ({run id: status record}, {sample: record of :func:`make_sample`}).

    The simulation stage: every sample is one task, made once however many runs read it (the
    samples of a shared generation are made by the first one's task; the others follow it); a run
    starts when its samples exist. Sample tasks and runs hold the worker resource ``notebook``,
    so that a worker does one of them at a time. The workers are processes, not threads:
    papermill changes the working directory of its process while it executes a notebook. A failing
    run (or a failing sample: the runs that read it fail with its error) does not stop the others.
    """
    from tqdm.auto import tqdm

    if not runs:
        return {}, {}
    # inherited by the worker processes and the kernels they start
    os.environ.update(worker_environment(workers if scheduler is None else 1))
    invocation = uuid.uuid4().hex
    records, made = {}, {}
    if workers <= 1 and scheduler is None:
        samples, needs = sample_requests(runs)
        sample_bar = tqdm(total=len(samples), desc="samples", unit="sample")
        run_bar = tqdm(total=len(runs), desc="runs", unit="run")
        failed = {}
        for key, request in samples.items():
            sample_bar.set_postfix_str(request.label)
            try:
                made[key] = make_sample(request)
            except Exception as exc:  # the runs that read it fail with its error
                failed[key] = f"sample {request.label}: {type(exc).__name__}: {exc}"
            sample_bar.update(1)
        for run in runs:
            run_bar.set_postfix_str(run.id)
            if isinstance(needs[run.id], str):
                records[run.id] = _failed(run, needs[run.id])
                run_bar.update(1)
                continue
            errors = [failed[k] for k in needs[run.id] if k in failed]
            try:
                records[run.id] = (_failed(run, errors[0]) if errors else execute(run, invocation=invocation))
            except Exception as exc:  # the runner's own failure for this run: the others go on
                records[run.id] = _failed(run, f"{type(exc).__name__}: {exc}")
            run_bar.update(1)
    else:
        import dask
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if scheduler is None:
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS}):
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, resources={RESOURCE: 1})
        try:
            with Client(cluster) if cluster is not None else connect(scheduler) as client:
                _require_notebook_workers(client)
                samples, needs = sample_requests(runs, client)
                sample_bar = tqdm(total=len(samples), desc="samples", unit="sample")
                run_bar = tqdm(total=len(runs), desc="runs", unit="run")
                n_workers = len(client.scheduler_info()["workers"])
                on_cluster = scans == "cluster" or (scans == "auto" and len(runs) < n_workers)
                address = client.scheduler.address if on_cluster else ""
                sample_futures = {}
                for key, request, leader in sample_plan(samples):
                    sample_futures[key] = client.submit(make_sample, request,
                                                        after=[sample_futures[leader]] if leader else [],
                                                        key=f"sample-{key}-{invocation[:8]}", pure=False,
                                                        resources={RESOURCE: 1}, priority=10)
                by_key = {}
                for run in runs:
                    if isinstance(needs[run.id], str):  # its samples could not be declared
                        records[run.id] = _failed(run, needs[run.id])
                        run_bar.update(1)
                        continue
                    by_key[f"run-{run.id}-{invocation[:8]}"] = run
                order = run_order(list(by_key.values()))
                run_futures = [
                    client.submit(execute, run, scheduler=address, invocation=invocation, key=key, pure=False,
                                  resources={RESOURCE: 1}, after=[sample_futures[k] for k in needs[run.id]],
                                  priority=-order[run.id])
                    for key, run in by_key.items()
                ]
                labels = {f.key: k for k, f in sample_futures.items()}
                # results are collected as they come and not held: a finished run is never recomputed
                for future in as_completed([*sample_futures.values(), *run_futures]):
                    if future.key in labels:
                        try:
                            made[labels[future.key]] = future.result()
                        except Exception:  # reported by the runs that read the sample
                            pass
                        sample_bar.update(1)
                        continue
                    run = by_key[future.key]
                    try:
                        records[run.id] = future.result()
                    except Exception as exc:  # a sample failed, or the worker died again
                        records[run.id] = _failed(run, f"{type(exc).__name__}: {exc}")
                    future.release()
                    run_bar.update(1)
                for future in sample_futures.values():
                    future.release()
        finally:
            if cluster is not None:
                cluster.close()
    sample_bar.close()
    run_bar.close()
    return records, made


def _failed(run: Run, error: str) -> dict:
    """The record of a run that could not execute (a sample failed, or its worker died twice),
    written as its folder (status and an error page) in place of any earlier one."""
    record = {"id": run.id, "status": "failed", "seconds": "", "error": error}
    if "No space left on device" in error:  # a sample could not be written: the earlier results stay
        return {**record, "written": False}
    partial = run.folder.with_name(f".{run.id}.{uuid.uuid4().hex[:8]}.partial")
    try:
        partial.mkdir(parents=True)
        (partial / "error.md").write_text(f"# {run.title}\n\nThis run failed before its notebook ran:\n\n"
                                          f"```text\n{error}\n```\n")
        (partial / "status.json").write_text(json.dumps(record, indent=2))
        _put_in_place(partial, run.folder)
    except OSError as exc:  # a full disk, or a folder that cannot be written: the record is reported only
        log.error("run %s: its failure could not be written into %s (%s)", run.id, run.folder, exc)
        shutil.rmtree(partial, ignore_errors=True)
        return {**record, "written": False}
    return record


def render(runs: list[Run], book_dir: Path = BOOK, *, strict: bool = True) -> int:
    """Build the HTML book into ``<book_dir>/_build/html``; returns the builder's exit code."""
    write_toc(runs, book_dir)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book_dir), "--builder", "html"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    return subprocess.call(cmd)


def _summary(records, runs) -> str:
    """The table of the runs' status and time, then, for each failed run, its error and where to
    read more (the executed notebook, with the failing cell, or the error page)."""
    width = max(len(r["id"]) for r in records)
    lines = [f"{'run':<{width}}  status  time [s]"]
    lines += [f"{r['id']:<{width}}  {r['status']:<6}  {r['seconds']:>8}" for r in records]
    folders = {run.id: run for run in runs}
    for record in records:
        if record["status"] != "failed":
            continue
        run = folders[record["id"]]
        page = run.folder / run.notebook if (run.folder / run.notebook).exists() else run.folder / "error.md"
        where = f" (see {page})" if page.exists() and record.get("written", True) else ""
        lines.append(f"{record['id']} failed: {record.get('error') or 'no error recorded'}{where}")
    return "\n".join(lines)


def lock_book(book: Path):
    """Hold the book folder for this invocation (a lock file ``<book>/runs/.lock``, released when
    the process ends, however it ends); a second invocation on the same folder is refused with a
    clear error naming the first, and never touches its work. Returns the open lock file, which
    the caller keeps open for as long as it writes into the book."""
    folder = book / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AnalysisError(f"the book folder {str(book)!r} is in use by another dsbook invocation ({holder}); wait "
                            "until it ends, or give this one another folder with --book") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    return handle


def remove_leftovers(book: Path) -> list[str]:
    """Remove the unfinished attempts (``.<id>.<attempt>.partial``) that killed invocations left in
    ``<book>/runs``; only while holding the book's lock (:func:`lock_book`). Returns their names."""
    runs = book / "runs"
    found = []
    for folder in sorted(runs.glob(".*.partial")):
        if _attempt_is_live(folder):  # its task still executes (an external cluster's worker)
            log.warning("attempt %s still executes on a worker of an earlier invocation: left in place", folder.name)
            continue
        shutil.rmtree(folder, ignore_errors=True)
        found.append(folder)
    for lock in runs.glob(".*.partial.lock"):  # of attempts that are gone
        if not lock.with_suffix("").exists():
            lock.unlink(missing_ok=True)
    for old in sorted(runs.glob(".*.*.old")):  # a swap cut short (:func:`_put_in_place`)
        run_folder = runs / old.name[1:].split(".")[0]
        if run_folder.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.rename(run_folder)
        found.append(old)
    for tmp in runs.glob(".*.tmp"):  # a file write cut short (:func:`_write_atomically`)
        tmp.unlink(missing_ok=True)
    return [f.name for f in found]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dsbook", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["validate", "run", "render", "build"])
    parser.add_argument("--book", type=Path, default=BOOK, help="book folder (default: book/)")
    parser.add_argument("--runs", type=Path, default=None, help="runs file (default: <book>/runs.yaml)")
    parser.add_argument("--only", action="append", help="execute only this run id (repeatable)")
    parser.add_argument("--no-strict", action="store_true", help="do not turn book warnings into errors")
    parser.add_argument("--force", action="store_true", help="execute runs even when their results are current")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="workers of the local dask cluster that executes the runs (default: one per core; "
                             "1 executes them in turn without a cluster)")
    parser.add_argument("--scheduler", default=None, help="address of an existing dask scheduler to execute runs on")
    parser.add_argument("--scans", choices=["auto", "cluster", "kernel"], default="auto",
                        help="where notebooks compute their mass scans: on the cluster, in their kernel, or (auto) on "
                             "the cluster when there are fewer runs than workers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)  # its connection chatter is not news
    try:
        if args.workers < 1:
            raise ParameterError(f"--workers {args.workers}: give at least 1 (1 executes the runs in turn)")
        runs_file = args.runs or args.book / "runs.yaml"
        runs = load_runs(runs_file, book_dir=args.book)
        if args.only:
            unknown = set(args.only) - {r.id for r in runs}
            if unknown:
                raise ParameterError(f"--only {sorted(unknown)}: no such run in {runs_file}; its runs are "
                                     f"{[r.id for r in runs]}")
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(runs)} run(s) valid")
    if args.command == "validate":
        return 0
    try:
        lock = lock_book(args.book)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        problem = (DiskFullError(args.book / "runs" / ".lock") if disk_full(exc) else
                   f"cannot write into the book folder {str(args.book)!r} ({exc.strerror or exc}); give a folder you "
                   "can write to with --book")
        print(f"error: {problem}", file=sys.stderr)
        return 2
    with lock:
        return _locked_main(args, runs, runs_file)


def _locked_main(args, runs, runs_file) -> int:
    """:func:`main` once it holds the book's lock."""
    left = remove_leftovers(args.book)
    if left:
        print(f"removed {len(left)} unfinished attempt(s) of an earlier invocation: {', '.join(left)}")
    code, profile = 0, {}
    if args.command in ("run", "build"):
        selected = [r for r in runs if not args.only or r.id in args.only]
        records, todo = {}, []
        live = live_attempts(args.book)
        for run in selected:
            if run.id in live:  # never two attempts of one run at once
                records[run.id] = {"id": run.id, "status": "failed", "seconds": "", "written": False,
                                   "error": f"its attempt {live[run.id]} of an earlier invocation still executes on a "
                                            "worker; wait until it ends (or stop that worker), then run again"}
            elif not args.force and is_current(run):
                print(f"{run.id} is up to date", flush=True)
                records[run.id] = {**json.loads((run.folder / "status.json").read_text()), "status": "cached"}
            else:
                todo.append(run)
        _catch_interrupts()
        try:
            executed, made = execute_all(todo, workers=args.workers, scheduler=args.scheduler, scans=args.scans)
            records.update(executed)
        except KeyboardInterrupt:
            # finished runs are already in place; unfinished ones leave nothing behind
            remove_leftovers(args.book)
            print("interrupted: finished runs are kept, the next invocation executes the rest", file=sys.stderr)
            return 130
        except AnalysisError as exc:
            remove_leftovers(args.book)
            print(f"error: {exc}", file=sys.stderr)
            return 2
        remove_leftovers(args.book)  # attempts whose worker died
        print(_summary([records[r.id] for r in selected], selected))
        simulated = [m for m in made.values() if m["simulated"]]
        print(f"simulation stage: {len(made)} sample(s), {len(simulated)} simulated in "
              f"{sum(m['seconds'] for m in simulated):.0f} s (summed over workers)")
        profile["samples"] = made
        profile["runs"] = {r.id: {**records[r.id].get("profile", {}), "total": records[r.id]["seconds"],
                                  "status": records[r.id]["status"]} for r in selected}
        if any(r["status"] == "failed" for r in records.values()):
            code = 1
            print(f"error: {sum(r['status'] == 'failed' for r in records.values())} run(s) failed (above); the "
                  "others are in place", file=sys.stderr)
    if args.command in ("render", "build"):
        start = time.perf_counter()
        try:
            built = render(runs, args.book, strict=not args.no_strict)
        except OSError as exc:
            if not disk_full(exc):
                raise
            print(f"error: {DiskFullError(args.book, 'rendering the book into')}", file=sys.stderr)
            return 2
        if built != 0 and _disk_nearly_full(args.book):
            print(f"error: {DiskFullError(args.book / '_build', 'rendering the book into')}", file=sys.stderr)
            return 2
        if built != 0:
            print("error: the book did not build (the builder's messages are above)", file=sys.stderr)
            code = code or 3
        profile["rendering"] = round(time.perf_counter() - start, 1)
    if profile:
        profile["command"] = args.command
        try:
            _write_atomically(args.book / "runs" / PROFILE, json.dumps(profile, indent=1, sort_keys=True))
        except OSError as exc:
            if not disk_full(exc):
                raise
            print(f"error: {DiskFullError(args.book / 'runs' / PROFILE)}", file=sys.stderr)
            code = code or 2
    return code


def _write_atomically(path: Path, text: str):
    """Write ``text`` to ``path`` whole or not at all (:func:`~analysis_lib.core.paths.written_atomically`)."""
    with written_atomically(path) as tmp:
        tmp.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
