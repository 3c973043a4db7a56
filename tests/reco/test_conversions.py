"""Conversion candidates among tracks: a photon's pair made in the material against pairs from the
collision point and decays in flight, on tracks built from the helix at closest approach."""

import awkward as ak
import numpy as np
import pytest

from analysis_lib.core.errors import NtupleError
from analysis_lib.detector.experiments import experiment
from analysis_lib.detector.helix import helix_at_closest_approach, momentum_at, pair_vertex, track_circle
from analysis_lib.reco.conversions import conversion_pairs

FIELD = 1.5
BABAR = experiment("babar")  # a 1.5 T solenoid


def _track(vertex, p, q):
    d0, _, phi0 = helix_at_closest_approach(np.asarray(vertex, float), np.asarray(p, float), q, FIELD)
    p = np.asarray(p, float)
    return {"p": float(np.linalg.norm(p)), "theta": float(np.arccos(p[2] / np.linalg.norm(p))), "phi": float(phi0),
            "charge": q, "d0": float(d0)}


def _pair(vertex, opening, energy=1.0, share=0.4, azimuth=0.3):
    """A positive and a negative track made at ``vertex`` opening by ``opening`` in the transverse plane."""
    out = []
    for q, f, sign in ((1, share, 1), (-1, 1 - share, -1)):
        phi = azimuth + sign * opening / 2
        out.append(_track(vertex, f * energy * np.array([np.cos(phi), np.sin(phi), 0.2]), q))
    return out


def test_two_circles_meet_where_their_tracks_were_made_with_their_opening():
    for vertex, opening in (([0.0, 0.0, 0.0], 0.04), ([20.0 * np.cos(0.3), 20.0 * np.sin(0.3), 0.0], 0.04),
                            ([30.0 * np.cos(0.3), 30.0 * np.sin(0.3), 0.0], 0.0)):
        a, b = _pair(vertex, opening)
        circles = [track_circle(t["p"] * np.sin(t["theta"]), t["phi"], t["d0"], t["charge"], FIELD) for t in (a, b)]
        x, y, psi = pair_vertex(circles[0], circles[1], 1, -1)
        # (tangent circles, of a conversion, meet where a square root of a small difference is taken)
        assert (float(x), float(y)) == pytest.approx(tuple(vertex[:2]), abs=1e-6 if opening else 1e-3)
        assert float(psi) == pytest.approx(opening, abs=1e-6)
        # the momentum there is the one the track was made with
        pt = a["p"] * np.sin(a["theta"])
        px, py = momentum_at(x, y, circles[0], 1, pt)
        assert np.arctan2(py, px) == pytest.approx(0.3 + opening / 2, abs=1e-6)


def test_conversions_are_found_and_prompt_or_displaced_pairs_kept():
    conversion = _pair([30.0 * np.cos(0.3), 30.0 * np.sin(0.3), 0.0], 0.0)
    prompt = _pair([0.0, 0.0, 0.0], 0.04, azimuth=2.0)
    # (a decay in flight opening by 0.1 rad: one of 40 mrad at 30 mm is within the tracks' resolution of touching)
    displaced = _pair([30.0 * np.cos(-1.0), 30.0 * np.sin(-1.0), 0.0], 0.1, azimuth=-1.0)
    tracks = ak.Array([conversion + prompt, prompt, displaced, prompt + displaced])
    pairs = conversion_pairs(tracks, BABAR)
    assert pairs.counts.tolist() == [4, 1, 1, 4]
    found = pairs.candidates(min_radius_mm=10.0, max_mass_gev=0.01)
    assert found.tolist() == [True, False, False, False]
    # at the point they meet, each pair shows the mass of the momenta it was made with: parallel for the
    # conversion (about 2 m_e), 40 mrad apart for the others
    def made(opening):
        p = [np.array([f * np.cos(0.3 + s * opening / 2), f * np.sin(0.3 + s * opening / 2), 0.2 * f])
             for f, s in ((0.4, 1), (0.6, -1))]
        energy = sum(np.sqrt(v @ v + 0.000511**2) for v in p)
        return np.sqrt(energy**2 - (p[0] + p[1]) @ (p[0] + p[1]))

    assert pairs.mass_gev[0] == pytest.approx(made(0.0), rel=1e-3) and made(0.0) < 1.1e-3
    assert pairs.mass_gev[4] == pytest.approx(made(0.04), rel=1e-4)
    assert pairs.radius_mm[[0, 4, 5]] == pytest.approx([30.0, 0.0, 30.0], abs=1e-3)


