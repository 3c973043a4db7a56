"""Cached ntuple production: the same seed gives the same events in any folder, another seed others."""

import awkward as ak
import pytest

from analysis_lib.channels import belle2_alp_3gamma as alp
from analysis_lib.detector.datasets import dataset
from analysis_lib.io.ntuple import read_events
from analysis_lib.simulation.production import ProductionConfig, produce

from ..conftest import SMALL

pytestmark = pytest.mark.xdist_group("simulation")


def test_same_seed_same_events(alp_inputs, tmp_path, monkeypatch):
    # regenerate two samples into another folder: identical contents (ROOT files embed a UUID and a
    # time, so contents are compared, not bytes)
    ds = dataset("belle2_2018")
    specs = [s for s in alp.sample_specs(ds, n_signal_events=SMALL["n_signal_events"])
             if s.name in ("signal_m1.000", "bkg_gamma_eta")]
    first = {name: read_events(path) for name, path in
             produce(specs, ds, seed=7, config=ProductionConfig(skim=alp.skim, n_max=SMALL["max_mc_events"],
                                                                max_data_events=0)).items()}
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path))
    second = {name: read_events(path) for name, path in
              produce(specs, ds, seed=7, config=ProductionConfig(skim=alp.skim, n_max=SMALL["max_mc_events"],
                                                                 max_data_events=0)).items()}
    for name in first:
        assert ak.to_list(first[name]) == ak.to_list(second[name])
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path / "other"))
    third = read_events(produce(specs, ds, seed=8, config=ProductionConfig(
        skim=alp.skim, n_max=SMALL["max_mc_events"], max_data_events=0))["signal_m1.000"])
    assert ak.to_list(third["photon"]["E"]) != ak.to_list(first["signal_m1.000"]["photon"]["E"])
