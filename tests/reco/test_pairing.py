"""The pairing of six tracks into three pairs of equal mass: hand-made events whose pairs are known,
and darkonium decays (Upsilon_D -> 3 A', A' -> mu+ mu-) with measured momenta, where the right pairing
must be found in nearly every event."""

import numpy as np
import pytest

from analysis_lib.core.constants import mass_gev
from analysis_lib.core.kinematics import boost
from analysis_lib.core.errors import NtupleError, ParameterError
from analysis_lib.reco.pairing import pair_candidates, pair_momenta, pair_tracks, recoil_photon, split_by_charge
from analysis_lib.simulation.b_decays import two_body_decay
from analysis_lib.simulation.decays import ORTHO_POSITRONIUM_WEIGHT_MAX, ortho_positronium_weight, three_body_decay


def pair(mass, direction, beta):
    """A pair of massless tracks of mass ``mass``, back to back along ``direction`` in its rest frame,
    boosted by ``beta``: (plus, minus) four-momenta."""
    p = mass / 2 * np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    rest = np.array([np.concatenate([[mass / 2], p]), np.concatenate([[mass / 2], -p])])
    return boost(rest, np.asarray(beta, dtype=float))


def test_hand_made_events():
    """Three pairs of equal masses flying apart (a wrong pairing gives other masses): 0.5 GeV without a
    resolution, 0.8 GeV with one; the negative tracks are shuffled and the pairing must find the true
    partners."""
    directions = ([1, 0, 0], [0, 1, 0], [0, 0, 1])
    betas = ([0.0, 0.0, 0.6], [0.5, 0.0, -0.3], [-0.4, 0.4, 0.0])
    for masses, resolution in (((0.5, 0.5, 0.5), None), ((0.8, 0.8, 0.8), lambda m: 0.002 + 0.01 * m)):
        plus, minus = zip(*(pair(m, d, b) for m, d, b in zip(masses, directions, betas)))
        shuffle = [2, 0, 1]  # position j of the negative tracks holds the partner of positive track shuffle[j]
        event_plus, event_minus = np.array([plus]), np.array([np.array(minus)[shuffle]])
        paired = pair_tracks(event_plus, event_minus, resolution=resolution)
        truth = [shuffle.index(i) for i in range(3)]  # where positive track i's partner sits
        assert [truth[i] for i in paired.positive[0]] == list(paired.partner[0])
        np.testing.assert_allclose(paired.masses[0], sorted(masses), rtol=1e-12)
        assert paired.chi2[0] == pytest.approx(0.0, abs=1e-20)


def test_split_by_charge_keeps_the_order():
    p4 = np.arange(24, dtype=float).reshape(1, 6, 4)
    charge = np.array([[1, -1, -1, 1, 1, -1]])
    plus, minus, index_plus, index_minus = split_by_charge(p4, charge)
    assert index_plus.tolist() == [[0, 3, 4]] and index_minus.tolist() == [[1, 2, 5]]
    np.testing.assert_array_equal(plus[0], p4[0, [0, 3, 4]])
    with pytest.raises(ParameterError, match="do not hold 3 positive"):
        split_by_charge(p4, np.array([[1, 1, -1, 1, 1, -1]]))
    with pytest.raises(ParameterError, match="do not hold 3 positive"):
        split_by_charge(p4, np.array([[1, 0, -1, 1, 1, -1]]))  # a neutral "track" is not a negative one


def test_darkonium_decays_are_paired_right():
    """Upsilon_D of 3 GeV moving along the beam decays to three A' of 0.4 GeV (o-Ps matrix element),
    each to mu+ mu-; momenta smeared by 0.5%. The rate of events paired as generated: at least 97%."""
    rng = np.random.default_rng(7)
    n, m_mu = 20_000, mass_gev(13)
    parent = np.tile([np.hypot(3.0, 2.0), 0.0, 0.0, 2.0], (n, 1))
    a_prime = three_body_decay(rng, parent, (0.4, 0.4, 0.4), weight=ortho_positronium_weight,
                               weight_max=ORTHO_POSITRONIUM_WEIGHT_MAX)
    plus, minus = zip(*(two_body_decay(rng, a_prime[:, i], m_mu, m_mu) for i in range(3)))
    plus, minus = np.stack(plus, axis=1), np.stack(minus, axis=1)

    def measured(p4):
        p = p4[..., 1:] * (1 + 0.005 * rng.standard_normal(p4.shape[:-1]))[..., None]
        return np.concatenate([np.sqrt(m_mu**2 + np.sum(p**2, axis=-1))[..., None], p], axis=-1)

    shuffle = np.array([1, 2, 0])
    paired = pair_tracks(measured(plus), measured(minus)[:, shuffle], resolution=lambda m: 0.002 + 0.01 * m)
    truth = np.argsort(shuffle)  # truth[i]: the shuffled position of positive track i's partner
    right = np.all(truth[paired.positive] == paired.partner, axis=1)
    assert right.mean() >= 0.97
    np.testing.assert_allclose(np.median(paired.mean[right]), 0.4, rtol=2e-3)


