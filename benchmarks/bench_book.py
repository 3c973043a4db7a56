"""Benchmark of the book runner: wall times of a full build from clean, of a rebuild with nothing
changed, after touching a notebook (its modification time only) and after editing it; and the
speed-up of two workers over one on CPU-bound runs.

Works on temporary copies (book folder, notebooks, simulated ntuples), never on the project's
own outputs. Usage: python benchmarks/bench_book.py [--notebook NAME]   (about fifteen minutes on two
cores for the Belle II runs alone; --notebook restricts the book to the runs of one notebook)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from analysis_lib.runner import cli as runner

ROOT = Path(__file__).resolve().parent.parent


def timed_main(args):
    start = time.perf_counter()
    code = runner.main(args)
    return time.perf_counter() - start, code


def make_book(folder, runs):
    folder.mkdir(parents=True)
    for name in ("_config.yml", "intro.md"):
        shutil.copy(ROOT / "book" / name, folder / name)
    (folder / "runs.yaml").write_text(json.dumps({"runs": runs}))
    return folder


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", default=None, help="only the runs of this notebook (e.g. belle2_alp_3gamma.ipynb)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["DSBOOK_GENERATED_DIR"] = str(tmp / "generated")
        notebooks = tmp / "notebooks"
        shutil.copytree(ROOT / "notebooks", notebooks)
        runner.NOTEBOOKS = notebooks
        entries = yaml.safe_load((ROOT / "book" / "runs.yaml").read_text())["runs"]
        if args.notebook:
            entries = [e for e in entries if e["notebook"] == args.notebook]
        book = make_book(tmp / "book", entries)
        rows.append(("full book from clean (simulation included)", *timed_main(["build", "--book", str(book)])))
        rows.append(("rebuild, nothing changed", *timed_main(["build", "--book", str(book)])))
        notebook = notebooks / "belle2_alp_3gamma.ipynb"
        os.utime(notebook)
        rows.append(("rebuild after touching the notebook", *timed_main(["build", "--book", str(book)])))
        notebook.write_text(notebook.read_text() + "\n")
        rows.append(("rebuild after editing the notebook", *timed_main(["build", "--book", str(book)])))

        # CPU-bound runs: four small runs with their own seeds (each simulates its own samples)
        small = {"dataset": "belle2_2018", "n_signal_events": 2000, "max_mc_events": 50_000,
                 "mass_min_gev": 0.5, "mass_max_gev": 3.0, "mass_step_sigma": 2.0}
        runs = [{"id": f"cpu{i}", "notebook": "belle2_alp_3gamma.ipynb", "parameters": {**small, "seed": 100 + i}}
                for i in range(4)]
        times = {}
        for workers in (1, 2):
            os.environ["DSBOOK_GENERATED_DIR"] = str(tmp / f"generated-{workers}")
            folder = make_book(tmp / f"cpu-{workers}", runs)
            times[workers], code = timed_main(["run", "--book", str(folder), "--workers", str(workers)])
            rows.append((f"4 CPU-bound runs, {workers} worker(s)", times[workers], code))
    print(f"{'case':<46} {'wall time [s]':>14} {'exit':>5}")
    for name, seconds, code in rows:
        print(f"{name:<46} {seconds:14.1f} {code:>5}")
    print(f"speed-up of 2 workers over 1: {times[1] / times[2]:.2f}")


if __name__ == "__main__":
    main()
