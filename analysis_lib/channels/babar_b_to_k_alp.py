"""BaBar: B+ -> K+ a, a -> gamma gamma, for prompt and long-lived ALPs (arXiv:2111.01800).

What this search declares: its samples (signal on a mass grid with decay lengths spread for
lifetime reweighting; continuum e+e- -> q qbar and generic B Bbar from Pythia 8; the peaking
B -> K pi0, K eta, K eta', K eta_c), its skim, its candidates and variables, and the conversion of a
signal yield into B(B+ -> K+ a) x B(a -> gamma gamma) and g_aW. The other experiments' Upsilon(4S)
datasets (Belle, a Belle II projection) run through the same code with their own detector models.

Candidates: a track identified as a kaon and two photon candidates, the one with the smallest
|Delta E| kept per event. The fit variable is the energy-constrained diphoton mass (photon energies
scaled so that Delta E = 0), which for a prompt ALP peaks at m_a with a resolution a factor 2 better
than m(gamma gamma) itself; a displaced ALP, whose photons are reconstructed as if from the beam spot,
peaks lower and wider.
"""

from __future__ import annotations

import logging
from functools import partial

import awkward as ak
import numpy as np

from ..bmeson import best_candidate, k_gamma_gamma_candidates, photon_vectors, track_vectors
from ..constants import mass_gev, width_gev
from ..datasets import Dataset, dataset, datasets
from ..event_shape import cos_thrust_angle, fox_wolfram_ratio, legendre_moments, pad_momenta, thrust, thrust_axis
from ..parameters import Parameter
from ..simulation import b_decays
from ..simulation.generators import Frame
from ..simulation.production import ProductionConfig, SampleSpec

__all__ = [
    "CL", "NAME", "NOTEBOOK", "PARAMETERS", "TITLE", "candidate_table", "production_config", "sample_specs", "skim",
]

log = logging.getLogger(__name__)

NAME = "babar_b_to_k_alp"
TITLE = "BaBar: B⁺ → K⁺a, a → γγ"
NOTEBOOK = "babar_b_to_k_alp.ipynb"
PUBLISHED = ("babar_2022_b2ka_br_prompt_observed_90cl.txt",)

#: Confidence level of the paper's limits.
CL = 0.90
#: Reference branching fraction B(B+ -> K+ a) x B(a -> gamma gamma) of the simulated signal.
BR_REF = 1e-6
#: The paper's mass range (GeV).
MASS_RANGE_GEV = (0.175, 4.78)
#: Simulated ALP masses (GeV); efficiencies and shapes are interpolated in between.
SIGNAL_MASSES_GEV = (0.175, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0,
                     4.4, 4.78)
#: Lifetimes of the book's runs (mm), the paper's.
CTAU_MM = (0.0, 1.0, 10.0, 100.0)

#: Fraction of B Bbar pairs that are B+ B- (PDG 2024: B(Upsilon(4S) -> B+ B-) = 51.4%).
F_CHARGED = 0.514
#: Continuum cross sections at sqrt(s) = 10.58 GeV in pb, by quark flavour (Belle II's cross-section
#: table, quoted in the book's physics reference): u 1.61, d 0.40, s 0.38, c 1.30 nb.
CONTINUUM_PB = {"u": 1610.0, "d": 400.0, "s": 380.0, "c": 1300.0}
_FLAVOUR = {"d": 1, "u": 2, "s": 3, "c": 4}
#: B+ -> K+ X with X -> gamma gamma: (PDG id of X, B(B+ -> K+ X), B(X -> gamma gamma)), PDG 2024.
PEAKING_DECAYS = {
    "kpi0": (111, 1.320e-5, 0.98823),
    "keta": (221, 2.4e-6, 0.3936),
    "ketaprime": (331, 7.04e-5, 0.02307),
    "ketac": (441, 1.09e-3, 1.6e-4),
}
#: Share of the background simulation given to the continuum (the rest to generic B Bbar).
CONTINUUM_SHARE = 0.7

# skim and candidate preselection
PHOTON_E_MIN_GEV = 0.05
M_ES_MIN_GEV = 5.2
DELTA_E_MAX_GEV = 0.3


def _upsilon_datasets():
    return sorted(name for name, d in datasets().items() if d.experiment.sqrt_s_gev > 2 * mass_gev(521))


def _mass_range(values):
    ds = dataset(values["dataset"])
    # above m_B - m_K there is no decay; below 0.175 GeV the pi0 dominates (the paper's range)
    return MASS_RANGE_GEV[0], min(MASS_RANGE_GEV[1], mass_gev(521) - mass_gev(321) - 0.005) \
        if ds.experiment.sqrt_s_gev > 2 * mass_gev(521) else None


