"""B-meson candidates at the Upsilon(4S) from reconstructed tracks and photons.

The two standard B-factory variables, in the centre-of-mass frame (E*_beam = sqrt(s) / 2):

* the beam-energy-substituted mass m_ES = sqrt(E*_beam^2 - |p*_B|^2), which peaks at m_B with the
  resolution of the beam energy and of the momentum (:func:`m_es`);
* the energy difference Delta E = E*_B - E*_beam, which peaks at 0 with the resolution of the
  measured energies (:func:`delta_e`)

(e.g. BaBar, "The BABAR physics book", SLAC-R-504, and every B-factory B-decay analysis).

:func:`k_gamma_gamma_candidates` builds every B -> K gamma gamma candidate of each event: a track
identified as a kaon and a pair of photon candidates. Four-vectors of objects are ``vector``
records; every photon and kaon goes to the centre-of-mass frame once, through the experiment's
:class:`Frame` (crossing angle included), and the candidates are sums of those.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from ..core.constants import mass_gev
from ..detector.experiments import Beams
from ..detector.frames import Frame

__all__ = ["best_candidate", "delta_e", "k_gamma_gamma_candidates", "m_es", "partner_mass_distance", "photon_vectors",
           "track_vectors"]

vector.register_awkward()

K_MASS = mass_gev(321)


def m_es(p_cm, e_beam_gev):
    """Beam-energy-substituted mass (GeV) from centre-of-mass momenta ``p_cm`` (..., 3); 0 where
    |p*| exceeds the beam energy."""
    p2 = np.sum(np.square(p_cm), axis=-1)
    return np.sqrt(np.clip(e_beam_gev**2 - p2, 0, None))


def delta_e(e_cm, e_beam_gev):
    """Energy difference Delta E = E*_B - E*_beam (GeV)."""
    return np.asarray(e_cm) - e_beam_gev


def photon_vectors(photon):
    """Lab four-vectors of photon candidates (massless) with fields E, theta, phi."""
    sin = np.sin(photon.theta)
    return ak.zip({"px": photon.E * sin * np.cos(photon.phi), "py": photon.E * sin * np.sin(photon.phi),
                   "pz": photon.E * np.cos(photon.theta), "E": photon.E}, with_name="Momentum4D")


def track_vectors(track, mass_gev_track):
    """Lab four-vectors of tracks (fields p, theta, phi) under a mass hypothesis."""
    sin = np.sin(track.theta)
    return ak.zip({"px": track.p * sin * np.cos(track.phi), "py": track.p * sin * np.sin(track.phi),
                   "pz": track.p * np.cos(track.theta), "E": np.sqrt(track.p**2 + mass_gev_track**2)},
                  with_name="Momentum4D")


def _cm_table(frame, v):
    """Centre-of-mass (E, px, py, pz) of every object of a jagged Momentum4D array, as flat numpy
    (n, 4), and the offset of each event's first object in it."""
    flat = ak.flatten(v)
    p4 = np.stack([ak.to_numpy(flat.E), ak.to_numpy(flat.px), ak.to_numpy(flat.py), ak.to_numpy(flat.pz)], axis=-1)
    counts = ak.to_numpy(ak.num(v))
    return frame.to_cm(p4.reshape(-1, 4)), np.cumsum(counts) - counts


