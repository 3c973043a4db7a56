"""Histograms of observables with ``hist``: fine binned templates, windows and pseudo-data.

Every sample is filled once into a fine histogram with weight storage (sum of weights and of
squared weights); fits take windows of it, merging fine bins into fit bins. Pseudo-data drawn at
histogram level (for luminosities where generating events one by one is absurd) is a Poisson draw of
the summed background histogram, on the same fine binning, so the analysis follows one path
whether the data came from an ntuple or from a histogram.
"""

from __future__ import annotations

from dataclasses import dataclass

import hist
import numpy as np

from ..core.errors import ParameterError

__all__ = ["Window", "fill", "from_values", "mass_squared_axis", "poisson_pseudo_data", "window"]


def mass_squared_axis(name: str, label: str, *, mass_min_gev: float, mass_max_gev: float, step_gev: float):
    """A variable axis in mass squared whose bins are ``step_gev`` wide in mass.

    Examples
    --------
    >>> ax = mass_squared_axis("x", "x", mass_min_gev=0.0, mass_max_gev=1.0, step_gev=0.5)
    >>> ax.edges.tolist()
    [0.0, 0.25, 1.0]
    """
    masses = np.arange(mass_min_gev, mass_max_gev + step_gev / 2, step_gev)
    return hist.axis.Variable(masses**2, name=name, label=label)


def fill(axis, values, weights) -> hist.Hist:
    """A weighted histogram of ``values`` on ``axis``."""
    h = hist.Hist(axis, storage=hist.storage.Weight())
    h.fill(np.asarray(values, dtype=float), weight=np.asarray(weights, dtype=float))
    return h


def from_values(axis, values, variances=None) -> hist.Hist:
    """A weighted histogram on ``axis`` with the given bin contents (and variances; None: the
    variances stay 0)."""
    h = fill(axis, [], [])
    h.view()["value"] = values
    if variances is not None:
        h.view()["variance"] = variances
    return h


def poisson_pseudo_data(expected: hist.Hist, rng) -> hist.Hist:
    """A Poisson draw of every bin of ``expected`` (weight storage: variance = counts)."""
    counts = rng.poisson(np.clip(expected.values(flow=True), 0, None)).astype(float)
    out = hist.Hist(*expected.axes, storage=hist.storage.Weight())
    out.view(flow=True)["value"] = counts
    out.view(flow=True)["variance"] = counts
    return out


@dataclass(frozen=True)
class Window:
    """Fit bins made of fine bins: ``start``..``stop`` fine-bin indices merged by ``group``."""

    start: int
    stop: int
    group: int
    edges: np.ndarray

    def values(self, h: hist.Hist) -> np.ndarray:
        """Sum of weights per fit bin."""
        return self._merge(h.values()[self.start : self.stop])

    def variances(self, h: hist.Hist) -> np.ndarray:
        """Sum of squared weights per fit bin."""
        return self._merge(h.variances()[self.start : self.stop])

    def _merge(self, fine):
        return fine.reshape(-1, self.group).sum(axis=1)


def window(axis, centre: float, half_width: float, *, bin_width: float) -> Window:
    """Fit bins of about ``bin_width`` covering ``centre`` +- ``half_width`` (clipped to the axis)."""
    edges = axis.edges
    if not edges[0] <= centre <= edges[-1]:
        raise ParameterError(f"window centre {centre!r} is outside the axis range {edges[0]}..{edges[-1]}")
    start = int(np.searchsorted(edges, centre - half_width, side="right") - 1)
    stop = int(np.searchsorted(edges, centre + half_width, side="left"))
    start, stop = max(start, 0), min(stop, len(edges) - 1)
    fine = np.diff(edges[start : stop + 1]).mean()
    group = max(int(round(bin_width / fine)), 1)
    n_bins = min(max((stop - start) // group, 1), (len(edges) - 1 - start) // group)
    stop = start + n_bins * group
    return Window(start=start, stop=stop, group=group, edges=edges[start : stop + 1 : group])


def smooth(h: hist.Hist, half_width_bins) -> hist.Hist:
    """``h`` smoothed with a triangular kernel of variable half width (in bins), preserving its sum
    away from the edges.

    Two passes of a box filter of half width ``half_width_bins[i] // 2`` (cumulative sums, so the
    cost does not grow with the width). Used to take the bin-to-bin statistical noise of a sparse
    weighted simulation out of an expectation before pseudo-data are drawn from it: the kernel
    should be wider than the simulation noise scale and narrower than any real structure of the
    spectrum (the caller chooses it from the detector resolution).
    """
    values = h.values()
    n = values.size
    half = np.clip(np.asarray(half_width_bins, dtype=int) // 2, 0, n)
    index = np.arange(n)
    lo, hi = np.clip(index - half, 0, n), np.clip(index + half + 1, 0, n)
    out = values
    for _ in range(2):
        cumulative = np.concatenate([[0.0], np.cumsum(out)])
        out = (cumulative[hi] - cumulative[lo]) / (hi - lo)
    result = hist.Hist(*h.axes, storage=hist.storage.Weight())
    result.view()["value"] = out
    result.view()["variance"] = 0.0
    return result
