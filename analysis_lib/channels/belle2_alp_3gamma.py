"""Belle II: e+e- -> gamma a, a -> gamma gamma (photophilic ALP), arXiv:2007.13071.

What this search declares: its samples (signal on a mass grid and the photon backgrounds), its
skim and selection, its observables (diphoton mass squared below 6.85 GeV, recoil mass squared of
the third photon above, as the paper) and the conversion of a signal yield into sigma and g_agg.
Everything else (simulation, ntuple I/O, histograms, fits, limits, plots) is shared code, most of
it through :mod:`analysis_lib.analysis.peak_search`.

Selection (modelled on the paper's three-photon selection; its exact cuts are not all public):
no track; at least three photon candidates with E_lab > 0.1 GeV; an ECL energy-sum trigger (all
clusters, lab) above 1 GeV; the three most energetic inside the tracker acceptance (so that a
charged particle there would have been vetoed by its track), each with E* > 0.25 GeV in the
centre-of-mass frame; their summed energy within 0.88-1.03 sqrt(s) and their summed momentum
below 0.1 sqrt(s). Every event enters the mass histograms three times, once per photon pair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache, partial

import awkward as ak
import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ..analysis import peak_search
from ..analysis.histograms import mass_squared_axis
from ..analysis.peak_search import PeakSearch
from ..analysis.results import LimitScan, read_results
from ..core.constants import mass_gev
from ..core.kinematics import direction_from_angles, invariant_mass2
from ..core.parameters import LUMINOSITY_SCAN, SEED, Parameter, mass_range
from ..detector.datasets import Dataset, dataset, dataset_parameter
from ..detector.frames import Frame
from ..physics.alp import alp_width_gamma_gamma_gev, coupling_from_cross_section, sigma_ee_to_gamma_alp_pb
from ..physics.qed import sigma_gamma_gamma_pb
from ..reco.selection import Cut, CutFlow
from ..simulation.generators import (
    generate_gamma_gamma,
    generate_gamma_resonance,
    generate_radiative_bhabha,
    generate_three_photons,
    lab_polar_range,
    radiative_bhabha_sampler,
    three_photon_sigma_pb,
)
from ..simulation.phase_space import stored_cross_section_pb
from ..simulation.production import SampleSpec
from .base import Overview, PeakSearchChannel, register

__all__ = ["CL", "PARAMETERS", "SEARCH", "AlpThreeGamma", "analyse", "observable_for", "physics_table",
           "sample_specs"]

log = logging.getLogger(__name__)

NAME = "belle2_alp_3gamma"

#: Confidence level of the paper's limits.
CL = 0.95
#: Reference coupling of the simulated signal (GeV^-1): weights and templates are at this g.
G_REF_PER_GEV = 1e-3
#: Above this mass the fit uses the recoil mass squared of the third photon (as the paper).
RECOIL_FROM_GEV = 6.85
#: Simulated ALP masses (GeV); limits are interpolated in between.
SIGNAL_MASSES_GEV = (0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0,
                     4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.4, 9.7, 9.9)

#: Datasets up to this luminosity (fb^-1) get event-level pseudo-data (about 410 thousand events per
#: fb^-1 pass the skim); larger ones pseudo-data drawn from the expected counts.
POOL_LUMINOSITY_FB = 1.0

# selection
PHOTON_E_MIN_LAB_GEV = 0.1
PHOTON_E_MIN_CM_GEV = 0.25
ENERGY_SUM_RANGE = (0.88, 1.03)
MOMENTUM_SUM_MAX = 0.1
TRIGGER_E_SUM_GEV = 1.0
# generator cuts, looser than the selection (resolution and the boost included)
GEN_E_MIN_CM_GEV = 0.2
GEN_COS_MAX_CM = 0.975

#: e+e- -> gamma P, P -> gamma gamma: (PDG id, sigma(e+e- -> gamma P) in pb at 10.58 GeV, source).
#: eta and eta': BaBar, Phys. Rev. D 74 (2006) 012002 (4.5 and 5.4 fb). pi0: the anomaly coupling
#: alpha/(pi f_pi) with the Brodsky-Lepage asymptotic form factor Q^2 F(Q^2) -> 2 f_pi, which gives
#: 2.7 fb (derived here: the ALP formula with g_eff = (alpha / (pi f_pi)) 8 pi^2 f_pi^2 / s).
PSEUDOSCALARS = {
    "pi0": (111, 2.7e-3, "derived, Brodsky-Lepage"),
    "eta": (221, 4.5e-3, "BaBar PRD 74 (2006) 012002"),
    "etaprime": (331, 5.4e-3, "BaBar PRD 74 (2006) 012002"),
}
#: Peaking backgrounds fitted as templates, with the relative uncertainty of their normalisation
#: (the measured cross sections' ~25%; 50% for the derived pi0 gamma cross section).
PEAKING = {"bkg_gamma_pi0": 0.5, "bkg_gamma_eta": 0.25, "bkg_gamma_etaprime": 0.25}
#: B(P -> gamma gamma), PDG 2024.
BR_GAMMA_GAMMA = {"pi0": 0.98823, "eta": 0.3936, "etaprime": 0.02307}


def _mass_range(values):
    sqrt_s = dataset(values["dataset"]).experiment.sqrt_s_gev
    return SIGNAL_MASSES_GEV[0], min(SIGNAL_MASSES_GEV[-1], np.sqrt(sqrt_s**2 - 2 * sqrt_s * 0.3))


#: Run parameters (the notebook's parameters cell holds the same defaults).
PARAMETERS = (
    dataset_parameter("belle2_2018", "belle2"),
    SEED,
    LUMINOSITY_SCAN,
    *mass_range("ALP", (0.2, 9.7), depends=_mass_range),
    Parameter("n_signal_events", int, 20_000, "simulated events per signal mass", minimum=500, maximum=10_000_000),
    Parameter("max_mc_events", int, 2_000_000, "largest simulated background sample", minimum=10_000,
              maximum=100_000_000),
    *peak_search.FIT_PARAMETERS,
)


# ---------------------------------------------------------------------------------------------
# samples


#: Generator cuts of e+e- -> e+e- gamma in the c.m. frame: both leptons where the tracker could see
#: them (lab 17-150 degrees is 22-157 degrees in the c.m. frame; 2.5 degrees margin for the tilt of
#: the crossing angle); the lab requirement itself is added from the detector model.
_RADIATIVE_BHABHA_CM_CUTS = {
    "e_min_gev": GEN_E_MIN_CM_GEV, "photon_cos_max": GEN_COS_MAX_CM,
    "lepton_cos_range": (float(np.cos(np.radians(159.5))), float(np.cos(np.radians(20.0)))), "min_angle_deg": 3.0,
}


@cache
def _radiative_bhabha_sigma_pb(beams, lepton_lab_theta_deg):
    """sigma(e+e- -> e+e- gamma) inside the generator cuts, computed once per beams and lab range."""
    return stored_cross_section_pb(
        "radiative_bhabha", (beams, _RADIATIVE_BHABHA_CM_CUTS, lepton_lab_theta_deg), lambda: radiative_bhabha_sampler(
            beams.sqrt_s_gev, **_RADIATIVE_BHABHA_CM_CUTS, lepton_accept=lab_polar_range(beams, *lepton_lab_theta_deg)))


def _radiative_bhabha_cuts(experiment):
    # both leptons inside the tracker's acceptance in the lab: they reach the selection only when
    # both tracks are lost. With a lepton outside, its shower is a photon candidate outside the
    # tracker acceptance, which the selection rejects.
    tracker = experiment.tracker
    return {**_RADIATIVE_BHABHA_CM_CUTS, "lepton_lab_theta_deg": (tracker.theta_min_deg, tracker.theta_max_deg)}


def sample_specs(ds: Dataset, *, n_signal_events: int, signal_masses_gev=SIGNAL_MASSES_GEV):
    """The samples of this channel for dataset ``ds``: signal masses and backgrounds."""
    beams = ds.experiment.beams
    sqrt_s = beams.sqrt_s_gev
    specs = []
    for m in signal_masses_gev:
        sigma = float(sigma_ee_to_gamma_alp_pb(m, G_REF_PER_GEV, sqrt_s))
        specs.append(SampleSpec(
            name=f"signal_m{m:.3f}", label=f"ALP {m:g} GeV", kind="signal", sigma_pb=sigma,
            generate=partial(generate_gamma_resonance, beams=beams, mass_gev=m, sigma_pb=sigma),
            config={"process": "gamma a", "mass_gev": m, "g_ref": G_REF_PER_GEV}, n_events=n_signal_events,
        ))
    sigma_3g = three_photon_sigma_pb(beams, GEN_E_MIN_CM_GEV, GEN_COS_MAX_CM)
    specs.append(SampleSpec(
        name="bkg_3gamma", label="γγγ", kind="background", sigma_pb=sigma_3g,
        generate=partial(generate_three_photons, beams=beams, e_min_gev=GEN_E_MIN_CM_GEV, cos_max=GEN_COS_MAX_CM),
        config={"process": "3 gamma", "e_min": GEN_E_MIN_CM_GEV, "cos_max": GEN_COS_MAX_CM}, weighted=True,
    ))
    specs.append(SampleSpec(
        name="bkg_2gamma_beambkg", label="γγ + beam background", kind="background",
        sigma_pb=float(sigma_gamma_gamma_pb(sqrt_s, cos_max=GEN_COS_MAX_CM)),
        generate=partial(generate_gamma_gamma, beams=beams, cos_max=GEN_COS_MAX_CM),
        config={"process": "2 gamma", "cos_max": GEN_COS_MAX_CM}, force_beam_background=True,
    ))
    bhabha_cuts = _radiative_bhabha_cuts(ds.experiment)
    specs.append(SampleSpec(
        name="bkg_eegamma_tracks_lost", label="eeγ, tracks lost", kind="background",
        sigma_pb=_radiative_bhabha_sigma_pb(beams, bhabha_cuts["lepton_lab_theta_deg"]),
        generate=partial(generate_radiative_bhabha, beams=beams, **bhabha_cuts),
        config={"process": "e e gamma", **bhabha_cuts}, force_track_loss=True, weighted=True,
    ))
    for name, (pdgid, sigma, _source) in PSEUDOSCALARS.items():
        sigma_br = sigma * BR_GAMMA_GAMMA[name]
        specs.append(SampleSpec(
            name=f"bkg_gamma_{name}", label=f"γ{_SYMBOLS[name]}", kind="background", sigma_pb=sigma_br,
            generate=partial(generate_gamma_resonance, beams=beams, mass_gev=mass_gev(pdgid), sigma_pb=sigma_br),
            config={"process": f"gamma {name}", "sigma_pb": sigma, "br": BR_GAMMA_GAMMA[name]},
        ))
    return specs


_SYMBOLS = {"pi0": "π⁰", "eta": "η", "etaprime": "η′"}


def skim(events):
    """Loose skim before writing: at least three photon candidates above 0.1 GeV (lab)."""
    return ak.to_numpy(ak.sum(events["photon"]["E"] > PHOTON_E_MIN_LAB_GEV, axis=1) >= 3)


# ---------------------------------------------------------------------------------------------
# candidates, selection, observables


@dataclass(frozen=True)
class Candidates:
    """The three most energetic photons of every event, in the lab and centre-of-mass frames."""

    n_tracks: np.ndarray
    n_photons: np.ndarray
    e_lab_sum: np.ndarray
    p4_cm: np.ndarray  # (n, 3, 4), NaN where an event has fewer than three photons
    theta_lab: np.ndarray  # (n, 3) polar angles in the lab, radians
    origin: np.ndarray  # (n, 3) truth codes, -1 for data
    weight: np.ndarray
    sqrt_s: float
    tracker_deg: tuple

    def __len__(self):
        return len(self.weight)


def candidates(events, ds: Dataset) -> Candidates:
    """Photon candidates of ntuple events (read with :func:`analysis_lib.io.ntuple.read_events`)."""
    photon = events["photon"]
    good = photon[photon["E"] > PHOTON_E_MIN_LAB_GEV]
    top = ak.pad_none(good[:, :3], 3, clip=True)
    e = ak.to_numpy(ak.fill_none(top["E"], np.nan))
    theta = ak.to_numpy(ak.fill_none(top["theta"], np.nan))
    phi = ak.to_numpy(ak.fill_none(top["phi"], np.nan))
    origin = ak.to_numpy(ak.fill_none(top["mc_origin"], -1))
    p4_lab = np.concatenate([e[..., None], direction_from_angles(np.cos(theta), phi) * e[..., None]], axis=-1)
    p4_cm = Frame(ds.experiment.beams).to_cm(np.nan_to_num(p4_lab))
    p4_cm[np.isnan(e)] = np.nan
    return Candidates(
        n_tracks=ak.to_numpy(events["n_tracks"]),
        n_photons=ak.to_numpy(ak.num(good)),
        e_lab_sum=ak.to_numpy(ak.sum(photon["E"], axis=1)),
        p4_cm=p4_cm,
        theta_lab=theta,
        origin=origin,
        weight=ak.to_numpy(events["weight"]).astype(float),
        sqrt_s=ds.experiment.sqrt_s_gev,
        tracker_deg=(ds.experiment.tracker.theta_min_deg, ds.experiment.tracker.theta_max_deg),
    )


def _energy_sum(c):
    return np.nansum(c.p4_cm[..., 0], axis=1) / c.sqrt_s


def _momentum_sum(c):
    return np.linalg.norm(np.nansum(c.p4_cm[..., 1:], axis=1), axis=1) / c.sqrt_s


SELECTION = CutFlow([
    Cut("no track", lambda c: c.n_tracks == 0, "no reconstructed track"),
    Cut("3 photons", lambda c: c.n_photons >= 3, f"at least three photons with E_lab > {PHOTON_E_MIN_LAB_GEV} GeV"),
    Cut("trigger", lambda c: c.e_lab_sum > TRIGGER_E_SUM_GEV, f"ECL energy sum > {TRIGGER_E_SUM_GEV} GeV"),
    Cut("tracker acceptance", lambda c: np.all((np.degrees(np.nan_to_num(c.theta_lab)) > c.tracker_deg[0])
                                                & (np.degrees(np.nan_to_num(c.theta_lab)) < c.tracker_deg[1]), axis=1),
        "three leading photons inside the tracker's polar-angle range"),
    Cut("photon energy", lambda c: np.all(np.nan_to_num(c.p4_cm[..., 0]) > PHOTON_E_MIN_CM_GEV, axis=1),
        f"three leading photons with E* > {PHOTON_E_MIN_CM_GEV} GeV"),
    Cut("energy sum", lambda c: (_energy_sum(c) > ENERGY_SUM_RANGE[0]) & (_energy_sum(c) < ENERGY_SUM_RANGE[1]),
        f"{ENERGY_SUM_RANGE[0]} < sum E*/sqrt(s) < {ENERGY_SUM_RANGE[1]}"),
    Cut("momentum sum", lambda c: _momentum_sum(c) < MOMENTUM_SUM_MAX, f"|sum p*|/sqrt(s) < {MOMENTUM_SUM_MAX}"),
])


def pair_observables(c: Candidates):
    """Per photon pair (n, 3): m^2(gamma gamma) of the pair without photon k, the recoil mass
    squared s - 2 sqrt(s) E*_k of photon k, and whether the pair is the ALP's (simulation)."""
    m2_gg = np.empty((len(c), 3))
    m2_rec = np.empty((len(c), 3))
    correct = np.zeros((len(c), 3), dtype=bool)
    s = c.sqrt_s**2
    for k in range(3):
        i, j = [x for x in range(3) if x != k]
        m2_gg[:, k] = invariant_mass2(c.p4_cm[:, i], c.p4_cm[:, j])
        m2_rec[:, k] = s - 2 * c.sqrt_s * c.p4_cm[:, k, 0]
        correct[:, k] = (c.origin[:, i] == 2) & (c.origin[:, j] == 2) & (c.origin[:, k] == 1)
    return {"m2_gg": m2_gg, "m2_rec": m2_rec}, correct


