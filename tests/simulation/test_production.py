"""Cached production of simulated ntuples: samples keyed by what determines them (experiment,
generator, seed, size, code), never by a dataset's name or luminosity; the same seed gives the same
events in any folder; weights follow the dataset that reads a sample; event-level pseudo-data are a
subset of independent pools, per dataset."""

from dataclasses import replace

import awkward as ak
import numpy as np
import pytest

from analysis_lib.channels import belle2_alp_3gamma as alp
from analysis_lib.core import timing
from analysis_lib.core.errors import NtupleError, ParameterError
from analysis_lib.detector.datasets import dataset
from analysis_lib.io.ntuple import Ntuple, read_events, read_meta
from analysis_lib.simulation.production import (
    ProductionConfig,
    make,
    ntuples,
    requests,
)

from ..conftest import SMALL

pytestmark = pytest.mark.xdist_group("simulation")

CONFIG = ProductionConfig(skim=alp.skim, n_max=SMALL["max_mc_events"])


def _specs(ds, names=("signal_m1.000", "bkg_gamma_eta")):
    return [s for s in alp.sample_specs(ds, n_signal_events=SMALL["n_signal_events"]) if s.name in names]


def test_samples_are_keyed_by_experiment_not_by_dataset_or_luminosity():
    small, large = dataset("belle2_2018"), dataset("belle2_50ab")
    first = requests(_specs(small), small, seed=7, config=CONFIG)
    second = requests(_specs(large), large, seed=7, config=CONFIG)
    assert [r.key for r in first] == [r.key for r in second]
    assert [r.path for r in first] == [r.path for r in second]
    # another experiment, seed, size or skim: another sample
    babar = dataset("babar_4s")
    assert requests(_specs(small), babar, seed=7, config=CONFIG)[0].key != first[0].key
    assert requests(_specs(small), small, seed=8, config=CONFIG)[0].key != first[0].key
    assert requests(_specs(small), small, seed=7, config=replace(CONFIG, n_max=30_000))[1].key != first[1].key
    assert requests(_specs(small), small, seed=7, config=replace(CONFIG, skim=lambda e: None))[0].key \
        != first[0].key


def test_backgrounds_are_sized_for_the_reference_luminosity():
    ds = dataset("belle2_2018")
    config = ProductionConfig(skim=alp.skim, n_min=10, n_max=10**9)
    eta = requests(_specs(ds, ("bkg_gamma_eta",)), ds, seed=1, config=config)[0]
    assert ds.experiment.reference_luminosity_fb == 50_000.0  # Belle II's goal, the largest of the book
    expected = eta.spec.sigma_pb * ds.experiment.reference_luminosity_fb * 1e3
    assert eta.n_events == int(np.ceil(2 * expected))
    # a fixed size (signal) is kept; the bounds apply
    signal = requests(_specs(ds, ("signal_m1.000",)), ds, seed=1, config=config)[0]
    assert signal.n_events == SMALL["n_signal_events"]
    assert requests(_specs(ds, ("bkg_gamma_eta",)), ds, seed=1, config=CONFIG)[0].n_events \
        == SMALL["max_mc_events"]


def test_same_seed_same_events_and_weights_follow_the_dataset(tmp_path, monkeypatch):
    # two folders, the same seed: identical contents (ROOT files embed a UUID and a time, so contents
    # are compared, not bytes); another seed: other events
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path / "a"))
    small, large = dataset("belle2_2018"), dataset("belle2_50ab")
    first = {name: read_events(n) for name, n in ntuples(_specs(small), small, seed=7, config=CONFIG).items()}
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path / "b"))
    second = {name: read_events(n) for name, n in ntuples(_specs(small), small, seed=7, config=CONFIG).items()}
    for name in first:
        assert ak.to_list(first[name]) == ak.to_list(second[name])
    # the same files for another luminosity, nothing simulated, weights scaled by the luminosity
    timing.reset()
    large_files = ntuples(_specs(large), large, seed=7, config=CONFIG)
    assert timing.totals().get("simulation", 0.0) == 0.0
    eta = read_events(large_files["bkg_gamma_eta"])
    np.testing.assert_allclose(ak.to_numpy(eta.weight),
                               ak.to_numpy(second["bkg_gamma_eta"].weight) * large.luminosity_fb / small.luminosity_fb,
                               rtol=1e-12)
    # the weights sum to sigma L times the skim's efficiency: sigma L at most
    spec = _specs(small, ("bkg_gamma_eta",))[0]
    assert 0 < ak.sum(eta.weight) <= spec.sigma_pb * large.luminosity_pb * (1 + 1e-9)
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path / "c"))
    third = read_events(ntuples(_specs(small), small, seed=8, config=CONFIG)["signal_m1.000"])
    assert ak.to_list(third["photon"]["E"]) != ak.to_list(first["signal_m1.000"]["photon"]["E"])


def test_a_sample_file_cannot_be_read_without_its_dataset_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path))
    ds = dataset("belle2_2018")
    path = make(requests(_specs(ds, ("bkg_gamma_eta",)), ds, seed=2, config=CONFIG)[0])
    assert read_meta(path)["weights"] == "per unit sigma x luminosity"
    with pytest.raises(NtupleError, match="weight_scale"):
        read_events(path)
    with pytest.raises(NtupleError, match="finite and positive"):
        Ntuple(path, weight_scale=float("nan"))
    assert len(read_events(Ntuple(path, weight_scale=2.0))) > 0


