"""Reference limits from pyhf for workspaces with several samples, regions and modifier types.

Builds the workspaces of ``WORKSPACES`` (each a small analysis: signal and control regions, on- and
off-resonance data, several beam energies, shape systematics, data-driven backgrounds, small and
large counts), computes with pyhf the observed and five expected 95% CL CLs limits (asymptotic,
q~_mu; pyhf's default interpolation codes, normsys code4 and histosys code4p), and does the same for
the workspace after a round trip through ``analysis_lib.stats.workspace`` (read into the project's
model and written back). Also records pyhf's interpolation of a reference variation at a few alpha
for every code. The output, tests/data/pyhf_workspace_references.json, is committed; the tests
compare the project's limits with it (pyhf is not run by the tests: it takes minutes here).

Usage: python tools/make_pyhf_workspace_references.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyhf

from analysis_lib.stats.workspace import from_workspace, to_workspace

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "pyhf_workspace_references.json"


def _peak(n, height, width=0.25):
    x = np.linspace(-1, 1, n)
    return height * np.exp(-(x**2) / (2 * width**2)), x


def _mod(name, kind, data=None):
    return {"name": name, "type": kind, "data": data}


def _ws(channels, observations, parameters=()):
    return {"channels": channels, "observations": observations,
            "measurements": [{"name": "limit", "config": {"poi": "mu", "parameters": list(parameters)}}],
            "version": "1.0.0"}


def _list(a):
    return [float(v) for v in np.asarray(a, dtype=float)]


def signal_and_control_region(rng):
    """Signal region with two backgrounds (one normalised in a control region) and staterror."""
    s, x = _peak(8, 6.0)
    b1, b2, cr = 20 * (1 + 0.3 * x), 8 * (1 - 0.2 * x), 150 * (1 + 0.1 * x)
    sr = {"name": "SR", "samples": [
        {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor"), _mod("eff", "normsys", {"hi": 1.05, "lo": 0.94})]},
        {"name": "ttbar", "data": _list(b1), "modifiers": [_mod("k_top", "normfactor"), _mod("stat_SR", "staterror", _list(0.05 * b1))]},
        {"name": "other", "data": _list(b2), "modifiers": [_mod("xsec_other", "normsys", {"hi": 1.2, "lo": 0.85}),
                                                          _mod("stat_SR", "staterror", _list(0.1 * b2))]}]}
    control = {"name": "CR", "samples": [
        {"name": "ttbar", "data": _list(cr), "modifiers": [_mod("k_top", "normfactor"), _mod("stat_CR", "staterror", _list(0.03 * cr))]}]}
    return _ws([sr, control], [{"name": "SR", "data": _list(rng.poisson(b1 + b2))},
                               {"name": "CR", "data": _list(rng.poisson(cr))}])


def shapesys_beside_fixed(rng):
    """One background with a 30% per-bin uncertainty beside a fixed one (the case one template
    cannot express)."""
    s, x = _peak(10, 5.0)
    b1, b2 = 12 * (1 - 0.4 * x), 6 + 0 * x
    region = {"name": "window", "samples": [
        {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor")]},
        {"name": "uncertain", "data": _list(b1), "modifiers": [_mod("unc_shape", "shapesys", _list(0.3 * b1))]},
        {"name": "fixed", "data": _list(b2), "modifiers": []}]}
    return _ws([region], [{"name": "window", "data": _list(rng.poisson(b1 + b2))}])


def on_and_off_resonance(rng):
    """On-resonance data (continuum plus B Bbar) and off-resonance data (continuum alone, a tenth of
    the luminosity): the continuum normalisation shared, the luminosity uncertain."""
    s, x = _peak(12, 8.0, 0.15)
    continuum, bbar = 40 * np.exp(-0.8 * x), 15 * (1 + 0.2 * x)
    on = {"name": "on_resonance", "samples": [
        {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor"), _mod("lumi", "lumi")]},
        {"name": "continuum", "data": _list(continuum), "modifiers": [_mod("k_continuum", "normfactor")]},
        {"name": "bbar", "data": _list(bbar), "modifiers": [_mod("lumi", "lumi"), _mod("bbar_xsec", "normsys", {"hi": 1.1, "lo": 0.9}),
                                                           _mod("bbar_mc", "shapesys", _list(0.15 * bbar))]}]}
    off = {"name": "off_resonance", "samples": [
        {"name": "continuum", "data": _list(0.1 * continuum), "modifiers": [_mod("k_continuum", "normfactor")]}]}
    return _ws([on, off], [{"name": "on_resonance", "data": _list(rng.poisson(continuum + bbar))},
                           {"name": "off_resonance", "data": _list(rng.poisson(0.1 * continuum))}],
               [{"name": "lumi", "auxdata": [1.0], "sigmas": [0.02], "bounds": [[0.8, 1.2]], "inits": [1.0]}])


def shared_norm_and_shape(rng):
    """A systematic that moves both the normalisation and the shape (normsys and histosys of one name)."""
    s, x = _peak(10, 7.0)
    b = 30 * (1 - 0.3 * x)
    region = {"name": "window", "samples": [
        {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor"),
                                                           _mod("energy_scale", "histosys", {"hi_data": _list(np.roll(s, 1)), "lo_data": _list(np.roll(s, -1))})]},
        {"name": "background", "data": _list(b), "modifiers": [
            _mod("energy_scale", "normsys", {"hi": 1.08, "lo": 0.95}),
            _mod("energy_scale", "histosys", {"hi_data": _list(b * (1 + 0.1 * x)), "lo_data": _list(b * (1 - 0.12 * x))}),
            _mod("model", "histosys", {"hi_data": _list(b * (1 + 0.05 * x**2)), "lo_data": _list(b * (1 - 0.04 * x**2))})]}]}
    return _ws([region], [{"name": "window", "data": _list(rng.poisson(b))}])


def data_driven_shape(rng):
    """A background whose shape is free bin by bin (shapefactor) and fixed by a control region of the
    same binning with a known transfer factor."""
    s, x = _peak(6, 4.0)
    b = 10 * (1 + 0.5 * x)
    sr = {"name": "SR", "samples": [
        {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor")]},
        {"name": "fakes", "data": _list(b), "modifiers": [_mod("fake_shape", "shapefactor"),
                                                         _mod("transfer", "normsys", {"hi": 1.15, "lo": 0.87})]}]}
    cr = {"name": "CR", "samples": [{"name": "fakes", "data": _list(5 * b), "modifiers": [_mod("fake_shape", "shapefactor")]}]}
    return _ws([sr, cr], [{"name": "SR", "data": _list(rng.poisson(b))}, {"name": "CR", "data": _list(rng.poisson(5 * b))}])


def three_beam_energies(rng):
    """One search at three centre-of-mass energies (three regions), the signal efficiency shared,
    each background normalised freely."""
    channels, observations = [], []
    for i, (scale, height) in enumerate([(1.0, 5.0), (0.4, 2.5), (0.2, 1.2)]):
        s, x = _peak(8, height)
        b = scale * 25 * (1 - 0.25 * x)
        name = f"sqrt_s_{i}"
        channels.append({"name": name, "samples": [
            {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor"), _mod("eff", "normsys", {"hi": 1.04, "lo": 0.96})]},
            {"name": "background", "data": _list(b), "modifiers": [_mod(f"k_{i}", "normfactor"), _mod(f"stat_{i}", "staterror", _list(0.08 * b))]}]})
        observations.append({"name": name, "data": _list(rng.poisson(b))})
    return _ws(channels, observations)


def small_counts(rng):
    """Backgrounds of a fraction of an event per bin, with template statistics (staterror)."""
    s, x = _peak(6, 2.0)
    b1, b2 = 0.4 * (1 + 0.5 * x), 0.2 + 0 * x
    region = {"name": "window", "samples": [
        {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor")]},
        {"name": "b1", "data": _list(b1), "modifiers": [_mod("stat", "staterror", _list(0.3 * b1))]},
        {"name": "b2", "data": _list(b2), "modifiers": [_mod("stat", "staterror", _list(0.5 * b2)), _mod("b2_xsec", "normsys", {"hi": 1.3, "lo": 0.7})]}]}
    return _ws([region], [{"name": "window", "data": _list(rng.poisson(b1 + b2))}])


def large_model(rng):
    """Two regions of 30 bins, three samples, every kind of uncertainty."""
    channels, observations = [], []
    for name, level in (("SR", 1.0), ("VR", 3.0)):
        s, x = _peak(30, 10.0 if name == "SR" else 3.0, 0.1)
        b1, b2 = level * 40 * np.exp(-x), level * 10 * (1 + 0.1 * x)
        channels.append({"name": name, "samples": [
            {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor"), _mod("lumi", "lumi"),
                                                               _mod("resolution", "histosys", {"hi_data": _list(_peak(30, 10.0 if name == 'SR' else 3.0, 0.12)[0]),
                                                                                               "lo_data": _list(_peak(30, 10.0 if name == 'SR' else 3.0, 0.085)[0])})]},
            {"name": "continuum", "data": _list(b1), "modifiers": [_mod("k_continuum", "normfactor"), _mod(f"stat_{name}", "staterror", _list(0.04 * b1)),
                                                                   _mod("slope", "histosys", {"hi_data": _list(b1 * (1 + 0.05 * x)), "lo_data": _list(b1 * (1 - 0.05 * x))})]},
            {"name": "peaking", "data": _list(b2), "modifiers": [_mod("lumi", "lumi"), _mod("peaking_xsec", "normsys", {"hi": 1.1, "lo": 0.92}),
                                                                 _mod(f"stat_{name}", "staterror", _list(0.06 * b2))]}]})
        observations.append({"name": name, "data": _list(rng.poisson(b1 + b2))})
    return _ws(channels, observations, [{"name": "lumi", "auxdata": [1.0], "sigmas": [0.015], "bounds": [[0.9, 1.1]], "inits": [1.0]}])


def counting_regions(rng):
    """Three one-bin regions (a counting experiment in three windows), normsys uncertainties only."""
    channels, observations = [], []
    for i, (s, b) in enumerate([(3.0, 2.0), (4.0, 6.0), (2.0, 15.0)]):
        channels.append({"name": f"bin{i}", "samples": [
            {"name": "signal", "data": [s], "modifiers": [_mod("mu", "normfactor"), _mod("eff", "normsys", {"hi": 1.1, "lo": 0.9})]},
            {"name": "background", "data": [b], "modifiers": [_mod(f"bkg_{i}", "normsys", {"hi": 1.25, "lo": 0.8})]}]})
        observations.append({"name": f"bin{i}", "data": [float(rng.poisson(b))]})
    return _ws(channels, observations)


def settings_and_fixed(rng):
    """Measurement settings: a fixed systematic, custom bounds and initial values, a narrower
    auxiliary width."""
    s, x = _peak(8, 5.0)
    b = 25 * (1 + 0.2 * x)
    region = {"name": "window", "samples": [
        {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor"), _mod("theory", "normsys", {"hi": 1.3, "lo": 0.75})]},
        {"name": "background", "data": _list(b), "modifiers": [_mod("k_b", "normfactor"), _mod("shape", "histosys", {"hi_data": _list(b * (1 + 0.1 * x)), "lo_data": _list(b * (1 - 0.1 * x))}),
                                                               _mod("bkg_mc", "shapesys", _list(0.1 * b))]}]}
    return _ws([region], [{"name": "window", "data": _list(rng.poisson(b))}],
               [{"name": "theory", "fixed": True}, {"name": "k_b", "bounds": [[0.5, 2.0]], "inits": [1.1]}])


def signal_in_control_region(rng):
    """Signal leaking into the control region that normalises the background."""
    s, x = _peak(5, 5.0)
    b = 15 * (1 + 0.1 * x)
    sr = {"name": "SR", "samples": [
        {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor")]},
        {"name": "background", "data": _list(b), "modifiers": [_mod("k_b", "normfactor"), _mod("mc_SR", "shapesys", _list(0.1 * b))]}]}
    cr = {"name": "CR", "samples": [
        {"name": "signal", "data": _list(0.2 * s), "modifiers": [_mod("mu", "normfactor")]},
        {"name": "background", "data": _list(4 * b), "modifiers": [_mod("k_b", "normfactor")]}]}
    return _ws([sr, cr], [{"name": "SR", "data": _list(rng.poisson(b))}, {"name": "CR", "data": _list(rng.poisson(4 * b))}])


def lumi_everywhere(rng):
    """Every sample scaled by the luminosity, two regions, staterror per region."""
    channels, observations = [], []
    for name, scale in (("A", 1.0), ("B", 2.5)):
        s, x = _peak(7, 4.0 * scale)
        b1, b2 = scale * 9 * (1 - 0.3 * x), scale * 4 + 0 * x
        channels.append({"name": name, "samples": [
            {"name": "signal", "data": _list(s), "modifiers": [_mod("mu", "normfactor"), _mod("lumi", "lumi")]},
            {"name": "b1", "data": _list(b1), "modifiers": [_mod("lumi", "lumi"), _mod(f"stat_{name}", "staterror", _list(0.1 * b1)),
                                                           _mod("b1_xsec", "normsys", {"hi": 1.1, "lo": 0.9})]},
            {"name": "b2", "data": _list(b2), "modifiers": [_mod("lumi", "lumi"), _mod(f"stat_{name}", "staterror", _list(0.2 * b2))]}]})
        observations.append({"name": name, "data": _list(rng.poisson(b1 + b2))})
    return _ws(channels, observations, [{"name": "lumi", "auxdata": [1.0], "sigmas": [0.03], "bounds": [[0.85, 1.15]], "inits": [1.0]}])


WORKSPACES = [signal_and_control_region, shapesys_beside_fixed, on_and_off_resonance, shared_norm_and_shape,
              data_driven_shape, three_beam_energies, small_counts, large_model, counting_regions, settings_and_fixed,
              signal_in_control_region, lumi_everywhere]


def pyhf_limits(spec):
    workspace = pyhf.Workspace(spec)
    model = workspace.model()
    data = workspace.data(model)
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0.0, 100.0)
    observed, expected = pyhf.infer.intervals.upper_limits.toms748_scan(
        data, model, 0.01, 50.0, level=0.05, par_bounds=bounds, rtol=1e-6)
    return float(observed), [float(e) for e in expected]


def interpolation_references():
    alphas = [-2.0, -1.3, -1.0, -0.6, -0.1, 0.0, 0.2, 0.7, 1.0, 1.4, 2.5]
    nominal, hi, lo = [10.0, 5.0, 2.0], [12.5, 4.4, 2.9], [7.9, 5.7, 1.6]
    out = {"alphas": alphas, "nominal": nominal, "hi": hi, "lo": lo, "factor_hi": [1.2, 0.9], "factor_lo": [0.85, 1.06],
           "codes": {}}
    for code in ("code0", "code2", "code4p"):
        interpolator = getattr(pyhf.interpolators, code)([[[lo, nominal, hi]]])
        out["codes"][code] = np.asarray(interpolator(pyhf.tensorlib.astensor([alphas])))[0, 0].tolist()
    for code in ("code1", "code4"):
        interpolator = getattr(pyhf.interpolators, code)([[[out["factor_lo"], [1.0, 1.0], out["factor_hi"]]]])
        out["codes"][code] = np.asarray(interpolator(pyhf.tensorlib.astensor([alphas])))[0, 0].tolist()
    return out


def main(argv):
    pyhf.set_backend("numpy", "scipy")
    out = {"pyhf_version": pyhf.__version__, "backend": "numpy, scipy optimizer", "cl": 0.95,
           "calculator": "asymptotic, q~_mu (test_stat='qtilde')",
           "interpolation": "pyhf defaults: normsys code4, histosys code4p",
           "interpolation_references": interpolation_references(), "workspaces": []}
    for i, build in enumerate(WORKSPACES):
        spec = build(np.random.default_rng(200 + i))
        start = time.perf_counter()
        observed, expected = pyhf_limits(spec)
        round_trip = to_workspace(*from_workspace(spec), measurement="limit")
        trip_observed, trip_expected = pyhf_limits(round_trip)
        seconds = time.perf_counter() - start
        print(f"{build.__name__}: observed {observed:.4g} (round trip {trip_observed:.4g}), {seconds:.0f} s", flush=True)
        out["workspaces"].append({"name": build.__name__, "description": build.__doc__.strip(), "spec": spec,
                                  "observed": observed, "expected": expected,
                                  "round_trip": {"observed": trip_observed, "expected": trip_expected},
                                  "pyhf_seconds": round(seconds, 1)})
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
