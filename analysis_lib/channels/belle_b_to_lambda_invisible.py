"""Belle: B0 -> Lambda psi_D, the B-mesogenesis dark baryon, with a hadronically tagged B
(arXiv:2110.14086).

What this search declares: its signal on a grid of psi_D masses, the shared B-factory backgrounds with
the experiment's hadronic tag (:mod:`analysis_lib.simulation.tagging`), the off-resonance partner of
its dataset, and a counting experiment in windows of the Lambda momentum in the signal B's frame.

Samples (:func:`sample_specs`, :func:`off_resonance_specs`): the signal on a grid of psi_D masses,
generic B0 B0bar and B+ B- (Pythia's decay tables give the B -> Lambda X backgrounds: Lambda_c, Lambda
p-bar, ...), and the continuum e+e- -> q qbar of four flavours, at the Upsilon(4S) and at the energy of
the dataset's off-resonance partner, every event simulated with the experiment's hadronic tag and
weighted by its probability. The skim keeps the events whose rest of the event holds a loose Lambda
candidate and few tracks.

The event: one B reconstructed in a hadronic mode (the tag), the other seen only as a Lambda -> p pi-
and missing energy. The variables of every event (:func:`candidate_table`): the tag's m_bc, Delta E
and signal probability; the rest of the event (ROE: the tracks the tag did not use); the best Lambda
candidate among the ROE tracks and its momentum in the signal B's frame, p*_Lambda (the signal B's
momentum is the tag's reversed, :mod:`analysis_lib.reco.tagged`), which for the signal is the
two-body momentum fixed by m_psi; and E_ECL, the calorimeter energy neither the tag nor a track used.

The flow (modelled on the paper, whose selection details are not public to us):

1. the selection (:func:`selection`): a tag of good quality, a rest of the event of exactly one
   Lambda's two tracks, E_ECL in the signal region;
2. at every psi_D mass a window of +-2 resolutions in p*_Lambda about the two-body momentum;
3. the background in the window factorised from the simulation (:func:`class_prediction`: smooth
   p*_Lambda densities of loose events times the measured shares that pass the tag and the signal
   side), its normalisation measured by two control regions in one likelihood
   (:class:`~analysis_lib.analysis.counting.ControlRegion`): the E_ECL sideband of the same window
   and the off-resonance data (continuum only) in the same window;
4. 90% CL CLs upper limits on B(B0 -> Lambda psi_D) from pseudo-experiments, with Feldman-Cousins
   and Bayesian limits as cross-checks (:func:`feldman_cousins`).

Pseudo-data: the simulated backgrounds in two halves; one makes the prediction, the other the model
of the truth (its difference from the prediction scaled by 1 / sqrt(2), so that it has the variance of
the prediction's own statistical error: :func:`~analysis_lib.analysis.samples.truth_expectation`),
from which each dataset's data (the Upsilon(4S) and below it) are one Poisson draw per p* cell and
E_ECL region from its own stream. Real data are read from ``data.root`` of the dataset
and of its off-resonance partner, and all of the simulation makes their prediction (half the
statistical uncertainty of the simulation's shares squared).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import awkward as ak
import numpy as np
import pandas as pd

from ..analysis.counting import (
    ControlRegion,
    CountingWindow,
    counting_model,
    feldman_cousins_limit,
    scaled_window,
    smooth_backgrounds,
    smoothed_once,
    window_background,
)
from ..analysis.inputs import Inputs
from ..analysis.samples import draw_pseudo_data, ntuple_paths, pseudo_data_rng, read_table, truth_expectation, work_dir
from ..analysis.scan import ToyCLs, scan_limits
from ..analysis.sensitivity import sensitivity
from ..analysis.signal_shape import peak_summary
from ..core.constants import mass_gev
from ..core.errors import EmptySelectionError, KinematicError, ParameterError
from ..core.parameters import LUMINOSITY_SCAN, SEED, Parameter, mass_range
from ..detector.datasets import Dataset, dataset, dataset_names, dataset_parameter
from ..detector.experiments import Beams, experiment
from ..io.ntuple import ORIGIN, read_events, read_meta
from ..io.published import PublishedInterval
from ..physics.mesogenesis import LAMBDA, LAMBDA_TO_P_PI, lambda_momentum_gev
from ..reco.selection import Cut, CutFlow, cut_flow_table, require_events
from ..reco.tagged import momentum_in_signal_frame, residual_energy, rest_of_event, signal_b_velocity
from ..reco.v0 import LambdaSelection, lambda_candidates
from ..simulation import b_decays
from ..simulation.production import ProductionConfig, SampleSpec, requests
from ..stats.pspline import Basis
from .base import Channel, Overview, points_in_range, register

__all__ = ["BABAR_RANGE", "BR_REF", "CL", "LAMBDA_SELECTION", "NAME", "PARAMETERS", "SIGNAL_MASSES_GEV",
           "BToLambdaInvisible", "ClassPrediction", "LambdaInputs", "analyse", "candidate_table", "class_prediction",
           "closure_table", "feldman_cousins", "luminosity_scan", "off_resonance_specs", "prepare", "production_config",
           "sample_specs", "scan_masses", "selection", "skim", "window", "window_table"]

NAME = "belle_b_to_lambda_invisible"
#: The Lambda requirements of the chapter (Belle's flight and pointing requirements, see the class).
LAMBDA_SELECTION = LambdaSelection()
#: Reference B(B0 -> Lambda psi_D) of the simulated signal.
BR_REF = 1e-5
#: Simulated psi_D masses (GeV): from 1.0 GeV, where the paper's scan starts (the model allows
#: m_p - m_e = 0.938 GeV), to 4.1 GeV, 64 MeV below the kinematic end (a Lambda at rest in the B frame).
SIGNAL_MASSES_GEV = (1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75, 4.0, 4.1)
#: Share of the background simulation given to the continuum (the rest to generic B Bbar).
CONTINUUM_SHARE = 0.6
#: The skim (:func:`skim`): a Lambda candidate in the rest of the event within this window of the
#: Lambda mass and flying at least this far, and at most this many rest-of-event tracks (looser than
#: any selection).
SKIM_MASS_WINDOW_GEV = 0.02
SKIM_MIN_FLIGHT_MM = 0.5
SKIM_MAX_ROE_TRACKS = 6


def sample_specs(ds: Dataset, *, n_signal_events: int, max_mc_events: int, signal_masses_gev=SIGNAL_MASSES_GEV):
    """The samples of the Upsilon(4S) dataset ``ds``: signal masses, generic B Bbar and continuum, every
    event with the experiment's hadronic tag. B-decay cross sections are N_BBbar x fractions /
    luminosity; the signal's includes B(Lambda -> p pi-) (its generator decays the Lambda so)."""
    if ds.below_bb_threshold:
        raise ParameterError(f"dataset {ds.name!r} is below the B Bbar threshold (sqrt(s) = {ds.sqrt_s_gev:.3f} GeV): "
                             "give its Upsilon(4S) partner; its own samples are off_resonance_specs(...)")
    beams = ds.experiment.beams
    n_bb_per_pb = ds.n_bb_pairs / ds.luminosity_pb
    neutral = 1 - b_decays.F_CHARGED
    # either B0 of a pair may decay to the signal
    sigma_signal = n_bb_per_pb * neutral * 2 * BR_REF * LAMBDA_TO_P_PI
    specs = [SampleSpec(
        name=f"signal_m{m:.3f}", label=f"ψ_D {m:g} GeV", kind="signal", sigma_pb=sigma_signal,
        generate=partial(b_decays.b_to_lambda_invisible, beams=beams, mass_gev_psi=m, sigma_pb=sigma_signal),
        config={"process": "B0 -> Lambda psi_D", "mass_gev": m, "br_ref": BR_REF}, n_events=n_signal_events,
        tracks=True, chunk=50_000, hadronic_tag=True,
    ) for m in signal_masses_gev]
    return specs + _backgrounds(ds, n_bb_per_pb=n_bb_per_pb, max_mc_events=max_mc_events)


