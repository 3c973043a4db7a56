"""Signal events of e+e- -> gamma_ISR Upsilon_D, Upsilon_D -> A' A' A', each A' -> e+e-, mu+mu- or pi+pi-.

The physics is :mod:`analysis_lib.physics.darkonium` (rates) and :mod:`analysis_lib.physics.dark_photon`
(the A' decays); this module draws the events:

* the initial-state photon carries the energy fraction x = 1 - M^2 / s (a narrow Upsilon_D); its polar
  angle follows the radiator's angular form (:func:`~analysis_lib.physics.darkonium.dradiator_dcos`) out
  to the angle where its integral equals the radiator over all angles (:func:`isr_cos_max`: the form
  neglects the electron mass, which only matters within m_e / E of the beams, inside the beam pipe);
* Upsilon_D recoils against it and decays to three A' with the ortho-positronium matrix element
  (:func:`~analysis_lib.simulation.decays.ortho_positronium_weight`, the massless-A' limit of the model)
  or flat in phase space (``matrix_element="phase space"``, to measure the choice's effect); its
  polarisation (transverse to the beams, from e+e- annihilation) is neglected: the decay plane is
  oriented isotropically;
* each A' decays isotropically to e+e-, mu+mu- or pi+pi- in the ratio of their branching fractions
  (the other decays, to taus and to other hadrons, are not reconstructed as pairs: the events' cross
  section counts only the three-pair final states), after a flight drawn from exp(-L / beta gamma c tau)
  in the lab.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import awkward as ak
import numpy as np
from scipy.optimize import brentq

from ..core.constants import mass_gev
from ..core.errors import KinematicError, ParameterError
from ..detector.experiments import Beams
from ..detector.frames import Frame
from ..io.ntuple import ORIGIN
from ..physics import dark_photon, darkonium, hadrons
from . import b_decays, pythia
from .b_decays import DecayLengths, two_body_decay
from .decays import ORTHO_POSITRONIUM_WEIGHT_MAX, n_body_decay, ortho_positronium_weight, three_body_decay
from .dimuon import BACKGROUND_SIGMA_PB, generate_lepton_pairs
from .generators import GeneratedEvents, generate_three_photons, three_photon_sigma_pb
from .production import SampleSpec

__all__ = ["MATRIX_ELEMENTS", "PAIR_CHANNELS", "SIX_PION_MASS_GEV", "THREE_PHOTON_COS_MAX_CM",
           "THREE_PHOTON_E_MIN_CM_GEV", "UPSILON_VISIBLE_PB", "background_specs",
           "generate_darkonium", "generate_isr_six_pions", "generate_upsilon_decays", "isr_cos_max",
           "isr_photon_cos_theta", "lifetime_weights", "sigma_isr_six_pions_pb", "sigma_six_tracks_pb", "skim",
           "upsilon_on_peak"]

#: The A' decays reconstructed as a pair of tracks: name, PDG id of the negative track, of the positive one.
PAIR_CHANNELS = (("ee", 11, -11), ("mumu", 13, -13), ("pipi", -211, 211))

#: The matrix elements of Upsilon_D -> 3 A' that :func:`generate_darkonium` offers.
MATRIX_ELEMENTS = ("ortho-positronium", "phase space")


def isr_cos_max(x, sqrt_s_gev) -> float:
    """The |cos theta| up to which :func:`~analysis_lib.physics.darkonium.radiator_in_angle` equals the
    radiator over all angles, :func:`~analysis_lib.physics.darkonium.radiator` (1 - cos_max is about
    (m_e / E)^2: the angular form with this cut-off keeps the total cross section)."""
    target = float(darkonium.radiator(x, sqrt_s_gev))
    return brentq(lambda c: float(darkonium.radiator_in_angle(x, c)) - target, 0.5, 1 - 1e-15, xtol=1e-17, rtol=1e-15)


def isr_photon_cos_theta(rng, n, x, sqrt_s_gev):
    """cos(theta) of the initial-state photon in the centre-of-mass frame (theta to the e- beam): the
    density (2 - 2x + x^2) / sin^2 theta - x^2 / 2 on |cos theta| < :func:`isr_cos_max`, by acceptance from
    1 / sin^2 theta (drawn as tanh(u artanh(cos_max)), u uniform in [-1, 1]). ``x``: one energy fraction,
    or one per photon (n,), the cut-off then that of their median (it moves by (m_e / E)^2, inside the
    beam pipe)."""
    x = np.broadcast_to(np.asarray(x, dtype=float), (n,))
    c_max = isr_cos_max(float(np.median(x)) if n else 0.5, sqrt_s_gev)
    a, b = 2 - 2 * x + x * x, x * x / 2
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        trial = np.tanh(rng.uniform(-1, 1, todo.size) * np.arctanh(c_max))
        keep = rng.random(todo.size) < 1 - b[todo] * (1 - trial**2) / a[todo]
        out[todo[keep]] = trial[keep]
        todo = todo[~keep]
    return out


def _visible_fractions(dark_photon_mass_gev):
    fractions = dark_photon.branching_fractions(dark_photon_mass_gev)
    return np.array([float(fractions[name]) for name, _, _ in PAIR_CHANNELS])


def sigma_six_tracks_pb(darkonium_mass_gev, dark_photon_mass_gev, alpha_d, epsilon, sqrt_s_gev) -> float:
    """sigma(e+e- -> gamma Upsilon_D) B(Upsilon_D -> 3 A') B(A' -> pair)^3 in pb: the cross section of the
    events :func:`generate_darkonium` draws (pair: e+e-, mu+mu- or pi+pi-)."""
    m_chi = darkonium.chi_mass_gev(darkonium_mass_gev, alpha_d)
    three = darkonium.width_three_dark_photons_gev(m_chi, alpha_d)
    standard = darkonium.width_to_standard_model_gev(m_chi, alpha_d, epsilon, dark_photon_mass_gev)
    sigma = darkonium.sigma_gamma_darkonium_pb(darkonium_mass_gev, alpha_d, epsilon, dark_photon_mass_gev, sqrt_s_gev)
    return float(sigma * three / (three + standard) * _visible_fractions(dark_photon_mass_gev).sum() ** 3)


def generate_darkonium(rng, n, *, beams: Beams, darkonium_mass_gev: float, dark_photon_mass_gev: float,
                       alpha_d: float | None = None, epsilon: float | None = None,
                       ctau_mm: float | tuple | None = None, decay_lengths: DecayLengths | None = None,
                       matrix_element: str = "ortho-positronium", sigma_pb: float | None = None) -> GeneratedEvents:
    """``n`` events of e+e- -> gamma Upsilon_D, Upsilon_D -> 3 A', A' -> pair (see the module docstring), in the
    lab frame: particle 0 is the photon, particles 2i + 1 and 2i + 2 the negative and positive track of
    A' number i. ``ctau_mm``: the A' proper decay length (None, the default: that of the A' at ``epsilon``,
    :func:`~analysis_lib.physics.dark_photon.ctau_mm`; 0: prompt; another value, e.g. to reweight to
    other lifetimes). ``decay_lengths``: instead of one lifetime, the proper lengths of
    :class:`~analysis_lib.simulation.b_decays.DecayLengths` (prompt and log-uniform), which
    :func:`lifetime_weights` turns into any lifetime (one sample for every epsilon of a scan); or a tuple of
    lengths: the events take them in turn, each event's three A' sharing one (truth ``ctau_mm``), so that one
    sample measures the efficiency at each (a chunk of n events holds n / k of each of the k lengths when k
    divides n). ``sigma_pb``: the cross section the events stand for;
    None (the default) computes it from the model (:func:`sigma_six_tracks_pb`, which needs ``alpha_d`` and
    ``epsilon``); a value (e.g. 1 pb) makes events of the kinematics alone, which do not depend on alpha_D or
    epsilon, for efficiencies. Truth: the proper decay lengths ``proper_length_mm_<i>`` and the channel
    ``channel_<i>`` (index into :data:`PAIR_CHANNELS`) of each A'."""
    if matrix_element not in MATRIX_ELEMENTS:
        raise ParameterError(f"matrix_element={matrix_element!r}; choose one of {MATRIX_ELEMENTS}")
    m_ups, m_a = float(darkonium_mass_gev), float(dark_photon_mass_gev)
    if decay_lengths is not None and ctau_mm is not None:
        raise ParameterError(f"ctau_mm={ctau_mm!r} and decay_lengths={decay_lengths!r}: give one of them (decay_lengths "
                             "for events to reweight to any lifetime)")
    if sigma_pb is None and (alpha_d is None or epsilon is None):
        raise ParameterError(f"alpha_d={alpha_d!r}, epsilon={epsilon!r}: the model's cross section needs both; give "
                             "sigma_pb for events of the kinematics alone")
    if ctau_mm is None and decay_lengths is None:
        if epsilon is None:
            raise ParameterError("the A' lifetime follows from epsilon: give epsilon, ctau_mm or decay_lengths")
        ctau_mm = float(dark_photon.ctau_mm(m_a, epsilon))
    lengths = None if ctau_mm is None else np.atleast_1d(np.asarray(ctau_mm, dtype=float))
    if lengths is not None and not (lengths.ndim == 1 and lengths.size and np.all(np.isfinite(lengths))
                                    and np.all(lengths >= 0)):
        raise ParameterError(f"ctau_mm={ctau_mm!r} must be finite and >= 0 (0: a prompt decay; None: the A' at "
                             "epsilon), or a tuple of such lengths")
    if sigma_pb is not None and not (np.isfinite(sigma_pb) and sigma_pb > 0):
        raise ParameterError(f"sigma_pb={sigma_pb!r} must be a positive number of pb")
    if not 3 * m_a < m_ups:
        raise KinematicError(f"Upsilon_D of {m_ups} GeV cannot decay to three A' of {m_a} GeV: it needs M > 3 m_A'")
    fractions = _visible_fractions(m_a)
    if fractions.sum() <= 0:
        raise KinematicError(f"an A' of {m_a} GeV decays to no pair of e, mu or pi")
    if sigma_pb is None:
        sigma = sigma_six_tracks_pb(m_ups, m_a, alpha_d, epsilon, beams.sqrt_s_gev)  # refuses an unbound state
    else:
        sigma = float(sigma_pb)
    sqrt_s = beams.sqrt_s_gev
    x = 1 - m_ups**2 / sqrt_s**2
    e_gamma = x * sqrt_s / 2
    cos_theta, phi = isr_photon_cos_theta(rng, n, x, sqrt_s), rng.uniform(0, 2 * np.pi, n)
    sin_theta = np.sqrt(1 - cos_theta**2)
    photon = e_gamma * np.stack([np.ones(n), sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=1)
    upsilon = np.concatenate([np.full((n, 1), sqrt_s - e_gamma), -photon[:, 1:]], axis=1)
    weight = ortho_positronium_weight if matrix_element == "ortho-positronium" else None
    a_cm = three_body_decay(rng, upsilon, (m_a, m_a, m_a), weight=weight,
                            weight_max=ORTHO_POSITRONIUM_WEIGHT_MAX if weight is not None else None)
    channel = rng.choice(len(PAIR_CHANNELS), size=(n, 3), p=fractions / fractions.sum())
    track_mass = np.array([mass_gev(abs(negative)) for _, negative, _ in PAIR_CHANNELS])
    tracks = np.empty((n, 6, 4))
    for i in range(3):
        m = track_mass[channel[:, i]]
        tracks[:, 2 * i], tracks[:, 2 * i + 1] = two_body_decay(rng, a_cm[:, i], m, m)
    frame = Frame(beams)
    p4 = frame.to_lab(np.concatenate([photon[:, None, :], tracks], axis=1))
    a_lab = frame.to_lab(a_cm)
    truth = {}
    if decay_lengths is not None:
        proper = decay_lengths.sample(rng, 3 * n).reshape(n, 3)
    else:
        event_ctau = lengths[np.arange(n) % lengths.size]  # in turn: each length holds n / k events exactly
        proper = rng.exponential(1.0, size=(n, 3)) * event_ctau[:, None]
        if lengths.size > 1:
            truth["ctau_mm"] = event_ctau
    flight = a_lab[..., 1:] / m_a * proper[..., None]  # beta gamma c t along the A' direction
    vertex = np.zeros((n, 7, 3))
    vertex[:, 1:] = np.repeat(flight, 2, axis=1)
    pdgid = np.zeros((n, 7), dtype=np.int32)
    pdgid[:, 0] = 22
    codes = np.array([[negative, positive] for _, negative, positive in PAIR_CHANNELS])
    pdgid[:, 1:] = codes[channel].reshape(n, 6)
    origin = np.full((n, 7), ORIGIN["resonance_daughter"], dtype=np.int32)
    origin[:, 0] = ORIGIN["hard_photon"]
    truth |= {f"proper_length_mm_{i}": proper[:, i] for i in range(3)}
    truth |= {f"channel_{i}": channel[:, i] for i in range(3)}
    return GeneratedEvents(p4=p4, vertex_mm=vertex, pdgid=pdgid, origin=origin, sigma_pb=sigma,
                           cuts={"darkonium_mass_gev": m_ups, "dark_photon_mass_gev": m_a, "alpha_d": alpha_d,
                                 "epsilon": epsilon, "ctau_mm": (None if lengths is None else lengths.tolist() if lengths.size > 1
                                             else float(lengths[0])),
                                 "matrix_element": matrix_element,
                                 "decay_lengths": None if decay_lengths is None else repr(decay_lengths)},
                           truth=truth)


def lifetime_weights(truth, decay_lengths: DecayLengths, ctau_mm: float) -> np.ndarray:
    """Per-event weights (n,) that turn events generated with ``decay_lengths`` (:func:`generate_darkonium`)
    into events whose three A' have the proper decay length ``ctau_mm``: the product of the three A'
    weights of :meth:`~analysis_lib.simulation.b_decays.DecayLengths.weight` (the A' fly independently).
    ``truth``: the events' truth (``proper_length_mm_<i>``, e.g. the ``mc_`` branches read back)."""
    return np.prod([decay_lengths.weight(np.asarray(truth[f"proper_length_mm_{i}"]), ctau_mm) for i in range(3)], axis=0)


#: The masses (GeV) of the six-pion system of :func:`generate_isr_six_pions`: BaBar's measured range.
SIX_PION_MASS_GEV = hadrons.six_pion_range_gev()


def sigma_isr_six_pions_pb(sqrt_s_gev) -> float:
    """sigma(e+e- -> gamma 3(pi+ pi-)) in pb with the photon at any angle and the six pions' mass in BaBar's
    measured range (:func:`analysis_lib.physics.hadrons.sigma_isr_pb` of
    :func:`~analysis_lib.physics.hadrons.sigma_six_pions_nb`): 4.2 pb at 10.58 GeV."""
    return hadrons.sigma_isr_pb(lambda m: 1e3 * hadrons.sigma_six_pions_nb(m), sqrt_s_gev, SIX_PION_MASS_GEV)


def generate_isr_six_pions(rng, n, *, beams: Beams) -> GeneratedEvents:
    """``n`` events e+e- -> gamma_ISR 3(pi+ pi-) in the lab frame: the six-pion mass m from
    (2 m / s) W(s, x) sigma(e+e- -> 3(pi+ pi-); m) (:func:`analysis_lib.physics.hadrons.isr_mass_density_pb`,
    BaBar's measured cross section; uniform within each 2.5 MeV step of the tabulated density), the photon's
    angle from the radiator's angular form (:func:`isr_photon_cos_theta`), the pions flat in six-body phase
    space in the system's frame (:func:`~analysis_lib.simulation.decays.n_body_decay`: the measured
    dynamics, dominated by rho0 and a1 resonances in the intermediate states, is not followed: the pair
    masses of these events are those of phase space). Particle 0 is the photon, 1-6 the pions
    (pi-, pi+ in turn)."""
    sqrt_s = beams.sqrt_s_gev
    low, high = SIX_PION_MASS_GEV
    edges = np.linspace(low, high, 1281)
    centres = 0.5 * (edges[1:] + edges[:-1])
    density = hadrons.isr_mass_density_pb(centres, sqrt_s, 1e3 * hadrons.sigma_six_pions_nb(centres))
    cell = rng.choice(centres.size, size=n, p=density / density.sum())
    mass = edges[cell] + rng.random(n) * (edges[1] - edges[0])
    x = 1 - mass**2 / sqrt_s**2
    e_gamma = x * sqrt_s / 2
    cos_theta, phi = isr_photon_cos_theta(rng, n, x, sqrt_s), rng.uniform(0, 2 * np.pi, n)
    sin_theta = np.sqrt(1 - cos_theta**2)
    photon = e_gamma[:, None] * np.stack([np.ones(n), sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta],
                                         axis=1)
    system = np.concatenate([(sqrt_s - e_gamma)[:, None], -photon[:, 1:]], axis=1)
    pions = n_body_decay(rng, system, [mass_gev(211)] * 6)
    p4 = Frame(beams).to_lab(np.concatenate([photon[:, None, :], pions], axis=1))
    pdgid = np.tile(np.array([22, -211, 211, -211, 211, -211, 211], dtype=np.int32), (n, 1))
    origin = np.full((n, 7), ORIGIN["continuum"], dtype=np.int32)
    origin[:, 0] = ORIGIN["hard_photon"]
    return GeneratedEvents(p4=p4, vertex_mm=np.zeros((n, 7, 3)), pdgid=pdgid, origin=origin,
                           sigma_pb=sigma_isr_six_pions_pb(sqrt_s),
                           cuts={"six_pion_mass_gev": list(SIX_PION_MASS_GEV)}, truth={"six_pion_mass_gev": mass})


#: e+e- -> 3 gamma with every photon converting (:func:`background_specs`): the photons' centre-of-mass
#: energies above this (GeV; in the lab, from 0.1 to 0.3 GeV with the boost, where both tracks of a
#: conversion can still have p_T > 0.1 GeV) ...
THREE_PHOTON_E_MIN_CM_GEV = 0.2
#: ... and |cos theta*| below this (the trackers' polar acceptance with a margin for the boost).
THREE_PHOTON_COS_MAX_CM = 0.95

#: Visible cross sections (pb) of the narrow Upsilon resonances in BaBar's data on their peaks: the
#: Upsilon(3S) and Upsilon(2S) events BaBar counted (122 million in 27.96 fb^-1; 98.6 million in 13.56 fb^-1:
#: B. Fulsom for BaBar, ICHEP 2010, "Recent quarkonium results from BaBar") over their luminosities (the
#: peak cross section a collider sees is set by its beam-energy spread, not by the resonance alone).
UPSILON_VISIBLE_PB = {200553: 122.0e6 / 27.96e3, 100553: 98.6e6 / 13.56e3}


def upsilon_on_peak(sqrt_s_gev: float) -> int | None:
    """The narrow Upsilon of :data:`UPSILON_VISIBLE_PB` whose mass lies within 10 MeV of ``sqrt_s_gev`` (data
    taken on its peak), or None."""
    for pdgid in UPSILON_VISIBLE_PB:
        if abs(float(sqrt_s_gev) - mass_gev(pdgid)) < 0.010:
            return pdgid
    return None


def generate_upsilon_decays(rng, n, *, beams: Beams, pdgid: int, sigma_pb: float) -> GeneratedEvents:
    """``n`` decays of an Upsilon made at rest in the centre-of-mass frame (e+e- -> Upsilon on its peak),
    decayed by Pythia with its tables (three gluons, transitions to lower bottomonium, lepton pairs;
    :func:`~analysis_lib.simulation.pythia.decay`), in the lab frame."""
    p4 = np.tile(np.sum(beams.four_momenta(), axis=0), (n, 1))
    products = pythia.decay(rng, np.full(n, pdgid), p4)
    origin = ak.values_astype(ak.zeros_like(products.E), np.int32) + ORIGIN["resonance_daughter"]
    return GeneratedEvents.from_particles(ak.with_field(products, origin, "origin"), sigma_pb=sigma_pb,
                                          cuts={"pdgid": int(pdgid)})


def skim(events):
    """The skim of the six-track final state before writing: exactly six tracks of zero total charge."""
    return ak.to_numpy((ak.num(events.track) == 6) & (ak.sum(events.track.charge, axis=1) == 0))


def background_specs(beams: Beams, *, max_mc_events: int, bb_per_pb: float = 0.0) -> list:
    """The backgrounds of six tracks and a photon at the beams' sqrt(s), as samples with tracks: the
    continuum e+e- -> q qbar of each flavour (Pythia, :func:`~analysis_lib.simulation.b_decays.continuum_sigma_pb`:
    the cross sections at 10.58 GeV scaled as 1 / s), generic B Bbar where ``bb_per_pb`` (B pairs per pb of
    luminosity) is positive, tau pairs with initial-state radiation and every tau decay (Pythia; 919 pb at
    10.58 GeV, scaled as 1 / s), and e+e- -> gamma_ISR 3(pi+ pi-) normalised to BaBar's measured cross section
    (:func:`generate_isr_six_pions`; Pythia's continuum has no initial-state radiation). ``max_mc_events``
    simulated events in all: 70% to the continuum and B Bbar, 15% to tau pairs, 15% to the six pions; and on
    the peak of the Upsilon(3S) or (2S) (:func:`upsilon_on_peak`) its decays (Pythia, normalised to BaBar's
    counted events, :data:`UPSILON_VISIBLE_PB`), 10% more. Every sample's photons convert in the
    material in front of the tracker (``conversions``), and the initial-state photon of the six pions
    also becomes its own virtual pair (``internal_conversions``, Kroll-Wada). And e+e- -> 3 gamma (tree
    level, :func:`~analysis_lib.simulation.generators.generate_three_photons`) with every photon a pair,
    in the material or virtual (``force_conversions``: each event weighted by the probability, about 5%
    per photon at BaBar), 5% more events: a QED source of three light e+e- pairs, with its virtual ones
    the e+e- -> e+e- e+e- gamma of annihilation. Not modelled: other multi-hadron final states with a hard
    initial-state photon, and four-lepton QED processes of two-photon collisions (the chapter states their
    absence where it draws its backgrounds)."""
    if not (isinstance(max_mc_events, int | np.integer) and max_mc_events >= 10_000):
        raise ParameterError(f"max_mc_events={max_mc_events!r} must be an integer >= 10000")
    sqrt_s = beams.sqrt_s_gev
    continuum_pb = {q: b_decays.continuum_sigma_pb(q, sqrt_s) for q in b_decays.CONTINUUM_PB}
    share = 1.0 if bb_per_pb <= 0 else 0.7 * sum(continuum_pb.values()) / (sum(continuum_pb.values()) + bb_per_pb)
    specs = b_decays.background_specs(beams, continuum_pb=continuum_pb, n_bb_per_pb=bb_per_pb,
                                      max_mc_events=int(0.7 * max_mc_events), continuum_share=min(share / 0.7, 1.0))
    sigma_tau = BACKGROUND_SIGMA_PB[15] * (b_decays.CONTINUUM_SQRT_S_GEV / sqrt_s) ** 2
    specs.append(SampleSpec(
        name="bkg_tautau", label="ττ(γ)", kind="background", sigma_pb=sigma_tau,
        generate=partial(generate_lepton_pairs, beams=beams, flavour=15, sigma_pb=sigma_tau),
        config={"process": "tau tau (gamma), every tau decay", "generator": "pythia"},
        n_events=int(0.15 * max_mc_events), tracks=True, chunk=100_000,
    ))
    upsilon = upsilon_on_peak(sqrt_s)
    if upsilon is not None:
        sigma_upsilon = UPSILON_VISIBLE_PB[upsilon]
        specs.append(SampleSpec(
            name="bkg_upsilon_decays", label="Υ(3S) decays" if upsilon == 200553 else "Υ(2S) decays",
            kind="background", sigma_pb=sigma_upsilon,
            generate=partial(generate_upsilon_decays, beams=beams, pdgid=upsilon, sigma_pb=sigma_upsilon),
            config={"process": "Upsilon decays (Pythia)", "pdgid": upsilon}, n_events=int(0.1 * max_mc_events),
            tracks=True, chunk=50_000,
        ))
    specs.append(SampleSpec(
        name="bkg_isr_6pi", label="γ_ISR 3(π+π−)", kind="background", sigma_pb=partial(sigma_isr_six_pions_pb, sqrt_s),
        generate=partial(generate_isr_six_pions, beams=beams),
        config={"process": "gamma_ISR 3(pi+ pi-), BaBar's measured cross section, six-body phase space"},
        n_events=int(0.15 * max_mc_events), tracks=True, chunk=100_000,
    ))
    # a photon of any of them can convert in the material and add a pair of tracks; the photons of the
    # generators below that are not Pythia's (the initial-state photon, the three photons) also become
    # their own virtual pairs (Pythia gives its pi0 and eta their Dalitz decays)
    specs = [replace(spec, conversions=True, internal_conversions=spec.name == "bkg_isr_6pi") for spec in specs]
    specs.append(SampleSpec(
        name="bkg_3gamma_conversions", label="γγγ, three conversions", kind="background",
        sigma_pb=partial(three_photon_sigma_pb, beams, THREE_PHOTON_E_MIN_CM_GEV, THREE_PHOTON_COS_MAX_CM),
        generate=partial(generate_three_photons, beams=beams, e_min_gev=THREE_PHOTON_E_MIN_CM_GEV,
                         cos_max=THREE_PHOTON_COS_MAX_CM),
        config={"process": "e+e- -> 3 gamma (tree level), every photon converting", "e_min_cm_gev": THREE_PHOTON_E_MIN_CM_GEV,
                "cos_max_cm": THREE_PHOTON_COS_MAX_CM},
        n_events=int(0.05 * max_mc_events), tracks=True, chunk=100_000, weighted=True, force_conversions=True,
        internal_conversions=True,
    ))
    return specs
