"""Darkonium signal events: four-momentum conservation of the photon and six tracks, the initial-state
photon's spectrum against the radiator, the pairs' masses, the A' flight lengths against
exp(-L / beta gamma c tau), and the events' cross section against the rates it multiplies."""

import numpy as np
import pytest
from scipy.integrate import quad

from analysis_lib.core.errors import KinematicError, ParameterError
from analysis_lib.detector.experiments import BABAR
from analysis_lib.detector.frames import Frame
from analysis_lib.physics import dark_photon
from analysis_lib.physics import darkonium as dk
from analysis_lib.simulation.b_decays import DecayLengths
from analysis_lib.simulation.darkonium import (
    PAIR_CHANNELS,
    generate_darkonium,
    isr_cos_max,
    isr_photon_cos_theta,
    lifetime_weights,
    sigma_six_tracks_pb,
)

BEAMS = BABAR.beams
POINT = {"darkonium_mass_gev": 3.0, "dark_photon_mass_gev": 0.4, "alpha_d": 0.5, "epsilon": 1e-3}


def masses(p4):
    return np.sqrt(np.clip(p4[..., 0] ** 2 - np.sum(p4[..., 1:] ** 2, axis=-1), 0, None))


def test_conservation_and_pair_masses():
    events = generate_darkonium(np.random.default_rng(1), 5000, beams=BEAMS, **POINT)
    e_minus, e_plus = BEAMS.four_momenta()
    np.testing.assert_allclose(events.p4.sum(axis=1), np.tile(e_minus + e_plus, (5000, 1)), atol=1e-9)
    pairs = events.p4[:, 1:].reshape(5000, 3, 2, 4).sum(axis=2)
    np.testing.assert_allclose(masses(pairs), 0.4, atol=1e-7)
    assert np.all(events.pdgid[:, 1::2] + events.pdgid[:, 2::2] == 0)  # each pair: a particle and its antiparticle
    six = events.p4[:, 1:].sum(axis=1)
    np.testing.assert_allclose(masses(six), 3.0, atol=1e-7)


def test_isr_photon_angles_follow_the_radiator():
    """The share of photons inside |cos theta| < 0.9 is the radiator in that angle over the radiator at
    all angles, and inside it the angles follow the radiator's angular form (chi^2 over 18 bins)."""
    x = 1 - 3.0**2 / BEAMS.sqrt_s_gev**2
    assert dk.radiator_in_angle(x, isr_cos_max(x, BEAMS.sqrt_s_gev)) == pytest.approx(dk.radiator(x, BEAMS.sqrt_s_gev), rel=1e-8)
    c = isr_photon_cos_theta(np.random.default_rng(2), 400_000, x, BEAMS.sqrt_s_gev)
    inside = np.abs(c) < 0.9
    share = dk.radiator_in_angle(x, 0.9) / dk.radiator(x, BEAMS.sqrt_s_gev)
    assert inside.mean() == pytest.approx(share, abs=4 * np.sqrt(share * (1 - share) / c.size))
    edges = np.linspace(-0.9, 0.9, 19)
    counts, _ = np.histogram(c[inside], edges)
    expected = np.array([quad(lambda u: dk.dradiator_dcos(x, u), a, b)[0] for a, b in zip(edges[:-1], edges[1:])])
    expected *= counts.sum() / expected.sum()
    assert np.sum((counts - expected) ** 2 / expected) < 45


def test_photon_energy_in_the_centre_of_mass_frame():
    events = generate_darkonium(np.random.default_rng(3), 1000, beams=BEAMS, **POINT)
    photon_cm = Frame(BEAMS).to_cm(events.p4[:, 0])
    np.testing.assert_allclose(photon_cm[:, 0], (BEAMS.sqrt_s_gev**2 - 9.0) / (2 * BEAMS.sqrt_s_gev), rtol=1e-10)


def test_flight_lengths_follow_the_exponential():
    """L / (beta gamma) of each A' is exponential with mean c tau (a Kolmogorov-Smirnov test)."""
    from scipy.stats import kstest

    events = generate_darkonium(np.random.default_rng(4), 20_000, beams=BEAMS, ctau_mm=3.0, **POINT)
    flight = np.linalg.norm(events.vertex_mm[:, 1::2], axis=-1)  # (n, 3): the negative track of each pair
    pairs = events.p4[:, 1:].reshape(-1, 3, 2, 4).sum(axis=2)
    beta_gamma = np.linalg.norm(pairs[..., 1:], axis=-1) / 0.4
    assert kstest((flight / beta_gamma).ravel(), "expon", args=(0, 3.0)).pvalue > 1e-3
    np.testing.assert_allclose(events.vertex_mm[:, 1::2], events.vertex_mm[:, 2::2])
    # by default, the lifetime of the A' at the point's epsilon
    physical = generate_darkonium(np.random.default_rng(4), 10, beams=BEAMS, **{**POINT, "epsilon": 1e-4})
    assert physical.cuts["ctau_mm"] == pytest.approx(dark_photon.ctau_mm(0.4, 1e-4), rel=1e-12)


