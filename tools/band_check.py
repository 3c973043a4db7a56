#!/usr/bin/env python3
"""Where the observed limits of a built book fall in their expected bands.

Per run and quantity (``book/runs/*/limits.csv``): the number of scanned points whose observed
limit lies below the -2 sigma edge of the expected band and above the +2 sigma edge, their shares,
and the binomial probability of at least that many below if each point fell there with
Phi(-2) = 2.28% independently; within :data:`TIE` of an edge is on it (neighbouring points share events, so the points are not independent
and the p-value is only indicative); the last lines pool every run (one quantity per run: the first
in its file, the others are transforms of it).

Also per run: where each observed limit falls in its band in units of sigma, z (interpolated in the
logarithm of the limit between the band's five quantiles, extrapolated beyond +-2 sigma with the
slope of the outer half-band), and the median and the robust width (interquartile range / 1.349)
of z: about 0 and 1 when the observed limits scatter as the bands say. Usage:

    tools/band_check.py [--root DIR]
"""

from __future__ import annotations

import argparse
import glob
import os

import numpy as np
import pandas as pd
from scipy.stats import binom, norm

BELOW = float(norm.cdf(-2.0))
#: Relative distance within which an observed limit is on a band's edge, not beyond it: a count of a
#: small background has band edges that coincide (no event is the likeliest count, the -2 to 0 sigma
#: quantiles alike), and an observed limit of that count equals them to the precision of the
#: pseudo-experiments (a few per mille).
TIE = 0.01


def summary(frame: pd.DataFrame) -> dict:
    """Counts below and above the band of one quantity's rows, with the binomial p-value of the
    count below."""
    n = len(frame)
    below = int((frame["observed"] < (1 - TIE) * frame["expected_minus2"]).sum())
    above = int((frame["observed"] > (1 + TIE) * frame["expected_plus2"]).sum())
    return {"points": n, "below": below, "above": above, "share_below": below / n if n else float("nan"),
            "p_below": float(binom.sf(below - 1, n, BELOW)) if n else float("nan")}


BAND = ("expected_minus2", "expected_minus1", "expected", "expected_plus1", "expected_plus2")


def positions(frame: pd.DataFrame) -> np.ndarray:
    """z of every row's observed limit in its band (see the module docstring); NaN where the band is
    not increasing or a limit not positive."""
    z_edges = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        band = np.log(frame[list(BAND)].to_numpy(float))
        observed = np.log(frame["observed"].to_numpy(float))
    out = np.full(len(frame), np.nan)
    for i, (edges, value) in enumerate(zip(band, observed)):
        if not (np.all(np.isfinite(edges)) and np.isfinite(value) and np.all(np.diff(edges) > 0)):
            continue
        if value < edges[0]:
            out[i] = -2.0 - (edges[0] - value) / (edges[1] - edges[0])
        elif value > edges[-1]:
            out[i] = 2.0 + (value - edges[-1]) / (edges[-1] - edges[-2])
        else:
            out[i] = np.interp(value, edges, z_edges)
    return out


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
                z = positions(rows)
                z = z[np.isfinite(z)]
                if z.size:
                    q1, median, q3 = np.percentile(z, [25, 50, 75])
                    print(f"{run:40s} {'(position in the band)':26s} median z {median:+.2f}, "
                          f"width {(q3 - q1) / 1.349:.2f} (1 if as the bands say)")
    n = pooled["points"]
    if n:
        print(f"pooled (first quantity of each run): {pooled['below']} of {n} below -2σ "
              f"({100 * pooled['below'] / n:.1f}%, p = {binom.sf(pooled['below'] - 1, n, BELOW):.2g}), "
              f"{pooled['above']} above +2σ ({100 * pooled['above'] / n:.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
