"""The two-muon plus missing-energy final state: signal and background generators.

Shared by the chapters whose final state is a mu+ mu- pair and nothing else seen (the invisible Z'
and the dark Higgsstrahlung searches). Every generator returns :class:`GeneratedEvents` in the lab
frame; the backgrounds' cross sections are stated with their generator cuts.

* :func:`generate_mumu_vector`: e+e- -> mu+ mu- V with V invisible, sampled from the tree-level
  matrix element of :mod:`analysis_lib.physics.radiated_vector` through the grid that ``vegas``
  adapted to it (the same grid that gives the cross section);
* :func:`generate_dark_higgsstrahlung`: e+e- -> A' h', A' -> mu+ mu-, h' invisible, from the
  angular distribution of :mod:`analysis_lib.physics.dark_photon`;
* :func:`generate_lepton_pairs`: e+e- -> mu+ mu- (gamma) and tau+ tau- (gamma) from Pythia 8 with
  initial- and final-state photon radiation (:func:`analysis_lib.simulation.pythia.lepton_pairs`);
* :func:`generate_two_photon_mumu`: e+e- -> e+e- mu+ mu- through two quasi-real photons
  (equivalent-photon approximation), the scattered electrons at small angles.
* :func:`background_specs`: the backgrounds as samples of a dataset.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import pickle
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import awkward as ak
import numpy as np

from ..core.constants import ALPHA_EM, GEV2_TO_PB, mass_gev
from ..core.errors import KinematicError
from ..core.kinematics import boost, direction_from_angles, orthonormal_frames
from ..detector.datasets import generated_dir
from ..detector.experiments import Beams
from ..detector.frames import Frame
from ..io.ntuple import ORIGIN
from ..physics.radiated_vector import PhaseSpace, train
from . import pythia
from .generators import GeneratedEvents, hemispheres, particles_to_lab
from .phase_space import sample_events, unweight
from .production import SampleSpec

__all__ = [
    "BACKGROUND_SIGMA_PB",
    "MUMU_PHOTON_SPLIT_GEV",
    "TAU_BRANCHING",
    "TwoPhotonCuts",
    "background_specs",
    "generate_dark_higgsstrahlung",
    "generate_lepton_pairs",
    "generate_mumu_vector",
    "generate_two_photon_mumu",
    "matrix_element_squared_gamma_gamma_to_leptons",
    "mumu_vector_sigma_pb",
    "sigma_gamma_gamma_to_leptons_pb",
    "two_photon_sampler",
]

log = logging.getLogger(__name__)

MUON = mass_gev(13)
ELECTRON = mass_gev(11)

#: Total cross sections at sqrt(s) = 10.58 GeV used to normalise the Pythia samples, in pb:
#: e+e- -> mu+ mu- (gamma) 1148 pb from the Belle II Physics Book (E. Kou et al., PTEP 2019 123C01,
#: arXiv:1808.10567, table of generator cross sections; KKMC, ISR and FSR included) and
#: e+e- -> tau+ tau- (gamma) 919 pb (the same table). Pythia gives the shapes: its own ISR-corrected
#: totals are about 20% lower (it resums no soft-photon virtual corrections).
BACKGROUND_SIGMA_PB = {13: 1148.0, 15: 919.0}

#: Tau decays kept in the tau-pair background and their branching fractions (PDG 2024): the muonic
#: decay and the single-pion decay (a pion the muon identification takes for a muon). The other
#: decays bring extra tracks or photons (pi0) that the selections veto; they are not simulated.
TAU_BRANCHING = {"mu nu nu": 0.1739, "pi nu": 0.1082}

#: Photon energy (GeV, lab; the dimuon chapters' extra-photon threshold) from which the mu mu (gamma)
#: background is simulated as two samples, one in each outcome of the calorimeter's efficiency for
#: its photons on crystals (:func:`analysis_lib.simulation.response.reconstruct`): "seen", at least
#: one such photon a candidate (or none there), and "missed", all of them lost, weighted by the
#: probability of that, (1 - efficiency)^k. The missed events are those a photon veto keeps with a
#: photon in the calorimeter: they make the background that peaks at recoil mass 0, and the own
#: sample holds 1 / (1 - efficiency) = 50 times more of them (Belle II model) for the same generation.
MUMU_PHOTON_SPLIT_GEV = 0.1

# Pythia's decay channel of tau- for each kept mode (daughter ids)
_TAU_CHANNELS = {"mu nu nu": "13 -14 16", "pi nu": "-211 16"}


# ---------------------------------------------------------------------------------------------
# signal: e+e- -> mu+ mu- V, V invisible


@dataclass(frozen=True)
class _VectorSampler:
    """Weighted events from the adapted ``vegas`` grid of :class:`PhaseSpace` (for :func:`unweight`)."""

    space: PhaseSpace
    grid: object  # vegas.AdaptiveMap

    def sample(self, rng, n):
        y = rng.random((n, 4))
        x = np.empty_like(y)
        jac = np.empty(n)
        self.grid.map(y, x, jac)
        p3, p4, k, density = self.space.momenta(x, rng.uniform(0, 2 * np.pi, n))
        weights = self.space.weights(p3, p4, k, density) * jac
        return np.stack([p3, p4, k], axis=1), weights


@cache
def _trained(sqrt_s_gev, mass_gev_v, lepton_mass_gev):
    """The adapted integrator grid and integral for one mass (seeded, so reproducible): computed
    once, then kept in memory and in ``<generated>/vegas/`` (keyed by the arguments and the source of
    the matrix element), since every kernel of a book run needs the same grids."""
    from ..physics import radiated_vector

    space = PhaseSpace(sqrt_s_gev, mass_gev_v, lepton_mass_gev)
    digest = hashlib.sha256(Path(radiated_vector.__file__).read_bytes())
    digest.update(repr((sqrt_s_gev, mass_gev_v, lepton_mass_gev)).encode())
    path = generated_dir() / "vegas" / f"{digest.hexdigest()[:20]}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    # two processes asking at once: one trains, the other waits and reads its grid
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.exists():
                try:
                    with open(path, "rb") as f:
                        grid, mean, sdev = pickle.load(f)
                    return space, grid, mean, sdev
                except (OSError, EOFError, pickle.UnpicklingError):
                    log.warning("unreadable integration grid %s: recomputing it", path)
            integrator, result = train(space, seed=1)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                pickle.dump((integrator.map, float(result.mean), float(result.sdev)), f)
            os.replace(tmp, path)
            return space, integrator.map, float(result.mean), float(result.sdev)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def mumu_vector_sigma_pb(mass_gev_v: float, sqrt_s_gev: float):
    """sigma(e+e- -> mu+ mu- V) in pb for unit coupling (scales as g^2), and its integration error."""
    _, _, mean, sdev = _trained(float(sqrt_s_gev), float(mass_gev_v), MUON)
    return mean, sdev


def generate_mumu_vector(rng, n, *, beams: Beams, mass_gev: float, pilot: int = 50_000):
    """``n`` events e+e- -> mu+ mu- V (V invisible, so only the muons are listed), unweighted from
    the matrix element; ``sigma_pb`` of the events is the cross section for unit coupling."""
    space, grid, _, _ = _trained(float(beams.sqrt_s_gev), float(mass_gev), MUON)
    momenta, sigma = unweight(_VectorSampler(space, grid), rng, n, pilot=pilot, quantile=0.999,
                              name=f"e+e- -> mu mu V({mass_gev:g} GeV)")
    p4_lab = Frame(beams).to_lab(momenta)
    return GeneratedEvents(
        p4=p4_lab[:, :2], vertex_mm=np.zeros((n, 2, 3)), pdgid=np.array([13, -13]),
        origin=np.array([ORIGIN["lepton"]] * 2), sigma_pb=sigma, cuts={"mass_gev": mass_gev},
        truth={"invisible_E": p4_lab[:, 2, 0]},
    )


# ---------------------------------------------------------------------------------------------
# signal: e+e- -> A' h', A' -> mu+ mu-, h' invisible


def generate_dark_higgsstrahlung(rng, n, *, beams: Beams, mass_a_gev: float, mass_h_gev: float, sigma_pb: float):
    """``n`` events e+e- -> A' h' with A' -> mu+ mu- (only the muons are listed; h' is invisible).

    The A' polar angle follows lambda sin^2 theta + 8 M_A'^2 / s
    (:func:`analysis_lib.physics.dark_photon.dsigma_dcos_dark_higgsstrahlung_pb`, accept-reject); the
    muons are isotropic in the A' rest frame (its polarisation is not followed: a simplification,
    stated in the chapter). ``sigma_pb`` is recorded with the events.
    """
    from ..core.kinematics import isotropic_directions, two_body_momentum

    sqrt_s = beams.sqrt_s_gev
    if not (2 * MUON < mass_a_gev and mass_h_gev >= 0 and mass_a_gev + mass_h_gev < sqrt_s):
        raise KinematicError(
            f"M_A' = {mass_a_gev!r}, M_h' = {mass_h_gev!r} GeV: need 2 m_mu < M_A' and M_A' + M_h' < sqrt(s) = {sqrt_s:.3f}"
        )
    s = sqrt_s**2
    p = float(two_body_momentum(sqrt_s, mass_a_gev, mass_h_gev))
    lam = (2 * p / sqrt_s) ** 2
    transverse, constant = lam, 8 * mass_a_gev**2 / s
    cos_t = np.empty(0)
    while cos_t.size < n:
        trial = rng.uniform(-1, 1, 2 * (n - cos_t.size) + 16)
        keep = rng.uniform(0, transverse + constant, trial.size) < transverse * (1 - trial**2) + constant
        cos_t = np.concatenate([cos_t, trial[keep]])
    direction = direction_from_angles(cos_t[:n], rng.uniform(0, 2 * np.pi, n))
    a_cm = np.concatenate([np.full((n, 1), np.hypot(p, mass_a_gev)), p * direction], axis=1)
    d = isotropic_directions(rng, n)
    q = float(two_body_momentum(mass_a_gev, MUON, MUON))
    e = np.full((n, 1), mass_a_gev / 2)
    rest = np.stack([np.concatenate([e, q * d], axis=1), np.concatenate([e, -q * d], axis=1)], axis=1)
    muons_cm = boost(rest, (a_cm[:, 1:] / a_cm[:, :1])[:, None, :])
    return GeneratedEvents(
        p4=Frame(beams).to_lab(muons_cm), vertex_mm=np.zeros((n, 2, 3)), pdgid=np.array([13, -13]),
        origin=np.array([ORIGIN["lepton"]] * 2), sigma_pb=float(sigma_pb),
        cuts={"mass_a_gev": mass_a_gev, "mass_h_gev": mass_h_gev},
    )


# ---------------------------------------------------------------------------------------------
# lepton pairs from Pythia


def generate_lepton_pairs(rng, n, *, beams: Beams, flavour: int, sigma_pb: float, tau_decays=()):
    """e+e- -> l+ l- (gamma) from Pythia (see :func:`analysis_lib.simulation.pythia.lepton_pairs`),
    in the lab frame; ``sigma_pb`` is recorded with the events (the caller's normalisation)."""
    channels = [_TAU_CHANNELS[mode] for mode in tau_decays]
    particles = pythia.lepton_pairs(rng, n, sqrt_s_gev=beams.sqrt_s_gev, flavour=flavour, tau_channels=channels)
    ids = np.abs(ak.to_numpy(ak.flatten(particles.id)))
    particles = ak.with_field(particles, hemispheres(particles), "side")  # for a hadronic tag's combinatorics
    particles = particles_to_lab(particles, beams, np.where(ids == 22, ORIGIN["hard_photon"], ORIGIN["lepton"]))
    return GeneratedEvents.from_particles(particles, sigma_pb=sigma_pb,
                                          cuts={"flavour": flavour, "tau_decays": list(tau_decays)})


# ---------------------------------------------------------------------------------------------
# two-photon production of muon pairs


def matrix_element_squared_gamma_gamma_to_leptons(p, k1, k2, lepton_mass_gev):
    """Spin- and polarisation-averaged |M|^2 of gamma(k1) gamma(k2) -> l-(p) l+, massive leptons:
    2 e^4 [p.k2/p.k1 + p.k1/p.k2 + 2 m^2 (1/p.k1 + 1/p.k2) - m^4 (1/p.k1 + 1/p.k2)^2], the crossing
    of e+e- -> gamma gamma (M. E. Peskin and D. V. Schroeder, "An Introduction to Quantum Field
    Theory", eq. (5.105))."""
    def dot(a, b):
        return a[..., 0] * b[..., 0] - np.sum(a[..., 1:] * b[..., 1:], axis=-1)

    m2 = lepton_mass_gev**2
    a, b = dot(p, k1), dot(p, k2)
    inverse = 1 / a + 1 / b
    e2 = 4 * np.pi * ALPHA_EM
    return 2 * e2**2 * (b / a + a / b + 2 * m2 * inverse - m2**2 * inverse**2)


def sigma_gamma_gamma_to_leptons_pb(w_gev, lepton_mass_gev):
    """Breit-Wheeler cross section sigma(gamma gamma -> l+ l-) at invariant mass ``w_gev``, in pb:
    (4 pi alpha^2 / W^2) [(3 - beta^4)/2 ln((1 + beta)/(1 - beta)) - beta (2 - beta^2)]
    (G. Breit and J. A. Wheeler, Phys. Rev. 46 (1934) 1087; e.g. Berestetskii, Lifshitz, Pitaevskii,
    "Quantum Electrodynamics", section 88)."""
    w = np.asarray(w_gev, dtype=float)
    beta = np.sqrt(np.clip(1 - 4 * lepton_mass_gev**2 / w**2, 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 4 * np.pi * ALPHA_EM**2 / w**2 * (
            (3 - beta**4) / 2 * np.log((1 + beta) / (1 - beta)) - beta * (2 - beta**2))
    return np.where(beta > 0, value, 0.0) * GEV2_TO_PB


@dataclass(frozen=True)
class TwoPhotonCuts:
    """Generator cuts of e+e- -> e+e- mu+ mu-: the pair mass above ``w_min_gev`` (1 GeV: below it
    the muons cannot both reach the muon detector, 0.7 GeV each), both scattered
    electrons within ``electron_theta_max_rad`` of their beam (centre-of-mass frame: down the beam
    pipe or at the edge of the acceptance, where the detector model decides), both muons at
    |cos theta*| < ``muon_cos_max``."""

    w_min_gev: float = 1.0
    electron_theta_max_rad: float = 0.3
    muon_cos_max: float = 0.95


@dataclass(frozen=True)
class _TwoPhotonSampler:
    sqrt_s: float
    cuts: TwoPhotonCuts

    def _photon(self, rng, x, side):
        """A quasi-real photon taking the energy fraction ``x`` of the beam lepton of ``side`` (+1
        e-, -1 e+): photon and scattered-lepton four-momenta, and the flux density in x over the
        proposal density of its virtuality.

        Flux per photon in x and Q^2 (virtuality), the equivalent-photon approximation:
        dN = (alpha / 2 pi) [(1 + (1 - x)^2) / x / Q^2 - 2 m_e^2 x / Q^4] dx dQ^2, Q^2 from
        m_e^2 x^2 / (1 - x) (V. M. Budnev, I. F. Ginzburg, G. V. Meledin, V. G. Serbo, Phys. Rept. 15
        (1975) 181; its Q^2-integrated form is eq. (2) of S. Frixione, M. L. Mangano, P. Nason,
        G. Ridolfi, Phys. Lett. B 319 (1993) 339). Q^2 is drawn log-uniform up to the value at which the
        scattered lepton leaves the ``electron_theta_max_rad`` cone.
        """
        n = len(x)
        e = self.sqrt_s / 2
        q2_min = ELECTRON**2 * x**2 / (1 - x)
        e_out = (1 - x) * e
        q2_max = 4 * e * e_out * np.sin(self.cuts.electron_theta_max_rad / 2) ** 2
        open_ = q2_max > q2_min
        log_q2 = np.log(np.where(open_, q2_max / q2_min, 1.0))
        q2 = q2_min * np.exp(rng.random(n) * log_q2)
        flux = ALPHA_EM / (2 * np.pi) * ((1 + (1 - x) ** 2) / x - 2 * ELECTRON**2 * x / q2) * log_q2
        # scattered lepton: massless kinematics, Q^2 = 4 E E' sin^2(theta / 2), theta from its beam
        cos_t = 1 - q2 / (2 * e * e_out)
        direction = direction_from_angles(np.clip(cos_t, -1, 1) * side, rng.uniform(0, 2 * np.pi, n))
        scattered = np.concatenate([e_out[:, None], e_out[:, None] * direction], axis=1)
        beam = np.array([e, 0.0, 0.0, side * e])
        return beam - scattered, scattered, np.where(open_, flux, 0.0)

    def _fractions(self, rng, n):
        """Energy fractions (x1, x2) from tau = x1 x2 with density proportional to 1 / tau^2 on
        [W_min^2 / s, 1] (the fluxes times sigma(gamma gamma) fall as 1 / tau^2) and y = ln(x1 / x2) / 2
        uniform where both x < 1; returns x1, x2 and 1 / proposal density in (x1, x2)."""
        tau_min = self.cuts.w_min_gev**2 / self.sqrt_s**2
        norm = 1 / tau_min - 1
        tau = 1 / (1 / tau_min - rng.random(n) * norm)
        y_half = -0.5 * np.log(tau)
        y = rng.uniform(-1, 1, n) * y_half
        x1, x2 = np.sqrt(tau) * np.exp(y), np.sqrt(tau) * np.exp(-y)
        inverse_density = tau**2 * norm * 2 * y_half  # dx1 dx2 = d tau dy
        return np.minimum(x1, 1 - 1e-9), np.minimum(x2, 1 - 1e-9), inverse_density

    def sample(self, rng, n):
        x1, x2, inverse_density = self._fractions(rng, n)
        q1, e_minus, f1 = self._photon(rng, x1, +1)
        q2, e_plus, f2 = self._photon(rng, x2, -1)
        pair = q1 + q2
        w2 = pair[:, 0] ** 2 - np.sum(pair[:, 1:] ** 2, axis=1)
        ok = (w2 > self.cuts.w_min_gev**2) & (pair[:, 0] > 0)
        w = np.sqrt(np.where(ok, w2, 1.0))
        # the pair rest frame: the muon direction about the first photon's axis, uniform proposal
        beta = np.where(ok[:, None], -pair[:, 1:] / np.where(ok, pair[:, 0], 1.0)[:, None], 0.0)  # weight 0 if not ok
        k1 = boost(q1, beta)
        axis = k1[:, 1:] / np.linalg.norm(k1[:, 1:], axis=1, keepdims=True)
        # cos theta* from a proposal proportional to 1 / (1 - beta^2 cos^2), the t- and u-channel poles
        p_star = np.sqrt(np.clip(w**2 / 4 - MUON**2, 0, None))
        beta_mu = np.clip(2 * p_star / w, 1e-6, 1 - 1e-12)
        u_max = np.arctanh(beta_mu)
        cos_star = np.tanh(rng.uniform(-1, 1, n) * u_max) / beta_mu
        inverse_solid_angle = 2 * u_max / beta_mu * (1 - (beta_mu * cos_star) ** 2) * 2 * np.pi
        phi_star = rng.uniform(0, 2 * np.pi, n)
        direction = np.einsum("ni,nij->nj", direction_from_angles(cos_star, phi_star), orthonormal_frames(axis))
        mu_minus = np.concatenate([(w / 2)[:, None], p_star[:, None] * direction], axis=1)
        mu_plus = np.concatenate([(w / 2)[:, None], -p_star[:, None] * direction], axis=1)
        # real photons of energy W/2 along the axis for the matrix element
        k_a = np.concatenate([(w / 2)[:, None], (w / 2)[:, None] * axis], axis=1)
        k_b = np.concatenate([(w / 2)[:, None], -(w / 2)[:, None] * axis], axis=1)
        me2 = matrix_element_squared_gamma_gamma_to_leptons(mu_minus, k_a, k_b, MUON)
        dsigma_domega = beta_mu * me2 / (64 * np.pi**2 * w**2)
        mu_minus, mu_plus = boost(mu_minus, -beta), boost(mu_plus, -beta)
        cos_cut = self.cuts.muon_cos_max
        inside = ((np.abs(mu_minus[:, 3]) < cos_cut * np.linalg.norm(mu_minus[:, 1:], axis=1))
                  & (np.abs(mu_plus[:, 3]) < cos_cut * np.linalg.norm(mu_plus[:, 1:], axis=1)))
        weights = np.where(ok & inside & (p_star > 0), f1 * f2 * inverse_density * dsigma_domega * inverse_solid_angle, 0.0)
        weights = weights * GEV2_TO_PB
        return np.stack([mu_minus, mu_plus, e_minus, e_plus], axis=1), weights


def two_photon_sampler(sqrt_s_gev: float, cuts: TwoPhotonCuts = TwoPhotonCuts()):
    """Weighted e+e- -> e+e- mu+ mu- events (mu-, mu+, e-, e+; centre-of-mass frame) and their
    cross sections in pb inside ``cuts``: two equivalent photons (see ``_TwoPhotonSampler._photon``)
    colliding into a muon pair with the Breit-Wheeler angular distribution of real photons."""
    if not 2 * MUON < cuts.w_min_gev < sqrt_s_gev:
        raise KinematicError(f"w_min_gev={cuts.w_min_gev!r} must lie between 2 m_mu and sqrt(s)")
    return _TwoPhotonSampler(float(sqrt_s_gev), cuts)


@cache
def two_photon_sigma_pb(sqrt_s_gev: float, cuts: TwoPhotonCuts = TwoPhotonCuts()) -> float:
    """sigma(e+e- -> e+e- mu+ mu-) inside ``cuts`` from 2 million weighted events (fixed seed)."""
    rng = np.random.default_rng(19750101)
    sampler = two_photon_sampler(sqrt_s_gev, cuts)
    return float(np.mean([sampler.sample(rng, 500_000)[1].mean() for _ in range(4)]))


def generate_two_photon_mumu(rng, n, *, beams: Beams, cuts: TwoPhotonCuts = TwoPhotonCuts(), pilot: int = 200_000,
                             weighted: bool = False):
    """``n`` events e+e- -> e+e- mu+ mu- (see :func:`two_photon_sampler`) in the lab frame: unweighted
    (:func:`analysis_lib.simulation.phase_space.unweight`), or with ``weighted`` partially unweighted
    at the 0.9 quantile of the weights (:func:`~analysis_lib.simulation.phase_space.partially_unweight`:
    events of relative weight 1 but for the largest 10%, an effective sample of 99% of the events, for
    a third of the trials)."""
    sampler = two_photon_sampler(beams.sqrt_s_gev, cuts)
    momenta, sigma, weights = sample_events(sampler, rng, n, weighted=weighted, pilot=pilot, quantile=0.9999,
                                            name="e+e- -> e+e- mu+ mu-")
    return GeneratedEvents(
        p4=Frame(beams).to_lab(momenta), vertex_mm=np.zeros((n, 4, 3)), pdgid=np.array([13, -13, 11, -11]),
        origin=np.array([ORIGIN["lepton"]] * 4), sigma_pb=sigma,
        cuts={"w_min_gev": cuts.w_min_gev, "electron_theta_max_rad": cuts.electron_theta_max_rad,
              "muon_cos_max": cuts.muon_cos_max},
        weight=weights,
    )


# ---------------------------------------------------------------------------------------------
# the backgrounds of a dataset


def background_specs(beams: Beams, *, two_photon_cuts: TwoPhotonCuts = TwoPhotonCuts()):
    """The backgrounds of the mu+ mu- + missing-energy final state as samples: mu+ mu- (gamma) in two
    (photons seen and photons missed by the calorimeter, :data:`MUMU_PHOTON_SPLIT_GEV`; the same
    generated events, Pythia's time spent once),
    tau+ tau- (gamma) with both taus in :data:`TAU_BRANCHING`, and two-photon mu+ mu-."""
    tau_modes = tuple(TAU_BRANCHING)
    tau_fraction = sum(TAU_BRANCHING.values()) ** 2
    specs = [
        *(SampleSpec(name=name, label=label, kind="background", sigma_pb=BACKGROUND_SIGMA_PB[13],
                     generate=partial(generate_lepton_pairs, beams=beams, flavour=13, sigma_pb=BACKGROUND_SIGMA_PB[13]),
                     config={"process": "mu mu (gamma)", "generator": "pythia"}, tracks=True, chunk=100_000,
                     photon_branch=(branch, MUMU_PHOTON_SPLIT_GEV), generation="mumu")
          for name, label, branch in (("bkg_mumu", "μμ(γ)", "seen"), ("bkg_mumu_missed", "μμ(γ), γ missed", "missed"))),
        SampleSpec(name="bkg_tautau", label="ττ(γ)", kind="background",
                   sigma_pb=BACKGROUND_SIGMA_PB[15] * tau_fraction,
                   generate=partial(generate_lepton_pairs, beams=beams, flavour=15,
                                    sigma_pb=BACKGROUND_SIGMA_PB[15] * tau_fraction, tau_decays=tau_modes),
                   config={"process": "tau tau (gamma)", "tau_decays": list(tau_modes), "generator": "pythia"},
                   tracks=True, chunk=100_000),
    ]
    sigma_2g = two_photon_sigma_pb(beams.sqrt_s_gev, two_photon_cuts)
    specs.append(SampleSpec(
        name="bkg_eemumu", label="eeμμ (γγ)", kind="background", sigma_pb=sigma_2g,
        generate=partial(generate_two_photon_mumu, beams=beams, cuts=two_photon_cuts),
        config={"process": "e e mu mu", "cuts": [two_photon_cuts.w_min_gev, two_photon_cuts.electron_theta_max_rad,
                                                 two_photon_cuts.muon_cos_max]},
        tracks=True, weighted=True,
    ))
    return specs