def test_channels_and_cross_section():
    """The three channels in the ratio of the A' branching fractions; the cross section is the product
    of the rates of the physics module."""
    events = generate_darkonium(np.random.default_rng(5), 20_000, beams=BEAMS, **POINT)
    channel = np.concatenate([events.truth[f"channel_{i}"] for i in range(3)])
    fractions = dark_photon.branching_fractions(0.4)
    visible = np.array([fractions[name] for name, _, _ in PAIR_CHANNELS])
    expected = visible / visible.sum()
    assert np.all(np.abs(np.bincount(channel, minlength=3) / channel.size - expected) < 0.01)
    m_chi = dk.chi_mass_gev(3.0, 0.5)
    gamma_3 = dk.width_three_dark_photons_gev(m_chi, 0.5)
    gamma_sm = dk.width_to_standard_model_gev(m_chi, 0.5, 1e-3, 0.4)
    by_hand = (dk.sigma_gamma_darkonium_pb(3.0, 0.5, 1e-3, 0.4, BEAMS.sqrt_s_gev) * gamma_3 / (gamma_3 + gamma_sm)
               * visible.sum() ** 3)
    assert events.sigma_pb == pytest.approx(by_hand, rel=1e-12)
    assert sigma_six_tracks_pb(3.0, 0.4, 0.5, 1e-3, BEAMS.sqrt_s_gev) == events.sigma_pb


def test_bad_points_are_refused():
    rng = np.random.default_rng(6)
    with pytest.raises(KinematicError, match="M > 3 m_A'"):
        generate_darkonium(rng, 10, beams=BEAMS, **{**POINT, "dark_photon_mass_gev": 1.2})
    with pytest.raises(KinematicError, match="does not bind"):
        generate_darkonium(rng, 10, beams=BEAMS, **{**POINT, "alpha_d": 0.1})
    with pytest.raises(ParameterError, match="matrix_element"):
        generate_darkonium(rng, 10, beams=BEAMS, matrix_element="flat", **POINT)


def test_events_reweighted_to_a_lifetime():
    """Events with log-uniform proper lengths, weighted to c tau = 2 mm (:func:`lifetime_weights`): the
    weights average to 1 and the weighted proper lengths of each A' have the exponential's mean and
    second moment (2 and 8 mm^2); prompt events weighted to c tau = 0 are the prompt ones."""
    lengths = DecayLengths(prompt_fraction=0.3, min_mm=1e-3, max_mm=1e4)
    events = generate_darkonium(np.random.default_rng(8), 200_000, beams=BEAMS, decay_lengths=lengths, **POINT)
    w = lifetime_weights(events.truth, lengths, 2.0)
    assert w.mean() == pytest.approx(1.0, abs=0.05)
    proper = events.truth["proper_length_mm_1"]
    assert np.average(proper, weights=w) == pytest.approx(2.0, rel=0.05)
    assert np.average(proper**2, weights=w) == pytest.approx(8.0, rel=0.1)
    prompt = lifetime_weights(events.truth, lengths, 0.0)
    assert np.all((prompt > 0) == np.all([events.truth[f"proper_length_mm_{i}"] == 0 for i in range(3)], axis=0))
    with pytest.raises(ParameterError, match="give one of them"):
        generate_darkonium(np.random.default_rng(8), 10, beams=BEAMS, decay_lengths=lengths, ctau_mm=1.0, **POINT)


