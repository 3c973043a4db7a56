"""The dataset registry (``data/datasets.yaml``): experiment, luminosity and ntuple location.

Examples
--------
>>> ds = dataset("belle2_2018")
>>> ds.luminosity_fb, ds.experiment.label
(0.445, 'Belle II')
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path

from ..core.constants import mass_gev
from ..core.errors import ParameterError
from ..core.parameters import Parameter
from ..core.paths import DATA_DIR
from ..core.units import luminosity_label
from ..core.yaml_files import read_yaml
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
    #: the registry's ``combines``: the datasets (at their own energies) this one is the union of
    combines: tuple = ()

    @property
    def parts(self) -> tuple[Dataset, ...]:
        """The datasets a combination is made of (the registry's ``combines``), each with its own
        sqrt(s) and luminosity; a dataset that combines none is its own one part."""
        return tuple(dataset(name) for name in self.combines) if self.combines else (self,)

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
        samples for ``seed`` (shared by every dataset of the experiment at its energy). A combination
        has none of its own: its parts have theirs."""
        if self.combines:
            raise ParameterError(f"dataset {self.name!r} combines {list(self.combines)}: read each of them (its "
                                 "parts), each at its own sqrt(s); a combination has no ntuples of its own")
        if self.simulated:
            return generated_dir() / self.experiment.tag / f"seed{seed}"
        path = Path(self.ntuples)
        return path if path.is_absolute() else (registry_path().parent / path)

    def check_ntuples(self, sample_names=lambda part: ()) -> None:
        """For real ntuples (of this dataset, each part of a combination and its off-resonance partner):
        the folder exists and holds ``data.root`` and ``<sample>.root`` for each of
        ``sample_names(part)`` (of this dataset or each of its parts; a partner's samples are the
        channel's to name when it reads them); a clear error naming the dataset, the folder and the
        missing files otherwise. Simulated datasets pass."""
        partner = [self.off_resonance_dataset()] if self.off_resonance else []
        for part in (*self.parts, *partner):
            if part.simulated:
                continue
            folder = part.ntuple_dir(0)
            if not folder.is_dir():
                raise ParameterError(
                    f"dataset {part.name!r}: its ntuples folder {str(folder)!r} (key ntuples in "
                    f"{str(registry_path())!r}) does not exist; copy the ntuples there, correct the path, or "
                    "set ntuples: simulate")
            wanted = ("data", *(sample_names(part) if part not in partner else ()))
            missing = [f"{name}.root" for name in wanted if not (folder / f"{name}.root").is_file()]
            if missing:
                listed = missing[:4] + ([f"and {len(missing) - 4} more"] if len(missing) > 4 else [])
                raise ParameterError(
                    f"dataset {part.name!r}: its ntuples folder {str(folder)!r} lacks {listed}; a dataset of real "
                    "ntuples holds data.root and one file <sample>.root per simulated sample the channel reads")

    @property
    def luminosity_label(self) -> str:
        """The luminosity as plots print it (:func:`analysis_lib.core.units.luminosity_label`)."""
        return luminosity_label(self.luminosity_fb)


def _load():
    return _load_file(registry_path())


#: The keys of a dataset's registry entry (the comment at the top of data/datasets.yaml explains them).
_REQUIRED_KEYS = ("experiment", "luminosity_fb", "luminosity_uncertainty_fb", "description", "projection", "reference",
                  "ntuples")
_OPTIONAL_KEYS = ("branches", "bb_pairs", "off_resonance", "sqrt_s_gev")


def _read_registry(path) -> dict:
    """The registry file's entries by name, each a mapping; a clear error for a file that is missing,
    not YAML (or gives a key twice), or not a mapping of names to mappings."""
    raw = read_yaml(path, "dataset registry", "restore data/datasets.yaml, or set DSBOOK_REGISTRY to an existing "
                                              "registry")
    if not isinstance(raw, dict) or not raw:
        found = "an empty mapping" if isinstance(raw, dict) else type(raw).__name__
        raise ParameterError(f"dataset registry {str(path)!r} must map dataset names to their entries (a YAML "
                             f"mapping), not {found}; see the comment at the top of data/datasets.yaml")
    for name, entry in raw.items():
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise ParameterError(f"dataset registry {str(path)!r}: the name {name!r} must be a string of letters, "
                                 "digits, '_' and '-'")
        if not isinstance(entry, dict):
            raise ParameterError(f"dataset registry {str(path)!r}, dataset {name!r}: the entry must be a mapping of "
                                 f"keys to values, not {type(entry).__name__} {entry!r}")
    return raw


def _number(where, entry, key, *, zero=False, unit=""):
    """The entry's value of ``key``: a finite number above zero (or at least zero where ``zero``)."""
    value = entry[key]
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or value < 0 or (value == 0 and not zero)):
        hint = ""
        if isinstance(value, str):
            try:
                hint = f" (YAML reads {value!r} as text: write {float(value):.6e}, with a dot and a signed exponent)"
            except ValueError:
                pass
        raise ParameterError(f"{where}: {key} = {value!r} must be a finite number {'>= 0' if zero else '> 0'}"
                             f"{unit}{hint}; correct it in the registry")
    return float(value)


