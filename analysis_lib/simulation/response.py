"""Detector response: from generated particles to reconstructed photon clusters and tracks.

The steps, in order, for every generated event:

1. charged particles inside the tracker acceptance leave a track (with its efficiency);
2. photons and electrons are propagated in a straight line from their production vertex to the
   calorimeter (barrel cylinder or endcap plane) and deposit their energy there if the impact point
   lies on crystals; the shower can be a photon candidate with the calorimeter's efficiency; particles produced beyond the calorimeter's
   inner surface (a long-lived particle that decayed there) leave nothing; on request, a sample
   is simulated in one outcome of that efficiency for its photons, weighted by its probability
   (``photon_branch``: the photons a veto misses, simulated apart as often as the others);
3. beam-background clusters are overlaid;
4. showers closer than the calorimeter's separation merge into one cluster (energies add, the
   position is the energy-weighted mean);
5. energies and positions are smeared with the calorimeter resolution; clusters below threshold
   are dropped;
6. clusters of particles that left a track are matched to it; the others count in the unmatched
   calorimeter energy ``ecl_energy``, and those that passed the efficiency are photon candidates;
7. on request, the tracks themselves: transverse momentum smeared with the tracker resolution
   (directions are kept, except in samples with helices, below: their resolution, a few mrad, is negligible
   next to the calorimeter's),
   identified as kaons or not, muons or not and protons or not with the particle-identification
   model, and their impact parameters d0 and z0 (straight lines from the production point, smeared
   with the tracker's impact-parameter resolution). Charged particles made beyond the tracker's
   largest production radius (a Lambda or K_S decaying in the outer drift chamber) leave no track.

On request (``conversions``, for the samples of searches whose pairs of tracks a conversion can
imitate), before step 1 the photons cross the material in front of the tracker
(:mod:`analysis_lib.detector.material`) and convert there (:func:`convert_photons`); the tracks of
such a sample are then helices in the solenoid, quoted at their point of closest approach to the beam
(:func:`analysis_lib.detector.helix.helix_at_closest_approach`: the azimuth ``phi`` of the momentum
there, d0 and z0), so that the two tracks of a conversion open as the reconstruction sees them, and
their directions are smeared with the multiple scattering in the beam pipe and the first silicon layer
(:func:`analysis_lib.detector.material.direction_resolution_rad`): the opening of a light pair, tens of
mrad, is measured to a few mrad. The
tracks of the other samples keep the straight lines (their displaced tracks, a Lambda's or a K_S's,
are vertexed as straight lines by :mod:`analysis_lib.reco.v0`).

The output is an awkward array, one record per event, with photon candidates sorted by energy.
Events may list different particles (``GeneratedEvents.pdgid`` of shape (n, k), padded with 0):
neutral hadrons and neutrinos leave nothing in this model.
"""

from __future__ import annotations

from dataclasses import replace

import awkward as ak
import numpy as np
from scipy.stats import poisson

from ..core.constants import mass_gev
from ..core.errors import ParameterError
from ..core.kinematics import boost, direction_from_angles, orthonormal_frames, two_body_momentum
from ..detector.experiments import Experiment
from ..detector.helix import field_tesla, helix_at_closest_approach
from ..detector.material import crossings, direction_resolution_rad, layers
from ..io.ntuple import ORIGIN
from ..physics.conversions import (
    conversion_probability,
    internal_conversion_probability,
    sample_energy_fraction,
    sample_internal_conversion_mass,
)
from .generators import GeneratedEvents
from .tagging import emulate

__all__ = ["calorimeter_impact", "condition_photon_efficiency", "convert_photons", "impact_parameters", "reconstruct"]


def calorimeter_impact(vertex_mm, direction, experiment: Experiment):
    """Impact point (..., 3) in mm of straight lines from ``vertex_mm`` along unit ``direction``
    on the calorimeter's inner surface: the barrel cylinder between the endcaps, else an endcap."""
    cal = experiment.calorimeter
    x0, y0, z0 = np.moveaxis(vertex_mm, -1, 0)
    dx, dy, dz = np.moveaxis(direction, -1, 0)
    # barrel: |(x0,y0) + t (dx,dy)| = R, positive root
    a = dx**2 + dy**2
    b = 2 * (x0 * dx + y0 * dy)
    c = x0**2 + y0**2 - cal.barrel_radius_mm**2
    with np.errstate(divide="ignore", invalid="ignore"):
        t_barrel = np.where(a > 0, (-b + np.sqrt(np.clip(b**2 - 4 * a * c, 0, None))) / (2 * a), np.inf)
        z_plane = np.where(dz >= 0, cal.forward_z_mm, cal.backward_z_mm)
        t_endcap = np.where(dz != 0, (z_plane - z0) / dz, np.inf)
    z_at_barrel = z0 + t_barrel * dz
    on_barrel = (z_at_barrel <= cal.forward_z_mm) & (z_at_barrel >= cal.backward_z_mm)
    t = np.where(on_barrel, t_barrel, t_endcap)
    return np.asarray(vertex_mm) + t[..., None] * np.asarray(direction)


