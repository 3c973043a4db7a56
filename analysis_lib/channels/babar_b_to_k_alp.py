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
from dataclasses import dataclass, replace
from functools import cache, partial

import awkward as ak
import hist
import numpy as np
import pandas as pd

from ..analysis import peak_search
from ..analysis.classifier import merge_tables, train, training_half
from ..analysis.counting import MIN_SIMULATED_BACKGROUND, punzi_figure_of_merit
from ..analysis.histograms import fill, from_values
from ..analysis.lifetime import coupling_limits as lifetime_couplings
from ..analysis.peak_search import PeakSearch, SearchInputs
from ..analysis.recast import coupling_limits as recast_couplings
from ..analysis.recast import rate_limits_on_grid, read_efficiencies
from ..analysis.results import LimitScan, read_results
from ..analysis.samples import ntuple_paths, pseudo_data_rng, read_table, work_dir
from ..analysis.thresholds import ThresholdGrid, split_pseudo_data
from ..analysis.signal_shape import PeakTemplates
from ..core.cache import content_key, shared_result
from ..core.constants import SIN2_THETA_W, mass_gev, width_gev
from ..core.errors import EmptySelectionError, ParameterError
from ..core.parameters import LUMINOSITY_SCAN, SEED, Parameter, mass_range
from ..detector.datasets import Dataset, dataset, datasets
from ..detector.frames import Frame
from ..io.ntuple import ORIGIN, read_events
from ..physics.alp import alp_ctau_mm
from ..physics.alp_w import b_to_k_alp_branching, ctau_from_g_aw_mm, g_agg_from_g_aw_g_ab
from ..reco.bmeson import best_candidate, k_gamma_gamma_candidates, partner_mass_distance, photon_vectors, track_vectors
from ..reco.event_shape import continuum_suppression
from ..reco.selection import Cut, CutFlow, cut_flow_table, require_events
from ..simulation import b_decays
from ..simulation.production import ProductionConfig, SampleSpec
from .base import Overview, PeakSearchChannel, register

__all__ = [
    "CL", "PARAMETERS", "BabarInputs", "BToKAlp", "analyse", "candidate_table", "classifier_shapes",
    "coupling_limits", "coupling_masses", "efficiency_table", "lifetime_weights", "physics_table", "prepare",
    "production_config", "sample_specs", "selection", "signal_peaks", "skim", "with_lifetime",
]

log = logging.getLogger(__name__)

NAME = "babar_b_to_k_alp"

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

#: Fraction of B Bbar pairs that are B+ B- (the shared value, PDG 2024).
F_CHARGED = b_decays.F_CHARGED
#: Continuum cross sections at sqrt(s) = 10.58 GeV in pb, by quark flavour (the shared table).
CONTINUUM_PB = b_decays.CONTINUUM_PB
#: B+ -> K+ X with X -> gamma gamma: (PDG id of X, B(B+ -> K+ X), B(X -> gamma gamma)), PDG 2024.
PEAKING_DECAYS = {
    "kpi0": (111, 1.320e-5, 0.98823),
    "keta": (221, 2.4e-6, 0.3936),
    "ketaprime": (331, 7.04e-5, 0.02307),
    "ketac": (441, 1.09e-3, 1.6e-4),
}
#: Share of the background simulation given to the continuum (the rest to generic B Bbar).
CONTINUUM_SHARE = 0.7

# skim and candidate preselection: looser than the signal region, so that the classifiers have
# background to learn from (generic B Bbar passes it a few times in 10^4)
PHOTON_E_MIN_GEV = 0.05
M_ES_MIN_GEV = 5.0
DELTA_E_MAX_GEV = 0.5


def _upsilon_datasets():
    return sorted(name for name, d in datasets().items() if d.experiment.sqrt_s_gev > 2 * mass_gev(521) and not d.combines)


def _mass_range(values):
    ds = dataset(values["dataset"])
    # above m_B - m_K there is no decay; below 0.175 GeV the pi0 dominates (the paper's range)
    return MASS_RANGE_GEV[0], min(MASS_RANGE_GEV[1], mass_gev(521) - mass_gev(321) - 0.005) \
        if ds.experiment.sqrt_s_gev > 2 * mass_gev(521) else None


