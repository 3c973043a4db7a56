"""Pairing of oppositely charged tracks into candidates of equal mass: three pairs from six tracks
(darkonium -> 3 A', each A' -> two tracks), or k pairs from 2k tracks.

Each positive track is paired with a negative one; of the k! pairings the one kept is the one whose
pair masses agree best: the smallest chi^2 = sum_i (m_i - m_bar)^2 / sigma_i^2, with m_bar the mean
of the pair masses weighted by 1 / sigma_i^2 and sigma_i = ``resolution(m_i)`` (the mass resolution
of a pair; 1 GeV for all without one: the plain spread). Vectorised over events: every pairing of
every event is computed at once (6 pairings of 3 pairs, 24 of 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np

from ..core.errors import ParameterError

__all__ = ["PairedTracks", "pair_tracks", "split_by_charge"]


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
        track ``positive[e, i]`` (``positive[e, positive[e, i]]`` with ``negative[e, partner[e, i]]``).
    positive : ndarray (n, k)
        Which positive track sits in each pair of ``masses``.
    """

    masses: np.ndarray
    mean: np.ndarray
    chi2: np.ndarray
    partner: np.ndarray
    positive: np.ndarray


def split_by_charge(p4, charge, k: int = 3):
    """The four-momenta (n, 2k, 4) of events with ``charge`` (n, 2k) split into positive and negative
    tracks, (n, k, 4) each, keeping their order; and the indices of each in the input (n, k). Every event
    must hold k tracks of each charge (select them first)."""
    p4, charge = np.asarray(p4, dtype=float), np.asarray(charge)
    if p4.ndim != 3 or p4.shape[1:] != (2 * k, 4) or charge.shape != p4.shape[:2]:
        raise ParameterError(f"p4 must have shape (n, {2 * k}, 4) and charge (n, {2 * k}); got {p4.shape} and {charge.shape}")
    plus = charge > 0
    bad = np.flatnonzero((plus.sum(axis=1) != k) | ((charge < 0).sum(axis=1) != k))
    if bad.size:
        raise ParameterError(f"{bad.size} event(s) (the first: {int(bad[0])}) do not hold {k} positive and {k} negative "
                             "tracks; select events of zero total charge first")
    order = np.argsort(~plus, axis=1, kind="stable")  # positives first, each group in input order
    index_plus, index_minus = order[:, :k], order[:, k:]
    take = np.take_along_axis
    return take(p4, index_plus[..., None], axis=1), take(p4, index_minus[..., None], axis=1), index_plus, index_minus


def _masses(p4):
    return np.sqrt(np.clip(p4[..., 0] ** 2 - np.sum(p4[..., 1:] ** 2, axis=-1), 0, None))


def pair_tracks(positive, negative, *, resolution=None) -> PairedTracks:
    """The pairing of ``positive`` and ``negative`` tracks (n, k, 4 four-momenta each, k <= 5) whose pair
    masses agree best (see the module docstring); ``resolution(mass) -> sigma`` in GeV, vectorised."""
    positive, negative = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    if positive.shape != negative.shape or positive.ndim != 3 or positive.shape[2] != 4:
        raise ParameterError(f"positive and negative must both have shape (n, k, 4); got {positive.shape} and {negative.shape}")
    n, k = positive.shape[:2]
    if not 1 <= k <= 5:
        raise ParameterError(f"k = {k} pairs: pairing is by enumeration of the k! pairings, for 1 <= k <= 5")
    options = np.array(list(permutations(range(k))))  # (k!, k): negative partner of each positive track
    summed = positive[:, None, :, :] + negative[:, options, :]  # (n, k!, k, 4)
    masses = _masses(summed)
    sigma = np.ones_like(masses) if resolution is None else np.asarray(resolution(masses), dtype=float)
    if sigma.shape != masses.shape or not np.all(np.isfinite(sigma) & (sigma > 0)):
        raise ParameterError("resolution(mass) must return finite positive widths of the masses' shape")
    weights = 1 / sigma**2
    mean = np.sum(weights * masses, axis=-1) / np.sum(weights, axis=-1)
    chi2 = np.sum(weights * (masses - mean[..., None]) ** 2, axis=-1)  # (n, k!)
    best = np.argmin(chi2, axis=1)
    rows = np.arange(n)
    chosen = masses[rows, best]
    order = np.argsort(chosen, axis=1, kind="stable")
    return PairedTracks(masses=np.take_along_axis(chosen, order, axis=1), mean=mean[rows, best], chi2=chi2[rows, best],
                        partner=np.take_along_axis(options[best], order, axis=1), positive=order)
