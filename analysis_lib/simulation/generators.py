"""Event generators for the photon final states, sampled from their differential cross sections.

Every generator works in the centre-of-mass frame with the incoming electron along +z, then takes
the event to the lab with :meth:`Frame.to_lab`. It returns :class:`GeneratedEvents`: unweighted
events of a process together with the cross section inside the generator cuts, so that a sample of
N events stands for sigma / N per event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..detector import Beams
from ..errors import KinematicError, ParameterError
from ..kinematics import direction_from_angles, isotropic_directions, rotate_z_to, boost, two_body_momentum
from ..physics.alp import dsigma_dcostheta_pb
from ..physics.qed import matrix_element_squared_three_photons, sigma_gamma_gamma_pb
from ..constants import GEV2_TO_PB

__all__ = [
    "ORIGIN",
    "Frame",
    "GeneratedEvents",
    "generate_gamma_gamma",
    "generate_gamma_resonance",
    "generate_three_photons",
]

log = logging.getLogger(__name__)

#: Truth codes of generated particles, stored per cluster in simulated ntuples.
ORIGIN = {"beam_background": 0, "hard_photon": 1, "resonance_daughter": 2, "lepton": 3}


@dataclass(frozen=True)
class GeneratedEvents:
    """Unweighted generated events of one process, in the lab frame.

    Attributes
    ----------
    p4 : array (n, k, 4)
        Four-momenta (E, px, py, pz) in GeV of the k final-state particles.
    vertex_mm : array (n, k, 3)
        Production point of each particle in mm (the origin for prompt particles).
    pdgid : array (k,)
        PDG identifiers of the k particles.
    origin : array (k,)
        Truth codes from :data:`ORIGIN`.
    sigma_pb : float
        Cross section of the process inside the generator cuts, in pb.
    cuts : dict
        The generator cuts, for the record.
    """

    p4: np.ndarray
    vertex_mm: np.ndarray
    pdgid: np.ndarray
    origin: np.ndarray
    sigma_pb: float
    cuts: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.p4.shape[0]


@dataclass(frozen=True)
class Frame:
    """Transformation from the centre-of-mass frame (e- along +z) to the lab frame of ``beams``."""

    beams: Beams

    @property
    def electron_axis_cm(self) -> np.ndarray:
        """Direction of the electron beam in the centre-of-mass frame."""
        e_minus, _ = self.beams.four_momenta()
        p = boost(e_minus, -self.beams.beta)
        return p[1:] / np.linalg.norm(p[1:])

    def to_lab(self, p4_cm):
        """Rotate (z -> electron axis) and boost four-momenta (..., 4) to the lab."""
        p4_cm = np.asarray(p4_cm, dtype=float)
        rotated = np.concatenate(
            [p4_cm[..., :1], rotate_z_to(p4_cm[..., 1:], self.electron_axis_cm)], axis=-1
        )
        return boost(rotated, self.beams.beta)

    def to_cm(self, p4_lab):
        """Inverse of :meth:`to_lab`: boost to the centre-of-mass frame and rotate back to z."""
        p4 = boost(np.asarray(p4_lab, dtype=float), -self.beams.beta)
        axis = self.electron_axis_cm
        # rotate_z_to returns v @ R.T; the inverse rotation of row vectors is v @ R
        rotation_transposed = rotate_z_to(np.eye(3), axis)
        return np.concatenate([p4[..., :1], p4[..., 1:] @ rotation_transposed.T], axis=-1)

    def beam_four_momenta_cm(self):
        """Electron and positron four-momenta in the centre-of-mass frame (e- along +z)."""
        half = self.beams.sqrt_s_gev / 2
        return np.array([half, 0, 0, half]), np.array([half, 0, 0, -half])


def _massless(direction, energy):
    return np.concatenate([energy[..., None], direction * energy[..., None]], axis=-1)


def _sample_one_plus_cos2(rng, n):
    """cos(theta) distributed as 1 + cos^2 on [-1, 1] (accept-reject, envelope 2)."""
    out = np.empty(0)
    while out.size < n:
        c = rng.uniform(-1, 1, 2 * (n - out.size) + 16)
        keep = rng.uniform(0, 2, c.size) < 1 + c**2
        out = np.concatenate([out, c[keep]])
    return out[:n]


def generate_gamma_resonance(
    rng,
    n,
    *,
    beams: Beams,
    mass_gev: float,
    sigma_pb: float,
    ctau_mm: float = 0.0,
):
    """e+e- -> gamma X, X -> gamma gamma, for a pseudoscalar X (an ALP, or a pi0, eta, eta').

    The recoil photon follows 1 + cos^2(theta*) (:func:`analysis_lib.physics.alp.dsigma_dcostheta_pb`,
    the same for any pseudoscalar produced through a photon); X decays isotropically (spin 0) after
    a flight drawn from an exponential with mean beta gamma c tau in the lab.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of events.
    beams : Beams
    mass_gev : float
        Mass of X, 0 < m < sqrt(s).
    sigma_pb : float
        sigma(e+e- -> gamma X) x B(X -> gamma gamma) in pb, recorded with the events.
    ctau_mm : float
        Proper decay length of X in mm, >= 0; 0 (the default) is a prompt decay.
    """
    sqrt_s = beams.sqrt_s_gev
    if not 0 < mass_gev < sqrt_s:
        raise KinematicError(
            f"mass_gev={mass_gev!r} is outside 0 < m < sqrt(s) = {sqrt_s:.3f} GeV"
        )
    if ctau_mm < 0:
        raise ParameterError(f"ctau_mm={ctau_mm!r} is negative; use 0 for a prompt decay")
    frame = Frame(beams)
    cos_theta = _sample_one_plus_cos2(rng, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    direction = direction_from_angles(cos_theta, phi)
    e_gamma = (sqrt_s**2 - mass_gev**2) / (2 * sqrt_s)
    gamma_cm = _massless(direction, np.full(n, e_gamma))
    x_cm = np.concatenate([np.full((n, 1), sqrt_s - e_gamma), -gamma_cm[:, 1:]], axis=1)
    # X -> gamma gamma, isotropic in the X rest frame, then boosted with X
    d = isotropic_directions(rng, n)
    half = mass_gev / 2
    daughters_rest = np.stack([_massless(d, np.full(n, half)), _massless(-d, np.full(n, half))], axis=1)
    beta_x = x_cm[:, 1:] / x_cm[:, :1]
    daughters_cm = boost(daughters_rest, beta_x[:, None, :])
    p4_cm = np.concatenate([gamma_cm[:, None, :], daughters_cm], axis=1)
    p4_lab = frame.to_lab(p4_cm)
    vertex = np.zeros((n, 3, 3))
    if ctau_mm > 0:
        x_lab = p4_lab[:, 1:, :].sum(axis=1)
        p_lab = np.linalg.norm(x_lab[:, 1:], axis=1)
        flight = rng.exponential(p_lab / mass_gev * ctau_mm)
        vertex[:, 1:, :] = (x_lab[:, 1:] / p_lab[:, None] * flight[:, None])[:, None, :]
    return GeneratedEvents(
        p4=p4_lab,
        vertex_mm=vertex,
        pdgid=np.array([22, 22, 22]),
        origin=np.array([ORIGIN["hard_photon"], ORIGIN["resonance_daughter"], ORIGIN["resonance_daughter"]]),
        sigma_pb=float(sigma_pb),
        cuts={"mass_gev": mass_gev, "ctau_mm": ctau_mm},
    )


def generate_gamma_gamma(rng, n, *, beams: Beams, cos_max: float):
    """e+e- -> gamma gamma with both photons at |cos theta*| < ``cos_max`` (centre-of-mass frame).

    cos(theta*) of the first photon is drawn from (1 + c^2)/(1 - c^2)
    (:func:`analysis_lib.physics.qed.dsigma_dcostheta_gamma_gamma_pb`): a proposal 1/(1 - c^2)
    (c = tanh u with u uniform) accepted with probability (1 + c^2)/2. The second photon is
    back to back.
    """
    sqrt_s = beams.sqrt_s_gev
    sigma = sigma_gamma_gamma_pb(sqrt_s, cos_max=cos_max)
    umax = np.arctanh(cos_max)
    c = np.empty(0)
    while c.size < n:
        trial = np.tanh(rng.uniform(-umax, umax, 2 * (n - c.size) + 16))
        keep = rng.uniform(0, 2, trial.size) < 1 + trial**2
        c = np.concatenate([c, trial[keep]])
    c = c[:n]
    direction = direction_from_angles(c, rng.uniform(0, 2 * np.pi, n))
    e = np.full(n, sqrt_s / 2)
    p4_cm = np.stack([_massless(direction, e), _massless(-direction, e)], axis=1)
    return GeneratedEvents(
        p4=Frame(beams).to_lab(p4_cm),
        vertex_mm=np.zeros((n, 2, 3)),
        pdgid=np.array([22, 22]),
        origin=np.array([ORIGIN["hard_photon"]] * 2),
        sigma_pb=float(sigma),
        cuts={"cos_max_cm": cos_max},
    )


_PAIRS = [(a, b) for a in range(3) for b in range(3) if a != b]


class _ThreePhotonSampler:
    """Multichannel importance sampling of massless three-body phase space for e+e- -> 3 gamma.

    Channel (a, b) draws E_a from 1/E, and the directions of photons a and b each from an equal
    mixture of uniform and 1/(1 - cos^2) (the collinear singularities of the matrix element); the
    energy of b follows from energy conservation and photon c takes the remaining momentum. With
    d Phi_3 = E_a E_b dE_a dOmega_a dOmega_b / (8 (2 pi)^5 (sqrt(s) - E_a (1 - cos theta_ab)))
    (derived here by integrating the delta functions), the phase-space density of a channel is
    known in closed form, and the weight of an event is |M|^2 over the average density of the six
    channels.
    """

    def __init__(self, sqrt_s, e_min, cos_max):
        self.sqrt_s, self.e_min, self.cos_max = sqrt_s, e_min, cos_max
        self.e_max = sqrt_s / 2
        self.log_e_range = np.log(self.e_max / e_min)
        self.log_c_range = np.log((1 + cos_max) / (1 - cos_max))

    def _direction_density(self, c):
        peaked = 1.0 / ((1 - c**2) * self.log_c_range * 2 * np.pi)
        flat = 1.0 / (4 * np.pi * self.cos_max)
        return 0.5 * (peaked + flat)

    def _sample_directions(self, rng, n):
        peaked = np.tanh(rng.uniform(-1, 1, n) * np.arctanh(self.cos_max))
        flat = rng.uniform(-self.cos_max, self.cos_max, n)
        c = np.where(rng.random(n) < 0.5, peaked, flat)
        return direction_from_angles(c, rng.uniform(0, 2 * np.pi, n))

    def _channel_density(self, energies, directions, a, b):
        e_a, e_b = energies[:, a], energies[:, b]
        cos_ab = np.sum(directions[:, a] * directions[:, b], axis=1)
        q = (
            1.0 / (e_a * self.log_e_range)
            * self._direction_density(directions[:, a, 2])
            * self._direction_density(directions[:, b, 2])
        )
        jacobian = 8 * (2 * np.pi) ** 5 * (self.sqrt_s - e_a * (1 - cos_ab)) / (e_a * e_b)
        inside = (e_a >= self.e_min) & (e_a <= self.e_max)
        return np.where(inside, q * jacobian, 0.0)

    def sample(self, rng, n):
        """``n`` weighted events: CM four-momenta (n, 3, 4) and weights in pb (mean = sigma)."""
        sqrt_s = self.sqrt_s
        channel = rng.integers(0, len(_PAIRS), n)
        e_a = self.e_min * np.exp(rng.random(n) * self.log_e_range)
        n_a, n_b = self._sample_directions(rng, n), self._sample_directions(rng, n)
        cos_ab = np.sum(n_a * n_b, axis=1)
        e_b = (sqrt_s**2 - 2 * sqrt_s * e_a) / (2 * sqrt_s - 2 * e_a * (1 - cos_ab))
        k_a, k_b = _massless(n_a, e_a), _massless(n_b, e_b)
        k_c = np.concatenate([(sqrt_s - e_a - e_b)[:, None], -(k_a[:, 1:] + k_b[:, 1:])], axis=1)
        # place the three photons in the slots the channel names
        slots = np.empty((n, 3, 4))
        rows = np.arange(n)
        a_idx = np.array([p[0] for p in _PAIRS])[channel]
        b_idx = np.array([p[1] for p in _PAIRS])[channel]
        c_idx = 3 - a_idx - b_idx
        slots[rows, a_idx], slots[rows, b_idx], slots[rows, c_idx] = k_a, k_b, k_c
        energies = slots[..., 0]
        directions = slots[..., 1:] / energies[..., None]
        passed = np.all(energies > self.e_min, axis=1) & np.all(
            np.abs(directions[..., 2]) < self.cos_max, axis=1
        )
        density = np.mean([self._channel_density(energies, directions, a, b) for a, b in _PAIRS], axis=0)
        half = sqrt_s / 2
        p_minus, p_plus = np.array([half, 0, 0, half]), np.array([half, 0, 0, -half])
        me2 = matrix_element_squared_three_photons(p_minus, p_plus, slots[:, 0], slots[:, 1], slots[:, 2])
        flux_and_symmetry = 1.0 / (2 * sqrt_s**2) / 6.0
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(passed, me2 / density * flux_and_symmetry * GEV2_TO_PB, 0.0)
        return slots, weight


def generate_three_photons(rng, n, *, beams: Beams, e_min_gev: float, cos_max: float, pilot: int = 200_000):
    """e+e- -> gamma gamma gamma at tree level, all photons with E* > ``e_min_gev`` and
    |cos theta*| < ``cos_max`` in the centre-of-mass frame.

    Weighted events from :class:`_ThreePhotonSampler` (matrix element
    :func:`analysis_lib.physics.qed.matrix_element_squared_three_photons`) are unweighted by
    accept-reject against the largest weight of a pilot sample times 1.5; the fraction of events
    above that bound is logged (it biases the shape at that level). The cross section inside the
    cuts is the mean weight of the pilot and production samples together.
    """
    if not 0 < e_min_gev < beams.sqrt_s_gev / 3:
        raise ParameterError(f"e_min_gev={e_min_gev!r} must be in (0, sqrt(s)/3)")
    sampler = _ThreePhotonSampler(beams.sqrt_s_gev, e_min_gev, cos_max)
    _, pilot_weights = sampler.sample(rng, pilot)
    w_max = 1.5 * pilot_weights.max()
    kept, total_weight, total_trials, above = [], pilot_weights.sum(), pilot, 0
    n_kept = 0
    while n_kept < n:
        batch = max(int(1.2 * (n - n_kept) * w_max / max(pilot_weights.mean(), 1e-300)), 10_000)
        batch = min(batch, 2_000_000)
        p4, w = sampler.sample(rng, batch)
        total_weight += w.sum()
        total_trials += batch
        above += int(np.sum(w > w_max))
        accept = rng.random(batch) * w_max < w
        kept.append(p4[accept])
        n_kept += int(accept.sum())
    p4_cm = np.concatenate(kept)[:n]
    sigma = total_weight / total_trials
    if above:
        log.warning("3-photon unweighting: %d of %d weights above the bound", above, total_trials)
    log.info("e+e- -> 3 gamma: sigma = %.4g pb inside the cuts, %d trials", sigma, total_trials)
    return GeneratedEvents(
        p4=Frame(beams).to_lab(p4_cm),
        vertex_mm=np.zeros((n, 3, 3)),
        pdgid=np.array([22, 22, 22]),
        origin=np.array([ORIGIN["hard_photon"]] * 3),
        sigma_pb=float(sigma),
        cuts={"e_min_cm_gev": e_min_gev, "cos_max_cm": cos_max},
    )