#: Run parameters (the notebook's parameters cell holds the same defaults).
PARAMETERS = (
    Parameter("dataset", str, "babar_4s", "registered Upsilon(4S) dataset", choices=_upsilon_datasets),
    SEED,
    LUMINOSITY_SCAN,
    Parameter("ctau_mm", float, 0.0, "proper decay length of the ALP in mm (0: prompt)", minimum=0.0, maximum=1e4),
    *mass_range("ALP", (0.175, 4.78), depends=_mass_range),
    Parameter("n_signal_events", int, 20_000, "simulated events per signal mass", minimum=500, maximum=5_000_000),
    Parameter("max_mc_events", int, 1_000_000, "simulated continuum and B Bbar events (all flavours)",
              minimum=10_000, maximum=50_000_000),
    Parameter("optimisation_fraction", float, 0.08, "share of the data used to choose the selection, then not for "
              "the limits", minimum=0.01, maximum=0.5),
    *peak_search.FIT_PARAMETERS,
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
    specs += b_decays.background_specs(beams, continuum_pb=CONTINUUM_PB, n_bb_per_pb=n_bb_per_pb,
                                       max_mc_events=max_mc_events, continuum_share=CONTINUUM_SHARE)
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
    return ProductionConfig(skim=partial(skim, beams=ds.experiment.beams), n_min=5_000, n_max=2_000_000)


def skim(events, *, beams):
    """Loose skim before writing: a K gamma gamma candidate with m_ES > 5.0 GeV and |Delta E| < 0.5 GeV."""
    loose = k_gamma_gamma_candidates(events, beams, photon_e_min_gev=PHOTON_E_MIN_GEV, m_es_min_gev=M_ES_MIN_GEV,
                                     delta_e_max_gev=DELTA_E_MAX_GEV)
    return ak.to_numpy(ak.num(loose) > 0)


# ---------------------------------------------------------------------------------------------
# candidates and their variables


def candidate_table(events, beams):
    """The best K gamma gamma candidate of every event (smallest |Delta E| among those passing the
    preselection) with the variables of the selection, as a dict of numpy arrays (one entry per
    event that has a candidate), and the event indices.

    Variables: m_es, delta_e, m_gg, m_gg_fit, cos_theta_b, p_k_cm, e_g1_cm, e_g2_cm, cos_helicity
    (:func:`analysis_lib.reco.bmeson.k_gamma_gamma_candidates`); for the continuum classifier the event
    shape: r2 (Fox-Wolfram R2 of the whole event), cos_thrust (|cos| of the angle between the thrust
    axes of the candidate and of the rest of the event), l0, l2 (Legendre moments of the rest of the
    event to the candidate's thrust axis), thrust_roe; for the B Bbar classifier the photons' best
    pi0 and eta partners: pi0_g1, pi0_g2 (|m(gamma_i gamma') - m_pi0| for the best other photon),
    eta_g1, eta_g2 (the same for the eta), n_photons, n_tracks.
    """
    frame = Frame(beams)
    loose = k_gamma_gamma_candidates(events, beams, photon_e_min_gev=PHOTON_E_MIN_GEV, m_es_min_gev=M_ES_MIN_GEV,
                                     delta_e_max_gev=DELTA_E_MAX_GEV)
    best = best_candidate(loose)
    has = ~ak.to_numpy(ak.is_none(best))
    index = np.flatnonzero(has)
    best = best[has]
    ev = events[has]
    table = {name: ak.to_numpy(best[name]).astype(float)
             for name in ("m_es", "delta_e", "m_gg", "m_gg_fit", "cos_theta_b", "p_k_cm", "e_g1_cm", "e_g2_cm",
                          "cos_helicity")}
    table["charge"] = ak.to_numpy(best.charge)
    k, g1, g2 = (ak.to_numpy(best[name]).astype(np.int64) for name in ("k", "g1", "g2"))
    is_k = ak.local_index(ev.track.p) == k
    is_g1, is_g2 = ak.local_index(ev.photon.E) == g1, ak.local_index(ev.photon.E) == g2
    # simulation truth: all three particles from the signal-side B (False for data)
    signal_b = ORIGIN["signal_b"]

    def origin(collection, mask):
        return ak.to_numpy(ak.firsts(collection.mc_origin[mask]))

    table["matched"] = ((origin(ev.track, is_k) == signal_b) & (origin(ev.photon, is_g1) == signal_b)
                        & (origin(ev.photon, is_g2) == signal_b))
    # continuum suppression: the candidate (kaon, two photons) against the rest of the event
    photons, tracks = photon_vectors(ev.photon), track_vectors(ev.track, mass_gev(211))
    n_photon, n_track = ak.num(photons), ak.num(tracks)
    in_candidate_photon = is_g1 | is_g2
    table.update(continuum_suppression(photons, tracks, in_candidate_photon, is_k, frame))
    # photons of the candidate paired with every other photon: closeness to the pi0 and eta masses
    for which, mine in (("g1", is_g1), ("g2", is_g2)):
        for meson, pdgid in (("pi0", 111), ("eta", 221)):
            table[f"{meson}_{which}"] = partner_mass_distance(photons, mine, ~in_candidate_photon, mass_gev(pdgid))
    table["n_photons"] = ak.to_numpy(n_photon).astype(float)
    table["n_tracks"] = ak.to_numpy(n_track).astype(float)
    return table, index


# ---------------------------------------------------------------------------------------------
# selection: signal region, classifiers, optimisation on a held-out share of the data

#: Signal region (both fixed; the classifier thresholds are chosen on the optimisation sample).
M_ES_SIGNAL_MIN_GEV = 5.27
DELTA_E_SIGNAL_GEV = (-0.20, 0.10)
#: Features of the classifier against the continuum (event shape and B direction) and of the one
#: against B Bbar (photon kinematics, helicity, pi0 and eta partners of the photons).
FEATURES_CONTINUUM = ("r2", "cos_thrust", "l0", "l2", "thrust_roe", "cos_theta_b")
FEATURES_BBBAR = ("e_g1_cm", "e_g2_cm", "cos_helicity", "pi0_g1", "pi0_g2", "eta_g1", "eta_g2", "p_k_cm")
#: Thresholds tried on each classifier output.
THRESHOLDS = tuple(np.round(np.arange(0.0, 0.96, 0.05), 2))
GRID = ThresholdGrid(THRESHOLDS)
#: A typical mass resolution (GeV), for the background in a +-2 sigma window of the figure of merit.
TYPICAL_WIDTH_GEV = 0.015
#: Masses where no hypothesis is tested: the eta and eta' vetoes, where the digitised published curve
#: has no limit (its last and first points around the gaps).
VETOES = ((0.4536, 0.6446), (0.9072, 1.0265))
#: Peaking backgrounds fitted as constrained templates, with the relative uncertainty of their
#: normalisation (PDG branching fractions, 3-17%, and the efficiency model, 10%).
PEAKING = {"bkg_kpi0": 0.12, "bkg_keta": 0.2, "bkg_ketaprime": 0.12, "bkg_ketac": 0.2}
#: Knot spacing of the smooth densities fitted to the simulated continuum and generic B Bbar mass
#: spectra (GeV): finer than their real structure (thresholds, the resolution-wide peaks are
#: vetoed or templates); the fit's penalty sets how much of it the events support.
BACKGROUND_KNOT_SPACING_GEV = 0.05
#: Fit observable: the energy-constrained diphoton mass, 1 MeV bins.
AXES = {"m_gg_fit": lambda: hist.axis.Regular(5000, 0.0, 5.0, name="m_gg_fit", label="m_γγ [GeV]")}


def observable_for(mass_gev):
    """The fit observable at any mass: the energy-constrained m(gamma gamma)."""
    return "m_gg_fit"


def in_signal_region(table):
    """m_ES and Delta E inside the signal region."""
    return ((table["m_es"] > M_ES_SIGNAL_MIN_GEV) & (table["delta_e"] > DELTA_E_SIGNAL_GEV[0])
            & (table["delta_e"] < DELTA_E_SIGNAL_GEV[1]))


def lifetime_weights(table, ctau_mm):
    """Weights that give the signal events proper decay length ``ctau_mm`` (0: prompt)."""
    return b_decays.DecayLengths().weight(table["proper_mm"], ctau_mm)


@dataclass(frozen=True, kw_only=True)
class BabarInputs(SearchInputs):
    """Everything a run needs after the selection (made by :func:`prepare`): the shared peak-search
    inputs (histograms, data and signal peaks of the fits) and what chose the selection."""

    tables: dict  # sample name -> candidate table (with classifier outputs and selection flags)
    specs: dict  # sample name -> SampleSpec
    classifiers: dict  # "continuum", "bbbar" -> Classifier
    thresholds: tuple  # (continuum, B Bbar) classifier thresholds
    optimisation: object  # pandas DataFrame: the figure of merit on the threshold grid
    ctau_mm: float
    optimisation_fraction: float


def _read_table(path, ds: Dataset, *, simulated: bool, cache_dir=None):
    """Candidate table of one ntuple, with weights, truth and the training/evaluation split. With
    ``cache_dir``, a sample of the book's simulation is read once at unit weight scale and kept
    there (:func:`analysis_lib.analysis.samples.read_table`); every run reading it (the four
    lifetimes) scales the stored weights by its own."""
    return read_table(path, partial(_candidate_table, ds=ds, simulated=simulated), cache_dir=cache_dir,
                      key=(ds.branches, repr(ds.experiment.beams), simulated), scaled=("weight", "weight_eval"))


#: Events whose candidates are made at once: the K gamma gamma combinatorics of a whole sample held
#: 15 GB at a time (Belle II's B+ -> K+ pi0 sample for 50 ab^-1, 1.2 million events); slices of this
#: many hold about 1 GB, and are faster (smaller arrays, padded to a slice's largest multiplicity).
CANDIDATE_CHUNK = 100_000


def _candidate_table(path, ds: Dataset, *, simulated: bool):
    events = read_events(path, branches=ds.branches, tracks=True)
    parts = [candidate_table(events[start:start + CANDIDATE_CHUNK], ds.experiment.beams)
             for start in range(0, max(len(events), 1), CANDIDATE_CHUNK)]
    table = {name: np.concatenate([part[name] for part, _ in parts]) for name in parts[0][0]}
    index = np.concatenate([idx + k * CANDIDATE_CHUNK for k, (_, idx) in enumerate(parts)])
    n = len(index)
    table["weight"] = ak.to_numpy(events.weight)[index].astype(float)
    table["proper_mm"] = (ak.to_numpy(events["mc_x_proper_mm"])[index] if "mc_x_proper_mm" in events.fields
                          else np.zeros(n))
    train_half = training_half(n) if simulated else np.zeros(n, dtype=bool)
    table["train"] = train_half
    # the evaluation half of a simulated sample stands for all of it
    table["weight_eval"] = np.where(train_half, 0.0, table["weight"] * (2.0 if simulated else 1.0))
    table["eval_factor"] = np.where(train_half, 0.0, 2.0 if simulated else 1.0)
    return table


#: The samples each classifier learns to reject. Against B Bbar: the generic decays and the peaking
#: B -> K pi0, K eta, K eta' (whose photons pair up with others), each sample given the same weight
#: in the training: generic B Bbar passes the preselection a few times in 10^4, too rarely for its
#: handful of heavily weighted events to stand alone for the class.
TRAINING_BACKGROUNDS = {
    "continuum": (("bkg_continuum_uu", "bkg_continuum_dd", "bkg_continuum_ss", "bkg_continuum_cc"), False),
    "bbbar": (("bkg_bb_charged", "bkg_bb_neutral", "bkg_kpi0", "bkg_keta", "bkg_ketaprime"), True),
}


def _classifiers(tables, specs, folder, seed):
    signals = [n for n, s in specs.items() if s.kind == "signal"]
    signal, _ = merge_tables(tables, signals)
    out = {}
    for key, features in (("continuum", FEATURES_CONTINUUM), ("bbbar", FEATURES_BBBAR)):
        names, balance = TRAINING_BACKGROUNDS[key]
        background, weights = merge_tables(tables, names, balance=balance)
        if not background:
            raise EmptySelectionError(f"no {key} background candidate to train on; simulate more (max_mc_events)")
        out[key] = train(signal, background, features=features, background_weights=weights,
                         signal_train=signal["train"], background_train=background["train"],
                         cache=folder / f"classifier_{key}.pkl", seed=seed)
    return out


def _optimisation_grid(tables, specs, opt_counts, fraction, typical_width_gev):
    """Punzi's figure of merit on the grid of thresholds: the prompt signal efficiency averaged over
    the simulated masses, against the background estimated from the optimisation sample only;
    thresholds that leave any simulated mass fewer than :data:`MIN_PEAK_EVENTS` prompt signal events
    (in the evaluation half) are excluded."""
    t = np.asarray(THRESHOLDS)
    # background: the optimisation sample, as counts at or above each pair of thresholds
    background = GRID.at_or_above(opt_counts) / fraction
    # a +-2 sigma window holds this share of the background spread over the mass range
    window_share = 4 * typical_width_gev / (MASS_RANGE_GEV[1] - MASS_RANGE_GEV[0])
    efficiencies, fewest = [], np.inf
    for name, spec in specs.items():
        if spec.kind != "signal":
            continue
        tab = tables[name]
        peak = tab["matched"] & in_signal_region(tab)
        w = lifetime_weights(tab, 0.0) * tab["eval_factor"] * peak
        kept = GRID.at_or_above(GRID.counts(tab["bdt_continuum"], tab["bdt_bbbar"], w))
        efficiencies.append(kept / spec.n_events)
        # effective number of simulated prompt signal events of this mass kept at each pair of
        # thresholds, (sum w)^2 / sum w^2, as :func:`_signal_peaks` counts them
        kept_squares = GRID.at_or_above(GRID.counts(tab["bdt_continuum"], tab["bdt_bbbar"], w**2))
        fewest = np.minimum(fewest, kept**2 / np.maximum(kept_squares, 1e-300))
    efficiency = np.mean(efficiencies, axis=0)
    merit = punzi_figure_of_merit(efficiency, background * window_share)
    # a selection that leaves some simulated mass without a measurable peak cannot give a limit there
    merit = np.where(fewest >= MIN_PEAK_EVENTS, merit, -np.inf)
    # a threshold whose background the simulation cannot measure is not a choice: each classifier must
    # keep MIN_SIMULATED_BACKGROUND simulated continuum and generic B Bbar events of the signal region
    names = [n for n, spec in specs.items() if spec.kind == "background" and n not in PEAKING]
    for axis, column in enumerate(("bdt_continuum", "bdt_bbbar")):
        simulated = np.array([sum(np.sum(in_signal_region(tables[n]) & (tables[n]["weight_eval"] > 0)
                                         & (tables[n][column] >= threshold)) for n in names) for threshold in t])
        measurable = simulated >= MIN_SIMULATED_BACKGROUND
        merit = np.where(measurable[:, None] if axis == 0 else measurable[None, :], merit, -np.inf)
    rows = [(t[i], t[j], efficiency[i, j], background[i, j], merit[i, j]) for i in range(len(t)) for j in range(len(t))]
    return pd.DataFrame(rows, columns=["threshold_continuum", "threshold_bbbar", "signal_efficiency",
                                       "background_estimate", "figure_of_merit"])


def _region(tab):
    """Signal-region candidates of the evaluation half of a simulated sample, and their weights."""
    keep = in_signal_region(tab) & (tab["weight_eval"] > 0)
    return keep, tab["weight_eval"][keep]


def _expected_cubes(tables, specs, axis):
    """Expected background of every background sample in the signal region on (continuum-classifier
    bin, B Bbar-classifier bin, m_gg bin), computed once per run: peaking samples (simulated in
    full) as simulated; the continuum and generic B Bbar factorised with a smooth mass shape fitted
    to their events (:meth:`~analysis_lib.analysis.thresholds.ThresholdGrid.expected_cube`: these
    samples are 10^3 times smaller than the data they stand for)."""
    cubes = {}
    for name, spec in specs.items():
        if spec.kind == "background":
            keep, w = _region(tables[name])
            cubes[name] = GRID.expected_cube(tables[name]["bdt_continuum"][keep], tables[name]["bdt_bbbar"][keep],
                                             tables[name]["m_gg_fit"][keep], w, axis, factorised=name not in PEAKING,
                                             knot_spacing=BACKGROUND_KNOT_SPACING_GEV)
    return cubes


def selection(thresholds, *, data=False):
    """The final selection: signal region, evaluation half (simulation) or outside the optimisation
    sample (data), and the two classifier thresholds."""
    t_continuum, t_bbbar = thresholds
    cuts = [
        Cut("m_ES", lambda t: t["m_es"] > M_ES_SIGNAL_MIN_GEV, f"m_ES > {M_ES_SIGNAL_MIN_GEV} GeV"),
        Cut("Delta E", lambda t: (t["delta_e"] > DELTA_E_SIGNAL_GEV[0]) & (t["delta_e"] < DELTA_E_SIGNAL_GEV[1]),
            f"{DELTA_E_SIGNAL_GEV[0]} < Delta E < {DELTA_E_SIGNAL_GEV[1]} GeV"),
        Cut("not in the optimisation sample" if data else "evaluation half",
            (lambda t: ~t["optimisation"]) if data else (lambda t: ~t["train"]),
            "the share of the data that chose the selection is not used" if data else
            "simulated events not used to train the classifiers"),
        Cut("continuum classifier", lambda t: t["bdt_continuum"] >= t_continuum, f">= {t_continuum}"),
        Cut("B Bbar classifier", lambda t: t["bdt_bbbar"] >= t_bbbar, f">= {t_bbbar}"),
    ]
    return CutFlow(cuts)


def prepare(dataset_name: str, *, seed: int, ctau_mm: float, n_signal_events: int, max_mc_events: int,
            optimisation_fraction: float = 0.08, progress=True, specs=None) -> BabarInputs:
    """Simulate (or reuse) the ntuples, build the candidates, train the classifiers, choose their
    thresholds on the optimisation sample, and fill the histograms and signal peaks of the fits."""
    ds = dataset(dataset_name)
    if ctau_mm < 0:
        raise ParameterError(f"ctau_mm={ctau_mm!r} is negative; a lifetime must be >= 0 (0 = prompt)")
    if specs is None:
        specs = sample_specs(ds, n_signal_events=n_signal_events, max_mc_events=max_mc_events)
    specs = {s.name: s for s in specs}
    paths = ntuple_paths(list(specs.values()), ds, seed=seed, config=production_config(ds), progress=progress)
    folder = work_dir(ds, seed)
    tables = {name: _read_table(paths[name], ds, simulated=True, cache_dir=folder) for name in specs}
    data_table = None
    if "data" in paths:
        data_table = _read_table(paths["data"], ds, simulated=False)
        split = pseudo_data_rng(ds, seed, stream="optimisation-split").random(len(data_table["m_es"]))
        data_table["optimisation"] = split < optimisation_fraction
    classifiers = _classifiers(tables, specs, folder, seed)
    for tab in [*tables.values(), *([data_table] if data_table is not None else [])]:
        tab["bdt_continuum"] = classifiers["continuum"].score(tab)
        tab["bdt_bbbar"] = classifiers["bbbar"].score(tab)
    # the optimisation: thresholds from the held-out share of the data only
    axis = AXES["m_gg_fit"]()
    cubes = _expected_cubes(tables, specs, axis)
    if data_table is not None:
        # the held-out share of real data, in the signal region, on the threshold grid
        held = data_table["optimisation"] & in_signal_region(data_table)
        opt_counts, remaining = GRID.counts(data_table["bdt_continuum"][held], data_table["bdt_bbbar"][held],
                                            1.0), None
    else:
        opt_counts, remaining = split_pseudo_data(sum(cubes.values()), pseudo_data_rng(ds, seed),
                                                  optimisation_fraction)
    grid = _optimisation_grid(tables, specs, opt_counts, optimisation_fraction, TYPICAL_WIDTH_GEV)
    best = grid.loc[grid["figure_of_merit"].idxmax()]
    thresholds = (float(best["threshold_continuum"]), float(best["threshold_bbbar"]))
    # the final selection and the fit inputs
    flow = selection(thresholds)
    hists, flows, backgrounds = {}, {}, {}
    for name, spec in specs.items():
        tab = tables[name]
        tab["selected"], flows[spec.label] = flow.apply(tab, weights=tab["weight"])
        if spec.kind == "background":
            backgrounds[name] = spec.label
            # the expected background after the selection
            hists[name] = from_values(axis, GRID.passing(cubes[name], thresholds))
    peaks = _signal_peaks(tables, specs, ctau_mm)
    sigma_signal = specs[next(n for n, s in specs.items() if s.kind == "signal")].cross_section_pb()
    search = replace(SEARCH, signal_sigma_pb=lambda mass_gev, sqrt_s_gev: sigma_signal)
    limit_fraction = 1.0 - optimisation_fraction
    if data_table is not None:
        mask, flows["data"] = selection(thresholds, data=True).apply(data_table, weights=np.ones(len(data_table["m_es"])))
        require_events(mask, what=f"the data of {ds.name}")
        data_table["selected"] = mask
        data = fill(axis, data_table["m_gg_fit"][mask], np.ones(mask.sum()))
        source = "ntuple"
    else:  # the pseudo-data events outside the optimisation sample that pass the thresholds
        counts = GRID.passing(remaining, thresholds)
        data = from_values(axis, counts, counts)
        source = "pseudo-data"
    return BabarInputs(dataset=ds, seed=seed, backgrounds=backgrounds, hists={"m_gg_fit": hists},
                       data={"m_gg_fit": data}, data_source=source, peaks={"m_gg_fit": peaks},
                       cut_flow=cut_flow_table(flows), luminosity_fraction=limit_fraction, search=search, tables=tables,
                       specs=specs, classifiers=classifiers, thresholds=thresholds, optimisation=grid, ctau_mm=ctau_mm,
                       optimisation_fraction=optimisation_fraction)


#: What the shared fits (peak_search.fit_inputs, scan, example_fit) read of this channel: confidence
#: level, axes, observable, peaking templates, vetoes. Candidates, selection and histograms are made by
#: :func:`prepare` (classifiers and an optimisation sample do not fit the shared prepare), and each run
#: replaces ``signal_sigma_pb`` with its dataset's normalisation.
SEARCH = PeakSearch(
    name=NAME,
    cl=CL,
    sample_specs=sample_specs,
    skim=skim,
    candidates=candidate_table,
    selection=CutFlow([]),
    observables=None,
    axes=AXES,
    observable_for=observable_for,
    peaking=PEAKING,
    signal_sigma_pb=None,
    mass_squared=False,
    tracks=True,
    vetoes=VETOES,
)


# ---------------------------------------------------------------------------------------------
# limits


def analyse(inputs: BabarInputs, *, mass_min_gev, mass_max_gev, mass_step_sigma, fit_half_width_sigma,
            background_degree=2, progress=True, client=None):
    """90% CL limits on B(B+ -> K+ a) x B(a -> gamma gamma) versus mass at the run's lifetime, and on
    g_aW with the lifetime the coupling implies (:func:`coupling_limits`, every fourth step); with a
    dask ``client`` the masses are spread over its workers. The range is cut to the simulated masses
    that shape the peak at this lifetime (with a warning)."""
    simulated = inputs.peaks["m_gg_fit"].masses_gev
    if mass_min_gev < simulated[0] or mass_max_gev > simulated[-1]:
        log.warning("c tau = %g mm: the scan covers %.3f-%.3f GeV, the masses whose simulated signal survives "
                    "the selection", inputs.ctau_mm, max(mass_min_gev, simulated[0]), min(mass_max_gev, simulated[-1]))
    mu = peak_search.scan(inputs.search, inputs, mass_min_gev=max(mass_min_gev, simulated[0]),
                          mass_max_gev=min(mass_max_gev, simulated[-1]), mass_step_sigma=mass_step_sigma,
                          fit_half_width_sigma=fit_half_width_sigma, background_degree=background_degree,
                          progress=progress, client=client)
    thresholds = (f"classifier thresholds {inputs.thresholds[0]:g} (continuum) and {inputs.thresholds[1]:g} (B Bbar), "
                  f"chosen on the optimisation sample ({inputs.optimisation_fraction:.0%} of the data)")
    br = rate_limits(mu).stamped(notes=(thresholds,))
    masses = coupling_masses(inputs, mass_min_gev=mass_min_gev, mass_max_gev=mass_max_gev,
                             step_sigma=COUPLING_STEP * mass_step_sigma)
    # the coupling limit does not depend on the run's lifetime (it follows from the coupling): the
    # runs of one dataset, seed and selection compute it once
    key = content_key(_signal_inputs(inputs), inputs.data, inputs.hists, inputs.thresholds, masses,
                      fit_half_width_sigma, background_degree, inputs.luminosity_fraction, inputs.dataset.name,
                      inputs.dataset.luminosity_pb, inputs.search.signal_sigma_pb(1.0, inputs.dataset.experiment.sqrt_s_gev))
    coupling = shared_result(work_dir(inputs.dataset, inputs.seed), "coupling_g_aw", key, partial(
        coupling_limits, inputs, masses, fit_half_width_sigma=fit_half_width_sigma,
        background_degree=background_degree, progress=progress, client=client))
    return {"br": br, "g_aw": coupling.stamped(notes=(thresholds,), model={"ctau_mm": "from the coupling"})}


def rate_limits(mu: LimitScan) -> LimitScan:
    """Limits on the signal strength (units of :data:`BR_REF`) as limits on B(B+ -> K+ a) x B(a -> gamma gamma)."""
    return mu.transform(lambda m, v: v * BR_REF, quantity="br_b_to_k_a_x_br_gg", unit="")


#: The coupling limit is computed every this many steps of the rate limit's scan.
COUPLING_STEP = 4


#: A rate limit standing for "no sensitivity" (far above any branching fraction).
_NO_LIMIT = 1e6
#: Proper decay lengths (mm) at which the rate limit is computed for the coupling limit.
CTAU_GRID_MM = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)