def _check_text_keys(where, entry, keys):
    """The entry's values of ``keys`` have their types (the registry's comment explains each)."""
    for key, kinds, words in (("description", str, "a line of text"), ("projection", bool, "true or false"),
                              ("reference", (str, type(None)), "a string or null"),
                              ("ntuples", str, "'simulate' or the folder of real ntuples"),
                              ("off_resonance", (str, type(None)), "the name of a registered dataset, or null"),
                              ("experiment", str, "the name of a detector model")):
        if key in keys and key in entry and (not isinstance(entry[key], kinds) or entry[key] == ""):
            raise ParameterError(f"{where}: {key} = {entry[key]!r} must be {words}")


def _check_entry(path, name, entry) -> dict:
    """A dataset's registry entry checked against the schema (required and known keys, types, ranges,
    a known experiment); returns the keyword arguments of its :class:`Dataset`."""
    where = f"dataset registry {str(path)!r}, dataset {name!r}"
    unknown = sorted(set(entry) - {*_REQUIRED_KEYS, *_OPTIONAL_KEYS})
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) {unknown}; a dataset takes {list(_REQUIRED_KEYS)} and "
                             f"optionally {list(_OPTIONAL_KEYS)} (a combination: combines, experiment, description, "
                             "projection, reference)")
    missing = [key for key in _REQUIRED_KEYS if key not in entry]
    if missing:
        raise ParameterError(f"{where}: lacks the key(s) {missing}; every dataset gives {list(_REQUIRED_KEYS)} "
                             "(reference may be null)")
    out = dict(entry)
    out["luminosity_fb"] = _number(where, entry, "luminosity_fb", unit=" (fb^-1)")
    out["luminosity_uncertainty_fb"] = _number(where, entry, "luminosity_uncertainty_fb", zero=True, unit=" (fb^-1)")
    if entry.get("bb_pairs") is not None:
        out["bb_pairs"] = _number(where, entry, "bb_pairs")
    if out["luminosity_uncertainty_fb"] > out["luminosity_fb"]:
        raise ParameterError(f"{where}: luminosity_uncertainty_fb = {entry['luminosity_uncertainty_fb']!r} exceeds "
                             f"luminosity_fb = {entry['luminosity_fb']!r}; give the uncertainty in fb^-1, not in %")
    _check_text_keys(where, entry, entry)
    branches = entry.get("branches") or {}
    if not isinstance(branches, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in branches.items()):
        raise ParameterError(f"{where}: branches = {branches!r} must map logical branch names to the ntuples' branch "
                             "names (strings), e.g. {photon_energy: clusterE}")
    out["branches"] = branches
    try:
        out["experiment"] = experiment(entry["experiment"])
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    sqrt_s = out.pop("sqrt_s_gev", None)
    if sqrt_s is not None:
        out["experiment"] = out["experiment"].at_sqrt_s(_number(where, entry, "sqrt_s_gev", unit=" (GeV)"))
    return out


