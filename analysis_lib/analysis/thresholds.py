"""Selections by thresholds on two classifier outputs, and the expected background on their grid.

A search with two classifiers (e.g. one against the continuum, one against B Bbar) chooses a pair
of thresholds on a grid. Everything it needs is binned on that grid: the signal efficiency and
the background *at or above* each pair (:meth:`ThresholdGrid.at_or_above`), the expected
background of a simulated sample on (classifier bin, classifier bin, mass bin) with the two outputs
treated as independent and the mass spectrum a smooth density fitted to the simulated events where
the simulation is sparse (:meth:`ThresholdGrid.expected_cube`, :func:`smooth_spectrum`), and
pseudo-data split into an optimisation sample and the rest (:func:`split_pseudo_data`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ThresholdGrid", "smooth_spectrum", "split_pseudo_data"]


def smooth_spectrum(x, weights, axis, *, knot_spacing: float, join: int = 10):
    """The spectrum of the weighted values ``x`` on the bins of ``axis`` as a smooth density, normalised
    to a sum of 1 (all zeros without events).

    A P-spline log-density (:func:`analysis_lib.stats.pspline.fit_counts`, knots every
    ``knot_spacing`` in x, its smoothness estimated from the events) fitted to the effective counts
    of the weighted events (:func:`~analysis_lib.stats.pspline.effective_counts`) on cells that
    join ``join`` bins of ``axis``, evaluated back on its bins: a spectrum that rests on every
    simulated event, with no structure finer than the events support (a kernel of fixed width keeps
    the bumps of a sparse sample at its own scale)."""
    from ..stats.pspline import Basis, effective_counts, fit_counts

    x, weights = np.asarray(x, dtype=float), np.asarray(weights, dtype=float)
    edges = np.asarray(axis.edges, dtype=float)
    sum_w, _ = np.histogram(x, bins=edges, weights=weights)
    sum_w2, _ = np.histogram(x, bins=edges, weights=weights**2)
    if sum_w.sum() <= 0:
        return np.zeros(len(edges) - 1)
    starts = np.arange(0, len(sum_w), int(join))
    counts, _ = effective_counts(np.add.reduceat(sum_w, starts), np.add.reduceat(sum_w2, starts))
    centres = np.asarray(axis.centers, dtype=float)
    segments = max(int(round((edges[-1] - edges[0]) / knot_spacing)), 1)
    fine = Basis.at(centres, edges[0], edges[-1], segments)
    constant = Basis.at([0.0], 0.0, 1.0, 0)
    fit = fit_counts(counts[:, None], fine.coarse(int(join)), constant)
    density = fit.on(fine, constant).expected[:, 0]
    return density / density.sum()


def split_pseudo_data(expected, rng, fraction: float):
    """One Poisson draw of ``expected`` (classifier bin, classifier bin, mass bin), then a random
    share ``fraction`` of its events held out as the optimisation sample (a binomial split of every
    cell). Returns the optimisation sample's counts on the threshold grid and the remaining events."""
    events = rng.poisson(expected)
    held_out = rng.binomial(events, fraction)
    return held_out.sum(axis=2).astype(float), (events - held_out).astype(float)


@dataclass(frozen=True)
class ThresholdGrid:
    """The thresholds tried on each of two classifier outputs (the same list for both).

    Examples
    --------
    >>> grid = ThresholdGrid((0.0, 0.5))
    >>> counts = grid.counts([0.1, 0.6, 0.7], [0.9, 0.2, 0.8], np.ones(3))
    >>> grid.at_or_above(counts).tolist()
    [[3.0, 2.0], [2.0, 1.0]]
    """

    thresholds: tuple

    @property
    def size(self) -> int:
        return len(self.thresholds)

    def bin(self, score):
        """Index of the threshold bin [t_i, t_i+1) of classifier outputs."""
        return np.clip(np.digitize(score, self.thresholds) - 1, 0, self.size - 1)

    def counts(self, score_1, score_2, weights):
        """Weighted counts on the grid of the two outputs' bins."""
        grid = np.zeros((self.size, self.size))
        np.add.at(grid, (self.bin(score_1), self.bin(score_2)), weights)
        return grid

    @staticmethod
    def at_or_above(grid):
        """What passes each pair of thresholds: sums from each cell to the top of both leading axes."""
        return grid[::-1, ::-1].cumsum(axis=0).cumsum(axis=1)[::-1, ::-1]

    def passing(self, cube, thresholds):
        """A (bin, bin, mass) cube summed over the classifier bins at or above ``thresholds``: a spectrum."""
        i, j = self.bin(np.asarray(thresholds, dtype=float))
        return cube[i:, j:].sum(axis=(0, 1))

    def expected_cube(self, score_1, score_2, x, weights, axis, *, factorised: bool, knot_spacing: float = 0.05):
        """Expected events of one simulated sample on (bin 1, bin 2, bin of ``axis``).

        Without ``factorised``: as simulated. With it: the two outputs treated as independent (the
        classifiers look at different things) and the spectrum of ``x`` a smooth density fitted to
        the events (:func:`smooth_spectrum`, knots every ``knot_spacing``): the product of the
        marginals uses every simulated event, where the joint distribution at tight thresholds would
        rest on a handful of heavily weighted ones.
        """
        cube = np.zeros((self.size, self.size, len(axis.centers)))
        if not weights.size:
            return cube
        i, j = self.bin(score_1), self.bin(score_2)
        if not factorised:
            k = np.clip(axis.index(x), 0, len(axis.centers) - 1)
            np.add.at(cube, (i, j, k), weights)
            return cube
        p_1 = np.bincount(i, weights=weights, minlength=self.size) / weights.sum()
        p_2 = np.bincount(j, weights=weights, minlength=self.size) / weights.sum()
        return (weights.sum() * p_1[:, None, None] * p_2[None, :, None]
                * smooth_spectrum(x, weights, axis, knot_spacing=knot_spacing))
