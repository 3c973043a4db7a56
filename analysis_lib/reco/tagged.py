"""The signal side of an event with a hadronically reconstructed B (the tag; see
:mod:`analysis_lib.simulation.tagging`, or the branches ``tag_*`` and ``*_in_tag`` of real ntuples).

* The rest of the event (ROE): the tracks and photon candidates the tag did not use
  (:func:`rest_of_event`).
* The signal B's frame: its momentum is the tag's reversed in the centre-of-mass frame and its energy
  the beam energy, sqrt(s) / 2 (the beam-energy substitution of m_bc: the B's momentum is measured
  by the tag, its energy known from the beams), so its velocity is -p_tag / E_beam
  (:func:`signal_b_velocity`); :func:`momentum_in_signal_frame` boosts a signal-side particle there.
* The residual calorimeter energy E_ECL: the energy of the calorimeter clusters that neither the tag
  nor a track used, candidates or not (the unmatched energy ``ecl_energy`` less the tag's photon
  candidates, :func:`residual_energy`); a signal-side selection subtracts what its own candidates
  used. For a signal without neutral particles it holds beam background and split-offs only.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from ..core.errors import ParameterError
from ..core.kinematics import boost
from ..detector.experiments import Beams
from ..detector.frames import Frame

__all__ = ["momentum_in_signal_frame", "residual_energy", "rest_of_event", "signal_b_velocity"]


def _require_tag(events, *, tracks: bool):
    missing = [] if "tag" in events.fields else ["tag_mbc", "tag_px", "tag_py", "tag_pz"]
    if "in_tag" not in events.photon.fields:
        missing.append("photon_in_tag")
    if tracks and ("track" not in events.fields or "in_tag" not in events.track.fields):
        missing.append("track_in_tag")
    if missing:
        raise ParameterError(
            f"the events have no hadronic tag (missing {missing}): simulate the samples with hadronic_tag=True, or "
            "map the ntuple's tag branches with 'branches:' in data/datasets.yaml"
        )


def rest_of_event(events):
    """The tracks and the photon candidates the tag did not use: (tracks, photons), jagged."""
    _require_tag(events, tracks=True)
    return events.track[~events.track.in_tag], events.photon[~events.photon.in_tag]


def residual_energy(events) -> np.ndarray:
    """E_ECL in GeV: the unmatched calorimeter energy (branch ``ecl_energy``: clusters not matched to
    a track, candidates or not) less the energy of the tag's photon candidates."""
    _require_tag(events, tracks=False)
    if "ecl_energy" not in events.fields:
        raise ParameterError("E_ECL needs the unmatched calorimeter energy (branch ecl_energy) in the ntuples")
    used = ak.to_numpy(ak.sum(events.photon.E[events.photon.in_tag], axis=1))
    return np.clip(ak.to_numpy(events.ecl_energy) - used, 0.0, None)


def signal_b_velocity(events, beams: Beams) -> np.ndarray:
    """Velocity (n, 3) of the signal B in the centre-of-mass frame: -p_tag / E_beam."""
    _require_tag(events, tracks=False)
    p_tag = np.stack([ak.to_numpy(events.tag[c]) for c in ("px", "py", "pz")], axis=-1)
    return -p_tag / (beams.sqrt_s_gev / 2)


def momentum_in_signal_frame(p_lab, mass_gev: float, beta_signal, beams: Beams) -> np.ndarray:
    """Momentum (GeV) in the signal B's frame of particles with lab momenta ``p_lab`` (n, 3) and mass
    ``mass_gev``, one per event, the signal B moving with ``beta_signal`` (n, 3) in the centre-of-mass
    frame (:func:`signal_b_velocity`)."""
    p_lab = np.asarray(p_lab, dtype=float)
    p4 = np.concatenate([np.sqrt(np.sum(p_lab**2, axis=-1, keepdims=True) + mass_gev**2), p_lab], axis=-1)
    in_b = boost(Frame(beams).to_cm(p4), -np.asarray(beta_signal, dtype=float))
    return np.linalg.norm(in_b[..., 1:], axis=-1)
