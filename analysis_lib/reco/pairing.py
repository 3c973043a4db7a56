"""Pairing of oppositely charged tracks into candidates of equal mass: three pairs from six tracks
(darkonium -> 3 A', each A' -> two tracks), or k pairs from 2k tracks.

Each positive track is paired with a negative one, and each pair is given a species hypothesis
(both its tracks electrons, muons or pions: :data:`SPECIES`), which sets the masses its energy is
computed with. Of the k! pairings and the H^k hypotheses allowed by the identification (a track
identified as an electron or a muon belongs to a pair of that species; an unidentified one may be
anything, as electrons and muons below the identification's momentum range are not identified),
the candidate kept is the one whose pair masses agree best: the smallest
chi^2 = sum_i (m_i - m_bar)^2 / sigma_i^2, with m_bar the mean of the pair masses weighted by
1 / sigma_i^2 and sigma_i = ``resolution(m_i)`` (the mass resolution of a pair; 1 GeV for all without
one: the plain spread). The species matters: a pair of 0.4 GeV measured to a MeV moves by tens of MeV
between the electron and the pion hypotheses. Vectorised over events, in chunks: every combination
of every event at once (6 pairings x 27 hypotheses for three pairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations, product

import awkward as ak
import numpy as np

from ..core.constants import mass_gev
from ..core.errors import NtupleError, ParameterError
from ..core.kinematics import direction_from_angles, invariant_mass2
from ..detector.helix import field_tesla, meeting_momenta
from ..detector.material import track_resolutions

__all__ = ["DISPLACED_SIGNIFICANCE", "SPECIES", "PairCandidates", "PairedTracks", "RecoilPhoton", "pair_candidates", "pair_momenta", "pair_tracks",
           "recoil_photon", "split_by_charge", "vertex_momenta"]

#: The species hypotheses of a pair: name and PDG id of its tracks.
SPECIES = (("e", 11), ("mu", 13), ("pi", 211))
_SPECIES_MASSES = np.array([mass_gev(code) for _, code in SPECIES])
#: Events paired at a time (memory: 162 combinations x 3 pairs of each).
_CHUNK = 20_000


@dataclass(frozen=True)
class PairedTracks:
    """The best pairing of each event.

    Attributes
    ----------
    masses : ndarray (n, k)
        The pair masses in GeV, in increasing order.
    mean : ndarray (n,)
        Their mean weighted by the inverse squared resolutions, in GeV.
    chi2 : ndarray (n,)
        The compatibility of the masses (k - 1 degrees of freedom when the resolutions are right).
    partner : ndarray (n, k)
        ``partner[e, i]``: the negative track of pair i of ``masses``, which pairs it with the positive
        track ``positive[e, i]``.
    positive : ndarray (n, k)
        Which positive track sits in each pair of ``masses``.
    species : ndarray (n, k), optional
        Each pair's species hypothesis (index into :data:`SPECIES`), where hypotheses were chosen.
    """

    masses: np.ndarray
    mean: np.ndarray
    chi2: np.ndarray
    partner: np.ndarray
    positive: np.ndarray
    species: np.ndarray | None = None


def split_by_charge(p4, charge, k: int = 3):
    """The four-momenta (n, 2k, 4) (or any per-track array (n, 2k, ...)) of events with ``charge`` (n, 2k)
    split into positive and negative tracks, (n, k, ...) each, keeping their order; and the indices of each
    in the input (n, k). Every event must hold k tracks of each charge (select them first)."""
    p4, charge = np.asarray(p4), np.asarray(charge)
    if p4.ndim < 2 or p4.shape[:2] != charge.shape or charge.shape[1:] != (2 * k,):
        raise ParameterError(f"the tracks must have shape (n, {2 * k}, ...) and charge (n, {2 * k}); got {p4.shape} and "
                             f"{charge.shape}")
    plus = charge > 0
    bad = np.flatnonzero((plus.sum(axis=1) != k) | ((charge < 0).sum(axis=1) != k))
    if bad.size:
        raise ParameterError(f"{bad.size} event(s) (the first: {int(bad[0])}) do not hold {k} positive and {k} negative "
                             "tracks; select events of zero total charge first")
    order = np.argsort(~plus, axis=1, kind="stable")  # positives first, each group in input order
    index_plus, index_minus = order[:, :k], order[:, k:]
    extra = (slice(None),) * 2 + (None,) * (p4.ndim - 2)
    take = np.take_along_axis
    return take(p4, index_plus[extra], axis=1), take(p4, index_minus[extra], axis=1), index_plus, index_minus


def _check_k(k):
    if not 1 <= k <= 4:
        raise ParameterError(f"k = {k} pairs: pairing is by enumeration of the k! pairings, for 1 <= k <= 4")


def _best(masses, allowed, resolution):
    """Index of the best combination per event and its chi^2 and weighted mean, from the pair masses
    ``masses`` (n, C, k) of C combinations of which ``allowed`` (n, C) may be chosen."""
    sigma = np.ones_like(masses) if resolution is None else np.asarray(resolution(masses), dtype=float)
    if sigma.shape != masses.shape or not np.all(np.isfinite(sigma) & (sigma > 0)):
        raise ParameterError("resolution(mass) must return finite positive widths of the masses' shape")
    weights = 1 / sigma**2
    mean = np.sum(weights * masses, axis=-1) / np.sum(weights, axis=-1)
    chi2 = np.where(allowed, np.sum(weights * (masses - mean[..., None]) ** 2, axis=-1), np.inf)  # (n, C)
    best = np.argmin(chi2, axis=1)
    rows = np.arange(masses.shape[0])
    return best, chi2[rows, best], mean[rows, best]


def _result(masses, partner, best, chi2, mean, species=None):
    rows = np.arange(masses.shape[0])
    chosen = masses[rows, best]
    order = np.argsort(chosen, axis=1, kind="stable")
    return PairedTracks(masses=np.take_along_axis(chosen, order, axis=1), mean=mean, chi2=chi2,
                        partner=np.take_along_axis(partner, order, axis=1), positive=order,
                        species=None if species is None else np.take_along_axis(species, order, axis=1))


def pair_tracks(positive, negative, *, resolution=None) -> PairedTracks:
    """The pairing of ``positive`` and ``negative`` tracks (n, k, 4 four-momenta each, k <= 4, their masses
    given) whose pair masses agree best (see the module docstring); ``resolution(mass) -> sigma`` in GeV,
    vectorised."""
    positive, negative = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    if positive.shape != negative.shape or positive.ndim != 3 or positive.shape[2] != 4:
        raise ParameterError(f"positive and negative must both have shape (n, k, 4); got {positive.shape} and {negative.shape}")
    _check_k(positive.shape[1])
    options = np.array(list(permutations(range(positive.shape[1]))))  # (k!, k): partner of each positive track
    masses = np.sqrt(np.clip(invariant_mass2(positive[:, None, :, :] + negative[:, options, :]), 0, None))  # (n, k!, k)
    best, chi2, mean = _best(masses, np.ones(masses.shape[:2], dtype=bool), resolution)
    return _result(masses, options[best], best, chi2, mean)


def pair_momenta(positive, negative, allowed_positive, allowed_negative, *, resolution=None,
                 at_vertex=None) -> PairedTracks:
    """The pairing and species hypotheses of ``positive`` and ``negative`` tracks (n, k, 3 lab momenta
    each, k <= 4) whose pair masses agree best (see the module docstring). ``allowed_positive`` and
    ``allowed_negative`` (n, k, H): which of the H species of :data:`SPECIES` each track may be; a pair's
    hypothesis must be allowed for both its tracks. Events where no combination is allowed get chi^2 inf.
    ``at_vertex``, optional: (positive, negative) momenta (n, k, k, 3) each of every pair (positive i,
    negative j) where the two tracks meet (:func:`vertex_momenta`), from which the pair masses are
    computed instead (the tracks' momenta turn along their helices; their magnitudes do not)."""
    positive, negative = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    if positive.shape != negative.shape or positive.ndim != 3 or positive.shape[2] != 3:
        raise ParameterError(f"positive and negative must both have shape (n, k, 3); got {positive.shape} and {negative.shape}")
    n, k = positive.shape[:2]
    _check_k(k)
    hypotheses = len(SPECIES)
    for name, allowed in (("allowed_positive", allowed_positive), ("allowed_negative", allowed_negative)):
        if np.shape(allowed) != (n, k, hypotheses):
            raise ParameterError(f"{name} must have shape {(n, k, hypotheses)}; got {np.shape(allowed)}")
    options = np.array(list(permutations(range(k))))  # (P, k)
    choices = np.array(list(product(range(hypotheses), repeat=k)))  # (Q, k)
    pairing = np.repeat(options, len(choices), axis=0)  # (C, k), C = P Q: combination -> partners
    species = np.tile(choices, (len(options), 1))  # (C, k): combination -> species of each pair
    m2 = _SPECIES_MASSES**2  # (H,)
    slots = np.arange(k)
    out = []
    for start in range(0, n, _CHUNK):
        sl = slice(start, start + _CHUNK)
        p_plus, p_minus = positive[sl], negative[sl]
        q_plus = np.sum(p_plus**2, axis=-1)  # (c, k)
        q_minus = np.sum(p_minus**2, axis=-1)
        # the mass of every (positive i, negative j, species h): k x k x H per event, then gathered into
        # the k slots of each of the C combinations
        energy = np.sqrt(q_plus[:, :, None, None] + m2) + np.sqrt(q_minus[:, None, :, None] + m2)  # (c, k, k, H)
        if at_vertex is None:
            total2 = np.sum((p_plus[:, :, None, :] + p_minus[:, None, :, :]) ** 2, axis=-1)  # (c, k, k)
        elif any(np.shape(a) != (n, k, k, 3) for a in at_vertex):
            raise ParameterError(f"at_vertex must be two arrays of shape {(n, k, k, 3)}")
        else:
            total2 = np.sum((at_vertex[0][sl] + at_vertex[1][sl]) ** 2, axis=-1)
        pair_mass = np.sqrt(np.clip(energy**2 - total2[..., None], 0, None))
        masses = pair_mass[:, slots, pairing, species]  # (c, C, k)
        a_plus = np.asarray(allowed_positive[sl], dtype=bool)
        a_minus = np.asarray(allowed_negative[sl], dtype=bool)
        ok = a_plus[:, slots, species] & a_minus[:, pairing, species]  # (c, C, k)
        best, chi2, mean = _best(masses, ok.all(axis=-1), resolution)
        out.append(_result(masses, pairing[best], best, chi2, mean, species=species[best]))
    return PairedTracks(*(np.concatenate([getattr(o, f) for o in out]) for f in
                          ("masses", "mean", "chi2", "partner", "positive", "species")))


#: A pair is taken as displaced (its momenta where its tracks meet) when their meeting point lies this many
#: of its uncertainties from the beam line (:func:`vertex_momenta`).
DISPLACED_SIGNIFICANCE = 3.0


def vertex_momenta(plus, minus, field_tesla: float, *, significance: float = DISPLACED_SIGNIFICANCE):
    """The momenta (n, k, k, 3) of every pair (positive track i, negative track j) at its vertex, for the
    positive and the negative track: where their circles in the transverse plane meet
    (:func:`~analysis_lib.detector.helix.meeting_momenta`) if that point lies ``significance`` of its
    uncertainties or more from the beam line (a decay in flight), else at the tracks' closest approach to
    the beam (a pair from the collision point, as a fit constrained to the beam spot would take it). The
    meeting point's uncertainty along the pair is hypot(sigma(d0_i), sigma(d0_j)) / sin(psi), psi the
    tracks' opening there (derived here: a shift of one track by its d0 error moves the crossing of two
    lines at angle psi by that over sin psi); tracks that touch, parallel where they meet (a conversion),
    are never taken as displaced. ``plus``, ``minus``: dicts of (n, k) arrays ``p``, ``theta``, ``phi``,
    ``d0`` (the book's sign, :mod:`analysis_lib.detector.helix`), ``sigma_d0``, ``sigma_phi`` and ``charge``
    (the helix at closest approach). The transverse momentum turns along the helix; p_z does not change."""
    a = {name: np.expand_dims(np.asarray(v, dtype=float), 2) for name, v in plus.items()}  # (n, k, 1)
    b = {name: np.expand_dims(np.asarray(v, dtype=float), 1) for name, v in minus.items()}  # (n, 1, k)
    x, y, psi, at_a, at_b = meeting_momenta(a, b, field_tesla)
    uncertainty = np.hypot(a["sigma_d0"], b["sigma_d0"]) / np.maximum(np.sin(psi), 1e-9)
    displaced = (np.hypot(x, y) >= significance * uncertainty)[..., None]
    out = []
    for t, at in ((a, at_a), (b, at_b)):
        pt = t["p"] * np.sin(t["theta"])
        poca = np.stack(np.broadcast_arrays(pt * np.cos(t["phi"]), pt * np.sin(t["phi"]), t["p"] * np.cos(t["theta"])),
                        axis=-1)
        out.append(np.where(displaced, at, poca))
    return out[0], out[1]


@dataclass(frozen=True)
class PairCandidates:
    """Events of 2k tracks of zero total charge, paired (:func:`pair_candidates`).

    Attributes
    ----------
    index : ndarray (n,)
        The events' positions in the input.
    pairs : PairedTracks
        The best pairing and species of each event (``pairs.species``).
    tracks_p4 : ndarray (n, 4)
        The sum of the tracks' lab four-momenta under the chosen species, in GeV.
    """

    index: np.ndarray
    pairs: PairedTracks
    tracks_p4: np.ndarray

    def __len__(self):
        return self.index.size


def _allowed(track):
    """(tracks..., H) which species each track may be: an identified electron (muon) only that; any
    other track any species."""
    electron, muon = np.asarray(track["electron_id"], dtype=bool), np.asarray(track["muon_id"], dtype=bool)
    unidentified = ~electron & ~muon
    return np.stack([electron | unidentified, muon | (unidentified & ~electron), unidentified], axis=-1)


def pair_candidates(events, *, k: int = 3, resolution=None, experiment=None) -> PairCandidates:
    """The events of ``events`` (read with tracks; fields ``electron_id`` and ``muon_id`` needed) holding
    exactly 2k tracks of zero total charge, paired with species hypotheses (:func:`pair_momenta`,
    ``resolution(mass) -> sigma`` in GeV). Events with no allowed combination are dropped. With an
    ``experiment`` (:class:`~analysis_lib.detector.experiments.Experiment`), the tracks are helices in its
    solenoid (field ``d0`` needed; the d0 and azimuth resolutions of
    :func:`~analysis_lib.detector.material.track_resolutions`) and each pair's mass, and its part of the tracks' summed four-momentum, are taken at
    its vertex (:func:`vertex_momenta`): a pair from a decay in flight shows its own mass, not the
    opening its tracks' turn in the field adds."""
    track = events["track"]
    needed = ("electron_id", "muon_id") + (("d0",) if experiment is not None else ())
    missing = [name for name in needed if name not in track.fields]
    if missing:
        raise NtupleError(f"the tracks have no {missing} (logical branches {['track_' + m for m in missing]}); "
                          "map them to the file's branches with 'branches:' in data/datasets.yaml")
    counts = ak.to_numpy(ak.num(track))
    keep = np.flatnonzero((counts == 2 * k) & (ak.to_numpy(ak.sum(track.charge, axis=1)) == 0))
    t = track[keep]

    def table(name):
        return ak.to_numpy(t[name]).reshape(-1, 2 * k)

    p, theta, phi = (table(name).astype(float) for name in ("p", "theta", "phi"))
    momenta = direction_from_angles(np.cos(theta), phi) * p[..., None]
    allowed = _allowed({"electron_id": table("electron_id"), "muon_id": table("muon_id")})
    charge = table("charge")
    plus, minus, index_plus, index_minus = split_by_charge(momenta, charge, k)
    allowed_plus = np.take_along_axis(allowed, index_plus[..., None], axis=1)
    allowed_minus = np.take_along_axis(allowed, index_minus[..., None], axis=1)
    at_vertex = None
    if experiment is not None:
        helix = {name: table(name).astype(float) for name in ("p", "theta", "phi", "d0", "charge")}
        helix.update(track_resolutions(experiment, helix["p"], helix["theta"]))
        at_vertex = vertex_momenta({name: np.take_along_axis(v, index_plus, axis=1) for name, v in helix.items()},
                                   {name: np.take_along_axis(v, index_minus, axis=1) for name, v in helix.items()},
                                   field_tesla(experiment))
    paired = pair_momenta(plus, minus, allowed_plus, allowed_minus, resolution=resolution, at_vertex=at_vertex)
    found = np.isfinite(paired.chi2)
    paired = PairedTracks(*(getattr(paired, f)[found] for f in ("masses", "mean", "chi2", "partner", "positive",
                                                                 "species")))
    rows = np.arange(found.sum())[:, None]
    m2 = _SPECIES_MASSES[paired.species] ** 2
    if at_vertex is None:
        plus, minus = plus[found], minus[found]
        p_plus, p_minus = plus[rows, paired.positive], minus[rows, paired.partner]
    else:
        vertex_plus, vertex_minus = at_vertex[0][found], at_vertex[1][found]
        p_plus = vertex_plus[rows, paired.positive, paired.partner]
        p_minus = vertex_minus[rows, paired.positive, paired.partner]
    energy = np.sqrt(np.sum(p_plus**2, axis=-1) + m2) + np.sqrt(np.sum(p_minus**2, axis=-1) + m2)
    tracks_p4 = np.concatenate([energy.sum(axis=1)[:, None], (p_plus + p_minus).sum(axis=1)], axis=1)
    return PairCandidates(index=keep[found], pairs=paired, tracks_p4=tracks_p4)


@dataclass(frozen=True)
class RecoilPhoton:
    """What recoils against the paired tracks, for a search whose tracks come with one initial-state
    photon (:func:`recoil_photon`).

    Attributes
    ----------
    mass2 : ndarray (n,)
        The recoil's squared mass in GeV^2 (0 for one photon, up to the resolution).
    theta : ndarray (n,)
        Its lab polar angle in radians.
    in_calorimeter : ndarray (n,)
        Whether it points at the calorimeter's crystals (where the photon must then be seen).
    matched : ndarray (n,)
        Whether a photon candidate lies within ``max_angle_rad`` of it with an energy within
        ``energy_window`` (relative) of the recoil's.
    extra_energy : ndarray (n,)
        The summed energy of the other photon candidates in GeV (lab).
    """

    mass2: np.ndarray
    theta: np.ndarray
    in_calorimeter: np.ndarray
    matched: np.ndarray
    extra_energy: np.ndarray


def recoil_photon(candidates: PairCandidates, events, experiment, *, max_angle_rad: float = 0.05,
                  energy_window: float = 0.3) -> RecoilPhoton:
    """The recoil against the paired tracks of ``candidates`` (the beams' lab four-momentum minus the
    tracks'), and the photon candidate of ``events`` (the same events the candidates were made from)
    that matches it in direction (within ``max_angle_rad``) and energy (within ``energy_window`` of the
    recoil's energy), if any; the energy of the other photon candidates."""
    if not (0 < max_angle_rad < np.pi and 0 < energy_window < 1):
        raise ParameterError(f"max_angle_rad={max_angle_rad!r} and energy_window={energy_window!r} must lie in "
                             "(0, pi) and (0, 1)")
    e_minus, e_plus = experiment.beams.four_momenta()
    recoil = (e_minus + e_plus)[None, :] - candidates.tracks_p4
    p = np.linalg.norm(recoil[:, 1:], axis=1)
    theta = np.arccos(np.clip(recoil[:, 3] / np.maximum(p, 1e-12), -1, 1))
    photon = events["photon"][candidates.index]
    sin = np.sin(photon.theta)
    direction = ak.zip({"x": sin * np.cos(photon.phi), "y": sin * np.sin(photon.phi), "z": np.cos(photon.theta)})
    axis = recoil[:, 1:] / np.maximum(p, 1e-12)[:, None]
    cos_angle = direction.x * axis[:, 0] + direction.y * axis[:, 1] + direction.z * axis[:, 2]
    close = (cos_angle > np.cos(max_angle_rad)) & (np.abs(photon.E / recoil[:, 0] - 1) < energy_window)
    matched = ak.to_numpy(ak.any(close, axis=1))
    # the other photons: all but the best-matched one (the most energetic of those that match)
    best = ak.argmax(ak.where(close, photon.E, -1.0), axis=1, keepdims=True)
    total = ak.to_numpy(ak.sum(photon.E, axis=1))
    best_energy = ak.to_numpy(ak.fill_none(ak.firsts(photon.E[best]), 0.0))
    return RecoilPhoton(mass2=recoil[:, 0] ** 2 - p**2, theta=theta,
                        in_calorimeter=np.asarray(experiment.calorimeter.in_acceptance(theta)), matched=matched,
                        extra_energy=total - np.where(matched, best_energy, 0.0))
