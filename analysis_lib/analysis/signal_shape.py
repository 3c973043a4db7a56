"""A resonance peak known at simulated masses, interpolated to any mass in between.

At each simulated mass the peak of the observable x (e.g. m^2(gamma gamma)) is summarised by its
centre x0 (the median), its width sigma (half the central 68% interval, insensitive to tails)
and the standardised residuals u = (x - x0) / sigma of the simulated events. At a mass between
two simulated ones the template is the mixture of the two neighbours' residual distributions,
each placed at the interpolated centre and width, with weights linear in mass: linear moment
morphing (M. Baak, S. Gadatsch, R. Harrington, W. Verkerke, Nucl. Instrum. Meth. A 771 (2015) 39).
Efficiency, centre and width are interpolated linearly in mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import KinematicError

__all__ = ["PeakTemplates", "peak_summary", "weighted_quantile"]


def weighted_quantile(x, q, weights=None):
    """Quantiles ``q`` of values ``x`` with non-negative ``weights`` (None: unweighted, numpy's
    default definition). Weighted: the inverse of the piecewise-linear cumulative distribution
    through the midpoints of the sorted values' weights."""
    x = np.asarray(x, dtype=float)
    if weights is None:
        return np.quantile(x, q)
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    x, w = x[keep], w[keep]
    order = np.argsort(x)
    x, w = x[order], w[order]
    cumulative = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    return np.interp(q, cumulative, x)


def peak_summary(x, weights=None):
    """Centre (median) and width (half the central 68% interval) of a peak's values."""
    q16, q50, q84 = weighted_quantile(x, [0.15865, 0.5, 0.84135], weights)
    return q50, (q84 - q16) / 2


@dataclass(frozen=True)
class PeakTemplates:
    """Peak shapes at simulated masses (increasing), for interpolation.

    Attributes
    ----------
    masses_gev : array
    centres, widths : array
        x0 and sigma at each mass, in the observable's units.
    efficiencies : array
        Fraction of generated events inside the peak at each mass.
    residuals : tuple of arrays
        Standardised residuals u of the events at each mass.
    weights : tuple of arrays, optional
        Event weights at each mass (e.g. from lifetime reweighting); None: every event counts 1.
    """

    masses_gev: np.ndarray
    centres: np.ndarray
    widths: np.ndarray
    efficiencies: np.ndarray
    residuals: tuple
    weights: tuple | None = None

    @classmethod
    def from_samples(cls, masses_gev, values, n_generated, weights=None):
        """Build from the observable values of each simulated mass and the generated counts; with
        ``weights`` (one array per mass), the peak and the efficiency (sum of weights / generated)
        are those of the weighted events."""
        order = np.argsort(masses_gev)
        centres, widths, effs, residuals, kept = [], [], [], [], []
        for i in order:
            w = None if weights is None else np.asarray(weights[i], dtype=float)
            x0, sigma = peak_summary(values[i], w)
            centres.append(x0)
            widths.append(sigma)
            effs.append((len(values[i]) if w is None else w.sum()) / n_generated[i])
            residuals.append((np.asarray(values[i]) - x0) / sigma)
            kept.append(w)
        return cls(
            masses_gev=np.asarray(masses_gev, dtype=float)[order],
            centres=np.array(centres),
            widths=np.array(widths),
            efficiencies=np.array(effs),
            residuals=tuple(residuals),
            weights=None if weights is None else tuple(kept),
        )

    def _locate(self, mass_gev):
        m = self.masses_gev
        if not m[0] <= mass_gev <= m[-1]:
            raise KinematicError(
                f"mass {mass_gev!r} GeV is outside the simulated signal masses {m[0]}..{m[-1]} GeV; "
                "choose a mass inside, or simulate more masses"
            )
        j = int(np.clip(np.searchsorted(m, mass_gev, side="right") - 1, 0, len(m) - 2))
        f = (mass_gev - m[j]) / (m[j + 1] - m[j])
        return j, f

    def _interp(self, values, mass_gev):
        j, f = self._locate(mass_gev)
        return (1 - f) * values[j] + f * values[j + 1]

    def centre(self, mass_gev):
        """Interpolated peak centre."""
        return float(self._interp(self.centres, mass_gev))

    def width(self, mass_gev):
        """Interpolated peak width (sigma)."""
        return float(self._interp(self.widths, mass_gev))

    def efficiency(self, mass_gev):
        """Interpolated efficiency."""
        return float(self._interp(self.efficiencies, mass_gev))

    def histogram(self, mass_gev, edges):
        """Expected fraction of generated signal events in each bin of ``edges`` at ``mass_gev``.

        Sums to the efficiency times the fraction of the peak inside the edges.
        """
        j, f = self._locate(mass_gev)
        x0, sigma, eff = self.centre(mass_gev), self.width(mass_gev), self.efficiency(mass_gev)
        total = np.zeros(len(edges) - 1)
        for k, weight in ((j, 1 - f), (j + 1, f)):
            if weight == 0:
                continue
            u = self.residuals[k]
            w = None if self.weights is None else self.weights[k]
            counts, _ = np.histogram(x0 + sigma * u, bins=edges, weights=w)
            total += weight * counts / (len(u) if w is None else w.sum())
        return eff * total
