"""Photon conversions among an event's tracks: pairs of oppositely charged tracks that leave a common
point in the material parallel to each other.

Paired as if from the collision point, a conversion's two tracks open by the turn they took on the
way in and show tens of MeV (:mod:`analysis_lib.detector.helix`). At the point where their circles in
the transverse plane meet (:func:`~analysis_lib.detector.helix.pair_vertex`) they are parallel, and
their mass there, with the electron mass hypothesis, is a few MeV at most (the tracks' measurement
errors), while a pair made at the collision point meets at the beam line with its own opening. A
pair is a conversion candidate when it meets at least ``min_radius_mm`` from the beam line with a mass
there below ``max_mass_gev``; a decay in flight (a dark photon's, a K_S's) meets where it was made but
keeps its mass there. The longitudinal coordinates are not used (a model's simplification: a real
conversion finder also asks the tracks to meet in z).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from ..core.constants import mass_gev
from ..core.errors import NtupleError, ParameterError
from ..detector.helix import momentum_at, pair_vertex, track_circle

__all__ = ["ConversionPairs", "conversion_pairs"]

_FIELDS = ("p", "theta", "phi", "charge", "d0")


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

    def __init__(self, radius_mm, mass_gev, counts):
        self.radius_mm, self.mass_gev, self.counts = radius_mm, mass_gev, counts

    def candidates(self, *, min_radius_mm: float, max_mass_gev: float) -> np.ndarray:
        """(events,) whether an event holds a conversion candidate (the module docstring)."""
        for name, value in (("min_radius_mm", min_radius_mm), ("max_mass_gev", max_mass_gev)):
            if not (np.isfinite(value) and value >= 0):
                raise ParameterError(f"{name}={value!r} must be a finite number >= 0")
        found = (self.radius_mm >= min_radius_mm) & (self.mass_gev < max_mass_gev)
        return ak.to_numpy(ak.any(ak.unflatten(found, self.counts), axis=1)).astype(bool)


def conversion_pairs(tracks, field_tesla: float) -> ConversionPairs:
    """The oppositely charged pairs of the jagged ``tracks`` (fields ``p``, ``theta``, ``phi``,
    ``charge`` and ``d0``: the helix at the point of closest approach) at the point their circles meet,
    in a solenoid of ``field_tesla``."""
    missing = [name for name in _FIELDS if name not in tracks.fields]
    if missing:
        raise NtupleError(f"the tracks have no {missing}: a conversion needs each track's helix (logical branches "
                          f"{['track_' + m for m in missing]}); map them in data/datasets.yaml")
    pairs = ak.combinations(tracks[list(_FIELDS)], 2, fields=["a", "b"])
    pairs = pairs[pairs.a.charge * pairs.b.charge < 0]
    counts = ak.to_numpy(ak.num(pairs))
    flat = ak.flatten(pairs)
    m_e = mass_gev(11)
    momenta, circles, charges = [], [], []
    for side in ("a", "b"):
        t = {name: ak.to_numpy(flat[side][name]).astype(float) for name in _FIELDS}
        pt = t["p"] * np.sin(t["theta"])
        circles.append(track_circle(pt, t["phi"], t["d0"], t["charge"], field_tesla))
        charges.append(t["charge"])
        momenta.append((pt, t["p"] * np.cos(t["theta"]), t["p"]))
    x, y, _ = pair_vertex(circles[0], circles[1], charges[0], charges[1])
    total = np.zeros((len(x), 4))
    for circle, charge, (pt, pz, p) in zip(circles, charges, momenta):
        px, py = momentum_at(x, y, circle, charge, pt)
        total += np.column_stack([np.sqrt(p * p + m_e**2), px, py, pz])
    mass = np.sqrt(np.maximum(total[:, 0] ** 2 - np.sum(total[:, 1:] ** 2, axis=1), 0.0))
    return ConversionPairs(np.hypot(x, y), mass, counts)
