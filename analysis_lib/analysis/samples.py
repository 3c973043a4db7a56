"""The events a run reads: the ntuples of a dataset (simulated and cached, or real), and pseudo-data.

Every channel reads its samples through :func:`ntuple_paths`: for a simulated dataset the ntuples
are produced (or reused) by :func:`analysis_lib.simulation.production.produce`; for a dataset of real
ntuples the files ``<sample>.root`` of the channel's simulated samples and ``data.root`` are taken
from the dataset's folder. Pseudo-data drawn from expectations (where event-level pseudo-data are
absurd) come from :func:`pseudo_data_rng`, one random stream per dataset, seed and purpose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..detector.datasets import Dataset, generated_dir
from ..simulation.production import ProductionConfig, produce, sample_rng

__all__ = ["draw_pseudo_data", "ntuple_paths", "pseudo_data_rng", "work_dir"]


def ntuple_paths(specs, ds: Dataset, *, seed: int, config: ProductionConfig, progress: bool = True) -> dict[str, Path]:
    """{sample name: ntuple path} of the samples ``specs`` of dataset ``ds``, and ``"data"`` for the
    data ntuple where there is one (real data, or pseudo-data simulated event by event).

    Simulated datasets are produced or reused with ``config``; real ones are read from their folder.
    A progress bar counts the samples (shown when ``progress``, the default)."""
    if not ds.simulated:
        folder = ds.ntuple_dir(seed)
        return {**{s.name: folder / f"{s.name}.root" for s in specs}, "data": folder / "data.root"}
    bar = tqdm(total=len(specs), desc="samples", disable=not progress)
    try:
        return produce(list(specs), ds, seed=seed, config=config, progress=bar)
    finally:
        bar.close()


def work_dir(ds: Dataset, seed: int) -> Path:
    """A run's folder for derived caches (trained classifiers): below the generated-data folder for
    every dataset, never inside a folder of real ntuples."""
    return generated_dir() / ds.name / f"seed{seed}"


def pseudo_data_rng(ds: Dataset, seed: int, *, stream: str = "pseudo-data") -> np.random.Generator:
    """The random generator of the pseudo-data of dataset ``ds`` (one stream per purpose)."""
    return sample_rng(seed, ds.name, stream, 1)


def draw_pseudo_data(expected, ds: Dataset, seed: int, *, stream: str = "pseudo-data") -> np.ndarray:
    """One Poisson draw of the expected counts ``expected`` (any shape), as floats."""
    return pseudo_data_rng(ds, seed, stream=stream).poisson(expected).astype(float)