def test_tracks_without_their_helix_are_refused():
    with pytest.raises(NtupleError, match="track_d0"):
        conversion_pairs(ak.Array([[{"p": 1.0, "theta": 1.0, "phi": 0.0, "charge": 1}]]), BABAR)


def test_circles_apart_nested_or_touching_within_the_tolerance():
    # opposite charges whose circles are nested (back-to-back tracks from the beam line): antiparallel
    inner, outer = track_circle(0.3, 0.0, 0.0, 1, FIELD), track_circle(0.9, np.pi, 0.0, -1, FIELD)
    assert float(pair_vertex(inner, outer, 1, -1)[2]) == pytest.approx(np.pi)
    # a conversion's circles overlapping by 0.05 mm: crossing, they open by sqrt(2 (Ra + Rb) d / (Ra Rb));
    # within a tolerance of 0.1 mm they touch, parallel
    a, b = _pair([30.0 * np.cos(0.3), 30.0 * np.sin(0.3), 0.0], 0.0)
    b = {**b, "d0": b["d0"] + 0.05 * np.sign(a["d0"] - b["d0"])}  # towards the other circle
    circles = [track_circle(t["p"] * np.sin(t["theta"]), t["phi"], t["d0"], t["charge"], FIELD) for t in (a, b)]
    crossing = float(pair_vertex(*circles, 1, -1)[2])
    ra, rb = circles[0][2], circles[1][2]
    assert crossing == pytest.approx(np.sqrt(2 * (ra + rb) * 0.05 / (ra * rb)), rel=0.05)
    x, y, psi = pair_vertex(*circles, 1, -1, touching_mm=0.1)
    assert float(psi) == 0.0 and float(np.hypot(x, y)) == pytest.approx(30.0, abs=1.0)


def test_the_veto_on_simulated_conversions_and_darkonium_decays():
    """Through BaBar's detector model (impact parameters smeared): the conversions of 1 GeV photons are
    vetoed at 90% or more, darkonium events of prompt 50 MeV A' at 2% or less."""
    from analysis_lib.channels.babar_darkonium import CONVERSION_MASS_MAX_GEV, conversion_min_radius_mm
    from analysis_lib.simulation.darkonium import generate_darkonium, skim
    from analysis_lib.simulation.generators import GeneratedEvents
    from analysis_lib.simulation.response import reconstruct

    rng = np.random.default_rng(14)
    n, energy = 40_000, 1.0
    cos = rng.uniform(-0.7, 0.8, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    sin = np.sqrt(1 - cos**2)
    p4 = np.column_stack([np.full(n, energy), energy * sin * np.cos(phi), energy * sin * np.sin(phi), energy * cos])
    photons = GeneratedEvents(p4=p4[:, None, :], vertex_mm=np.zeros((n, 1, 3)), pdgid=np.array([22]),
                              origin=np.array([1]), sigma_pb=1.0)
    out = reconstruct(photons, BABAR, rng, tracks=True, force_conversions=True)
    out = out[ak.to_numpy(ak.num(out.track)) == 2]
    cuts = {"min_radius_mm": conversion_min_radius_mm(BABAR), "max_mass_gev": CONVERSION_MASS_MAX_GEV}
    assert conversion_pairs(out.track, BABAR).candidates(**cuts).mean() > 0.9
    events = generate_darkonium(rng, 6000, beams=BABAR.beams, darkonium_mass_gev=5.0, dark_photon_mass_gev=0.05,
                                ctau_mm=0.0, sigma_pb=1.0)
    signal = reconstruct(events, BABAR, rng, tracks=True, conversions=True)
    signal = signal[skim(signal)]
    assert len(signal) > 500
    assert conversion_pairs(signal.track, BABAR).candidates(**cuts).mean() < 0.02