def _polar(points):
    r = np.linalg.norm(points, axis=-1)
    theta = np.arccos(np.clip(points[..., 2] / np.maximum(r, 1e-12), -1, 1))
    phi = np.arctan2(points[..., 1], points[..., 0])
    return r, theta, phi


def _beam_background(rng, n, experiment: Experiment, *, at_least_one=False):
    """Beam-background showers: (n, k) energies and impact points, padded with zero energy.

    With ``at_least_one`` the number of clusters is drawn from the Poisson distribution
    conditioned on at least one (the caller weights the events by that probability).
    """
    bkg = experiment.beam_background
    cal = experiment.calorimeter
    counts = rng.poisson(bkg.mean_clusters, n)
    if at_least_one:
        # zero-truncated Poisson by inversion of its CDF
        lam = bkg.mean_clusters
        u = rng.random(n)
        k_values = np.arange(1, 30)
        cdf = (poisson.cdf(k_values, lam) - poisson.pmf(0, lam)) / (1 - poisson.pmf(0, lam))
        counts = k_values[np.minimum(np.searchsorted(cdf, u), len(k_values) - 1)]
    k = max(int(counts.max(initial=0)), 1)
    energy = np.zeros((n, k))
    points = np.zeros((n, k, 3))
    total = int(counts.sum())
    if total:
        # uniform in cos(theta) over the crystal-covered range, rejecting the gaps
        cos_lo = np.cos(np.radians(max(r[1] for r in cal.regions_deg)))
        cos_hi = np.cos(np.radians(min(r[0] for r in cal.regions_deg)))
        cos_theta = np.empty(0)
        while cos_theta.size < total:
            trial = rng.uniform(cos_lo, cos_hi, 2 * total)
            cos_theta = np.concatenate([cos_theta, trial[cal.in_acceptance(np.arccos(trial))]])
        directions = direction_from_angles(cos_theta[:total], rng.uniform(0, 2 * np.pi, total))
        hits = calorimeter_impact(np.zeros((total, 3)), directions, experiment)
        slot = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.repeat(np.arange(n), counts)
        energy[rows, slot] = bkg.threshold_gev + rng.exponential(bkg.mean_energy_gev, total)
        points[rows, slot] = hits
    return energy, points


def _merge_close_showers(energy, points, origin, has_track, candidate, min_separation_mm):
    """Merge showers closer than ``min_separation_mm`` (two passes over all pairs, in place).

    A pair (i, j), i < j, merges into i: energies add, the position is the energy-weighted mean,
    the origin is the harder shower's, and i has a track or is a candidate if either was. Pairs are
    taken in order of (i, j) with the positions as merged so far, two passes. Only events with two
    present showers closer than the separation change, so the pairs are followed in those events
    alone, over their present showers moved to the front (in their order): the same result as
    following every pair of every event, in a fraction of the time.
    """
    present = energy > 0
    n_present = present.sum(axis=1)
    width = int(n_present.max(initial=0))
    if width < 2:
        return
    order = np.argsort(~present, axis=1, kind="stable")[:, :width]
    packed_points = np.take_along_axis(points, order[..., None], axis=1)
    # events with a close pair, by squared distances |a|^2 + |b|^2 - 2 a.b in blocks of events of
    # similar multiplicity; a margin of 1 um keeps every pair the exact test below would merge
    limit = (min_separation_mm + 1e-3) ** 2
    close_rows = np.zeros(len(energy), bool)
    by_size = np.argsort(n_present, kind="stable")
    by_size = by_size[n_present[by_size] >= 2]
    for start in range(0, len(by_size), 4096):
        rows = by_size[start:start + 4096]
        size = int(n_present[rows[-1]])
        p = packed_points[rows, :size]
        norm2 = np.sum(p * p, axis=-1)
        distance2 = norm2[:, :, None] + norm2[:, None, :] - 2 * np.matmul(p, p.transpose(0, 2, 1))
        inside = np.arange(size) < n_present[rows][:, None]
        pairs = inside[:, :, None] & inside[:, None, :] & np.triu(np.ones((size, size), bool), 1)
        close_rows[rows] = np.any((distance2 < limit) & pairs, axis=(1, 2))
    rows = np.flatnonzero(close_rows)
    if rows.size == 0:
        return
    columns = order[rows, :int(n_present[rows].max())]
    sub = [np.take_along_axis(a[rows], columns, axis=1) for a in (energy, origin, has_track, candidate)]
    sub_points = np.take_along_axis(points[rows], columns[..., None], axis=1)
    _merge_pairs(*sub[:1], sub_points, *sub[1:], min_separation_mm)
    for target, values in zip((energy, origin, has_track, candidate), sub):
        target[rows[:, None], columns] = values
    points[rows[:, None], columns] = sub_points


