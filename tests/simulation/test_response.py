"""Detector response: calorimeter impact points and shower merging."""

import awkward as ak
import numpy as np
import pytest

from analysis_lib.detector.experiments import BELLE2
from analysis_lib.simulation.generators import generate_gamma_resonance
from analysis_lib.simulation.response import _merge_close_showers, calorimeter_impact, reconstruct

BEAMS = BELLE2.beams


def test_calorimeter_impact_points():
    cal = BELLE2.calorimeter
    theta = np.radians([90.0, 20.0, 150.0])
    directions = np.column_stack([np.sin(theta), np.zeros(3), np.cos(theta)])
    hits = calorimeter_impact(np.zeros((3, 3)), directions, BELLE2)
    assert np.hypot(hits[0, 0], hits[0, 1]) == pytest.approx(cal.barrel_radius_mm)
    assert hits[1, 2] == pytest.approx(cal.forward_z_mm)
    assert hits[2, 2] == pytest.approx(cal.backward_z_mm)


def test_close_photons_merge_into_one_cluster():
    # a 0.15 GeV ALP at 5 GeV has two photons about 6 cm apart at the barrel: one cluster;
    # a 1 GeV ALP's photons are resolved
    rng = np.random.default_rng(11)
    light = generate_gamma_resonance(rng, 4000, beams=BEAMS, mass_gev=0.1, sigma_pb=1.0)
    heavy = generate_gamma_resonance(rng, 4000, beams=BEAMS, mass_gev=1.0, sigma_pb=1.0)
    n_light = np.asarray([len(x) for x in reconstruct(light, BELLE2, rng)["photon"]["E"]])
    n_heavy = np.asarray([len(x) for x in reconstruct(heavy, BELLE2, rng)["photon"]["E"]])
    assert np.mean(n_light >= 3) < 0.2
    assert np.mean(n_heavy >= 3) > 0.6


def _merge_event_by_event(energy, points, origin, has_track, candidate, separation):
    """The merging rule read literally: per event, two passes over the pairs (i < j) in order."""
    for e in range(len(energy)):
        for _ in range(2):
            for i in range(energy.shape[1]):
                for j in range(i + 1, energy.shape[1]):
                    if energy[e, i] > 0 and energy[e, j] > 0 and np.linalg.norm(points[e, i] - points[e, j]) < separation:
                        ei, ej = energy[e, i], energy[e, j]
                        points[e, i] = (points[e, i] * ei + points[e, j] * ej) / (ei + ej)
                        origin[e, i] = origin[e, j] if ej > ei else origin[e, i]
                        has_track[e, i] |= has_track[e, j]
                        candidate[e, i] |= candidate[e, j]
                        energy[e, i], energy[e, j] = ei + ej, 0.0


