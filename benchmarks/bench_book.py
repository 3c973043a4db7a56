"""Benchmark of the book: where the time of a full build goes, per stage and per run, and the
build's wall times and peak memory.

Works on temporary copies (book folder, notebooks, generated data, registry), never on the
project's own outputs. Cases:

* the whole book from clean (every run of ``book/runs.yaml``, simulation included), with the
  profile table: simulation by sample, then per run reading, classifier training, selection (the
  rest of the preparation), scan, plots, and the rest of the notebook; rendering;
* a rebuild with nothing changed;
* a new run at a new luminosity of an existing experiment (a dataset added to a copy of the
  registry): it must simulate nothing;
* the peak memory of the whole process tree during the full build (polled every 0.5 s).

Usage: python benchmarks/bench_book.py [--notebook NAME] [--workers N]
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

from analysis_lib.runner import cli as runner
from analysis_lib.runner.notebook import PROFILE
from analysis_lib.runner.pages import copy_book_files

ROOT = Path(__file__).resolve().parent.parent
#: The dataset the new-luminosity case adds to a copy of the registry: a luminosity no run of the
#: book uses.
NEW_DATASET = {"belle2_2ab": {
    "experiment": "belle2", "luminosity_fb": 2000.0, "luminosity_uncertainty_fb": 20.0,
    "description": "Belle II at 2 ab^-1 (benchmark: a dataset at a new luminosity)", "projection": True,
    "reference": None, "ntuples": "simulate"}}


class PeakMemory:
    """The largest summed resident memory of this process and its descendants while in use."""

    def __init__(self, every_s=0.5):
        self.every_s, self.peak, self._stop = every_s, 0, threading.Event()

    def _poll(self):
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def timed_main(args):
    start = time.perf_counter()
    code = runner.main(args)
    return time.perf_counter() - start, code


def make_book(folder, runs):
    copy_book_files(ROOT / "book", folder)
    (folder / "runs.yaml").write_text(json.dumps({"runs": runs}))
    return folder


def profile_table(profile) -> str:
    """The per-stage table of one invocation's ``runs/profile.json``."""
    lines = []
    samples = sorted(profile.get("samples", {}).values(), key=lambda m: -m["seconds"])
    simulated = [m for m in samples if m["simulated"]]
    lines.append(f"simulation stage: {len(samples)} samples, {len(simulated)} simulated, "
                 f"{sum(m['seconds'] for m in simulated):.0f} s summed over workers; the slowest:")
    lines += [f"  {m['sample']:<44} {m['seconds']:8.1f} s" for m in simulated[:12]]
    columns = ("simulation", "reading", "classifier", "selection", "scan", "plots", "other", "total")
    lines.append(f"{'run':<40}" + "".join(f"{c:>11}" for c in columns))
    sums = dict.fromkeys(columns, 0.0)
    for run_id, p in profile.get("runs", {}).items():
        total = float(p.get("total") or 0.0)
        row = {"simulation": p.get("simulation", 0.0), "reading": p.get("reading", 0.0),
               "classifier": p.get("classifier", 0.0), "scan": p.get("scan", 0.0), "plots": p.get("plots", 0.0),
               "total": total}
        row["selection"] = max(p.get("prepare", 0.0) - row["simulation"] - row["reading"] - row["classifier"], 0.0)
        row["other"] = max(total - p.get("prepare", 0.0) - row["scan"] - row["plots"], 0.0)
        for c in columns:
            sums[c] += row[c]
        lines.append(f"{run_id:<40}" + "".join(f"{row[c]:11.1f}" for c in columns))
    lines.append(f"{'all runs (summed over workers)':<40}" + "".join(f"{sums[c]:11.1f}" for c in columns))
    lines.append(f"rendering: {profile.get('rendering', float('nan')):.1f} s")
    return "\n".join(lines)


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", default=None, help="only the runs of this notebook (e.g. belle2_alp_3gamma.ipynb)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the build (2 by default)")
    args = parser.parse_args()
    workers = ["--workers", str(args.workers)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["DSBOOK_GENERATED_DIR"] = str(tmp / "generated")
        registry = tmp / "datasets.yaml"
        raw = yaml.safe_load((ROOT / "data" / "datasets.yaml").read_text())
        registry.write_text(yaml.safe_dump({**raw, **NEW_DATASET}, sort_keys=False))
        os.environ["DSBOOK_REGISTRY"] = str(registry)
        notebooks = tmp / "notebooks"
        shutil.copytree(ROOT / "notebooks", notebooks)
        runner.NOTEBOOKS = notebooks
        entries = yaml.safe_load((ROOT / "book" / "runs.yaml").read_text())["runs"]
        if args.notebook:
            entries = [e for e in entries if e["notebook"] == args.notebook]
        book = make_book(tmp / "book", entries)
        with PeakMemory() as memory:
            rows.append(("whole book from clean (simulation included)", *timed_main(["build", "--book", str(book), *workers])))
        full = json.loads((book / "runs" / PROFILE).read_text())
        rows.append(("rebuild, nothing changed", *timed_main(["build", "--book", str(book), *workers])))
        # a new luminosity of an existing experiment: the first Belle II run of the book at 2 ab^-1
        first = next((e for e in entries if "belle2" in json.dumps(e.get("parameters", {}))), None)
        new_simulated = None
        if first is not None:
            new = make_book(tmp / "book-new", [{
                "id": "new_luminosity", "notebook": first["notebook"], "title": "a new luminosity",
                "parameters": {**first.get("parameters", {}), "dataset": next(iter(NEW_DATASET))}}])
            rows.append(("new run at 2 ab^-1 (a dataset added to the registry)",
                         *timed_main(["run", "--book", str(new), *workers])))
            new_profile = json.loads((new / "runs" / PROFILE).read_text())
            new_simulated = sum(m["seconds"] for m in new_profile["samples"].values() if m["simulated"])
    print()
    print(profile_table(full))
    print()
    print(f"{'case':<56} {'wall time [s]':>14} {'exit':>5}")
    for name, seconds, code in rows:
        print(f"{name:<56} {seconds:14.1f} {code:>5}")
    print(f"peak memory of the whole build ({args.workers} workers): {memory.peak / 1e9:.2f} GB")
    if new_simulated is not None:
        print(f"simulation for the new luminosity: {new_simulated:.1f} s (0 expected)")


if __name__ == "__main__":
    main()
