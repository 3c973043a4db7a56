"""Sensitivity versus luminosity: the expected limit of a search at a few masses from 0.1 fb^-1 to 50 ab^-1.

A run's likelihood at its own luminosity L0 becomes the likelihood at L = k L0 by scaling every
expected count with k (signal, background, sidebands; absolute uncertainties of predictions with
them, so relative ones stay) while what does not grow with the data stays: the prior of a
normalisation, the simulation's statistics behind a shape. The channel gives ``calculator_at(k,
systematics)``: the scan calculator of its windows at luminosity k L0, with its systematic
uncertainties or without them (background known, statistics only). :func:`sensitivity` computes
the expected limits (median and bands) of both at every luminosity, through the channel's own scan
calculator (so the method, and pseudo-experiments where counts are small, are the run's).

How a limit should scale (derived here, for a rate; a coupling whose rate goes as its square scales
as the square root): background-free, the limit on the rate falls as 1/L; background-dominated,
as 1/sqrt(L); a relative systematic uncertainty delta of the background stops it where delta B
exceeds sqrt(B). :meth:`Sensitivity.takeover` finds, per mass, the luminosity where the ratio of
the limit with systematics to the statistics-only one has grown by a factor (1.25 by default) from
its value at the lowest luminosity: where a systematic takes over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd

from ..core.errors import ParameterError
from .results import BAND_COLUMNS, LimitScan
from .scan import scan_limits

__all__ = ["LUMINOSITIES_FB", "Sensitivity", "sensitivity"]

#: The luminosities of a sensitivity curve (fb^-1): 0.1 fb^-1 to 50 ab^-1, the run's own added.
LUMINOSITIES_FB = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 50000.0)
#: The factor by which the ratio of the limit with systematics to the statistics-only one has grown
#: from its value at the lowest luminosity where a systematic is said to take over.
TAKEOVER_FACTOR = 1.25


@dataclass(frozen=True)
class Sensitivity:
    """Expected limits at a few masses versus luminosity, with and without systematic uncertainties.

    Attributes
    ----------
    luminosities_fb : array (n,)
    scans : tuple of n LimitScan
        The expected limits (observed: the median) at each luminosity, with every uncertainty.
    statistical : tuple of n LimitScan
        The same without systematic uncertainties (the background known).
    reference_fb : float
        The run's own luminosity.
    """

    luminosities_fb: np.ndarray
    scans: tuple
    statistical: tuple
    reference_fb: float

    def __post_init__(self):
        lums = np.asarray(self.luminosities_fb, dtype=float)
        if lums.ndim != 1 or not np.all(np.isfinite(lums)) or np.any(lums <= 0) or np.any(np.diff(lums) <= 0):
            raise ParameterError(f"luminosities {lums.tolist()} fb^-1 must be positive, finite and increasing")
        if len(self.scans) != len(self.luminosities_fb) or len(self.statistical) != len(self.luminosities_fb):
            raise ParameterError(f"{len(self.scans)} and {len(self.statistical)} scans for "
                                 f"{len(self.luminosities_fb)} luminosities; give one of each per luminosity")

    @property
    def quantity(self) -> str:
        return self.scans[0].quantity

    @property
    def unit(self) -> str:
        return self.scans[0].unit

    @property
    def masses_gev(self) -> np.ndarray:
        return np.asarray(self.scans[0].masses_gev)

    @property
    def masses2_gev(self):
        return self.scans[0].masses2_gev

    def expected(self) -> np.ndarray:
        """(masses, luminosities, 5): the expected limits (-2 to +2 standard deviations)."""
        return np.stack([s.expected for s in self.scans], axis=1)

    def median_statistical(self) -> np.ndarray:
        """(masses, luminosities): the median expected limit without systematic uncertainties."""
        return np.stack([s.expected[:, 2] for s in self.statistical], axis=1)

    def map(self, function) -> Sensitivity:
        """``function(scan) -> scan`` applied to every scan (e.g. a chain of transforms to the
        headline quantity, or stamping)."""
        return replace(self, scans=tuple(function(s) for s in self.scans),
                       statistical=tuple(function(s) for s in self.statistical))

    def transform(self, function, *, quantity: str, unit: str) -> Sensitivity:
        """The sensitivity on another quantity (see :meth:`LimitScan.transform`)."""
        return replace(self, scans=tuple(s.transform(function, quantity=quantity, unit=unit) for s in self.scans),
                       statistical=tuple(s.transform(function, quantity=quantity, unit=unit) for s in self.statistical))

    def takeover(self, factor: float = TAKEOVER_FACTOR) -> np.ndarray:
        """Per mass, the smallest luminosity (fb^-1) at which the ratio of the median limit with
        systematics to the statistics-only one exceeds ``factor`` times its value at the lowest
        luminosity (NaN where it never does). Relative to the lowest luminosity because there the
        ratio holds what does not grow with the data either way (a sideband's statistics, the
        construction's discreteness at small counts), and a systematic taking over is its growth."""
        ratio = self.expected()[:, :, 2] / self.median_statistical()
        out = np.full(len(self.masses_gev), np.nan)
        for k, row in enumerate(ratio):
            finite = np.flatnonzero(np.isfinite(row))
            if not finite.size:
                continue
            above = finite[row[finite] > factor * row[finite[0]]]
            if above.size:
                out[k] = self.luminosities_fb[above[0]]
        return out

    def to_frame(self) -> pd.DataFrame:
        """The table of ``sensitivity.csv``: quantity, unit, mass(es), luminosity, the five expected
        values and the statistics-only median."""
        frames = []
        for lum, full, stat in zip(self.luminosities_fb, self.scans, self.statistical):
            frame = full.to_frame().drop(columns=["observed"])
            frame.insert(frame.columns.get_loc("expected_minus2"), "luminosity_fb", float(lum))
            frame["expected_statistics_only"] = stat.expected[:, 2]
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        keys = ["mass_gev"] + (["mass2_gev"] if "mass2_gev" in out else []) + ["luminosity_fb"]
        return out.sort_values(keys, kind="stable").reset_index(drop=True)


#: A grid point of a sensitivity curve within this factor of the run's own luminosity is replaced by it.
NEAR_FACTOR = 1.5


def luminosities(reference_fb: float, grid=LUMINOSITIES_FB) -> np.ndarray:
    """The luminosities of a sensitivity curve: ``grid`` with the run's own luminosity added, which
    replaces the grid's points within a factor :data:`NEAR_FACTOR` of it (8.34 fb^-1 replaces 10): the
    median expected limit of a small count steps up where the median count steps (0 to 1 events, say),
    so two points 20% apart can show a rise that only the count's discreteness makes.

    Examples
    --------
    >>> luminosities(8.34).tolist()
    [0.1, 1.0, 8.34, 100.0, 1000.0, 10000.0, 50000.0]
    """
    if not (np.isfinite(reference_fb) and reference_fb > 0):
        raise ParameterError(f"the run's luminosity {reference_fb!r} fb^-1 must be positive")
    grid = np.asarray(grid, dtype=float)
    far = np.abs(np.log(grid / reference_fb)) >= np.log(NEAR_FACTOR)
    return np.unique(np.concatenate([grid[far], [float(reference_fb)]]))


def sensitivity(calculator_at: Callable, points, *, reference_fb: float, quantity: str, unit: str, cl: float,
                luminosities_fb=None, mass_name: str = "m", mass2_name: str = "", client=None) -> Sensitivity:
    """Expected limits at ``points`` (masses, or pairs of masses) for every luminosity.

    ``calculator_at(scale, systematics)`` returns the scan calculator (see
    :func:`analysis_lib.analysis.scan.scan_limits`) of the windows at ``scale`` times the run's
    luminosity ``reference_fb``, with or without systematic uncertainties; its limits are on
    ``quantity`` in ``unit``. The observed limit of each returned scan is its median expected one."""
    lums = luminosities(reference_fb) if luminosities_fb is None else np.asarray(luminosities_fb, dtype=float)
    scans = {True: [], False: []}
    for lum in lums:
        for systematics in (True, False):
            scan = scan_limits(points, calculator_at(float(lum / reference_fb), systematics), quantity=quantity,
                               unit=unit, cl=cl, mass_name=mass_name, mass2_name=mass2_name, progress=False,
                               client=client)
            scans[systematics].append(replace(scan, observed=scan.expected[:, 2].copy(), significance=None,
                                              luminosity_fb=float(lum), projection=True))
    return Sensitivity(luminosities_fb=lums, scans=tuple(scans[True]), statistical=tuple(scans[False]),
                       reference_fb=float(reference_fb))


def reference_scaling(luminosities_fb, anchor_fb: float, anchor_value: float, power: float) -> np.ndarray:
    """anchor_value (L / anchor)^-power: the reference lines of a sensitivity figure (power 1 and 1/2
    for a rate, 1/2 and 1/4 for a coupling whose rate goes as its square)."""
    return anchor_value * (np.asarray(luminosities_fb, dtype=float) / anchor_fb) ** (-power)


__all__ += ["luminosities", "reference_scaling", "BAND_COLUMNS"]


def scaled_model(model, counts, scale: float | None, systematics: bool = True):
    """A peak-on-continuum likelihood (:class:`~analysis_lib.stats.SmoothBackgroundModel`) at ``scale``
    times its luminosity: the signal and the simulated templates scaled, and as counts the
    background-only fit to ``counts``, scaled (the Asimov data of the background the data measured,
    at the run's own luminosity too, so that the curve is one construction); ``scale`` None: the
    model and the data themselves.
    Without ``systematics`` the background is that fit, known: a template model with no free
    parameter. Returns (model, counts)."""
    from ..stats import BinnedModel, fit

    if scale is None:  # the run's own likelihood and data
        return model, np.asarray(counts, dtype=float)
    background = model.expected_counts(0.0, fit(model, counts, mu=0.0).params)
    if not systematics:
        return (BinnedModel(signal=scale * model.signal, background=np.maximum(scale * background, 1e-9),
                            float_background=False), scale * background)
    templates = model.templates * scale if model.templates is not None and len(model.templates) else None
    modes = tuple(scale * m for m in model.template_modes)  # the simulation's relative precision is kept
    return replace(model, signal=scale * model.signal, templates=templates, template_modes=modes), scale * background