def _merge_pairs(energy, points, origin, has_track, candidate, min_separation_mm):
    """The merging of :func:`_merge_close_showers` pair by pair over all events given (in place)."""
    k = energy.shape[1]
    for _ in range(2):
        for i in range(k):
            for j in range(i + 1, k):
                close = (
                    (energy[:, i] > 0)
                    & (energy[:, j] > 0)
                    & (np.linalg.norm(points[:, i] - points[:, j], axis=1) < min_separation_mm)
                )
                if not close.any():
                    continue
                ei, ej = energy[close, i], energy[close, j]
                points[close, i] = (points[close, i] * ei[:, None] + points[close, j] * ej[:, None]) / (
                    ei + ej
                )[:, None]
                origin[close, i] = np.where(ej > ei, origin[close, j], origin[close, i])
                has_track[close, i] |= has_track[close, j]
                candidate[close, i] |= candidate[close, j]
                energy[close, i] = ei + ej
                energy[close, j] = 0.0


#: Charge of the charged species the tracker sees (by |PDG id|, for positive ids).
_CHARGE = {11: -1, 13: -1, 211: 1, 321: 1, 2212: 1}


def _inside_calorimeter(vertex_mm, experiment: Experiment):
    cal = experiment.calorimeter
    rho = np.hypot(vertex_mm[..., 0], vertex_mm[..., 1])
    z = vertex_mm[..., 2]
    return (rho < cal.barrel_radius_mm) & (z < cal.forward_z_mm) & (z > cal.backward_z_mm)


def _showers_on_crystals(events: GeneratedEvents, experiment: Experiment, pdgid, direction):
    """Which particles shower on crystals (photons and electrons made inside the calorimeter, their
    straight line ending on a crystal-covered polar angle), and every particle's impact point."""
    showering = ((np.abs(pdgid) == 22) | (np.abs(pdgid) == 11)) & _inside_calorimeter(events.vertex_mm, experiment)
    points = calorimeter_impact(events.vertex_mm, direction, experiment)
    _, theta_hit, _ = _polar(points)
    return showering & experiment.calorimeter.in_acceptance(theta_hit), points


def condition_photon_efficiency(candidate, deposit, pdgid, energy, branch, rng, efficiency):
    """Condition the photon candidates (n, k; changed in place) on a branch of the calorimeter's
    efficiency (see :func:`reconstruct`'s ``photon_branch``) and return each event's probability of
    its branch. ``deposit`` marks the showers on crystals, ``energy`` the particles' (lab) energies.

    In the "missed" branch every photon of at least the branch's energy on crystals fails the
    efficiency, probability (1 - efficiency)^k, 0 for events without one. In the "seen" branch the
    flags of those photons are drawn again in the events where all failed, until one passes: the
    draw conditioned on at least one candidate, probability 1 - (1 - efficiency)^k (1 without one).
    """
    name, threshold_gev = branch
    if not 0 < efficiency <= 1:
        raise ParameterError(f"a photon branch needs a calorimeter efficiency in (0, 1], not {efficiency!r}")
    if name not in ("missed", "seen") or not (np.isfinite(threshold_gev) and threshold_gev > 0):
        raise ParameterError(
            f"photon_branch={branch!r} must be ('missed', energy) or ('seen', energy) with a positive energy in GeV"
        )
    eligible = deposit & (np.abs(pdgid) == 22) & (energy >= threshold_gev)
    has = eligible.any(axis=1)
    all_missed = (1 - efficiency) ** eligible.sum(axis=1)
    if name == "missed":
        candidate &= ~eligible
        return np.where(has, all_missed, 0.0)
    redo = np.flatnonzero(has & ~np.any(candidate & eligible, axis=1))
    while redo.size:
        draw = rng.random((redo.size, candidate.shape[1])) < efficiency
        candidate[redo] = np.where(eligible[redo], draw, candidate[redo])
        redo = redo[~np.any(candidate[redo] & eligible[redo], axis=1)]
    return np.where(has, 1 - all_missed, 1.0)


#: Internal conversions (:func:`convert_photons`) give pairs up to this fraction of the photon's energy,
#: where the pair is light next to the photon's energy (the limit the Kroll-Wada rate holds in).
INTERNAL_MASS_FRACTION = 0.1


