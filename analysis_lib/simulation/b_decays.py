"""B mesons at the Upsilon(4S): pair production, exclusive two-body decays with a (possibly long-lived)
resonance, generic decays of the other B, and the continuum under the Upsilon(4S).

All generators return :class:`~analysis_lib.simulation.generators.GeneratedEvents` in the lab frame
of the experiment's beams, with per-event truth in ``truth``; the detector response is the shared
one (:func:`analysis_lib.simulation.response.reconstruct`, with ``tracks=True``).

Long-lived resonances (an ALP) are generated once for all lifetimes: a fraction of the events
decays promptly, the rest with a proper decay length drawn log-uniformly over many decades
(:class:`DecayLengths`). :meth:`DecayLengths.weight` turns the events into a sample of any c tau,
prompt or exponential, by reweighting the same events: the efficiency at c tau is the weighted
fraction of events selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import awkward as ak
import numpy as np

from ..core.constants import mass_gev
from ..core.errors import KinematicError, ParameterError
from ..core.kinematics import boost, direction_from_angles, isotropic_directions, two_body_momentum
from ..detector.experiments import Beams
from ..detector.frames import Frame
from ..io.ntuple import ORIGIN
from ..physics.mesogenesis import LAMBDA, lambda_ctau_mm, lambda_momentum_gev
from . import pythia
from .generators import GeneratedEvents, hemispheres, particles_to_lab
from .production import SampleSpec
from .tagging import NOT_HADRONIC

__all__ = ["CONTINUUM_PB", "CONTINUUM_SQRT_S_GEV", "F_CHARGED", "QUARK_FLAVOURS", "DecayLengths", "b_pairs",
           "b_to_k_resonance", "b_to_lambda_invisible", "background_specs", "continuum", "continuum_sigma_pb",
           "generic_b_pairs", "hadronic", "two_body_decay"]

#: PDG ids of the charged and neutral B mesons and kaons.
B_PLUS, B_ZERO, K_PLUS = 521, 511, 321
#: Fraction of B Bbar pairs that are B+ B- (PDG 2024: B(Upsilon(4S) -> B+ B-) = 51.4%).
F_CHARGED = 0.514
#: Continuum cross sections at sqrt(s) = 10.58 GeV in pb, by quark flavour (Belle II's cross-section
#: table, quoted in the book's physics reference): u 1.61, d 0.40, s 0.38, c 1.30 nb; and Pythia's
#: flavour codes.
CONTINUUM_PB = {"u": 1610.0, "d": 400.0, "s": 380.0, "c": 1300.0}
CONTINUUM_SQRT_S_GEV = 10.58
QUARK_FLAVOURS = {"d": 1, "u": 2, "s": 3, "c": 4}


def continuum_sigma_pb(quark: str, sqrt_s_gev: float) -> float:
    """sigma(e+e- -> q qbar) in pb at ``sqrt_s_gev``: :data:`CONTINUUM_PB` scaled by (10.58 GeV / sqrt(s))^2,
    the 1/s of a point-like cross section (derived; R does not change over the tens of MeV between
    on- and off-resonance running): 1.1% more at 10.52 GeV."""
    if quark not in CONTINUUM_PB:
        raise ParameterError(f"quark {quark!r} is not one of {sorted(CONTINUUM_PB)}")
    if not (np.isfinite(sqrt_s_gev) and sqrt_s_gev > 0):
        raise ParameterError(f"sqrt(s) = {sqrt_s_gev!r} GeV must be positive")
    return CONTINUUM_PB[quark] * (CONTINUUM_SQRT_S_GEV / sqrt_s_gev) ** 2


@dataclass(frozen=True)
class DecayLengths:
    """How proper decay lengths of a long-lived particle are generated: with probability
    ``prompt_fraction`` exactly 0, otherwise log-uniform in [``min_mm``, ``max_mm``]."""

    prompt_fraction: float = 0.25
    min_mm: float = 1e-3
    max_mm: float = 1e5

    def __post_init__(self):
        if not 0 <= self.prompt_fraction <= 1 or not 0 < self.min_mm < self.max_mm:
            raise ParameterError(f"{self} needs 0 <= prompt_fraction <= 1 and 0 < min_mm < max_mm")

    def sample(self, rng, n):
        """Proper decay lengths (mm) of ``n`` particles."""
        prompt = rng.random(n) < self.prompt_fraction
        log_length = rng.uniform(np.log(self.min_mm), np.log(self.max_mm), n)
        return np.where(prompt, 0.0, np.exp(log_length))

    def weight(self, proper_mm, ctau_mm):
        """Weights that turn events generated with these decay lengths into a sample with proper
        decay length ``ctau_mm`` (0: prompt; > 0: exponential). Their mean over all events is 1 up to
        the exponential's tail outside [min_mm, max_mm] (decays beyond 100 m, which no detector sees).
        """
        if ctau_mm < 0:
            raise ParameterError(f"ctau_mm={ctau_mm!r} is negative; a lifetime must be >= 0 (0 = prompt)")
        proper = np.asarray(proper_mm, dtype=float)
        if ctau_mm == 0:
            if self.prompt_fraction == 0:
                raise ParameterError("these events hold no prompt decays; generate with prompt_fraction > 0")
            return np.where(proper == 0, 1.0 / self.prompt_fraction, 0.0)
        density = (1 - self.prompt_fraction) / (np.maximum(proper, 1e-300) * np.log(self.max_mm / self.min_mm))
        target = np.exp(-proper / ctau_mm) / ctau_mm
        return np.where(proper > 0, target / np.where(proper > 0, density, 1.0), 0.0)


def two_body_decay(rng, parent_p4, mass_1, mass_2):
    """Isotropic two-body decays of parents (n, 4) into daughters of masses ``mass_1`` and ``mass_2``
    (scalars or (n,) arrays): the daughters' four-momenta (n, 4) each, in the parents' frame."""
    parent_p4 = np.asarray(parent_p4, dtype=float)
    n = len(parent_p4)
    m_parent = np.sqrt(np.clip(parent_p4[:, 0] ** 2 - np.sum(parent_p4[:, 1:] ** 2, axis=1), 0, None))
    m1 = np.broadcast_to(np.asarray(mass_1, dtype=float), (n,))
    m2 = np.broadcast_to(np.asarray(mass_2, dtype=float), (n,))
    if np.any(m1 + m2 > m_parent + 1e-9):
        raise KinematicError("a two-body decay below threshold: the daughters are heavier than the parent")
    p = two_body_momentum(m_parent, m1, m2)
    d = isotropic_directions(rng, n) * p[:, None]
    rest_1 = np.concatenate([np.hypot(p, m1)[:, None], d], axis=1)
    rest_2 = np.concatenate([np.hypot(p, m2)[:, None], -d], axis=1)
    beta = parent_p4[:, 1:] / parent_p4[:, :1]
    return boost(rest_1, beta), boost(rest_2, beta)


def b_pairs(rng, n, *, sqrt_s_gev, charged=True):
    """B Bbar pairs from Upsilon(4S) decays at rest in the centre-of-mass frame (e- along +z): four-
    momenta (n, 4) of the B (B+ or B0) and of the Bbar. The B direction follows sin^2 theta* to the
    beam axis: a spin-1 state made from e+e- (helicity +-1 along the beam) decaying to two spin-0
    mesons in a P wave, |Y_1^(+-1)|^2 (derived here)."""
    m_b = mass_gev(B_PLUS if charged else B_ZERO)
    if sqrt_s_gev <= 2 * m_b:
        raise KinematicError(f"sqrt(s) = {sqrt_s_gev} GeV is below the B Bbar threshold {2 * m_b:.3f} GeV")
    p = float(two_body_momentum(sqrt_s_gev, m_b, m_b))
    # sin^2 theta by rejection
    cos_theta = np.empty(0)
    while cos_theta.size < n:
        trial = rng.uniform(-1, 1, 2 * n + 16)
        cos_theta = np.concatenate([cos_theta, trial[rng.random(trial.size) < 1 - trial**2]])
    direction = direction_from_angles(cos_theta[:n], rng.uniform(0, 2 * np.pi, n))
    energy = np.full((n, 1), np.hypot(p, m_b))
    b = np.concatenate([energy, p * direction], axis=1)
    return b, np.concatenate([energy, -p * direction], axis=1)


def _particles(columns):
    """An awkward array of particle lists from per-event blocks [(ids (n, j), p4 (n, j, 4), vertex
    (n, j, 3), origin (n, j), side (n, j)) or awkward lists with those fields], concatenated per
    event."""
    lists = []
    for block in columns:
        if isinstance(block, ak.Array):
            lists.append(block)
            continue
        ids, p4, vertex, origin, side = block
        n, j = ids.shape
        flat = {
            "id": ids.ravel(), "E": p4[..., 0].ravel(), "px": p4[..., 1].ravel(), "py": p4[..., 2].ravel(),
            "pz": p4[..., 3].ravel(), "vx": vertex[..., 0].ravel(), "vy": vertex[..., 1].ravel(),
            "vz": vertex[..., 2].ravel(), "origin": origin.ravel(), "side": side.ravel(),
        }
        lists.append(ak.unflatten(ak.zip(flat), np.full(n, j)))
    return ak.concatenate(lists, axis=1)


def _generic(rng, ids, p4_lab, origin, side):
    """Generic decays of particles given in the lab: Pythia decays them in place (the descendants of
    each carry ``origin`` and ``side``, scalars or one per particle)."""
    products = pythia.decay(rng, ids, p4_lab)
    zeros = ak.values_astype(ak.zeros_like(products.E), np.int32)
    products = ak.with_field(products, zeros + origin, "origin")
    side = np.broadcast_to(np.asarray(side, dtype=np.int32), (len(ids),))
    return ak.with_field(products, zeros + side, "side")


def hadronic(products) -> np.ndarray:
    """Whether each list of B descendants is fully hadronic: no lepton, neutrino, K_L or neutron
    (what a hadronic tag can reconstruct; :mod:`analysis_lib.simulation.tagging`)."""
    counts = ak.to_numpy(ak.num(products))
    excluded = np.isin(np.abs(ak.to_numpy(ak.flatten(products.id))), NOT_HADRONIC)
    return np.bincount(np.repeat(np.arange(len(counts)), counts), excluded, minlength=len(counts)) == 0


@dataclass(frozen=True)
class _SignalPairs:
    """B Bbar pairs of which one B (the B or the Bbar, at random) decays to a signal: its sign (+1 for
    the B), and the centre-of-mass and lab four-momenta of the signal and the other B."""

    sign: np.ndarray
    signal_cm: np.ndarray
    other_cm: np.ndarray
    signal_lab: np.ndarray
    other_lab: np.ndarray


def _signal_pairs(rng, n, beams: Beams, *, charged: bool) -> _SignalPairs:
    b_cm, bbar_cm = b_pairs(rng, n, sqrt_s_gev=beams.sqrt_s_gev, charged=charged)
    signal_is_b = rng.random(n) < 0.5
    signal_cm = np.where(signal_is_b[:, None], b_cm, bbar_cm)
    other_cm = np.where(signal_is_b[:, None], bbar_cm, b_cm)
    frame = Frame(beams)
    return _SignalPairs(np.where(signal_is_b, 1, -1), signal_cm, other_cm, frame.to_lab(signal_cm),
                        frame.to_lab(other_cm))


def _with_generic_partner(rng, pairs: _SignalPairs, signal, *, b_id: int, sigma_pb: float, cuts: dict, truth: dict):
    """Events of the signal particles ``signal`` (ids, p4, vertex, each (n, j, ...)) with the other B
    decaying generically (Pythia): origins, sides (0 the signal B, 1 the other), the B mesons'
    momenta and the other B's hadronic flag for the tag."""
    ids, p4, vertex = signal
    n, j = ids.shape
    other = _generic(rng, -pairs.sign * b_id, pairs.other_lab, ORIGIN["other_b"], 1)
    particles = _particles([(ids, p4, vertex, np.full((n, j), ORIGIN["signal_b"]), np.zeros((n, j), dtype=np.int32)),
                            other])
    return GeneratedEvents.from_particles(particles, sigma_pb=sigma_pb, cuts=cuts, truth=truth,
                                          b_p4_cm=np.stack([pairs.signal_cm, pairs.other_cm], axis=1),
                                          b_hadronic=np.column_stack([np.zeros(n, bool), hadronic(other)]))


