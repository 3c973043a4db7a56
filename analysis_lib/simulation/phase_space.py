"""Importance sampling of massless three-body final states, and unweighting.

A :class:`MultichannelSampler` draws e+e- -> 1 2 3 events (all massless) in the centre-of-mass
frame from several channels. Channel (a, b) draws the energy of particle a and the directions of
a and b from simple densities; the energy of b follows from energy conservation and particle c
takes the remaining momentum. With

    d Phi_3 = E_a E_b dE_a dOmega_a dOmega_b / (8 (2 pi)^5 (sqrt(s) - E_a (1 - cos theta_ab)))

(derived here by integrating the delta functions of the standard phase-space element), every
channel's density is known in closed form, and the weight of an event is |M|^2 over the mean
density of all channels (multichannel importance sampling, R. Kleiss and R. Pittau, Comput. Phys.
Commun. 83 (1994) 141). Weights are in pb: their mean is the cross section inside the cuts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..core.cache import content_key, shared_result
from ..core.constants import GEV2_TO_PB
from ..core.kinematics import direction_from_angles
from ..detector.datasets import generated_dir

__all__ = [
    "AroundAxis", "Channel", "PoleDirections", "LogUniform", "MultichannelSampler", "PeakedDirections", "Uniform",
    "cross_section_pb", "stored_cross_section_pb", "unweight",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogUniform:
    """Energies distributed as 1/E between ``low`` and ``high`` (soft singularities)."""

    low: float
    high: float

    def sample(self, rng, n):
        return self.low * np.exp(rng.random(n) * np.log(self.high / self.low))

    def density(self, e):
        inside = (e >= self.low) & (e <= self.high)
        return np.where(inside, 1.0 / (np.maximum(e, 1e-300) * np.log(self.high / self.low)), 0.0)


@dataclass(frozen=True)
class Uniform:
    """Energies distributed uniformly between ``low`` and ``high``."""

    low: float
    high: float

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n)

    def density(self, e):
        return np.where((e >= self.low) & (e <= self.high), 1.0 / (self.high - self.low), 0.0)


@dataclass(frozen=True)
class PeakedDirections:
    """Directions with |cos theta| < ``cos_max``: half uniform, half as 1/(1 - cos^2 theta)
    (the collinear singularities along the beams)."""

    cos_max: float

    def sample(self, rng, n):
        peaked = np.tanh(rng.uniform(-1, 1, n) * np.arctanh(self.cos_max))
        flat = rng.uniform(-self.cos_max, self.cos_max, n)
        c = np.where(rng.random(n) < 0.5, peaked, flat)
        return direction_from_angles(c, rng.uniform(0, 2 * np.pi, n))

    def density(self, directions):
        c = directions[..., 2]
        inside = np.abs(c) < self.cos_max
        log_range = np.log((1 + self.cos_max) / (1 - self.cos_max))
        peaked = 1.0 / ((1 - np.minimum(c**2, 1 - 1e-15)) * log_range * 2 * np.pi)
        flat = 1.0 / (4 * np.pi * self.cos_max)
        return np.where(inside, 0.5 * (peaked + flat), 0.0)


@dataclass(frozen=True)
class PoleDirections:
    """Directions with cos(theta) in (``cos_low``, ``cos_high``): half uniform, half with density
    1/(1 - sign cos theta)^2, the t-channel pole of a lepton scattered forward (``sign`` = +1) or
    backward (-1) at small angles."""

    cos_low: float
    cos_high: float
    sign: float = 1.0

    def _x_range(self):
        # x = 1 - sign c is positive; its range on the interval
        xs = sorted((1 - self.sign * self.cos_low, 1 - self.sign * self.cos_high))
        return xs[0], xs[1]

    def sample(self, rng, n):
        x_lo, x_hi = self._x_range()
        # density 1/x^2 on [x_lo, x_hi] by inversion of its CDF
        inv = 1 / x_lo - rng.random(n) * (1 / x_lo - 1 / x_hi)
        peaked = self.sign * (1 - 1 / inv)
        flat = rng.uniform(self.cos_low, self.cos_high, n)
        c = np.where(rng.random(n) < 0.5, peaked, flat)
        return direction_from_angles(c, rng.uniform(0, 2 * np.pi, n))

    def density(self, directions):
        c = directions[..., 2]
        inside = (c >= self.cos_low) & (c <= self.cos_high)
        x_lo, x_hi = self._x_range()
        x = np.maximum(1 - self.sign * c, 1e-300)
        peaked = 1.0 / (x**2 * (1 / x_lo - 1 / x_hi) * 2 * np.pi)
        flat = 1.0 / (2 * np.pi * (self.cos_high - self.cos_low))
        return np.where(inside, 0.5 * (peaked + flat), 0.0)


@dataclass(frozen=True)
class AroundAxis:
    """Directions at an angle alpha to a given axis with density 1/(1 - cos alpha) between
    ``min_angle_deg`` and ``max_angle_deg`` (collinear emission off a final-state particle)."""

    min_angle_deg: float
    max_angle_deg: float

    @property
    def _log_range(self):
        lo = np.log(1 - np.cos(np.radians(self.min_angle_deg)))
        hi = np.log(1 - np.cos(np.radians(self.max_angle_deg)))
        return lo, hi

    def sample(self, rng, n, axis):
        lo, hi = self._log_range
        cos_alpha = 1 - np.exp(rng.uniform(lo, hi, n))
        local = direction_from_angles(cos_alpha, rng.uniform(0, 2 * np.pi, n))
        # orthonormal basis (e1, e2, axis) per event
        helper = np.where(np.abs(axis[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
        e1 = np.cross(helper, axis)
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        e2 = np.cross(axis, e1)
        return local[:, :1] * e1 + local[:, 1:2] * e2 + local[:, 2:3] * axis

    def density(self, directions, axis):
        lo, hi = self._log_range
        one_minus = 1 - np.sum(directions * axis, axis=-1)
        inside = (one_minus >= np.exp(lo)) & (one_minus <= np.exp(hi))
        return np.where(inside, 1.0 / (2 * np.pi * np.maximum(one_minus, 1e-300) * (hi - lo)), 0.0)


@dataclass(frozen=True)
class Channel:
    """Sample the energy of particle ``a`` and the directions of ``a`` and ``b``; with
    ``a_around_b`` the direction of ``a`` is drawn around that of ``b`` (an :class:`AroundAxis`)."""

    a: int
    b: int
    energy: LogUniform
    direction_a: object
    direction_b: object
    a_around_b: bool = False


class MultichannelSampler:
    """Weighted events of e+e- -> three massless particles (see the module docstring).

    Parameters
    ----------
    sqrt_s : float
    channels : list of Channel
    matrix_element : callable
        ``matrix_element(p_minus, p_plus, k) -> |M|^2`` with k of shape (n, 3, 4).
    accept : callable
        ``accept(k) -> mask`` of the generator cuts.
    symmetry : float
        Identical-particle factor (1/3! for three photons).
    """

    def __init__(self, sqrt_s, channels, matrix_element, accept, symmetry=1.0):
        self.sqrt_s = sqrt_s
        self.channels = list(channels)
        self.matrix_element = matrix_element
        self.accept = accept
        self.symmetry = symmetry

    def _density(self, channel, energies, directions):
        a, b = channel.a, channel.b
        e_a, e_b = energies[:, a], energies[:, b]
        cos_ab = np.sum(directions[:, a] * directions[:, b], axis=1)
        if channel.a_around_b:
            q_a = channel.direction_a.density(directions[:, a], directions[:, b])
        else:
            q_a = channel.direction_a.density(directions[:, a])
        q = channel.energy.density(e_a) * q_a * channel.direction_b.density(directions[:, b])
        jacobian = 8 * (2 * np.pi) ** 5 * (self.sqrt_s - e_a * (1 - cos_ab)) / np.maximum(e_a * e_b, 1e-300)
        return q * jacobian

    def sample(self, rng, n):
        """``n`` weighted events: CM four-momenta (n, 3, 4) and weights in pb."""
        sqrt_s = self.sqrt_s
        which = rng.integers(0, len(self.channels), n)
        k = np.zeros((n, 3, 4))
        for index, channel in enumerate(self.channels):
            rows = np.flatnonzero(which == index)
            m = rows.size
            if not m:
                continue
            e_a = channel.energy.sample(rng, m)
            n_b = channel.direction_b.sample(rng, m)
            n_a = channel.direction_a.sample(rng, m, n_b) if channel.a_around_b else channel.direction_a.sample(rng, m)
            cos_ab = np.sum(n_a * n_b, axis=1)
            e_b = (sqrt_s**2 - 2 * sqrt_s * e_a) / (2 * sqrt_s - 2 * e_a * (1 - cos_ab))
            c = 3 - channel.a - channel.b
            k[rows, channel.a, 0], k[rows, channel.a, 1:] = e_a, n_a * e_a[:, None]
            k[rows, channel.b, 0], k[rows, channel.b, 1:] = e_b, n_b * e_b[:, None]
            k[rows, c, 0] = sqrt_s - e_a - e_b
            k[rows, c, 1:] = -(k[rows, channel.a, 1:] + k[rows, channel.b, 1:])
        energies = k[..., 0]
        directions = k[..., 1:] / np.maximum(energies, 1e-300)[..., None]
        passed = self.accept(k) & np.all(energies > 0, axis=1)
        density = np.mean([self._density(ch, energies, directions) for ch in self.channels], axis=0)
        half = sqrt_s / 2
        p_minus, p_plus = np.array([half, 0, 0, half]), np.array([half, 0, 0, -half])
        with np.errstate(divide="ignore", invalid="ignore"):
            me2 = np.where(passed, self.matrix_element(p_minus, p_plus, k), 0.0)
            weight = np.where(passed & (density > 0), me2 / density, 0.0)
        return k, weight * self.symmetry / (2 * sqrt_s**2) * GEV2_TO_PB


def unweight(sampler, rng, n, *, pilot=200_000, quantile=1.0, name="process"):
    """``n`` unweighted events from a weighted sampler, and the cross section inside its cuts.

    Accept-reject against 1.5 times the ``quantile`` of the weights of a pilot sample (1, the
    default, is the largest weight). Events above the bound are kept with probability 1, which
    under-represents them; the fraction of the cross section above the bound is logged. The cross
    section is the mean weight of the pilot and production samples together. The pilot has
    ``pilot`` trials, or 20 per event asked for when that is fewer (at least 10 000): a few thousand
    events do not need the pilot of a million.
    """
    pilot = int(min(pilot, max(10_000, 20 * n)))
    _, pilot_weights = sampler.sample(rng, pilot)
    mean = max(pilot_weights.mean(), 1e-300)
    w_max = 1.5 * np.quantile(pilot_weights, quantile)
    truncated = np.sum(np.clip(pilot_weights - w_max, 0, None)) / max(pilot_weights.sum(), 1e-300)
    if truncated > 0:
        log.info("%s unweighting: %.2g of the cross section lies above the weight bound", name, truncated)
    kept, total_weight, trials, above, n_kept = [], pilot_weights.sum(), pilot, 0, 0
    while n_kept < n:
        batch = int(min(max(1.2 * (n - n_kept) * w_max / mean, 10_000), 2_000_000))
        k, w = sampler.sample(rng, batch)
        total_weight += w.sum()
        trials += batch
        above += int(np.sum(w > w_max))
        accept = rng.random(batch) * w_max < w
        kept.append(k[accept])
        n_kept += int(accept.sum())
    sigma = total_weight / trials
    if above:
        log.warning("%s unweighting: %d of %d weights above the bound", name, above, trials)
    log.info("%s: sigma = %.4g pb inside the cuts, %d trials, efficiency %.3g", name, sigma, trials, n / trials)
    return np.concatenate(kept)[:n], float(sigma)


def partially_unweight(sampler, rng, n, *, quantile=0.95, pilot=200_000, name="process"):
    """``n`` partially unweighted events from a weighted sampler: (CM four-momenta, the cross
    section inside its cuts in pb, relative event weights with mean 1).

    A trial of weight w is kept with probability min(1, w / w_t) and then weighs max(w, w_t), w_t the
    ``quantile`` of the non-zero weights of a pilot sample: below w_t this is accept-reject, above it
    the events keep their weights. Unlike :func:`unweight` nothing is truncated, and far fewer trials
    are needed when a few weights are large (e+e- -> e+e- gamma: about 4 times fewer per effective
    event at the 0.9 quantile); the price, event weights, is counted where the analysis uses sums of
    squared weights. Standard practice in event generators ("partial unweighting"); the estimate is
    unbiased because every trial's expected contribution, P(keep) x weight, equals its weight. The
    pilot has ``pilot`` trials, or a fifth of the events asked for when that is fewer (at least
    10 000): the threshold only sets the efficiency, never the result.
    """
    pilot = int(min(pilot, max(10_000, n // 5)))
    _, pilot_weights = sampler.sample(rng, pilot)
    positive = pilot_weights[pilot_weights > 0]
    if not positive.size:
        raise RuntimeError(f"{name}: no trial of the pilot sample passes the generator cuts")
    threshold = float(np.quantile(positive, quantile))
    kept, kept_weights, total_weight, trials, n_kept = [], [], pilot_weights.sum(), pilot, 0
    efficiency = float(np.mean(np.minimum(pilot_weights / threshold, 1.0)))
    while n_kept < n:
        batch = int(min(max(1.2 * (n - n_kept) / max(efficiency, 1e-6), 10_000), 2_000_000))
        k, w = sampler.sample(rng, batch)
        total_weight += w.sum()
        trials += batch
        accept = rng.random(batch) * threshold < w
        kept.append(k[accept])
        kept_weights.append(np.maximum(w[accept], threshold))
        n_kept += int(accept.sum())
    sigma = total_weight / trials
    weights = np.concatenate(kept_weights)[:n]
    log.info("%s: sigma = %.4g pb inside the cuts, %d trials, %d events, effective share %.3f", name, sigma, trials, n,
             weights.sum() ** 2 / np.sum(weights**2) / n)
    return np.concatenate(kept)[:n], float(sigma), weights / weights.mean()


def sample_events(sampler, rng, n, *, weighted: bool, pilot: int = 200_000, quantile: float = 1.0, name="process"):
    """``n`` events of a weighted sampler as a generator returns them: (CM four-momenta, cross section
    inside the cuts in pb, relative weights or None). Unweighted by :func:`unweight` at the weights'
    ``quantile``, or with ``weighted`` partially unweighted at their 0.9 quantile
    (:func:`partially_unweight`: fewer trials for nearly the same effective sample)."""
    if weighted:
        return partially_unweight(sampler, rng, n, quantile=0.9, pilot=pilot, name=name)
    return (*unweight(sampler, rng, n, pilot=pilot, quantile=quantile, name=name), None)


def cross_section_pb(sampler) -> float:
    """A cross section inside a sampler's cuts from 2 million of its weighted events (fixed seed):
    statistical precision 0.1-0.3% for the book's samplers."""
    rng = np.random.default_rng(20070713)
    return float(np.mean([sampler.sample(rng, 500_000)[1].mean() for _ in range(4)]))


def stored_cross_section_pb(name: str, key_parts, make_sampler) -> float:
    """:func:`cross_section_pb` of the sampler ``make_sampler()``, computed once per setting
    (``key_parts``) and code and kept in ``<generated>/cross_sections/`` (every kernel and worker of
    a build needs it)."""
    key = content_key(name, repr(key_parts))
    return shared_result(generated_dir() / "cross_sections", name, key, lambda: cross_section_pb(make_sampler()))