def _signal_inputs(inputs: BabarInputs) -> dict:
    """What the signal peaks of every lifetime are made of (the coupling limit's key)."""
    columns = ("selected", "matched", "proper_mm", "eval_factor", "m_gg_fit")
    return {name: [np.asarray(inputs.tables[name][c]) for c in columns] + [spec.n_events]
            for name, spec in inputs.specs.items() if spec.kind == "signal"}


def signal_peaks(inputs: BabarInputs, ctau_mm: float) -> PeakTemplates:
    """The selected, truth-matched signal peaks reweighted to proper decay length ``ctau_mm``."""
    return _signal_peaks(inputs.tables, inputs.specs, ctau_mm)


#: Fewest selected signal events (weighted, in units of events) for a simulated mass to shape the
#: peak; masses with fewer (a lifetime at which nearly every ALP escapes) are left out with a warning.
MIN_PEAK_EVENTS = 10


def _signal_peaks(tables, specs, ctau_mm):
    masses, values, weights, generated, dropped = [], [], [], [], []
    for name, spec in specs.items():
        if spec.kind != "signal":
            continue
        tab = tables[name]
        keep = tab["selected"] & tab["matched"]
        w = (lifetime_weights(tab, ctau_mm) * tab["eval_factor"])[keep]
        # effective number of events of the weighted sample
        n_effective = w.sum() ** 2 / max(np.sum(w**2), 1e-300)
        if n_effective < MIN_PEAK_EVENTS:
            dropped.append(spec.config["mass_gev"])
            continue
        masses.append(spec.config["mass_gev"])
        values.append(tab["m_gg_fit"][keep])
        weights.append(w)
        generated.append(spec.n_events)
    if dropped:
        log.warning("c tau = %g mm: too few selected signal events at %s GeV to shape the peak; interpolating "
                    "between the other masses", ctau_mm, dropped)
    if len(masses) < 2:
        raise EmptySelectionError(
            f"c tau = {ctau_mm:g} mm: fewer than two simulated masses keep {MIN_PEAK_EVENTS} signal events; simulate "
            "more signal (n_signal_events)"
        )
    return PeakTemplates.from_samples(masses, values, generated, weights=weights)