AXES = {
    "m2_gg": lambda: mass_squared_axis("m2_gg", r"$m^2_{\gamma\gamma}$ [GeV$^2$]", mass_min_gev=0.0,
                                       mass_max_gev=10.6, step_gev=0.001),
    "m2_rec": lambda: mass_squared_axis("m2_rec", r"$M^2_{\mathrm{recoil}}$ [GeV$^2$]", mass_min_gev=5.0,
                                        mass_max_gev=10.6, step_gev=0.001),
}


def observable_for(mass_gev: float) -> str:
    """The fit observable at an ALP mass (the paper's choice)."""
    return "m2_gg" if mass_gev < RECOIL_FROM_GEV else "m2_rec"


# ---------------------------------------------------------------------------------------------
# the analysis: the shared peak-search flow with this channel's declarations

SEARCH = PeakSearch(
    name=NAME,
    cl=CL,
    sample_specs=sample_specs,
    skim=skim,
    candidates=candidates,
    selection=SELECTION,
    observables=pair_observables,
    axes=AXES,
    observable_for=observable_for,
    peaking=PEAKING,
    signal_sigma_pb=lambda mass_gev, sqrt_s_gev: sigma_ee_to_gamma_alp_pb(mass_gev, G_REF_PER_GEV, sqrt_s_gev),
    pool_luminosity_fb=POOL_LUMINOSITY_FB,
)


