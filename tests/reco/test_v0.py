"""Lambda candidates from two tracks: the vertex of two lines, and a simulated Lambda's mass, flight
and pointing as the detector model sees them."""

import awkward as ak
import numpy as np
import pytest

from analysis_lib.core.constants import mass_gev
from analysis_lib.detector.experiments import BELLE
from analysis_lib.reco.v0 import closest_approach, lambda_candidates
from analysis_lib.simulation.b_decays import two_body_decay
from analysis_lib.simulation.generators import GeneratedEvents
from analysis_lib.simulation.response import reconstruct


def test_closest_approach_of_two_lines():
    # the x axis and a line along y through (0, 0, 2): closest points (0,0,0) and (0,0,2)
    vertex, doca = closest_approach(np.array([5.0, 0, 0]), np.array([1.0, 0, 0]), np.array([0, 3.0, 2.0]),
                                    np.array([0, 1.0, 0]))
    np.testing.assert_allclose(vertex, [0, 0, 1.0], atol=1e-12)
    assert doca == pytest.approx(2.0)
    # two lines through the same point meet there
    vertex, doca = closest_approach(np.array([1.0, 1, 1]), np.array([0.6, 0.8, 0]), np.array([1.0, 1, 1]),
                                    np.array([0, 0.6, 0.8]))
    np.testing.assert_allclose(vertex, [1, 1, 1], atol=1e-12)
    assert doca == pytest.approx(0, abs=1e-12)


def _lambdas(rng, n, *, momentum_gev=1.5):
    """n Lambda -> p pi- at 90 degrees (along +x) with exponential decay lengths (c tau of the PDG)."""
    from analysis_lib.physics.mesogenesis import lambda_ctau_mm

    m = mass_gev(3122)
    lam = np.tile([np.hypot(momentum_gev, m), momentum_gev, 0.0, 0.0], (n, 1))
    flight = rng.exponential(momentum_gev / m * lambda_ctau_mm(), n)
    proton, pion = two_body_decay(rng, lam, mass_gev(2212), mass_gev(211))
    vertex = np.zeros((n, 2, 3))
    vertex[:, :, 0] = flight[:, None]
    events = GeneratedEvents(p4=np.stack([proton, pion], axis=1), vertex_mm=vertex, pdgid=np.array([2212, -211]),
                             origin=np.array([4, 4]), sigma_pb=1.0)
    return events, flight


def _found_lambdas(seed, n):
    """The Lambda (not Lambda-bar) candidates of n simulated Lambdas seen by Belle, which events have
    one, and the true flights."""
    rng = np.random.default_rng(seed)
    events, flight = _lambdas(rng, n)
    cands = lambda_candidates(reconstruct(events, BELLE, rng, tracks=True).track)
    cands = cands[~cands.anti]
    return cands, ak.num(cands) > 0, flight


def test_a_lambda_is_found_at_its_mass_vertex_and_flight():
    cands, found, flight = _found_lambdas(1, 20_000)
    assert np.mean(found) > 0.6  # both tracks made inside the tracker, the proton identified
    best = ak.drop_none(ak.firsts(cands[found]))
    mass = ak.to_numpy(best.mass)
    # the peak at the PDG mass; its width from the momentum resolution alone (the model keeps the
    # tracks' directions), a few tenths of a MeV
    assert np.median(mass) == pytest.approx(mass_gev(3122), abs=3e-4)
    assert 0.1e-3 < 0.5 * np.diff(np.percentile(mass, [16, 84]))[0] < 1e-3
    # the vertex where the Lambda decayed (within millimetres) and a momentum pointing back to the beam
    residual = ak.to_numpy(best.flight_mm) - flight[np.asarray(found)]
    assert abs(np.median(residual)) < 0.2 and np.percentile(np.abs(residual), 68) < 2.0
    assert np.median(ak.to_numpy(best.cos_pointing)) > 0.999
    assert np.median(ak.to_numpy(best.p)) == pytest.approx(1.5, rel=0.01)


def test_lambda_flight_lengths_follow_the_exponential_decay_law():
    """The reconstructed flight of found Lambdas between 5 and 150 mm against exp(-L / (beta gamma c tau)),
    with beta gamma c tau = (1.5 / 1.1157) x 78.5 mm = 105 mm (in bins of 10 mm, where the flight is
    measured to a millimetre, the slope of the logarithm of the counts is -1 / 105 mm)."""
    from analysis_lib.physics.mesogenesis import lambda_survival

    rng = np.random.default_rng(2)
    events, _ = _lambdas(rng, 40_000)
    reco = reconstruct(events, BELLE, rng, tracks=True)
    cands = lambda_candidates(reco.track, proton_id=False)
    flight = ak.to_numpy(ak.firsts(cands[ak.num(cands) > 0].flight_mm))
    edges = np.arange(5.0, 155.0, 10.0)
    counts, _ = np.histogram(flight, edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    # inside the vertex detector and the drift chamber alike a Lambda is found with the same efficiency
    # up to 150 mm (both tracks made well inside the largest production radius)
    slope, _ = np.polyfit(centres, np.log(counts), 1, w=np.sqrt(counts))
    expected = np.log(float(lambda_survival(1.0, 1.5)))  # -1 / (beta gamma c tau) per mm
    assert slope == pytest.approx(expected, rel=0.08)


def test_the_lambda_selection_keeps_displaced_lambdas_and_refuses_tracks_without_impact_parameters():
    from analysis_lib.core.errors import ParameterError
    from analysis_lib.reco.v0 import LambdaSelection

    cands, found, flight = _found_lambdas(3, 5_000)
    passed = ak.any(LambdaSelection().passes(cands), axis=1)[found]
    # a 1.5 GeV Lambda needs 1.6 mm: the share of found ones flying farther, exp(-1.6 / 105) = 98.5%
    true_far = flight[np.asarray(found)] > 1.6
    assert np.mean(np.asarray(passed)[true_far]) > 0.9
    assert np.mean(np.asarray(passed)[~true_far]) < 0.5
    no_impact = ak.zip({"p": [[1.0]], "theta": [[1.0]], "phi": [[0.0]], "charge": [[1]], "proton_id": [[True]]})
    with pytest.raises(ParameterError, match="track_d0"):
        lambda_candidates(no_impact)
    with pytest.raises(ParameterError, match="finite"):
        LambdaSelection(mass_window_gev=float("nan"))