def _internal_pairs(rng, p4, mass_max):
    """Electron and positron four-momenta (m, 4) of photons ``p4`` (m, 4) that became virtual photons of a
    mass drawn from the Kroll-Wada density below ``mass_max`` (m,): the virtual
    photon keeps the photon's energy and direction (its momentum short by m^2 / 2E), and decays with
    density 1 + cos^2 theta + (4 m_e^2 / m^2) sin^2 theta about its direction in its rest frame (the
    Kroll-Wada angular distribution of a transverse virtual photon)."""
    m_e = mass_gev(11)
    mass = sample_internal_conversion_mass(rng, len(p4), 2 * m_e * (1 + 1e-9), mass_max)
    energy = p4[:, 0]
    axis = p4[:, 1:] / np.maximum(np.linalg.norm(p4[:, 1:], axis=1), 1e-12)[:, None]
    r = (2 * m_e / mass) ** 2
    cos = np.empty(len(p4))
    todo = np.arange(len(p4))
    while todo.size:  # rejection from the uniform: the density is at most 2 (at cos theta = +-1)
        c = rng.uniform(-1, 1, todo.size)
        keep = rng.random(todo.size) * 2 < 1 + c**2 + r[todo] * (1 - c**2)
        cos[todo[keep]] = c[keep]
        todo = todo[~keep]
    phi = rng.uniform(0, 2 * np.pi, len(p4))
    # the decay axis about the virtual photon's direction
    unit = np.einsum("ni,nij->nj", direction_from_angles(cos, phi), orthonormal_frames(axis))
    q = two_body_momentum(mass, m_e, m_e)
    beta = axis * (np.sqrt(np.maximum(energy**2 - mass**2, 0.0)) / energy)[:, None]
    rest = [np.column_stack([np.full(len(p4), mass / 2), sign * q[:, None] * unit]) for sign in (-1.0, 1.0)]
    return boost(rest[0], beta), boost(rest[1], beta)