def off_resonance_specs(off: Dataset, *, max_mc_events: int):
    """The continuum samples of the off-resonance dataset ``off`` (its own energy), with the tag."""
    return _backgrounds(off, n_bb_per_pb=0.0, max_mc_events=max_mc_events)


def _backgrounds(ds: Dataset, *, n_bb_per_pb: float, max_mc_events: int):
    """The shared B-factory backgrounds at the dataset's energy (the continuum scaled as 1/s), tagged."""
    sqrt_s = ds.experiment.sqrt_s_gev
    return b_decays.background_specs(ds.experiment.beams,
                                     continuum_pb={q: b_decays.continuum_sigma_pb(q, sqrt_s) for q in b_decays.CONTINUUM_PB},
                                     n_bb_per_pb=n_bb_per_pb, max_mc_events=max_mc_events,
                                     continuum_share=CONTINUUM_SHARE, hadronic_tag=True)


def skim(events, *, mass_window_gev: float, min_flight_mm: float, max_roe_tracks: int) -> np.ndarray:
    """Events whose rest of the event holds a loose Lambda candidate (within ``mass_window_gev`` of the
    Lambda mass, flying at least ``min_flight_mm``, the proton identified) and at most
    ``max_roe_tracks`` tracks."""
    tracks, _ = rest_of_event(events)
    cands = lambda_candidates(tracks)
    loose = (abs(cands.mass - mass_gev(LAMBDA)) < mass_window_gev) & (cands.flight_mm > min_flight_mm)
    return ak.to_numpy(ak.any(loose, axis=1) & (ak.num(tracks) <= max_roe_tracks))


def production_config() -> ProductionConfig:
    """Production settings: the skim with the chapter's loose requirements (its settings part of the
    samples' key); event-level pseudo-data never (tagged samples carry weights)."""
    return ProductionConfig(skim=partial(skim, mass_window_gev=SKIM_MASS_WINDOW_GEV, min_flight_mm=SKIM_MIN_FLIGHT_MM,
                                         max_roe_tracks=SKIM_MAX_ROE_TRACKS))


def candidate_table(events, beams: Beams, *, nominal_sqrt_s_gev: float | None = None) -> dict:
    """One row per event (numpy arrays): the tag (``mbc``, ``delta_e``, ``sigprob``), the number of ROE
    tracks ``n_roe_tracks``, the number of ROE Lambda candidates passing :data:`LAMBDA_SELECTION`
    ``n_lambda``, the best one's ``lambda_mass``, ``lambda_flight_mm``, ``lambda_p_lab``, ``anti`` and
    ``p_star`` (its momentum in the signal B's frame; NaN without a candidate), ``e_ecl`` (GeV), the
    event ``weight``, and from the simulation ``tag_correct`` and ``matched`` (both Lambda daughters
    from the signal B).

    Below the Upsilon(4S) (``nominal_sqrt_s_gev`` given, the experiment's resonance energy) m_bc is
    put on the resonance's scale, m_bc x sqrt(s)_nominal / sqrt(s): the beam energy bounds m_bc, and
    the ratio maps the kinematic end point of the data below the resonance onto the resonance's, so
    that one tag requirement selects alike (derived; B-factory analyses of off-resonance data shift or
    scale m_bc so)."""
    tracks, _ = rest_of_event(events)
    cands = lambda_candidates(tracks)
    cands = cands[LAMBDA_SELECTION.passes(cands)]
    best = ak.firsts(cands[ak.argmin(abs(cands.mass - mass_gev(LAMBDA)), axis=1, keepdims=True)])
    has = ~ak.to_numpy(ak.is_none(best))

    def column(values, fill=np.nan):
        return ak.to_numpy(ak.fill_none(values, fill)).astype(float)

    p_lab = np.stack([column(best.px), column(best.py), column(best.pz)], axis=-1)
    p_star = np.full(len(events), np.nan)
    if has.any():
        p_star[has] = momentum_in_signal_frame(p_lab[has], mass_gev(LAMBDA), signal_b_velocity(events[has], beams), beams)
    index = ak.local_index(tracks.p)

    def from_signal(daughter):
        mine = index == ak.fill_none(daughter, -1)
        return ak.to_numpy(ak.fill_none(ak.firsts(tracks.mc_origin[mine]), -1)) == ORIGIN["signal_b"]

    daughters_from_signal = from_signal(best.positive) & from_signal(best.negative)
    tag = events.tag
    return {
        "mbc": ak.to_numpy(tag.mbc).astype(float) * (1.0 if nominal_sqrt_s_gev is None
                                                      else nominal_sqrt_s_gev / beams.sqrt_s_gev),
        "delta_e": ak.to_numpy(tag.delta_e).astype(float),
        "sigprob": ak.to_numpy(tag.sigprob).astype(float),
        "n_roe_tracks": ak.to_numpy(ak.num(tracks)).astype(float), "n_lambda": ak.to_numpy(ak.num(cands)).astype(float),
        "lambda_mass": column(best.mass), "lambda_flight_mm": column(best.flight_mm), "lambda_p_lab": column(best.p),
        "anti": column(best.anti, False).astype(bool), "p_star": p_star, "e_ecl": residual_energy(events),
        "weight": ak.to_numpy(events.weight).astype(float),
        "tag_correct": (ak.to_numpy(tag.mc_correct).astype(bool) if "mc_correct" in tag.fields
                        else np.zeros(len(events), bool)),
        "matched": daughters_from_signal & has,
    }


# ---------------------------------------------------------------------------------------------
# the selection


