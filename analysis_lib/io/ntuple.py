"""ROOT ntuples: writing simulated events and reading any ntuple through a branch mapping.

The analysis never uses branch names directly: it asks for *logical* names, and a mapping turns
them into the branch names of the file. Simulated ntuples of this book use
:data:`DEFAULT_BRANCHES`; a real ntuple with other names is read by passing a mapping (in the
dataset registry, key ``branches``) that overrides some of them, e.g.
``{"photon_energy": "clusterE"}``.

Logical names:

``photon_energy``, ``photon_theta``, ``photon_phi``
    jagged per-event lists of photon candidates: energy in GeV, polar and azimuthal angle in
    radians, lab frame (required);
``n_tracks``
    number of reconstructed tracks (required);
``ecl_energy``
    summed energy (GeV, lab) of the calorimeter clusters not matched to a track (optional for the
    reader; the channels that need it say so);
``weight``
    per-event weight (optional, 1 when absent: real data);
``photon_mc_origin``
    truth code per photon (optional, simulation only);
``track_p``, ``track_theta``, ``track_phi``, ``track_charge``, ``track_kaon_id``
    jagged per-event lists of tracks: momentum in GeV, angles in radians (lab), charge, and whether
    the track passes the kaon identification (required when tracks are asked for);
``track_muon_id``, ``track_proton_id``, ``track_electron_id``
    whether the track passes the muon (proton, electron) identification (optional for the reader;
    the channels that need them say so);
``track_d0``, ``track_z0``
    the track's signed transverse impact parameter and the z of its point of closest approach to
    the beam line, in mm (optional for the reader; needed to vertex Lambda and K_S candidates);
``tag_mbc``, ``tag_delta_e``, ``tag_sigprob``, ``tag_px``, ``tag_py``, ``tag_pz``, ``photon_in_tag``, ``track_in_tag``
    the hadronically reconstructed B of the event ("tag"): beam-constrained mass and Delta E in GeV,
    the algorithm's signal probability, its centre-of-mass momentum in GeV, and which photon
    candidates and tracks it used (optional as a group; read as ``tag`` and ``in_tag`` where the
    file has them); ``tag_mc_correct`` (simulation only) marks a correct tag;
``track_mc_pdgid``, ``track_mc_origin``
    truth per track (optional, simulation only).

Simulated ntuples also hold per-event truth branches ``mc_<name>`` (e.g. the decay length of a
long-lived particle); they are read when present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from ..core import timing
from ..core.errors import NtupleError
from ..core.paths import written_atomically

#: Truth codes of generated particles, stored per cluster in simulated ntuples.
ORIGIN = {"beam_background": 0, "hard_photon": 1, "resonance_daughter": 2, "lepton": 3, "signal_b": 4,
          "other_b": 5, "continuum": 6}

__all__ = ["DEFAULT_BRANCHES", "ORIGIN", "TREE", "Ntuple", "read_events", "read_meta", "write_events"]

TREE = "events"

DEFAULT_BRANCHES = {
    "photon_energy": "gamma_E",
    "photon_theta": "gamma_theta",
    "photon_phi": "gamma_phi",
    "photon_mc_origin": "gamma_mc_origin",
    "n_tracks": "n_tracks",
    "ecl_energy": "ecl_energy",
    "weight": "weight",
    "track_p": "track_p",
    "track_theta": "track_theta",
    "track_phi": "track_phi",
    "track_charge": "track_charge",
    "track_kaon_id": "track_kaon_id",
    "track_muon_id": "track_muon_id",
    "track_proton_id": "track_proton_id",
    "track_electron_id": "track_electron_id",
    "track_d0": "track_d0",
    "track_z0": "track_z0",
    "track_mc_pdgid": "track_mc_pdgid",
    "track_mc_origin": "track_mc_origin",
    "photon_in_tag": "gamma_in_tag",
    "track_in_tag": "track_in_tag",
    "tag_mbc": "tag_mbc",
    "tag_delta_e": "tag_delta_e",
    "tag_sigprob": "tag_sigprob",
    "tag_px": "tag_px",
    "tag_py": "tag_py",
    "tag_pz": "tag_pz",
    "tag_mc_correct": "tag_mc_correct",
}
#: The hadronic tag's branches (optional as a group; a channel that needs them says so).
TAG_BRANCHES = ("photon_in_tag", "track_in_tag", "tag_mbc", "tag_delta_e", "tag_sigprob", "tag_px", "tag_py", "tag_pz",
                "tag_mc_correct")
_OPTIONAL = {"weight", "ecl_energy", "photon_mc_origin", "track_muon_id", "track_proton_id", "track_electron_id",
             "track_d0", "track_z0", "track_mc_pdgid", "track_mc_origin", *TAG_BRANCHES}
_COLLECTIONS = {
    "photon": {"photon_energy": "E", "photon_theta": "theta", "photon_phi": "phi", "photon_mc_origin": "mc_origin",
               "photon_in_tag": "in_tag"},
    "track": {"track_p": "p", "track_theta": "theta", "track_phi": "phi", "track_charge": "charge",
              "track_kaon_id": "kaon_id", "track_muon_id": "muon_id", "track_proton_id": "proton_id",
              "track_electron_id": "electron_id", "track_d0": "d0", "track_z0": "z0", "track_mc_pdgid": "mc_pdgid",
              "track_mc_origin": "mc_origin", "track_in_tag": "in_tag"},
    "tag": {"tag_mbc": "mbc", "tag_delta_e": "delta_e", "tag_sigprob": "sigprob", "tag_px": "px", "tag_py": "py",
            "tag_pz": "pz", "tag_mc_correct": "mc_correct"},
}
#: Compression of the book's own files: Zstandard at level 1 (ROOT reads it from version 6.20), as small
#: as uproot's default ZLIB level 1 for these ntuples and 3.5 times faster to write, twice as fast to
#: read (a 1.2-million-event sample: 5 s instead of 18 s to write, 1.5 s instead of 3.4 s to read).
COMPRESSION = uproot.ZSTD(1)
#: Branch-name prefix of each collection in the book's own files.
_PREFIX = {"photon": "gamma", "track": "track"}


def write_events(path, events: ak.Array, meta: dict):
    """Write reconstructed events (see :func:`analysis_lib.simulation.response.reconstruct`) and a
    metadata dictionary (stored as JSON in a TObjString ``meta``) to a ROOT file, atomically:
    the file appears under ``path`` only when complete. Baskets are compressed with
    :data:`COMPRESSION`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_atomically(path) as tmp, uproot.recreate(tmp, compression=COMPRESSION) as f:
        branches = {_PREFIX.get(name, name): events[name] for name in events.fields}
        tree = f.mktree(
            TREE,
            {name: array.type.content for name, array in branches.items()},
            counter_name=lambda counted: f"n{counted}",
            field_name=lambda outer, inner: f"{outer}_{inner}",
        )
        tree.extend(branches)
        f["meta"] = json.dumps(meta, sort_keys=True)