def b_to_k_resonance(rng, n, *, beams: Beams, mass_gev_x: float, sigma_pb: float, width_gev_x: float = 0.0,
                     decay_lengths: DecayLengths | None = None, charged=True):
    """Upsilon(4S) -> B Bbar with one B -> K X, X -> gamma gamma and the other B decaying generically.

    Parameters
    ----------
    mass_gev_x : float
        Mass of X (an ALP, or a pi0, eta, eta', eta_c); 0 < m < m_B - m_K.
    width_gev_x : float
        Width of X: its mass is drawn from a Breit-Wigner (Cauchy) of this width, truncated to
        +-5 widths and to the kinematic range (0, the default: a fixed mass).
    decay_lengths : DecayLengths, optional
        For a long-lived X: its proper decay lengths (None, the default: prompt).
    sigma_pb : float
        Cross section x branching fractions the events stand for, in pb.

    Which B decays to K X is chosen at random, B or Bbar with equal probability (both charges of
    the signal). Truth per event: ``x_mass`` (GeV), ``x_proper_mm`` (proper decay length) and
    ``x_flight_mm`` (lab flight distance).
    """
    m_b = mass_gev(B_PLUS if charged else B_ZERO)
    m_k = mass_gev(K_PLUS if charged else 311)
    if not 0 < mass_gev_x < m_b - m_k:
        raise KinematicError(
            f"mass {mass_gev_x!r} GeV of X is outside 0 < m < m_B - m_K = {m_b - m_k:.3f} GeV; choose a lighter X"
        )
    pairs = _signal_pairs(rng, n, beams, charged=charged)
    mass_x = np.full(n, float(mass_gev_x))
    if width_gev_x > 0:
        low, high = max(mass_gev_x - 5 * width_gev_x, 1e-3), min(mass_gev_x + 5 * width_gev_x, m_b - m_k - 1e-6)
        u = rng.uniform(np.arctan((low - mass_gev_x) / (width_gev_x / 2)),
                        np.arctan((high - mass_gev_x) / (width_gev_x / 2)), n)
        mass_x = mass_gev_x + width_gev_x / 2 * np.tan(u)
    kaon, x = two_body_decay(rng, pairs.signal_lab, m_k, mass_x)
    gamma_1, gamma_2 = two_body_decay(rng, x, 0.0, 0.0)
    # flight of X before it decays
    proper = np.zeros(n) if decay_lengths is None else decay_lengths.sample(rng, n)
    p_x = np.linalg.norm(x[:, 1:], axis=1)
    flight = proper * p_x / mass_x
    vertex_x = x[:, 1:] / p_x[:, None] * flight[:, None]
    k_id = (K_PLUS if charged else 311) * pairs.sign
    signal = (np.stack([k_id, np.full(n, 22), np.full(n, 22)], axis=1), np.stack([kaon, gamma_1, gamma_2], axis=1),
              np.stack([np.zeros((n, 3)), vertex_x, vertex_x], axis=1))
    return _with_generic_partner(rng, pairs, signal, b_id=B_PLUS if charged else B_ZERO, sigma_pb=sigma_pb,
                                 cuts={"x_mass_gev": mass_gev_x},
                                 truth={"x_mass": mass_x, "x_proper_mm": proper, "x_flight_mm": flight})


