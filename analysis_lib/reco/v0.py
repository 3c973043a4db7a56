"""Neutral two-prong decays in flight ("V0"): Lambda -> p pi- and K_S -> pi+ pi- from two tracks.

A track is the straight line its helix parameters describe near the beam (the book's tracks are
straight, see :class:`~analysis_lib.detector.experiments.Tracker`): it passes the point of closest
approach to the beam line, (d0 sin phi, -d0 cos phi, z0), along its momentum direction (theta,
phi). A V0 candidate is a pair of oppositely charged tracks; its vertex is the midpoint of their
segment of closest approach and its quality the length of that segment (the distance of closest
approach, DOCA). The variables a B-factory V0 selection uses (e.g. Belle's Lambda and K_S
selections: a displaced vertex, daughters that miss the beam, a momentum that points back to it):

* ``mass``: the pair's invariant mass with the two mass hypotheses (its resolution comes from the
  tracks' momenta alone in the book's detector models, which keep their directions: a few tenths
  of a MeV for a Lambda, narrower than in real data, where the directions' resolution adds to it);
* ``flight_mm``: the vertex's transverse distance from the beam line;
* ``doca_mm``: the distance of closest approach of the two tracks;
* ``cos_pointing``: the cosine of the transverse angle between the vertex's position and the pair's
  momentum (1 for a particle from the collision point);
* ``p``, ``theta``, ``phi`` and ``px``, ``py``, ``pz``: the pair's lab momentum;
* the indices of the two tracks, ``positive`` and ``negative``.

:func:`lambda_candidates` builds Lambda (p pi-) and Lambda-bar (p-bar pi+) candidates from every
pair, the proton identified.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from ..core.constants import mass_gev
from ..core.errors import ParameterError

__all__ = ["LambdaSelection", "V0_FIELDS", "closest_approach", "lambda_candidates", "track_lines", "v0_candidates"]


def track_lines(track):
    """Point of closest approach to the beam line and unit direction of every track (fields ``d0``,
    ``z0``, ``theta``, ``phi``): two awkward arrays of records x, y, z."""
    sin_t = np.sin(track.theta)
    point = ak.zip({"x": track.d0 * np.sin(track.phi), "y": -track.d0 * np.cos(track.phi), "z": track.z0})
    direction = ak.zip({"x": sin_t * np.cos(track.phi), "y": sin_t * np.sin(track.phi), "z": np.cos(track.theta)})
    return point, direction


def closest_approach(a, u, b, v):
    """Closest approach of the lines a + s u and b + t v (u, v unit vectors; arrays (..., 3)): the
    midpoint of the segment joining their closest points, and its length. Derived here: minimising
    |a + s u - b - t v|^2 gives s = (uv d2 - d1) / (1 - uv^2), t = (d2 - uv d1) / (1 - uv^2), with
    uv = u.v, d1 = u.(a - b), d2 = v.(a - b). Parallel lines: the midpoint of a and its projection on
    the other line."""
    a, u, b, v = (np.asarray(x, dtype=float) for x in (a, u, b, v))
    w = a - b
    uv = np.sum(u * v, axis=-1)
    d1, d2 = np.sum(u * w, axis=-1), np.sum(v * w, axis=-1)
    denominator = 1 - uv**2
    parallel = denominator < 1e-12
    safe = np.where(parallel, 1.0, denominator)
    s = np.where(parallel, 0.0, (uv * d2 - d1) / safe)
    t = np.where(parallel, d2, (d2 - uv * d1) / safe)
    p1 = a + s[..., None] * u
    p2 = b + t[..., None] * v
    return 0.5 * (p1 + p2), np.linalg.norm(p1 - p2, axis=-1)


def _xyz(records):
    return np.stack([ak.to_numpy(records.x), ak.to_numpy(records.y), ak.to_numpy(records.z)], axis=-1)


def v0_candidates(track, *, positive_mass_gev: float, negative_mass_gev: float):
    """Every pair of a positive and a negative track of each event as a V0 candidate (the variables
    of the module docstring), the positive track with mass ``positive_mass_gev`` and the negative
    one with ``negative_mass_gev``: one list of candidates per event."""
    index = ak.local_index(track.p)
    tracks = ak.with_field(track, index, "index")
    pairs = ak.cartesian({"pos": tracks[tracks.charge > 0], "neg": tracks[tracks.charge < 0]}, axis=1)
    counts = ak.num(pairs)
    flat = ak.flatten(pairs)
    pos, neg = flat.pos, flat.neg
    point_p, dir_p = track_lines(pos)
    point_n, dir_n = track_lines(neg)
    dir_p, dir_n = _xyz(dir_p), _xyz(dir_n)
    vertex, doca = closest_approach(_xyz(point_p), dir_p, _xyz(point_n), dir_n)
    p_pos, p_neg = ak.to_numpy(pos.p)[:, None] * dir_p, ak.to_numpy(neg.p)[:, None] * dir_n
    momentum = p_pos + p_neg
    energy = (np.sqrt(np.sum(p_pos**2, axis=1) + positive_mass_gev**2)
              + np.sqrt(np.sum(p_neg**2, axis=1) + negative_mass_gev**2))
    mass = np.sqrt(np.clip(energy**2 - np.sum(momentum**2, axis=1), 0, None))
    flight = np.hypot(vertex[:, 0], vertex[:, 1])
    pt = np.hypot(momentum[:, 0], momentum[:, 1])
    cos_pointing = np.where(
        (flight > 0) & (pt > 0),
        (vertex[:, 0] * momentum[:, 0] + vertex[:, 1] * momentum[:, 1]) / np.maximum(flight * pt, 1e-300),
        1.0,
    )
    p = np.linalg.norm(momentum, axis=1)
    columns = {
        "mass": mass, "flight_mm": flight, "doca_mm": doca, "cos_pointing": cos_pointing, "p": p,
        "theta": np.arccos(np.clip(momentum[:, 2] / np.maximum(p, 1e-300), -1, 1)),
        "phi": np.arctan2(momentum[:, 1], momentum[:, 0]),
        "px": momentum[:, 0], "py": momentum[:, 1], "pz": momentum[:, 2],
        "vx": vertex[:, 0], "vy": vertex[:, 1], "vz": vertex[:, 2],
        "positive": ak.to_numpy(pos.index), "negative": ak.to_numpy(neg.index),
    }
    return ak.unflatten(ak.zip(columns), counts)


#: Track fields a V0 needs (branches track_d0, track_z0 of the ntuples) and a Lambda's proton identification.
V0_FIELDS = ("p", "theta", "phi", "charge", "d0", "z0")


def _require(track, fields):
    missing = [f for f in fields if f not in track.fields]
    if missing:
        raise ParameterError(
            f"the tracks lack {missing} (ntuple branches track_{', track_'.join(missing)}); Lambda and K_S "
            "candidates need the impact parameters and the proton identification: map them with 'branches:' in "
            "data/datasets.yaml"
        )


def lambda_candidates(track, *, proton_id: bool = True):
    """Lambda -> p pi- and Lambda-bar -> p-bar pi+ candidates from every oppositely charged pair of
    each event (:func:`v0_candidates`; field ``anti`` True for Lambda-bar); with ``proton_id`` the
    proton track must be identified as a proton (field ``proton_id`` of the tracks)."""
    _require(track, V0_FIELDS + (("proton_id",) if proton_id else ()))
    m_p, m_pi = mass_gev(2212), mass_gev(211)
    particle = v0_candidates(track, positive_mass_gev=m_p, negative_mass_gev=m_pi)
    anti = v0_candidates(track, positive_mass_gev=m_pi, negative_mass_gev=m_p)
    particle = ak.with_field(particle, ak.zeros_like(particle.mass, dtype=bool), "anti")
    anti = ak.with_field(anti, ak.ones_like(anti.mass, dtype=bool), "anti")
    if proton_id:
        particle = particle[track.proton_id[particle.positive]]
        anti = anti[track.proton_id[anti.negative]]
    return ak.concatenate([particle, anti], axis=1)


@dataclass(frozen=True)
class LambdaSelection:
    """Requirements on Lambda candidates: |m(p pi) - m_Lambda| below ``mass_window_gev``, a
    transverse flight distance above a minimum that grows with the candidate's momentum
    (``min_flight_mm`` for p below 0.5 GeV, 0.5-1.5 GeV and above), the daughters' distance of closest
    approach below ``max_doca_mm`` and the momentum pointing back to the beam line
    (``min_cos_pointing``). The flight and pointing requirements are those of Belle's Lambda
    selection (K. F. Chen et al., Belle note 684, as reproduced by the ``goodBelleLambda`` variable of
    Belle II's software, its selection with proton identification: 1.1, 1.6 and 2.2 mm, an azimuthal
    pointing within about 0.1 rad); the mass window and the DOCA are this book's (several times the
    model's mass resolution, and the drift chamber's half millimetre)."""

    mass_window_gev: float = 0.005
    min_flight_mm: tuple[float, float, float] = (1.1, 1.6, 2.2)
    max_doca_mm: float = 2.0
    min_cos_pointing: float = 0.995

    def __post_init__(self):
        values = (self.mass_window_gev, *self.min_flight_mm, self.max_doca_mm, self.min_cos_pointing)
        if not all(np.isfinite(v) and v >= 0 for v in values) or self.min_cos_pointing > 1:
            raise ParameterError(f"{self}: every requirement must be a finite number >= 0 (cos pointing at most 1)")

    def passes(self, candidates):
        """Which ``candidates`` (of :func:`lambda_candidates`) pass (the same jagged structure)."""
        low, middle, high = self.min_flight_mm
        flight_min = ak.where(candidates.p < 0.5, low, ak.where(candidates.p < 1.5, middle, high))
        return ((abs(candidates.mass - mass_gev(3122)) < self.mass_window_gev) & (candidates.flight_mm > flight_min)
                & (candidates.doca_mm < self.max_doca_mm) & (candidates.cos_pointing > self.min_cos_pointing))