def k_gamma_gamma_candidates(events, beams: Beams, *, photon_e_min_gev: float = 0.0, m_es_min_gev: float | None = None,
                             delta_e_max_gev: float | None = None):
    """Every K gamma gamma candidate of each event (kaon-identified track x photon pair), or those
    with m_ES above ``m_es_min_gev`` and |Delta E| below ``delta_e_max_gev`` (the same candidates as
    cutting the returned ones, with the other variables computed only for these: most of the
    combinatorics of a busy event fails the loose cuts).

    Parameters
    ----------
    events : awkward.Array
        Reconstructed events with ``photon`` (E, theta, phi) and ``track`` (p, theta, phi, charge,
        kaon_id) lists.
    beams : Beams
        The collider, for the centre-of-mass frame and E*_beam.
    photon_e_min_gev : float
        Lab energy below which photons are not used (0 by default).
    m_es_min_gev, delta_e_max_gev : float, optional
        Loose cuts applied before the other variables are computed (None: no cut).

    Returns
    -------
    awkward.Array
        Per event a list of candidates with ``m_es``, ``delta_e``, ``m_gg`` (GeV), ``m_gg_fit`` (the
        photon energies scaled so that Delta E = 0: the energy-constrained mass, since the photon
        energies dominate the Delta E resolution), ``cos_theta_b`` (B direction to the beam axis,
        centre-of-mass frame), ``k``, ``g1``, ``g2`` (indices of the kaon and photons in their lists),
        ``charge``, ``p_k_cm`` and ``e_g1_cm``, ``e_g2_cm`` (centre-of-mass energies, g1 the harder),
        and ``cos_helicity`` (|cos| of the photon angle in the gamma gamma rest frame to the gamma gamma
        direction; flat for a spin-0 resonance).
    """
    frame = Frame(beams)
    e_beam = beams.sqrt_s_gev / 2
    photon_index = ak.local_index(events.photon.E)[events.photon.E > photon_e_min_gev]
    kaon_index = ak.local_index(events.track.p)[events.track.kaon_id]
    pairs = ak.combinations(photon_index, 2, fields=["g1", "g2"])
    combos = ak.cartesian({"k": kaon_index, "pair": pairs})
    counts = ak.to_numpy(ak.num(combos.k))
    # every photon and kaon to the centre-of-mass frame once; candidates index into those tables
    photons_cm, photon_start = _cm_table(frame, photon_vectors(events.photon))
    kaons_cm, kaon_start = _cm_table(frame, track_vectors(events.track, K_MASS))
    index = {"k": ak.to_numpy(ak.flatten(combos.k)), "g1": ak.to_numpy(ak.flatten(combos.pair.g1)),
             "g2": ak.to_numpy(ak.flatten(combos.pair.g2))}
    event = np.repeat(np.arange(len(counts)), counts)
    cm = {"k": kaons_cm[index["k"] + kaon_start[event]], "g1": photons_cm[index["g1"] + photon_start[event]],
          "g2": photons_cm[index["g2"] + photon_start[event]]}
    b_cm = cm["k"] + cm["g1"] + cm["g2"]
    if m_es_min_gev is not None or delta_e_max_gev is not None:
        keep = np.ones(len(event), dtype=bool)
        if m_es_min_gev is not None:
            keep &= m_es(b_cm[:, 1:], e_beam) > m_es_min_gev
        if delta_e_max_gev is not None:
            keep &= np.abs(delta_e(b_cm[:, 0], e_beam)) < delta_e_max_gev
        index, cm, b_cm, event = ({k: v[keep] for k, v in index.items()}, {k: v[keep] for k, v in cm.items()},
                                  b_cm[keep], event[keep])
        counts = np.bincount(event, minlength=len(counts))
    gg_cm = cm["g1"] + cm["g2"]
    m_gg = np.sqrt(np.clip(gg_cm[:, 0] ** 2 - np.sum(gg_cm[:, 1:] ** 2, axis=1), 0, None))
    scale = (e_beam - cm["k"][:, 0]) / np.maximum(gg_cm[:, 0], 1e-9)
    p_b = np.linalg.norm(b_cm[:, 1:], axis=1)
    # helicity angle of massless photons: in the gamma gamma rest frame each has m/2, and boosting
    # back gives E1 - E2 = |p_gg| cos(theta*) (derived here; the pi0 energy asymmetry)
    cos_helicity = np.clip(np.abs(cm["g1"][:, 0] - cm["g2"][:, 0]) / np.maximum(
        np.linalg.norm(gg_cm[:, 1:], axis=1), 1e-12), 0, 1)
    harder_first = cm["g1"][:, 0] >= cm["g2"][:, 0]
    flat = {
        "m_es": m_es(b_cm[:, 1:], e_beam),
        "delta_e": delta_e(b_cm[:, 0], e_beam),
        "m_gg": m_gg,
        "m_gg_fit": m_gg * np.clip(scale, 0, None),
        "cos_theta_b": b_cm[:, 3] / np.maximum(p_b, 1e-12),
        "p_k_cm": np.linalg.norm(cm["k"][:, 1:], axis=1),
        "e_g1_cm": np.where(harder_first, cm["g1"][:, 0], cm["g2"][:, 0]),
        "e_g2_cm": np.where(harder_first, cm["g2"][:, 0], cm["g1"][:, 0]),
        "cos_helicity": cos_helicity,
        "k": index["k"],
        "g1": index["g1"],
        "g2": index["g2"],
        "charge": ak.to_numpy(ak.flatten(events.track.charge))[index["k"] + kaon_start[event]],
    }
    return ak.unflatten(ak.zip(flat), counts)


def best_candidate(candidates):
    """One candidate per event, the one with the smallest |Delta E| (None for events without one)."""
    best = ak.argmin(np.abs(candidates.delta_e), axis=1, keepdims=True)
    return ak.firsts(candidates[best])


def partner_mass_distance(photons, photon, others, mass_gev_target: float, *, none: float = 1.0):
    """Per event, |m(gamma gamma') - m_target| of the photon flagged by ``photon`` with its best
    partner among the photons flagged by ``others`` (``none`` where there is no partner): the
    pi0 or eta veto variable of a photon."""
    mine = ak.firsts(photons[photon])
    distance = np.abs((photons[others] + mine).mass - mass_gev_target)
    return ak.to_numpy(ak.fill_none(ak.min(distance, axis=1), none))
