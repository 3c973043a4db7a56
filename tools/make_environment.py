"""Write environment.yml (conda-forge) from the dependencies in pyproject.toml.

Usage: python tools/make_environment.py [--check]. With --check, exit 1 when the committed file
differs from what pyproject.toml gives (the test suite runs this check).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: PyPI name -> conda-forge name, where they differ
CONDA_NAMES = {"dask[distributed]": "dask", "pythia8mc": "pythia8"}
#: not on conda-forge: installed with pip inside the environment
PIP_ONLY = {"sphinx-mathjax-offline"}


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda, pip = [], []
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, spec = re.match(r"^([A-Za-z0-9_.\-\[\]]+)(.*)$", requirement).groups()
        if name in PIP_ONLY:
            pip.append(f"{name}{spec}")
        else:
            conda.append(f"{CONDA_NAMES.get(name, name)}{spec}")
    python = project["requires-python"].replace(">=", "")
    lines = [
        "# Generated from pyproject.toml by tools/make_environment.py; do not edit by hand.",
        "name: dark-sector-book",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        *[f"  - {c}" for c in conda],
        "  - pip:",
        *[f"      - {p}" for p in pip],
        "      - -e .",
    ]
    return "\n".join(lines) + "\n"


def main(argv):
    text = render()
    target = ROOT / "environment.yml"
    if "--check" in argv:
        if not target.exists() or target.read_text() != text:
            print("environment.yml is out of date: run python tools/make_environment.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
