"""What every channel's ``prepare`` returns: the fields every run's inputs share.

A channel's inputs extend :class:`Inputs` (the peak search's
:class:`~analysis_lib.analysis.peak_search.SearchInputs`, the counting searches'
:class:`~analysis_lib.analysis.counting.CountingInputs`), so that notebooks, tables and the run's
files find the dataset, the seed, where the data came from and the cut flow in the same place.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..detector.datasets import Dataset

__all__ = ["DATA_SOURCES", "Inputs"]

#: Where a run's data come from: ntuples (real data, or pseudo-data simulated event by event), or
#: pseudo-data drawn from the expected background (one Poisson draw per bin).
DATA_SOURCES = ("ntuple", "pseudo-data")


@dataclass(frozen=True)
class Inputs:
    """The fields every run's inputs share: the ``dataset``, the ``seed`` of its simulation and
    pseudo-data, where its data came from (``data_source``, one of :data:`DATA_SOURCES`), the
    ``cut_flow`` (a pandas DataFrame of weighted events per sample after each requirement) and the
    ``backgrounds`` (sample name -> legend label)."""

    dataset: Dataset
    seed: int
    data_source: str
    cut_flow: object
    backgrounds: dict
