"""The dataset registry: luminosities, projections, B Bbar pairs, and unknown names."""

import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.detector.datasets import SIGMA_BB_NB, dataset, dataset_names, datasets


def test_dataset_registry():
    ds = dataset("belle2_2018")
    assert ds.luminosity_fb == pytest.approx(0.445) and not ds.projection
    assert ds.luminosity_pb == pytest.approx(445.0) and ds.luminosity_label == "445 pb$^{-1}$"
    assert dataset("belle2_50ab").projection
    assert all(d.experiment.sqrt_s_gev > 9.9 for d in datasets().values())  # down to below the Upsilon(2S)
    with pytest.raises(ParameterError, match="registered datasets"):
        dataset("nope")


def test_datasets_by_experiment():
    assert set(dataset_names("babar")) == {"babar_4s", "babar_off", "babar_3s", "babar_3s_off", "babar_2s", "babar_2s_off"}
    assert set(dataset_names("belle2")) == {"belle2_2018", "belle2_2019", "belle2_2019_2020", "belle2_1ab",
                                            "belle2_50ab", "belle2_50ab_off"}
    assert all(dataset(name).experiment.name == "belle2" for name in dataset_names("belle2"))


def test_b_pairs_published_or_from_the_cross_section():
    # BaBar's published 471 million pairs; without a published count, sigma(B Bbar) x luminosity
    assert dataset("babar_4s").n_bb_pairs == pytest.approx(471e6)
    ds = dataset("belle2_50ab")
    assert ds.bb_pairs is None
    assert ds.n_bb_pairs == pytest.approx(SIGMA_BB_NB * 1e6 * ds.luminosity_fb)  # nb x fb^-1 = 1e6 events


def test_off_resonance_datasets_have_their_energy_and_no_b_pairs():
    on, off = dataset("belle_4s"), dataset("belle_4s").off_resonance_dataset()
    assert off.name == "belle_off" and off.luminosity_fb == 89.0
    assert off.sqrt_s_gev == pytest.approx(10.52, abs=1e-9) and on.sqrt_s_gev == pytest.approx(10.58, abs=0.005)
    # both beams scaled by one factor: the boost is the same
    assert off.experiment.beams.beta_gamma == pytest.approx(on.experiment.beams.beta_gamma, rel=1e-12)
    assert off.experiment.beams.e_minus_gev / off.experiment.beams.e_plus_gev == pytest.approx(
        on.experiment.beams.e_minus_gev / on.experiment.beams.e_plus_gev, rel=1e-12)
    assert off.below_bb_threshold and off.n_bb_pairs == 0 and on.n_bb_pairs == pytest.approx(772e6)
    assert on.experiment.nominal and not off.experiment.nominal
    assert on.experiment.tag == "belle" and off.experiment.tag == "belle@10.520"
    assert dataset("babar_off").sqrt_s_gev == pytest.approx(10.54) and dataset("belle2_50ab_off").projection
    with pytest.raises(ParameterError, match="names no off-resonance dataset.*belle_4s"):
        dataset("belle2_2018").off_resonance_dataset()


def test_an_off_resonance_dataset_simulates_its_own_samples(tmp_path, monkeypatch):
    from analysis_lib.simulation.production import ProductionConfig, SampleSpec, requests

    monkeypatch.setenv("DSBOOK_GENERATED_DIR", str(tmp_path))
    spec = SampleSpec(name="bkg", label="bkg", kind="background", sigma_pb=1.0, generate=None, config={})
    config = ProductionConfig(skim=None)
    on, off = (requests([spec], dataset(name), seed=1, config=config)[0] for name in ("belle_4s", "belle_off"))
    assert on.key != off.key and on.path.parent != off.path.parent
    assert off.label == "belle@10.520/bkg" and dataset("belle_off").ntuple_dir(1) == off.path.parent


