"""Three-body decays of unpolarised parents, flat in phase space or weighted by a matrix element.

* :func:`three_body_decay`: daughters' four-momenta of parents (n, 4) decaying to three particles, the
  Dalitz variables drawn uniformly inside the Dalitz region (flat phase space: the density of
  three-body phase space is uniform in (m12^2, m23^2); PDG Review of Particle Physics, "Kinematics",
  section on three-body decays), then accepted with probability ``weight / weight_max`` when a
  matrix element is given, and the decay plane oriented isotropically.
* :func:`n_body_decay`: decays to any number of daughters flat in phase space, by the Raubold-Lynch
  method of successive two-body decays weighted by their momenta and accepted against the bound of
  F. James, "Monte Carlo phase space", CERN 68-15 (1968) (the algorithm of CERNLIB's GENBOD).
* :func:`ortho_positronium_weight`: the spin-averaged |M|^2 of ortho-positronium -> 3 gamma (A. Ore,
  J. L. Powell, Phys. Rev. 75 (1949) 1696) in the photons' energy fractions, the matrix element of
  darkonium -> 3 A' for A' much lighter than the darkonium.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import KinematicError, ParameterError
from ..core.kinematics import boost, invariant_mass2, isotropic_directions, orthonormal_frames

__all__ = ["ORTHO_POSITRONIUM_WEIGHT_MAX", "n_body_decay", "ortho_positronium_weight", "three_body_decay"]

#: The largest value of :func:`ortho_positronium_weight` on the Dalitz region.
ORTHO_POSITRONIUM_WEIGHT_MAX = 2.0


def ortho_positronium_weight(x1, x2, x3):
    """|M|^2 of o-Ps -> 3 gamma up to a constant, in the energy fractions x_i = 2 E_i / M of the three
    photons in the parent's frame (x1 + x2 + x3 = 2): ((1 - x1) / (x2 x3))^2 + ((1 - x2) / (x1 x3))^2 +
    ((1 - x3) / (x1 x2))^2 (Ore and Powell above; the tests integrate it to the photon spectrum of
    that paper). Its largest value on the Dalitz region is :data:`ORTHO_POSITRONIUM_WEIGHT_MAX` = 2, along
    the edges where one photon carries x = 1 (27/16 at the symmetric point); with massive daughters the
    region in x shrinks inside the massless one, so 2 still bounds it."""
    x1, x2, x3 = (np.asarray(x, dtype=float) for x in (x1, x2, x3))
    return ((1 - x1) / (x2 * x3)) ** 2 + ((1 - x2) / (x1 * x3)) ** 2 + ((1 - x3) / (x1 * x2)) ** 2


def _dalitz(rng, m_parent, masses, weight, weight_max):
    """(m12^2, m23^2) of each parent, uniform inside its Dalitz region, accepted with weight / weight_max."""
    n = m_parent.size
    m1, m2, m3 = masses
    out12, out23 = np.empty(n), np.empty(n)
    todo = np.arange(n)
    for _ in range(10_000):
        if todo.size == 0:
            return out12, out23
        big_m = m_parent[todo]
        lo12, hi12 = (m1 + m2) ** 2, (big_m - m3) ** 2
        lo23, hi23 = (m2 + m3) ** 2, (big_m - m1) ** 2
        m12 = lo12 + (hi12 - lo12) * rng.random(todo.size)
        m23 = lo23 + (hi23 - lo23) * rng.random(todo.size)
        # inside the region: m23^2 between its limits at this m12^2 (energies in the 12 rest frame)
        e2 = (m12 - m1**2 + m2**2) / (2 * np.sqrt(m12))
        e3 = (big_m**2 - m12 - m3**2) / (2 * np.sqrt(m12))
        p2, p3 = np.sqrt(np.clip(e2**2 - m2**2, 0, None)), np.sqrt(np.clip(e3**2 - m3**2, 0, None))
        inside = np.abs(m23 - (e2 + e3) ** 2 + p2**2 + p3**2) <= 2 * p2 * p3
        if weight is not None:
            u = rng.random(todo.size)
            w = _weight_of(weight, big_m[inside], masses, m12[inside], m23[inside])
            if np.any(w > weight_max * (1 + 1e-9)):
                raise ParameterError(f"the matrix element reaches {float(w.max())!r}, above weight_max={weight_max!r}; "
                                     "raise weight_max to its largest value on the Dalitz region")
            inside[inside] = u[inside] * weight_max < w
        out12[todo[inside]], out23[todo[inside]] = m12[inside], m23[inside]
        todo = todo[~inside]
    raise ParameterError(f"three-body decays: no point accepted in 10000 rounds; weight_max={weight_max!r} is far "
                         "above the matrix element's largest value: lower it to that value")


def _energies(big_m, masses, m12, m23):
    """Energies of the three daughters in the parent's frame from the Dalitz variables."""
    m1, m2, m3 = masses
    e1 = (big_m**2 + m1**2 - m23) / (2 * big_m)
    e3 = (big_m**2 + m3**2 - m12) / (2 * big_m)
    return e1, big_m - e1 - e3, e3


