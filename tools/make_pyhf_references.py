"""Compute reference upper limits with pyhf for the validation tests of analysis_lib.stats.

Run once (it takes many minutes: pyhf fits every per-bin parameter numerically) and commit the
output, tests/data/pyhf_references.json, which records for every model its specification (the
pyhf workspace JSON), the observed counts, the pyhf version and backend, and the observed and five
expected 95% CL CLs limits (asymptotic, q~_mu).

Usage: python tools/make_pyhf_references.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyhf

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "pyhf_references.json"

#: (bins, per-bin relative uncertainty or None, background level per bin, signal peak height, free norm)
MODELS = [
    (1, None, 0.8, 3.0, False), (1, 0.2, 5.0, 4.0, False), (2, None, 12.0, 6.0, False), (3, 0.1, 30.0, 10.0, False),
    (5, None, 2.0, 4.0, True), (5, 0.05, 200.0, 30.0, True), (8, 0.3, 1.0, 3.0, False), (10, None, 0.5, 4.0, True),
    (10, 0.1, 50.0, 15.0, True), (15, None, 400.0, 60.0, True), (20, 0.05, 20.0, 10.0, True), (25, None, 3.0, 5.0, True),
    (30, 0.2, 100.0, 30.0, False), (40, None, 10.0, 8.0, True), (50, 0.05, 40.0, 15.0, True), (50, None, 1000.0, 100.0, True),
    (75, 0.1, 5.0, 6.0, True), (100, None, 20.0, 12.0, True), (150, 0.05, 60.0, 20.0, True), (200, 0.05, 30.0, 15.0, True),
]


def model_arrays(n_bins, rel, level, height, seed):
    x = np.linspace(-1, 1, n_bins) if n_bins > 1 else np.zeros(1)
    width = max(0.15, 2.0 / n_bins)
    signal = height * np.exp(-(x**2) / (2 * width**2))
    background = level * (1 + 0.3 * x)
    counts = np.random.default_rng(seed).poisson(background).astype(float)
    uncertainty = None if rel is None else rel * background
    return signal, background, uncertainty, counts


def workspace(signal, background, uncertainty, float_background):
    modifiers = []
    if float_background:
        modifiers.append({"name": "bnorm", "type": "normfactor", "data": None})
    if uncertainty is not None:
        modifiers.append({"name": "bkg_stat", "type": "shapesys", "data": list(map(float, uncertainty))})
    return {"channels": [{"name": "window", "samples": [
        {"name": "signal", "data": list(map(float, signal)),
         "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
        {"name": "background", "data": list(map(float, background)), "modifiers": modifiers},
    ]}]}


def pyhf_limits(spec, counts, guess):
    model = pyhf.Model(spec, poi_name="mu")
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0.0, 20 * guess)
    data = list(counts) + model.config.auxdata
    obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
        data, model, 0.02 * guess, 8 * guess, level=0.05, par_bounds=bounds, rtol=1e-6
    )
    return float(obs), [float(e) for e in exp]


def main(argv):
    pyhf.set_backend("numpy", "scipy")
    models = MODELS[:6] if "--quick" in argv else MODELS
    out = {"pyhf_version": pyhf.__version__, "backend": "numpy, scipy optimizer", "cl": 0.95,
           "calculator": "asymptotic, q~_mu (test_stat='qtilde')", "models": []}
    for i, (n_bins, rel, level, height, free) in enumerate(models):
        signal, background, uncertainty, counts = model_arrays(n_bins, rel, level, height, seed=100 + i)
        spec = workspace(signal, background, uncertainty, free)
        guess = 2 * np.sqrt(background.sum() + 1) / max(signal.sum(), 1e-9) + 0.5
        start = time.perf_counter()
        observed, expected = pyhf_limits(spec, counts, guess)
        seconds = time.perf_counter() - start
        print(f"model {i}: {n_bins} bins, {seconds:.1f} s, observed {observed:.4g}", flush=True)
        out["models"].append({"spec": spec, "counts": list(counts), "observed": observed, "expected": expected,
                              "float_background": free, "pyhf_seconds": round(seconds, 2)})
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
