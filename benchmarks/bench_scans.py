"""Time per mass hypothesis of every chapter's scan, in this process (no cluster).

Each channel is prepared once with small samples (simulated into a temporary folder unless
DSBOOK_GENERATED_DIR is set) and its scan is timed; the vectorised CLs evaluator is timed beside
the readable (iminuit) path on the same one-bin-per-angle counting windows of the invisible Z' (the
chapter's limits come from its fits; the windows are a fixed set of binned models). Prints one table.

    .venv/bin/python benchmarks/bench_scans.py
"""

from __future__ import annotations

import os
import tempfile
import time
from functools import partial

#: Small samples and coarse scans: the time per hypothesis, not the physics, is measured.
SETTINGS = {
    "belle2_alp_3gamma": {"n_signal_events": 1000, "max_mc_events": 20_000, "mass_min_gev": 0.5,
                          "mass_max_gev": 3.0, "mass_step_sigma": 2.0},
    "babar_b_to_k_alp": {"n_signal_events": 2000, "max_mc_events": 100_000, "mass_min_gev": 0.5,
                         "mass_max_gev": 2.0, "mass_step_sigma": 2.0},
    "belle2_zprime_invisible": {"n_signal_events": 1000, "max_mc_events": 30_000, "mass_step_sigma": 1.0},
    "belle2_dark_higgsstrahlung": {"n_signal_events": 1000, "max_mc_events": 30_000, "mass_step_sigma": 2.0},
}


def main():
    os.environ.setdefault("DSBOOK_GENERATED_DIR", tempfile.mkdtemp(prefix="bench_scans_"))
    from analysis_lib.analysis.counting import window_model
    from analysis_lib.analysis.scan import CLs, FastCLs
    from analysis_lib.channels import belle2_zprime_invisible as zprime
    from analysis_lib.channels import channel

    rows = []
    for name, values in SETTINGS.items():
        ch = channel(name)
        params = ch.validate(values)
        inputs = ch.prepare(params, progress=False)
        start = time.perf_counter()
        results = ch.analyse(inputs, params, progress=False)
        seconds = time.perf_counter() - start
        first = next(iter(results.values()))
        rows.append((name, first.method, len(first.masses_gev), seconds))
        if name == "belle2_zprime_invisible":
            masses = first.masses_gev
            build = partial(window_model, window=partial(zprime.window, inputs, window_sigma=params["window_sigma"]))
            start = time.perf_counter()
            CLs(build, ch.cl).batch(masses)
            rows.append((name, "counting windows: CLs, readable (iminuit)", len(masses), time.perf_counter() - start))
            start = time.perf_counter()
            FastCLs(build, ch.cl).batch(masses)
            rows.append((name, "counting windows: CLs, vectorised", len(masses), time.perf_counter() - start))
    print(f"{'channel':28s} {'method':55s} {'points':>6s} {'ms / point':>10s}")
    for name, method, n, seconds in rows:
        print(f"{name:28s} {method[:55]:55s} {n:6d} {1e3 * seconds / n:10.1f}")


if __name__ == "__main__":
    main()
