"""The dataset registry: luminosities, projections, B Bbar pairs, and unknown names."""

import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.detector.datasets import SIGMA_BB_NB, dataset, dataset_names, datasets


def test_dataset_registry():
    ds = dataset("belle2_2018")
    assert ds.luminosity_fb == pytest.approx(0.445) and not ds.projection
    assert ds.luminosity_pb == pytest.approx(445.0) and ds.luminosity_label == "445 pb$^{-1}$"
    assert dataset("belle2_50ab").projection
    assert all(d.experiment.sqrt_s_gev > 10 for d in datasets().values())
    with pytest.raises(ParameterError, match="registered datasets"):
        dataset("nope")


def test_datasets_by_experiment():
    assert dataset_names("babar") == ["babar_4s"]
    assert set(dataset_names("belle2")) == {"belle2_2018", "belle2_2019", "belle2_2019_2020", "belle2_1ab",
                                            "belle2_50ab"}
    assert all(dataset(name).experiment.name == "belle2" for name in dataset_names("belle2"))


def test_b_pairs_published_or_from_the_cross_section():
    # BaBar's published 471 million pairs; without a published count, sigma(B Bbar) x luminosity
    assert dataset("babar_4s").n_bb_pairs == pytest.approx(471e6)
    ds = dataset("belle2_50ab")
    assert ds.bb_pairs is None
    assert ds.n_bb_pairs == pytest.approx(SIGMA_BB_NB * 1e6 * ds.luminosity_fb)  # nb x fb^-1 = 1e6 events
