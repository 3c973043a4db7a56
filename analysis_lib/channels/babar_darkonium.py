"""BaBar: darkonium, e+e- -> gamma_ISR Upsilon_D, Upsilon_D -> A' A' A', A' -> e+e-, mu+mu-, pi+pi-, arXiv:2106.08529.

What this search declares: its signal on a grid of (m_Upsilon_D, m_A'), the six-track backgrounds of
:mod:`analysis_lib.simulation.darkonium`, the shared pairing of six tracks into three A' candidates
(:mod:`analysis_lib.reco.pairing`), and a count in two-dimensional windows of the mean pair mass and
the six-track mass, summed over the datasets of a combination (each at its own sqrt(s)).

The paper's selection is not public beyond its abstract; this chapter's, modelled on what the abstract
and the model paper say the signal is:

1. exactly six tracks of zero total charge, paired into three oppositely charged pairs with a species
   hypothesis each (e, mu or pi, restricted by the identification): the pairing whose masses agree best,
   chi^2 = sum (m_i - m_bar)^2 / sigma(m_i)^2 with :func:`pair_mass_resolution_gev`;
2. *loose*: chi^2 < :data:`LOOSE_CHI2_MAX`; *tight*: chi^2 < :data:`CHI2_MAX` (two degrees of freedom),
   the initial-state photon seen and matching the recoil where the recoil points at the calorimeter,
   the recoil's squared mass compatible with one photon and little other neutral energy;
3. at every hypothesis (m_A', m_Upsilon_D), a window of +-``window_sigma`` resolutions in the mean
   pair mass m_bar and in the six-track mass M_6, the resolutions and the efficiencies interpolated
   between the simulated points;
4. the background in a window of each dataset: a smooth density of the loose events in (log10 m_bar,
   M_6) (P-splines, :func:`analysis_lib.analysis.counting.smooth_backgrounds`, on the physical region
   M_6 >= 3 m_bar) times the measured share of loose events that pass the tight selection as a function
   of M_6 (a factorisation: the pairing and the photon requirements select the event's topology, not
   its pair mass; measured closure in the chapter);
5. the datasets' windows combined as one count (their summed signal, background and events), a 90%
   credibility upper limit with a uniform prior in the signal and the uncertainties marginalised (the
   factorisation's uncertainty common to all datasets, the statistical ones not). The summed count is
   the whole likelihood's sufficient statistic where signal and background keep one ratio across the
   datasets; they do within 10% below m_Upsilon_D = 7 GeV, but near the largest masses the radiator
   favours the lower energies (the signal-to-background ratio of the Upsilon(2S) data is 1.5-2 times the
   Upsilon(4S)'s at 9-9.5 GeV), where the sum gives up some of the combination's power (never coverage);
6. the limit on the visible production width, Gamma(Upsilon_D -> e+e-) B(Upsilon_D -> 3A')
   B(A' -> e+e-, mu+mu-, pi+pi-)^3 for prompt A' decays, in eV: independent of alpha_D; and from it the
   limit on epsilon at each alpha_D of :data:`ALPHA_D` where the darkonium binds, with the A' lifetime
   that epsilon gives (the efficiency measured at the lifetimes of :data:`CTAU_MM` and interpolated).

A twentieth of each dataset's luminosity (:data:`OPTIMISATION_FRACTION`) is set apart, as the paper
set apart 5% of its data to optimise the selection: its pseudo-data are compared with the prediction
and not used for the limits, which are those of the remaining 95%.

Pseudo-data: the simulated backgrounds are split in two halves; one makes the prediction, the other the
model of the truth (the same construction, its difference from the prediction scaled by 1 / sqrt(2):
:func:`~analysis_lib.analysis.samples.truth_expectation`), from which the data are one Poisson draw per
cell, each event placed uniformly in its cell. Real data are read from each dataset's ``data.root``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np
import pandas as pd
from scipy.interpolate import RegularGridInterpolator

from ..analysis.counting import (
    MIN_SIMULATED_BACKGROUND,
    BayesianCounting,
    CountingWindow,
    ScaledWindows,
    smooth_backgrounds,
    smoothed_once,
    summed_area,
)
from ..analysis.inputs import Inputs
from ..analysis.samples import ntuple_paths, pseudo_data_rng, read_table, truth_expectation, work_dir
from ..analysis.scan import scan_limits
from ..analysis.sensitivity import sensitivity
from ..analysis.signal_shape import peak_summary
from ..core.errors import EmptySelectionError, KinematicError, ParameterError
from ..core.parameters import LUMINOSITY_SCAN, SEED, Parameter
from ..detector.datasets import Dataset, dataset, dataset_parameter
from ..detector.material import layers
from ..io.ntuple import read_events, read_meta
from ..physics import dark_photon, darkonium
from ..reco.conversions import conversion_pairs
from ..reco.pairing import pair_candidates, recoil_photon
from ..reco.selection import cut_flow_table
from ..simulation.darkonium import PAIR_CHANNELS, background_specs, generate_darkonium, skim
from ..simulation.production import ProductionConfig, SampleSpec, requests
from ..stats.pspline import Basis
from .base import Channel, Overview, register

__all__ = [
    "ALPHA_D", "CL", "CTAU_MM", "PARAMETERS", "DarkoniumInputs", "Darkonium", "analyse", "conversion_mass_table",
    "efficiency_table",
    "epsilon_limit", "pair_mass_resolution_gev", "physics_table", "prepare", "sample_specs", "scan_points", "window",
]

log = logging.getLogger(__name__)

NAME = "babar_darkonium"
#: The two masses of a hypothesis, as tables and legends name them (the figures' axes write them as TeX).
MASS_NAME, MASS2_NAME = "m_A'", "m_Upsilon_D"
#: Confidence (credibility) level of the limits (the paper's 90%; its construction is not public).
CL = 0.90
#: The dark couplings whose epsilon limits the chapter gives (the paper's values were not found: the
#: issue's fallback), each a result of its own (``eps_alpha_d_0p5``).
ALPHA_D = (0.1, 0.3, 0.5)
#: Lowest A' mass of the chapter (GeV). Visible decays need m_A' > 2 m_e; below about 20 MeV the two
#: tracks of an e+e- pair open by less than 2 m_A' / E_A' ~ 10 mrad, where the pair's vertex no longer
#: tells it from a photon conversion and a detector model without two-track resolution cannot be
#: trusted (BaBar's preliminary result started at 20 MeV too: EPS-HEP 2021, G. Eigen, PoS 398 (2022)
#: 184; the publication goes to 1 MeV).
MASS_A_MIN_GEV = 0.02
#: The largest A' mass of a darkonium of mass M is M / :data:`MASS_RATIO_MAX` (three A' need M > 3 m_A';
#: the margin keeps the A' from being at rest, where the pairs carry no momentum of their own).
MASS_RATIO_MAX = 3.3
#: Simulated darkonium masses (GeV) and, at each, A' masses at these fractions of the logarithmic range
#: from :data:`MASS_A_MIN_GEV` to M / :data:`MASS_RATIO_MAX`: efficiencies and resolutions are
#: interpolated in (M, fraction). Below 1 GeV the darkonium follows its photon along the beams and
#: six tracks are seen in 1-3% of the events (the chapter starts at 1 GeV, as the preliminary result).
SIGNAL_MASSES_GEV = (1.0, 2.0, 3.5, 5.0, 6.5, 8.0, 9.5)
SIGNAL_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: The A' proper decay lengths (mm) at which the signal efficiency is measured: each signal sample holds
#: an equal share of events at each (:func:`~analysis_lib.simulation.darkonium.generate_darkonium`); the
#: efficiency is interpolated by :func:`_lifetime_interpolation`.
CTAU_MM = (0.0, 0.1, 1.0, 10.0)
#: chi^2 of the pair masses: the loose selection (the background densities) and the tight one.
LOOSE_CHI2_MAX = 100.0
CHI2_MAX = 9.21
#: The recoil against the tracks: one photon, |M_recoil^2| < this (GeV^2) ...
RECOIL_MASS2_MAX = 1.5
#: ... and the other photon candidates' energy below this (GeV).
EXTRA_ENERGY_MAX = 0.2
#: The conversion veto (:mod:`analysis_lib.reco.conversions`): an event is rejected where a pair of
#: oppositely charged tracks meets beyond :func:`conversion_min_radius_mm` with a mass there (electron
#: hypothesis) below this (GeV), half the chapter's lowest A' mass.
CONVERSION_MASS_MAX_GEV = MASS_A_MIN_GEV / 2
#: Share of each dataset's luminosity set apart to optimise the selection (the paper's 5%).
OPTIMISATION_FRACTION = 0.05
#: Relative uncertainty of the signal (luminosity, tracking of six tracks, identification).
SIGNAL_SYSTEMATIC = 0.10
#: Relative uncertainty of the factorised background (loose density times tight share), beside the
#: statistical uncertainties of its two factors: the measured closure of the factorisation (the
#: chapter shows it) is within it.
FACTORISATION_SYSTEMATIC = 0.30
#: Background maps: log10 of the mean pair mass and the six-track mass (GeV).
LOG_MASS_EDGES = np.linspace(np.log10(0.015), np.log10(3.5), 1201)
MASS6_EDGES = np.linspace(0.0, 10.6, 1061)
#: The smooth loose densities: cubic B-splines with this many segments along each axis, fitted on
#: cells joining 10 x 10 map cells.
SEGMENTS = (20, 22)
JOIN = (10, 10)
#: The tight share of loose events is measured in bins of M_6 holding at least this many tight
#: simulated events.
SHARE_MIN_EVENTS = 2 * MIN_SIMULATED_BACKGROUND

_SOURCE = ("BaBar, Phys. Rev. Lett. 128 (2022) 021802, arXiv:2106.08529, abstract: 514 fb^-1, limits on the "
           "kinetic mixing for 0.001 < m_A' < 3.16 GeV and 0.05 < m_Upsilon_D < 9.5 GeV")
#: What was found of the published result: its ranges (no limit value; the paper's figures were not
#: available).
PUBLISHED_MASS_RANGES = {"m_A' [GeV]": (0.001, 3.16), "m_Upsilon_D [GeV]": (0.05, 9.5), "source": _SOURCE}


def pair_mass_resolution_gev(mass_gev):
    """The resolution of one pair's mass in BaBar's model, 3 MeV in quadrature with 0.35% of the mass,
    used in the pairing's chi^2: a fit to within 20% of the widths measured on simulated prompt
    darkonium decays (half the central 68% of single pairs' masses about the A' mass: 3.0-3.3 MeV at
    20-100 MeV for darkonium masses of 2 to 9.5 GeV, the multiple scattering of the tracks' directions in
    the beam pipe and first silicon layer, independent of the pair's energy; 2.5-2.8 MeV at 0.3 GeV,
    4.1-4.9 at 1 GeV, 8.7 at 2.5 GeV)."""
    return np.hypot(3.0e-3, 3.5e-3 * np.asarray(mass_gev, dtype=float))


def max_mass_a(darkonium_mass_gev):
    """The largest A' mass of the chapter at m_Upsilon_D: M / :data:`MASS_RATIO_MAX`."""
    return np.asarray(darkonium_mass_gev, dtype=float) / MASS_RATIO_MAX


