"""ROOT ntuples: round trip, a foreign ntuple through the branch mapping, and bad files."""

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis_lib.detector import BELLE2
from analysis_lib.errors import NtupleError
from analysis_lib.ntuple import read_events, read_meta, write_events
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
    assert ak.all(back["photon"]["E"] == events["gamma"]["E"])
    assert ak.all(back["photon"]["mc_origin"] == events["gamma"]["mc_origin"])
    assert np.all(back["weight"] == 0.5)
    assert read_meta(path) == {"sample": "x", "n_generated": 500}
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_foreign_ntuple_through_branch_mapping(tmp_path, events):
    # a "real data" ntuple with its own branch names, no weight and no truth
    path = tmp_path / "foreign.root"
    with uproot.recreate(path) as f:
        f["tree"] = {
            "clusterE": events["gamma"]["E"],
            "clusterTheta": events["gamma"]["theta"],
            "clusterPhi": events["gamma"]["phi"],
            "nTracks": events["n_tracks"],
        }
    mapping = {"photon_energy": "clusterE", "photon_theta": "clusterTheta", "photon_phi": "clusterPhi",
               "n_tracks": "nTracks"}
    back = read_events(path, branches=mapping, tree="tree")
    assert ak.all(back["photon"]["E"] == events["gamma"]["E"])
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
