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

from ..core.constants import mass_gev
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
    #: the registry's ``off_resonance``: the dataset taken below the Upsilon(4S) with this one
    off_resonance: str | None = None

    @property
    def luminosity_pb(self) -> float:
        """Integrated luminosity in pb^-1."""
        return self.luminosity_fb * 1e3

    @property
    def sqrt_s_gev(self) -> float:
        """Centre-of-mass energy of the dataset (its experiment's beams, scaled for data taken off
        the Upsilon(4S): the registry's ``sqrt_s_gev``)."""
        return self.experiment.sqrt_s_gev

    @property
    def below_bb_threshold(self) -> bool:
        """True when sqrt(s) is below 2 m_B0: no B Bbar pairs (off-resonance data)."""
        return self.sqrt_s_gev < 2 * mass_gev(511)

    @property
    def n_bb_pairs(self) -> float:
        """Number of B Bbar pairs: the published count where the registry gives one, else
        sigma(e+e- -> B Bbar) x luminosity with :data:`SIGMA_BB_NB`; none below the threshold."""
        if self.below_bb_threshold:
            return 0.0
        if self.bb_pairs is not None:
            return float(self.bb_pairs)
        return SIGMA_BB_NB * 1e3 * self.luminosity_pb

    def off_resonance_dataset(self) -> Dataset:
        """The dataset taken below the Upsilon(4S) with this one (the registry's ``off_resonance``),
        for channels that measure the continuum there; a clear error when none is registered."""
        if self.off_resonance is None:
            with_one = sorted(name for name, d in _load().items() if d.off_resonance)
            raise ParameterError(
                f"dataset {self.name!r} names no off-resonance dataset (key off_resonance in the registry); "
                f"datasets that do: {with_one}"
            )
        return dataset(self.off_resonance)

    @property
    def simulated(self) -> bool:
        """True when the book simulates this dataset's ntuples."""
        return self.ntuples == "simulate"

    def ntuple_dir(self, seed: int) -> Path:
        """Folder of the dataset's ntuples: for a simulated dataset, the folder of its experiment's
        samples for ``seed`` (shared by every dataset of the experiment at its energy)."""
        if self.simulated:
            return generated_dir() / self.experiment.tag / f"seed{seed}"
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
        sqrt_s = entry.pop("sqrt_s_gev", None)
        if sqrt_s is not None:
            if isinstance(sqrt_s, bool) or not isinstance(sqrt_s, int | float):
                raise ParameterError(f"{path}: dataset {name!r}: sqrt_s_gev = {sqrt_s!r} must be a number of GeV")
            entry["experiment"] = entry["experiment"].at_sqrt_s(float(sqrt_s))
        entry.setdefault("branches", {})
        out[name] = Dataset(name=name, **entry)
    for name, ds in out.items():
        if ds.off_resonance is None:
            continue
        partner = out.get(ds.off_resonance)
        if partner is None or partner.experiment.name != ds.experiment.name or not partner.below_bb_threshold:
            raise ParameterError(
                f"{path}: dataset {name!r}: off_resonance = {ds.off_resonance!r} must name a registered dataset of the "
                f"same experiment below the B Bbar threshold (sqrt_s_gev < {2 * mass_gev(511):.3f})"
            )
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