def test_pseudo_data_are_a_subset_of_the_pools_per_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path))
    config = replace(CONFIG, pool_luminosity_fb=0.5)
    ds = dataset("belle2_2018")
    specs = _specs(ds, ("bkg_gamma_pi0", "bkg_3gamma"))
    files = ntuples(specs, ds, seed=3, config=config)
    data = read_events(files["data"])
    assert np.all(ak.to_numpy(data.weight) == 1.0)
    # about sigma L x (skim efficiency) events of each background: compare with the weighted prediction
    predicted = sum(float(ak.sum(read_events(files[s.name]).weight)) for s in specs)
    assert len(data) == pytest.approx(predicted, rel=5 / np.sqrt(predicted))
    # again: the same file; another dataset of the same luminosity: other pseudo-data, no simulation
    assert ntuples(specs, ds, seed=3, config=config)["data"] == files["data"]
    timing.reset()
    twin = replace(ds, name="belle2_2018_twin")
    other = read_events(ntuples(specs, twin, seed=3, config=config)["data"])
    assert timing.totals().get("simulation", 0.0) == 0.0
    assert ak.to_list(other.photon.E[:20]) != ak.to_list(data.photon.E[:20])
    # above the pools' luminosity: no event-level pseudo-data
    assert "data" not in ntuples(specs, dataset("belle2_2019"), seed=3, config=config)


def test_bad_seeds_are_refused():
    ds = dataset("belle2_2018")
    for seed in (-1, 1.5, True):
        with pytest.raises(ParameterError, match="seed"):
            requests(_specs(ds), ds, seed=seed, config=CONFIG)


def test_photon_branches_are_samples_of_their_own_and_never_pools():
    """The two branches of a photon efficiency are two samples (keys and random streams of their
    own); a channel with event-level pseudo-data cannot use them (pool events weigh 1)."""
    ds = dataset("belle2_2018")
    eta = _specs(ds, ("bkg_gamma_eta",))[0]
    seen, missed = (replace(eta, name=f"bkg_gamma_eta_{b}", photon_branch=(b, 0.1)) for b in ("seen", "missed"))
    plain, first, second = (requests([s], ds, seed=1, config=CONFIG)[0] for s in (eta, seen, missed))
    assert len({plain.key, first.key, second.key}) == 3
    assert first.rng().random() != second.rng().random()
    with pytest.raises(ParameterError, match="pool"):
        requests([seen], ds, seed=1, config=replace(CONFIG, pool_luminosity_fb=1.0))


def _branch_pair(ds, generation="eta"):
    eta = replace(_specs(ds, ("bkg_gamma_eta",))[0], n_events=4000, chunk=1500)
    return [replace(eta, name=f"bkg_gamma_eta_{b}", photon_branch=(b, 0.1), generation=generation)
            for b in ("seen", "missed")]


def test_a_shared_generation_is_made_once_for_its_samples(tmp_path, monkeypatch):
    """The two branches of one generation: the first asked makes both files, once; each file is the
    same whichever is asked first (its own detector stream); a generation shared by samples of
    different sizes (or generators) is refused."""
    ds = dataset("belle2_2018")
    pair = _branch_pair(ds)
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path / "a"))
    seen, missed = requests(pair, ds, seed=3, config=CONFIG)
    assert seen.group == missed.group is not None and seen.key != missed.key
    assert [s.name for s in seen.siblings] == ["bkg_gamma_eta_missed", "bkg_gamma_eta_seen"]
    timing.reset()
    make(seen)
    assert missed.done()  # made with it
    spent = timing.totals()["simulation"]
    make(missed)
    assert timing.totals()["simulation"] == spent  # nothing simulated again
    first = {r.spec.name: read_events(Ntuple(r.path, weight_scale=1.0)) for r in (seen, missed)}
    assert read_meta(missed.path)["generation"] == {"name": "eta", "samples": [s.name for s in seen.siblings]}
    # one file lost: made again alone (the other's file kept), the same contents
    missed.path.unlink()
    make(missed)
    assert ak.array_equal(read_events(Ntuple(missed.path, weight_scale=1.0)), first[missed.spec.name])
    # the other order, another folder: the same contents
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path / "b"))
    seen, missed = requests(pair, ds, seed=3, config=CONFIG)
    make(missed)
    for r in (seen, missed):
        assert ak.array_equal(read_events(Ntuple(r.path, weight_scale=1.0)), first[r.spec.name])
    # another skim: another group (its own lock and task)
    other = requests(pair, ds, seed=3, config=replace(CONFIG, skim=lambda e: None))[0]
    assert other.group != seen.group
    # a sample alone (no generation) is another sample, with its own events
    alone = requests([replace(pair[0], generation=None)], ds, seed=3, config=CONFIG)[0]
    assert alone.key != seen.key and alone.group is None and not alone.siblings
    for changed in ({"n_events": 5000}, {"sigma_pb": 2 * pair[1].sigma_pb, "n_events": None},
                    {"force_beam_background": True}):
        with pytest.raises(ParameterError, match="share the generation"):
            requests([pair[0], replace(pair[1], **changed)], ds, seed=3, config=CONFIG)



def test_a_sample_forcing_conversions_needs_a_fixed_size():
    from analysis_lib.core.errors import ParameterError
    from analysis_lib.simulation.production import SampleSpec

    with pytest.raises(ParameterError, match="fixed n_events"):
        SampleSpec(name="bkg", label="b", kind="background", sigma_pb=1.0, generate=None, config={},
                   force_conversions=True)
    assert SampleSpec(name="bkg", label="b", kind="background", sigma_pb=1.0, generate=None, config={},
                      force_conversions=True, n_events=10).n_events == 10
