"""Benchmark of analysis_lib.stats against pyhf (numpy backend) on the same models.

Prints one table: time per mass hypothesis (observed limit and the five expected values) for a
1-, a 50- and a 200-bin peak-on-background model with a per-bin background uncertainty, for this
package and for pyhf, their ratio and the largest relative difference of the six limits; and the
time of 10,000 pseudo-experiments of a counting model (CLs at one signal strength) for both.

Usage: python benchmarks/bench_limits.py [--skip-pyhf-above N]   (pyhf takes minutes at 200 bins)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pyhf

from analysis_lib.stats import BinnedModel, upper_limit
from analysis_lib.stats.counting import toy_cls
from analysis_lib.stats.fast import fast_upper_limit, fast_upper_limits


def peak_model(n_bins, seed=1):
    x = np.linspace(-1, 1, n_bins) if n_bins > 1 else np.zeros(1)
    signal = 20 * np.exp(-(x**2) / (2 * max(0.1, 2 / n_bins) ** 2))
    background = 50 * (1 + 0.3 * x)
    counts = np.random.default_rng(seed).poisson(background).astype(float)
    return signal, background, 0.05 * background, counts


def pyhf_limit(signal, background, uncertainty, counts, guess, float_background):
    modifiers = [{"name": "stat", "type": "shapesys", "data": list(uncertainty)}]
    if float_background:
        modifiers.append({"name": "norm", "type": "normfactor", "data": None})
    spec = {"channels": [{"name": "c", "samples": [
        {"name": "s", "data": list(signal), "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
        {"name": "b", "data": list(background), "modifiers": modifiers},
    ]}]}
    model = pyhf.Model(spec, poi_name="mu")
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0, 20 * guess)
    obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
        list(counts) + model.config.auxdata, model, 0.05 * guess, 5 * guess, level=0.05, par_bounds=bounds, rtol=1e-6)
    return np.array([float(obs), *map(float, exp)])


def timed(function, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        result = function()
    return (time.perf_counter() - start) / repeat, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-pyhf-above", type=int, default=10_000, help="no pyhf for models with more bins")
    args = parser.parse_args()
    pyhf.set_backend("numpy", "scipy")
    warnings.filterwarnings("ignore")
    rows = []
    for n_bins in (1, 50, 200):
        s, b, u, n = peak_model(n_bins)
        # one bin: a counting model with an uncertain background (a free normalisation would leave
        # the background unconstrained); more bins: a free normalisation and per-bin uncertainties
        free = n_bins > 1
        model = BinnedModel(s, b, u, float_background=free)
        readable_t, r = timed(lambda: upper_limit(model, n, cl=0.95, method="asymptotic"), 5)
        fast_t, f = timed(lambda: fast_upper_limit(model, n, cl=0.95), 20)
        readable = np.array([r.observed, *r.expected])
        fast = np.array([f.observed, *f.expected])
        if n_bins <= args.skip_pyhf_above:
            pyhf_t, ref = timed(lambda: pyhf_limit(s, b, u, n, r.expected[2], free), 1)
        else:
            pyhf_t, ref = float("nan"), np.full(6, np.nan)
        for name, t, values in (("iminuit", readable_t, readable), ("vectorised", fast_t, fast)):
            diff = np.max(np.abs(values / ref - 1))
            rows.append((f"{n_bins}-bin limit + bands, {name}", t, pyhf_t, pyhf_t / t, diff))
    # a scan: 100 hypotheses of the 50-bin model (the peak moving across the window) at once
    s, b, u, _ = peak_model(50)
    x = np.linspace(-1, 1, 50)
    rng = np.random.default_rng(2)
    models = [BinnedModel(20 * np.exp(-((x - c) ** 2) / (2 * 0.1**2)), b, u) for c in np.linspace(-0.8, 0.8, 100)]
    data = [rng.poisson(b).astype(float) for _ in models]
    scan_t, _ = timed(lambda: fast_upper_limits(models, data), 3)
    rows.append(("50-bin scan, 100 hypotheses, per hypothesis", scan_t / 100, float("nan"), float("nan"),
                 float("nan")))
    ours_t, _ = timed(lambda: toy_cls(10, 5.0, 1.0, 10.0, n_toys=10_000), 20)
    spec = {"channels": [{"name": "c", "samples": [
        {"name": "s", "data": [1.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
        {"name": "b", "data": [10.0], "modifiers": []}]}]}
    model = pyhf.Model(spec, poi_name="mu")
    try:
        pyhf_t, _ = timed(lambda: pyhf.infer.hypotest(5.0, [10.0] + model.config.auxdata, model,
                                                      calctype="toybased", ntoys=10_000, track_progress=False), 1)
    except TypeError as exc:  # pyhf 0.7 toys break on numpy >= 2.4
        print(f"pyhf toys failed: {exc}")
        pyhf_t = float("nan")
    rows.append(("10,000 toys, counting, CLs at one mu", ours_t, pyhf_t, pyhf_t / ours_t, float("nan")))
    print(f"pyhf {pyhf.__version__}, numpy {np.__version__}")
    print(f"{'case':<44} {'ours [ms]':>12} {'pyhf [ms]':>12} {'speed-up':>10} {'max rel diff':>13}")
    for name, ours_t, pyhf_t, ratio, diff in rows:
        print(f"{name:<44} {1e3 * ours_t:12.3f} {1e3 * pyhf_t:12.1f} {ratio:10.0f} {diff:13.2e}")


if __name__ == "__main__":
    main()
