"""Where a run's time goes: wall-clock seconds per stage, accumulated in the process.

The shared stages time themselves with :func:`stage` (simulation by sample, reading and selection,
classifier training, scans, plots); a notebook's run writes the totals next to its results
(``profile.json``), and the runner adds the simulation stage and the rendering, so that
``make benchmark-book`` can print one table per stage and per run.

>>> reset()
>>> with stage("selection"):
...     pass
>>> sorted(totals())
['selection']
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

__all__ = ["STAGES", "add", "reset", "stage", "totals"]

#: The stages of the data path, in the order of the profile table.
STAGES = ("simulation", "reading", "classifier", "selection", "scan", "plots", "rendering")

_SECONDS: dict[str, float] = defaultdict(float)


@contextmanager
def stage(name: str):
    """Add the wall-clock time of the ``with`` block to stage ``name``; nested stages are counted in
    both (a stage inside another is also part of the outer one's time)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _SECONDS[name] += time.perf_counter() - start


def add(name: str, seconds: float):
    """Add ``seconds`` to stage ``name`` (time measured elsewhere, e.g. on a dask worker)."""
    _SECONDS[name] += float(seconds)


def totals() -> dict[str, float]:
    """Seconds per stage since the last :func:`reset`, rounded to 0.1 s."""
    return {name: round(seconds, 1) for name, seconds in _SECONDS.items()}


def reset():
    """Start counting again from zero."""
    _SECONDS.clear()
