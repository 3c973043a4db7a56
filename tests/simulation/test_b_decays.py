"""B mesons at the Upsilon(4S): pair kinematics, two-body decays, decay-length reweighting, and
Pythia decays and continuum."""

import awkward as ak
import numpy as np
import pytest

from analysis_lib.core.constants import mass_gev
from analysis_lib.core.errors import KinematicError, ParameterError
from analysis_lib.core.kinematics import invariant_mass2
from analysis_lib.detector.experiments import BABAR, BELLE, BELLE2
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


def test_b_to_lambda_invisible_two_body_kinematics():
    """The Lambda of B0 -> Lambda psi_D (m_psi = 2 GeV) has, in the signal B's frame, the two-body
    momentum; its daughters make the Lambda mass; it flies exp(-L / (beta gamma c tau))."""
    from analysis_lib.core.kinematics import boost
    from analysis_lib.detector.experiments import BELLE
    from analysis_lib.detector.frames import Frame
    from analysis_lib.physics.mesogenesis import lambda_ctau_mm, lambda_momentum_gev

    rng = np.random.default_rng(3)
    events = b_decays.b_to_lambda_invisible(rng, 2_000, beams=BELLE.beams, mass_gev_psi=2.0, sigma_pb=1.0)
    lam_lab = events.p4[:, 0] + events.p4[:, 1]  # the signal block comes first: p, pi
    assert np.all(np.abs(events.pdgid[:, 0]) == 2212) and np.all(np.abs(events.pdgid[:, 1]) == 211)
    mass = np.sqrt(lam_lab[:, 0] ** 2 - np.sum(lam_lab[:, 1:] ** 2, axis=1))
    np.testing.assert_allclose(mass, mass_gev(3122), rtol=1e-9)
    b = events.b_p4_cm[:, 0]
    in_b = boost(Frame(BELLE.beams).to_cm(lam_lab), -b[:, 1:] / b[:, :1])
    np.testing.assert_allclose(np.linalg.norm(in_b[:, 1:], axis=1), float(lambda_momentum_gev(2.0)), rtol=1e-9)
    # the other B is a generic one: its side is 1, the Lambda's 0; the signal B never hadronic
    assert np.all(events.side[:, :2] == 0) and not events.b_hadronic[:, 0].any()
    # proper decay lengths: L_T m / p_T is exponential with mean c tau
    p_t = np.hypot(lam_lab[:, 1], lam_lab[:, 2])
    proper = events.truth["lambda_flight_mm"] * mass_gev(3122) / p_t
    assert np.mean(proper) == pytest.approx(lambda_ctau_mm(), rel=4 / np.sqrt(proper.size))


def test_continuum_particles_have_hemispheres():
    from analysis_lib.detector.experiments import BELLE

    events = b_decays.continuum(np.random.default_rng(4), 500, beams=BELLE.beams, sigma_pb=1.0, flavour=2)
    real = events.pdgid != 0
    assert set(np.unique(events.side[real])) == {0, 1} and np.all(events.side[~real] == -1)
    assert events.b_p4_cm is None and events.b_hadronic is None


@pytest.mark.parametrize("sqrt_s", [9.9933, 10.0233, 10.58])
def test_pythia_generates_below_10_gev(sqrt_s):
    """The continuum and tau pairs at every BaBar energy, the data below the Upsilon(2S) at 9.993 GeV
    included (Pythia's gamma*/Z mass window starts at 10 GeV unless lowered): the events carry sqrt(s)."""
    from analysis_lib.simulation import pythia

    for events in (pythia.continuum(np.random.default_rng(1), 20, sqrt_s_gev=sqrt_s, flavour=1),
                   pythia.lepton_pairs(np.random.default_rng(1), 20, sqrt_s_gev=sqrt_s, flavour=15)):
        energy = ak.to_numpy(ak.sum(events.E, axis=1))
        assert len(energy) == 20 and np.all(energy <= sqrt_s * (1 + 1e-6))
    continuum = pythia.continuum(np.random.default_rng(2), 20, sqrt_s_gev=sqrt_s, flavour=2)
    assert ak.to_numpy(ak.sum(continuum.E, axis=1)) == pytest.approx(sqrt_s, rel=1e-6)


def test_generic_decays_conserve_four_momentum_per_parent():
    """Pythia's decays of many particles sharing a record, traced back to their parents: every parent's
    final-state descendants carry its four-momentum. Gluonic Upsilon(3S) decays sharing records swap hadrons
    in a few per mille of them (6 of these 2000 before they were decayed again alone); B0 decays never."""
    from analysis_lib.detector.datasets import dataset

    beams = dataset("babar_3s").experiment.beams
    for pdgid, p4, per_record in ((200553, np.sum(beams.four_momenta(), axis=0), 10), (511, [5.3, 0.0, 0.0, 0.3], 1000)):
        parents = np.tile(p4, (2000, 1))
        products = pythia.decay(np.random.default_rng(3), np.full(2000, pdgid), parents, per_record=per_record)
        sums = np.stack([ak.to_numpy(ak.sum(products[f], axis=1)) for f in ("E", "px", "py", "pz")], axis=1)
        assert np.abs(sums - parents).max() < 1e-9, pdgid
    assert pythia._not_conserved(products[:3], parents[:3]).size == 0
    assert pythia._not_conserved(products[:3], parents[:3] + [0.01, 0, 0, 0]).tolist() == [0, 1, 2]
