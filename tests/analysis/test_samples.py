"""The events a run reads: ntuple paths of simulated and real datasets, the run's cache folder, and
reproducible pseudo-data."""

from dataclasses import replace

import numpy as np
import pytest

from analysis_lib.analysis.samples import draw_pseudo_data, ntuple_paths, pseudo_data_rng, work_dir
from analysis_lib.detector.datasets import dataset
from analysis_lib.io.ntuple import Ntuple
from analysis_lib.simulation.production import ProductionConfig, SampleSpec


def test_pseudo_data_are_one_stream_per_dataset_seed_and_purpose():
    ds = dataset("belle2_2019")
    first = pseudo_data_rng(ds, 3).random(5)
    np.testing.assert_array_equal(pseudo_data_rng(ds, 3).random(5), first)
    assert not np.array_equal(pseudo_data_rng(ds, 4).random(5), first)
    assert not np.array_equal(pseudo_data_rng(dataset("belle2_50ab"), 3).random(5), first)
    assert not np.array_equal(pseudo_data_rng(ds, 3, stream="data-histogram").random(5), first)


def test_draw_pseudo_data_is_a_poisson_draw_of_any_shape():
    ds = dataset("belle2_2019")
    expected = np.full((40, 50), 7.5)
    data = draw_pseudo_data(expected, ds, 1)
    assert data.shape == expected.shape and data.dtype == float
    np.testing.assert_array_equal(data, np.round(data))
    # mean and variance of 2000 Poisson(7.5) draws, within four standard errors
    assert data.mean() == pytest.approx(7.5, abs=4 * np.sqrt(7.5 / data.size))
    assert data.var() == pytest.approx(7.5, rel=4 * np.sqrt(2 / data.size))
    np.testing.assert_array_equal(draw_pseudo_data(expected, ds, 1), data)
    np.testing.assert_array_equal(draw_pseudo_data(expected, ds, 1), pseudo_data_rng(ds, 1).poisson(expected))


def test_real_datasets_are_read_from_their_folder(tmp_path):
    real = replace(dataset("belle2_2019"), ntuples=str(tmp_path))
    assert not real.simulated
    specs = [SampleSpec(name=name, label=name, kind="background", sigma_pb=1.0, generate=None, config={})
             for name in ("bkg_a", "bkg_b")]
    paths = ntuple_paths(specs, real, seed=1, config=ProductionConfig(skim=None), progress=False)
    assert paths == {"bkg_a": Ntuple(tmp_path / "bkg_a.root"), "bkg_b": Ntuple(tmp_path / "bkg_b.root"),
                     "data": Ntuple(tmp_path / "data.root")}


def test_caches_are_never_written_into_a_folder_of_real_ntuples(tmp_path, monkeypatch):
    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path / "generated"))
    real = replace(dataset("belle2_2019"), ntuples=str(tmp_path / "real"))
    assert work_dir(real, 2) == tmp_path / "generated" / "datasets" / "belle2_2019" / "seed2"
    # simulated datasets of one experiment share the folder of its samples (and their classifiers)
    assert work_dir(dataset("belle2_2019"), 2) == dataset("belle2_2019").ntuple_dir(2) == \
        work_dir(dataset("belle2_50ab"), 2) == tmp_path / "generated" / "belle2" / "seed2"


def test_the_model_of_the_truth_differs_from_the_prediction_as_the_world_would():
    """Two halves of a simulation each estimate a background of 10 events with a statistical error of
    3 (Gaussian toys): the world (10) lies 3 from a half's prediction on average, the other half 3 sqrt(2);
    the model of the truth, like the world, 3; and it keeps the sign of the other half's difference."""
    from analysis_lib.analysis.samples import truth_expectation
    from analysis_lib.core.errors import ParameterError

    rng = np.random.default_rng(11)
    first, second = 10 + 3 * rng.normal(size=(2, 200_000))
    assert np.std(10 - first) == pytest.approx(3.0, rel=0.01)
    assert np.std(second - first) == pytest.approx(3.0 * np.sqrt(2), rel=0.01)
    truth = truth_expectation(first, second)
    assert np.std(truth - first) == pytest.approx(3.0, rel=0.01)
    assert (np.sign(truth - first) == np.sign(second - first)).all()
    assert truth_expectation(np.array([5.0, 0.0]), np.array([0.0, 0.0])).min() >= 0
    with pytest.raises(ParameterError, match="differ in shape"):
        truth_expectation(np.ones(2), np.ones(3))