def with_lifetime(inputs: BabarInputs, ctau_mm: float) -> BabarInputs:
    """The same run's inputs (data, backgrounds, selection) with the signal of another lifetime."""
    return replace(inputs, peaks={"m_gg_fit": signal_peaks(inputs, ctau_mm)}, ctau_mm=ctau_mm)


def coupling_limits(inputs: BabarInputs, masses_gev, *, fit_half_width_sigma, background_degree=2, progress=True,
                    client=None, ctau_grid_mm=CTAU_GRID_MM):
    """Limits on g_aW with the lifetime the coupling implies.

    At each mass the rate limit L(c tau) = 90% CL upper limit on B(B+ -> K+ a) x B(a -> gamma gamma) is
    computed on the grid ``ctau_grid_mm`` (the efficiency and peak shape of each c tau from the
    reweighted signal; data and backgrounds unchanged). A coupling g is excluded when
    B(B+ -> K+ a; g) > L(c tau(g)); B grows as g^2 and c tau(g) falls as g^-2 (so the efficiency
    rises), hence the limit is the single root of log B(g) = log L(c tau(g)), with log L interpolated
    linearly in log c tau (in c tau between prompt and the grid's first non-zero value, extrapolated
    in log-log above its last: :func:`~analysis_lib.analysis.lifetime.rate_limit_at`). Observed and
    expected (each band quantile) limits are solved alike. The rate limits are computed where the
    roots' searches read them (:func:`~analysis_lib.analysis.lifetime.coupling_limits`: about half
    of the grid's lifetimes per mass), which gives the limits of the whole grid.
    """
    masses = np.asarray(masses_gev, dtype=float)
    found = {"method": "CLs, asymptotic", "statistic": "q~_mu"}

    @cache
    def lifetime_run(k):
        try:
            return with_lifetime(inputs, ctau_grid_mm[k])
        except EmptySelectionError:  # nearly every ALP escapes: no sensitivity at this lifetime
            return None

    def rate_limits_at(k, js):
        rates = np.full((len(js), 6), _NO_LIMIT)
        run = lifetime_run(k)
        if run is None:
            return rates
        simulated = run.peaks["m_gg_fit"].masses_gev
        wanted = masses[js]
        inside = (wanted >= simulated[0]) & (wanted <= simulated[-1])
        if inside.any():
            limits = peak_search.scan(run.search, run, mass_min_gev=None, mass_max_gev=None, mass_step_sigma=None,
                                      fit_half_width_sigma=fit_half_width_sigma, background_degree=background_degree,
                                      progress=progress, client=client, masses_gev=wanted[inside],
                                      workspaces=False)  # hypotheses of a coupling: no workspace of their own
            rates[inside] = np.column_stack([limits.observed, limits.expected]) * BR_REF
            found.update(method=limits.method, statistic=limits.test_statistic)
        return rates

    out = lifetime_couplings(ctau_grid_mm, rate_limits_at, columns=6,
                             rates=[partial(b_to_k_alp_branching, m) for m in masses],
                             ctaus=[partial(ctau_from_g_aw_mm, m) for m in masses])
    method, statistic = found["method"], found["statistic"]
    return LimitScan(quantity="g_aw", unit="GeV^-1", masses_gev=masses, observed=out[:, 0], expected=out[:, 1:],
                     cl=CL, method=f"{method}; the coupling where B(B+ -> K+ a; g) equals the rate limit at c tau(g)",
                     test_statistic=statistic, mass_name="m_a", notes=("lifetime from the coupling",))