#: The tag's quality (GeV): m_bc above and |Delta E| below (for correct tags m_bc peaks at m_B with
#: the beam-energy spread and Delta E at 0; the combinatorial tags spread over the pre-selection).
TAG_MBC_MIN_GEV = 5.27
TAG_DELTA_E_MAX_GEV = 0.05
#: The rest of the event: exactly the Lambda's two tracks (the paper's abstract, arXiv:2110.14086: "require
#: the remainder of the event to consist of only a single Lambda").
ROE_TRACKS = 2
#: E_ECL (GeV): the signal region, where the signal's residual energy lies (beam background and
#: split-offs, 95% below 0.12 GeV in this simulation), and the sideband that measures the background
#: with the same selection. The paper's values are not public to us; these are of the size hadronic-tag
#: analyses at Belle use.
E_ECL_SIGNAL_GEV = (0.0, 0.2)
E_ECL_SIDEBAND_GEV = (0.3, 1.2)
#: The cells of p*_Lambda (GeV) on which backgrounds are predicted and data counted: 1 MeV, a third of
#: the best resolution (3 MeV near the end point) or less; the smooth densities are cubic B-splines on
#: 0.1 GeV segments.
P_EDGES = np.linspace(0.0, 2.7, 2701)
P_SEGMENTS = 27
#: Relative prior uncertainty of the background normalisation, before the E_ECL sideband and the
#: off-resonance data measure it: the tag's combinatorial rates and the Lambda yields of Pythia's
#: fragmentation and decay tables are models here, not calibrated.
BACKGROUND_PRIOR = 0.3
#: Relative uncertainty of the ratio of the B Bbar to the continuum background, which one
#: normalisation of both cannot follow: the regions hold the two classes in different shares (the
#: off-resonance data none of the B Bbar, the E_ECL sideband more of it than the window, as the B
#: Bbar's residual energy is larger), so a ratio off by a factor (1 + d) moves a region's prediction
#: against the window's by its difference of B Bbar share times d (derived). It enters each control
#: region so, with the statistical uncertainties of what the two classes' window and sideband share
#: (their tag, two-track and p* shares), which the normalisation cancels only where the shares are the
#: window's.
COMPOSITION_UNCERTAINTY = 0.3
#: Most ROE tracks of the events whose E_ECL distribution stands for that of the selected ones (exactly
#: the Lambda's two tracks): more events than the selection's, with the same sources of residual
#: energy (the other B's or the other hemisphere's neutral particles the tag did not take).
E_ECL_TRACKS_MAX = 4
#: The background classes and their samples' name prefixes.
CLASSES = {"continuum": "bkg_continuum_", "bb": "bkg_bb_"}
#: Size of the off-resonance partner's simulation (all of it continuum) as a share of the Upsilon(4S)
#: dataset's background simulation (of which 60% is continuum).
OFF_RESONANCE_SHARE = 0.25
#: Confidence level of the paper's limits.
CL = 0.90
#: The headline: 90% CL upper limits 2.1-3.8 x 10^-5 (arXiv:2110.14086, abstract); the paper's scan
#: starts near 1.0 GeV and ends at m_B - m_Lambda.
PUBLISHED_RANGES = {
    "br": PublishedInterval(
        quantity="br_b0_lambda_psi", unit="", cl=CL, low=2.1e-5, high=3.8e-5, mass_range_gev=(1.0, 4.16),
        source="Belle, Phys. Rev. D 105 (2022) L051101, arXiv:2110.14086, abstract: 90% CL upper limits on the "
               "branching fractions in the range 2.1-3.8 x 10^-5",
        label="Belle 2022, observed: range 2.1-3.8 x 10$^{-5}$ (arXiv:2110.14086)"),
}
#: BaBar's search of the same decay with the same method (B-mesogenesis at BaBar, arXiv:2302.00208,
#: abstract: bounds of 0.13-5.2 x 10^-5 for 1.0 < m_psi_D < 4.2 GeV; the abstract states no confidence
#: level, 90% is assumed here), for the chapter's BaBar run.
BABAR_RANGE = PublishedInterval(
    quantity="br_b0_lambda_psi", unit="", cl=CL, low=0.13e-5, high=5.2e-5, mass_range_gev=(1.0, 4.2),
    source="BaBar, Phys. Rev. D 107 (2023) 092001, arXiv:2302.00208, abstract: bounds on the branching fraction "
           "0.13-5.2 x 10^-5 for 1.0 < m_psi_D < 4.2 GeV (the abstract states no confidence level; 90% assumed)",
    label="BaBar 2023, observed: range 0.13-5.2 x 10$^{-5}$ (arXiv:2302.00208)")

def b_factory_datasets() -> list[str]:
    """The registered datasets at the Upsilon(4S) of every B factory (BaBar, Belle, Belle II): the
    allowed values of the chapter's ``dataset``."""
    return [name for experiment in ("babar", "belle", "belle2") for name in dataset_names(experiment)
            if not dataset(name).below_bb_threshold]


PARAMETERS = (
    dataset_parameter("belle_4s", choices=b_factory_datasets),
    SEED,
    LUMINOSITY_SCAN,
    *mass_range("psi_D", (SIGNAL_MASSES_GEV[0], SIGNAL_MASSES_GEV[-1]),
                bounds=(SIGNAL_MASSES_GEV[0], SIGNAL_MASSES_GEV[-1])),
    Parameter("mass_step_sigma", float, 4.0, "psi_D mass step, in p*_Lambda resolutions (4: adjacent windows touch)",
              minimum=0.25, maximum=20),
    Parameter("window_sigma", float, 2.0, "half width of the p*_Lambda window, in resolutions", minimum=0.5, maximum=5),
    Parameter("n_signal_events", int, 20_000, "simulated events per signal mass", minimum=2_000, maximum=10_000_000),
    Parameter("max_mc_events", int, 1_000_000, "simulated background events at the Upsilon(4S)", minimum=20_000,
              maximum=100_000_000),
    Parameter("n_toys", int, 2000, "pseudo-experiments per mass hypothesis", minimum=200, maximum=100_000),
)


def selection(*, e_ecl_gev=E_ECL_SIGNAL_GEV) -> CutFlow:
    """The cuts in order: the tag's quality, the rest of the event exactly a Lambda candidate's two
    tracks, the Lambda (:data:`LAMBDA_SELECTION`), E_ECL in ``e_ecl_gev``."""
    low, high = e_ecl_gev
    return CutFlow([
        Cut("tag m_bc", lambda t: t["mbc"] > TAG_MBC_MIN_GEV, f"m_bc > {TAG_MBC_MIN_GEV} GeV"),
        Cut("tag Delta E", lambda t: np.abs(t["delta_e"]) < TAG_DELTA_E_MAX_GEV, f"|Delta E| < {TAG_DELTA_E_MAX_GEV} GeV"),
        Cut("ROE tracks", lambda t: t["n_roe_tracks"] == ROE_TRACKS, f"exactly {ROE_TRACKS} tracks besides the tag's"),
        Cut("Lambda", lambda t: t["n_lambda"] > 0,
            "a Lambda -> p pi- candidate of the ROE tracks (mass, flight, pointing, proton)"),
        Cut("E_ECL", lambda t: (t["e_ecl"] >= low) & (t["e_ecl"] < high), f"{low} <= E_ECL < {high} GeV"),
    ])


def _good_tag(t):
    return (t["mbc"] > TAG_MBC_MIN_GEV) & (np.abs(t["delta_e"]) < TAG_DELTA_E_MAX_GEV)


def _in(t, region):
    return (t["e_ecl"] >= region[0]) & (t["e_ecl"] < region[1])


def _tight_side(t, region):
    """The signal side of the selection (without the tag's quality): two ROE tracks, a Lambda, E_ECL in ``region``."""
    return (t["n_roe_tracks"] == ROE_TRACKS) & (t["n_lambda"] > 0) & _in(t, region)


# ---------------------------------------------------------------------------------------------
# the background prediction