def _weight_of(weight, big_m, masses, m12, m23):
    e1, e2, e3 = _energies(big_m, masses, m12, m23)
    return np.asarray(weight(2 * e1 / big_m, 2 * e2 / big_m, 2 * e3 / big_m), dtype=float)


def three_body_decay(rng, parent_p4, masses, *, weight=None, weight_max: float | None = None):
    """Decays of parents (n, 4) into three daughters of ``masses`` (m1, m2, m3) in GeV: the daughters'
    four-momenta (n, 3, 4) in the frame of ``parent_p4``.

    Without ``weight`` the decays are flat in phase space; with it, ``weight(x1, x2, x3)`` (the
    energy fractions 2 E_i / M in the parent's frame, e.g. :func:`ortho_positronium_weight`) is the
    |M|^2 they follow, by acceptance against ``weight_max``, its largest value (an error if exceeded).
    The parent is unpolarised: the decay plane is oriented isotropically."""
    parent_p4 = np.asarray(parent_p4, dtype=float)
    if parent_p4.ndim != 2 or parent_p4.shape[1] != 4:
        raise ParameterError(f"parent_p4 must have shape (n, 4); got {parent_p4.shape}")
    if weight is not None and not (weight_max is not None and np.isfinite(weight_max) and weight_max > 0):
        raise ParameterError(f"weight_max={weight_max!r}: a matrix element needs its largest value on the Dalitz "
                             "region (e.g. ORTHO_POSITRONIUM_WEIGHT_MAX)")
    masses = tuple(float(m) for m in masses)
    if len(masses) != 3 or min(masses) < 0:
        raise ParameterError(f"masses={masses!r} must be three non-negative daughter masses")
    n = len(parent_p4)
    big_m = np.sqrt(np.clip(invariant_mass2(parent_p4), 0, None))
    if np.any(big_m <= sum(masses)):
        raise KinematicError(f"a three-body decay below threshold: parents as light as {float(big_m.min())!r} GeV "
                             f"cannot make daughters of {sum(masses)!r} GeV in all")
    m12, m23 = _dalitz(rng, big_m, masses, weight, weight_max)
    e = np.stack(_energies(big_m, masses, m12, m23), axis=1)  # (n, 3)
    p = np.sqrt(np.clip(e**2 - np.square(masses), 0, None))
    # daughter 1 along the local z axis, daughter 3 in the local xz plane, daughter 2 balancing both
    cos13 = np.clip((p[:, 1] ** 2 - p[:, 0] ** 2 - p[:, 2] ** 2) / np.maximum(2 * p[:, 0] * p[:, 2], 1e-300), -1, 1)
    local = np.zeros((n, 3, 3))
    local[:, 0, 2] = p[:, 0]
    local[:, 2, 0] = p[:, 2] * np.sqrt(1 - cos13**2)
    local[:, 2, 2] = p[:, 2] * cos13
    local[:, 1] = -local[:, 0] - local[:, 2]
    # an isotropic orientation: the local z axis along a random direction, a random turn about it
    turn = rng.uniform(0, 2 * np.pi, n)
    c, s = np.cos(turn)[:, None], np.sin(turn)[:, None]
    x, y = local[..., 0].copy(), local[..., 1].copy()
    local[..., 0], local[..., 1] = c * x - s * y, s * x + c * y
    frames = orthonormal_frames(isotropic_directions(rng, n))
    momenta = local @ frames
    rest = np.concatenate([e[..., None], momenta], axis=-1)
    beta = parent_p4[:, 1:] / parent_p4[:, :1]
    return boost(rest, beta[:, None, :])


def _two_body_momentum(m, m1, m2):
    """The daughters' momentum in the rest frame of a parent of mass ``m`` decaying to ``m1`` and ``m2``."""
    m, m1, m2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (m, m1, m2)))
    lam = (m**2 - (m1 + m2) ** 2) * (m**2 - (m1 - m2) ** 2)
    return np.sqrt(np.clip(lam, 0, None)) / np.maximum(2 * m, 1e-300)