def efficiencies(inputs: BabarInputs):
    """The selection's signal efficiency (selected and truth-matched, per B+ -> K+ a, a -> gamma gamma
    decay) at each simulated mass and each lifetime of :data:`CTAU_GRID_MM` (the simulated decays
    reweighted; 0 where no signal is kept): what recasting reads (``efficiencies.csv``)."""
    rows = []
    masses = sorted(spec.config["mass_gev"] for spec in inputs.specs.values() if spec.kind == "signal")
    for ctau in CTAU_GRID_MM:
        try:
            peaks = signal_peaks(inputs, ctau)
            # a mass whose peak was dropped (too few events) reads the interpolation the limits use;
            # outside the kept masses the efficiency is unknown (NaN), not zero
            values = [peaks.efficiency(m) if peaks.masses_gev[0] <= m <= peaks.masses_gev[-1] else np.nan
                      for m in masses]
        except EmptySelectionError:  # (nearly) every ALP escapes: no signal kept, as the coupling limit takes it
            values = [0.0] * len(masses)
        rows += [{"quantity": "br_b_to_k_a_x_br_gg", "mass_gev": m, "ctau_mm": ctau, "efficiency": e}
                 for m, e in zip(masses, values)]
    return pd.DataFrame(rows)


def recast_hypercharge(folders, g_ab_over_g_aw: float, *, masses_gev=None) -> LimitScan:
    """Limits on g_aW of an ALP that also couples to hypercharge, g_aB = ``g_ab_over_g_aw`` g_aW, from the
    runs in ``folders`` (their rate limits and stored efficiencies, at their own lifetimes; the more
    lifetimes, the better the interpolation): B(B+ -> K+ a) from g_aW alone, the lifetime from
    g_agg = s_W^2 g_aW + c_W^2 g_aB (:func:`~analysis_lib.physics.alp_w.g_agg_from_g_aw_g_ab`), the
    rate limit at that lifetime from :func:`~analysis_lib.analysis.recast.rate_limits_on_grid`. With
    ``g_ab_over_g_aw`` = 0 it recasts the chapter's own coupling limit. ``masses_gev``: where (by default
    the rate limits' masses of the shortest-lived run)."""
    runs = []
    for folder in folders:
        scan = read_results(folder)["br_b_to_k_a_x_br_gg"]
        table = read_efficiencies(folder)
        runs.append((float(scan.model["ctau_mm"]), scan, table[table["quantity"] == scan.quantity]))
    grid = rate_limits_on_grid(runs, masses_gev=masses_gev)
    ratio = float(g_ab_over_g_aw)
    return recast_couplings(grid, rate=b_to_k_alp_branching,
                            ctau_mm=lambda m, g: alp_ctau_mm(m, abs(g_agg_from_g_aw_g_ab(g, ratio * g))),
                            quantity="g_aw", unit="GeV^-1", no_limit=_NO_LIMIT,
                            model={"g_ab_over_g_aw": ratio, "ctau_mm": "from the couplings"})