def test_shower_merging_follows_the_rule_event_by_event():
    # crowded events (showers within 30 cm of each other, many closer than the 10 cm separation;
    # absent showers between present ones), merged in chains: the fast path must do the same
    rng = np.random.default_rng(5)
    n, k = 300, 12
    energy = np.where(rng.random((n, k)) < 0.6, rng.exponential(0.3, (n, k)), 0.0)
    points = rng.uniform(-150, 150, (n, k, 3))
    origin = rng.integers(0, 5, (n, k))
    has_track = rng.random((n, k)) < 0.2
    candidate = rng.random((n, k)) < 0.9
    arrays = (energy, points, origin, has_track, candidate)
    n_before = np.sum(energy > 0, axis=1)
    expected = [a.copy() for a in arrays]
    _merge_event_by_event(*expected, 100.0)
    _merge_close_showers(*arrays, 100.0)
    for got, want in zip(arrays, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    merged = np.sum(energy > 0, axis=1) < n_before
    assert 0.2 < merged.mean() < 1


def _photons(n, energies_gev, phis_deg, theta_deg=90.0):
    """``n`` events, each with photons of the given energies at ``theta_deg`` (lab) and azimuths."""
    theta, phi = np.radians(theta_deg), np.radians(phis_deg)
    e = np.asarray(energies_gev, dtype=float)
    p4 = np.stack([e, e * np.sin(theta) * np.cos(phi), e * np.sin(theta) * np.sin(phi), e * np.cos(theta)], axis=-1)
    from analysis_lib.io.ntuple import ORIGIN
    from analysis_lib.simulation.generators import GeneratedEvents

    k = len(e)
    return GeneratedEvents(p4=np.broadcast_to(p4, (n, k, 4)).copy(), vertex_mm=np.zeros((n, k, 3)),
                           pdgid=np.full(k, 22), origin=np.full(k, ORIGIN["hard_photon"]), sigma_pb=1.0)


def _hard_candidates(rec, above_gev=0.2):
    return np.asarray([np.sum(np.asarray(e) > above_gev) for e in rec["photon"]["E"]])


def test_a_photon_missed_by_the_calorimeter_as_often_as_its_inefficiency():
    """Unconditioned, a 0.4 GeV photon in the barrel leaves no candidate with probability about
    1 - efficiency (a binomial count); in the two branches it is a candidate never, with weight
    (1 - efficiency), or always, with weight efficiency. A beam-background cluster merging with the
    missed shower still makes a candidate of it (as without the branches): the weighted share of
    events without a candidate in the missed branch is the binomial share of the natural sample."""
    n, eff = 20_000, BELLE2.calorimeter.efficiency
    events = _photons(n, [0.4], [0.0])
    natural = _hard_candidates(reconstruct(events, BELLE2, np.random.default_rng(1)))
    missed = reconstruct(events, BELLE2, np.random.default_rng(2), photon_branch=("missed", 0.1))
    seen = reconstruct(events, BELLE2, np.random.default_rng(3), photon_branch=("seen", 0.1))
    assert np.all(_hard_candidates(seen) >= 1) and np.mean(_hard_candidates(missed) == 0) > 0.98
    assert np.allclose(missed["weight"], 1 - eff) and np.allclose(seen["weight"], eff)
    p = float(np.sum(np.asarray(missed["weight"])[_hard_candidates(missed) == 0])) / n
    assert p == pytest.approx(1 - eff, rel=0.02)
    assert np.mean(natural == 0) == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n))


def test_photon_branches_partition_every_event():
    """For the same events the two branches' weights add up to 1 per event: events without a photon
    above the branch's energy on crystals are all "seen" (weight 1) and never "missed" (weight 0);
    with two such photons "missed" weighs (1 - efficiency)^2."""
    eff = BELLE2.calorimeter.efficiency
    cases = {  # energies, azimuths (far apart: no merging), theta (90: barrel; 5: down the beam pipe)
        "one": ([0.4], [0.0], 90.0), "two": ([0.4, 0.3], [0.0, 180.0], 90.0),
        "soft": ([0.05], [0.0], 90.0), "beam pipe": ([2.0], [0.0], 5.0),
    }
    expected_missed = {"one": 1 - eff, "two": (1 - eff) ** 2, "soft": 0.0, "beam pipe": 0.0}
    for name, (energies, phis, theta) in cases.items():
        events = _photons(200, energies, phis, theta)
        missed = reconstruct(events, BELLE2, np.random.default_rng(4), photon_branch=("missed", 0.1))
        seen = reconstruct(events, BELLE2, np.random.default_rng(5), photon_branch=("seen", 0.1))
        w_missed, w_seen = np.asarray(missed["weight"]), np.asarray(seen["weight"])
        assert np.allclose(w_missed, expected_missed[name]), name
        assert np.allclose(w_missed + w_seen, 1.0), name