@dataclass(frozen=True)
class Ntuple:
    """An ntuple file as one dataset reads it: the stored weights times ``weight_scale``.

    The book's simulated files store weights per unit of sigma x luminosity (their metadata says
    so, key ``weights``), so that every dataset of an experiment reads the same file: the dataset
    reads it with ``weight_scale = sigma L``. Real ntuples and pseudo-data carry their own weights
    (``weight_scale`` None: as stored; such a file must not be one of the book's per-unit files).
    """

    path: Path
    weight_scale: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))
        if self.weight_scale is not None and not (np.isfinite(self.weight_scale) and self.weight_scale > 0):
            raise NtupleError(f"weight_scale={self.weight_scale!r} of {str(self.path)!r} must be finite and positive")

    def __fspath__(self):
        return str(self.path)


def _source(source) -> tuple[Path, float | None]:
    """(path, weight scale or None for the weights as stored) of a path or :class:`Ntuple`."""
    if isinstance(source, Ntuple):
        return source.path, source.weight_scale
    return Path(source), None


def _open(path):
    path = Path(path)
    if not path.exists():
        raise NtupleError(
            f"ntuple {str(path)!r} does not exist; check the dataset's 'ntuples' folder in "
            "data/datasets.yaml, or let the book simulate it (make book)"
        )
    try:
        return uproot.open(path)
    except Exception as exc:  # uproot raises several types for damaged files
        raise NtupleError(
            f"ntuple {str(path)!r} cannot be opened as ROOT ({type(exc).__name__}: {exc}); the file is "
            "truncated or not a ROOT file: delete it and regenerate or copy it again"
        ) from exc