def analyse(inputs, *, mass_min_gev, mass_max_gev, mass_step_sigma, fit_half_width_sigma, background_degree=2,
            progress=True, client=None):
    """Limits on sigma(e+e- -> gamma a) B(a -> gamma gamma) (pb) and on g_agg (GeV^-1) versus mass;
    with a dask ``client`` the masses are spread over its workers."""
    mu = peak_search.scan(SEARCH, inputs, mass_min_gev=mass_min_gev, mass_max_gev=mass_max_gev,
                          mass_step_sigma=mass_step_sigma, fit_half_width_sigma=fit_half_width_sigma,
                          background_degree=background_degree, progress=progress, client=client)
    return quantities(inputs, mu)


def quantities(inputs, mu):
    """The limits on the signal strength as limits on sigma(e+e- -> gamma a) B(a -> gamma gamma) (pb)
    and on g_agg (GeV^-1)."""
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    sigma = mu.transform(lambda m, v: v * sigma_ee_to_gamma_alp_pb(m, G_REF_PER_GEV, sqrt_s),
                         quantity="sigma_x_br", unit="pb")
    coupling = sigma.transform(lambda m, v: coupling_from_cross_section(v, m, sqrt_s),
                               quantity="g_agg", unit="GeV^-1")
    return {"sigma": sigma, "g_agg": coupling}




