"""ROOT ntuples: round trip, a foreign ntuple through the branch mapping, and bad files."""

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis_lib.core.errors import NtupleError
from analysis_lib.detector.experiments import BELLE2
from analysis_lib.io.ntuple import read_events, read_meta, write_events
from analysis_lib.simulation.generators import generate_gamma_resonance
from analysis_lib.simulation.response import reconstruct


@pytest.fixture
def events():
    rng = np.random.default_rng(1)
    generated = generate_gamma_resonance(rng, 500, beams=BELLE2.beams, mass_gev=1.0, sigma_pb=1.0)
    return reconstruct(generated, BELLE2, rng, weight=0.5)


def test_round_trip(tmp_path, events):
    path = tmp_path / "sample.root"
    write_events(path, events, {"sample": "x", "n_generated": 500})
    back = read_events(path)
    assert ak.all(back["photon"]["E"] == events["photon"]["E"])
    assert ak.all(back["photon"]["mc_origin"] == events["photon"]["mc_origin"])
    assert np.all(back["weight"] == 0.5)
    assert read_meta(path) == {"sample": "x", "n_generated": 500}
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_foreign_ntuple_through_branch_mapping(tmp_path, events):
    # a "real data" ntuple with its own branch names, no weight and no truth
    path = tmp_path / "foreign.root"
    with uproot.recreate(path) as f:
        f["tree"] = {
            "clusterE": events["photon"]["E"],
            "clusterTheta": events["photon"]["theta"],
            "clusterPhi": events["photon"]["phi"],
            "nTracks": events["n_tracks"],
        }
    mapping = {"photon_energy": "clusterE", "photon_theta": "clusterTheta", "photon_phi": "clusterPhi",
               "n_tracks": "nTracks"}
    back = read_events(path, branches=mapping, tree="tree")
    assert ak.all(back["photon"]["E"] == events["photon"]["E"])
    assert np.all(back["weight"] == 1.0)
    assert ak.all(back["photon"]["mc_origin"] == -1)
    assert read_meta(path) == {}


def test_missing_file(tmp_path):
    with pytest.raises(NtupleError, match="does not exist"):
        read_events(tmp_path / "nothing.root")


def test_truncated_file(tmp_path, events):
    path = tmp_path / "sample.root"
    write_events(path, events, {})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NtupleError, match="truncated"):
        read_events(path)


def test_missing_branch_names_the_branch_and_the_fix(tmp_path, events):
    path = tmp_path / "sample.root"
    write_events(path, events, {})
    with pytest.raises(NtupleError, match="clusterE.*datasets.yaml"):
        read_events(path, branches={"photon_energy": "clusterE"})
    with pytest.raises(NtupleError, match="unknown logical"):
        read_events(path, branches={"energy": "gamma_E"})


def test_tracks_and_truth_round_trip(tmp_path):
    from analysis_lib.detector.experiments import BABAR
    from analysis_lib.simulation import b_decays

    rng = np.random.default_rng(3)
    generated = b_decays.b_to_k_resonance(rng, 200, beams=BABAR.beams, mass_gev_x=1.0, sigma_pb=1.0,
                                          decay_lengths=b_decays.DecayLengths())
    events = reconstruct(generated, BABAR, rng, weight=2.0, tracks=True)
    path = tmp_path / "b.root"
    write_events(path, events, {})
    back = read_events(path, tracks=True)
    for field in ("p", "theta", "phi", "charge", "kaon_id", "mc_pdgid", "mc_origin"):
        assert ak.all(back["track"][field] == events["track"][field])
    assert np.all(back["mc_x_proper_mm"] == events["mc_x_proper_mm"])
    assert "track" not in read_events(path).fields  # tracks only when asked for
    # a file without tracks cannot give them
    photons_only = tmp_path / "photons.root"
    write_events(photons_only, events[["photon", "n_tracks", "weight"]], {})
    with pytest.raises(NtupleError, match="track_p"):
        read_events(photons_only, tracks=True)


def test_the_hadronic_tag_round_trips_and_a_partial_tag_is_refused(tmp_path):
    from analysis_lib.detector.experiments import BELLE
    from analysis_lib.simulation import b_decays, tagging

    rng = np.random.default_rng(4)
    generated = b_decays.b_to_lambda_invisible(rng, 300, beams=BELLE.beams, mass_gev_psi=2.0, sigma_pb=1.0)
    events = reconstruct(generated, BELLE, rng, tracks=True, hadronic_tag=tagging.TAGS["belle"])
    path = tmp_path / "tagged.root"
    write_events(path, events, {})
    back = read_events(path, tracks=True)
    for field in ("mbc", "delta_e", "sigprob", "px", "py", "pz", "mc_correct"):
        assert np.all(np.asarray(back.tag[field]) == np.asarray(events.tag[field]))
    for field in ("in_tag", "d0", "z0", "proton_id", "electron_id"):
        assert ak.all(back.track[field] == events.track[field])
    assert ak.all(back.photon.in_tag == events.photon.in_tag)
    # a file with the tag's mass but not its momentum: refused, naming what is missing
    partial = tmp_path / "partial.root"
    with uproot.recreate(partial) as f:
        f["events"] = {"gamma_E": ak.Array([[1.0]]), "gamma_theta": ak.Array([[1.0]]), "gamma_phi": ak.Array([[0.0]]),
                       "n_tracks": np.array([0], dtype=np.int32), "tag_mbc": np.array([5.28])}
    with pytest.raises(NtupleError, match="tag_px"):
        read_events(partial)
