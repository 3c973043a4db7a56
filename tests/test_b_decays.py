"""B mesons at the Upsilon(4S): pair kinematics, two-body decays, decay-length reweighting, Pythia
decays and continuum, event shapes, and the m_ES / Delta E of simulated signal."""

import awkward as ak
import numpy as np
import pytest

from analysis_lib.constants import mass_gev
from analysis_lib.detector import BABAR, BELLE, BELLE2
from analysis_lib.event_shape import fox_wolfram_ratio, legendre_moments, thrust, thrust_axis
from analysis_lib.event_shape import _exact_thrust_axis
from analysis_lib.errors import KinematicError, ParameterError
from analysis_lib.kinematics import invariant_mass2, isotropic_directions
from analysis_lib.simulation import b_decays, pythia

M_B = mass_gev(521)


@pytest.mark.parametrize("experiment", [BABAR, BELLE, BELLE2])
def test_b_pairs_at_the_upsilon_4s(experiment):
    rng = np.random.default_rng(1)
    b, bbar = b_decays.b_pairs(rng, 20_000, sqrt_s_gev=experiment.sqrt_s_gev)
    assert np.allclose(b[:, 0] + bbar[:, 0], experiment.sqrt_s_gev)
    assert np.allclose(b[:, 1:] + bbar[:, 1:], 0)
    assert np.allclose(invariant_mass2(b), M_B**2)
    p = np.linalg.norm(b[:, 1:], axis=1)
    assert p == pytest.approx(np.full_like(p, 0.33), abs=0.02)  # p* of about 330 MeV
    # sin^2 theta: <cos^2> = 1/5 (isotropic would give 1/3)
    assert np.mean((b[:, 3] / p) ** 2) == pytest.approx(0.2, abs=0.01)
    with pytest.raises(KinematicError, match="threshold"):
        b_decays.b_pairs(rng, 10, sqrt_s_gev=10.4)


def test_two_body_decay_conserves_four_momentum():
    rng = np.random.default_rng(2)
    parent = np.array([[np.hypot(2.0, M_B), 0.3, -1.0, 1.7]] * 1000)
    k, a = b_decays.two_body_decay(rng, parent, mass_gev(321), 1.5)
    assert np.allclose(k + a, parent)
    assert np.allclose(invariant_mass2(k), mass_gev(321) ** 2) and np.allclose(invariant_mass2(a), 1.5**2)
    with pytest.raises(KinematicError):
        b_decays.two_body_decay(rng, parent, 3.0, 3.0)


def test_decay_lengths_reweight_to_any_lifetime():
    rng = np.random.default_rng(3)
    lengths = b_decays.DecayLengths()
    proper = lengths.sample(rng, 400_000)
    assert np.mean(proper == 0) == pytest.approx(lengths.prompt_fraction, abs=0.005)
    for ctau in (1.0, 10.0, 100.0):
        w = lengths.weight(proper, ctau)
        assert np.mean(w) == pytest.approx(1.0, abs=0.02)
        assert np.sum(w * proper) / np.sum(w) == pytest.approx(ctau, rel=0.03)  # the exponential's mean
        # the fraction decaying within 10 mm follows 1 - exp(-10 / ctau)
        assert np.mean(w * (proper < 10)) == pytest.approx(1 - np.exp(-10 / ctau), abs=0.02)
    prompt = lengths.weight(proper, 0.0)
    assert np.mean(prompt) == pytest.approx(1.0, abs=0.01) and np.all(prompt[proper > 0] == 0)
    with pytest.raises(ParameterError, match="negative"):
        lengths.weight(proper, -1.0)


def test_pythia_decays_and_continuum_conserve_energy_and_are_reproducible():
    rng = np.random.default_rng(4)
    b, bbar = b_decays.b_pairs(rng, 300, sqrt_s_gev=10.58)
    ids = np.repeat([[521, -521]], 300, axis=0).ravel()
    p4 = np.stack([b, bbar], axis=1).reshape(-1, 4)
    products = pythia.decay(np.random.default_rng(5), ids, p4)
    assert ak.to_numpy(ak.sum(products.E, axis=1)) == pytest.approx(p4[:, 0], abs=1e-9)
    assert ak.to_numpy(ak.sum(products.pz, axis=1)) == pytest.approx(p4[:, 3], abs=1e-9)
    again = pythia.decay(np.random.default_rng(5), ids, p4)
    assert ak.all(ak.flatten(again.E) == ak.flatten(products.E))
    events = pythia.continuum(np.random.default_rng(6), 500, sqrt_s_gev=10.58, flavour=4)
    assert ak.to_numpy(ak.sum(events.E, axis=1)) == pytest.approx(np.full(500, 10.58), abs=1e-9)
    assert ak.to_numpy(ak.sum(events.px, axis=1)) == pytest.approx(np.zeros(500), abs=1e-9)
    with pytest.raises(ParameterError, match="flavour"):
        pythia.continuum(rng, 10, sqrt_s_gev=10.58, flavour=7)