@dataclass(frozen=True)
class ClassPrediction:
    """The background of one class (continuum or B Bbar) of one dataset, factorised (see
    :func:`class_prediction`): ``loose`` events with a Lambda candidate, their smooth p*_Lambda
    density ``shape`` (normalised to 1 over :data:`P_EDGES`) with the spline fit ``fit`` behind it,
    and the fractions of them that pass the tag's quality and the signal side in each E_ECL region,
    each with its relative uncertainty from the simulation's statistics."""

    loose: float
    shape: np.ndarray
    fit: object
    tag: tuple  # (fraction, relative uncertainty)
    two: tuple  # (fraction with exactly the Lambda's two ROE tracks, relative uncertainty)
    energy: dict  # region name -> (fraction of E_ECL in it, relative uncertainty)
    simulated: np.ndarray  # simulated loose events per p* cell (unweighted)

    @property
    def side(self) -> dict:
        """Region name -> the share passing the signal side there (two tracks, E_ECL in the region) and
        its relative uncertainty."""
        return {r: (self.two[0] * e[0], float(np.hypot(self.two[1], e[1]))) for r, e in self.energy.items()}

    @property
    def common(self) -> float:
        """Relative uncertainty of what every E_ECL region of this class shares: the tag's and the two
        tracks' shares (the p* share is a window's own, :meth:`window`)."""
        return float(np.hypot(self.tag[1], self.two[1]))

    def expected(self, region: str) -> np.ndarray:
        """Expected events per p* cell passing the tag and the signal side in E_ECL ``region``."""
        return self.loose * self.tag[0] * self.two[0] * self.energy[region][0] * self.shape

    def window(self, i0: int, i1: int, region: str) -> tuple[float, float]:
        """Expected events in the p* cells [i0, i1) and E_ECL ``region``, and the relative uncertainty
        of the window's share of the p* density (the smooth fit's covariance)."""
        events = float(self.expected(region)[i0:i1].sum())
        sums, _ = self.fit.box_sums([i0], [i1], [0], [1])
        total = float(self.fit.expected.sum())
        g = self.fit.gradients([i0], [i1], [0], [1])[0] / max(float(sums[0]), 1e-300) - self.fit.gradients(
            [0], [self.fit.expected.shape[0]], [0], [1])[0] / max(total, 1e-300)
        share_uncertainty = float(np.sqrt(max(g @ self.fit.covariance @ g, 0.0)))
        return events, share_uncertainty


def _fraction(weights, passing):
    """Weighted fraction of events passing and its relative uncertainty (the passing events' effective
    statistics, which dominate for small fractions). Where none passes, half an event of the largest
    weight with a 100% uncertainty: the simulation bounds the fraction, it does not make it zero."""
    weights = np.asarray(weights, dtype=float)
    total = float(weights.sum())
    if total <= 0:
        raise EmptySelectionError("no simulated event with a weight to measure a fraction on; raise max_mc_events")
    kept = float(weights[passing].sum())
    if kept <= 0:
        return 0.5 * float(weights.max()) / total, 1.0
    return kept / total, float(np.sqrt(np.sum(weights[passing] ** 2))) / kept


E_REGIONS = {"signal": E_ECL_SIGNAL_GEV, "sideband": E_ECL_SIDEBAND_GEV}


def class_prediction(tables, *, folder, luminosity_pb: float, name: str) -> ClassPrediction | None:
    """The factorised background of one class from its simulated samples' candidate ``tables``.

    The selection keeps a few simulated events of a million (a tag of a few per mille, then a rest of
    the event of exactly one Lambda), too few to predict a window from. The prediction factorises it:

        N(window, E_ECL region) = N_loose x f(window) x P(tag) x P(side, region)

    with N_loose the events whose rest of the event holds a Lambda candidate (at most six ROE tracks,
    any tag of the pre-selection), f the share of their smooth p*_Lambda density in the window
    (P-splines, :func:`analysis_lib.analysis.counting.smooth_backgrounds`, fitted once per sample
    content for every luminosity), P(tag) the share whose tag passes the quality cuts, and P(side,
    region) = P(two ROE tracks) x P(E_ECL in the region | at most :data:`E_ECL_TRACKS_MAX` ROE tracks),
    all measured on the loose events. It assumes that the tag's quality, the ROE's multiplicity,
    E_ECL and p*_Lambda are independent in the loose sample (a combinatorial tag is drawn independently
    of the rest of the event; the chapter checks the product against the direct count, which the
    simulation has a few events of: :func:`closure_table`). None when no loose event exists."""
    rows = [t for t in tables]
    if not rows:
        return None
    weight = np.concatenate([t["weight"] for t in rows])
    p = np.concatenate([t["p_star"] for t in rows])
    # a Lambda candidate with p* on the grid (the shape is normalised there)
    loose = np.isfinite(p) & (p >= P_EDGES[0]) & (p < P_EDGES[-1]) & (weight > 0)
    if not loose.any():
        return None
    cat = {key: np.concatenate([t[key] for t in rows])[loose] for key in ("mbc", "delta_e", "n_roe_tracks", "n_lambda",
                                                                           "e_ecl")}
    w, p = weight[loose], p[loose]
    sums = {name: (np.histogram(p, P_EDGES, weights=w)[0][:, None], np.histogram(p, P_EDGES, weights=w**2)[0][:, None])}
    x = Basis.at(0.5 * (P_EDGES[1:] + P_EDGES[:-1]), P_EDGES[0], P_EDGES[-1], P_SEGMENTS)
    y = Basis.at([0.0], 0.0, 1.0, 0)
    fits = smoothed_once(partial(smooth_backgrounds, x=x, y=y), sums, luminosity_pb=luminosity_pb, folder=folder,
                         name=f"lambda_{name}", key=(x.dense, P_SEGMENTS))
    if name not in fits:
        return None
    fit = fits[name]
    shape = fit.expected[:, 0] / fit.expected.sum()
    two = _fraction(w, (cat["n_roe_tracks"] == ROE_TRACKS) & (cat["n_lambda"] > 0))
    few = cat["n_roe_tracks"] <= E_ECL_TRACKS_MAX
    if not few.any():
        few = np.ones(len(w), dtype=bool)
    energy = {region: _fraction(w[few], _in({"e_ecl": cat["e_ecl"][few]}, edges)) for region, edges in E_REGIONS.items()}
    return ClassPrediction(loose=float(w.sum()), shape=shape, fit=fit, tag=_fraction(w, _good_tag(cat)), two=two,
                           energy=energy, simulated=np.histogram(p, P_EDGES)[0].astype(float))


def _halves(table, which: int | None) -> dict:
    """One half of a simulated sample's table (events alternately), weighted to stand for all of it;
    ``which`` None: all of it (a new dict of the same arrays)."""
    if which is None:
        return dict(table)
    keep = np.arange(len(table["weight"])) % 2 == which
    out = {k: v[keep] for k, v in table.items()}
    out["weight"] = 2.0 * out["weight"]
    return out


# ---------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class LambdaInputs(Inputs):
    """Everything the limits of one run need, made once by :func:`prepare`.

    The signal on its simulated mass grid (the p*_Lambda peak's centre and width, the efficiencies of
    the window and of the E_ECL sideband, for the run's ``window_sigma``), the factorised background
    predictions of each class (:class:`ClassPrediction`) at the Upsilon(4S) (``predictions``) and below
    it (``off_predictions``, continuum only; empty without an off-resonance partner), and the data
    counted on the p* cells of :data:`P_EDGES`: on resonance in the two E_ECL regions, (n, 2); below
    it in both together, (n,). ``tables`` keeps the candidate tables of the samples (and of real
    data) for figures.
    """

    off_dataset: object
    masses: np.ndarray
    centres: np.ndarray
    widths: np.ndarray
    efficiency: np.ndarray
    efficiency_sideband: np.ndarray
    signal_per_unit: np.ndarray  # expected events of the window for B(B0 -> Lambda psi_D) = 1
    signal_per_unit_sideband: np.ndarray
    predictions: dict
    off_predictions: dict
    truth_predictions: dict  # the other half's (pseudo-data only; empty for real data)
    data: np.ndarray
    off_data: np.ndarray | None
    window_sigma: float
    tables: dict
    n_generated: dict

    def interpolate(self, values, mass_gev: float) -> float:
        """A per-grid-mass quantity at ``mass_gev``, linear in the mass."""
        return float(np.interp(mass_gev, self.masses, values))

    def resolution_gev(self, mass_gev: float) -> float:
        """The p*_Lambda resolution at ``mass_gev``."""
        return self.interpolate(self.widths, mass_gev)

    def background(self, region: str = "signal") -> dict:
        """Expected background events per p* cell of each class at the Upsilon(4S) in E_ECL ``region``."""
        return {c: pred.expected(region) for c, pred in self.predictions.items()}