def test_species_hypotheses_are_chosen_with_the_pairing():
    """Three A' of 0.4 GeV to e+e-, mu+mu- and pi+pi- with unidentified tracks: the pairing picks each
    pair's species from the masses alone (a wrong mass hypothesis moves a pair by tens of MeV); an
    identified electron restricts its pair to electrons."""
    rng = np.random.default_rng(3)
    n = 5_000
    parent = np.tile([np.hypot(3.0, 1.5), 0.0, 0.0, 1.5], (n, 1))
    a_prime = three_body_decay(rng, parent, (0.4, 0.4, 0.4), weight=ortho_positronium_weight,
                               weight_max=ORTHO_POSITRONIUM_WEIGHT_MAX)
    masses = (mass_gev(11), mass_gev(13), mass_gev(211))
    plus, minus = zip(*(two_body_decay(rng, a_prime[:, i], m, m) for i, m in enumerate(masses)))
    plus, minus = np.stack(plus, axis=1)[..., 1:], np.stack(minus, axis=1)[..., 1:]
    anything = np.ones((n, 3, 3), dtype=bool)
    paired = pair_momenta(plus, minus, anything, anything, resolution=lambda m: 1e-4 + 0 * m)
    right = np.all(paired.species == paired.positive, axis=1) & np.all(paired.partner == paired.positive, axis=1)
    assert right.mean() > 0.97
    np.testing.assert_allclose(paired.masses[right], 0.4, atol=1e-9)
    electron_only = anything.copy()
    electron_only[:, 0] = [True, False, False]  # the electron pair's positive track identified
    again = pair_momenta(plus, minus, electron_only, anything, resolution=lambda m: 1e-4 + 0 * m)
    pair_of_track_0 = np.argmax(again.positive == 0, axis=1)
    assert np.all(again.species[np.arange(n), pair_of_track_0] == 0)
    nothing = np.zeros((n, 3, 3), dtype=bool)
    assert np.all(np.isinf(pair_momenta(plus, minus, nothing, anything).chi2))


def test_pair_candidates_of_reconstructed_darkonium():
    """Darkonium of 6 GeV to three A' of 0.5 GeV through BaBar's detector model: about 40% of the events
    keep six tracks of zero charge (the others lose tracks along the beams); nearly all of them pair
    to a mean mass within 5 resolutions of the A' mass, and their recoil is the photon."""
    from analysis_lib.detector.experiments import BABAR
    from analysis_lib.simulation.darkonium import generate_darkonium
    from analysis_lib.simulation.response import reconstruct

    rng = np.random.default_rng(5)
    events = generate_darkonium(rng, 4_000, beams=BABAR.beams, darkonium_mass_gev=6.0, dark_photon_mass_gev=0.5,
                                alpha_d=0.5, epsilon=1e-3)
    reco = reconstruct(events, BABAR, rng, tracks=True)
    candidates = pair_candidates(reco, resolution=lambda m: 0.001 + 0.003 * m)
    assert 0.3 < len(candidates) / 4_000 < 0.5
    assert np.mean(np.abs(candidates.pairs.mean - 0.5) < 5 * 0.0025) > 0.95
    six = candidates.tracks_p4
    assert np.median(np.sqrt(six[:, 0] ** 2 - np.sum(six[:, 1:] ** 2, axis=1))) == pytest.approx(6.0, abs=0.005)
    # the initial-state photon recoils against the six tracks: seen and matched where it hits the crystals
    recoil = recoil_photon(candidates, reco, BABAR)
    assert abs(np.median(recoil.mass2)) < 0.02
    assert recoil.in_calorimeter.mean() > 0.1 and recoil.matched[recoil.in_calorimeter].mean() > 0.93
    assert np.median(recoil.extra_energy) < 0.01


