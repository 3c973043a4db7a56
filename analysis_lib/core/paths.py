"""Where the project's committed data live: the dataset registry, published curves and physics tables."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from .errors import DiskFullError, disk_full

__all__ = ["DATA_DIR", "PUBLISHED_DIR", "written_atomically"]

#: The committed data folder of the project.
DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"
#: Published curves and physics tables, one file each with its provenance in its header.
PUBLISHED_DIR = DATA_DIR / "published"


@contextmanager
def written_atomically(path):
    """Write a file whole or not at all: the ``with`` block writes the temporary file it is given
    (``.<name>.<pid>.tmp`` beside ``path``), which replaces ``path`` only when the block succeeds. The
    temporary file never stays behind, and a full disk is a
    :class:`~analysis_lib.core.errors.DiskFullError` naming ``path``.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with written_atomically(target) as tmp:
    ...     _ = tmp.write_text("whole")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('whole', ['a.txt'])
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if disk_full(exc):
            raise DiskFullError(path) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)