@pytest.mark.parametrize("partner", ["nope", "belle2_2018", "belle_4s"])
def test_a_registry_naming_a_wrong_off_resonance_partner_is_refused(tmp_path, monkeypatch, partner):
    import yaml

    from analysis_lib.detector import datasets as registry

    entries = yaml.safe_load(registry.REGISTRY.read_text())
    entries["belle_4s"]["off_resonance"] = partner
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(entries))
    monkeypatch.setenv("DSBOOK_REGISTRY", str(path))
    with pytest.raises(ParameterError, match=f"belle_4s.*off_resonance = '{partner}'.*below the B Bbar threshold"):
        dataset("belle_4s")


def test_a_registry_with_a_textual_energy_is_refused(tmp_path, monkeypatch):
    import yaml

    from analysis_lib.detector import datasets as registry

    entries = yaml.safe_load(registry.REGISTRY.read_text())
    entries["belle_off"]["sqrt_s_gev"] = "low"
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(entries))
    monkeypatch.setenv("DSBOOK_REGISTRY", str(path))
    with pytest.raises(ParameterError, match="belle_off.*sqrt_s_gev = 'low'"):
        dataset("belle_off")


def test_babar_narrow_upsilon_datasets():
    """The Upsilon(3S) and Upsilon(2S) runs and the data below them: 514 fb^-1 with the Upsilon(4S)'s,
    below the B Bbar threshold (no B pairs), each with its own sqrt(s)."""
    names = ("babar_4s", "babar_off", "babar_3s", "babar_3s_off", "babar_2s", "babar_2s_off")
    assert sum(dataset(n).luminosity_fb for n in names) == pytest.approx(513.66)
    for on, sqrt_s in (("babar_3s", 10.3552), ("babar_2s", 10.0233)):
        ds = dataset(on)
        assert ds.sqrt_s_gev == pytest.approx(sqrt_s, abs=1e-9)
        assert ds.off_resonance_dataset().sqrt_s_gev == pytest.approx(sqrt_s - 0.03, abs=1e-9)
        assert ds.n_bb_pairs == 0


def test_a_combination_is_the_union_of_its_parts():
    """babar_514 combines the six BaBar datasets: its luminosity is their sum, each part keeps its own
    sqrt(s), it has no ntuples of its own, and only channels that ask for combinations list it."""
    ds = dataset("babar_514")
    assert [p.name for p in ds.parts] == ["babar_4s", "babar_off", "babar_3s", "babar_3s_off", "babar_2s",
                                          "babar_2s_off"]
    assert ds.luminosity_fb == pytest.approx(513.66) and ds.simulated
    assert ds.luminosity_uncertainty_fb == pytest.approx(sum(p.luminosity_uncertainty_fb for p in ds.parts))
    assert len({round(p.sqrt_s_gev, 4) for p in ds.parts}) == 6
    assert dataset("babar_4s").parts == (dataset("babar_4s"),)
    with pytest.raises(ParameterError, match="combines.*read each of them"):
        ds.ntuple_dir(1)
    assert "babar_514" not in dataset_names("babar") and "babar_514" in dataset_names("babar", combinations=True)
    from analysis_lib.channels import channel

    with pytest.raises(ParameterError, match="babar_514"):
        channel("babar_b_to_k_alp").validate({"dataset": "babar_514"})


@pytest.mark.parametrize("change, message", [
    ({"combines": ["babar_4s", "nope"]}, r"names \['nope'\], which are not registered"),
    ({"combines": ["babar_4s", "belle_off"]}, "every part must be a dataset of 'babar'"),
    ({"combines": ["babar_4s"]}, "two or more different dataset names"),
    ({"combines": ["babar_4s", "babar_4s"]}, "two or more different dataset names"),
    ({"luminosity_fb": 1.0}, r"keys \['luminosity_fb'\]"),
])
def test_a_broken_combination_is_refused(tmp_path, monkeypatch, change, message):
    import yaml

    from analysis_lib.detector import datasets as registry

    entries = yaml.safe_load(registry.REGISTRY.read_text())
    entries["babar_514"].update(change)
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(entries))
    monkeypatch.setenv("DSBOOK_REGISTRY", str(path))
    with pytest.raises(ParameterError, match=message):
        dataset("babar_4s")
