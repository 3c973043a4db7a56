"""Where the project's committed data live: the dataset registry, published curves and physics tables."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "PUBLISHED_DIR"]

#: The committed data folder of the project.
DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"
#: Published curves and physics tables, one file each with its provenance in its header.
PUBLISHED_DIR = DATA_DIR / "published"