def test_background_samples_and_skim():
    """Below the B Bbar threshold (the Upsilon(3S) data) the backgrounds are the continuum and tau pairs,
    at the Upsilon(4S) generic B Bbar too; cross sections scale as 1 / s; the skim keeps the events of six
    tracks of zero charge (as many as the pairing finds)."""
    import awkward as ak

    from analysis_lib.detector.datasets import dataset
    from analysis_lib.reco.pairing import pair_candidates
    from analysis_lib.simulation.darkonium import background_specs, skim
    from analysis_lib.simulation.response import reconstruct

    below = dataset("babar_3s").experiment.beams
    names = [s.name for s in background_specs(below, max_mc_events=100_000)]
    assert names == ["bkg_continuum_uu", "bkg_continuum_dd", "bkg_continuum_ss", "bkg_continuum_cc", "bkg_tautau",
                     "bkg_upsilon_decays", "bkg_isr_6pi", "bkg_3gamma_conversions"]  # on the Upsilon(3S) peak: its decays too
    # every sample's photons convert in the material; the three photons' all do, weighted by its probability
    specs = background_specs(below, max_mc_events=100_000)
    assert all(s.conversions for s in specs[:-1]) and specs[-1].force_conversions
    below_off = dataset("babar_3s_off").experiment.beams
    assert "bkg_upsilon_decays" not in {s.name for s in background_specs(below_off, max_mc_events=100_000)}
    at_4s = background_specs(BEAMS, max_mc_events=100_000, bb_per_pb=1110.0)
    assert {"bkg_bb_charged", "bkg_bb_neutral"} <= {s.name for s in at_4s}
    assert sum(s.n_events for s in at_4s[:-1]) == pytest.approx(100_000, rel=0.01)  # and 5% of three photons
    tau_below = [s for s in background_specs(below, max_mc_events=100_000) if s.name == "bkg_tautau"][0]
    assert tau_below.cross_section_pb() == pytest.approx(919.0 * (10.58 / below.sqrt_s_gev) ** 2)
    with pytest.raises(ParameterError, match="max_mc_events"):
        background_specs(BEAMS, max_mc_events=10)
    rng = np.random.default_rng(9)
    events = reconstruct(generate_darkonium(rng, 3000, beams=BEAMS, **{**POINT, "darkonium_mass_gev": 6.0}), BABAR, rng,
                         tracks=True)
    kept = skim(events)
    assert kept.sum() == len(pair_candidates(events)) > 500
    assert np.all(ak.to_numpy(ak.num(events.track[kept])) == 6)


def test_six_pions_with_an_initial_state_photon():
    """gamma_ISR 3(pi+ pi-): the photon and six pions carry the beams' four-momentum, the pions' mass is the
    drawn one, its distribution follows the radiative-return density of BaBar's cross section (the
    quantiles of its cumulative), and the photon's energy is x sqrt(s) / 2 with x = 1 - m^2 / s."""
    from analysis_lib.core.kinematics import invariant_mass2
    from analysis_lib.detector.frames import Frame
    from analysis_lib.physics import hadrons
    from analysis_lib.simulation.darkonium import SIX_PION_MASS_GEV, generate_isr_six_pions

    events = generate_isr_six_pions(np.random.default_rng(8), 40_000, beams=BEAMS)
    beams = np.sum(BEAMS.four_momenta(), axis=0)
    assert np.abs(events.p4.sum(axis=1) - beams).max() < 1e-9
    mass = events.truth["six_pion_mass_gev"]
    np.testing.assert_allclose(np.sqrt(invariant_mass2(events.p4[:, 1:].sum(axis=1))), mass, rtol=1e-9)
    grid = np.linspace(*SIX_PION_MASS_GEV, 20_001)
    density = hadrons.isr_mass_density_pb(grid, BEAMS.sqrt_s_gev, hadrons.sigma_six_pions_nb(grid))
    cdf = np.cumsum(density) / density.sum()
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(mass, q) == pytest.approx(grid[np.searchsorted(cdf, q)], abs=0.02)
    cm = Frame(BEAMS).to_cm(events.p4[:, 0])
    x = 1 - mass**2 / BEAMS.sqrt_s_gev**2
    np.testing.assert_allclose(cm[:, 0], x * BEAMS.sqrt_s_gev / 2, rtol=1e-9)
    assert events.pdgid[0].tolist() == [22, -211, 211, -211, 211, -211, 211]


def test_upsilon_decays_on_their_peaks():
    """On the Upsilon(3S) and (2S) peaks their decays are a background, normalised to BaBar's counted events
    over the luminosity (4.36 and 7.27 nb); Pythia decays the resonance at rest in the centre-of-mass frame:
    the visible particles carry at most the beams' energy, and most events hold several charged tracks."""
    from analysis_lib.detector.datasets import dataset
    from analysis_lib.simulation.darkonium import UPSILON_VISIBLE_PB, generate_upsilon_decays, upsilon_on_peak

    assert upsilon_on_peak(dataset("babar_3s").sqrt_s_gev) == 200553
    assert upsilon_on_peak(dataset("babar_2s").sqrt_s_gev) == 100553
    assert upsilon_on_peak(dataset("babar_3s_off").sqrt_s_gev) is None and upsilon_on_peak(10.58) is None
    assert UPSILON_VISIBLE_PB[200553] == pytest.approx(4363, rel=1e-3)
    assert UPSILON_VISIBLE_PB[100553] == pytest.approx(7271, rel=1e-3)
    beams = dataset("babar_3s").experiment.beams
    events = generate_upsilon_decays(np.random.default_rng(3), 500, beams=beams, pdgid=200553, sigma_pb=4363.0)
    cm = Frame(beams).to_cm(events.p4.reshape(-1, 4)).reshape(events.p4.shape)
    assert np.all(cm[..., 0].sum(axis=1) <= beams.sqrt_s_gev * (1 + 1e-9))
    charged = np.isin(np.abs(events.pdgid), [11, 13, 211, 321, 2212]).sum(axis=1)
    assert np.median(charged) >= 4 and events.sigma_pb == 4363.0