def read_meta(source) -> dict:
    """The metadata dictionary of a simulated ntuple ({} for a file without one, like real data);
    ``source`` is a path or an :class:`Ntuple`."""
    with _open(_source(source)[0]) as f:
        if "meta" not in f:
            return {}
        return json.loads(str(f["meta"]))


def check_values(path, arrays: ak.Array, wanted: dict, *, empty_allowed: bool = False):
    """Refuse an ntuple read with its weights as stored (real data, simulation made elsewhere or
    copied, pseudo-data; not the book's per-unit samples, whose contents the book made) when it has
    no events, or when a branch the analysis reads holds values it cannot use: non-finite
    numbers (NaN, infinities) or non-numeric types. The error lists each such branch with its count;
    no event is dropped silently (a NaN energy would fail every cut and move the limits). The book's
    own files (``empty_allowed``: pseudo-data of a small luminosity) may hold no events."""
    if len(arrays) == 0 and not empty_allowed:
        raise NtupleError(f"ntuple {str(path)!r} has no events in its tree; a dataset's file must hold its events "
                          "(copy it again, or remove it and its dataset from the registry)")
    problems = []
    for logical, name in wanted.items():
        try:
            values = np.asarray(ak.to_numpy(ak.flatten(arrays[name], axis=None)))
        except Exception:  # strings, records: not one number per entry
            values = None
        if values is None or values.dtype.kind not in "fiub":
            problems.append(f"{name} ({logical}): type {ak.type(arrays[name])}, not numbers")
            continue
        if values.dtype.kind == "f" and (bad := int(np.count_nonzero(~np.isfinite(values)))):
            problems.append(f"{name} ({logical}): {bad} non-finite value(s) of {values.size}")
    if problems:
        raise NtupleError(
            f"ntuple {str(path)!r} holds values the analysis cannot use: {'; '.join(problems)}. The book refuses "
            "them rather than drop events silently: repair or remove those entries (or events) in the file, or map "
            "the logical name to another branch with 'branches:' in data/datasets.yaml"
        )


