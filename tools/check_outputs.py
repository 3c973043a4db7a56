"""Open every run's publication outputs of a built book with their own tools: each ``hepdata.tar.gz``
with the HEPData validator, each workspace of ``workspaces.zip`` with pyhf (its schema, and the model
and data it builds), and each ``efficiencies.csv`` through the recasting reader.

Usage, after ``make book``::

    .venv/bin/python tools/check_outputs.py [--runs book/runs] [--workspaces N]

``--workspaces N`` opens the first N workspaces of each run (all by default; a two-mass scan has
thousands). Exits non-zero when an output is missing where the run's results say it should be, or
when a tool rejects one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check_hepdata(archive: Path) -> list[str]:
    """The HEPData validator's messages on ``archive`` (none: valid), with the number of tables."""
    from analysis_lib.io.hepdata import validate_submission

    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
        problems = validate_submission(tmp)
        tables = len(list(Path(tmp).glob("upper_limits_on_*.yaml")))
    return problems if problems else [] if tables else ["no table"]


def check_workspaces(archive: Path, limit: int | None) -> tuple[int, list[str]]:
    """How many workspaces of ``archive`` pyhf opened, and its complaints."""
    import pyhf

    problems, opened = [], 0
    with zipfile.ZipFile(archive) as zipped:
        index = json.loads(zipped.read("index.json"))
        for entry in index["workspaces"][:limit]:
            try:
                workspace = pyhf.Workspace(json.loads(zipped.read(entry["file"])))
                model = workspace.model()
                data = workspace.data(model)
                if len(data) != model.config.nmaindata + model.config.nauxdata:
                    raise ValueError("data and model disagree")
                opened += 1
            except Exception as exc:  # report every workspace pyhf refuses
                problems.append(f"{entry['file']}: {type(exc).__name__}: {exc}")
    return opened, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "book" / "runs")
    parser.add_argument("--workspaces", type=int, default=None)
    args = parser.parse_args(argv)
    from analysis_lib.analysis.recast import read_efficiencies

    bad = 0
    for run in sorted(p for p in args.runs.iterdir() if (p / "meta.json").exists()):
        lines = []
        if (run / "hepdata.tar.gz").exists():
            problems = check_hepdata(run / "hepdata.tar.gz")
            lines.append("HEPData valid" if not problems else f"HEPData: {problems[:3]}")
            bad += bool(problems)
        else:
            lines.append("no hepdata.tar.gz")
            bad += 1
        if (run / "workspaces.zip").exists():
            opened, problems = check_workspaces(run / "workspaces.zip", args.workspaces)
            lines.append(f"{opened} workspaces opened by pyhf" + (f", refused: {problems[:3]}" if problems else ""))
            bad += bool(problems)
        if (run / "efficiencies.csv").exists():
            table = read_efficiencies(run)
            lines.append(f"{len(table)} efficiencies")
        print(f"{run.name:<42} " + "; ".join(lines))
    print("all outputs open with their tools" if not bad else f"{bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
