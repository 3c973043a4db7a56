"""Event-shape variables that separate B Bbar events (spherical: the B mesons are nearly at rest in
the centre-of-mass frame) from continuum e+e- -> q qbar (two back-to-back jets).

All functions take centre-of-mass momenta as padded arrays (n, k, 3) with zero rows for absent
particles (see :func:`pad_momenta`), and work event by event, vectorised over events:

* :func:`thrust_axis`: the axis n maximising T = sum |p.n| / sum |p| (iterative search from several
  starting axes, exact for up to three particles and in practice for jets);
* :func:`fox_wolfram_ratio`: R2 = H2 / H0 with H_l = sum_ij |p_i||p_j| P_l(cos theta_ij)
  (G. C. Fox and S. Wolfram, Phys. Rev. Lett. 41 (1978) 1581);
* :func:`legendre_moments`: L_j = sum_i |p_i| |cos theta_i|^j of the rest of the event to an axis
  (the BaBar continuum-suppression moments L0 and L2, e.g. BaBar, Phys. Rev. D 70 (2004) 032006);
* :func:`cos_thrust_angle`: |cos| of the angle between two thrust axes (of the B candidate and of
  the rest of the event).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

__all__ = ["cos_thrust_angle", "fox_wolfram_ratio", "legendre_moments", "pad_momenta", "thrust", "thrust_axis"]


def pad_momenta(px, py, pz, k: int | None = None):
    """Padded (n, k, 3) momenta from jagged awkward components (zero rows for padding)."""
    counts = ak.num(px)
    k = int(ak.max(counts, initial=0) or 0) if k is None else k
    k = max(k, 1)

    def pad(a):
        return ak.to_numpy(ak.fill_none(ak.pad_none(a, k, clip=True), 0.0)).astype(float)

    return np.stack([pad(px), pad(py), pad(pz)], axis=-1)


#: Up to this many particles the thrust axis is found exactly, by trying every sign pattern.
EXACT_THRUST_MAX = 10


def _exact_thrust_axis(p):
    """The thrust axis is along sum_i s_i p_i for the signs s that maximise that sum's length
    (Brandt et al., Phys. Lett. 12 (1964) 57); try all 2^(k-1) patterns."""
    k = p.shape[1]
    if k == 1:
        signs = np.ones((1, 1))
    else:
        patterns = np.array(np.meshgrid(*([[1.0, -1.0]] * (k - 1)), indexing="ij")).reshape(k - 1, -1).T
        signs = np.concatenate([np.ones((len(patterns), 1)), patterns], axis=1)
    sums = np.einsum("sk,nkj->nsj", signs, p)
    lengths = np.linalg.norm(sums, axis=-1)
    best = np.take_along_axis(sums, np.argmax(lengths, axis=1)[:, None, None], axis=1)[:, 0]
    norm = np.linalg.norm(best, axis=-1, keepdims=True)
    return np.where(norm > 0, best / np.where(norm > 0, norm, 1.0), [0.0, 0.0, 1.0])


def thrust_axis(p, *, iterations: int = 8, starts: int = 8):
    """Thrust axes (n, 3) of padded momenta ``p`` (n, k, 3); events without momenta get (0, 0, 1).

    Exact for an event of up to :data:`EXACT_THRUST_MAX` particles. Above, from each of the ``starts``
    largest momenta (and their sums with the largest) iterate n <- sum_i sign(p_i . n) p_i / |...|,
    which increases T at every step and ends on a local maximum, and keep the best (the tests measure
    how close this comes to the exact axis). Each event takes the method of its own multiplicity (the
    last non-zero row), in a group of events of similar multiplicity padded only to the group's
    largest (and, when iterated, to at least ``starts`` rows: an absent particle's start, a zero
    axis, iterates to the sum of all momenta): padding rows add exact zeros, so an event's axis does
    not depend on the other events of its batch (to rounding), and a few busy events do not set the
    work of all.
    """
    p = np.asarray(p, dtype=float)
    n_events, k, _ = p.shape
    width = np.max(np.where(np.linalg.norm(p, axis=-1) > 0, np.arange(1, k + 1), 0), axis=1, initial=0)
    out = np.empty((n_events, 3))
    group = np.searchsorted(_WIDTHS, width)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        if _WIDTHS[g] <= EXACT_THRUST_MAX:
            padding = max(min(k, int(_WIDTHS[g])), 1)
            for first in range(0, rows.size, _EXACT_ROWS):  # (rows, 2^(k-1), 3) at a time
                some = rows[first:first + _EXACT_ROWS]
                out[some] = _exact_thrust_axis(p[some, :padding])
        else:
            out[rows] = _iterated_thrust_axis(p[rows, : min(k, max(int(_WIDTHS[g]), starts))], iterations, starts)
    return out


#: Paddings of the groups of :func:`thrust_axis` (those up to :data:`EXACT_THRUST_MAX` exact; the
#: last bounds every multiplicity), and the events of an exact group computed at once.
_WIDTHS = np.array([4, 7, EXACT_THRUST_MAX, 12, 16, 24, 32, 48, 64, 96, 128, np.iinfo(np.int64).max])
_EXACT_ROWS = 8192


def _iterated_thrust_axis(p, iterations, starts):
    """:func:`thrust_axis` by iteration from several starting axes (any multiplicity)."""
    n_events, k, _ = p.shape
    magnitude = np.linalg.norm(p, axis=-1)
    order = np.argsort(-magnitude, axis=1)
    best_axis = np.tile([0.0, 0.0, 1.0], (n_events, 1))
    best_t = np.full(n_events, -1.0)
    leading = np.take_along_axis(p, order[:, :1, None], axis=1)[:, 0]
    candidates = []
    for s in range(min(starts, k)):
        start = np.take_along_axis(p, order[:, s : s + 1, None], axis=1)[:, 0]
        candidates.append(start)
        if s > 0:
            candidates.append(start + leading)
    for axis in candidates:
        for _ in range(iterations):
            sign = np.where(np.matmul(p, axis[:, :, None])[:, :, 0] < 0, -1.0, 1.0)
            new = np.matmul(sign[:, None, :], p)[:, 0]
            norm = np.linalg.norm(new, axis=-1, keepdims=True)
            axis = np.where(norm > 0, new / np.where(norm > 0, norm, 1.0), axis)
        unit = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-300)
        t = np.abs(np.matmul(p, unit[:, :, None])[:, :, 0]).sum(axis=1)
        better = t > best_t
        best_t = np.where(better, t, best_t)
        best_axis = np.where(better[:, None], unit, best_axis)
    empty = magnitude.sum(axis=1) == 0
    best_axis[empty] = [0.0, 0.0, 1.0]
    return best_axis


def thrust(p, axis=None):
    """Thrust T = sum |p . n| / sum |p| of padded momenta along ``axis`` (default: the thrust axis)."""
    p = np.asarray(p, dtype=float)
    axis = thrust_axis(p) if axis is None else axis
    total = np.linalg.norm(p, axis=-1).sum(axis=1)
    projected = np.abs(np.einsum("nkj,nj->nk", p, axis)).sum(axis=1)
    return np.where(total > 0, projected / np.where(total > 0, total, 1.0), 0.0)


def fox_wolfram_ratio(p):
    """R2 = H2 / H0 of padded momenta (n, k, 3): 1 for two back-to-back particles, near 0 for an
    isotropic event. H0 uses |p| (massless approximation, as is usual at B factories).

    H_l = sum_ij |p_i| |p_j| P_l(cos theta_ij) (Fox and Wolfram, PRL 41 (1978) 1581). For l = 2,
    with P_2(x) = (3 x^2 - 1) / 2 and the symmetric tensor T = sum_i p_i p_i^T / |p_i|,
    sum_ij |p_i| |p_j| cos^2 theta_ij = Tr(T^2), so H2 = (3 Tr(T^2) - H0) / 2 with H0 = (sum_i |p_i|)^2
    (derived here; linear in the number of particles instead of quadratic; the tests compare it
    with the sum over pairs)."""
    p = np.asarray(p, dtype=float)
    magnitude = np.linalg.norm(p, axis=-1)
    scaled = p / np.maximum(magnitude, 1e-300)[..., None]
    tensor = np.einsum("nki,nkj->nij", scaled, p)
    h0 = magnitude.sum(axis=1) ** 2
    h2 = 0.5 * (3 * np.einsum("nij,nij->n", tensor, tensor) - h0)
    return np.where(h0 > 0, h2 / np.where(h0 > 0, h0, 1.0), 0.0)


def legendre_moments(p, axis, orders=(0, 2)):
    """L_j = sum_i |p_i| |cos theta_i|^j for padded momenta ``p`` (n, k, 3) to unit ``axis`` (n, 3)."""
    p = np.asarray(p, dtype=float)
    magnitude = np.linalg.norm(p, axis=-1)
    cos = np.abs(np.einsum("nkj,nj->nk", p, axis)) / np.maximum(magnitude, 1e-300)
    return tuple((magnitude * cos**j).sum(axis=1) for j in orders)


def cos_thrust_angle(axis_1, axis_2):
    """|cos| of the angle between two sets of unit axes (n, 3)."""
    return np.abs(np.einsum("nj,nj->n", axis_1, axis_2))


def continuum_suppression(photons, tracks, candidate_photon, candidate_track, frame) -> dict:
    """The continuum-suppression variables of a candidate against the rest of its event.

    ``photons`` and ``tracks`` are the lab four-vectors of every event (awkward arrays of
    ``vector`` records with E, px, py, pz), ``candidate_photon`` and ``candidate_track`` flag those
    that make the candidate, ``frame`` takes momenta to the centre-of-mass frame. Returns per event:
    ``r2`` (Fox-Wolfram R2 of the whole event), ``cos_thrust`` (|cos| of the angle between the
    thrust axes of the candidate and of the rest of the event), ``l0`` and ``l2`` (Legendre moments
    of the rest of the event to the candidate's thrust axis) and ``thrust_roe`` (thrust of the rest
    of the event).
    """
    everything = ak.concatenate([photons, tracks], axis=1)
    in_candidate = ak.concatenate([candidate_photon, candidate_track], axis=1)
    flat = ak.flatten(everything)
    cm = frame.to_cm(np.stack([ak.to_numpy(flat[f]) for f in ("E", "px", "py", "pz")], axis=-1))
    counts = ak.num(everything)
    momenta = [ak.unflatten(cm[:, i + 1], counts) for i in range(3)]
    flags = ak.to_numpy(ak.flatten(in_candidate))

    def padded(mask):
        keep = ak.unflatten(mask, counts)
        return pad_momenta(*(p[keep] for p in momenta))

    candidate_p, roe_p = padded(flags), padded(~flags)
    axis_b, axis_roe = thrust_axis(candidate_p), thrust_axis(roe_p)
    l0, l2 = legendre_moments(roe_p, axis_b)
    return {"r2": fox_wolfram_ratio(padded(np.ones_like(flags))), "cos_thrust": cos_thrust_angle(axis_b, axis_roe),
            "l0": l0, "l2": l2, "thrust_roe": thrust(roe_p, axis_roe)}
