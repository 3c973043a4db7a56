"""B -> K gamma gamma candidates of simulated signal: m_ES, Delta E, the energy-constrained mass, the
helicity angle, and the efficiency of displaced decays."""

import awkward as ak
import numpy as np
import pytest

from analysis_lib.core.constants import mass_gev
from analysis_lib.detector.experiments import BABAR
from analysis_lib.io.ntuple import ORIGIN
from analysis_lib.reco.bmeson import k_gamma_gamma_candidates
from analysis_lib.simulation import b_decays
from analysis_lib.simulation.response import reconstruct

M_B = mass_gev(521)
SIGNAL_B = ORIGIN["signal_b"]


@pytest.fixture(scope="module")
def signal_babar():
    """B -> K a, a -> gamma gamma at m_a = 1 GeV through the BaBar model, with decay lengths spread
    for reweighting, and its K gamma gamma candidates."""
    rng = np.random.default_rng(11)
    events = b_decays.b_to_k_resonance(rng, 6000, beams=BABAR.beams, mass_gev_x=1.0, sigma_pb=1.0,
                                       decay_lengths=b_decays.DecayLengths())
    reconstructed = reconstruct(events, BABAR, rng, tracks=True)
    return reconstructed, k_gamma_gamma_candidates(reconstructed, BABAR.beams, photon_e_min_gev=0.05)


def test_signal_peaks_at_the_b_mass_and_zero_delta_e(signal_babar):
    events, candidates = signal_babar
    true = ((events.track.mc_origin[candidates.k] == SIGNAL_B) & (events.photon.mc_origin[candidates.g1] == SIGNAL_B)
            & (events.photon.mc_origin[candidates.g2] == SIGNAL_B) & (events.mc_x_proper_mm == 0))
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


def test_loose_cuts_inside_give_the_cut_candidates(signal_babar):
    # cutting m_ES and Delta E while the candidates are made keeps exactly the candidates that cutting
    # the full list keeps, with the same variables
    events, candidates = signal_babar
    cut = k_gamma_gamma_candidates(events, BABAR.beams, photon_e_min_gev=0.05, m_es_min_gev=5.2, delta_e_max_gev=0.3)
    expected = candidates[(candidates.m_es > 5.2) & (np.abs(candidates.delta_e) < 0.3)]
    assert ak.num(cut).tolist() == ak.num(expected).tolist()
    assert 0 < ak.sum(ak.num(cut)) < ak.sum(ak.num(candidates))
    for field in candidates.fields:
        np.testing.assert_array_equal(ak.to_numpy(ak.flatten(cut[field])), ak.to_numpy(ak.flatten(expected[field])))