def n_body_decay(rng, parent_p4, masses):
    """Decays of parents (n, 4) into ``len(masses)`` daughters of ``masses`` (GeV), flat in phase space:
    the daughters' four-momenta (n, k, 4) in the frame of ``parent_p4``.

    The Raubold-Lynch method (F. James, CERN 68-15): the invariant masses of the first 2, 3, ... k-1
    daughters are drawn from ordered uniform numbers spread over the kinetic energy, each system decays to
    the previous one and one daughter isotropically in its rest frame, and the event is kept with
    probability (product of the two-body momenta) / (its bound: the product at the largest mass each system
    can have over the smallest it can decay to). That bound is loose for many daughters (200 times the
    weights for six pions): the acceptance is against a share of it, twice the largest ratio of a pilot of
    trials, and all events are drawn again with a larger share should any weight exceed it; the events are
    flat up to weights above the share that no trial reached. Parents of different masses are allowed; each
    is drawn until kept."""
    parent_p4 = np.asarray(parent_p4, dtype=float)
    if parent_p4.ndim != 2 or parent_p4.shape[1] != 4:
        raise ParameterError(f"parent_p4 must have shape (n, 4); got {parent_p4.shape}")
    masses = np.asarray(masses, dtype=float)
    k = masses.size
    if k < 2 or np.any(masses < 0):
        raise ParameterError(f"masses={masses.tolist()!r} must be two or more non-negative daughter masses")
    n = len(parent_p4)
    if n == 0:
        return np.zeros((0, k, 4))
    big_m = np.sqrt(np.clip(invariant_mass2(parent_p4), 0, None))
    kinetic = big_m - masses.sum()
    if np.any(kinetic <= 0):
        raise KinematicError(f"a {k}-body decay below threshold: parents as light as {float(big_m.min())!r} GeV "
                             f"cannot make daughters of {float(masses.sum())!r} GeV in all")
    cumulative = np.cumsum(masses)  # masses of the first 1, 2, ..., k daughters at rest
    # James's bound of the weight, per parent
    bound = np.ones(n)
    top, bottom = kinetic + masses[0], np.zeros(n)
    for i in range(1, k):
        bottom = bottom + masses[i - 1]
        top = top + masses[i]
        bound = bound * _two_body_momentum(top, bottom, masses[i])
    def trials(rows):
        r = np.sort(rng.random((rows.size, k - 2)), axis=1) if k > 2 else np.zeros((rows.size, 0))
        trial = np.concatenate([np.zeros((rows.size, 1)), r, np.ones((rows.size, 1))], axis=1)
        trial = cumulative[None, :] + trial * kinetic[rows, None]
        return trial, np.prod(_two_body_momentum(trial[:, 1:], trial[:, :-1], masses[None, 1:]), axis=1)

    # James's bound is far above the weights for many daughters: accept against a share of it (the docstring)
    pilot = rng.integers(n, size=min(n, 2000) * 10)
    _, weight = trials(pilot)
    share = min(1.0, 2 * float(np.max(weight / bound[pilot])))
    while True:
        system = np.empty((n, k))  # invariant mass of the first j + 1 daughters
        todo, exceeded = np.arange(n), 0.0
        while todo.size and not exceeded:
            trial, weight = trials(todo)
            ratio = weight / (share * bound[todo])
            exceeded = float(ratio.max()) if ratio.max() > 1 else 0.0
            keep = rng.random(todo.size) < ratio
            system[todo[keep]] = trial[keep]
            todo = todo[~keep]
        if not exceeded:
            break
        share = min(1.0, 2 * exceeded * share)
    # build the decay chain from the first daughter up: system j+1 -> system j + daughter j+1
    momenta = np.zeros((n, k, 4))
    momenta[:, 0, 0] = masses[0]
    for j in range(1, k):
        p = _two_body_momentum(system[:, j], system[:, j - 1], masses[j])
        direction = isotropic_directions(rng, n)
        inner = np.concatenate([np.sqrt(p**2 + system[:, j - 1] ** 2)[:, None], -p[:, None] * direction], axis=1)
        # the first j daughters, at rest in system j, move with system j inside system j + 1
        beta = inner[:, 1:] / inner[:, :1]
        momenta[:, :j] = boost(momenta[:, :j], beta[:, None, :])
        momenta[:, j] = np.concatenate([np.sqrt(p**2 + masses[j] ** 2)[:, None], p[:, None] * direction], axis=1)
    beta = parent_p4[:, 1:] / parent_p4[:, :1]
    return boost(momenta, beta[:, None, :])