def read_events(source, *, branches: dict | None = None, tree: str = TREE, tracks: bool = False) -> ak.Array:
    """Read an ntuple into an awkward array with fields ``photon`` (E, theta, phi, mc_origin, and
    in_tag where the file has it), ``n_tracks``, ``ecl_energy`` where the file has it, and ``weight``;
    with ``tracks``, also ``track`` (p, theta, phi, charge, kaon_id, mc_pdgid, mc_origin, and where the
    file has them muon_id, proton_id, electron_id, d0, z0, in_tag); ``tag`` (mbc, delta_e, sigprob, px, py, pz and
    mc_correct) where the file has the hadronic tag's branches; and the truth branches ``mc_*`` where
    the file has them.

    Parameters
    ----------
    source : str, Path or Ntuple
        ROOT file; an :class:`Ntuple` multiplies its weights by its ``weight_scale``. A file whose
        weights are per unit of sigma x luminosity (the book's simulated samples) must be read
        through an :class:`Ntuple`: its bare weights are no dataset's.
    branches : dict, optional
        Overrides of :data:`DEFAULT_BRANCHES` (logical name -> branch name). None (the default)
        uses the book's own names.
    tree : str
        Name of the TTree, ``"events"`` by default.
    tracks : bool
        Read the tracks too (False by default).
    """
    mapping = dict(DEFAULT_BRANCHES)
    unknown = set(branches or {}) - set(mapping)
    if unknown:
        raise NtupleError(
            f"unknown logical branch name(s) {sorted(unknown)} in the mapping; known: {sorted(mapping)}"
        )
    mapping.update(branches or {})
    path, scale = _source(source)
    with _open(path) as f:
        if tree not in f:
            raise NtupleError(
                f"ntuple {str(path)!r} has no tree {tree!r}; it holds {sorted(k.split(';')[0] for k in f.keys())}"
            )
        if scale is None and "meta" in f and json.loads(str(f["meta"])).get("weights", "").startswith("per unit"):
            raise NtupleError(
                f"ntuple {str(path)!r} stores weights per unit of sigma x luminosity; read it as "
                "Ntuple(path, weight_scale=sigma_pb * luminosity_pb) (analysis_lib.analysis.samples.ntuple_paths does)"
            )
        t = f[tree]
        available = set(t.keys())
        if not tracks:
            mapping = {logical: name for logical, name in mapping.items() if not logical.startswith("track_")}
        missing = [
            f"{logical} -> {name!r}" for logical, name in mapping.items()
            if name not in available and logical not in _OPTIONAL
        ]
        if missing:
            raise NtupleError(
                f"ntuple {str(path)!r} lacks branch(es) {missing}; its branches are {sorted(available)}. "
                "Map the logical names to this file's branches with 'branches:' in data/datasets.yaml"
            )
        wanted = {logical: name for logical, name in mapping.items() if name in available}
        truth = sorted(name for name in available if name.startswith("mc_"))
        try:
            with timing.stage("reading"):
                arrays = t.arrays(list(wanted.values()) + truth, library="ak")
        except Exception as exc:
            raise NtupleError(
                f"ntuple {str(path)!r} could not be read ({type(exc).__name__}: {exc}); it is probably "
                "truncated: regenerate or copy it again"
            ) from exc
        if scale is None:  # read as stored (real ntuples, even copies of the book's; pseudo-data): checked
            check_values(path, arrays, wanted, empty_allowed="meta" in f)
    n = len(arrays)
    out = {}
    for collection, fields in _COLLECTIONS.items():
        if collection == "track" and not tracks:
            continue
        columns = {field: arrays[wanted[logical]] for logical, field in fields.items() if logical in wanted}
        if not columns:  # an optional group (the tag) the file does not have
            continue
        if collection == "tag":
            partial = [logical for logical in fields if logical not in wanted and logical != "tag_mc_correct"]
            if partial:
                raise NtupleError(
                    f"ntuple {str(path)!r} has some of the tag's branches but not {partial}; map them with 'branches:' "
                    "in data/datasets.yaml"
                )
        first = next(iter(columns.values()))
        for field in ("mc_origin", "mc_pdgid"):
            if f"{collection}_{field}" in fields and field not in columns:  # real data: no truth
                columns[field] = ak.values_astype(ak.zeros_like(first), np.int32) - 1 + (field == "mc_pdgid")
        out[collection] = ak.zip(columns)
    out["n_tracks"] = arrays[wanted["n_tracks"]]
    if "ecl_energy" in wanted:
        out["ecl_energy"] = arrays[wanted["ecl_energy"]]
    weight = arrays[wanted["weight"]] if "weight" in wanted else np.ones(n)
    out["weight"] = weight * scale if scale not in (None, 1.0) else weight
    out.update({name: arrays[name] for name in truth})
    return ak.zip(out, depth_limit=1)