# ---------------------------------------------------------------------------------------------
# tables for the notebook

#: Reference coupling of the physics table (GeV^-1).
G_AW_REF = 1e-5


def physics_table(masses_gev):
    """B(B+ -> K+ a), g_agg, c tau and the mean lab decay length of the ALP at g_aW = 1e-5 GeV^-1
    (the lab momentum taken as the B-frame momentum: the B moves slowly)."""
    from ..core.kinematics import two_body_momentum
    from ..physics.alp_w import g_agg_from_g_aw

    rows = []
    for m in masses_gev:
        p = float(two_body_momentum(mass_gev(521), mass_gev(321), m))
        ctau = float(ctau_from_g_aw_mm(m, G_AW_REF))
        rows.append({"m_a [GeV]": m, "B(B+ -> K+ a)": float(b_to_k_alp_branching(m, G_AW_REF)),
                     "g_agg [GeV^-1]": float(g_agg_from_g_aw(G_AW_REF)), "c tau [mm]": ctau,
                     "p_a in B frame [GeV]": p, "beta gamma c tau [mm]": p / m * ctau})
    return pd.DataFrame(rows)


def efficiency_table(inputs: BabarInputs, masses_gev, ctaus_mm=CTAU_MM):
    """Signal efficiency (selected, correctly reconstructed) at each mass for each lifetime."""
    rows = {}
    for ctau in ctaus_mm:
        peaks = signal_peaks(inputs, ctau)
        rows[f"c tau = {ctau:g} mm"] = [peaks.efficiency(m) for m in masses_gev]
    frame = pd.DataFrame(rows, index=pd.Index(masses_gev, name="m_a [GeV]"))
    return frame