#: Run parameters (the notebook's parameters cell holds the same defaults).
PARAMETERS = (
    Parameter("dataset", str, "babar_4s", "registered Upsilon(4S) dataset", choices=_upsilon_datasets),
    Parameter("seed", int, 1, "random seed of the simulation and pseudo-data", minimum=0),
    Parameter("ctau_mm", float, 0.0, "proper decay length of the ALP in mm (0: prompt)", minimum=0.0, maximum=1e4),
    Parameter("mass_min_gev", float, 0.175, "lowest ALP mass of the scan, GeV", depends=_mass_range),
    Parameter("mass_max_gev", float, 4.78, "highest ALP mass of the scan, GeV", depends=_mass_range),
    Parameter("mass_step_sigma", float, 1.0, "scan step in units of the mass resolution", minimum=0.1, maximum=10),
    Parameter("n_signal_events", int, 20_000, "simulated events per signal mass", minimum=500, maximum=5_000_000),
    Parameter("max_mc_events", int, 1_000_000, "simulated continuum and B Bbar events (all flavours)",
              minimum=10_000, maximum=50_000_000),
    Parameter("optimisation_fraction", float, 0.08, "share of the data used to choose the selection, then not for "
              "the limits", minimum=0.01, maximum=0.5),
    Parameter("fit_half_width_sigma", float, 5.0, "half width of the fit window in resolutions", minimum=2,
              maximum=20),
    Parameter("background_degree", int, 2, "degree of the polynomial continuum in each fit window",
              minimum=0, maximum=4),
)


# ---------------------------------------------------------------------------------------------
# samples


def sample_specs(ds: Dataset, *, n_signal_events: int, max_mc_events: int, signal_masses_gev=SIGNAL_MASSES_GEV):
    """The samples of this channel for dataset ``ds``: signal masses, continuum, B Bbar and the
    peaking B -> K X decays. B-decay cross sections are N_BBbar x fractions / luminosity."""
    beams = ds.experiment.beams
    n_bb_per_pb = ds.n_bb_pairs / ds.luminosity_pb
    # either B of a charged pair may decay to the final state
    sigma_signal = n_bb_per_pb * F_CHARGED * 2 * BR_REF
    specs = []
    for m in signal_masses_gev:
        specs.append(SampleSpec(
            name=f"signal_m{m:.3f}", label=f"ALP {m:g} GeV", kind="signal", sigma_pb=sigma_signal,
            generate=partial(b_decays.b_to_k_resonance, beams=beams, mass_gev_x=m, sigma_pb=sigma_signal,
                             decay_lengths=b_decays.DecayLengths()),
            config={"process": "B -> K a", "mass_gev": m, "br_ref": BR_REF, "decay_lengths": repr(b_decays.DecayLengths())},
            n_events=n_signal_events, tracks=True, chunk=50_000,
        ))
    total_continuum = sum(CONTINUUM_PB.values())
    for q, sigma in CONTINUUM_PB.items():
        n = max(int(max_mc_events * CONTINUUM_SHARE * sigma / total_continuum), 1000)
        specs.append(SampleSpec(
            name=f"bkg_continuum_{q}{q}", label=f"{q}{q}̄", kind="background", sigma_pb=sigma,
            generate=partial(b_decays.continuum, beams=beams, sigma_pb=sigma, flavour=_FLAVOUR[q]),
            config={"process": "e+e- -> q qbar (Pythia 8)", "flavour": q}, n_events=n, tracks=True, chunk=50_000,
        ))
    for charged, label, fraction in ((True, "B⁺B⁻", F_CHARGED), (False, "B⁰B̄⁰", 1 - F_CHARGED)):
        sigma = n_bb_per_pb * fraction
        n = max(int(max_mc_events * (1 - CONTINUUM_SHARE) * fraction), 1000)
        specs.append(SampleSpec(
            name=f"bkg_bb_{'charged' if charged else 'neutral'}", label=f"{label} generic", kind="background",
            sigma_pb=sigma, generate=partial(b_decays.generic_b_pairs, beams=beams, sigma_pb=sigma, charged=charged),
            config={"process": "B Bbar generic (Pythia 8)", "charged": charged}, n_events=n, tracks=True, chunk=25_000,
        ))
    for name, (pdgid, br_b, br_gg) in PEAKING_DECAYS.items():
        sigma = n_bb_per_pb * F_CHARGED * 2 * br_b * br_gg
        specs.append(SampleSpec(
            name=f"bkg_{name}", label=_PEAKING_LABELS[name], kind="background", sigma_pb=sigma,
            generate=partial(b_decays.b_to_k_resonance, beams=beams, mass_gev_x=mass_gev(pdgid), sigma_pb=sigma,
                             width_gev_x=width_gev(pdgid)),
            config={"process": f"B -> {name}", "br": br_b, "br_gamma_gamma": br_gg}, tracks=True, chunk=50_000,
        ))
    return specs


_PEAKING_LABELS = {"kpi0": "K⁺π⁰", "keta": "K⁺η", "ketaprime": "K⁺η′", "ketac": "K⁺η_c"}


def production_config(ds: Dataset) -> ProductionConfig:
    """Production settings: the skim of this channel for the dataset's beams; pseudo-data never
    event by event (the continuum alone is about 1.5 billion events at 424 fb^-1)."""
    return ProductionConfig(skim=partial(skim, beams=ds.experiment.beams), n_min=20_000, n_max=2_000_000,
                            max_data_events=0)