def efficiencies(inputs):
    """The selection's signal efficiency (per e+e- -> gamma a, a -> gamma gamma event, the ALP's photon pair
    reconstructed) at each simulated mass, of the fit observable used there (:func:`observable_for`):
    what recasting reads (``efficiencies.csv``). The signal is simulated at :data:`G_REF_PER_GEV`, where
    the ALP decays promptly."""
    rows = []
    for observable, peaks in inputs.peaks.items():
        rows += [{"quantity": "sigma_x_br", "mass_gev": float(m), "efficiency": float(e), "observable": observable}
                 for m, e in zip(peaks.masses_gev, peaks.efficiencies) if observable_for(m) == observable]
    return pd.DataFrame(rows).sort_values("mass_gev", ignore_index=True) if rows else None


def recast_other_width(folder, other_width_gev) -> LimitScan:
    """Limits on g_agg of an ALP with a width ``other_width_gev`` (GeV; a number, or a function of the
    mass) to states other than two photons (say, invisible ones), from the run in ``folder``: the
    coupling where sigma(e+e- -> gamma a; g) B(a -> gamma gamma; g) reaches the run's limit on
    sigma x B, with B = Gamma_gg(g) / (Gamma_gg(g) + Gamma_x). The extra width only shortens the
    lifetime of an ALP that decays promptly at the run's couplings already, so the efficiency is the
    run's. With no extra width it is the run's own coupling limit."""
    sigma = read_results(folder)["sigma_x_br"]
    sqrt_s = dataset(sigma.dataset).sqrt_s_gev
    other = other_width_gev if callable(other_width_gev) else (lambda m, w=float(other_width_gev): w)

    def limit(m, value):
        if not np.isfinite(value) or value <= 0:
            return np.nan

        def excess(log_g):
            g = np.exp(log_g)
            width = alp_width_gamma_gamma_gev(m, g)
            return np.log(sigma_ee_to_gamma_alp_pb(m, g, sqrt_s) * width / (width + other(m))) - np.log(value)

        low, high = np.log(1e-9), np.log(10.0)
        return float(np.exp(brentq(excess, low, high, xtol=1e-9))) if excess(low) < 0 < excess(high) else np.nan

    coupling = sigma.transform(lambda m, v: np.vectorize(limit)(m, v), quantity="g_agg", unit="GeV^-1")
    return coupling.stamped(model={"other_width_gev": other_width_gev if not callable(other_width_gev) else "a function"},
                            notes=("recast without simulating again",))