def coupling_masses(inputs: BabarInputs, *, mass_min_gev, mass_max_gev, step_sigma):
    """Mass hypotheses of the coupling limit: steps of ``step_sigma`` prompt resolutions inside the
    simulated masses, the vetoes left out."""
    prompt = with_lifetime(inputs, 0.0)
    simulated = prompt.peaks["m_gg_fit"].masses_gev
    return peak_search.scan_masses(prompt.search, prompt, mass_min_gev=max(mass_min_gev, simulated[0]),
                                   mass_max_gev=min(mass_max_gev, simulated[-1]), step_sigma=step_sigma)


def classifier_shapes(inputs: BabarInputs, column: str) -> dict:
    """(values, weights) of a classifier output (``"bdt_continuum"`` or ``"bdt_bbbar"``) on the
    evaluation half of the signal (all masses), the continuum and the generic B Bbar, keyed by
    legend label (for :func:`analysis_lib.plots.plot_shapes`)."""
    groups = {"signal (all masses)": "signal", "continuum": "bkg_continuum", "generic B Bbar": "bkg_bb"}
    out = {}
    for label, prefix in groups.items():
        names = [n for n in inputs.tables if n.startswith(prefix)]
        evaluate = ~np.concatenate([inputs.tables[n]["train"] for n in names])
        out[label] = (np.concatenate([inputs.tables[n][column] for n in names])[evaluate],
                      np.concatenate([inputs.tables[n]["weight"] for n in names])[evaluate])
    return out


