"""Belle: B0 -> Lambda psi_D, the B-mesogenesis dark baryon, with a hadronically tagged B
(arXiv:2110.14086). The chapter in progress: its candidates.

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

import awkward as ak
import numpy as np

from ..core.constants import mass_gev
from ..detector.experiments import Beams
from ..io.ntuple import ORIGIN
from ..physics.mesogenesis import LAMBDA
from ..reco.tagged import momentum_in_signal_frame, residual_energy, rest_of_event, signal_b_velocity
from ..reco.v0 import LambdaSelection, lambda_candidates

__all__ = ["LAMBDA_SELECTION", "NAME", "candidate_table"]

NAME = "belle_b_to_lambda_invisible"
#: The Lambda requirements of the chapter (Belle's flight and pointing requirements, see the class).
LAMBDA_SELECTION = LambdaSelection()


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

    p, theta, phi = column(best.p), column(best.theta), column(best.phi)
    p_lab = np.stack([p * np.sin(theta) * np.cos(phi), p * np.sin(theta) * np.sin(phi), p * np.cos(theta)], axis=-1)
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
        "lambda_mass": column(best.mass), "lambda_flight_mm": column(best.flight_mm), "lambda_p_lab": p,
        "anti": column(best.anti, False).astype(bool), "p_star": p_star, "e_ecl": residual_energy(events),
        "weight": ak.to_numpy(events.weight).astype(float),
        "tag_correct": (ak.to_numpy(tag.mc_correct).astype(bool) if "mc_correct" in tag.fields
                        else np.zeros(len(events), bool)),
        "matched": daughters_from_signal & has,
    }
