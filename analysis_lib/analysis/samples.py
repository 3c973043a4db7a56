"""The events a run reads: the ntuples of a dataset (simulated and cached, or real), and pseudo-data.

Every channel reads its samples through :func:`ntuple_paths`: for a simulated dataset the samples of
its experiment are made (or reused) by :mod:`analysis_lib.simulation.production` and read with the
dataset's weights; for a dataset of real ntuples the files ``<sample>.root`` of the channel's
simulated samples and ``data.root`` are taken from the dataset's folder. Pseudo-data drawn from
expectations (where event-level pseudo-data are absurd) come from :func:`pseudo_data_rng`, one
random stream per dataset, seed and purpose, independent of the streams of the simulated samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..detector.datasets import Dataset, generated_dir
from ..io.ntuple import Ntuple
from ..simulation.production import ProductionConfig, ntuples, requests, sample_rng

__all__ = ["draw_pseudo_data", "ntuple_paths", "pseudo_data_rng", "work_dir"]


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