@cache
def _load_file(path):
    raw = _read_registry(path)
    out, combinations = {}, {}
    for name, entry in raw.items():
        if "combines" in entry:
            combinations[name] = entry
            continue
        out[name] = Dataset(name=name, **_check_entry(path, name, entry))
    for name, entry in combinations.items():
        out[name] = _combination(path, name, entry, out)
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


#: The keys of a combination's registry entry (its luminosity, energy and ntuples are its parts').
_COMBINATION_KEYS = {"combines", "experiment", "description", "projection", "reference"}


def _combination(path, name, entry, single) -> Dataset:
    """The dataset of a registry entry with ``combines``: its parts must be registered datasets of its
    experiment, each named once and none a combination; its luminosity (and uncertainty, taken as fully
    correlated) is their sum; it is simulated when they all are. Its own sqrt(s) is its first part's
    (the one its results are labelled with); analyses read each part at its own."""
    unknown = sorted(set(entry) - _COMBINATION_KEYS)
    missing = sorted(_COMBINATION_KEYS - set(entry) - {"reference"})
    if missing:
        raise ParameterError(f"{path}: combination {name!r} lacks the keys {missing}; a combination takes "
                             f"{sorted(_COMBINATION_KEYS)} (reference may be null)")
    if unknown:
        raise ParameterError(f"{path}: combination {name!r} has keys {unknown}; a combination takes only "
                             f"{sorted(_COMBINATION_KEYS)} (luminosity and energy come from its parts)")
    where = f"dataset registry {str(path)!r}, combination {name!r}"
    _check_text_keys(where, entry, ("description", "projection", "reference", "experiment"))
    try:
        experiment(entry["experiment"])
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    names = entry["combines"]
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names)):
        raise ParameterError(f"{path}: combination {name!r}: combines = {names!r} must list two or more "
                             "different dataset names")
    missing = [n for n in names if n not in single]
    if missing:
        raise ParameterError(f"{path}: combination {name!r} names {missing}, which are not registered datasets "
                             "(a combination cannot combine combinations)")
    parts = [single[n] for n in names]
    if any(p.experiment.name != entry["experiment"] for p in parts):
        raise ParameterError(f"{path}: combination {name!r}: every part must be a dataset of {entry['experiment']!r}; "
                             f"got {[(p.name, p.experiment.name) for p in parts]}")
    return Dataset(name=name, experiment=parts[0].experiment, description=entry["description"],
                   projection=entry["projection"], reference=entry.get("reference"),
                   luminosity_fb=float(sum(p.luminosity_fb for p in parts)),
                   luminosity_uncertainty_fb=float(sum(p.luminosity_uncertainty_fb for p in parts)),
                   ntuples="simulate" if all(p.simulated for p in parts) else "combination",
                   combines=tuple(names))


def datasets() -> dict[str, Dataset]:
    """All registered datasets by name."""
    return dict(_load())


def dataset_names(experiment: str, *, combinations: bool = False) -> list[str]:
    """Names of the registered datasets of one experiment (``"babar"``, ``"belle"``, ``"belle2"``),
    sorted: the allowed values of a channel's ``dataset`` parameter. Combinations (``combines``) only
    with ``combinations``: a channel must analyse each part at its own energy to accept them."""
    return sorted(name for name, d in _load().items()
                  if d.experiment.name == experiment and (combinations or not d.combines))


def dataset_parameter(default: str, experiment: str | None = None, *, choices=None,
                      combinations: bool = False) -> Parameter:
    """A channel's ``dataset`` parameter: the registered datasets of ``experiment`` (or ``choices``,
    a callable that returns the allowed names), with its combinations where ``combinations``,
    ``default`` by default."""
    if choices is None:
        choices = partial(dataset_names, experiment, combinations=combinations)
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