def b_to_lambda_invisible(rng, n, *, beams: Beams, mass_gev_psi: float, sigma_pb: float):
    """Upsilon(4S) -> B0 B0bar with one B -> Lambda psi_D (psi_D invisible, the B-mesogenesis decay),
    Lambda -> p pi-, and the other B decaying generically (Pythia).

    The signal B is the B0 or the B0bar with equal probability: a B0 gives a Lambda, a B0bar a
    Lambda-bar (the charge-conjugate decay; the analysis uses both). The two-body decay is isotropic
    in the B frame (a spin-0 parent); the Lambda flies an exponential proper decay length of c tau
    (:func:`analysis_lib.physics.mesogenesis.lambda_ctau_mm`) and decays to p pi- only: ``sigma_pb``
    includes B(Lambda -> p pi-). Truth per event: ``lambda_flight_mm`` (its transverse flight distance in the lab) and
    ``lambda_p_b`` (the Lambda's momentum in the signal B's frame).
    """
    p_b = float(lambda_momentum_gev(mass_gev_psi))  # refuses masses outside the kinematic range
    pairs = _signal_pairs(rng, n, beams, charged=False)
    lam, _ = two_body_decay(rng, pairs.signal_lab, mass_gev(LAMBDA), mass_gev_psi)
    p_lambda = np.linalg.norm(lam[:, 1:], axis=1)
    flight = rng.exponential(lambda_ctau_mm(), n) * p_lambda / mass_gev(LAMBDA)
    vertex = lam[:, 1:] / p_lambda[:, None] * flight[:, None]
    proton, pion = two_body_decay(rng, lam, mass_gev(2212), mass_gev(211))
    signal = (np.stack([2212 * pairs.sign, -211 * pairs.sign], axis=1), np.stack([proton, pion], axis=1),
              np.stack([vertex, vertex], axis=1))
    return _with_generic_partner(rng, pairs, signal, b_id=B_ZERO, sigma_pb=sigma_pb, cuts={"psi_mass_gev": mass_gev_psi},
                                 truth={"lambda_flight_mm": np.hypot(vertex[:, 0], vertex[:, 1]),
                                        "lambda_p_b": np.full(n, p_b)})


