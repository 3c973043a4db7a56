"""The signal side of tagged events: the Lambda of B0 -> Lambda psi_D seen from the signal B's frame
that the tag gives, and the residual calorimeter energy."""

import awkward as ak
import numpy as np
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.detector.experiments import BELLE
from analysis_lib.physics.mesogenesis import lambda_momentum_gev
from analysis_lib.reco.tagged import momentum_in_signal_frame, residual_energy, rest_of_event, signal_b_velocity
from analysis_lib.reco.v0 import LambdaSelection, lambda_candidates
from analysis_lib.simulation import b_decays, tagging
from analysis_lib.simulation.response import reconstruct


def test_the_lambda_momentum_in_the_signal_b_frame_peaks_at_the_two_body_value():
    rng = np.random.default_rng(1)
    generated = b_decays.b_to_lambda_invisible(rng, 8_000, beams=BELLE.beams, mass_gev_psi=2.0, sigma_pb=1.0)
    # every event tagged, correctly when it can be (no combinatorial tags)
    model = tagging.HadronicTag(name="t", scale=1.0, multiplicity_slope=0.0, fake_rate_bb=0.0, fake_rate_continuum=0.0)
    events = reconstruct(generated, BELLE, rng, tracks=True, hadronic_tag=model)
    events = events[np.asarray(events.weight) > 0]
    tracks, _ = rest_of_event(events)
    cands = lambda_candidates(tracks)
    cands = cands[LambdaSelection().passes(cands)]
    one = (ak.num(tracks) == 2) & (ak.num(cands) == 1)
    lam = ak.firsts(cands[one])
    p_lab = np.stack([ak.to_numpy(lam.px), ak.to_numpy(lam.py), ak.to_numpy(lam.pz)], axis=-1)
    p_b = momentum_in_signal_frame(p_lab, 1.115683, signal_b_velocity(events[one], BELLE.beams), BELLE.beams)
    expected = float(lambda_momentum_gev(2.0))
    assert p_b.size > 200  # hadronic tag B seen whole, both Lambda daughters tracked
    # the tag's momentum resolution (10 MeV per component) and the beam-energy substitution: a peak a
    # few tens of MeV wide at p*
    assert np.median(p_b) == pytest.approx(expected, abs=0.005)
    assert 0.003 < 0.5 * np.diff(np.percentile(p_b, [16, 84]))[0] < 0.05
    # nothing else on the signal side: E_ECL is the beam background's and split-offs', mostly none
    e_ecl = residual_energy(events[one])
    assert np.median(e_ecl) < 0.05 and np.mean(e_ecl < 0.3) > 0.9


def test_events_without_a_tag_are_refused():
    rng = np.random.default_rng(2)
    generated = b_decays.b_to_lambda_invisible(rng, 50, beams=BELLE.beams, mass_gev_psi=2.0, sigma_pb=1.0)
    events = reconstruct(generated, BELLE, rng, tracks=True)
    with pytest.raises(ParameterError, match="no hadronic tag.*hadronic_tag=True"):
        rest_of_event(events)
    with pytest.raises(ParameterError, match="tag_px"):
        signal_b_velocity(events, BELLE.beams)