def _signal_grid(tables, specs, ds: Dataset, window_sigma: float):
    """Centre and width of the p*_Lambda peak at every simulated mass (all selected events: a Lambda
    of the wrong tracks included), and the expected events in the window (+-``window_sigma`` widths
    about the two-body momentum) in the E_ECL signal region and sideband for B = 1."""
    rows = []
    for spec in specs:
        if spec.kind != "signal":
            continue
        t = tables[spec.name]
        m = spec.config["mass_gev"]
        tight = _good_tag(t) & _tight_side(t, E_ECL_SIGNAL_GEV)
        if tight.sum() < 15:
            raise EmptySelectionError(f"only {int(tight.sum())} simulated signal events at m_psi_D = {m} GeV pass the "
                                      "selection; raise n_signal_events")
        _, width = peak_summary(t["p_star"][tight], t["weight"][tight])
        centre = float(lambda_momentum_gev(m))
        inside = np.abs(t["p_star"] - centre) < window_sigma * width
        side = _good_tag(t) & _tight_side(t, E_ECL_SIDEBAND_GEV) & inside
        per_unit = float(t["weight"][tight & inside].sum()) / BR_REF
        rows.append((m, centre, width, per_unit, float(t["weight"][side].sum()) / BR_REF))
    rows.sort()
    m, centre, width, per_unit, per_unit_side = (np.array(v) for v in zip(*rows))
    # efficiency: of the B0 (or B0bar) decays to Lambda psi_D (Lambda -> p pi- included)
    n_decays = ds.n_bb_pairs * (1 - b_decays.F_CHARGED) * 2
    return m, centre, width, per_unit, per_unit_side, per_unit / n_decays, per_unit_side / n_decays


def _read(path, ds: Dataset, *, cache_dir):
    nominal = None if ds.experiment.nominal else experiment(ds.experiment.name).sqrt_s_gev

    def make(source):
        events = read_events(source, branches=ds.branches, tracks=True)
        return candidate_table(events, ds.experiment.beams, nominal_sqrt_s_gev=nominal)

    return read_table(path, make, cache_dir=cache_dir, key=(ds.branches, repr(ds.experiment.beams), nominal))


def _prediction_half(data_source: str) -> int | None:
    """The half of the simulation the prediction comes from: the first with pseudo-data (the second is
    their truth), all of it (None) with real data (``data_source`` "ntuple")."""
    return 0 if data_source == "pseudo-data" else None


def _predictions(tables, specs, ds: Dataset, folder, which: int | None) -> dict:
    """The factorised prediction of each background class from one half of the simulation (``which``
    0 or 1), or from all of it (None)."""
    out = {}
    label = {0: "prediction", 1: "truth", None: "all"}[which]
    for cls, prefix in CLASSES.items():
        rows = [_halves(tables[s.name], which) for s in specs if s.kind == "background" and s.name.startswith(prefix)]
        pred = class_prediction(rows, folder=folder, luminosity_pb=ds.luminosity_pb,
                                name=f"{cls}_{ds.experiment.tag}_{label}")
        if pred is not None:
            out[cls] = pred
    return out


def _counted(table, regions) -> np.ndarray:
    """Data events per p* cell in each E_ECL region (columns) after the selection."""
    t = table
    cols = [np.histogram(t["p_star"][_good_tag(t) & _tight_side(t, r)], P_EDGES)[0] for r in regions]
    return np.stack(cols, axis=-1).astype(float)


def prepare(dataset_name: str, *, seed: int, n_signal_events: int, max_mc_events: int, window_sigma: float = 2.0,
            progress=True, specs=None) -> LambdaInputs:
    """Simulate (or reuse) the ntuples of the dataset and of its off-resonance partner, build the
    candidates, the signal grid and the factorised background predictions, and count the data (or
    draw pseudo-data from the model of the truth, :func:`~analysis_lib.analysis.samples.truth_expectation`
    of the two halves' predictions, per dataset). With real data all of the simulation makes the
    prediction; with pseudo-data its first half, the second the truth's model."""
    ds = dataset(dataset_name)
    if ds.below_bb_threshold:
        raise ParameterError(f"dataset {ds.name!r} is below the B Bbar threshold; give its Upsilon(4S) partner")
    off = ds.off_resonance_dataset() if ds.off_resonance else None
    specs = sample_specs(ds, n_signal_events=n_signal_events, max_mc_events=max_mc_events) if specs is None else specs
    off_specs = off_resonance_specs(off, max_mc_events=off_events(max_mc_events)) if off is not None else []
    config = production_config()
    paths = ntuple_paths(specs, ds, seed=seed, config=config, progress=progress)
    folder = work_dir(ds, seed)
    tables = {s.name: _read(paths[s.name], ds, cache_dir=folder) for s in specs}
    off_tables = {}
    if off is not None:
        off_paths = ntuple_paths(off_specs, off, seed=seed, config=config, progress=progress)
        off_tables = {s.name: _read(off_paths[s.name], off, cache_dir=work_dir(off, seed)) for s in off_specs}
    masses, centres, widths, per_unit, per_unit_side, eff, eff_side = _signal_grid(tables, specs, ds, window_sigma)
    half = _prediction_half("ntuple" if "data" in paths else "pseudo-data")
    predictions = _predictions(tables, specs, ds, folder, half)
    off_predictions = _predictions(off_tables, off_specs, off, work_dir(off, seed), half) if off is not None else {}
    flows = {}
    for s in specs:
        _, flows[s.label] = selection().apply(tables[s.name], weights=tables[s.name]["weight"])
    regions = (E_ECL_SIGNAL_GEV, E_ECL_SIDEBAND_GEV)
    truth = {}
    if "data" not in paths:
        truth = _predictions(tables, specs, ds, folder, 1)

        def expected_on(preds):
            return np.stack([sum(p.expected(r) for p in preds.values()) for r in E_REGIONS], axis=-1)

        data = draw_pseudo_data(truth_expectation(expected_on(predictions), expected_on(truth)), ds, seed)
        off_data = None
        if off is not None:
            off_truth = _predictions(off_tables, off_specs, off, work_dir(off, seed), 1)

            def expected_off(preds):
                return sum(p.expected(r) for p in preds.values() for r in E_REGIONS)

            off_data = draw_pseudo_data(truth_expectation(expected_off(off_predictions), expected_off(off_truth)),
                                        off, seed)
        source = "pseudo-data"
    else:
        data_table = _read(paths["data"], ds, cache_dir=None)
        mask, flows["data"] = selection().apply(data_table, weights=np.ones(len(data_table["weight"])))
        require_events(_good_tag(data_table) & (data_table["n_lambda"] > 0), what=f"the data of {ds.name}")
        tables["data"] = data_table
        data = _counted(data_table, regions)
        off_data = None
        if off is not None:
            off_table = _read(ntuple_paths([], off, seed=seed, config=config, progress=False)["data"], off, cache_dir=None)
            off_tables["data"] = off_table
            off_data = _counted(off_table, regions).sum(axis=1)
        source = "ntuple"
    return LambdaInputs(
        dataset=ds, seed=seed, data_source=source, cut_flow=cut_flow_table(flows),
        backgrounds={s.name: s.label for s in specs if s.kind == "background"}, off_dataset=off,
        masses=masses, centres=centres, widths=widths, efficiency=eff, efficiency_sideband=eff_side,
        signal_per_unit=per_unit, signal_per_unit_sideband=per_unit_side, predictions=predictions,
        off_predictions=off_predictions, truth_predictions=truth, data=data, off_data=off_data, window_sigma=window_sigma,
        tables={"on": tables, "off": off_tables},
        n_generated={s.name: read_meta(paths[s.name]).get("n_generated", s.n_events) for s in specs},
    )