def mass_a_at(darkonium_mass_gev, fraction):
    """The A' mass at ``fraction`` of the logarithmic range from :data:`MASS_A_MIN_GEV` to
    :func:`max_mass_a`."""
    top = max_mass_a(darkonium_mass_gev)
    return MASS_A_MIN_GEV * (top / MASS_A_MIN_GEV) ** np.asarray(fraction, dtype=float)


def fraction_of(darkonium_mass_gev, mass_a_gev):
    """The inverse of :func:`mass_a_at`."""
    top = max_mass_a(darkonium_mass_gev)
    return np.log(np.asarray(mass_a_gev, dtype=float) / MASS_A_MIN_GEV) / np.log(top / MASS_A_MIN_GEV)


PARAMETERS = (
    dataset_parameter("babar_514", "babar", choices=lambda: _dataset_choices()),
    SEED,
    LUMINOSITY_SCAN,
    Parameter("darkonium_masses_gev", list, [1.0, 3.0, 5.0, 7.0, 9.0],
              "darkonium masses of the epsilon curves (each scanned in m_A'), GeV",
              minimum=SIGNAL_MASSES_GEV[0], maximum=SIGNAL_MASSES_GEV[-1]),
    Parameter("map_masses", int, 12, "darkonium masses of the maps (equal steps over the simulated range)", minimum=2,
              maximum=200),
    Parameter("mass_step_sigma", float, 2.0, "A' mass step in units of the pair-mass resolution", minimum=0.5,
              maximum=50),
    Parameter("n_signal_events", int, 8_000, "simulated events per signal point (a quarter at each A' lifetime)",
              minimum=400, maximum=10_000_000),
    Parameter("max_mc_events", int, 600_000, "simulated background events per dataset", minimum=10_000,
              maximum=100_000_000),
    Parameter("window_sigma", float, 2.0, "half width of the 2D window in resolutions", minimum=0.5, maximum=5),
)


def _dataset_choices():
    from ..detector.datasets import dataset_names

    return dataset_names("babar", combinations=True) + dataset_names("belle2")


# ---------------------------------------------------------------------------------------------
# samples


def signal_points():
    """The simulated (m_Upsilon_D, m_A') grid: every darkonium mass with the A' masses of
    :data:`SIGNAL_FRACTIONS`."""
    return [(m, float(mass_a_at(m, f))) for m in SIGNAL_MASSES_GEV for f in SIGNAL_FRACTIONS]


def _bb_per_pb(ds: Dataset) -> float:
    return ds.n_bb_pairs / ds.luminosity_pb if ds.luminosity_pb > 0 else 0.0


def sample_specs(ds: Dataset, *, n_signal_events: int, max_mc_events: int):
    """The samples of one dataset (not a combination): signal at every grid point (the kinematics, for a
    unit cross section: the model's rate enters in the limits) and the backgrounds of
    :func:`analysis_lib.simulation.darkonium.background_specs`."""
    if ds.combines:
        raise ParameterError(f"dataset {ds.name!r} combines {list(ds.combines)}: ask for the samples of each part")
    beams = ds.experiment.beams
    n_signal_events = signal_events(n_signal_events)
    specs = []
    for m_ups, m_a in signal_points():
        specs.append(SampleSpec(
            name=f"signal_M{m_ups:.3f}_ma{m_a:.4f}", label=f"Υ_D {m_ups:g}, A′ {1e3 * m_a:.0f} MeV", kind="signal",
            sigma_pb=1.0,
            generate=partial(generate_darkonium, beams=beams, darkonium_mass_gev=m_ups, dark_photon_mass_gev=m_a,
                             ctau_mm=CTAU_MM, sigma_pb=1.0),
            config={"process": "gamma Upsilon_D, Upsilon_D -> 3 A'", "darkonium_mass_gev": m_ups,
                    "dark_photon_mass_gev": m_a, "ctau_mm": list(CTAU_MM)},
            n_events=n_signal_events, tracks=True, chunk=_signal_chunk(n_signal_events), conversions=True,
            internal_conversions=True,
        ))
    return specs + background_specs(beams, max_mc_events=max_mc_events, bb_per_pb=_bb_per_pb(ds))


