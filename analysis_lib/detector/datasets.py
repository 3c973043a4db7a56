"""The dataset registry (``data/datasets.yaml``): experiment, luminosity and ntuple location.

Examples
--------
>>> ds = dataset("belle2_2018")
>>> ds.luminosity_fb, ds.experiment.label
(0.445, 'Belle II')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path

import yaml

from ..core.errors import ParameterError
from ..core.parameters import Parameter
from ..core.paths import DATA_DIR
from ..core.units import luminosity_label
from .experiments import Experiment, experiment

__all__ = ["DATA_DIR", "GENERATED_DIR", "SIGMA_BB_NB", "Dataset", "dataset", "dataset_names", "dataset_parameter", "datasets",
           "generated_dir", "registry_path"]

#: Where simulated ntuples go (git-ignored); the environment variable DSBOOK_GENERATED_DIR
#: overrides it (the tests simulate into a temporary folder).
GENERATED_DIR = DATA_DIR / "generated"
#: The dataset registry; the environment variable DSBOOK_REGISTRY names another one (a copy with a
#: dataset added, say).
REGISTRY = DATA_DIR / "datasets.yaml"
#: sigma(e+e- -> Upsilon(4S) -> B Bbar) in nb at the Upsilon(4S): B0 B0bar 0.555 + B+ B- 0.555 (Belle II's
#: cross-section table, quoted in the book's physics reference); BaBar's 471 million pairs in 424 fb^-1
#: give 1.11 nb as well.
SIGMA_BB_NB = 1.11


def generated_dir() -> Path:
    """The folder for simulated ntuples: $DSBOOK_GENERATED_DIR if set, else ``data/generated``."""
    return Path(os.environ.get("DSBOOK_GENERATED_DIR", GENERATED_DIR))


def registry_path() -> Path:
    """The registry in use: $DSBOOK_REGISTRY if set, else ``data/datasets.yaml``."""
    return Path(os.environ.get("DSBOOK_REGISTRY", REGISTRY))


@dataclass(frozen=True)
class Dataset:
    """One registered dataset."""

    name: str
    experiment: Experiment
    luminosity_fb: float
    luminosity_uncertainty_fb: float
    description: str
    projection: bool
    reference: str | None
    ntuples: str
    branches: dict = field(default_factory=dict)
    bb_pairs: float | None = None

    @property
    def luminosity_pb(self) -> float:
        """Integrated luminosity in pb^-1."""
        return self.luminosity_fb * 1e3

    @property
    def n_bb_pairs(self) -> float:
        """Number of B Bbar pairs: the published count where the registry gives one, else
        sigma(e+e- -> B Bbar) x luminosity with :data:`SIGMA_BB_NB`."""
        if self.bb_pairs is not None:
            return float(self.bb_pairs)
        return SIGMA_BB_NB * 1e3 * self.luminosity_pb

    @property
    def simulated(self) -> bool:
        """True when the book simulates this dataset's ntuples."""
        return self.ntuples == "simulate"

    def ntuple_dir(self, seed: int) -> Path:
        """Folder of the dataset's ntuples: for a simulated dataset, the folder of its experiment's
        samples for ``seed`` (shared by every dataset of the experiment)."""
        if self.simulated:
            return generated_dir() / self.experiment.name / f"seed{seed}"
        path = Path(self.ntuples)
        return path if path.is_absolute() else (registry_path().parent / path)

    @property
    def luminosity_label(self) -> str:
        """The luminosity as plots print it (:func:`analysis_lib.core.units.luminosity_label`)."""
        return luminosity_label(self.luminosity_fb)


def _load():
    return _load_file(registry_path())


@cache
def _load_file(path):
    with open(path) as f:
        raw = yaml.safe_load(f)
    out = {}
    for name, entry in raw.items():
        entry = dict(entry)
        entry["experiment"] = experiment(entry["experiment"])
        entry.setdefault("branches", {})
        out[name] = Dataset(name=name, **entry)
    return out


def datasets() -> dict[str, Dataset]:
    """All registered datasets by name."""
    return dict(_load())


def dataset_names(experiment: str) -> list[str]:
    """Names of the registered datasets of one experiment (``"babar"``, ``"belle"``, ``"belle2"``),
    sorted: the allowed values of a channel's ``dataset`` parameter."""
    return sorted(name for name, d in _load().items() if d.experiment.name == experiment)


def dataset_parameter(default: str, experiment: str | None = None, *, choices=None) -> Parameter:
    """A channel's ``dataset`` parameter: the registered datasets of ``experiment`` (or ``choices``,
    a callable that returns the allowed names), ``default`` by default."""
    if choices is None:
        choices = partial(dataset_names, experiment)
    label = {"belle2": "Belle II", "belle": "Belle", "babar": "BaBar"}.get(experiment, "")
    return Parameter("dataset", str, default, f"registered {label + ' ' if label else ''}dataset", choices=choices)


def dataset(name: str) -> Dataset:
    """The registered dataset ``name``; a clear error naming the known ones otherwise."""
    known = _load()
    if name not in known:
        raise ParameterError(
            f"unknown dataset {name!r}; registered datasets are {sorted(known)} "
            "(add new ones to data/datasets.yaml)"
        )
    return known[name]