def off_events(max_mc_events: int) -> int:
    """Simulated continuum events of the off-resonance partner: :data:`OFF_RESONANCE_SHARE` of the
    Upsilon(4S) dataset's background simulation."""
    return max(int(OFF_RESONANCE_SHARE * max_mc_events), 4000)


# ---------------------------------------------------------------------------------------------
# windows and limits


def window_edges(inputs: LambdaInputs, mass_gev: float) -> tuple[float, float]:
    """The p* window at ``mass_gev`` (GeV): +-``window_sigma`` resolutions about the two-body momentum."""
    centre = float(lambda_momentum_gev(mass_gev))
    half = inputs.window_sigma * inputs.resolution_gev(mass_gev)
    return centre - half, centre + half


def window_cells(inputs: LambdaInputs, mass_gev: float) -> tuple[int, int]:
    """The p* cells [i0, i1) of the window: its edges rounded to the nearest cell edge (half a cell,
    0.5 MeV, at most), where the data are counted and the background predicted."""
    low, high = window_edges(inputs, mass_gev)
    step = P_EDGES[1] - P_EDGES[0]
    i0, i1 = (int(v) for v in np.round((np.array([low, high]) - P_EDGES[0]) / step))
    i0 = min(max(i0, 0), len(P_EDGES) - 2)
    return i0, min(max(i1, i0 + 1), len(P_EDGES) - 1)


def window(inputs: LambdaInputs, mass_gev: float) -> CountingWindow:
    """The counting window at ``mass_gev`` with its control regions (:class:`~analysis_lib.analysis.counting.ControlRegion`):
    the same p* window in the E_ECL sideband, and below the Upsilon(4S) (where the dataset has an
    off-resonance partner) in both E_ECL regions, whose prediction is the continuum's alone. One
    normalisation of the background, with the prior :data:`BACKGROUND_PRIOR`, is measured by the
    three counts together; each region's prediction carries the uncertainties the others do not
    share (its E_ECL fractions; below the resonance its own simulation; and the composition, as the
    regions hold different shares of B Bbar: :data:`COMPOSITION_UNCERTAINTY`). Each region's are
    independent of the others' in the model, although the composition moves the sideband and the
    off-resonance region together (in opposite senses where the sideband holds more B Bbar than the
    window, where treating them as independent is conservative)."""
    mass_gev = float(mass_gev)
    if not inputs.masses[0] <= mass_gev <= inputs.masses[-1]:
        raise KinematicError(f"m_psi_D = {mass_gev} GeV is outside the simulated range {inputs.masses[0]}-"
                             f"{inputs.masses[-1]} GeV")
    i0, i1 = window_cells(inputs, mass_gev)
    low, high = float(P_EDGES[i0]), float(P_EDGES[i1])
    preds = inputs.predictions
    parts = {region: {c: p.window(i0, i1, region) for c, p in preds.items()} for region in E_REGIONS}
    b_sr = sum(v[0] for v in parts["signal"].values())
    b_sb = sum(v[0] for v in parts["sideband"].values())

    def spread(region):  # the E_ECL shares' uncertainties, by class, relative to the region's total
        total = sum(v[0] for v in parts[region].values())
        return float(np.sqrt(sum((v[0] * preds[c].energy[region][1]) ** 2
                                 for c, v in parts[region].items()))) / max(total, 1e-300)

    share_bb = parts["signal"]["bb"][0] / max(b_sr, 1e-300) if "bb" in parts["signal"] else 0.0
    # the composition (COMPOSITION_UNCERTAINTY): the ratio's model uncertainty and the statistical
    # uncertainties of what each class's window and sideband share, its tag and two-track shares and
    # its p* share, which one normalisation cancels only in the window's proportions
    composition = float(np.sqrt(COMPOSITION_UNCERTAINTY**2 + sum(p.common**2 + parts["signal"][c][1] ** 2
                                                                 for c, p in preds.items())))
    share_bb_side = parts["sideband"]["bb"][0] / max(b_sb, 1e-300) if "bb" in parts["sideband"] else 0.0
    controls = [ControlRegion(name="E_ECL sideband", background=b_sb,
                              counts=float(inputs.data[i0:i1, 1].sum()),
                              signal_per_unit=inputs.interpolate(inputs.signal_per_unit_sideband, mass_gev),
                              uncertainty=float(np.hypot(spread("sideband"), (share_bb_side - share_bb) * composition)))]
    off = inputs.off_predictions.get("continuum")
    if off is not None and inputs.off_data is not None:
        pieces = [off.window(i0, i1, r) for r in E_REGIONS]
        b_off = sum(v[0] for v in pieces)
        # what the off-resonance prediction does not share with the window's: its own simulation (p*
        # share, tag, two tracks, E_ECL in either region) and the on-resonance continuum's p* share,
        # tag and two-track shares (those the E_ECL sideband shares with the window); and the B Bbar
        # that only the window holds, through the composition
        on = preds.get("continuum")
        energy = float(np.hypot(*(off.energy[r][1] * v[0] for r, v in zip(E_REGIONS, pieces)))) / max(b_off, 1e-300)
        own = [pieces[0][1], off.common, energy]
        if on is not None:
            own += [parts["signal"]["continuum"][1], on.common]
        # the B Bbar's own statistics enter through the composition; the continuum's are in ``own`` at
        # full weight, not (1 - its B Bbar share): conservative
        bb = np.hypot(preds["bb"].common, parts["signal"]["bb"][1]) if "bb" in preds else 0.0
        controls.append(ControlRegion(name="off resonance", background=b_off,
                                      counts=float(inputs.off_data[i0:i1].sum()),
                                      uncertainty=float(np.sqrt(sum(u * u for u in own)
                                                                + (share_bb * np.hypot(COMPOSITION_UNCERTAINTY, bb)) ** 2))))
    signal = inputs.interpolate(inputs.signal_per_unit, mass_gev)
    return CountingWindow(
        mass_gev=mass_gev, ranges={"p_star": (low, high), "e_ecl": E_ECL_SIGNAL_GEV},
        efficiency=np.atleast_1d(inputs.interpolate(inputs.efficiency, mass_gev)),
        signal_per_unit=np.atleast_1d(signal), background=np.atleast_1d(b_sr),
        background_uncertainty=np.atleast_1d(b_sr * spread("signal")),
        simulated_background=float(sum(p.simulated[i0:i1].sum() for p in preds.values())),
        counts=np.atleast_1d(float(inputs.data[i0:i1, 0].sum())), controls=tuple(controls),
        normalisation_prior=BACKGROUND_PRIOR,
    )