def signal_events(n_signal_events: int) -> int:
    """The simulated events of a signal point: ``n_signal_events`` rounded up to a multiple of the number
    of lifetimes, so that each lifetime holds exactly a share of every chunk (:func:`_signal_chunk`)."""
    k = len(CTAU_MM)
    return -(-int(n_signal_events) // k) * k


def _signal_chunk(n_signal_events):
    """Signal events generated at a time: a multiple of the lifetimes' number, so that each lifetime
    holds exactly its share of every chunk (events take the lifetimes in turn)."""
    k = len(CTAU_MM)
    return max(k, (min(n_signal_events, 100_000) // k) * k)


def production_config(max_mc_events: int) -> ProductionConfig:
    """Sample sizes (backgrounds of ``max_mc_events``, signal fixed) and the six-track skim."""
    return ProductionConfig(skim=skim, n_max=max_mc_events, n_min=min(max_mc_events, 10_000))


# ---------------------------------------------------------------------------------------------
# event tables


def _event_table(path, *, experiment, branches):
    """The paired six-track events of one ntuple: mean pair mass, six-track mass, chi^2, the recoil's
    squared mass, whether the initial-state photon is required and seen, the other neutral energy, the
    weight, and (simulation) the A' lifetime of the event."""
    events = read_events(path, branches=branches, tracks=True)
    c = pair_candidates(events, resolution=pair_mass_resolution_gev, experiment=experiment)
    n = len(c)
    out = {"weight": np.asarray(events["weight"], float)[c.index]}
    if n == 0:
        return out | {k: np.zeros(0) for k in ("mean", "mass6", "chi2", "conversion", "recoil_mass2", "photon_ok",
                                                 "extra_energy", "ctau_mm")}
    recoil = recoil_photon(c, events, experiment)
    p4 = c.tracks_p4
    converted = conversion_pairs(events["track"][c.index], experiment).candidates(
        min_radius_mm=conversion_min_radius_mm(experiment), max_mass_gev=CONVERSION_MASS_MAX_GEV)
    return out | {
        "mean": c.pairs.mean, "chi2": c.pairs.chi2, "conversion": converted.astype(float),
        "mass6": np.sqrt(np.maximum(p4[:, 0] ** 2 - np.sum(p4[:, 1:] ** 2, axis=1), 0.0)),
        "recoil_mass2": recoil.mass2, "photon_ok": (~recoil.in_calorimeter | recoil.matched).astype(float),
        "extra_energy": recoil.extra_energy,
        "ctau_mm": (np.asarray(events["mc_ctau_mm"], float)[c.index] if "mc_ctau_mm" in events.fields
                    else np.zeros(n)),
    }


def _table(path, ds: Dataset, seed: int):
    """:func:`_event_table` of one ntuple of ``ds``, kept once per sample (:func:`read_table`)."""
    make = partial(_event_table, experiment=ds.experiment, branches=ds.branches)
    return read_table(path, make, cache_dir=work_dir(ds, seed) if ds.simulated else None,
                      key=("darkonium table", repr(ds.experiment), ds.branches))


def conversion_min_radius_mm(experiment) -> float:
    """The conversion veto's smallest radius: 0.8 of that of the innermost layer of material (the beam
    pipe), whose conversions the touching point of their circles places within a few millimetres of it.
    A light pair from the collision point whose circles are taken to touch (its opening too small for
    its tracks' resolution) lands on the line of the centres, about R psi / 2 from the beam: 23 mm for a
    pair of 20 MeV and 1.5 GeV in BaBar's field, outside a veto from half the pipe's radius (a third of
    such darkonium events lost), inside this one (5-6% lost)."""
    return 0.8 * layers(experiment)[0].radius_mm


def loose(t) -> np.ndarray:
    """The loose selection of an event table: paired, no pair of tracks a conversion candidate,
    chi^2 < :data:`LOOSE_CHI2_MAX`, on the maps."""
    x = np.log10(np.maximum(t["mean"], 1e-12))
    return ((t["chi2"] < LOOSE_CHI2_MAX) & ~t["conversion"].astype(bool) & (x >= LOG_MASS_EDGES[0]) & (x < LOG_MASS_EDGES[-1])
            & (t["mass6"] < MASS6_EDGES[-1]))


def tight(t) -> np.ndarray:
    """The tight selection: loose, chi^2 < :data:`CHI2_MAX`, the initial-state photon seen where it hits
    the calorimeter, |M_recoil^2| < :data:`RECOIL_MASS2_MAX` and other neutral energy below
    :data:`EXTRA_ENERGY_MAX`."""
    return loose(t) & (t["chi2"] < CHI2_MAX) & photon_like(t)


def photon_like(t) -> np.ndarray:
    """The recoil requirements of the tight selection: the initial-state photon seen where it hits the
    calorimeter, |M_recoil^2| < :data:`RECOIL_MASS2_MAX`, other neutral energy below :data:`EXTRA_ENERGY_MAX`."""
    return (t["photon_ok"].astype(bool) & (np.abs(t["recoil_mass2"]) < RECOIL_MASS2_MAX)
            & (t["extra_energy"] < EXTRA_ENERGY_MAX))


def _flow(t, generated: float):
    """The cut flow of one table: weighted events produced, paired with six tracks, without a conversion
    candidate, loose, tight."""
    w = t["weight"]
    steps = [("produced", "sigma x luminosity", generated),
             ("six tracks", "six tracks of zero charge, paired (skim and pairing)", float(w.sum())),
             ("conversion veto", "no pair meeting beyond 0.8 of the beam pipe's radius with m < "
                                 f"{1e3 * CONVERSION_MASS_MAX_GEV:g} MeV there",
              float(w[~t["conversion"].astype(bool)].sum()) if len(w) else 0.0),
             ("loose", f"chi^2 < {LOOSE_CHI2_MAX:g}", float(w[loose(t)].sum())),
             ("tight", f"chi^2 < {CHI2_MAX:g}, photon, |M_recoil^2| < {RECOIL_MASS2_MAX:g} GeV^2, extra E < "
                       f"{EXTRA_ENERGY_MAX:g} GeV", float(w[tight(t)].sum()))]
    flow = pd.DataFrame([{"cut": c, "description": d, "events": e} for c, d, e in steps])
    flow["efficiency"] = flow["events"] / max(flow["events"].iloc[0], 1e-300)
    return flow


# ---------------------------------------------------------------------------------------------
# inputs


def _centres(edges):
    return 0.5 * (edges[1:] + edges[:-1])


def _bases():
    return (Basis.at(_centres(LOG_MASS_EDGES), LOG_MASS_EDGES[0], LOG_MASS_EDGES[-1], SEGMENTS[0]),
            Basis.at(_centres(MASS6_EDGES), MASS6_EDGES[0], MASS6_EDGES[-1], SEGMENTS[1]))


def _physical():
    """1 for cells where three pairs of mass m_bar fit in M_6 (M_6 >= 3 m_bar), 0 elsewhere."""
    m = 10 ** _centres(LOG_MASS_EDGES)
    return (_centres(MASS6_EDGES)[None, :] >= 3 * m[:, None]).astype(float)


def _map(t, mask, weights):
    h, _, _ = np.histogram2d(np.log10(np.maximum(t["mean"][mask], 1e-12)), t["mass6"][mask],
                             bins=(LOG_MASS_EDGES, MASS6_EDGES), weights=weights[mask])
    return h


@dataclass(frozen=True)
class BinnedShare:
    """The share of loose background events that pass one requirement, versus M_6: measured in bins that
    each hold at least ``min_events`` passing simulated events (one bin for all when fewer pass), linear
    between the bins' weighted centres and constant beyond, with each bin's relative statistical
    uncertainty 1 / sqrt(N_eff) of its passing events, N_eff = (sum w)^2 / sum w^2 (samples of different
    weights mix in a group)."""

    centres: np.ndarray
    share: np.ndarray
    relative_uncertainty: np.ndarray
    edges: np.ndarray
    passing: np.ndarray

    @classmethod
    def measure(cls, mass6, weights, passes, *, what: str, min_events: int = SHARE_MIN_EVENTS):
        order = np.argsort(mass6)
        m, w, t = mass6[order], weights[order], passes[order].astype(bool)
        index = np.flatnonzero(t)
        if index.size < MIN_SIMULATED_BACKGROUND:
            raise EmptySelectionError(
                f"only {index.size} simulated loose background events pass {what}; the share that passes needs "
                f"{MIN_SIMULATED_BACKGROUND}: raise max_mc_events")
        cuts = [m[index[k]] for k in range(min_events, index.size - min_events + 1, min_events)]
        edges = np.concatenate([[MASS6_EDGES[0]], cuts, [MASS6_EDGES[-1]]])
        which = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, len(edges) - 2)
        bins = len(edges) - 1
        loose_w = np.bincount(which, weights=w, minlength=bins)
        pass_w = np.bincount(which, weights=w * t, minlength=bins)
        passing = np.bincount(which, weights=t.astype(float), minlength=bins)
        pass_w2 = np.bincount(which, weights=w**2 * t, minlength=bins)
        effective = pass_w**2 / np.maximum(pass_w2, 1e-300)
        centres = np.bincount(which, weights=w * m, minlength=bins) / np.maximum(loose_w, 1e-300)
        return cls(centres=centres, share=pass_w / np.maximum(loose_w, 1e-300),
                   relative_uncertainty=1 / np.sqrt(np.maximum(effective, 1)), edges=edges, passing=passing)

    def __call__(self, mass6):
        return np.interp(mass6, self.centres, self.share)

    def uncertainty(self, mass6):
        return np.interp(mass6, self.centres, self.relative_uncertainty)


@dataclass(frozen=True)
class TightShare:
    """The share of loose background events that pass the tight selection versus M_6, factorised: the
    share of loose events with chi^2 < :data:`CHI2_MAX` times the share of all paired six-track events
    whose recoil is photon-like (:func:`photon_like`), each a :class:`BinnedShare`. The second is
    measured before any chi^2 requirement, where the simulation holds ten times more events: it assumes
    that how well the pair masses agree does not change whether the event is six tracks and one photon
    (the closure on the simulated tight events is in :func:`prepare`'s inputs)."""

    pairing: BinnedShare
    photon: BinnedShare

    @classmethod
    def measure(cls, loose_mass6, loose_weights, loose_pairs, paired_mass6, paired_weights, paired_photon):
        return cls(pairing=BinnedShare.measure(loose_mass6, loose_weights, loose_pairs, what=f"chi^2 < {CHI2_MAX:g}"),
                   photon=BinnedShare.measure(paired_mass6, paired_weights, paired_photon,
                                              what="the photon-like recoil"))

    def __call__(self, mass6):
        return self.pairing(mass6) * self.photon(mass6)

    def uncertainty(self, mass6):
        return np.hypot(self.pairing.uncertainty(mass6), self.photon.uncertainty(mass6))


@dataclass(frozen=True)
class PartInputs:
    """What one dataset of a run contributes: its signal efficiencies and resolutions on the simulated
    grid, its background map (expected tight events per cell at the luminosity used for limits) with
    the loose fit and tight share it is made of, and its data (events at (log10 m_bar, M_6))."""

    dataset: Dataset
    efficiency: np.ndarray  # (M, fraction, c tau): tight and in the window
    sigma_mean: np.ndarray  # (M, fraction): resolution of the mean pair mass (GeV)
    sigma_mass6: np.ndarray  # (M, fraction): resolution of the six-track mass (GeV)
    loose_fit: dict  # group -> SmoothCounts of the prediction half (loose events of the group's samples)
    share: dict  # group -> TightShare
    background_by_group: dict  # group -> expected tight events per cell (limits' luminosity)
    background_raw: np.ndarray  # simulated tight events per cell (prediction half)
    data: np.ndarray  # (n, 2) events (log10 m_bar, M_6) of the limits' share of the luminosity
    optimisation_data: np.ndarray  # (n, 2) events of the optimisation share
    optimisation_background: np.ndarray  # expected tight events per cell in the optimisation share
    closure: dict  # group -> per pb^-1, whole plane: loose events, simulated tight ones (and their number),
    # the factorised prediction on the simulated loose events and on the smooth loose density

    @cached_property
    def background(self) -> np.ndarray:
        """Expected tight background events per cell, all groups (limits' luminosity)."""
        return sum(self.background_by_group.values())

    @cached_property
    def cumulative(self):
        return {"raw": summed_area(self.background_raw),
                **{g: summed_area(m) for g, m in self.background_by_group.items()}}

    @cached_property
    def data_by_mass(self) -> np.ndarray:
        """The data events in increasing log10 m_bar (a window's events are one slice of them)."""
        return self.data[np.argsort(self.data[:, 0], kind="stable")]

    @cached_property
    def limits_luminosity_pb(self) -> float:
        return (1 - OPTIMISATION_FRACTION) * self.dataset.luminosity_pb


@dataclass(frozen=True)
class DarkoniumInputs(Inputs):
    """Everything the limits of one run need (:func:`prepare`): one :class:`PartInputs` per dataset of
    the run (one, or the parts of a combination), the simulated grid, and the window size."""

    parts: tuple
    grid_m: np.ndarray
    grid_f: np.ndarray
    window_sigma: float
    signal_flows: dict = field(default_factory=dict, repr=False)
    sample_rows: list = field(default_factory=list, repr=False)

    def interpolate(self, values, darkonium_mass_gev, mass_a_gev):
        """A per-grid-point quantity (M, fraction[, ...]) at (M, m_A'), linear in M and the fraction."""
        f = float(np.clip(fraction_of(darkonium_mass_gev, mass_a_gev), self.grid_f[0], self.grid_f[-1]))
        m = float(np.clip(darkonium_mass_gev, self.grid_m[0], self.grid_m[-1]))
        return RegularGridInterpolator((self.grid_m, self.grid_f), values)([m, f])[0]

    def efficiency_at(self, part: PartInputs, darkonium_mass_gev, mass_a_gev, ctau_mm):
        """The signal efficiency of one dataset at (M, m_A') and the A' proper length ``ctau_mm``
        (interpolated in log c tau between :data:`CTAU_MM`)."""
        per_ctau = self.interpolate(part.efficiency, darkonium_mass_gev, mass_a_gev)
        return _lifetime_interpolation(per_ctau, ctau_mm)


def _lifetime_interpolation(per_ctau, ctau_mm):
    """Efficiencies measured at :data:`CTAU_MM` (last axis) at proper lengths ``ctau_mm`` (array): the
    prompt value up to a tenth of the second length (0.01 mm, far below the vertex resolution), linear in
    log(c tau) between the measured lengths, and beyond the last one falling as (last / c tau)^3: each of
    the three A' must decay inside the tracker, with a probability about R / (beta gamma c tau) once its
    flight is much longer than the tracker's radius R (derived; the chapter's epsilon reach keeps c tau
    below a few mm at 20 MeV, the lightest A')."""
    per_ctau = np.asarray(per_ctau, float)
    lengths = np.asarray(CTAU_MM, float)
    ctau = np.atleast_1d(np.asarray(ctau_mm, float))
    logs = np.log10(np.concatenate([[lengths[1] / 10], lengths[1:]]))
    x = np.log10(np.maximum(ctau, lengths[1] / 10))
    out = np.interp(x, logs, per_ctau)
    beyond = ctau > lengths[-1]
    out = np.where(beyond, per_ctau[-1] * (lengths[-1] / np.maximum(ctau, lengths[-1])) ** 3, out)
    return out


def _signal_part(specs, paths, ds, seed, n_signal_events, window_sigma, reference=None):
    """Efficiencies (tight, inside the window, at each lifetime) and resolutions of one dataset's grid. The
    window is that of the resolutions ``reference`` (the first dataset's: one window for all the datasets of
    a run, as :func:`window` draws it), or of this dataset's own."""
    grid_m, grid_f = np.array(SIGNAL_MASSES_GEV), np.array(SIGNAL_FRACTIONS)
    efficiency = np.zeros((grid_m.size, grid_f.size, len(CTAU_MM)))
    sigma_mean, sigma_mass6 = np.zeros((grid_m.size, grid_f.size)), np.zeros((grid_m.size, grid_f.size))
    flows = {}
    for spec in specs:
        if spec.kind != "signal":
            continue
        m_ups, m_a = spec.config["darkonium_mass_gev"], spec.config["dark_photon_mass_gev"]
        i = int(np.argmin(np.abs(grid_m - m_ups)))
        j = int(np.argmin(np.abs(mass_a_at(m_ups, grid_f) - m_a)))
        t = _table(paths[spec.name], ds, seed)
        n_generated = read_meta(paths[spec.name]).get("n_generated", n_signal_events)
        selected = tight(t)
        prompt = selected & (t["ctau_mm"] == 0)
        if prompt.sum() < MIN_SIMULATED_BACKGROUND:
            raise EmptySelectionError(
                f"only {int(prompt.sum())} simulated prompt signal events at m_Upsilon_D = {m_ups}, m_A' = {m_a:.4f} GeV "
                f"pass the selection of {ds.name}; raise n_signal_events")
        sigma_mean[i, j] = peak_summary(t["mean"][prompt])[1]
        sigma_mass6[i, j] = peak_summary(t["mass6"][prompt])[1]
        dm, d6 = (sigma_mean[i, j], sigma_mass6[i, j]) if reference is None else (reference[0][i, j], reference[1][i, j])
        inside = (selected & (np.abs(t["mean"] - m_a) < window_sigma * dm)
                  & (np.abs(t["mass6"] - m_ups) < window_sigma * d6))
        per_ctau = n_generated / len(CTAU_MM)  # exact: the lifetimes take the events in turn (signal_events)
        for k, ctau in enumerate(CTAU_MM):
            efficiency[i, j, k] = np.sum(inside & np.isclose(t["ctau_mm"], ctau)) / per_ctau
        flows[spec.label] = _flow({**t, "weight": np.ones_like(t["weight"])}, float(n_generated))
    return efficiency, sigma_mean, sigma_mass6, flows


def _events_in_cells(counts, rng):
    """Events placed uniformly in the cells of a map of counts: (n, 2) of (log10 m_bar, M_6)."""
    i, j = np.nonzero(counts)
    n = counts[i, j].astype(int)
    i, j = np.repeat(i, n), np.repeat(j, n)
    u = rng.random((i.size, 2))
    x = LOG_MASS_EDGES[i] + u[:, 0] * (LOG_MASS_EDGES[i + 1] - LOG_MASS_EDGES[i])
    y = MASS6_EDGES[j] + u[:, 1] * (MASS6_EDGES[j + 1] - MASS6_EDGES[j])
    return np.stack([x, y], axis=1)


#: Bands of the mean pair mass (GeV) in which the factorisation's closure is shown: below the pion-pair
#: threshold, up to 1 GeV, above.
CLOSURE_BANDS_GEV = ((0.015, 0.28), (0.28, 1.0), (1.0, 3.5))
#: The background groups whose tight shares are measured apart: events with a hard initial-state photon
#: and nothing else (their recoil is the photon), with them the three converted photons of e+e- -> 3 gamma
#: (nothing escapes; its events weigh ten times less than the six pions' and vary with their photons'
#: angles, but it adds well under a thousandth of the group's loose events: the cut flow), and the others
#: (continuum, B Bbar, tau pairs: their recoil holds what escaped). Sample name -> group.
ISR_SAMPLES = ("bkg_isr_6pi", "bkg_3gamma_conversions")


def background_group(sample_name: str) -> str:
    """The group of a background sample (:data:`ISR_SAMPLES`): ``"isr"`` or ``"continuum"``."""
    return "isr" if sample_name in ISR_SAMPLES else "continuum"


def _background_part(specs, paths, ds, seed):
    """The factorised background of one dataset, per group of samples (:func:`background_group`): the
    loose density of the group (one smooth fit of its samples' summed weights, prediction half: the samples
    of a group have similar weights, and a fit of a sample that keeps a few dozen loose events would not
    settle) times the group's tight share, per cell,
    for the whole luminosity; the same of the other half (the truth of the pseudo-data); and the closure of
    the factorisation on the simulation, per group."""
    tables = {s.name: _table(paths[s.name], ds, seed) for s in specs if s.kind == "background"}
    groups = sorted({background_group(name) for name in tables})
    halves, shares, raw = [], [], None
    closure = {}
    for which in (0, 1):
        sums = {}
        columns = {g: {"mass6": [], "mean": [], "weights": [], "passes": [], "pairs": [], "paired": []} for g in groups}
        for name, t in tables.items():
            half = (np.arange(len(t["weight"])) % 2 == which)
            w = np.where(half, 2.0 * t["weight"], 0.0)
            keep = loose(t) & half
            group = background_group(name)
            maps = (_map(t, keep, w), _map(t, keep, w**2))
            sums[group] = maps if group not in sums else (sums[group][0] + maps[0], sums[group][1] + maps[1])
            c = columns[group]
            c["mass6"].append(t["mass6"][keep])
            c["mean"].append(t["mean"][keep])
            c["weights"].append(w[keep])
            c["passes"].append(tight(t)[keep])
            c["pairs"].append((t["chi2"] < CHI2_MAX)[keep])
            c["paired"].append((t["mass6"][half], w[half], photon_like(t)[half]))
            if which == 0:
                hit = tight(t) & half
                raw = _map(t, hit, np.ones_like(w)) if raw is None else raw + _map(t, hit, np.ones_like(w))
        share = {}
        for g, c in columns.items():
            m6, w6 = np.concatenate(c["mass6"]), np.concatenate(c["weights"])
            share[g] = TightShare.measure(m6, w6, np.concatenate(c["pairs"]),
                                          *(np.concatenate([p[k] for p in c["paired"]]) for k in range(3)))
            if which == 0:
                passes = np.concatenate(c["passes"])
                mean, predicted = np.concatenate(c["mean"]), w6 * share[g](m6)
                closure[g] = {"loose": float(w6.sum()), "simulated_tight": float(w6[passes].sum()),
                              "simulated_tight_events": int(passes.sum()), "factorised_tight": float(predicted.sum())}
                # the same in bands of the pair mass: the factorisation assumes the share depends on M_6 alone
                for lo, hi in CLOSURE_BANDS_GEV:
                    band = (mean >= lo) & (mean < hi)
                    closure[g][f"band {lo:g}-{hi:g} GeV"] = (int((passes & band).sum()), float(w6[passes & band].sum()),
                                                             float(predicted[band].sum()))
        halves.append(sums)
        shares.append(share)
    x, y = _bases()
    physical = _physical()
    smooth = partial(smooth_backgrounds, x=x, y=y, exposure=physical, join=JOIN)
    shared = {"luminosity_pb": ds.luminosity_pb, "folder": work_dir(ds, seed),
              "key": (x.dense, y.dense, physical, list(JOIN), LOOSE_CHI2_MAX)}
    fits = [smoothed_once(smooth, halves[k], name=f"darkonium_loose_{'prediction' if k == 0 else 'truth'}", **shared)
            for k in (0, 1)]
    mass6 = _centres(MASS6_EDGES)
    tight_maps = []
    for k in (0, 1):
        maps = {}
        for g in groups:
            fitted = fits[k][g].expected if g in fits[k] else np.zeros(physical.shape)
            maps[g] = fitted * shares[k][g](mass6)[None, :]
        tight_maps.append(maps)
    def per_pb(v):
        return v / ds.luminosity_pb if isinstance(v, float) else v

    for g in groups:
        closure[g]["predicted_tight"] = float(tight_maps[0][g].sum())
        closure[g] = {key: tuple(per_pb(x) for x in v) if isinstance(v, tuple) else per_pb(v)
                      for key, v in closure[g].items()}
    return fits[0], shares[0], tight_maps, raw, closure


def _part(specs, paths, ds, seed, n_signal_events, window_sigma, reference=None):
    efficiency, sigma_mean, sigma_mass6, flows = _signal_part(specs, paths, ds, seed, n_signal_events, window_sigma,
                                                              reference)
    fit, share, (prediction, truth), raw, closure = _background_part(specs, paths, ds, seed)
    truth = sum(truth.values())
    f = 1 - OPTIMISATION_FRACTION
    if "data" in paths:
        t = _table(paths["data"], ds, seed)
        keep = tight(t)
        events = np.stack([np.log10(t["mean"][keep]), t["mass6"][keep]], axis=1)
        # the optimisation share: every twentieth event, in the order of the file
        optimisation = np.arange(len(events)) % round(1 / OPTIMISATION_FRACTION) == 0
        data, optimisation_data = events[~optimisation], events[optimisation]
    else:
        rng = pseudo_data_rng(ds, seed)
        truth = truth_expectation(sum(prediction.values()), truth)
        data = _events_in_cells(rng.poisson(f * truth), rng)
        optimisation_data = _events_in_cells(rng.poisson(OPTIMISATION_FRACTION * truth), rng)
    part = PartInputs(dataset=ds, efficiency=efficiency, sigma_mean=sigma_mean, sigma_mass6=sigma_mass6, loose_fit=fit,
                      share=share, background_by_group={g: f * m for g, m in prediction.items()},
                      background_raw=raw, data=data, optimisation_data=optimisation_data,
                      optimisation_background=OPTIMISATION_FRACTION * sum(prediction.values()), closure=closure)
    return part, flows


def prepare(dataset_name: str, *, seed: int, n_signal_events: int, max_mc_events: int, window_sigma: float = 2.0,
            progress=True) -> DarkoniumInputs:
    """Simulate (or reuse) the ntuples of every dataset of the run, pair the six tracks, and build each
    dataset's signal grid, background map and data."""
    ds = dataset(dataset_name)
    config = production_config(max_mc_events)
    parts, flows, signal_flows, sample_rows = [], {}, {}, []
    for part_ds in ds.parts:
        specs = sample_specs(part_ds, n_signal_events=n_signal_events, max_mc_events=max_mc_events)
        paths = ntuple_paths(specs, part_ds, seed=seed, config=config, progress=progress)
        reference = (parts[0].sigma_mean, parts[0].sigma_mass6) if parts else None
        part, part_flows = _part(specs, paths, part_ds, seed, n_signal_events, window_sigma, reference)
        parts.append(part)
        signal_flows[part_ds.name] = part_flows
        for spec in specs:
            if spec.kind == "background":
                t = _table(paths[spec.name], part_ds, seed)
                label = spec.label if len(ds.parts) == 1 else f"{spec.label} ({part_ds.name})"
                sigma = spec.cross_section_pb()
                flows[label] = _flow(t, sigma * part_ds.luminosity_pb)
                n = int(read_meta(paths[spec.name]).get("n_generated", 0))
                equivalent = n / sigma / 1e3
                if spec.force_conversions:  # its events stand only for those whose photons all converted:
                    # the luminosity whose data hold as many of them as its effective number of events
                    w = np.asarray(t["weight"], dtype=float)
                    effective = float(w.sum()) ** 2 / float(np.sum(w**2)) if w.sum() > 0 else 0.0
                    equivalent = effective * part_ds.luminosity_fb / float(w.sum()) if w.sum() > 0 else float("nan")
                sample_rows.append({"dataset": part_ds.name, "sample": spec.label, "sigma [pb]": sigma,
                                    "simulated events": n, "equivalent luminosity [fb^-1]": equivalent,
                                    "data luminosity [fb^-1]": part_ds.luminosity_fb})
    source = "ntuple" if not ds.simulated else "pseudo-data"
    return DarkoniumInputs(dataset=ds, seed=seed, data_source=source, cut_flow=cut_flow_table(flows),
                           backgrounds={s.name: s.label for s in specs if s.kind == "background"}, parts=tuple(parts),
                           grid_m=np.array(SIGNAL_MASSES_GEV), grid_f=np.array(SIGNAL_FRACTIONS),
                           window_sigma=window_sigma, signal_flows=signal_flows, sample_rows=sample_rows)


# ---------------------------------------------------------------------------------------------
# windows and limits


def _fractional_box(cumulative, x0, x1, y0, y1):
    """The sum of a map over the box [x0, x1] x [y0, y1] in fractional cell coordinates: its summed-area
    table interpolated bilinearly (the map uniform within each cell)."""
    def at(fx, fy):
        nx, ny = cumulative.shape[0] - 1, cumulative.shape[1] - 1
        fx, fy = min(max(fx, 0.0), nx), min(max(fy, 0.0), ny)
        i, j = min(int(fx), nx - 1), min(int(fy), ny - 1)
        ax, ay = fx - i, fy - j
        c = cumulative
        return ((1 - ax) * (1 - ay) * c[i, j] + ax * (1 - ay) * c[i + 1, j] + (1 - ax) * ay * c[i, j + 1]
                + ax * ay * c[i + 1, j + 1])

    return at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0)


def _cell_coordinate(edges, value):
    """The fractional cell coordinate of ``value`` on uniform ``edges``."""
    return (value - edges[0]) / (edges[1] - edges[0])


def window_edges(inputs: DarkoniumInputs, point):
    """The window at ``point`` = (m_A', m_Upsilon_D): (mean pair mass low, high), (M_6 low, high) in GeV,
    from the resolutions interpolated over the grid (the first dataset's; the datasets share a detector)."""
    mass_a, m_ups = (float(v) for v in point)
    part = inputs.parts[0]
    k = inputs.window_sigma
    dm = k * float(inputs.interpolate(part.sigma_mean, m_ups, mass_a))
    d6 = k * float(inputs.interpolate(part.sigma_mass6, m_ups, mass_a))
    return (mass_a - dm, mass_a + dm), (m_ups - d6, m_ups + d6)


def signal_per_unit(inputs: DarkoniumInputs, part: PartInputs, point, ctau_mm: float = 0.0) -> float:
    """Expected signal events of one dataset (its limits' luminosity) in the window at ``point`` for a
    visible production width Gamma_ee B(3A') B(pairs)^3 of 1 eV and A' of proper length ``ctau_mm``:
    L sigma(e+e- -> gamma Upsilon_D | Gamma_ee = 1 eV) x efficiency
    (:func:`~analysis_lib.physics.darkonium.sigma_radiative_return_pb`)."""
    mass_a, m_ups = (float(v) for v in point)
    sigma = float(darkonium.sigma_radiative_return_pb(m_ups, 1e-9, part.dataset.sqrt_s_gev))
    eff = float(inputs.efficiency_at(part, m_ups, mass_a, ctau_mm)[0])
    return part.limits_luminosity_pb * sigma * eff


def window(inputs: DarkoniumInputs, point) -> CountingWindow:
    """The window at ``point`` = (m_A', m_Upsilon_D) in every dataset of the run: signal per eV of visible
    production width (prompt A'), the factorised background prediction with its uncertainty (the loose
    fit's, from its covariance, and the tight share's statistics, per dataset; :data:`FACTORISATION_SYSTEMATIC`
    common to all), the simulated tight events and the counts."""
    mass_a, m_ups = (float(v) for v in point)
    if not (inputs.grid_m[0] <= m_ups <= inputs.grid_m[-1] and MASS_A_MIN_GEV <= mass_a <= float(max_mass_a(m_ups))):
        raise KinematicError(
            f"(m_A', m_Upsilon_D) = ({mass_a}, {m_ups}) GeV is outside the chapter's range: "
            f"{inputs.grid_m[0]} <= m_Upsilon_D <= {inputs.grid_m[-1]} GeV and {MASS_A_MIN_GEV} <= m_A' <= "
            f"m_Upsilon_D / {MASS_RATIO_MAX}")
    (m0, m1), (s0, s1) = window_edges(inputs, point)
    x0, x1 = (_cell_coordinate(LOG_MASS_EDGES, np.log10(v)) for v in (m0, m1))
    y0, y1 = (_cell_coordinate(MASS6_EDGES, v) for v in (s0, s1))
    efficiency, signal, background, statistical, counts = [], [], [], [], []
    simulated = 0.0
    i0, j0 = int(np.floor(x0)), int(np.floor(y0))
    i1, j1 = max(int(np.ceil(x1)), i0 + 1), max(int(np.ceil(y1)), j0 + 1)
    for part in inputs.parts:
        by_group = {g: _fractional_box(part.cumulative[g], x0, x1, y0, y1) for g in part.background_by_group}
        b = sum(by_group.values())
        simulated += _fractional_box(part.cumulative["raw"], x0, x1, y0, y1)
        # each group's share of the window times the relative uncertainty of its loose fits (covariance, on the
        # cells that hold the window, outward) and of its tight share: statistics of this dataset's simulation
        variance = 0.0
        for g, b_g in by_group.items():
            fit = part.loose_fit.get(g)  # the group's loose density (none: no loose event simulated)
            fit_share = 0.0
            if fit is not None:
                grad = fit.gradients([i0], [i1], [j0], [j1])[0]
                fit_share = float(grad @ fit.covariance @ grad) / max(fit.expected[i0:i1, j0:j1].sum(), 1e-300) ** 2
            variance += b_g**2 * (fit_share + part.share[g].uncertainty(m_ups) ** 2)
        statistical.append(variance)
        d = part.data_by_mass
        lo, hi = np.searchsorted(d[:, 0], [np.log10(m0), np.log10(m1)])
        inside = (d[lo:hi, 1] >= s0) & (d[lo:hi, 1] < s1)
        efficiency.append(float(inputs.efficiency_at(part, m_ups, mass_a, 0.0)[0]))
        signal.append(signal_per_unit(inputs, part, point))
        background.append(b)
        counts.append(float(inside.sum()))
    # the factorisation's uncertainty is common to the datasets: the total is the statistical ones in
    # quadrature and the common one linearly; each dataset carries its background's share of it, so that the
    # window's uncertainties in quadrature (what the limit uses) are that total
    background = np.array(background)
    total = np.sqrt(sum(statistical) + (FACTORISATION_SYSTEMATIC * background.sum()) ** 2)
    uncertainty = total * background / max(float(np.sqrt(np.sum(background**2))), 1e-300)
    return CountingWindow(
        mass_gev=mass_a, mass2_gev=m_ups, ranges={"mean_pair_mass": (m0, m1), "mass6": (s0, s1)},
        efficiency=np.array(efficiency), signal_per_unit=np.array(signal), background=background,
        background_uncertainty=uncertainty, simulated_background=float(simulated), counts=np.array(counts))


def map_darkonium_masses(map_masses: int) -> list[float]:
    """The darkonium masses of the maps: ``map_masses`` equal steps over the simulated range."""
    return [float(m) for m in np.linspace(SIGNAL_MASSES_GEV[0], SIGNAL_MASSES_GEV[-1], map_masses)]


def scan_points(inputs: DarkoniumInputs, *, darkonium_masses_gev, map_masses: int, mass_step_sigma: float):
    """The (m_A', m_Upsilon_D) hypotheses: at each darkonium mass of the curves (``darkonium_masses_gev``)
    and of the maps (``map_masses`` equal steps over the simulated range), A' masses from
    :data:`MASS_A_MIN_GEV` to m_Upsilon_D / :data:`MASS_RATIO_MAX` in steps of ``mass_step_sigma`` pair-mass
    resolutions (the maps' in steps four times larger)."""
    curves = sorted({float(m) for m in darkonium_masses_gev})
    lo, hi = inputs.grid_m[0], inputs.grid_m[-1]
    outside = [m for m in curves if not lo <= m <= hi]
    if outside:
        raise ParameterError(f"darkonium_masses_gev = {outside} lie outside the simulated range {lo}-{hi} GeV")
    maps = map_darkonium_masses(map_masses)
    part = inputs.parts[0]
    points = []
    for m_ups, step in [(m, mass_step_sigma) for m in curves] + [(m, 4 * mass_step_sigma) for m in maps if
                                                                   not any(np.isclose(m, c) for c in curves)]:
        mass_a, top = MASS_A_MIN_GEV, float(max_mass_a(m_ups))
        while mass_a <= top:
            points.append((mass_a, m_ups))
            mass_a += step * float(inputs.interpolate(part.sigma_mean, m_ups, mass_a))
    return np.array(points)


def visible_width_ev(darkonium_mass_gev, mass_a_gev, alpha_d, epsilon):
    """Gamma(Upsilon_D -> e+e-) B(Upsilon_D -> 3A') B(A' -> e+e-, mu+mu-, pi+pi-)^3 in eV at ``epsilon``
    (array): the quantity the counts limit for prompt A' (:mod:`analysis_lib.physics.darkonium`, the A'
    branching fractions of :func:`analysis_lib.physics.dark_photon.branching_fractions`); NaN where the
    A' does not bind the darkonium (:func:`~analysis_lib.physics.darkonium.bound_state_exists`)."""
    eps = np.asarray(epsilon, dtype=float)
    m_chi = float(darkonium.chi_mass_gev(darkonium_mass_gev, alpha_d))
    if not bool(darkonium.bound_state_exists(mass_a_gev, m_chi, alpha_d)):
        return np.full(eps.shape, np.nan)
    gamma_ee = np.asarray(darkonium.width_to_electrons_gev(m_chi, alpha_d, eps, mass_a_gev))
    three = float(darkonium.width_three_dark_photons_gev(m_chi, alpha_d))
    standard = np.asarray(darkonium.width_to_standard_model_gev(m_chi, alpha_d, eps, mass_a_gev))
    fractions = dark_photon.branching_fractions(mass_a_gev)
    visible = sum(float(fractions[name]) for name, _, _ in PAIR_CHANNELS)
    return 1e9 * gamma_ee * three / (three + standard) * visible**3


#: The epsilon grid on which :func:`epsilon_limit` inverts the rate (log-uniform).
EPSILON_GRID = np.logspace(-6, 0, 601)


def epsilon_limit(inputs: DarkoniumInputs, point, alpha_d, width_limits_ev):
    """The limits on epsilon at ``point`` = (m_A', m_Upsilon_D) and ``alpha_d`` that the limits on the
    prompt visible width ``width_limits_ev`` (array) give: the epsilon at which
    visible_width(eps) x efficiency(c tau(eps)) / efficiency(prompt) reaches the limit (the efficiency of
    the run's datasets summed with their signal weights), inverted on :data:`EPSILON_GRID`; NaN where the
    darkonium does not exist at alpha_D or the limit lies outside the grid (beyond epsilon = 1, or below
    1e-6, where no limit of these data lies)."""
    mass_a, m_ups = (float(v) for v in point)
    rate = visible_width_ev(m_ups, mass_a, alpha_d, EPSILON_GRID)
    if not np.all(np.isfinite(rate)):
        return np.full(np.shape(width_limits_ev), np.nan)
    ctau = dark_photon.ctau_mm(mass_a, EPSILON_GRID)
    prompt = sum(signal_per_unit(inputs, part, point) for part in inputs.parts)
    per_ctau = sum(part.limits_luminosity_pb * float(darkonium.sigma_radiative_return_pb(m_ups, 1e-9, part.dataset.sqrt_s_gev))
                   * _lifetime_interpolation(inputs.interpolate(part.efficiency, m_ups, mass_a), ctau)
                   for part in inputs.parts)
    effective = rate * per_ctau / max(prompt, 1e-300)
    # the effective rate rises with epsilon (the width as eps^2, the A' decays sooner); invert it where it does
    increasing = np.maximum.accumulate(effective)
    limits = np.asarray(width_limits_ev, dtype=float)
    log_eps = np.interp(np.log(limits), np.log(np.maximum(increasing, 1e-300)), np.log(EPSILON_GRID),
                        left=np.nan, right=np.nan)
    return np.exp(log_eps)


def _result_key(alpha_d) -> str:
    """The result key and quantity of the epsilon limits at ``alpha_d``: ``eps_alpha_d_0p5``."""
    return f"eps_alpha_d_{alpha_d:g}".replace(".", "p")


def analyse(inputs: DarkoniumInputs, *, darkonium_masses_gev, map_masses, mass_step_sigma, progress=True,
            client=None):
    """Limits on the prompt visible production width (eV) and on epsilon for each alpha_D of
    :data:`ALPHA_D` at the hypotheses of :func:`scan_points`: 90% credibility limits of the combined
    window (uniform prior in the signal rate, the uncertainties marginalised)."""
    points = scan_points(inputs, darkonium_masses_gev=darkonium_masses_gev, map_masses=map_masses,
                         mass_step_sigma=mass_step_sigma)
    calculator = BayesianCounting(partial(window, inputs), CL, signal_uncertainty=SIGNAL_SYSTEMATIC)
    width = scan_limits(points, calculator, quantity="gamma_ee_x_br_visible", unit="eV", cl=CL, mass_name=MASS_NAME,
                        mass2_name=MASS2_NAME, progress=progress, client=client)
    results = {"gamma_ee_x_br": width}
    for alpha_d in ALPHA_D:
        results[_result_key(alpha_d)] = epsilon_scan(inputs, width, alpha_d)
    return results


def epsilon_scan(inputs: DarkoniumInputs, width, alpha_d):
    """The limits on the visible width ``width`` (a LimitScan) as limits on epsilon at ``alpha_d``, at
    the hypotheses where the darkonium binds and the limit lies below epsilon = 1."""
    observed = np.empty(len(width))
    expected = np.empty_like(np.asarray(width.expected, float))
    for k, (mass_a, m_ups) in enumerate(zip(width.masses_gev, width.masses2_gev)):
        values = epsilon_limit(inputs, (mass_a, m_ups), alpha_d, np.concatenate([[width.observed[k]], width.expected[k]]))
        observed[k], expected[k] = values[0], values[1:]
    from dataclasses import replace

    scan = replace(width, quantity=_result_key(alpha_d), unit="", observed=observed, expected=expected,
                   model={"alpha_d": alpha_d, "lifetime": "the A' lifetime at epsilon"})
    return scan.select(np.isfinite(observed) & np.all(np.isfinite(expected), axis=1))


def luminosity_scan(inputs: DarkoniumInputs, points, *, client=None):
    """Expected limits on the prompt visible width at ``points`` (m_A', m_Upsilon_D) from 0.1 fb^-1 to 50
    ab^-1 (:class:`~analysis_lib.analysis.counting.ScaledWindows` of :func:`window`)."""
    def calculator_at(scale, systematics):
        return BayesianCounting(ScaledWindows(partial(window, inputs), scale, systematics), CL,
                                signal_uncertainty=SIGNAL_SYSTEMATIC)

    reference_fb = sum(part.limits_luminosity_pb for part in inputs.parts) / 1e3  # the 95% the limits use
    return sensitivity(calculator_at, np.asarray(points, dtype=float), reference_fb=reference_fb,
                       quantity="gamma_ee_x_br_visible", unit="eV", cl=CL, mass_name=MASS_NAME, mass2_name=MASS2_NAME,
                       client=client)


# ---------------------------------------------------------------------------------------------
# tables


def physics_table(points, alpha_d: float, epsilon: float, sqrt_s_gev: float):
    """The model at a few (m_A', m_Upsilon_D): whether it binds at ``alpha_d``, the widths, the A' decays
    and lifetime, and the six-track cross section at ``epsilon``."""
    from ..simulation.darkonium import sigma_six_tracks_pb

    rows = []
    for mass_a, m_ups in points:
        m_chi = float(darkonium.chi_mass_gev(m_ups, alpha_d))
        binds = bool(darkonium.bound_state_exists(mass_a, m_chi, alpha_d))
        fractions = dark_photon.branching_fractions(mass_a)
        row = {"m_A' [GeV]": mass_a, "m_Upsilon_D [GeV]": m_ups, "binds": binds,
               "Gamma(3A') [keV]": 1e6 * float(darkonium.width_three_dark_photons_gev(m_chi, alpha_d)),
               "Gamma_ee [eV]": 1e9 * float(darkonium.width_to_electrons_gev(m_chi, alpha_d, epsilon, mass_a)),
               "B(A' -> ee, mumu, pipi)": sum(float(fractions[n]) for n, _, _ in PAIR_CHANNELS),
               "A' c tau [mm]": float(dark_photon.ctau_mm(mass_a, epsilon)),
               "sigma x B(6 tracks) [fb]": (1e3 * sigma_six_tracks_pb(m_ups, mass_a, alpha_d, epsilon, sqrt_s_gev)
                                            if binds else np.nan)}
        rows.append(row)
    return pd.DataFrame(rows)


def conversion_mass_table(experiment, *, radii_mm=None, fractions=(0.5, 0.2, 0.05), energy_gev: float = 1.0):
    """The mass (MeV) a photon conversion shows when its two tracks are taken to come from the collision
    point (:func:`analysis_lib.detector.helix.apparent_pair_mass_gev`, in ``experiment``'s field): a
    photon of ``energy_gev`` (1 GeV by default) at 90 degrees converting at each of ``radii_mm`` (by
    default the radii of the experiment's layers of material, :func:`~analysis_lib.detector.material.layers`)
    into a positron carrying each of ``fractions`` (50:50, 20:80 and 5:95 by default). While both tracks
    are stiff the mass is about c B r / sqrt(x (1 - x)) whatever the photon's energy; a softer track
    gives less. The conversions the veto misses would show these masses."""
    from ..detector.helix import apparent_pair_mass_gev, field_tesla

    field_t = field_tesla(experiment)
    radii = sorted({float(layer.radius_mm) for layer in layers(experiment)} if radii_mm is None
                   else {float(r) for r in radii_mm})
    return pd.DataFrame([{"positron's energy fraction": x,
                          **{f"r = {r:g} mm": 1e3 * apparent_pair_mass_gev(r, x, energy_gev, field_t) for r in radii}}
                         for x in fractions])


def efficiency_table(inputs: DarkoniumInputs, part_index: int = 0):
    """Efficiency (tight, in the window) at each lifetime and the two resolutions at every simulated point
    of one dataset of the run."""
    if not (isinstance(part_index, int) and 0 <= part_index < len(inputs.parts)):
        raise ParameterError(f"part_index={part_index!r}: the run has {len(inputs.parts)} dataset(s), "
                             f"{[p.dataset.name for p in inputs.parts]}; give 0 to {len(inputs.parts) - 1}")
    part = inputs.parts[part_index]
    rows = []
    for i, m_ups in enumerate(inputs.grid_m):
        for j, f in enumerate(inputs.grid_f):
            row = {"m_Upsilon_D [GeV]": m_ups, "m_A' [GeV]": float(mass_a_at(m_ups, f))}
            row |= {f"efficiency, c tau = {c:g} mm": part.efficiency[i, j, k] for k, c in enumerate(CTAU_MM)}
            row |= {"sigma(m_bar) [MeV]": 1e3 * part.sigma_mean[i, j], "sigma(M_6) [MeV]": 1e3 * part.sigma_mass6[i, j]}
            rows.append(row)
    return pd.DataFrame(rows)


def results_table(results: dict, points) -> pd.DataFrame:
    """Observed and median expected limits of every result at ``points`` (m_A', m_Upsilon_D): each result's
    scanned hypothesis nearest in m_A' at that darkonium mass (within 5%), none where the result has no
    hypothesis there (an epsilon limit where alpha_D does not bind)."""
    rows = []
    for mass_a, m_ups in points:
        row = {"m_A' [GeV]": mass_a, "m_Upsilon_D [GeV]": m_ups}
        for key, r in results.items():
            at = np.flatnonzero(np.isclose(r.masses2_gev, m_ups))
            k = at[np.argmin(np.abs(r.masses_gev[at] - mass_a))] if at.size else None
            inside = k is not None and abs(r.masses_gev[k] / mass_a - 1) < 0.05
            unit = f" [{r.unit}]" if r.unit else ""
            row[f"observed {key}{unit}"] = r.observed[k] if inside else np.nan
            row[f"expected {key}{unit}"] = r.expected[k, 2] if inside else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def closure_table(inputs: DarkoniumInputs) -> pd.DataFrame:
    """The factorisation's closure per dataset, group of backgrounds and band of pair mass (events per fb^-1
    of the prediction half of the simulation): the simulated tight events (their number and weight) and the
    factorised prediction on the same simulated loose events."""
    rows = []
    for part in inputs.parts:
        for group, c in part.closure.items():
            for key, value in c.items():
                if key.startswith("band"):
                    n, simulated, factorised = value
                    rows.append({"dataset": part.dataset.name, "backgrounds": group, "pair mass": key[5:],
                                 "simulated tight events": n, "simulated [per fb^-1]": 1e3 * simulated,
                                 "factorised [per fb^-1]": 1e3 * factorised})
            rows.append({"dataset": part.dataset.name, "backgrounds": group, "pair mass": "all",
                         "simulated tight events": c["simulated_tight_events"],
                         "simulated [per fb^-1]": 1e3 * c["simulated_tight"],
                         "factorised [per fb^-1]": 1e3 * c["factorised_tight"],
                         "smooth density x share [per fb^-1]": 1e3 * c["predicted_tight"]})
    return pd.DataFrame(rows)


def samples_table(inputs: DarkoniumInputs) -> pd.DataFrame:
    """The simulated backgrounds of each dataset: cross section, simulated events and the luminosity they
    stand for (what a smooth density is fitted to; for a sample whose photons are forced to convert,
    the luminosity in which the data hold as many six-track events of it as its effective number,
    (sum w)^2 / sum w^2)."""
    return pd.DataFrame(inputs.sample_rows)


def optimisation_check(inputs: DarkoniumInputs, edges_gev=(0.0, 2.0, 4.0, 6.0, 8.0, 10.6)):
    """The optimisation share of the data against the prediction, in bands of M_6 (all pair masses), per
    dataset: what the set-apart 5% is used for here (the selection itself was set on simulation)."""
    rows = []
    for part in inputs.parts:
        for lo, hi in zip(edges_gev[:-1], edges_gev[1:]):
            j0, j1 = (int(round(_cell_coordinate(MASS6_EDGES, v))) for v in (lo, hi))
            predicted = float(part.optimisation_background[:, j0:j1].sum())
            observed = int(np.sum((part.optimisation_data[:, 1] >= lo) & (part.optimisation_data[:, 1] < hi)))
            rows.append({"dataset": part.dataset.name, "M_6 [GeV]": f"{lo:g}-{hi:g}", "predicted": predicted,
                         "observed": observed})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# the channel


@register
class Darkonium(Channel):
    """BaBar e+e- -> gamma Upsilon_D, Upsilon_D -> 3 A', six tracks: counting in 2D windows, the datasets
    of a combination summed, Bayesian limits on the visible width and on epsilon per alpha_D."""

    name = NAME
    title = "BaBar: e+e- → γΥ_D, Υ_D → A′A′A′, A′ → e+e-, μ+μ-, π+π-"
    notebook = "babar_darkonium.ipynb"
    cl = CL
    parameters = PARAMETERS
    published_note = (f"{_SOURCE}. Only the abstract could be consulted: no limit value, alpha_D value or "
                      "selection of the paper was found, so the limits are not compared with it.")

    physics_table = staticmethod(physics_table)
    conversion_mass_table = staticmethod(conversion_mass_table)
    efficiency_table = staticmethod(efficiency_table)
    optimisation_check = staticmethod(optimisation_check)
    closure_table = staticmethod(closure_table)
    samples_table = staticmethod(samples_table)
    results_table = staticmethod(results_table)
    map_darkonium_masses = staticmethod(map_darkonium_masses)
    result_keys = tuple(_result_key(a) for a in ALPHA_D)
    mass2_name = MASS2_NAME
    log_mass_edges = LOG_MASS_EDGES
    mass6_edges = MASS6_EDGES
    published_mass_ranges = PUBLISHED_MASS_RANGES
    signal_uncertainty = SIGNAL_SYSTEMATIC
    window = staticmethod(window)
    alpha_d = ALPHA_D
    sensitivity_points = ((0.1, 3.0), (0.5, 7.0), (1.5, 9.0))
    paper = "BaBar, Phys. Rev. Lett. 128 (2022) 021802, arXiv:2106.08529"
    status = "in progress"
    overview = (Overview(_result_key(0.5), mass2_gev=8.0, logx=True, label=r"$e^+e^-\to\gamma\Upsilon_D$"),)

    def samples(self, params):
        ds = self.dataset(params)
        if ds.combines:
            raise ParameterError(f"{ds.name!r} combines {list(ds.combines)}: each part has its own samples "
                                 "(sample_specs of each of them; sample_requests gives them all)")
        return sample_specs(ds, n_signal_events=params["n_signal_events"], max_mc_events=params["max_mc_events"])

    def sample_requests(self, params):
        ds = self.dataset(params)
        if not ds.simulated:
            return []
        config = self.production(params)
        out = []
        for part in ds.parts:
            specs = sample_specs(part, n_signal_events=params["n_signal_events"], max_mc_events=params["max_mc_events"])
            out += requests(specs, part, seed=params["seed"], config=config)
        return out

    def luminosity_scan(self, inputs, params, *, client=None):
        points = [p for p in self.sensitivity_points if p[1] >= inputs.grid_m[0] and p[0] <= max_mass_a(p[1])]
        return luminosity_scan(inputs, points, client=client)

    def production(self, params):
        return production_config(params["max_mc_events"])

    def prepare(self, params, *, progress=True):
        return prepare(params["dataset"], seed=params["seed"], n_signal_events=params["n_signal_events"],
                       max_mc_events=params["max_mc_events"], window_sigma=params["window_sigma"], progress=progress)

    def analyse(self, inputs, params, *, progress=True, client=None):
        return analyse(inputs, darkonium_masses_gev=params["darkonium_masses_gev"], map_masses=params["map_masses"],
                       mass_step_sigma=params["mass_step_sigma"], progress=progress, client=client)
