"""Four-vector helpers on plain arrays of shape (..., 4) = (E, px, py, pz), in GeV.

Everything works on plain numpy arrays for speed; the tests check these helpers against the
``vector`` package.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "boost",
    "direction_from_angles",
    "invariant_mass2",
    "isotropic_directions",
    "orthonormal_frames",
    "rotate_z_to",
    "two_body_momentum",
]


def two_body_momentum(mass_parent, mass_1, mass_2):
    """Momentum of either daughter in the rest frame of a two-body decay (Kallen function).

    Examples
    --------
    >>> float(two_body_momentum(10.0, 0.0, 0.0))
    5.0
    """
    m, m1, m2 = (np.asarray(x, dtype=float) for x in (mass_parent, mass_1, mass_2))
    lam = (m**2 - (m1 + m2) ** 2) * (m**2 - (m1 - m2) ** 2)
    return np.sqrt(np.clip(lam, 0, None)) / (2 * m)


def direction_from_angles(cos_theta, phi):
    """Unit vectors (..., 3) from polar-angle cosines and azimuths."""
    sin_theta = np.sqrt(np.clip(1 - np.square(cos_theta), 0, None))
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=-1)


def isotropic_directions(rng, n):
    """``n`` unit vectors distributed uniformly on the sphere."""
    return direction_from_angles(rng.uniform(-1, 1, n), rng.uniform(0, 2 * np.pi, n))


def rotate_z_to(vectors, axis):
    """Rotate 3-vectors (..., 3) by the rotation that takes the z axis onto the unit vector ``axis``.

    Rodrigues' formula about the axis z x ``axis``; the identity when ``axis`` is along +z.
    """
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    z = np.array([0.0, 0.0, 1.0])
    cross = np.cross(z, axis)
    sin_a = np.linalg.norm(cross)
    cos_a = float(np.dot(z, axis))
    if sin_a < 1e-15:
        return vectors if cos_a > 0 else vectors * np.array([1.0, -1.0, -1.0])
    k = cross / sin_a
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rotation = np.eye(3) + sin_a * kx + (1 - cos_a) * kx @ kx
    return vectors @ rotation.T


def orthonormal_frames(axes):
    """Right-handed orthonormal frames (n, 3, 3), one per unit vector of ``axes`` (n, 3), whose third
    row is that vector: directions given about a per-event axis are ``local @ frames``."""
    axes = np.asarray(axes, dtype=float)
    helper = np.where(np.abs(axes[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(helper, axes)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return np.stack([e1, np.cross(axes, e1), axes], axis=1)


def boost(p4, beta):
    """Boost four-momenta (..., 4) by velocities ``beta`` (3,) or (..., 3).

    An active boost: a particle at rest ends up moving with velocity ``beta``. ``beta`` broadcasts
    against the leading dimensions of ``p4``. The general pure Lorentz boost (Jackson, Classical
    Electrodynamics, 3rd ed., chapter 11, written for the active sense):
    E' = gamma (E + beta.p), p' = p + [(gamma - 1) beta.p / beta^2 + gamma E] beta.
    """
    p4 = np.asarray(p4, dtype=float)
    beta = np.asarray(beta, dtype=float)
    beta2 = np.sum(beta**2, axis=-1, keepdims=True)
    if np.any(beta2 >= 1):
        raise ValueError("a boost needs |beta| < 1")
    gamma = 1.0 / np.sqrt(1.0 - beta2)
    energy = p4[..., :1]
    beta_p = np.sum(beta * p4[..., 1:], axis=-1, keepdims=True)
    # (gamma - 1) / beta^2 = gamma^2 / (gamma + 1), finite at beta = 0
    momentum = p4[..., 1:] + (gamma**2 / (gamma + 1) * beta_p + gamma * energy) * beta
    return np.concatenate([gamma * (energy + beta_p), momentum], axis=-1)


def invariant_mass2(*p4s):
    """Invariant mass squared (GeV^2) of the sum of four-momenta (..., 4)."""
    total = np.sum(p4s, axis=0)
    return total[..., 0] ** 2 - np.sum(total[..., 1:] ** 2, axis=-1)
