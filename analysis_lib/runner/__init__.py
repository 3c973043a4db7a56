"""The book's runner: runs file -> validation -> papermill (on a dask cluster) -> jupyter-book, and the
notebook's side of a run (:func:`setup`, :func:`setup_study`).

The command's side (:mod:`.cli`, with papermill and nbformat) is imported when first used, so that a
notebook's kernel, which needs only :func:`setup`, does not load it."""

from .notebook import NotebookRun, StudyRun, setup, setup_study

__all__ = ["NotebookRun", "Run", "StudyRun", "load_runs", "main", "setup", "setup_study"]


def __getattr__(name):
    if name in ("Run", "load_runs", "main"):
        from . import cli

        return getattr(cli, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
