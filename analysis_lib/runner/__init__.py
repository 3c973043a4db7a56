"""The book's runner: runs file -> validation -> papermill (on a dask cluster) -> jupyter-book, and the
notebook's side of a run (:func:`setup`)."""

from .cli import Run, load_runs, main
from .notebook import NotebookRun, setup

__all__ = ["NotebookRun", "Run", "load_runs", "main", "setup"]
