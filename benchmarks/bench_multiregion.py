"""Benchmark of the HistFactory models against pyhf (numpy backend, scipy optimizer).

Prints one table:

* a model of 2 regions, 3 samples and 50 bins (a signal region of 30 bins and a control region of 20,
  with staterror, normsys, histosys, shapesys and a normfactor shared by the regions; 85 parameters):
  the time of one limit with its five expected values, asymptotic, here and with pyhf; CLs at one
  signal strength from 10^3 pseudo-experiments here; a limit with bands from 10^3 measured, and from
  10^4 ten times that (the fits of a HistFactory model by Newton's method cost in proportion to the
  pseudo-experiments);
* a model of 5 bins: CLs at one signal strength from 10^3 pseudo-experiments here and with pyhf's
  toy calculator.

Usage: python benchmarks/bench_multiregion.py [--skip-pyhf]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from analysis_lib.stats import upper_limit
from analysis_lib.stats.toys import _fits, _Toys, toy_upper_limit
from analysis_lib.stats.workspace import from_workspace


def _mod(name, kind, data=None):
    return {"name": name, "type": kind, "data": data}


def workspace(bins_sr=30, bins_cr=20, seed=3):
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, bins_sr)
    s = 12 * np.exp(-(x**2) / (2 * 0.1**2))
    b1, b2 = 30 * np.exp(-0.8 * x), 8 * (1 + 0.2 * x)
    xc = np.linspace(-1, 1, bins_cr)
    cr = 120 * np.exp(-0.8 * xc)

    def lst(a):
        return [float(v) for v in a]

    sr = {"name": "SR", "samples": [
        {"name": "signal", "data": lst(s), "modifiers": [_mod("mu", "normfactor"), _mod("eff", "normsys", {"hi": 1.05, "lo": 0.95})]},
        {"name": "continuum", "data": lst(b1), "modifiers": [
            _mod("k", "normfactor"), _mod("stat_SR", "staterror", lst(0.04 * b1)),
            _mod("slope", "histosys", {"hi_data": lst(b1 * (1 + 0.05 * x)), "lo_data": lst(b1 * (1 - 0.05 * x))})]},
        {"name": "peaking", "data": lst(b2), "modifiers": [_mod("xsec", "normsys", {"hi": 1.1, "lo": 0.9}),
                                                          _mod("mc", "shapesys", lst(0.2 * b2))]}]}
    control = {"name": "CR", "samples": [
        {"name": "continuum", "data": lst(cr), "modifiers": [_mod("k", "normfactor"), _mod("stat_CR", "staterror", lst(0.03 * cr))]}]}
    return {"channels": [sr, control],
            "observations": [{"name": "SR", "data": lst(rng.poisson(b1 + b2))}, {"name": "CR", "data": lst(rng.poisson(cr))}],
            "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"}


def small_workspace(seed=4):
    rng = np.random.default_rng(seed)
    s, b = np.array([1.0, 3.0, 5.0, 3.0, 1.0]), np.array([4.0, 5.0, 5.0, 5.0, 4.0])
    spec = {"channels": [{"name": "c", "samples": [
        {"name": "signal", "data": list(s), "modifiers": [_mod("mu", "normfactor")]},
        {"name": "background", "data": list(b), "modifiers": [_mod("unc", "shapesys", list(0.1 * b))]}]}],
        "observations": [{"name": "c", "data": [float(v) for v in rng.poisson(b)]}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"}
    return spec


def timed(function, repeat=1):
    start = time.perf_counter()
    for _ in range(repeat):
        out = function()
    return (time.perf_counter() - start) / repeat, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-pyhf", action="store_true")
    args = parser.parse_args()
    spec = workspace()
    model, counts = from_workspace(spec)
    rows = []
    t, ours = timed(lambda: upper_limit(model, counts, method="asymptotic"))
    rows.append(("2 regions, 3 samples, 50 bins: asymptotic, here", t, ours.observed, ours.expected[2]))
    toy_set = _Toys(_fits(model), counts, None, 1000, 0)
    t_one, cls = timed(lambda: toy_set.cls(ours.observed))
    rows.append(("  CLs at the asymptotic limit from 10^3 pseudo-experiments, here", t_one, cls[0], float("nan")))
    t_limit, toy_limit = timed(lambda: toy_upper_limit(model, counts, n_toys=1000, references=ours))
    rows.append(("  a limit with bands from 10^3 pseudo-experiments, here", t_limit, toy_limit.observed,
                 toy_limit.expected[2]))
    rows.append(("  a limit with bands from 10^4 (x 10: Newton's fits cost in proportion)", 10 * t_limit, float("nan"),
                 float("nan")))
    small, small_counts = from_workspace(small_workspace())
    toy_set = _Toys(_fits(small), small_counts, None, 1000, 0)
    t_cls, cls = timed(lambda: toy_set.cls(2.0))
    rows.append(("5 bins: CLs at mu = 2 from 10^3 pseudo-experiments, here", t_cls, cls[0], float("nan")))
    if not args.skip_pyhf:
        import pyhf

        pyhf.set_backend("numpy", "scipy")
        warnings.filterwarnings("ignore")
        ws = pyhf.Workspace(spec)
        pm = ws.model()
        data = ws.data(pm)
        bounds = pm.config.suggested_bounds()
        bounds[pm.config.poi_index] = (0.0, 50.0)
        t, (obs, exp) = timed(lambda: pyhf.infer.intervals.upper_limits.toms748_scan(
            data, pm, 0.01, 20.0, level=0.05, par_bounds=bounds, rtol=1e-4))
        rows.append(("2 regions, 3 samples, 50 bins: asymptotic, pyhf", t, float(obs), float(exp[2])))
        ws_small = pyhf.Workspace(small_workspace())
        pm_small = ws_small.model()
        data_small = ws_small.data(pm_small)
        t, result = timed(lambda: pyhf.infer.hypotest(2.0, data_small, pm_small, test_stat="qtilde",
                                                      calctype="toybased", ntoys=1000))
        rows.append(("5 bins: CLs at mu = 2 from 10^3 pseudo-experiments, pyhf", t, float(result), float("nan")))
    print(f"{'model and method':62s} {'seconds':>9s} {'observed':>9s} {'median':>9s}")
    for name, seconds, observed, median in rows:
        print(f"{name:62s} {seconds:9.2f} {observed:9.4f} {median:9.4f}")


if __name__ == "__main__":
    main()