def physics_table(masses_gev, sqrt_s_gev):
    """Cross section at the reference coupling, width, c tau and lab decay length of the ALP."""
    from ..physics.alp import alp_ctau_mm, alp_decay_length_mm

    masses = np.asarray(masses_gev, dtype=float)
    p_alp = (sqrt_s_gev**2 - masses**2) / (2 * sqrt_s_gev)  # ALP momentum in the c.m. frame
    ctau = alp_ctau_mm(masses, G_REF_PER_GEV)
    return pd.DataFrame({
        "m_a [GeV]": masses,
        f"sigma(g={G_REF_PER_GEV:g}) [pb]": sigma_ee_to_gamma_alp_pb(masses, G_REF_PER_GEV, sqrt_s_gev),
        "Gamma(a->gg) [eV]": alp_width_gamma_gamma_gev(masses, G_REF_PER_GEV) * 1e9,
        "c tau [mm]": ctau,
        "decay length (c.m.) [mm]": alp_decay_length_mm(p_alp, masses, ctau),
    })


# ---------------------------------------------------------------------------------------------
# the channel


@register
class AlpThreeGamma(PeakSearchChannel):
    """Belle II e+e- -> gamma a, a -> gamma gamma: the shared peak search with this module's declarations."""

    name = NAME
    title = "Belle II: e+e- → γa, a → γγ"
    notebook = "belle2_alp_3gamma.ipynb"
    cl = CL
    parameters = PARAMETERS
    sample_specs = staticmethod(sample_specs)
    published = {"g_agg": "belle2_2020_alp_gagg_observed_95cl.txt", "sigma": "belle2_2020_alp_sigma_observed_95cl_pb.txt"}
    paper = "Belle II, Phys. Rev. Lett. 125 (2020) 161806, arXiv:2007.13071"
    overview = (Overview("g_agg", published="g_agg", logx=True, label=r"$e^+e^-\to\gamma a$"),)

    physics_table = staticmethod(physics_table)
    observable_for = staticmethod(observable_for)
    sensitivity_points = (0.5, 2.0, 6.0)

    def headline(self, inputs, mu):
        return quantities(inputs, mu)["g_agg"]

    def efficiencies(self, inputs, params):
        return efficiencies(inputs)

    def production(self, params):
        return peak_search.production_config(SEARCH, self.dataset(params), params["max_mc_events"])

    def prepare(self, params, *, progress=True):
        return peak_search.prepare(SEARCH, params["dataset"], seed=params["seed"],
                                   n_signal_events=params["n_signal_events"], max_mc_events=params["max_mc_events"],
                                   progress=progress, specs=self.samples(params))

    def analyse(self, inputs, params, *, progress=True, client=None):
        return analyse(inputs, **peak_search.scan_settings(params), progress=progress, client=client)