def scan_masses(inputs: LambdaInputs, *, mass_min_gev: float, mass_max_gev: float, step_sigma: float) -> np.ndarray:
    """psi_D masses from ``mass_min_gev`` to ``mass_max_gev`` whose p*_Lambda differ by ``step_sigma``
    resolutions."""
    if mass_min_gev >= mass_max_gev:
        raise ParameterError(f"mass_min_gev={mass_min_gev} must be below mass_max_gev={mass_max_gev}")
    masses, m = [], float(mass_min_gev)
    while m < mass_max_gev - 1e-6:
        masses.append(m)
        slope = abs(float(lambda_momentum_gev(m + 1e-4) - lambda_momentum_gev(m))) / 1e-4
        m += step_sigma * inputs.resolution_gev(m) / max(slope, 1e-3)
    if masses[-1] < mass_max_gev - 1e-6:
        masses.append(float(mass_max_gev))
    return np.array(masses)


def _window_model(inputs, mass_gev):
    return counting_model(window(inputs, mass_gev))


@dataclass(frozen=True)
class _ScaledModels:
    """The models of :func:`window` at ``scale`` times the run's luminosity, their counts the
    prediction the control regions measure (:func:`~analysis_lib.analysis.counting.scaled_window`;
    picklable)."""

    inputs: LambdaInputs
    scale: float
    systematics: bool

    def __call__(self, mass_gev):
        return counting_model(scaled_window(window(self.inputs, mass_gev), self.scale, self.systematics))


def analyse(inputs: LambdaInputs, *, mass_min_gev, mass_max_gev, mass_step_sigma, n_toys=2000, progress=True,
            client=None) -> dict:
    """90% CL CLs upper limits on B(B0 -> Lambda psi_D) (Lambda -> p pi- and the charge conjugate
    included) at the masses of :func:`scan_masses`, from pseudo-experiments everywhere
    (:class:`~analysis_lib.analysis.scan.ToyCLs`: the windows hold a few events). The expected
    limits are those of the background the control regions measure (the window's own count left out:
    :func:`~analysis_lib.analysis.counting.scaled_window` at the run's luminosity, the construction
    of the sensitivity curve at its own point)."""
    masses = scan_masses(inputs, mass_min_gev=mass_min_gev, mass_max_gev=mass_max_gev, step_sigma=mass_step_sigma)
    calculator = ToyCLs(partial(_window_model, inputs), CL, n_toys=n_toys, seed=inputs.seed,
                        expected_build=_ScaledModels(inputs, 1.0, True))
    br = scan_limits(masses, calculator, quantity="br_b0_lambda_psi", unit="", cl=CL, mass_name="m_psi_D",
                     progress=progress, client=client, workspaces=True)
    return {"br": br}


def luminosity_scan(inputs: LambdaInputs, points, *, n_toys=2000, client=None):
    """Expected limits at ``points`` (psi_D masses) from 0.1 fb^-1 to 50 ab^-1: the run's windows and
    control regions at scaled luminosities (the off-resonance share kept), from pseudo-experiments."""
    def calculator_at(scale, systematics):
        return ToyCLs(_ScaledModels(inputs, scale, systematics), CL, n_toys=n_toys, seed=inputs.seed)

    return sensitivity(calculator_at, np.asarray(points, dtype=float), reference_fb=inputs.dataset.luminosity_fb,
                       quantity="br_b0_lambda_psi", unit="", cl=CL, mass_name="m_psi_D", client=client)


def feldman_cousins(inputs: LambdaInputs, masses_gev) -> pd.DataFrame:
    """The cross-check of the CLs limits at ``masses_gev``: the upper end of the 90% CL Feldman-Cousins
    interval of B for the window's count with the background the control regions measure taken as
    known (:func:`~analysis_lib.analysis.counting.feldman_cousins_limit`), per mass."""
    rows = []
    for m in np.atleast_1d(masses_gev):
        w = window(inputs, float(m))
        b, u = window_background(w)
        rows.append({"m_psi_D [GeV]": float(m), "observed": float(np.sum(w.counts)), "background": b,
                     "background uncertainty": u, "Feldman-Cousins (known background)": feldman_cousins_limit(w, cl=CL)})
    return pd.DataFrame(rows)


def window_table(inputs: LambdaInputs, masses_gev) -> pd.DataFrame:
    """The window, its signal and the background of each region at ``masses_gev``."""
    rows = []
    for m in np.atleast_1d(masses_gev):
        w = window(inputs, float(m))
        row = {"m_psi_D [GeV]": float(m), "p* window [GeV]": "%.3f-%.3f" % w.ranges["p_star"],
               "efficiency": float(w.efficiency[0]), "signal at B = 1e-5": 1e-5 * float(w.signal_per_unit[0]),
               "background": float(w.background[0]),
               "uncertainty": float(w.background_uncertainty[0]), "observed": float(w.counts[0])}
        for c in w.controls:
            row[f"{c.name}: predicted"] = c.background
            row[f"{c.name}: observed"] = c.counts
        rows.append(row)
    return pd.DataFrame(rows)


def closure_table(inputs: LambdaInputs) -> pd.DataFrame:
    """The factorisation against the direct count of the simulation (the prediction's part), over all
    p*, per class and E_ECL region: predicted events, and the selected simulated events with their
    weighted sum and its Poisson uncertainty."""
    rows = []
    for cls, prefix in CLASSES.items():
        if cls not in inputs.predictions:
            continue
        names = [n for n in inputs.backgrounds if n.startswith(prefix)]
        for region, edges in E_REGIONS.items():
            w, n = 0.0, 0
            w2 = 0.0
            for name in names:
                t = _halves(inputs.tables["on"][name], _prediction_half(inputs.data_source))
                sel = _good_tag(t) & _tight_side(t, edges) & np.isfinite(t["p_star"])
                w += float(t["weight"][sel].sum())
                w2 += float((t["weight"][sel] ** 2).sum())
                n += int(sel.sum())
            rows.append({"class": cls, "E_ECL region": region,
                         "factorised": float(inputs.predictions[cls].expected(region).sum()),
                         "direct": w, "direct uncertainty": float(np.sqrt(w2)), "simulated events": n})
    return pd.DataFrame(rows)


#: The distributions the chapter draws: variable -> (edges, axis label, the selection's cut it leaves out).
FIGURE_VARIABLES = {
    "mbc": (np.linspace(5.2, 5.29, 31), r"tag $m_\mathrm{bc}$ [GeV]", "tag"),
    "e_ecl": (np.linspace(0.0, 1.2, 25), r"$E_\mathrm{ECL}$ [GeV]", "e_ecl"),
    "lambda_mass": (np.linspace(mass_gev(LAMBDA) - 0.005, mass_gev(LAMBDA) + 0.005, 21), r"$M(p\pi^-)$ [GeV]", None),
    "p_star": (np.linspace(0.0, 2.7, 55), r"$p^*_\Lambda$ [GeV]", None),
}