def convert_photons(events: GeneratedEvents, material, rng, *, forced: bool = False,
                    internal: bool = False) -> tuple[GeneratedEvents, np.ndarray]:
    """The events with their photons converted in ``material`` (a sequence of
    :class:`~analysis_lib.detector.material.Layer`, innermost first) and, with ``internal``, replaced
    by their own virtual pairs, drawing from ``rng``; and the probability of that outcome per event: 1,
    or with ``forced`` the product over the photons that can become a pair of their probabilities to
    (every such photon does, internally or in a layer drawn with its conditional probability: for
    samples whose events pass their skim only then).

    A photon crossing layers of t_1, t_2, ... radiation lengths on its line
    (:func:`~analysis_lib.detector.material.crossings`) converts in layer i with probability
    (1 - P_1) ... (1 - P_(i-1)) P_i, P = 1 - exp(-7 t / 9)
    (:func:`~analysis_lib.physics.conversions.conversion_probability`). It becomes an electron, in its
    column, and a positron, in a column added to the event, both made at the crossing point along the
    photon's direction (their opening, about m_e / E, and the recoil of the nucleus are neglected) with
    momenta x p and (1 - x) p, x the positron's share
    (:func:`~analysis_lib.physics.conversions.sample_energy_fraction`); momentum is conserved, the energy
    to about m_e. With ``internal``, before the material, the photon is a virtual photon decaying to
    e+e- at the collision point with the Kroll-Wada probability of a pair lighter than
    :data:`INTERNAL_MASS_FRACTION` of its energy (:func:`~analysis_lib.physics.conversions.internal_conversion_probability`,
    :func:`_internal_pairs`); not for photons of hadron decays that the generator already gives their
    Dalitz decays (Pythia's pi0 and eta). The pairs keep the photon's origin and side. The numbers of
    conversions of each event are added to its truth as ``n_conversions`` (in the material) and
    ``n_internal_conversions``.
    """
    n, k = events.p4.shape[:2]
    pdgid = np.broadcast_to(events.pdgid, (n, k))
    p4 = events.p4
    m_e = mass_gev(11)
    momentum = np.linalg.norm(p4[..., 1:], axis=-1)
    photon = (pdgid == 22) & (momentum > 2 * m_e)
    direction = p4[..., 1:] / np.maximum(momentum, 1e-12)[..., None]
    rows, cols = np.nonzero(photon)
    points, thickness = crossings(events.vertex_mm[rows, cols], direction[rows, cols], material)
    # the probability of having converted by each layer
    converted_by = -np.expm1(np.cumsum(np.log1p(-conversion_probability(thickness)), axis=-1))
    external = converted_by[:, -1]
    p_internal = np.zeros(len(rows))
    if internal:
        light = INTERNAL_MASS_FRACTION * p4[rows, cols, 0] > 2 * m_e
        upper = np.maximum(INTERNAL_MASS_FRACTION * p4[rows, cols, 0], 2 * m_e * (1 + 1e-9))
        p_internal = np.where(light, internal_conversion_probability(2 * m_e * (1 + 1e-9), upper), 0.0)
    draw = rng.random(len(rows))
    probability = np.ones(n)
    if forced:  # every photon that can becomes a pair: the draw within the probability of that
        pair = p_internal + (1 - p_internal) * external
        draw = draw * pair
        np.multiply.at(probability, rows[pair > 0], pair[pair > 0])
    is_internal = draw < p_internal
    # the first layer by which the photon has converted with a probability above the draw, given no
    # internal conversion (forced: below the total, unless the photon crosses no material)
    rest = (draw - p_internal) / np.maximum(1 - p_internal, 1e-300)
    layer = np.where(is_internal, len(material), (rest[:, None] >= converted_by).sum(axis=-1))
    is_external = layer < len(material)
    where = np.where(is_external[:, None], points[np.arange(len(rows)), np.minimum(layer, len(material) - 1)],
                     events.vertex_mm[rows, cols])
    made = is_internal | is_external
    rows, cols, where, is_internal = rows[made], cols[made], where[made], is_internal[made]
    # the pairs' four-momenta: external along the photon, internal from the virtual photon's decay
    x = sample_energy_fraction(rng, len(rows))
    photon_p = p4[rows, cols, 1:]
    pairs = []
    for share in (1 - x, x):  # electron, positron
        p = share[:, None] * photon_p
        pairs.append(np.column_stack([np.sqrt((p * p).sum(axis=1) + m_e**2), p]))
    if is_internal.any():
        electron, positron = _internal_pairs(rng, p4[rows[is_internal], cols[is_internal]],
                                             INTERNAL_MASS_FRACTION * p4[rows[is_internal], cols[is_internal], 0])
        pairs[0][is_internal], pairs[1][is_internal] = electron, positron
    counts = {name: np.bincount(rows[mask], minlength=n) for name, mask in
              (("n_conversions", ~is_internal), ("n_internal_conversions", is_internal))}
    extra = int(np.bincount(rows, minlength=n).max()) if n and len(rows) else 0
    rank = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        order = np.lexsort((cols, rows))
        first = np.searchsorted(rows[order], rows[order], side="left")
        rank[order] = np.arange(len(rows)) - first

    def widen(a, fill=0):  # a: (n, k, ...)
        out = np.full((n, k + extra) + np.shape(a)[2:], fill, dtype=np.asarray(a).dtype)
        out[:, :k] = a
        return out

    new_p4, new_vertex = widen(p4, 0.0), widen(events.vertex_mm, 0.0)
    new_pdgid, new_origin = widen(pdgid), widen(np.broadcast_to(events.origin, (n, k)), -1)
    new_side = widen(np.broadcast_to(events.side, (n, k)), -1) if events.side is not None else None
    for momenta, column, code in ((pairs[0], cols, 11), (pairs[1], k + rank, -11)):
        new_p4[rows, column] = momenta
        new_vertex[rows, column] = where
        new_pdgid[rows, column] = code
        new_origin[rows, column] = new_origin[rows, cols]
        if new_side is not None:
            new_side[rows, column] = new_side[rows, cols]
    converted = replace(events, p4=new_p4, vertex_mm=new_vertex, pdgid=new_pdgid, origin=new_origin, side=new_side,
                        truth={**events.truth, **counts})
    return converted, probability


