"""Event generators for the photon final states, sampled from their differential cross sections.

Every generator works in the centre-of-mass frame with the incoming electron along +z, then takes
the event to the lab with :meth:`Frame.to_lab`. It returns :class:`GeneratedEvents`: unweighted
events of a process together with the cross section inside the generator cuts, so that a sample of
N events stands for sigma / N per event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cache, partial

import numpy as np

from ..core.errors import KinematicError, ParameterError
from ..core.kinematics import boost, direction_from_angles, isotropic_directions
from ..detector.experiments import Beams
from ..detector.frames import Frame
from ..io.ntuple import ORIGIN
from ..physics.qed import (
    matrix_element_squared_radiative_bhabha,
    matrix_element_squared_three_photons,
    sigma_gamma_gamma_pb,
)
from .phase_space import (
    AroundAxis,
    Channel,
    LogUniform,
    MultichannelSampler,
    PeakedDirections,
    PoleDirections,
    Uniform,
    sample_events,
    stored_cross_section_pb,
)

__all__ = [
    "GeneratedEvents",
    "generate_gamma_gamma",
    "generate_gamma_resonance",
    "generate_radiative_bhabha",
    "generate_three_photons",
    "hemispheres",
    "lab_polar_range",
    "three_photon_sigma_pb",
    "particles_to_lab",
    "radiative_bhabha_sampler",
    "three_photon_sampler",
]

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class GeneratedEvents:
    """Generated events of one process, in the lab frame (unweighted, or with relative weights).

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
    truth : dict
        Per-event truth arrays by name (e.g. the decay length of a long-lived particle).
    weight : array (n,), optional
        Relative event weights with mean 1 (partially unweighted generation); None: every event 1.
    """

    p4: np.ndarray
    vertex_mm: np.ndarray
    pdgid: np.ndarray
    origin: np.ndarray
    sigma_pb: float
    cuts: dict = field(default_factory=dict)
    #: per-event truth, name -> (n,) array; written as branches ``mc_<name>``
    truth: dict = field(default_factory=dict)
    weight: np.ndarray | None = None
    #: which side of the event each particle belongs to, (n, k): the B meson it comes from (0 or 1) in
    #: Upsilon(4S) events, its hemisphere in continuum events, -1 for none (for the hadronic tag)
    side: np.ndarray | None = None
    #: centre-of-mass four-momenta of the two B mesons (n, 2, 4), and whether each decays hadronically
    #: (n, 2): no lepton, neutrino, K_L or neutron among its descendants (for the hadronic tag)
    b_p4_cm: np.ndarray | None = None
    b_hadronic: np.ndarray | None = None

    def __len__(self) -> int:
        return self.p4.shape[0]

    @classmethod
    def from_particles(cls, particles, *, sigma_pb: float, cuts: dict | None = None, truth: dict | None = None,
                       b_p4_cm=None, b_hadronic=None):
        """Events with different particle lists (e.g. from Pythia): ``particles`` is an awkward array,
        one list per event with fields ``id``, ``E``, ``px``, ``py``, ``pz``, ``vx``, ``vy``, ``vz``
        (lab frame, GeV and mm), ``origin`` and optionally ``side``. The lists are padded with pdgid
        0; particles the detector model cannot see (neutrinos, neutral hadrons) are left out first."""
        import awkward as ak

        counts = ak.to_numpy(ak.num(particles))
        ids = ak.to_numpy(ak.flatten(particles.id))
        visible = np.isin(np.abs(ids), [11, 13, 22, 211, 321, 2212])
        # the visible particles' places in a padded (events, k) table, in their order
        rows = np.repeat(np.arange(len(counts)), counts)[visible]
        kept = np.bincount(rows, minlength=len(counts))
        columns = np.arange(rows.size) - np.repeat(np.cumsum(kept) - kept, kept)
        k = max(int(kept.max(initial=0)), 1)

        def pad(name, fill):
            values = ak.to_numpy(ak.flatten(particles[name]))[visible]
            out = np.full((len(counts), k), fill, dtype=values.dtype)
            out[rows, columns] = values
            return out

        p4 = np.stack([pad("E", 0.0), pad("px", 0.0), pad("py", 0.0), pad("pz", 0.0)], axis=-1)
        vertex = np.stack([pad("vx", 0.0), pad("vy", 0.0), pad("vz", 0.0)], axis=-1)
        side = pad("side", -1).astype(np.int8) if "side" in particles.fields else None
        return cls(p4=p4, vertex_mm=vertex, pdgid=pad("id", 0).astype(np.int32),
                   origin=pad("origin", -1).astype(np.int32), sigma_pb=sigma_pb, cuts=cuts or {}, truth=truth or {},
                   side=side, b_p4_cm=b_p4_cm, b_hadronic=b_hadronic)


def particles_to_lab(particles, beams: Beams, origin):
    """Particle lists generated in the centre-of-mass frame (fields ``id``, ``E``, ``px``, ``py``,
    ``pz`` and the production point ``vt``, ``vx``, ``vy``, ``vz`` in mm, as Pythia gives them) in
    the lab frame of ``beams``: momenta and production points transformed as four-vectors (a Lambda
    or K_S decaying centimetres from the collision has its daughters made there in the lab), with
    the truth code ``origin`` (one per event's particles, flat, or a scalar)."""
    import awkward as ak

    frame = Frame(beams)
    counts = ak.num(particles)
    flat = {f: ak.to_numpy(ak.flatten(particles[f])) for f in ("E", "px", "py", "pz", "vt", "vx", "vy", "vz")}
    p4 = frame.to_lab(np.stack([flat["E"], flat["px"], flat["py"], flat["pz"]], axis=-1))
    x4 = frame.to_lab(np.stack([flat["vt"], flat["vx"], flat["vy"], flat["vz"]], axis=-1))
    origin = np.broadcast_to(np.asarray(origin, dtype=np.int32), (len(p4),))
    fields = {"id": particles.id}
    fields.update({f: ak.unflatten(p4[:, i], counts) for i, f in enumerate(("E", "px", "py", "pz"))})
    fields.update({f: ak.unflatten(x4[:, i + 1], counts) for i, f in enumerate(("vx", "vy", "vz"))})
    fields["origin"] = ak.unflatten(origin, counts)
    if "side" in particles.fields:
        fields["side"] = particles.side
    return ak.zip(fields)


def hemispheres(particles):
    """The hemisphere of every particle of centre-of-mass particle lists (fields E, px, py, pz): 0 on
    the side of the event's most energetic particle, 1 opposite. A stand-in for the thrust hemispheres
    of a two-jet event (:func:`analysis_lib.reco.event_shape.thrust_axis` works on reconstructed
    objects, a later stage), for the hadronic tag's combinatorial candidates."""
    import awkward as ak

    hardest = ak.argmax(particles.E, axis=1, keepdims=True)
    axis = {c: ak.fill_none(ak.firsts(particles[c][hardest]), 0.0) for c in ("px", "py", "pz")}
    projection = particles.px * axis["px"] + particles.py * axis["py"] + particles.pz * axis["pz"]
    return ak.values_astype(projection < 0, np.int32)


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


def three_photon_sampler(sqrt_s, e_min_gev, cos_max):
    """Weighted e+e- -> 3 gamma events with every photon at E* > ``e_min_gev`` and
    |cos theta*| < ``cos_max``: six channels (every ordered pair of photons), energies from 1/E,
    directions half uniform, half along the collinear singularities of the matrix element
    :func:`analysis_lib.physics.qed.matrix_element_squared_three_photons`."""
    energy = LogUniform(e_min_gev, sqrt_s / 2)
    directions = PeakedDirections(cos_max)
    channels = [Channel(a, b, energy, directions, directions) for a in range(3) for b in range(3) if a != b]

    def accept(k):
        return np.all(k[..., 0] > e_min_gev, axis=1) & np.all(np.abs(k[..., 3]) < cos_max * k[..., 0], axis=1)

    def me2(p_minus, p_plus, k):
        return matrix_element_squared_three_photons(p_minus, p_plus, k[:, 0], k[:, 1], k[:, 2])

    return MultichannelSampler(sqrt_s, channels, me2, accept, symmetry=1 / 6)


@cache
def three_photon_sigma_pb(beams: Beams, e_min_gev: float, cos_max: float) -> float:
    """sigma(e+e- -> 3 gamma) inside the cuts of :func:`three_photon_sampler` (pb), computed once per
    setting (:func:`~analysis_lib.simulation.phase_space.stored_cross_section_pb`)."""
    return stored_cross_section_pb("three_photons", (beams, e_min_gev, cos_max),
                                   partial(three_photon_sampler, beams.sqrt_s_gev, e_min_gev, cos_max))


def generate_three_photons(rng, n, *, beams: Beams, e_min_gev: float, cos_max: float, pilot: int = 200_000,
                           weighted: bool = False):
    """e+e- -> gamma gamma gamma at tree level, all photons with E* > ``e_min_gev`` and
    |cos theta*| < ``cos_max`` in the centre-of-mass frame, from :func:`three_photon_sampler`:
    unweighted (:func:`analysis_lib.simulation.phase_space.unweight`), or with ``weighted``
    partially unweighted at the 0.9 quantile of the weights
    (:func:`~analysis_lib.simulation.phase_space.partially_unweight`)."""
    if not 0 < e_min_gev < beams.sqrt_s_gev / 3:
        raise ParameterError(f"e_min_gev={e_min_gev!r} must be in (0, sqrt(s)/3)")
    sampler = three_photon_sampler(beams.sqrt_s_gev, e_min_gev, cos_max)
    p4_cm, sigma, weights = sample_events(sampler, rng, n, weighted=weighted, pilot=pilot, name="e+e- -> 3 gamma")
    return GeneratedEvents(
        p4=Frame(beams).to_lab(p4_cm),
        vertex_mm=np.zeros((n, 3, 3)),
        pdgid=np.array([22, 22, 22]),
        origin=np.array([ORIGIN["hard_photon"]] * 3),
        sigma_pb=sigma,
        cuts={"e_min_cm_gev": e_min_gev, "cos_max_cm": cos_max},
        weight=weights,
    )


def radiative_bhabha_sampler(sqrt_s, *, e_min_gev, photon_cos_max, lepton_cos_range, min_angle_deg, lepton_accept=None):
    """Weighted e+e- -> e+e- gamma events (particles e-, e+, gamma) with both leptons at
    cos theta* inside ``lepton_cos_range``, all energies above ``e_min_gev``, the photon at
    |cos theta*| < ``photon_cos_max`` and at least ``min_angle_deg`` from either lepton (closer, the
    showers merge), and ``lepton_accept(k) -> mask`` when given (e.g. a requirement in the lab).
    Matrix element :func:`analysis_lib.physics.qed.matrix_element_squared_radiative_bhabha`.
    Channels: the leptons' directions near their t-channel poles (e- forward, e+ backward, and the
    reverse), and the photon's energy with its direction along the beams or around either lepton.
    """
    lo, hi = lepton_cos_range
    forward, backward = PoleDirections(lo, hi, +1.0), PoleDirections(lo, hi, -1.0)
    photon = PeakedDirections(photon_cos_max)
    soft = LogUniform(e_min_gev, sqrt_s / 2)
    around = AroundAxis(min_angle_deg, 60.0)
    hard = Uniform(e_min_gev, sqrt_s / 2)
    channels = [
        Channel(0, 1, hard, forward, backward),
        Channel(1, 0, hard, backward, forward),
        Channel(2, 0, soft, photon, forward),
        Channel(2, 1, soft, photon, backward),
        Channel(2, 0, soft, around, forward, a_around_b=True),
        Channel(2, 1, soft, around, backward, a_around_b=True),
    ]
    cos_min_angle = np.cos(np.radians(min_angle_deg))

    def accept(k):
        n = k[..., 1:] / np.maximum(k[..., :1], 1e-300)
        leptons = np.all((n[:, :2, 2] >= lo) & (n[:, :2, 2] <= hi), axis=1)
        separated = (np.sum(n[:, 2] * n[:, 0], axis=1) < cos_min_angle) & (
            np.sum(n[:, 2] * n[:, 1], axis=1) < cos_min_angle
        )
        passed = leptons & separated & np.all(k[..., 0] > e_min_gev, axis=1) & (np.abs(n[:, 2, 2]) < photon_cos_max)
        return passed & lepton_accept(k) if lepton_accept is not None else passed

    def me2(p_minus, p_plus, k):
        return matrix_element_squared_radiative_bhabha(p_minus, p_plus, k[:, 0], k[:, 1], k[:, 2])

    return MultichannelSampler(sqrt_s, channels, me2, accept)


def lab_polar_range(beams: Beams, theta_min_deg, theta_max_deg, particles=(0, 1)):
    """``accept(k) -> mask``: the given particles of centre-of-mass events (n, 3, 4) have lab polar
    angles inside ``theta_min_deg``..``theta_max_deg``."""
    frame = Frame(beams)

    def accept(k):
        lab = frame.to_lab(k[:, list(particles)])
        theta = np.degrees(np.arccos(np.clip(lab[..., 3] / np.maximum(lab[..., 0], 1e-300), -1, 1)))
        return np.all((theta > theta_min_deg) & (theta < theta_max_deg), axis=1)

    return accept


def generate_radiative_bhabha(rng, n, *, beams: Beams, e_min_gev: float, photon_cos_max: float,
                              lepton_cos_range, min_angle_deg: float = 3.0, lepton_lab_theta_deg=None,
                              pilot: int = 200_000, weighted: bool = False):
    """e+e- -> e+e- gamma at tree level in the region of :func:`radiative_bhabha_sampler`, with
    both leptons inside ``lepton_lab_theta_deg`` (min, max) in the lab when given; unweighted, or
    with ``weighted`` partially unweighted at the 0.9 quantile of the weights (about four times
    fewer trials per effective event)."""
    accept = None if lepton_lab_theta_deg is None else lab_polar_range(beams, *lepton_lab_theta_deg)
    sampler = radiative_bhabha_sampler(beams.sqrt_s_gev, e_min_gev=e_min_gev, photon_cos_max=photon_cos_max,
                                       lepton_cos_range=lepton_cos_range, min_angle_deg=min_angle_deg,
                                       lepton_accept=accept)
    p4_cm, sigma, weights = sample_events(sampler, rng, n, weighted=weighted, pilot=pilot, quantile=0.9999,
                                          name="e+e- -> e+e- gamma")
    return GeneratedEvents(
        p4=Frame(beams).to_lab(p4_cm),
        vertex_mm=np.zeros((n, 3, 3)),
        pdgid=np.array([11, -11, 22]),
        origin=np.array([ORIGIN["lepton"], ORIGIN["lepton"], ORIGIN["hard_photon"]]),
        sigma_pb=sigma,
        cuts={"e_min_cm_gev": e_min_gev, "photon_cos_max_cm": photon_cos_max,
              "lepton_cos_range_cm": list(lepton_cos_range), "min_angle_deg": min_angle_deg,
              "lepton_lab_theta_deg": lepton_lab_theta_deg},
        weight=weights,
    )
