"""The channel contract: the registry, validation of a run's parameters, and the results of a run
stamped with its dataset."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from analysis_lib.analysis.inputs import DATA_SOURCES, Inputs
from analysis_lib.analysis.results import LimitScan
from analysis_lib.analysis.sensitivity import Sensitivity
from analysis_lib.channels import (
    Channel,
    babar_b_to_k_alp,
    babar_darkonium,
    belle2_alp_3gamma,
    belle2_dark_higgsstrahlung,
    belle2_zprime_invisible,
    belle_b_to_lambda_invisible,
    channel,
    channel_for_notebook,
    channels,
    register,
)
from analysis_lib.core.errors import ParameterError
from analysis_lib.detector.datasets import dataset
from analysis_lib.simulation.production import ProductionConfig

ROOT = Path(__file__).resolve().parent.parent.parent
NAMES = sorted(channels())

#: The channel classes and the names they register under.
CLASSES = {
    "belle2_alp_3gamma": belle2_alp_3gamma.AlpThreeGamma,
    "babar_b_to_k_alp": babar_b_to_k_alp.BToKAlp,
    "belle2_zprime_invisible": belle2_zprime_invisible.ZprimeInvisible,
    "belle2_dark_higgsstrahlung": belle2_dark_higgsstrahlung.DarkHiggsstrahlung,
    "belle_b_to_lambda_invisible": belle_b_to_lambda_invisible.BToLambdaInvisible,
    "babar_darkonium": babar_darkonium.Darkonium,
}


def test_every_search_is_registered_once_as_a_channel():
    assert NAMES == sorted(CLASSES)
    for name, cls in CLASSES.items():
        ch = channel(name)
        assert type(ch) is cls and isinstance(ch, Channel) and ch.name == name
        assert (ROOT / "notebooks" / ch.notebook).exists()
        assert ch.title and 0 < ch.cl < 1 and ch.parameters
        assert ch.parameters is type(ch).parameters
        assert repr(ch) == f"<channel {name}: {ch.title}>"
    # the module-level declarations are the channel's
    assert channel("belle2_alp_3gamma").parameters is belle2_alp_3gamma.PARAMETERS
    assert channel("babar_b_to_k_alp").cl == babar_b_to_k_alp.CL == 0.90
    assert channel("belle2_alp_3gamma").cl == belle2_alp_3gamma.CL == 0.95
    assert len({ch.notebook for ch in channels().values()}) == len(NAMES)
    channels().clear()  # a copy: the registry is untouched
    assert sorted(channels()) == NAMES


def test_channels_are_found_by_notebook():
    for ch in channels().values():
        assert channel_for_notebook(ch.notebook) is ch
        assert channel_for_notebook(f"notebooks/{ch.notebook}") is ch
        assert channel_for_notebook(str(ROOT / "notebooks" / ch.notebook)) is ch
    with pytest.raises(ParameterError, match="no channel declares the notebook 'x.ipynb'") as error:
        channel_for_notebook("x.ipynb")
    assert all(ch.notebook in str(error.value) for ch in channels().values())


def test_unknown_channel_names_the_known_ones():
    with pytest.raises(ParameterError, match="unknown channel 'belle2_alp'") as error:
        channel("belle2_alp")
    assert all(name in str(error.value) for name in NAMES)


def test_register_refuses_what_is_not_a_new_channel():
    with pytest.raises(TypeError, match="not a Channel subclass"):
        register(object)

    class Impostor(Toy):
        name = "belle2_alp_3gamma"

    with pytest.raises(ParameterError, match="two channels are named 'belle2_alp_3gamma'"):
        register(Impostor)
    assert type(channel("belle2_alp_3gamma")) is belle2_alp_3gamma.AlpThreeGamma
    register(belle2_alp_3gamma.AlpThreeGamma)  # registering the same class again changes nothing
    assert sorted(channels()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_validation_fills_defaults_and_refuses_unknown_parameters(name):
    ch = channel(name)
    defaults = ch.validate({})
    assert defaults == {p.name: p.default for p in ch.parameters}
    assert ch.dataset(defaults) == dataset(defaults["dataset"])
    with pytest.raises(ParameterError, match="unknown parameter 'seeed'"):
        ch.validate({"seeed": 1})
    with pytest.raises(ParameterError, match="run 'r'"):
        ch.validate({"seed": -1}, context="run 'r'")


def test_samples_are_those_a_run_reads():
    ch = channel("babar_b_to_k_alp")
    params = ch.validate({"dataset": "belle_4s", "n_signal_events": 1000, "max_mc_events": 20_000})
    specs = ch.samples(params)
    expected = babar_b_to_k_alp.sample_specs(dataset("belle_4s"), n_signal_events=1000, max_mc_events=20_000)
    assert [s.name for s in specs] == [s.name for s in expected]
    signal = [s for s in specs if s.kind == "signal"]
    assert len(signal) == len(babar_b_to_k_alp.SIGNAL_MASSES_GEV) and all(s.n_events == 1000 for s in signal)


class _Declared(Exception):
    """Raised by the patched production once a channel's prepare has asked for its samples."""


