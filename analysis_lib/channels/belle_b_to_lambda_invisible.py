"""Belle: B0 -> Lambda psi_D, the B-mesogenesis dark baryon, with a hadronically tagged B
(arXiv:2110.14086). The chapter in progress: its samples and candidates.

Samples (:func:`sample_specs`, :func:`off_resonance_specs`): the signal on a grid of psi_D masses,
generic B0 B0bar and B+ B- (Pythia's decay tables give the B -> Lambda X backgrounds: Lambda_c, Lambda
p-bar, ...), and the continuum e+e- -> q qbar of four flavours, at the Upsilon(4S) and at the energy of
the dataset's off-resonance partner (its continuum measured there), every event simulated with the
experiment's hadronic tag and weighted by its probability. The skim keeps the events whose rest of
the event holds a loose Lambda candidate and few tracks.

The event: one B reconstructed in a hadronic mode (the tag, :mod:`analysis_lib.simulation.tagging`),
the other seen only as a Lambda -> p pi- and missing energy. The variables of every event
(:func:`candidate_table`): the tag's m_bc, Delta E and signal probability; the rest of the event
(ROE: the tracks the tag did not use); the best Lambda candidate among the ROE tracks (closest to the
Lambda mass among those passing :class:`~analysis_lib.reco.v0.LambdaSelection`) and its momentum in the
signal B's frame, p*_Lambda (the signal B's momentum is the tag's reversed,
:mod:`analysis_lib.reco.tagged`), which for the signal is the two-body momentum fixed by m_psi; and
E_ECL, the calorimeter energy neither the tag nor a track used.
"""

from __future__ import annotations

from functools import partial

import awkward as ak
import numpy as np

from ..core.constants import mass_gev
from ..core.errors import ParameterError
from ..detector.datasets import Dataset
from ..detector.experiments import Beams
from ..io.ntuple import ORIGIN
from ..physics.mesogenesis import LAMBDA, LAMBDA_TO_P_PI
from ..reco.tagged import momentum_in_signal_frame, residual_energy, rest_of_event, signal_b_velocity
from ..reco.v0 import LambdaSelection, lambda_candidates
from ..simulation import b_decays
from ..simulation.production import ProductionConfig, SampleSpec

__all__ = ["BR_REF", "LAMBDA_SELECTION", "NAME", "SIGNAL_MASSES_GEV", "candidate_table", "off_resonance_specs",
           "production_config", "sample_specs", "skim"]

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


def candidate_table(events, beams: Beams) -> dict:
    """One row per event (numpy arrays): the tag (``mbc``, ``delta_e``, ``sigprob``), the number of ROE
    tracks ``n_roe_tracks``, the number of ROE Lambda candidates passing :data:`LAMBDA_SELECTION`
    ``n_lambda``, the best one's ``lambda_mass``, ``lambda_flight_mm``, ``lambda_p_lab``, ``anti`` and
    ``p_star`` (its momentum in the signal B's frame; NaN without a candidate), ``e_ecl`` (GeV), the
    event ``weight``, and from the simulation ``tag_correct`` and ``matched`` (both Lambda daughters
    from the signal B)."""
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
        "mbc": ak.to_numpy(tag.mbc).astype(float), "delta_e": ak.to_numpy(tag.delta_e).astype(float),
        "sigprob": ak.to_numpy(tag.sigprob).astype(float),
        "n_roe_tracks": ak.to_numpy(ak.num(tracks)).astype(float), "n_lambda": ak.to_numpy(ak.num(cands)).astype(float),
        "lambda_mass": column(best.mass), "lambda_flight_mm": column(best.flight_mm), "lambda_p_lab": column(best.p),
        "anti": column(best.anti, False).astype(bool), "p_star": p_star, "e_ecl": residual_energy(events),
        "weight": ak.to_numpy(events.weight).astype(float),
        "tag_correct": (ak.to_numpy(tag.mc_correct).astype(bool) if "mc_correct" in tag.fields
                        else np.zeros(len(events), bool)),
        "matched": daughters_from_signal & has,
    }
