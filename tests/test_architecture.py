"""The package reads as the path of the data: every stage imports only from the stages before it.

The imports of every module of ``analysis_lib`` are read with :mod:`ast` (module level and inside
functions alike) and checked against the order of :data:`STAGES` and the walls of :data:`WALLS`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "analysis_lib"

#: The stages in the order of the data path; a module may import its own stage and earlier ones.
STAGES = ("core", "detector", "physics", "io", "simulation", "reco", "stats", "analysis", "plots", "channels",
          "runner")
#: Imports forbidden although the order allows them: reconstruction must run on real ntuples, so it
#: knows nothing of the simulation; statistics knows no physics.
WALLS = {("reco", "simulation"), ("stats", "physics"), ("stats", "detector"), ("stats", "io"),
         ("stats", "simulation"), ("stats", "reco")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, *, is_package: bool):
    """(line, absolute module name) of every import of ``analysis_lib`` in the source of ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from .. import stats" imports the module analysis_lib.stats
            targets = [f"{target}.{a.name}" if target == "analysis_lib" else target for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            if target == "analysis_lib" or target.startswith("analysis_lib."):
                yield node.lineno, target


def _file_imports(path: Path):
    return _imports(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Imports of ``module`` (its source given) that break the stage order or a wall."""
    here = _stage(module)
    if here is None:  # the package's own __init__
        return []
    wrong = []
    for line, target in _imports(source, module, is_package=is_package):
        there = _stage(target)
        if there is None:
            wrong.append(f"line {line}: imports the package root {target}")
        elif there not in STAGES:
            wrong.append(f"line {line}: imports {target}, outside the stages")
        elif STAGES.index(there) > STAGES.index(here):
            wrong.append(f"line {line}: {here} imports the later stage {target}")
        elif (here, there) in WALLS:
            wrong.append(f"line {line}: {here} may not import {there} ({target})")
    return wrong


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_stage():
    loose = [str(p.relative_to(PACKAGE)) for p in MODULES if p.parent == PACKAGE and p.name != "__init__.py"]
    assert not loose, f"modules outside the stage packages {STAGES}: {loose}"
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")} == set(STAGES)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_stages(path):
    wrong = violations(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("source", "module", "caught"), [
    ("def f():\n    from ..simulation import production\n", "analysis_lib.physics.alp", True),
    ("from ..stats import upper_limit\n", "analysis_lib.physics.alp", True),
    ("from ...simulation.generators import ORIGIN\n", "analysis_lib.reco.x.y", True),
    ("from ..physics.alp import alp_ctau_mm\n", "analysis_lib.stats.limits", True),
    ("import analysis_lib.plots\n", "analysis_lib.analysis.scan", True),
    ("from .. import channels\n", "analysis_lib.analysis.scan", True),
    ("from ..core.errors import KinematicError\nfrom . import qed\n", "analysis_lib.physics.alp", False),
    ("from ..stats import upper_limit\n", "analysis_lib.analysis.scan", False),
])
def test_the_check_catches_a_late_import(source, module, caught):
    """The check itself, on made-up sources: late imports and walls are caught, also inside functions."""
    assert bool(violations(source, module)) is caught


def test_no_channel_imports_another():
    channels = {p.stem for p in (PACKAGE / "channels").glob("*.py")} - {"__init__", "base"}
    for path in (PACKAGE / "channels").glob("*.py"):
        others = [t for _, t in _file_imports(path) if t.split(".")[-1] in channels - {path.stem}
                  and t.startswith("analysis_lib.channels.")]
        if path.stem == "__init__":  # the registry imports every channel to register it
            continue
        assert not others, f"{path.name} imports another channel: {others}"


def test_the_runner_knows_channels_only_through_the_contract():
    for path in (PACKAGE / "runner").glob("*.py"):
        for line, target in _file_imports(path):
            if target.startswith("analysis_lib.channels."):
                assert target in ("analysis_lib.channels.base",), f"{path.name}, line {line}: imports {target}"