def reconstruct(events: GeneratedEvents, experiment: Experiment, rng, *, weight=1.0, force_beam_background=False,
                force_track_loss=False, photon_branch: tuple[str, float] | None = None, tracks=False,
                hadronic_tag=None, conversions=False, force_conversions=False, internal_conversions=False):
    """Apply the detector model to generated events.

    Parameters
    ----------
    events : GeneratedEvents
    experiment : Experiment
    rng : numpy.random.Generator
    weight : float
        Per-event weight written with the events (times the events' own relative weights, if any).
    force_beam_background : bool
        Overlay at least one beam-background cluster on every event (False by default); the event
        weights are multiplied by the probability of that.
    force_track_loss : bool
        Lose the track of every charged particle inside the tracker acceptance (False by
        default); each event's weight is multiplied by the probability of that, (1 - efficiency)
        to the power of the number of such particles. With either option the sample stands only
        for the events in which the forced condition holds: the caller's skim must reject every
        event in which it would not.
    photon_branch : (str, float), optional
        ``("missed", e)`` or ``("seen", e)``: one of the two exclusive outcomes of the calorimeter's
        efficiency for the photons of at least ``e`` GeV (lab) showering on crystals. "missed": all
        of them are lost, the event weighted by the probability of that, (1 - efficiency)^k, and
        events without such photons weigh 0 (the caller drops them); "seen": at least one of them is
        a photon candidate, weight 1 - (1 - efficiency)^k, events without such photons unchanged.
        Two samples of the same process, one in each branch, stand together for every event, and
        the rare outcome that a photon veto keeps is simulated as often as the common one.
    tracks : bool
        Also return the tracks (False by default).
    hadronic_tag : HadronicTag, optional
        Emulate a hadronic tag (:mod:`analysis_lib.simulation.tagging`) in every event, the event
        weighted by the probability of one; the events need their particles' ``side`` (and, for
        B Bbar events, the B mesons' momenta and decays).
    conversions : bool
        Convert the photons in the material in front of the tracker (:func:`convert_photons`, drawing
        from a child stream of ``rng`` spawned before the others) and give the tracks as helices
        (the module docstring; False by default).
    force_conversions : bool
        The same, every photon that crosses material converting (:func:`convert_photons` with
        ``forced``), each event weighted by the probability of that (False by default). As with
        ``force_track_loss``, the sample stands only for those events: its skim must reject the others.
    internal_conversions : bool
        With ``conversions`` or ``force_conversions``, photons also become their own virtual pairs
        (:func:`convert_photons` with ``internal``; not for generators that give hadrons' Dalitz decays
        themselves).

    Returns
    -------
    awkward.Array
        Records with ``photon`` (a list of photon candidates with fields ``E`` in GeV, ``theta`` and
        ``phi`` in radians, lab frame, and ``mc_origin``), ``n_tracks``, ``ecl_energy`` (GeV, the summed
        energy of the clusters not matched to a track, candidates or not) and ``weight``; with
        ``tracks``, also ``track`` (fields ``p`` in GeV, ``theta``, ``phi``, ``charge``,
        ``kaon_id``, ``muon_id``, ``proton_id`` and ``electron_id`` (bool), ``d0`` and ``z0`` in mm, ``mc_pdgid`` and
        ``mc_origin``); with ``hadronic_tag``, ``tag`` (``mbc``, ``delta_e`` in GeV, ``sigprob``,
        ``px``, ``py``, ``pz``: the tag B's centre-of-mass momentum in GeV, and ``mc_correct``) and
        the flag ``in_tag`` of each photon candidate and track (used by the tag).
    """
    conversion_probability = 1.0
    if conversions or force_conversions:
        events, conversion_probability = convert_photons(events, layers(experiment), rng.spawn(1)[0],
                                                         forced=force_conversions, internal=internal_conversions)
    n, k = events.p4.shape[:2]
    cal, trk = experiment.calorimeter, experiment.tracker
    p4 = events.p4
    pdgid = np.broadcast_to(events.pdgid, (n, k))
    momentum = np.linalg.norm(p4[..., 1:], axis=-1)
    direction = np.where(momentum[..., None] > 0, p4[..., 1:] / np.maximum(momentum, 1e-12)[..., None], [0, 0, 1])
    charged = np.isin(np.abs(pdgid), list(_CHARGE))

    # 1. tracks
    theta_true = np.arccos(np.clip(direction[..., 2], -1, 1))
    pt = momentum * np.sin(theta_true)
    production_radius = np.hypot(events.vertex_mm[..., 0], events.vertex_mm[..., 1])
    in_tracker = (
        charged
        & (np.degrees(theta_true) > trk.theta_min_deg)
        & (np.degrees(theta_true) < trk.theta_max_deg)
        & (pt > trk.pt_min_gev)
        & (production_radius < trk.max_production_radius_mm)
    )
    has_track = in_tracker & (rng.random((n, k)) < trk.efficiency)
    weights = np.full(n, float(weight)) if events.weight is None else float(weight) * np.asarray(events.weight)
    weights = weights * conversion_probability
    if force_track_loss:
        has_track[:] = False
        weights *= (1 - trk.efficiency) ** in_tracker.sum(axis=1)
    if force_beam_background:
        weights *= 1 - np.exp(-experiment.beam_background.mean_clusters)

    # 2. showers of photons and electrons
    deposit, points = _showers_on_crystals(events, experiment, pdgid, direction)
    # a shower on crystals always deposits its energy; it becomes a photon candidate with the
    # calorimeter's efficiency (cluster reconstruction and quality), which vetoes on deposited energy
    # do not need
    candidate = deposit & (rng.random((n, k)) < cal.efficiency)
    if photon_branch is not None:
        weights *= condition_photon_efficiency(candidate, deposit, pdgid, p4[..., 0], photon_branch, rng, cal.efficiency)
    # the tracks' identification and impact parameters, and the tag, draw from child streams of the
    # detector's (Generator.spawn leaves the parent's state alone): child 0 for the tracks, 1 for the
    # tag (1 and 2 with conversions, whose stream is child 0), so that the detector's own draws and the
    # tracks' are the same with and without a tag
    track_rng = rng.spawn(1)[0]
    tag, side = None, None
    if hadronic_tag is not None:
        tag, side = _emulate_tag(events, experiment, rng.spawn(1)[0], hadronic_tag, pdgid, has_track,
                                 candidate & (p4[..., 0] > cal.threshold_gev))
        weights *= tag["probability"]
    energy = np.where(deposit, p4[..., 0], 0.0)
    origin = np.broadcast_to(events.origin, (n, k)).copy()
    if side is not None:  # carried through the merging of showers with the origin (the harder shower's)
        origin = origin * _SIDES + (side + 1)
    # columns without a shower in any event play no part below
    showers = np.flatnonzero(deposit.any(axis=0))
    candidate = candidate[:, showers]
    energy, points, origin = energy[:, showers], points[:, showers], origin[:, showers]
    shower_track = has_track[:, showers]

    # 3. beam background
    bkg_energy, bkg_points = _beam_background(rng, n, experiment, at_least_one=force_beam_background)
    energy = np.concatenate([energy, bkg_energy], axis=1)
    points = np.concatenate([points, bkg_points], axis=1)
    background_code = ORIGIN["beam_background"] * _SIDES if side is not None else ORIGIN["beam_background"]  # side -1
    origin = np.concatenate([origin, np.full(bkg_energy.shape, background_code)], axis=1)
    shower_track = np.concatenate([shower_track, np.zeros(bkg_energy.shape, bool)], axis=1)
    candidate = np.concatenate([candidate, np.ones(bkg_energy.shape, bool)], axis=1)

    # 4. merging
    _merge_close_showers(energy, points, origin, shower_track, candidate, cal.min_separation_mm)

    # 5. smearing in energy and in position on the calorimeter face
    present = energy > 0
    sigma_e = cal.energy_resolution(energy)
    energy = np.where(present, energy + rng.normal(size=energy.shape) * sigma_e, 0.0)
    sigma_x = cal.position_resolution_mm(np.where(present, energy, 1.0))
    points = points + rng.normal(size=points.shape) * sigma_x[..., None]
    _, theta, phi = _polar(points)
    cluster_side = None
    if side is not None:
        origin, cluster_side = np.divmod(origin, _SIDES)
        cluster_side = cluster_side - 1
    unmatched = present & (energy > cal.threshold_gev) & ~shower_track
    keep = unmatched & candidate
    ecl_energy = np.where(unmatched, energy, 0.0).sum(axis=1)

    # 6. photon candidates, sorted by energy
    order = np.argsort(-np.where(keep, energy, -np.inf), axis=1, kind="stable")
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    keep_sorted = take(keep)
    counts = keep_sorted.sum(axis=1)
    def jagged(a):
        return ak.unflatten(take(a)[keep_sorted], counts)
    gamma = ak.zip(
        {
            "E": jagged(energy),
            "theta": jagged(theta),
            "phi": jagged(phi),
            "mc_origin": jagged(origin.astype(np.int32)),
            **({"in_tag": jagged(cluster_side == tag["side"][:, None])} if tag is not None else {}),
        }
    )
    out = {"photon": gamma, "n_tracks": has_track.sum(axis=1).astype(np.int32), "ecl_energy": ecl_energy,
           "weight": weights}
    out.update({f"mc_{name}": np.asarray(values) for name, values in events.truth.items()})
    if tracks:
        out["track"] = _tracks(rng, track_rng, experiment, has_track, momentum, theta_true, direction, pdgid,
                               events.origin, events.vertex_mm, helices=conversions or force_conversions)
        if tag is not None:
            in_tag = np.broadcast_to(side == tag["side"][:, None], (n, k))
            out["track"] = ak.with_field(out["track"], ak.unflatten(in_tag[has_track], has_track.sum(axis=1)), "in_tag")
    if tag is not None:
        out["tag"] = ak.zip({"mbc": tag["mbc"], "delta_e": tag["delta_e"], "sigprob": tag["sigprob"],
                             "px": tag["p_cm"][:, 0], "py": tag["p_cm"][:, 1], "pz": tag["p_cm"][:, 2],
                             "mc_correct": tag["correct"]})
    return ak.zip(out, depth_limit=1)