@pytest.mark.parametrize("name", ["belle2_alp_3gamma", "babar_b_to_k_alp", "belle2_zprime_invisible",
                                  "belle2_dark_higgsstrahlung"])
def test_prepare_reads_exactly_the_samples_the_runner_makes(name, monkeypatch, generated_dir):
    # the runner's simulation stage makes ch.sample_requests(params); prepare must ask for the same
    # samples (same keys: generator, sizes, skim), so that it simulates nothing after the stage. A
    # signal's cross section only normalises it (not part of its key): the Z' integration grids are
    # not trained here
    from analysis_lib.analysis import samples
    from analysis_lib.channels import belle2_zprime_invisible
    from analysis_lib.simulation.production import requests

    monkeypatch.setattr(belle2_zprime_invisible, "mumu_vector_sigma_pb", lambda mass, sqrt_s: (1.0, 0.0))

    asked = []

    def record(specs, ds, *, seed, config, progress=None):
        asked.extend(r.key for r in requests(specs, ds, seed=seed, config=config))
        raise _Declared

    monkeypatch.setattr(samples, "ntuples", record)
    ch = channel(name)
    params = ch.validate({"n_signal_events": 1000, "max_mc_events": 20_000})
    with pytest.raises(_Declared):
        ch.prepare(params, progress=False)
    assert asked and sorted(asked) == sorted(r.key for r in ch.sample_requests(params))


class Toy(Channel):
    """A channel that is never registered: its results are made by hand."""

    name = "toy"
    title = "toy"
    notebook = "toy.ipynb"
    cl = 0.9
    parameters = belle2_dark_higgsstrahlung.PARAMETERS

    def model_parameters(self, params):
        return {"ctau_mm": 10.0, "alpha_d": 0.5}

    def samples(self, params):
        return []

    def production(self, params):
        return ProductionConfig(skim=lambda events: np.ones(len(events), dtype=bool))

    def prepare(self, params, *, progress=True):
        return Inputs(dataset=self.dataset(params), seed=params["seed"], data_source="pseudo-data", cut_flow=None,
                      backgrounds={})

    def analyse(self, inputs, params, *, progress=True, client=None):
        own = hand_made("g_aw", 3, model={"ctau_mm": "from the coupling"}, notes=("lifetime from the coupling",))
        return {"rate": hand_made("br", 4), "coupling": own}

    def luminosity_scan(self, inputs, params, *, client=None):
        lums = np.array([1.0, 10.0])
        return Sensitivity(luminosities_fb=lums, scans=tuple(hand_made("br", 2) for _ in lums),
                           statistical=tuple(hand_made("br", 2) for _ in lums), reference_fb=1.0)


def hand_made(quantity, n, *, two=False, cl=0.9, **fields):
    masses = np.linspace(4.0, 6.0, n)
    return LimitScan(quantity=quantity, unit="", masses_gev=masses, observed=1e-6 * masses,
                     expected=1e-6 * masses[:, None] * np.array([0.5, 0.7, 1.0, 1.4, 2.0]), cl=cl,
                     method="CLs, asymptotic", test_statistic="q~_mu", masses2_gev=masses / 5 if two else None,
                     **fields)


def test_run_stamps_the_results_with_the_dataset_and_keeps_their_own_model_values():
    ch = Toy()
    assert "toy" not in channels()
    params = ch.validate({"dataset": "belle2_50ab"})
    inputs = ch.prepare(params)
    assert inputs.data_source in DATA_SOURCES
    results = ch.run(inputs, params, progress=False)
    ds = dataset("belle2_50ab")
    for result in results.values():
        assert (result.dataset, result.experiment, result.luminosity_fb, result.projection, result.data_source) == (
            "belle2_50ab", ds.experiment.label, ds.luminosity_fb, True, "pseudo-data")
        assert result.pseudo_data  # a simulated dataset: the observed limits are those of pseudo-data
    assert results["rate"].model == {"ctau_mm": 10.0, "alpha_d": 0.5}
    assert results["coupling"].model == {"ctau_mm": "from the coupling", "alpha_d": 0.5}
    assert results["coupling"].notes == ("lifetime from the coupling",)
    np.testing.assert_array_equal(results["rate"].observed, hand_made("br", 4).observed)
    # a dataset of real ntuples: its observed limits are not those of pseudo-data
    real = replace(ds, ntuples="/data/belle2")
    results = ch.run(Inputs(dataset=real, seed=1, data_source="ntuple", cut_flow=None, backgrounds={}), params,
                     progress=False)
    assert all(not r.pseudo_data and r.data_source == "ntuple" for r in results.values())
    # the sensitivity's scans are stamped as the results are, each keeping its own luminosity
    curve = ch.sensitivity(inputs, params)
    assert all(scan.dataset == "belle2_50ab" and scan.model == {"ctau_mm": 10.0, "alpha_d": 0.5}
               for scan in curve.scans + curve.statistical)


def test_a_channel_must_declare_its_sensitivity():
    class Silent(Toy):
        luminosity_scan = Channel.luminosity_scan

    with pytest.raises(TypeError, match="luminosity_scan"):
        Silent()