def expected_histograms(inputs: LambdaInputs, variable: str, *, truth: bool = False) -> dict:
    """Expected background events of each class per bin of ``variable`` (:data:`FIGURE_VARIABLES`)
    after the selection without the cut on that variable (for m_bc the tag's quality, m_bc and Delta
    E), from the factorisation of :func:`class_prediction`: the class's selected total times the
    shape of the variable in its loose events (for E_ECL: those with at most :data:`E_ECL_TRACKS_MAX`
    ROE tracks, as the factorisation). ``truth``: from the half of the simulation the pseudo-data are
    drawn from (pseudo-data only)."""
    edges, _, left_out = FIGURE_VARIABLES[variable]
    which, predictions = ((1, inputs.truth_predictions) if truth
                          else (_prediction_half(inputs.data_source), inputs.predictions))
    out = {}
    for cls, pred in predictions.items():
        if variable == "p_star":
            counts = np.add.reduceat(pred.expected("signal"), np.searchsorted(P_EDGES, edges[:-1]))
            out[cls] = counts[: len(edges) - 1]
            continue
        rows = [_halves(inputs.tables["on"][n], which) for n in inputs.backgrounds if n.startswith(CLASSES[cls])]
        t = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
        keep = np.isfinite(t["p_star"]) & (t["p_star"] >= P_EDGES[0]) & (t["p_star"] < P_EDGES[-1])
        if left_out == "tag":
            total = pred.loose * pred.side["signal"][0]
        elif left_out == "e_ecl":
            total = pred.loose * pred.tag[0] * pred.two[0]
            keep &= t["n_roe_tracks"] <= E_ECL_TRACKS_MAX
        else:
            total = pred.loose * pred.tag[0] * pred.side["signal"][0]
        shape, _ = np.histogram(t[variable][keep], edges, weights=t["weight"][keep])
        out[cls] = total * shape / max(float(t["weight"][keep].sum()), 1e-300)
    return out


def data_histogram(inputs: LambdaInputs, variable: str) -> np.ndarray:
    """The data of a figure of ``variable``: real data selected as :func:`expected_histograms` (every
    cut but the variable's); pseudo-data drawn from the model of the truth (from the other half of the
    simulation, :func:`~analysis_lib.analysis.samples.truth_expectation`, as the run's data) from the dataset's stream of that figure; for p*_Lambda the
    run's own data."""
    edges, _, left_out = FIGURE_VARIABLES[variable]
    if variable == "p_star":
        return np.add.reduceat(inputs.data[:, 0], np.searchsorted(P_EDGES, edges[:-1]))[: len(edges) - 1]
    if inputs.data_source != "ntuple":
        expected = truth_expectation(sum(expected_histograms(inputs, variable).values()),
                                     sum(expected_histograms(inputs, variable, truth=True).values()))
        return pseudo_data_rng(inputs.dataset, inputs.seed, stream=f"figure-{variable}").poisson(expected).astype(float)
    t = inputs.tables["on"]["data"]
    keep = (t["n_lambda"] > 0) & (t["n_roe_tracks"] == ROE_TRACKS)
    if left_out != "tag":
        keep &= _good_tag(t)
    if left_out != "e_ecl":
        keep &= _in(t, E_ECL_SIGNAL_GEV)
    return np.histogram(t[variable][keep], edges)[0].astype(float)


def signal_histogram(inputs: LambdaInputs, variable: str, mass_gev: float, branching_fraction: float) -> np.ndarray:
    """Expected signal events per bin of ``variable`` at the simulated mass nearest ``mass_gev`` for
    ``branching_fraction``, selected as :func:`expected_histograms`."""
    edges, _, left_out = FIGURE_VARIABLES[variable]
    names = [n for n in inputs.tables["on"] if n.startswith("signal_m")]
    name = min(names, key=lambda n: abs(float(n.removeprefix("signal_m")) - mass_gev))
    t = inputs.tables["on"][name]
    keep = (t["n_lambda"] > 0) & (t["n_roe_tracks"] == ROE_TRACKS)
    if left_out != "tag":
        keep &= _good_tag(t)
    if left_out != "e_ecl":
        keep &= _in(t, E_ECL_SIGNAL_GEV)
    return np.histogram(t[variable][keep], edges, weights=t["weight"][keep])[0] * branching_fraction / BR_REF


# ---------------------------------------------------------------------------------------------
# the channel


@register
class BToLambdaInvisible(Channel):
    """Belle B0 -> Lambda psi_D with a hadronic tag: counting in p*_Lambda windows with E_ECL and
    off-resonance control regions, CLs limits from pseudo-experiments."""

    name = NAME
    title = "Belle: B⁰ → Λψ_D, the B-mesogenesis dark baryon, with a hadronic tag"
    notebook = "belle_b_to_lambda_invisible.ipynb"
    cl = CL
    parameters = PARAMETERS
    published_ranges = PUBLISHED_RANGES
    sensitivity_points = (1.5, 2.5, 3.5)
    paper = "Belle, Phys. Rev. D 105 (2022) L051101, arXiv:2110.14086"
    status = "in progress"
    overview = (Overview("br_b0_lambda_psi", published="br", label=r"$B^0\to\Lambda\psi_D$"),)

    window = staticmethod(window)
    window_table = staticmethod(window_table)
    closure_table = staticmethod(closure_table)
    expected_histograms = staticmethod(expected_histograms)
    data_histogram = staticmethod(data_histogram)
    signal_histogram = staticmethod(signal_histogram)
    figure_variables = FIGURE_VARIABLES
    feldman_cousins = staticmethod(feldman_cousins)
    selection = staticmethod(selection)

    def samples(self, params):
        return sample_specs(self.dataset(params), n_signal_events=params["n_signal_events"],
                            max_mc_events=params["max_mc_events"])

    def sample_requests(self, params):
        """The samples of the dataset and, where it has one, of its off-resonance partner."""
        ds = self.dataset(params)
        if not ds.simulated:
            return []
        out = requests(self.samples(params), ds, seed=params["seed"], config=self.production(params))
        if ds.off_resonance:
            off = ds.off_resonance_dataset()
            out += requests(off_resonance_specs(off, max_mc_events=off_events(params["max_mc_events"])), off,
                            seed=params["seed"], config=self.production(params))
        return out

    def production(self, params):
        return production_config()

    def prepare(self, params, *, progress=True):
        return prepare(params["dataset"], seed=params["seed"], n_signal_events=params["n_signal_events"],
                       max_mc_events=params["max_mc_events"], window_sigma=params["window_sigma"], progress=progress,
                       specs=self.samples(params))

    def analyse(self, inputs, params, *, progress=True, client=None):
        return analyse(inputs, mass_min_gev=params["mass_min_gev"], mass_max_gev=params["mass_max_gev"],
                       mass_step_sigma=params["mass_step_sigma"], n_toys=params["n_toys"], progress=progress,
                       client=client)

    def luminosity_scan(self, inputs, params, *, client=None):
        points = points_in_range(self.sensitivity_points, params["mass_min_gev"], params["mass_max_gev"])
        return luminosity_scan(inputs, points, n_toys=params["n_toys"], client=client)

    def reference_for(self, key: str, ds: Dataset):
        """The published result a run on ``ds`` is compared with: BaBar's for a BaBar dataset."""
        return BABAR_RANGE if ds.experiment.name == "babar" and key == "br" else self.reference(key)