def generic_b_pairs(rng, n, *, beams: Beams, sigma_pb: float, charged=True):
    """Upsilon(4S) -> B Bbar with both B decaying generically (Pythia's decay tables)."""
    frame = Frame(beams)
    b_cm, bbar_cm = b_pairs(rng, n, sqrt_s_gev=beams.sqrt_s_gev, charged=charged)
    b_id = B_PLUS if charged else B_ZERO
    ids = np.empty(2 * n, dtype=int)
    ids[0::2], ids[1::2] = b_id, -b_id
    p4 = np.empty((2 * n, 4))
    p4[0::2], p4[1::2] = frame.to_lab(b_cm), frame.to_lab(bbar_cm)
    products = _generic(rng, ids, p4, ORIGIN["other_b"], np.tile([0, 1], n))
    particles = ak.concatenate([products[0::2], products[1::2]], axis=1)
    return GeneratedEvents.from_particles(particles, sigma_pb=sigma_pb, b_p4_cm=np.stack([b_cm, bbar_cm], axis=1),
                                          b_hadronic=np.column_stack([hadronic(products[0::2]),
                                                                      hadronic(products[1::2])]))


def continuum(rng, n, *, beams: Beams, sigma_pb: float, flavour: int):
    """e+e- -> q qbar (one flavour) hadronised by Pythia, taken to the lab frame (momenta and the
    production points of decays in flight, K_S and Lambda, as four-vectors); each particle's side is
    its hemisphere (:func:`~analysis_lib.simulation.generators.hemispheres`)."""
    particles = pythia.continuum(rng, n, sqrt_s_gev=beams.sqrt_s_gev, flavour=flavour)
    particles = ak.with_field(particles, hemispheres(particles), "side")
    particles = particles_to_lab(particles, beams, ORIGIN["continuum"])
    return GeneratedEvents.from_particles(particles, sigma_pb=sigma_pb, cuts={"flavour": flavour})


