"""Two muons and missing energy: the candidate of an event and its recoil observables.

Shared by the chapters whose final state is a mu+ mu- pair and nothing else seen. From ntuple
events (read with tracks) it takes the two tracks of events with exactly two, and computes in the
centre-of-mass frame the dimuon system and the system recoiling against it,

    p_recoil = (sqrt(s), 0) - p(mu+) - p(mu-),    M_recoil^2 = p_recoil^2,

where M_recoil^2 can be negative after momentum smearing (it is kept: at low recoil masses it is
the observable). Tracks are given the muon mass. Everything else a selection needs (charges, muon
identification, extra photons, trigger) is carried along per event.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from .constants import mass_gev
from .datasets import Dataset
from .errors import NtupleError
from .kinematics import direction_from_angles
from .simulation.generators import Frame

__all__ = ["MUON_MASS_GEV", "RecoilCandidates", "candidates"]

MUON_MASS_GEV = mass_gev(13)


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