def test_pairs_of_a_decay_in_flight_show_their_mass_at_their_vertex():
    """Hand-made helices: a 300 MeV pair made 40 mm from the beam (the turn of its tracks on the way in
    adds to its opening at the closest approach) shows its mass where its tracks meet; a pair from the
    collision point keeps its momenta at the closest approach; tracks meeting parallel (a conversion) are
    not taken as displaced."""
    from analysis_lib.detector.experiments import experiment
    from analysis_lib.detector.helix import helix_at_closest_approach
    from analysis_lib.reco.pairing import vertex_momenta

    babar = experiment("babar")

    def tracks(radius, mass, energy=1.5, azimuth=0.4):
        """A positive and a negative electron of a pair of ``mass`` made at ``radius`` along ``azimuth``,
        opening symmetrically in the transverse plane, with its helix parameters."""
        p = energy / 2
        opening = 2 * np.arcsin(mass / energy)  # two equal massless momenta
        vertex = radius * np.array([np.cos(azimuth), np.sin(azimuth), 0.0])
        out = {name: [] for name in ("p", "theta", "phi", "d0", "charge", "sigma_d0", "sigma_phi")}
        for q, sign in ((1, 1), (-1, -1)):
            phi = azimuth + sign * opening / 2
            d0, _, phi0 = helix_at_closest_approach(vertex, p * np.array([np.cos(phi), np.sin(phi), 0.0]), q, 1.5)
            for name, value in (("p", p), ("theta", np.pi / 2), ("phi", phi0), ("d0", d0), ("charge", q),
                                ("sigma_d0", 0.03), ("sigma_phi", 0.002)):
                out[name].append(value)
        return [{name: np.array([[v[i]]]) for name, v in out.items()} for i in (0, 1)]

    def mass(plus, minus):
        a, b = vertex_momenta(plus, minus, 1.5)
        total = (a + b)[0, 0, 0]
        energy = np.linalg.norm(a[0, 0, 0]) + np.linalg.norm(b[0, 0, 0])
        return np.sqrt(energy**2 - total @ total)

    displaced = tracks(40.0, 0.3)
    assert mass(*displaced) == pytest.approx(0.3, rel=1e-6)
    # from the closest approach the same pair shows more: each track turned by about r / R on the way in
    poca = np.array([[0.75 * np.cos(displaced[i]["phi"][0, 0]), 0.75 * np.sin(displaced[i]["phi"][0, 0]), 0.0]
                     for i in (0, 1)])
    assert np.sqrt(1.5**2 - np.sum(poca.sum(axis=0) ** 2)) > 0.31
    assert mass(*tracks(0.0, 0.3)) == pytest.approx(0.3, rel=1e-6)
    # a conversion's tracks meet parallel: at the closest approach they show its apparent mass, kept
    conversion = tracks(40.0, 1e-9)
    assert mass(*conversion) > 0.02
    # darkonium events whose 1 GeV A' fly a proper 10 mm (tens of centimetres in the lab): paired at their
    # vertices, 90% or more show compatible masses at the A' mass; from the closest approach, under 60%
    import awkward as ak

    from analysis_lib.channels.babar_darkonium import pair_mass_resolution_gev
    from analysis_lib.reco.pairing import pair_candidates
    from analysis_lib.simulation.darkonium import generate_darkonium, skim
    from analysis_lib.simulation.response import reconstruct

    rng = np.random.default_rng(12)
    events = generate_darkonium(rng, 4000, beams=babar.beams, darkonium_mass_gev=8.0, dark_photon_mass_gev=1.0,
                                ctau_mm=10.0, sigma_pb=1.0)
    out = reconstruct(events, babar, rng, tracks=True, conversions=True)
    out = out[skim(out)]
    assert len(out) > 1000
    found = {}
    for name, model in (("vertex", babar), ("closest approach", None)):
        c = pair_candidates(out, resolution=pair_mass_resolution_gev, experiment=model)
        good = (c.pairs.chi2 < 9.21) & (np.abs(c.pairs.mean - 1.0) < 5 * pair_mass_resolution_gev(1.0))
        found[name] = good.sum() / len(out)
    assert found["vertex"] > 0.9 and found["closest approach"] < 0.6
    with pytest.raises(NtupleError, match="d0"):
        pair_candidates(ak.Array({"track": out.track[["p", "theta", "phi", "charge", "electron_id", "muon_id"]]}),
                        experiment=babar)