#: Codes per origin that carry a particle's side (-1, 0, 1) through the merging of showers.
_SIDES = 4


def _emulate_tag(events, experiment, rng, model, pdgid, has_track, photon_seen):
    """The tag of every event (:func:`analysis_lib.simulation.tagging.emulate`, drawing from ``rng``) and
    each particle's side."""
    if events.side is None:
        raise ParameterError("a hadronic tag needs the side of every particle (GeneratedEvents.side); this "
                             "generator does not give it")
    n, k = pdgid.shape
    side = np.broadcast_to(events.side, (n, k)).astype(np.int64)
    charged = np.isin(np.abs(pdgid), list(_CHARGE))
    seen = np.where(charged, has_track, photon_seen)
    tag = emulate(model, rng, seen=seen, pdgid=pdgid, side=side, b_p4_cm=events.b_p4_cm,
                  b_hadronic=events.b_hadronic, e_beam_gev=experiment.sqrt_s_gev / 2, b_pairs=events.b_p4_cm is not None)
    return tag, side


def impact_parameters(vertex_mm, direction):
    """Signed transverse impact parameter d0 and z0 (mm) of straight tracks from ``vertex_mm`` along
    unit ``direction`` (..., 3): the point of closest approach to the beam line in the transverse
    plane is (d0 sin phi, -d0 cos phi, z0), phi the track's azimuth (the sign convention of the
    helix parameters of Belle II's tracking), so d0 = x sin phi - y cos phi."""
    x, y, z = np.moveaxis(np.asarray(vertex_mm, dtype=float), -1, 0)
    ux, uy, uz = np.moveaxis(np.asarray(direction, dtype=float), -1, 0)
    transverse = np.maximum(np.hypot(ux, uy), 1e-12)
    d0 = (x * uy - y * ux) / transverse
    t = -(x * ux + y * uy) / transverse**2
    return d0, z + t * uz