def test_the_seen_branch_is_the_efficiency_conditioned_on_one_candidate():
    """With two photons and an efficiency of 0.5, P(both candidates | at least one) = 1/3."""
    from dataclasses import replace

    half = replace(BELLE2, calorimeter=replace(BELLE2.calorimeter, efficiency=0.5))
    n = 30_000
    seen = reconstruct(_photons(n, [0.4, 0.3], [0.0, 180.0]), half, np.random.default_rng(6),
                       photon_branch=("seen", 0.1))
    counts = _hard_candidates(seen, above_gev=0.2)
    assert np.all(counts >= 1)
    assert np.mean(counts == 2) == pytest.approx(1 / 3, abs=4 * np.sqrt(2 / 9 / n))
    assert np.allclose(seen["weight"], 0.75)


@pytest.mark.parametrize("branch", [("lost", 0.1), ("missed", -1.0), ("seen", float("nan"))])
def test_bad_photon_branches_are_refused(branch):
    from analysis_lib.core.errors import ParameterError

    with pytest.raises(ParameterError, match="photon_branch"):
        reconstruct(_photons(10, [0.4], [0.0]), BELLE2, np.random.default_rng(7), photon_branch=branch)


def test_impact_parameters_of_straight_tracks():
    from analysis_lib.simulation.response import impact_parameters

    # made at x = 10 mm flying along +y: it passes the beam line at 10 mm, on the -x side of the
    # direction's normal (sin phi, -cos phi) = (1, 0): d0 = +10; a track along +x from there: d0 = 0
    d0, z0 = impact_parameters(np.array([[10.0, 0.0, 5.0], [10.0, 0.0, 5.0]]),
                               np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(d0, [10.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(z0, [5.0, 5.0], atol=1e-12)
    # along (1, 1, 1)/sqrt(3) from (0, -10, 0): closest approach 10/sqrt(2) from the axis, reached
    # after 5 mm in x and y, so 5 mm in z
    d0, z0 = impact_parameters(np.array([0.0, -10.0, 0.0]), np.ones(3) / np.sqrt(3))
    assert float(d0) == pytest.approx(10 / np.sqrt(2)) and float(z0) == pytest.approx(5.0)


def _pions(n, radius_mm, momentum_gev=1.0):
    """n events of one pi+ at 90 degrees made at ``radius_mm`` from the beam and flying outwards."""
    from analysis_lib.simulation.generators import GeneratedEvents

    p4 = np.zeros((n, 1, 4))
    p4[:, 0] = [np.hypot(momentum_gev, 0.1396), momentum_gev, 0.0, 0.0]
    vertex = np.zeros((n, 1, 3))
    vertex[:, 0, 0] = radius_mm
    return GeneratedEvents(p4=p4, vertex_mm=vertex, pdgid=np.array([211]), origin=np.array([1]), sigma_pb=1.0)


def test_tracks_have_impact_parameters_with_the_resolution_of_where_they_were_made():
    trk = BELLE2.tracker
    inner = reconstruct(_pions(20_000, 0.0), BELLE2, np.random.default_rng(8), tracks=True)
    d0 = np.asarray(inner.track.d0[inner.n_tracks > 0][:, 0])
    expected = float(trk.impact_resolution_mm(1.0, 1.0 / np.hypot(1.0, 0.1396), np.pi / 2, 0.0)[0])
    assert np.std(d0) == pytest.approx(expected, rel=0.03) and abs(np.mean(d0)) < 4 * expected / np.sqrt(d0.size)
    # made outside the vertex detector: the drift chamber's resolution; beyond the largest radius: no track
    outer = reconstruct(_pions(5_000, trk.vertex_detector_radius_mm + 50), BELLE2, np.random.default_rng(9), tracks=True)
    assert np.std(np.asarray(outer.track.z0[outer.n_tracks > 0][:, 0])) > trk.outer_impact_resolution_mm * 0.95
    lost = reconstruct(_pions(1_000, trk.max_production_radius_mm + 1), BELLE2, np.random.default_rng(10), tracks=True)
    assert np.all(np.asarray(lost.n_tracks) == 0)


def test_proton_identification_rates():
    from dataclasses import replace as dc_replace

    events = _pions(20_000, 0.0)
    pid = BELLE2.pid
    pions = reconstruct(events, BELLE2, np.random.default_rng(11), tracks=True)
    protons = reconstruct(dc_replace(events, pdgid=np.array([2212]),
                                     p4=np.where(np.arange(4) == 0, np.hypot(1.0, 0.938), events.p4)),
                          BELLE2, np.random.default_rng(12), tracks=True)
    rate = lambda ev: np.mean(np.asarray(ak.flatten(ev.track.proton_id)))  # noqa: E731
    n = 20_000 * BELLE2.tracker.efficiency
    assert rate(pions) == pytest.approx(dict(pid.misid_as_proton)[211], abs=4 * np.sqrt(0.02 / n))
    assert rate(protons) == pytest.approx(pid.proton_efficiency, abs=4 * np.sqrt(0.09 / n))


def test_electron_identification_rates():
    """Electrons at 1 GeV and 90 degrees pass with the model's efficiency (BaBar: 90%), pions at its
    mis-ID rate; below the momentum range and outside the calorimeter no track is an electron."""
    from dataclasses import replace as dc_replace

    from analysis_lib.detector.experiments import BABAR

    events = _pions(20_000, 0.0)
    pid = BABAR.pid
    pions = reconstruct(events, BABAR, np.random.default_rng(13), tracks=True)
    electrons = reconstruct(dc_replace(events, pdgid=np.array([11]), p4=np.where(np.arange(4) == 0, 1.0, events.p4)),
                            BABAR, np.random.default_rng(14), tracks=True)
    rate = lambda ev: np.mean(np.asarray(ak.flatten(ev.track.electron_id)))  # noqa: E731
    n = 20_000 * BABAR.tracker.efficiency
    assert rate(pions) == pytest.approx(dict(pid.misid_as_electron)[211], abs=4 * np.sqrt(0.005 / n))
    assert rate(electrons) == pytest.approx(pid.electron_efficiency, abs=4 * np.sqrt(0.09 / n))
    slow = reconstruct(dc_replace(events, pdgid=np.array([11]), p4=np.where(np.arange(4) == 0, 0.3, 0.3 * events.p4)),
                       BABAR, np.random.default_rng(15), tracks=True)
    assert ak.sum(slow.n_tracks) > 1000 and not np.any(np.asarray(ak.flatten(slow.track.electron_id)))
    # at 150 degrees: inside the drift chamber (17.2-152.6), behind BaBar's calorimeter (15.8-141.8)
    backward = np.array([np.sin(np.radians(150.0)), 0.0, np.cos(np.radians(150.0))])
    outside = reconstruct(dc_replace(events, pdgid=np.array([11]),
                                     p4=np.tile(np.concatenate([[1.0], backward]), (20_000, 1, 1))),
                          BABAR, np.random.default_rng(16), tracks=True)
    assert ak.sum(outside.n_tracks) > 1000 and not np.any(np.asarray(ak.flatten(outside.track.electron_id)))
    np.testing.assert_array_equal(np.asarray(pid.electron_probability(11, [0.4, 1.0, 5.0])), [0.0, 0.90, 0.0])


def _one_photon(n, energy_gev, cos_theta, rng):
    """Events of one photon from the collision point (and a pion, untouched by conversions)."""
    from analysis_lib.simulation.generators import GeneratedEvents

    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - cos_theta**2)
    p4 = np.zeros((n, 2, 4))
    p4[:, 0] = np.column_stack([np.full(n, energy_gev), energy_gev * s * np.cos(phi), energy_gev * s * np.sin(phi),
                                np.full(n, energy_gev * cos_theta)])
    p4[:, 1] = [0.5, 0.3, 0.0, 0.3]
    return GeneratedEvents(p4=p4, vertex_mm=np.zeros((n, 2, 3)), pdgid=np.array([22, 211]), origin=np.array([1, 2]),
                           sigma_pb=1.0)


def test_photons_convert_layer_by_layer_as_the_radiation_lengths_say():
    from analysis_lib.detector.material import Layer
    from analysis_lib.simulation.response import convert_photons

    material = (Layer("pipe", 25.0, 500.0, 0.01), Layer("silicon", 40.0, 500.0, 0.03))
    rng = np.random.default_rng(3)
    n = 400_000
    events = _one_photon(n, 2.0, 0.5, rng)  # sin(theta) = 0.866
    out, probability = convert_photons(events, material, rng)
    assert (probability == 1).all()
    converted = out.truth["n_conversions"] == 1
    radius = np.hypot(out.vertex_mm[:, 0, 0], out.vertex_mm[:, 0, 1])
    # by hand: P1 = 1 - exp(-7/9 0.01/0.866) = 0.008941, then (1 - P1)(1 - exp(-7/9 0.03/0.866)) = 0.026425
    p1, p2 = 0.008941, 0.026425
    for layer_radius, expected in ((25.0, p1), (40.0, p2)):
        share = np.mean(converted & np.isclose(radius, layer_radius))
        assert share == pytest.approx(expected, abs=4 * np.sqrt(expected / n))
    # an electron in the photon's place and a positron in a new column, sharing its momentum exactly
    assert out.pdgid.shape == (n, 3)
    assert set(out.pdgid[converted, 0]) == {11} and set(out.pdgid[converted, 2]) == {-11}
    assert set(out.pdgid[~converted, 0]) == {22} and set(out.pdgid[~converted, 2]) == {0}
    assert out.p4[converted, :, 1:].sum(axis=1) == pytest.approx(events.p4[converted, :, 1:].sum(axis=1), abs=1e-12)
    share = out.p4[converted, 2, 3] / events.p4[converted, 0, 3]
    # the positron's share below 0.1: (9/7)(0.1 - (4/3)(0.1^2/2 - 0.1^3/3)) = 0.12057 (by hand)
    assert np.mean(share < 0.1) == pytest.approx(0.12057, abs=4 * np.sqrt(0.12 / share.size))
    assert (out.origin[converted, 2] == 1).all() and (out.origin[~converted, 2] == -1).all()
    assert (out.vertex_mm[converted, 2] == out.vertex_mm[converted, 0]).all()


def test_a_conversion_gives_two_helices_that_open_as_paired_from_the_collision_point():
    from analysis_lib.detector.helix import apparent_pair_mass_gev
    from analysis_lib.detector.material import layers

    rng = np.random.default_rng(5)
    events = _one_photon(100_000, 1.0, 0.0, rng)
    out = reconstruct(events, BELLE2, rng, tracks=True, conversions=True)
    three = ak.to_numpy(ak.num(out.track)) == 3
    assert 0.005 < three.mean() < 0.05  # the photon converted and both of its tracks were found
    track = out.track[three]
    electrons = track[np.abs(track.mc_pdgid) == 11]
    p, theta, phi = (ak.to_numpy(electrons[f]).reshape(-1, 2) for f in ("p", "theta", "phi"))
    momenta = np.stack([p * np.sin(theta) * np.cos(phi), p * np.sin(theta) * np.sin(phi), p * np.cos(theta)], axis=-1)
    energy = np.sqrt((momenta**2).sum(-1) + 0.000511**2).sum(-1)
    total = momenta.sum(axis=1)
    mass = np.sqrt(np.maximum(energy**2 - (total**2).sum(-1), 0))
    # the innermost layer's conversions show about c B r / sqrt(x (1 - x)) from the collision point: at least
    # the value of an even split, 2 c B r (tracks' momentum smearing aside)
    r0 = layers(BELLE2)[0].radius_mm
    even = apparent_pair_mass_gev(r0, 0.5, 1.0, 1.5)
    # an even split's exact value, 2 c B r / sqrt(1 + (r / R)^2) for massless tracks of momentum p, R = p / (c B)
    # (the helix module), with 4 m_e^2 added to its square for electrons
    c_b, m_e = 0.299792458 * 1.5, 0.000511  # GeV per metre
    p = np.sqrt(0.5**2 - m_e**2)
    massless = 2 * c_b * r0 * 1e-3 / np.sqrt(1 + (r0 * 1e-3 * c_b / p) ** 2)
    assert even == pytest.approx(np.sqrt(massless**2 + 4 * m_e**2), rel=1e-4)
    assert np.median(mass) > 0.9 * even
    # without conversions the same events keep their photon
    plain = reconstruct(events, BELLE2, np.random.default_rng(5), tracks=True)
    assert (ak.to_numpy(ak.num(plain.track)) == 1).mean() > 0.95


def test_forced_conversions_weigh_each_event_by_the_probability_of_its_photons_converting():
    from analysis_lib.detector.material import Layer
    from analysis_lib.simulation.response import convert_photons

    material = (Layer("pipe", 25.0, 500.0, 0.01), Layer("silicon", 40.0, 500.0, 0.03))
    rng = np.random.default_rng(4)
    n = 200_000
    events = _one_photon(n, 2.0, 0.5, rng)
    natural, _ = convert_photons(events, material, np.random.default_rng(6))
    forced, probability = convert_photons(events, material, np.random.default_rng(7), forced=True)
    assert (forced.truth["n_conversions"] == 1).all()
    # the weights: 1 - exp(-7/9 (0.01 + 0.03) / 0.866) = 0.03528 for every event (by hand)
    assert probability == pytest.approx(0.03528, rel=1e-3)
    # the forced layers are distributed as the natural conversions' layers
    radius = np.hypot(forced.vertex_mm[:, 0, 0], forced.vertex_mm[:, 0, 1])
    natural_radius = np.hypot(natural.vertex_mm[:, 0, 0], natural.vertex_mm[:, 0, 1])
    natural_radius = natural_radius[natural.truth["n_conversions"] == 1]
    inner = np.isclose(radius, 25.0).mean()
    assert inner == pytest.approx(0.008941 / 0.03528, abs=0.005)
    assert np.isclose(natural_radius, 25.0).mean() == pytest.approx(inner, abs=4 * np.sqrt(0.25 / natural_radius.size))
    # a photon along the beam crosses nothing: it stays a photon, its event weighs 1
    along = _one_photon(10, 2.0, 1.0, rng)
    kept, weight = convert_photons(along, material, rng, forced=True)
    assert (kept.pdgid[:, 0] == 22).all() and (weight == 1).all()


def test_forced_conversions_of_several_photons_multiply_their_probabilities():
    from analysis_lib.detector.material import Layer, crossings
    from analysis_lib.physics.conversions import conversion_probability
    from analysis_lib.simulation.generators import generate_three_photons
    from analysis_lib.simulation.response import convert_photons

    material = (Layer("pipe", 25.0, 300.0, 0.01), Layer("silicon", 40.0, 300.0, 0.02))
    rng = np.random.default_rng(13)
    events = generate_three_photons(rng, 2000, beams=BELLE2.beams, e_min_gev=0.2, cos_max=0.9)
    out, probability = convert_photons(events, material, rng, forced=True)
    direction = events.p4[..., 1:] / np.linalg.norm(events.p4[..., 1:], axis=-1)[..., None]
    _, thickness = crossings(events.vertex_mm, direction, material)
    per_photon = conversion_probability(thickness.sum(axis=-1))  # the layers' thicknesses add in the exponent
    crossing = thickness.sum(axis=-1) > 0
    assert probability == pytest.approx(np.prod(np.where(crossing, per_photon, 1.0), axis=1), rel=1e-9)
    assert (out.truth["n_conversions"] == crossing.sum(axis=1)).all()
    assert out.p4[..., 1:].sum(axis=1) == pytest.approx(events.p4[..., 1:].sum(axis=1), abs=1e-9)
    # with internal conversions: each photon a pair with P_int + (1 - P_int) P_ext, P_int up to a tenth of its energy
    from analysis_lib.physics.conversions import internal_conversion_probability

    both, weight = convert_photons(events, material, rng, forced=True, internal=True)
    p_int = internal_conversion_probability(2 * 0.000511 * (1 + 1e-9), 0.1 * events.p4[..., 0])
    either = p_int + (1 - p_int) * per_photon
    assert weight == pytest.approx(np.prod(either, axis=1), rel=1e-9)
    made = both.truth["n_conversions"] + both.truth["n_internal_conversions"]
    assert (made == 3).all() and 0 < both.truth["n_internal_conversions"].sum() < made.sum()
    assert both.p4[..., 0].sum(axis=1) == pytest.approx(events.p4[..., 0].sum(axis=1), abs=3 * 0.000511)
    # no events, and events without photons
    from analysis_lib.simulation.generators import GeneratedEvents

    for n, pdgid in ((0, [22, 22]), (5, [211, -211])):
        plain = GeneratedEvents(p4=np.tile([1.0, 0.0, 0.6, 0.8], (n, 2, 1)), vertex_mm=np.zeros((n, 2, 3)),
                                pdgid=np.array(pdgid), origin=np.array([1, 1]), sigma_pb=1.0)
        same, weight = convert_photons(plain, material, rng, forced=True)
        assert same.p4.shape == (n, 2, 4) and (weight == 1).all() and (same.truth["n_conversions"] == 0).all()


def test_internal_conversions_follow_the_kroll_wada_rate_and_masses():
    """Photons of 2 GeV become virtual pairs below 200 MeV with the integral of the Kroll-Wada density (the
    closed form of physics.conversions, itself tested against a numerical integral), with that density's
    masses, the photon's energy and direction, at the collision point."""
    from analysis_lib.detector.material import Layer
    from analysis_lib.physics.conversions import internal_conversion_probability
    from analysis_lib.simulation.response import convert_photons

    material = (Layer("pipe", 25.0, 500.0, 0.01),)
    rng = np.random.default_rng(15)
    n = 400_000
    events = _one_photon(n, 2.0, 0.3, rng)
    out, _ = convert_photons(events, material, rng, internal=True)
    internal = out.truth["n_internal_conversions"] == 1
    expected = internal_conversion_probability(2 * 0.000511 * (1 + 1e-9), 0.2)
    # its leading-logarithm form, (alpha / 3 pi)(2 ln(m_max / m_e) - 5/3) (the closed form for m_max >> m_e)
    assert expected == pytest.approx((1 / 137.036) / (3 * np.pi) * (2 * np.log(0.2 / 0.000511) - 5 / 3), rel=0.01)
    assert internal.mean() == pytest.approx(expected, abs=4 * np.sqrt(expected / n))
    # the masses: never above a tenth of the photon's energy
    assert internal.sum() > 1000
    pair = out.p4[internal, 0] + out.p4[internal, 2]
    mass = np.sqrt(np.maximum(pair[:, 0] ** 2 - np.sum(pair[:, 1:] ** 2, axis=1), 0))
    assert pair[:, 0] == pytest.approx(2.0, rel=1e-9)  # the photon's energy
    direction = pair[:, 1:] / np.linalg.norm(pair[:, 1:], axis=1)[:, None]
    photon = events.p4[internal, 0, 1:] / 2.0
    assert np.sum(direction * photon, axis=1) == pytest.approx(1.0, abs=1e-9)
    assert (out.vertex_mm[internal] == 0).all()
    # the share of pairs above 20 MeV against the density's integrals
    above = internal_conversion_probability(0.02, 0.2) / expected
    assert np.mean(mass > 0.02) == pytest.approx(above, abs=4 * np.sqrt(above / internal.sum()))
