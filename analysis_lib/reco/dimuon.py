"""Two muons and missing energy: the candidate of an event and its recoil observables.

Shared by the chapters whose final state is a mu+ mu- pair and nothing else seen. From ntuple
events (read with tracks) it takes the two tracks of events with exactly two, and computes in the
centre-of-mass frame the dimuon system and the system recoiling against it,

    p_recoil = (sqrt(s), 0) - p(mu+) - p(mu-),    M_recoil^2 = p_recoil^2,

where M_recoil^2 can be negative after momentum smearing (it is kept: at low recoil masses it is
the observable). Tracks are given the muon mass. Everything else a selection needs (charges, muon
identification, extra photons, trigger) is carried along per event; :data:`PRESELECTION` is the
preselection both chapters of this final state apply, a model of the Belle II searches' (their
exact cuts are not all public).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import awkward as ak
import numpy as np

from ..core.cache import content_key, shared_result
from ..core.constants import mass_gev
from ..core.errors import NtupleError
from ..core.kinematics import direction_from_angles
from ..detector.datasets import Dataset
from ..detector.frames import Frame
from ..io.ntuple import Ntuple, read_events, read_meta
from .selection import Cut, CutFlow, subset

__all__ = ["MUON_MASS_GEV", "PRESELECTION", "TRIGGER_EFFICIENCY", "RecoilCandidates", "candidates", "preselect", "skim"]

MUON_MASS_GEV = mass_gev(13)

#: Two-track trigger of the central drift chamber: two tracks above 0.3 GeV transverse momentum,
#: with a flat efficiency (a model of the CDC trigger; the paper's value is not public to us).
TRIGGER_PT_MIN_GEV = 0.3
TRIGGER_EFFICIENCY = 0.95
PHOTON_VETO_GEV = 0.1
#: Largest calorimeter energy not matched to the muons (GeV, lab): vetoes photons that deposited
#: energy without making a photon candidate.
ECL_ENERGY_MAX_GEV = 0.4
#: Lab polar-angle range of the recoil momentum: the barrel calorimeter (32.2-128.7 degrees) one
#: degree inside its edges, away from the gaps where a photon escapes unseen.
RECOIL_BARREL_DEG = (33.2, 127.7)
PT_MIN_GEV = 0.3


@dataclass(frozen=True)
class RecoilCandidates:
    """One row per event with exactly two tracks (other events are dropped by :func:`candidates`).

    Arrays per event: ``mu_cm`` (n, 2, 4) centre-of-mass four-momenta (track 0, track 1, as the
    ntuple orders them), ``p_lab`` and ``theta_lab`` (n, 2) lab momenta and polar angles,
    ``charge`` and ``muon_id`` (n, 2), ``pt_lab`` (n, 2) transverse momenta, ``recoil_mass2``
    (GeV^2), ``recoil_cos_cm``, ``recoil_theta_lab`` (radians; the lab direction of the recoil
    momentum), ``mass`` (the dimuon mass, GeV), ``pt_cm`` (dimuon transverse momentum, c.m.),
    ``n_photons`` and ``photon_energy`` (photon candidates above the extra-photon threshold and
    their summed energy, lab), ``ecl_energy`` (calorimeter energy not matched to a track, lab),
    ``origin`` (n, 2) truth codes (-1 for data) and ``weight``.
    """

    mu_cm: np.ndarray
    p_lab: np.ndarray
    theta_lab: np.ndarray
    pt_lab: np.ndarray
    charge: np.ndarray
    muon_id: np.ndarray
    recoil_mass2: np.ndarray
    recoil_cos_cm: np.ndarray
    recoil_theta_lab: np.ndarray
    mass: np.ndarray
    pt_cm: np.ndarray
    n_photons: np.ndarray
    photon_energy: np.ndarray
    ecl_energy: np.ndarray
    origin: np.ndarray
    weight: np.ndarray
    sqrt_s: float

    def __len__(self):
        return len(self.weight)

    def table(self) -> dict:
        """Per-event features by name (for classifiers and plots): the observables and the muon
        momenta ordered by size."""
        p_cm = np.linalg.norm(self.mu_cm[..., 1:], axis=-1)
        return {
            "recoil_mass2": self.recoil_mass2, "recoil_cos_cm": self.recoil_cos_cm, "mass": self.mass,
            "pt_cm": self.pt_cm, "p_max_cm": p_cm.max(axis=1), "p_min_cm": p_cm.min(axis=1),
            "cos_mumu_cm": _cos_between(self.mu_cm[:, 0, 1:], self.mu_cm[:, 1, 1:]),
            "acoplanarity": _acoplanarity(self.mu_cm),
        }


def _cos_between(a, b):
    return np.sum(a * b, axis=-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)


def _acoplanarity(p4):
    """pi minus the azimuthal opening angle of the two muons (0 for back to back in phi)."""
    phi = np.arctan2(p4[..., 2], p4[..., 1])
    dphi = np.abs(phi[:, 0] - phi[:, 1])
    return np.pi - np.minimum(dphi, 2 * np.pi - dphi)


def candidates(events, ds: Dataset, *, photon_threshold_gev: float = 0.1) -> RecoilCandidates:
    """The two-track candidates of ntuple events (read with ``tracks=True``); events without exactly
    two tracks are dropped. ``photon_threshold_gev`` (0.1 GeV by default, lab) defines the extra
    photons counted in ``n_photons``."""
    track = events["track"]
    if "muon_id" not in track.fields:
        raise NtupleError(
            "the ntuple has no muon identification per track (logical branch 'track_muon_id'); map it to the "
            "file's branch with 'branches:' in data/datasets.yaml"
        )
    if "ecl_energy" not in events.fields:
        raise NtupleError(
            "the ntuple has no unmatched calorimeter energy (logical branch 'ecl_energy'); map it to the file's "
            "branch with 'branches:' in data/datasets.yaml"
        )
    two = ak.to_numpy(ak.num(track) == 2)
    t = track[two]
    p = ak.to_numpy(t["p"]).astype(float)
    theta = ak.to_numpy(t["theta"]).astype(float)
    phi = ak.to_numpy(t["phi"]).astype(float)
    energy = np.sqrt(p**2 + MUON_MASS_GEV**2)
    p4_lab = np.concatenate([energy[..., None], direction_from_angles(np.cos(theta), phi) * p[..., None]], axis=-1)
    frame = Frame(ds.experiment.beams)
    mu_cm = frame.to_cm(p4_lab)
    sqrt_s = ds.experiment.sqrt_s_gev
    recoil = np.array([sqrt_s, 0.0, 0.0, 0.0]) - mu_cm.sum(axis=1)
    recoil_p = np.linalg.norm(recoil[:, 1:], axis=1)
    pair = mu_cm.sum(axis=1)
    e_minus, e_plus = ds.experiment.beams.four_momenta()
    recoil_lab = (e_minus + e_plus) - p4_lab.sum(axis=1)
    photon = events["photon"][two]
    extra = photon["E"] > photon_threshold_gev
    origin = ak.to_numpy(t["mc_origin"]).astype(np.int32)
    return RecoilCandidates(
        mu_cm=mu_cm, p_lab=p, theta_lab=theta, pt_lab=p * np.sin(theta),
        charge=ak.to_numpy(t["charge"]).astype(int), muon_id=ak.to_numpy(t["muon_id"]).astype(bool),
        recoil_mass2=recoil[:, 0] ** 2 - recoil_p**2,
        recoil_cos_cm=recoil[:, 3] / np.maximum(recoil_p, 1e-12),
        recoil_theta_lab=np.arccos(np.clip(recoil_lab[:, 3] / np.maximum(np.linalg.norm(recoil_lab[:, 1:], axis=1),
                                                                           1e-12), -1, 1)),
        mass=np.sqrt(np.clip(pair[:, 0] ** 2 - np.sum(pair[:, 1:] ** 2, axis=1), 0, None)),
        pt_cm=np.hypot(pair[:, 1], pair[:, 2]),
        n_photons=ak.to_numpy(ak.sum(extra, axis=1)),
        photon_energy=ak.to_numpy(ak.sum(photon["E"][extra], axis=1)),
        ecl_energy=ak.to_numpy(events["ecl_energy"][two]).astype(float),
        origin=origin, weight=ak.to_numpy(events["weight"][two]).astype(float), sqrt_s=sqrt_s,
    )


def skim(events):
    """Loose skim before writing: exactly two tracks, of opposite charge."""
    track = events["track"]
    return ak.to_numpy((ak.num(track) == 2) & (ak.sum(track["charge"], axis=1) == 0))


def _trigger(c: RecoilCandidates):
    return np.all(c.pt_lab > TRIGGER_PT_MIN_GEV, axis=1)


def _in_barrel(c: RecoilCandidates):
    theta = np.degrees(c.recoil_theta_lab)
    return (theta > RECOIL_BARREL_DEG[0]) & (theta < RECOIL_BARREL_DEG[1])


#: The preselection of the two-muon plus missing-energy final state (trigger efficiency applied as a
#: weight by :func:`preselect`).
PRESELECTION = CutFlow([
    Cut("trigger", _trigger, f"two tracks with p_T > {TRIGGER_PT_MIN_GEV} GeV (efficiency {TRIGGER_EFFICIENCY})"),
    Cut("opposite charges", lambda c: c.charge.sum(axis=1) == 0, "two tracks of opposite charge"),
    Cut("muon ID", lambda c: np.all(c.muon_id, axis=1), "both tracks identified as muons"),
    Cut("photon veto", lambda c: (c.n_photons == 0) & (c.ecl_energy < ECL_ENERGY_MAX_GEV),
        f"no photon candidate above {PHOTON_VETO_GEV} GeV, unmatched calorimeter energy < {ECL_ENERGY_MAX_GEV} GeV"),
    Cut("recoil in barrel", _in_barrel,
        f"recoil momentum at {RECOIL_BARREL_DEG[0]}-{RECOIL_BARREL_DEG[1]} degrees (lab)"),
    Cut("dimuon p_T", lambda c: c.pt_cm > PT_MIN_GEV, f"dimuon p_T > {PT_MIN_GEV} GeV (c.m.)"),
])


def preselect(path, ds: Dataset, *, simulated: bool, generated_events: float | None = None, cache_dir=None):
    """Preselected candidates of one ntuple (read with tracks) and its cut flow. Simulated events are weighted by the
    trigger efficiency from the trigger cut on; ``generated_events`` (sigma L) heads the table.

    With ``cache_dir``, a sample of the book's simulation (an :class:`~analysis_lib.io.ntuple.Ntuple`
    with a weight scale) is preselected once, at unit weight scale, and kept there under a key of the
    file and the code: every run that reads the sample (another luminosity, the other two-muon
    search) scales the stored candidates and cut flow by its own weights instead of reading the
    ntuple again (the weights enter both linearly)."""
    import pandas as pd

    scale = getattr(path, "weight_scale", None)
    file_key = read_meta(path).get("cache_key") if cache_dir is not None and scale is not None else None
    if file_key:
        key = content_key(file_key, ds.branches, repr(ds.experiment), simulated)
        c, flow = shared_result(cache_dir, f"preselected_{Path(path).stem}", key,
                                partial(_preselect, Ntuple(path.path, weight_scale=1.0), ds, simulated))
        c = replace(c, weight=c.weight * scale)
        flow = flow.assign(events=flow["events"] * scale)
    else:
        c, flow = _preselect(path, ds, simulated)
    if generated_events is not None:
        head = pd.DataFrame([{"cut": "produced", "description": "sigma x luminosity", "events": generated_events}])
        flow = pd.concat([head, flow], ignore_index=True)
    flow["efficiency"] = flow["events"] / flow["events"].iloc[0]
    return c, flow


def _preselect(path, ds, simulated):
    """The preselected candidates and the cut flow (without efficiencies) of one ntuple."""
    events = read_events(path, branches=ds.branches, tracks=True)
    c = candidates(events, ds, photon_threshold_gev=PHOTON_VETO_GEV)
    mask, flow = PRESELECTION.apply(c, weights=c.weight)
    flow.loc[0, ["cut", "description"]] = ["two tracks", "exactly two tracks (skim: of opposite charge)"]
    if simulated:
        flow.loc[1:, "events"] *= TRIGGER_EFFICIENCY
        c = replace(c, weight=c.weight * TRIGGER_EFFICIENCY)
    return subset(c, mask), flow
