"""Channels: what differs between searches, declared once per search.

Each channel module defines ``NAME``, ``TITLE``, ``NOTEBOOK`` (file name in ``notebooks/``) and
``PARAMETERS`` (a tuple of :class:`analysis_lib.parameters.Parameter`), which the runner reads.
"""

from __future__ import annotations

import importlib

from ..errors import ParameterError

__all__ = ["CHANNELS", "channel", "channel_for_notebook"]

#: Registered channels: name -> module path.
CHANNELS = {
    "belle2_alp_3gamma": "analysis_lib.channels.belle2_alp_3gamma",
    "babar_b_to_k_alp": "analysis_lib.channels.babar_b_to_k_alp",
    "belle2_zprime_invisible": "analysis_lib.channels.belle2_zprime_invisible",
    "belle2_dark_higgsstrahlung": "analysis_lib.channels.belle2_dark_higgsstrahlung",
}


def channel(name: str):
    """The channel module registered under ``name``."""
    if name not in CHANNELS:
        raise ParameterError(f"unknown channel {name!r}; known channels: {sorted(CHANNELS)}")
    return importlib.import_module(CHANNELS[name])


def channel_for_notebook(notebook: str):
    """The channel whose notebook file is ``notebook`` (a file name or path)."""
    stem = notebook.rsplit("/", 1)[-1]
    for name in CHANNELS:
        module = channel(name)
        if module.NOTEBOOK == stem:
            return module
    raise ParameterError(
        f"no channel declares the notebook {notebook!r}; notebooks of channels: "
        f"{sorted(channel(n).NOTEBOOK for n in CHANNELS)}"
    )