def test_thrust_and_fox_wolfram_against_exact_values():
    rng = np.random.default_rng(7)
    back_to_back = np.array([[[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 0]]])
    assert thrust(back_to_back)[0] == pytest.approx(1.0) and fox_wolfram_ratio(back_to_back)[0] == pytest.approx(1.0)
    star = np.array([[[1.0, 0, 0], [-0.5, np.sqrt(3) / 2, 0], [-0.5, -np.sqrt(3) / 2, 0]]])
    assert thrust(star)[0] == pytest.approx(2 / 3)
    isotropic = isotropic_directions(rng, 1000 * 60).reshape(1000, 60, 3)
    assert np.mean(thrust(isotropic)) == pytest.approx(0.5, abs=0.1)  # finite-N events: above 1/2
    assert np.mean(fox_wolfram_ratio(isotropic)) < 0.03
    # exact (up to 10 particles) against a brute-force search over directions
    q = rng.normal(size=(100, 5, 3))
    directions = isotropic_directions(rng, 100_000)
    brute = np.array([np.abs(e @ directions.T).sum(0).max() / np.linalg.norm(e, axis=1).sum() for e in q])
    assert thrust(q) == pytest.approx(brute, abs=1e-4) and np.all(thrust(q) >= brute - 1e-9)
    # the iterative search (more than 10 particles) against the exact axis: nearly isotropic events are the
    # hardest case
    q = rng.normal(size=(2000, 10, 3))
    exact = thrust(q, _exact_thrust_axis(q))
    iterative = thrust(np.concatenate([q, np.zeros((2000, 1, 3))], axis=1))
    assert np.all(iterative <= exact + 1e-12) and np.mean(exact - iterative) < 1e-3
    axis = thrust_axis(back_to_back)
    l0, l2 = legendre_moments(np.array([[[0, 0, 2.0], [1.0, 0, 0]]]), np.array([[0, 0, 1.0]]))
    assert l0[0] == pytest.approx(3.0) and l2[0] == pytest.approx(2.0)
    assert abs(axis[0, 0]) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def signal_babar():
    """B -> K a, a -> gamma gamma at m_a = 1 GeV through the BaBar model, with decay lengths spread
    for reweighting, and its K gamma gamma candidates."""
    from analysis_lib.bmeson import k_gamma_gamma_candidates
    from analysis_lib.simulation.response import reconstruct

    rng = np.random.default_rng(11)
    events = b_decays.b_to_k_resonance(rng, 6000, beams=BABAR.beams, mass_gev_x=1.0, sigma_pb=1.0,
                                       decay_lengths=b_decays.DecayLengths())
    reconstructed = reconstruct(events, BABAR, rng, tracks=True)
    return reconstructed, k_gamma_gamma_candidates(reconstructed, BABAR.beams, photon_e_min_gev=0.05)


def test_signal_peaks_at_the_b_mass_and_zero_delta_e(signal_babar):
    events, candidates = signal_babar
    true = ((events.track.mc_origin[candidates.k] == 4) & (events.photon.mc_origin[candidates.g1] == 4)
            & (events.photon.mc_origin[candidates.g2] == 4) & (events.mc_x_proper_mm == 0))
    matched = ak.flatten(candidates[true])
    assert len(matched) > 500
    assert np.median(matched.m_es) == pytest.approx(M_B, abs=0.002)
    assert np.median(matched.delta_e) == pytest.approx(0.0, abs=0.01)
    assert np.median(matched.m_gg) == pytest.approx(1.0, abs=0.005)
    # the energy constraint narrows the mass peak
    width = lambda a: np.subtract(*np.percentile(a, [84, 16])) / 2  # noqa: E731
    assert width(matched.m_gg_fit) < 0.8 * width(matched.m_gg)
    # a spin-0 resonance: flat helicity angle
    assert np.mean(matched.cos_helicity) == pytest.approx(0.5, abs=0.03)


def test_displaced_decays_lose_efficiency_as_ctau_grows(signal_babar):
    events, candidates = signal_babar
    lengths = b_decays.DecayLengths()
    near = (np.abs(candidates.m_gg - 1.0) < 0.05) & (candidates.m_es > 5.27) & (np.abs(candidates.delta_e) < 0.15)
    selected = ak.to_numpy(ak.any(near, axis=1))
    proper = ak.to_numpy(events.mc_x_proper_mm)
    efficiency = [np.mean(lengths.weight(proper, ctau) * selected) for ctau in (0.0, 1.0, 10.0, 100.0, 1000.0)]
    assert efficiency[0] > 0.2
    assert all(a > b for a, b in zip(efficiency, efficiency[1:])), efficiency
    assert efficiency[-1] < 0.3 * efficiency[0]
