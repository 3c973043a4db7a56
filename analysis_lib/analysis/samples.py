"""The events a run reads: the ntuples of a dataset (simulated and cached, or real), and pseudo-data.

Every channel reads its samples through :func:`ntuple_paths`: for a simulated dataset the samples of
its experiment are made (or reused) by :mod:`analysis_lib.simulation.production` and read with the
dataset's weights; for a dataset of real ntuples the files ``<sample>.root`` of the channel's
simulated samples and ``data.root`` are taken from the dataset's folder. Pseudo-data drawn from
expectations (where event-level pseudo-data are absurd) come from :func:`pseudo_data_rng`, one
random stream per dataset, seed and purpose, independent of the streams of the simulated samples.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from ..core.cache import content_key, shared_result
from ..core.errors import ParameterError
from ..detector.datasets import Dataset, generated_dir
from ..io.ntuple import Ntuple, read_meta
from ..simulation.production import ProductionConfig, ntuples, requests, sample_rng

__all__ = ["draw_pseudo_data", "ntuple_paths", "pseudo_data_rng", "read_table", "truth_expectation", "work_dir"]


def ntuple_paths(specs, ds: Dataset, *, seed: int, config: ProductionConfig, progress: bool = True) -> dict[str, Ntuple]:
    """{sample name: :class:`~analysis_lib.io.ntuple.Ntuple`} of the samples ``specs`` of dataset
    ``ds`` (weighted for its luminosity), and ``"data"`` for the data ntuple where there is one (real
    data, or event-level pseudo-data).

    Simulated datasets read their experiment's samples, made or reused with ``config``; real ones are
    read from their folder. A progress bar counts the samples (shown when ``progress``)."""
    if not ds.simulated:
        folder = ds.ntuple_dir(seed)
        return {**{s.name: Ntuple(folder / f"{s.name}.root") for s in specs}, "data": Ntuple(folder / "data.root")}
    total = len(requests(specs, ds, seed=seed, config=config))
    bar = tqdm(total=total, desc="samples", disable=not progress)
    try:
        return ntuples(list(specs), ds, seed=seed, config=config, progress=bar)
    finally:
        bar.close()


def work_dir(ds: Dataset, seed: int) -> Path:
    """A folder for caches derived from a dataset's samples (trained classifiers): the folder of its
    experiment's simulated samples, shared by every simulated dataset of the experiment; for a
    dataset of real ntuples one of its own below the generated-data folder, never inside the folder
    of its ntuples."""
    if ds.simulated:
        return ds.ntuple_dir(seed)
    return generated_dir() / "datasets" / ds.name / f"seed{seed}"


def pseudo_data_rng(ds: Dataset, seed: int, *, stream: str = "pseudo-data") -> np.random.Generator:
    """The random generator of the pseudo-data of dataset ``ds`` (one stream per purpose)."""
    return sample_rng(seed, f"{stream} {ds.name}", 1)


def draw_pseudo_data(expected, ds: Dataset, seed: int, *, stream: str = "pseudo-data") -> np.ndarray:
    """One Poisson draw of the expected counts ``expected`` (any shape), as floats."""
    return pseudo_data_rng(ds, seed, stream=stream).poisson(expected).astype(float)


def truth_expectation(prediction, other):
    """The expected counts pseudo-data are drawn from, where one half of the simulation predicts the
    background (``prediction``) and the same construction on the other half (``other``) stands for the
    world: prediction + (other - prediction) / sqrt(2), cell by cell (derived here).

    The world differs from a prediction made on a finite simulation by that prediction's statistical
    error, of variance sigma^2 (that of one half's prediction), which the limits' likelihood carries.
    The other half's prediction differs from it by two independent such errors, variance 2 sigma^2:
    drawn from it, pseudo-data would lie farther from the prediction than data would, by sqrt(2) in
    the spread where the simulation's statistics outweigh the data's (projections to large
    luminosities), and fall outside the expected bands too often. Scaling the difference by
    1 / sqrt(2) keeps the mismodelling the other half shows, with the variance of the prediction's own
    error. The result is never negative: prediction (1 - 1/sqrt(2)) + other / sqrt(2).

    Examples
    --------
    >>> truth_expectation(np.array([4.0, 0.0]), np.array([2.0, 1.0])).round(4)
    array([2.5858, 0.7071])
    """
    prediction, other = np.asarray(prediction, dtype=float), np.asarray(other, dtype=float)
    if prediction.shape != other.shape:
        raise ParameterError(f"the two halves' predictions differ in shape: {prediction.shape} and {other.shape}")
    return prediction + (other - prediction) / np.sqrt(2.0)


def read_table(path, make: Callable, *, cache_dir=None, key=(), scaled=("weight",)) -> dict:
    """``make(path)``: the table (dict of per-event arrays) of one ntuple. With ``cache_dir``, a sample
    of the book's simulation (an :class:`~analysis_lib.io.ntuple.Ntuple` with its ``weight_scale``) is
    read once at unit weight scale and kept there under a key of the file, ``key`` (what else the
    table depends on) and the code; every run reading it (other luminosities, other settings of the
    analysis) multiplies the stored columns ``scaled`` by its own scale. Real ntuples are read as
    they are."""
    scale = getattr(path, "weight_scale", None)
    file_key = read_meta(path).get("cache_key") if cache_dir is not None and scale is not None else None
    if not file_key:
        return make(path)
    table = shared_result(cache_dir, f"table_{Path(path).stem}", content_key(file_key, key),
                          partial(make, Ntuple(path.path, weight_scale=1.0)))
    return {**table, **{column: table[column] * scale for column in scaled}}