def _tracks(rng, extra, experiment, has_track, momentum, theta, direction, pdgid, origin, vertex_mm, *, helices=False):
    """The reconstructed tracks (step 7 of the module docstring), ordered as the particles; the proton
    identification and impact parameters draw from ``extra``. With ``helices``, the azimuth, d0 and
    z0 of each track at its point of closest approach to the beam in the solenoid; without, those
    of straight lines."""
    n, k = has_track.shape
    sin_theta = np.sin(theta)
    pt = momentum * sin_theta
    species = [np.abs(pdgid) == code for code in _CHARGE]
    mass = np.select(species, [mass_gev(code) for code in _CHARGE], 1.0)
    beta = momentum / np.hypot(momentum, mass)
    pt_measured = pt + rng.normal(size=(n, k)) * experiment.tracker.momentum_resolution(pt, beta)
    p_measured = np.abs(pt_measured) / np.maximum(sin_theta, 1e-6)
    kaon = rng.random((n, k)) < experiment.pid.kaon_probability(np.abs(pdgid), p_measured)
    muon = rng.random((n, k)) < experiment.pid.muon_probability(np.abs(pdgid), p_measured, theta)
    charge = (np.select(species, list(_CHARGE.values()), 0) * np.sign(pdgid)).astype(np.int8)
    proton = extra.random((n, k)) < experiment.pid.proton_probability(np.abs(pdgid), p_measured)
    phi = np.arctan2(direction[..., 1], direction[..., 0])
    if helices:
        unit = np.where(charge == 0, 1, charge)
        d0, z0, phi = helix_at_closest_approach(vertex_mm, momentum[..., None] * direction, unit,
                                                field_tesla(experiment))
        # the directions' resolution (detector.material): theta, and phi by that over sin theta
        sigma_angle = direction_resolution_rad(experiment, momentum, beta, theta)
        theta = np.clip(theta + extra.normal(size=(n, k)) * sigma_angle, 1e-6, np.pi - 1e-6)
        phi = phi + extra.normal(size=(n, k)) * sigma_angle / np.maximum(np.sin(theta), 1e-3)
        p_measured = np.abs(pt_measured) / np.maximum(np.sin(theta), 1e-6)  # p, p_T and theta agree
    else:
        d0, z0 = impact_parameters(vertex_mm, direction)
    sigma_d0, sigma_z0 = experiment.tracker.impact_resolution_mm(momentum, beta, theta,
                                                                 np.hypot(vertex_mm[..., 0], vertex_mm[..., 1]))
    d0 = d0 + extra.normal(size=(n, k)) * sigma_d0
    z0 = z0 + extra.normal(size=(n, k)) * sigma_z0
    # drawn last, so that the other branches keep their values from before electron identification
    electron = ((extra.random((n, k)) < experiment.pid.electron_probability(np.abs(pdgid), p_measured))
                & experiment.calorimeter.in_acceptance(theta))
    counts = has_track.sum(axis=1)
    def jagged(a):
        return ak.unflatten(np.broadcast_to(a, (n, k))[has_track], counts)
    return ak.zip({
        "p": jagged(p_measured),
        "theta": jagged(theta),
        "phi": jagged(phi),
        "charge": jagged(charge),
        "kaon_id": jagged(kaon),
        "muon_id": jagged(muon),
        "proton_id": jagged(proton),
        "electron_id": jagged(electron),
        "d0": jagged(d0),
        "z0": jagged(z0),
        "mc_pdgid": jagged(pdgid.astype(np.int32)),
        "mc_origin": jagged(np.asarray(origin).astype(np.int32)),
    })