# ---------------------------------------------------------------------------------------------
# the channel


@register
class BToKAlp(PeakSearchChannel):
    """BaBar (and Belle, Belle II) B+ -> K+ a, a -> gamma gamma: classifiers, an optimisation sample,
    and the shared peak search's fits."""

    name = NAME
    title = "BaBar: B⁺ → K⁺a, a → γγ"
    notebook = "babar_b_to_k_alp.ipynb"
    cl = CL
    parameters = PARAMETERS
    published = {"br": "babar_2022_b2ka_br_prompt_observed_90cl.txt"}
    paper = "BaBar, Phys. Rev. Lett. 128 (2022) 131802, arXiv:2111.01800"
    overview = (Overview("br_b_to_k_a_x_br_gg", published="br", label=r"$B^+\to K^+a$"),
                Overview("g_aw", kind="g_agg", factor=SIN2_THETA_W, logx=True,
                         label=r"$B^+\to K^+a$ ($g_{a\gamma\gamma} = s_W^2 g_{aW}$)"))

    physics_table = staticmethod(physics_table)
    efficiency_table = staticmethod(efficiency_table)
    classifier_shapes = staticmethod(classifier_shapes)
    agreement_factor = 2.25
    vetoes = VETOES

    def model_parameters(self, params):
        return {"ctau_mm": params["ctau_mm"]}

    def efficiencies(self, inputs, params):
        return efficiencies(inputs)

    def samples(self, params):
        return sample_specs(self.dataset(params), n_signal_events=params["n_signal_events"],
                            max_mc_events=params["max_mc_events"])

    def production(self, params):
        return production_config(self.dataset(params))

    def prepare(self, params, *, progress=True):
        return prepare(params["dataset"], seed=params["seed"], ctau_mm=params["ctau_mm"],
                       n_signal_events=params["n_signal_events"], max_mc_events=params["max_mc_events"],
                       optimisation_fraction=params["optimisation_fraction"], progress=progress,
                       specs=self.samples(params))

    sensitivity_points = (0.5, 2.0, 4.0)

    def headline(self, inputs, mu):
        return rate_limits(mu)

    def analyse(self, inputs, params, *, progress=True, client=None):
        return analyse(inputs, **peak_search.scan_settings(params), progress=progress, client=client)
