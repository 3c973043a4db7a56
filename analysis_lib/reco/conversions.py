"""Photon conversions among an event's tracks: pairs of oppositely charged tracks that leave a common
point in the material parallel to each other.

Paired as if from the collision point, a conversion's two tracks open by the turn they took on the
way in and show tens of MeV (:mod:`analysis_lib.detector.helix`). Their circles in the transverse
plane touch where they were made; measured, they cross or miss by about the tracks' position
resolution there (their d0 and direction resolutions), and are taken to touch within
:data:`~analysis_lib.detector.helix.TOUCHING_SIGNIFICANCE` of it
(:func:`~analysis_lib.detector.helix.meeting_momenta`). At the meeting point the tracks are then
parallel and the pair's mass there, with the electron mass hypothesis, is about 2 m_e; a pair made at
the collision point meets at the beam line with its own opening. A pair is a conversion candidate
when it meets at least ``min_radius_mm`` from the beam line with a mass there below ``max_mass_gev``;
a decay in flight (a dark photon's, a K_S's) meets where it was made but keeps its mass there. The
longitudinal coordinates are not used (a model's simplification: a real conversion finder also asks
the tracks to meet in z). d0 has the book's sign (:mod:`analysis_lib.detector.helix`); real ntuples
of the opposite convention must flip it in their branch mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from ..core.constants import mass_gev
from ..core.errors import NtupleError, ParameterError
from ..detector.helix import field_tesla, meeting_momenta
from ..detector.material import track_resolutions

__all__ = ["ConversionPairs", "conversion_pairs"]

_FIELDS = ("p", "theta", "phi", "charge", "d0")


@dataclass(frozen=True)
class ConversionPairs:
    """Every oppositely charged pair of tracks of each event, at the point their circles meet.

    Attributes
    ----------
    radius_mm, mass_gev : ndarray (pairs,)
        The meeting point's distance from the beam line and the pair's mass there (electron mass
        hypothesis).
    counts : ndarray (events,)
        Pairs of each event, in order.
    """

    radius_mm: np.ndarray
    mass_gev: np.ndarray
    counts: np.ndarray

    def candidates(self, *, min_radius_mm: float, max_mass_gev: float) -> np.ndarray:
        """(events,) whether an event holds a conversion candidate (the module docstring)."""
        for name, value in (("min_radius_mm", min_radius_mm), ("max_mass_gev", max_mass_gev)):
            if not (np.isfinite(value) and value >= 0):
                raise ParameterError(f"{name}={value!r} must be a finite number >= 0")
        found = (self.radius_mm >= min_radius_mm) & (self.mass_gev < max_mass_gev)
        return ak.to_numpy(ak.any(ak.unflatten(found, self.counts), axis=1)).astype(bool)


def conversion_pairs(tracks, experiment) -> ConversionPairs:
    """The oppositely charged pairs of the jagged ``tracks`` (fields ``p``, ``theta``, ``phi``,
    ``charge`` and ``d0``: the helix at the point of closest approach) at the point their circles meet,
    in the solenoid of ``experiment`` (:class:`~analysis_lib.detector.experiments.Experiment`), whose
    tracks' d0 and azimuth resolutions (:func:`~analysis_lib.detector.material.track_resolutions`) set
    how near two circles must come to touch."""
    missing = [name for name in _FIELDS if name not in tracks.fields]
    if missing:
        raise NtupleError(f"the tracks have no {missing}: a conversion needs each track's helix (logical branches "
                          f"{['track_' + m for m in missing]}); map them in data/datasets.yaml")
    pairs = ak.combinations(tracks[list(_FIELDS)], 2, fields=["a", "b"])
    pairs = pairs[pairs.a.charge * pairs.b.charge < 0]
    counts = ak.to_numpy(ak.num(pairs))
    flat = ak.flatten(pairs)
    sides = []
    for side in ("a", "b"):
        t = {name: ak.to_numpy(flat[side][name]).astype(float) for name in _FIELDS}
        t.update(track_resolutions(experiment, t["p"], t["theta"]))
        sides.append(t)
    x, y, _, at_a, at_b = meeting_momenta(sides[0], sides[1], field_tesla(experiment))
    m_e = mass_gev(11)
    energy = sum(np.sqrt(t["p"] ** 2 + m_e**2) for t in sides)
    total = at_a + at_b
    mass = np.sqrt(np.maximum(energy**2 - np.sum(total**2, axis=-1), 0.0))
    return ConversionPairs(np.hypot(x, y), mass, counts)
