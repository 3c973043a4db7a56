"""pyhf workspaces both ways: limits of workspaces with several samples, regions and modifier types
against pyhf's (committed references, tools/make_pyhf_workspace_references.py), round trips, and
the refusals of what the model cannot hold."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.stats import BinnedModel, upper_limit
from analysis_lib.stats.workspace import (
    from_binned_model,
    from_workspace,
    read_workspace,
    to_workspace,
    validate,
    write_workspace,
)

REFERENCES = json.loads((Path(__file__).resolve().parent.parent / "data" / "pyhf_workspace_references.json").read_text())
WORKSPACES = {entry["name"]: entry for entry in REFERENCES["workspaces"]}


def test_references_cover_samples_regions_and_modifiers():
    specs = [entry["spec"] for entry in WORKSPACES.values()]
    assert len(specs) >= 10
    types = {m["type"] for spec in specs for c in spec["channels"] for s in c["samples"] for m in s["modifiers"]}
    assert types == {"normfactor", "normsys", "histosys", "shapesys", "staterror", "lumi", "shapefactor"}
    assert max(len(spec["channels"]) for spec in specs) >= 3
    assert max(len(c["samples"]) for spec in specs for c in spec["channels"]) >= 3
    assert REFERENCES["pyhf_version"]


@pytest.mark.parametrize("name", sorted(WORKSPACES))
def test_limits_match_pyhf(name):
    entry = WORKSPACES[name]
    model, counts = from_workspace(entry["spec"])
    result = upper_limit(model, counts, cl=REFERENCES["cl"], method="asymptotic")
    assert result.observed == pytest.approx(entry["observed"], rel=0.01)
    assert np.asarray(result.expected) == pytest.approx(np.asarray(entry["expected"]), rel=0.01)
    # the limit is inside the physical range and above the fitted strength
    assert 0 < result.observed and result.mu_hat < result.observed


@pytest.mark.parametrize("name", sorted(WORKSPACES))
def test_round_trip_keeps_the_likelihood(name):
    entry = WORKSPACES[name]
    model, counts = from_workspace(entry["spec"])
    spec = to_workspace(model, counts, measurement="limit")
    again, counts_again = from_workspace(spec)
    np.testing.assert_array_equal(counts_again, counts)
    # the same likelihood: equal at random points of the parameter space
    rng = np.random.default_rng(1)
    x = model._init + rng.uniform(-0.05, 0.05, model.n_parameters)
    assert again.full_nll(x[None], counts[None], again.nominal_aux()[None]) == pytest.approx(
        model.full_nll(x[None], counts[None], model.nominal_aux()[None]), rel=1e-12)
    # and pyhf read the written workspace to the same limits as the original (the references)
    trip = entry["round_trip"]
    assert trip["observed"] == pytest.approx(entry["observed"], rel=1e-4)
    assert np.asarray(trip["expected"]) == pytest.approx(np.asarray(entry["expected"]), rel=1e-4)


def test_binned_model_exports_to_a_valid_workspace(tmp_path):
    x = np.linspace(-1, 1, 6)
    binned = BinnedModel(4 * np.exp(-(x**2) / 0.1), 10 * (1 + 0.2 * x), 0.1 * 10 * (1 + 0.2 * x))
    counts = np.array([9.0, 11, 10, 13, 12, 12])
    spec = to_workspace(from_binned_model(binned), counts)
    validate(spec)
    path = write_workspace(tmp_path / "ws" / "window.json", spec, {"dataset": "test", "mu": "signal strength"})
    assert json.loads(path.with_name("window.meta.json").read_text())["dataset"] == "test"
    model, read_counts = read_workspace(path)
    np.testing.assert_array_equal(read_counts, counts)
    assert not list(path.parent.glob(".*.tmp"))
    direct = upper_limit(binned, counts, method="asymptotic")
    assert upper_limit(model, read_counts, method="asymptotic").observed == pytest.approx(direct.observed, rel=2e-3)


def _with_modifier_type(kind):
    spec = copy.deepcopy(WORKSPACES["shapesys_beside_fixed"]["spec"])
    spec["channels"][0]["samples"][1]["modifiers"][0]["type"] = kind
    return spec


def test_unsupported_modifier_type_is_refused_by_name():
    with pytest.raises(ParameterError, match="type 'shapenorm', which is not supported; the supported types are"):
        from_workspace(_with_modifier_type("shapenorm"))


@pytest.mark.parametrize(("change", "message"), [
    (lambda spec: spec.pop("observations"), "not a valid pyhf workspace"),
    (lambda spec: spec["observations"][0].update(name="elsewhere"), "no observation for channel 'window'"),
    (lambda spec: spec["observations"][0]["data"].pop(), "observation of channel 'window' has 9 bins"),
    (lambda spec: spec.update(version="2.0.0"), "not a valid pyhf workspace"),
])
def test_malformed_workspaces_are_refused(change, message):
    spec = copy.deepcopy(WORKSPACES["shapesys_beside_fixed"]["spec"])
    change(spec)
    with pytest.raises(ParameterError, match=message):
        from_workspace(spec)


def test_unknown_measurement_and_unreadable_files(tmp_path):
    with pytest.raises(ParameterError, match="measurement 'other' is not in the workspace"):
        from_workspace(WORKSPACES["shapesys_beside_fixed"]["spec"], measurement="other")
    with pytest.raises(ParameterError, match="does not exist"):
        read_workspace(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"channels": [')
    with pytest.raises(ParameterError, match="not valid JSON"):
        read_workspace(broken)


# -- the chapters' models as workspaces --------------------------------------------------------------


def _peak_window(level, seed=3):
    from analysis_lib.stats import SmoothBackgroundModel

    edges = np.linspace(0.0, 1.0, 21)
    x = 0.5 * (edges[1:] + edges[:-1])
    signal = np.exp(-0.5 * ((x - 0.5) / 0.05) ** 2)
    template = 0.1 * level * np.exp(-0.5 * ((x - 0.3) / 0.05) ** 2)
    counts = np.random.default_rng(seed).poisson(level * np.exp(-2 * x) + template).astype(float)
    model = SmoothBackgroundModel(10 * signal / signal.sum(), edges, degree=2, templates=[template],
                                  template_uncertainties=(0.25,))
    return model, counts


@pytest.mark.parametrize("level", [0.0, 1.5, 200.0, 2000.0])
def test_a_fitted_continuum_as_templates_gives_the_chapters_limits(level):
    # a peak on a smooth background: the workspace holds the continuum's fit and its coefficients'
    # uncertainty as histosys templates at 10 standard deviations (left nearly free, as the original)
    from analysis_lib.stats.workspace import export

    model, counts = _peak_window(level)
    spec, metadata = export(model, counts)
    validate(spec)
    assert "background-only fit" in metadata["continuum"] and "approximate" in metadata["caveat"]
    assert metadata["few_events"] == (level < 10)  # nearly free coefficients: templates capped, finite
    histosys = [m["data"] for s in spec["channels"][0]["samples"] for m in s["modifiers"] if m["type"] == "histosys"]
    assert np.isfinite([v for h in histosys for v in h["hi_data"] + h["lo_data"]]).all()
    names = [s["name"] for s in spec["channels"][0]["samples"]]
    assert names == ["signal", "continuum", "peaking_0"]
    modifiers = [m["type"] for s in spec["channels"][0]["samples"] for m in s["modifiers"]]
    assert modifiers == ["normfactor", "histosys", "histosys", "histosys", "histosys"]
    original = upper_limit(model, counts, method="asymptotic")
    converted = upper_limit(*from_workspace(spec), method="asymptotic")
    assert converted.observed == pytest.approx(original.observed, rel=0.02)
    np.testing.assert_allclose(converted.expected, original.expected, rtol=0.02)


def test_every_chapter_model_exports_and_others_are_refused():
    from analysis_lib.stats.workspace import export, from_counting

    binned = BinnedModel([1.0, 3.0, 1.0], [5.0, 6.0, 5.0], background_uncertainty=[0.5, 0.6, 0.5])
    spec, metadata = export(binned, [5.0, 8.0, 4.0])
    assert "same likelihood" in metadata["converted_from"]
    assert upper_limit(*from_workspace(spec), method="asymptotic").observed == pytest.approx(
        upper_limit(binned, [5.0, 8.0, 4.0], method="asymptotic").observed, rel=1e-3)
    # pyhf's default bounds of a normfactor, (0, 10), would cut the chapters' signal strengths
    assert spec["measurements"][0]["config"]["parameters"][0]["bounds"][0][1] > 10
    # a counting window without uncertainties: the known-background counting limit
    counting = to_workspace(from_counting(2.0, 3.0, 0.0), [4.0])
    known = BinnedModel([2.0], [3.0], float_background=False)
    assert upper_limit(*from_workspace(counting), method="asymptotic").observed == pytest.approx(
        upper_limit(known, [4.0], method="asymptotic").observed, rel=1e-4)
    with pytest.raises(ParameterError, match="no pyhf workspace for a dict"):
        export({}, [1.0])


def test_a_template_with_shape_modes_exports_them_as_histosys():
    """Each shape mode of a peaking template becomes a histosys to the template plus and minus the
    mode (linear: the same likelihood); the limits agree as for the other conversions."""
    from analysis_lib.stats import SmoothBackgroundModel
    from analysis_lib.stats.workspace import export

    model, counts = _peak_window(200.0)
    t = model.templates[0]
    modes = np.array([0.1 * np.gradient(t) / np.abs(np.gradient(t)).max() * t.max(), 0.05 * t])
    shaped = SmoothBackgroundModel(model.signal, model.edges, degree=2, templates=model.templates,
                                   template_uncertainties=(0.25,), template_modes=(modes,))
    spec, _ = export(shaped, counts)
    validate(spec)
    peaking = [s for s in spec["channels"][0]["samples"] if s["name"] == "peaking_0"][0]
    names = [m["name"] for m in peaking["modifiers"]]
    assert names == ["peaking_0_norm", "peaking_0_shape_0", "peaking_0_shape_1"]
    np.testing.assert_allclose(peaking["modifiers"][1]["data"]["hi_data"], t + modes[0])
    original = upper_limit(shaped, counts, method="asymptotic")
    converted = upper_limit(*from_workspace(spec), method="asymptotic")
    assert converted.observed == pytest.approx(original.observed, rel=0.02)
    # the modes widen the limit beside the template's normalisation alone
    assert original.expected[2] > upper_limit(model, counts, method="asymptotic").expected[2]


def test_validation_takes_numpy_arrays_as_arrays_and_names_the_problem():
    # as pyhf's own validation: arrays may be numpy arrays; a wrong entry is named with its place
    from analysis_lib.stats.workspace import from_counting, to_workspace, validate

    spec = to_workspace(from_counting(10.0, 100.0, 5.0, signal_uncertainty=0.1), [100.0])
    with_array = copy.deepcopy(spec)
    with_array["channels"][0]["samples"][0]["data"] = np.asarray(with_array["channels"][0]["samples"][0]["data"])
    validate(with_array)
    broken = copy.deepcopy(spec)
    broken["channels"][0]["samples"][0]["data"] = [1.0, "a"]
    with pytest.raises(ParameterError, match=r"'a' is not of type 'number' \(at channels/0/samples/0/data/1\)"):
        validate(broken)
