#!/usr/bin/env python3
"""Where the observed limits of a built book fall in their expected bands.

Per run and quantity (``book/runs/*/limits.csv``): the number of scanned points whose observed
limit lies below the -2 sigma edge of the expected band and above the +2 sigma edge, their shares,
and the binomial probability of at least that many below if each point fell there with
Phi(-2) = 2.28% independently (neighbouring points share events, so the points are not independent
and the p-value is only indicative); the last lines pool every run (one quantity per run: the first
in its file, the others are transforms of it). Usage:

    tools/band_check.py [--root DIR]
"""

from __future__ import annotations

import argparse
import glob
import os

import pandas as pd
from scipy.stats import binom, norm

BELOW = float(norm.cdf(-2.0))


def summary(frame: pd.DataFrame) -> dict:
    """Counts below and above the band of one quantity's rows, with the binomial p-value of the
    count below."""
    n = len(frame)
    below = int((frame["observed"] < frame["expected_minus2"]).sum())
    above = int((frame["observed"] > frame["expected_plus2"]).sum())
    return {"points": n, "below": below, "above": above, "share_below": below / n if n else float("nan"),
            "p_below": float(binom.sf(below - 1, n, BELOW)) if n else float("nan")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=".")
    args = parser.parse_args(argv)
    pooled = {"points": 0, "below": 0, "above": 0}
    for path in sorted(glob.glob(os.path.join(args.root, "book", "runs", "*", "limits.csv"))):
        run = os.path.basename(os.path.dirname(path))
        frame = pd.read_csv(path)
        first = frame["quantity"].iloc[0]
        for quantity, rows in frame.groupby("quantity", sort=False):
            s = summary(rows)
            print(f"{run:40s} {quantity:26s} points {s['points']:5d}  below -2σ {s['below']:4d} "
                  f"({100 * s['share_below']:4.1f}%, p = {s['p_below']:.2g})  above +2σ {s['above']:4d}")
            if quantity == first:
                for key in pooled:
                    pooled[key] += s[key]
    n = pooled["points"]
    if n:
        print(f"pooled (first quantity of each run): {pooled['below']} of {n} below -2σ "
              f"({100 * pooled['below'] / n:.1f}%, p = {binom.sf(pooled['below'] - 1, n, BELOW):.2g}), "
              f"{pooled['above']} above +2σ ({100 * pooled['above'] / n:.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