def skim(events, *, beams):
    """Loose skim before writing: a K gamma gamma candidate with m_ES > 5.2 GeV and |Delta E| < 0.3 GeV."""
    candidates = k_gamma_gamma_candidates(events, beams, photon_e_min_gev=PHOTON_E_MIN_GEV)
    loose = (candidates.m_es > M_ES_MIN_GEV) & (np.abs(candidates.delta_e) < DELTA_E_MAX_GEV)
    return ak.to_numpy(ak.any(loose, axis=1))


# ---------------------------------------------------------------------------------------------
# candidates and their variables


def candidate_table(events, beams):
    """The best K gamma gamma candidate of every event (smallest |Delta E| among those passing the
    preselection) with the variables of the selection, as a dict of numpy arrays (one entry per
    event that has a candidate), and the event indices.

    Variables: m_es, delta_e, m_gg, m_gg_fit, cos_theta_b, p_k_cm, e_g1_cm, e_g2_cm, cos_helicity
    (:func:`analysis_lib.bmeson.k_gamma_gamma_candidates`); for the continuum classifier the event
    shape: r2 (Fox-Wolfram R2 of the whole event), cos_thrust (|cos| of the angle between the thrust
    axes of the candidate and of the rest of the event), l0, l2 (Legendre moments of the rest of the
    event to the candidate's thrust axis), thrust_roe; for the B Bbar classifier the photons' best
    pi0 and eta partners: pi0_g1, pi0_g2 (|m(gamma_i gamma') - m_pi0| for the best other photon),
    eta_g1, eta_g2 (the same for the eta), n_photons, n_tracks.
    """
    frame = Frame(beams)
    candidates = k_gamma_gamma_candidates(events, beams, photon_e_min_gev=PHOTON_E_MIN_GEV)
    loose = candidates[(candidates.m_es > M_ES_MIN_GEV) & (np.abs(candidates.delta_e) < DELTA_E_MAX_GEV)]
    best = best_candidate(loose)
    has = ~ak.to_numpy(ak.is_none(best))
    index = np.flatnonzero(has)
    best = best[has]
    ev = events[has]
    table = {name: ak.to_numpy(best[name]).astype(float)
             for name in ("m_es", "delta_e", "m_gg", "m_gg_fit", "cos_theta_b", "p_k_cm", "e_g1_cm", "e_g2_cm",
                          "cos_helicity")}
    table["charge"] = ak.to_numpy(best.charge)
    # centre-of-mass momenta of everything, and of the candidate / the rest of the event
    photons, tracks = photon_vectors(ev.photon), track_vectors(ev.track, mass_gev(211))
    n_photon, n_track = ak.num(photons), ak.num(tracks)
    in_candidate_photon = (ak.local_index(photons.E) == best.g1) | (ak.local_index(photons.E) == best.g2)
    in_candidate_track = ak.local_index(tracks.E) == best.k
    everything = ak.concatenate([photons, tracks], axis=1)
    in_candidate = ak.concatenate([in_candidate_photon, in_candidate_track], axis=1)
    flat = ak.flatten(everything)
    p4 = np.stack([ak.to_numpy(flat[f]) for f in ("E", "px", "py", "pz")], axis=-1)
    cm = frame.to_cm(p4)
    counts = ak.num(everything)
    momenta = {f: ak.unflatten(cm[:, i + 1], counts) for i, f in enumerate(("px", "py", "pz"))}
    flags = ak.to_numpy(ak.flatten(in_candidate))

    def padded(mask):
        keep = ak.unflatten(mask, counts)
        return pad_momenta(momenta["px"][keep], momenta["py"][keep], momenta["pz"][keep])

    candidate_p, roe_p = padded(flags), padded(~flags)
    axis_b, axis_roe = thrust_axis(candidate_p), thrust_axis(roe_p)
    table["r2"] = fox_wolfram_ratio(padded(np.ones_like(flags)))
    table["cos_thrust"] = cos_thrust_angle(axis_b, axis_roe)
    table["l0"], table["l2"] = legendre_moments(roe_p, axis_b)
    table["thrust_roe"] = thrust(roe_p, axis_roe)
    # photons of the candidate paired with every other photon: closeness to the pi0 and eta masses
    for which in ("g1", "g2"):
        mine = photons[ak.singletons(best[which])][:, 0]
        others = photons[~in_candidate_photon]
        pair_mass = (others + mine).mass
        for meson, pdgid in (("pi0", 111), ("eta", 221)):
            distance = np.abs(pair_mass - mass_gev(pdgid))
            table[f"{meson}_{which}"] = ak.to_numpy(ak.fill_none(ak.min(distance, axis=1), 1.0))
    table["n_photons"] = ak.to_numpy(n_photon).astype(float)
    table["n_tracks"] = ak.to_numpy(n_track).astype(float)
    return table, index