def background_specs(beams: Beams, *, continuum_pb: dict, n_bb_per_pb: float, max_mc_events: int,
                     continuum_share: float, **options) -> list:
    """The B-factory backgrounds as samples (:class:`~analysis_lib.simulation.production.SampleSpec`): the
    continuum e+e- -> q qbar of each flavour of ``continuum_pb`` (cross sections in pb; Pythia) and, where
    ``n_bb_per_pb`` > 0, generic B+ B- and B0 B0bar (Pythia's decay tables), every sample with tracks.
    Of ``max_mc_events`` simulated events ``continuum_share`` go to the continuum, by cross section,
    the rest to B Bbar, by pair fraction (at least 1000 each); ``options`` are further SampleSpec
    fields common to all (e.g. ``hadronic_tag``)."""
    total = sum(continuum_pb.values())
    specs = [SampleSpec(
        name=f"bkg_continuum_{q}{q}", label=f"{q}{q}̄", kind="background", sigma_pb=sigma,
        generate=partial(continuum, beams=beams, sigma_pb=sigma, flavour=QUARK_FLAVOURS[q]),
        config={"process": "e+e- -> q qbar (Pythia 8)", "flavour": q},
        n_events=max(int(max_mc_events * continuum_share * sigma / total), 1000), tracks=True, chunk=50_000, **options,
    ) for q, sigma in continuum_pb.items()]
    if n_bb_per_pb <= 0:
        return specs
    for charged, label, fraction in ((True, "B⁺B⁻", F_CHARGED), (False, "B⁰B̄⁰", 1 - F_CHARGED)):
        sigma = n_bb_per_pb * fraction
        specs.append(SampleSpec(
            name=f"bkg_bb_{'charged' if charged else 'neutral'}", label=f"{label} generic", kind="background",
            sigma_pb=sigma, generate=partial(generic_b_pairs, beams=beams, sigma_pb=sigma, charged=charged),
            config={"process": "B Bbar generic (Pythia 8)", "charged": charged},
            n_events=max(int(max_mc_events * (1 - continuum_share) * fraction), 1000), tracks=True, chunk=25_000,
            **options,
        ))
    return specs
