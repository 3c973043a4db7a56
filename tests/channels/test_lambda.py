"""The Belle B0 -> Lambda psi_D chapter's candidates: signal events with a correct tag and a bare
Lambda peak at the two-body momentum in the signal B's frame, with no ROE track but the Lambda's and
a small E_ECL; generic B decays rarely look like that."""

import numpy as np
import pytest

from analysis_lib.channels import belle_b_to_lambda_invisible as channel
from analysis_lib.detector.experiments import BELLE
from analysis_lib.physics.mesogenesis import lambda_momentum_gev
from analysis_lib.simulation import b_decays, tagging
from analysis_lib.simulation.response import reconstruct


@pytest.mark.parametrize("m_psi", [1.5, 3.5])
def test_signal_candidates_peak_at_the_two_body_momentum(m_psi):
    rng = np.random.default_rng(int(10 * m_psi))
    generated = b_decays.b_to_lambda_invisible(rng, 6_000, beams=BELLE.beams, mass_gev_psi=m_psi, sigma_pb=1.0)
    table = channel.candidate_table(reconstruct(generated, BELLE, rng, tracks=True,
                                                hadronic_tag=tagging.TAGS["belle"]), BELLE.beams)
    bare = (table["tag_correct"] & (table["n_roe_tracks"] == 2) & (table["n_lambda"] == 1) & table["matched"])
    assert bare.sum() > 100
    p_star = table["p_star"][bare]
    assert np.median(p_star) == pytest.approx(float(lambda_momentum_gev(m_psi)), abs=0.006)
    assert np.median(table["e_ecl"][bare]) < 0.05
    assert np.all(np.abs(table["lambda_mass"][bare] - 1.115683) < channel.LAMBDA_SELECTION.mass_window_gev)
    # Lambda and Lambda-bar alike (charge conjugates)
    assert 0.35 < np.mean(table["anti"][bare]) < 0.65
    # a combinatorial tag gives the wrong frame: no peak
    fake = ~table["tag_correct"] & (table["n_lambda"] == 1) & table["matched"]
    off_peak = np.abs(table["p_star"][fake] - float(lambda_momentum_gev(m_psi))) > 0.05
    assert np.mean(off_peak) > 0.5


def test_generic_b_decays_rarely_leave_a_bare_lambda():
    rng = np.random.default_rng(3)
    generated = b_decays.generic_b_pairs(rng, 5_000, beams=BELLE.beams, sigma_pb=1.0, charged=False)
    table = channel.candidate_table(reconstruct(generated, BELLE, rng, tracks=True,
                                                hadronic_tag=tagging.TAGS["belle"]), BELLE.beams)
    lam = table["n_lambda"] > 0
    assert 0.005 < np.mean(lam) < 0.2  # B -> Lambda X, a few percent
    assert np.mean(lam & (table["n_roe_tracks"] == 2)) < 0.002
    assert np.all(np.isnan(table["p_star"][~lam]))
