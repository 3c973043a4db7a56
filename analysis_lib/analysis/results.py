"""The one result type of every search: upper limits versus one or two masses, with their conventions.

A :class:`LimitScan` holds what is limited (quantity and unit), where (masses, and a second mass for
two-dimensional searches), the observed limit with the five expected values of the band, the local
significance, and the conventions the numbers follow: confidence level, method, test statistic, the
fixed model parameters (a lifetime, alpha_D, a decay hypothesis), and the dataset they come from
(name, experiment, luminosity, projection or not, where its data came from). ``limits.csv``,
``meta.json`` (:mod:`analysis_lib.io.results`) and the figures (:mod:`analysis_lib.plots`) are made
from it alone.

Examples
--------
>>> import numpy as np
>>> scan = LimitScan(quantity="mu", unit="", masses_gev=np.array([1.0, 2.0]), observed=np.array([2.0, 3.0]),
...                  expected=np.tile([1.0, 1.5, 2.0, 3.0, 4.0], (2, 1)), cl=0.9, method="CLs, asymptotic",
...                  test_statistic="q~_mu")
>>> sigma = scan.transform(lambda m, v: 10 * v, quantity="sigma", unit="fb")
>>> sigma.observed.tolist(), sigma.cl, sigma.unit
([20.0, 30.0], 0.9, 'fb')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import ParameterError
from ..stats.significance import GlobalSignificance, global_significance

__all__ = ["BAND_COLUMNS", "LimitScan", "limits_table", "read_results"]

#: Columns of the expected band in ``limits.csv``: -2, -1, 0, +1, +2 standard deviations.
BAND_COLUMNS = ("expected_minus2", "expected_minus1", "expected", "expected_plus1", "expected_plus2")


@dataclass(frozen=True)
class LimitScan:
    """Upper limits at a set of mass hypotheses.

    Attributes
    ----------
    quantity, unit : str
        What is limited, e.g. ``"g_agg"`` in ``"GeV^-1"`` (``""``: dimensionless).
    masses_gev : array (n,)
        The (first) mass of each hypothesis.
    observed : array (n,)
    expected : array (n, 5)
        Expected limits at -2, -1, 0, +1, +2 standard deviations of the background-only outcomes.
    cl : float
        Confidence (or credibility) level.
    method, test_statistic : str
        How the limits were computed, e.g. ``"CLs, asymptotic"`` and ``"q~_mu"``.
    significance : array (n,), optional
        Local significance of an excess (0 where the fit prefers no signal, NaN where not computed);
        None (the default): not computed.
    masses2_gev : array (n,), optional
        The second mass of two-dimensional searches (e.g. M_h' beside M_A'); None for one mass.
    mass_name, mass2_name : str
        Names of the masses for tables and axes (``"m"`` and ``""`` by default).
    model : dict
        Fixed model parameters of the hypothesis (e.g. ``{"ctau_mm": 10.0}``); empty by default.
    dataset, experiment : str
        The dataset's registry name and its experiment's label ("" until the run stamps them).
    luminosity_fb : float
        The dataset's integrated luminosity (NaN until stamped).
    projection : bool
        True for a luminosity projection (False by default).
    data_source : str
        Where the data came from: ``"ntuple"`` (a data ntuple) or ``"pseudo-data"`` (drawn from the
        expected background).
    pseudo_data : bool
        True (the default) when the "observed" limits are those of simulated pseudo-data (a simulated
        dataset), False for a dataset of real ntuples.
    notes : tuple of str
        Warnings and choices of the computation, once each.
    workspaces : tuple of (dict, dict)
        The pyhf workspace of each hypothesis's likelihood with its metadata, in the order of the
        masses (:func:`analysis_lib.stats.workspace.export`; the parameter of interest is the signal
        strength of the hypothesis, whatever the result's quantity); empty when not made.
    """

    quantity: str
    unit: str
    masses_gev: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    cl: float
    method: str
    test_statistic: str
    significance: np.ndarray | None = None
    masses2_gev: np.ndarray | None = None
    mass_name: str = "m"
    mass2_name: str = ""
    model: dict = field(default_factory=dict)
    dataset: str = ""
    experiment: str = ""
    luminosity_fb: float = float("nan")
    projection: bool = False
    data_source: str = ""
    pseudo_data: bool = True
    notes: tuple = ()
    workspaces: tuple = field(default=(), repr=False, compare=False)

    def __post_init__(self):
        n = np.shape(self.masses_gev)[0] if np.ndim(self.masses_gev) else 0
        if np.shape(self.observed) != (n,) or np.shape(self.expected) != (n, len(BAND_COLUMNS)):
            raise ParameterError(
                f"a limit scan of {n} masses needs observed of shape ({n},) and expected of shape ({n}, 5); got "
                f"{np.shape(self.observed)} and {np.shape(self.expected)}"
            )
        for name in ("significance", "masses2_gev"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != (n,):
                raise ParameterError(f"{name} has shape {np.shape(value)}, but ({n},) is required")
        if self.workspaces and len(self.workspaces) != n:
            raise ParameterError(f"{len(self.workspaces)} workspaces for {n} masses; give one per mass, or none")

    def __len__(self):
        return len(self.masses_gev)

    @property
    def two_dimensional(self) -> bool:
        """True when the hypotheses have a second mass."""
        return self.masses2_gev is not None

    def transform(self, function, *, quantity: str, unit: str) -> LimitScan:
        """The limits on another quantity, through an increasing ``function(mass_gev, value)`` (one
        mass) or ``function(mass_gev, mass2_gev, value)`` (two masses)."""
        m = np.asarray(self.masses_gev, dtype=float)
        if self.two_dimensional:
            m2 = np.asarray(self.masses2_gev, dtype=float)
            observed = function(m, m2, self.observed)
            expected = function(m[:, None], m2[:, None], self.expected)
        else:
            observed, expected = function(m, self.observed), function(m[:, None], self.expected)
        return replace(self, quantity=quantity, unit=unit, observed=np.asarray(observed, dtype=float),
                       expected=np.asarray(expected, dtype=float))

    def stamped(self, **fields) -> LimitScan:
        """The same limits with run fields (dataset, experiment, luminosity_fb, projection, data_source,
        model) set; notes are added to the existing ones, and model parameters the result already
        states keep its value (e.g. a coupling limit whose lifetime follows the coupling)."""
        notes = tuple(dict.fromkeys(self.notes + tuple(fields.pop("notes", ()))))
        model = {**fields.pop("model", {}), **self.model}
        return replace(self, notes=notes, model=model, **fields)

    def select(self, mask) -> LimitScan:
        """The hypotheses where ``mask`` is true."""
        mask = np.asarray(mask)
        return replace(
            self, masses_gev=np.asarray(self.masses_gev)[mask], observed=np.asarray(self.observed)[mask],
            expected=np.asarray(self.expected)[mask],
            significance=None if self.significance is None else np.asarray(self.significance)[mask],
            masses2_gev=None if self.masses2_gev is None else np.asarray(self.masses2_gev)[mask],
            workspaces=tuple(self.workspaces[i] for i in np.arange(len(self))[mask]) if self.workspaces else (),
        )

    def at_mass2(self, mass2_gev: float) -> LimitScan:
        """The one-mass slice at the scanned second mass nearest ``mass2_gev`` (two-mass scans only);
        the slice's notes name the second mass."""
        if not self.two_dimensional:
            raise ParameterError(f"{self.quantity}: a scan of one mass has no second mass to slice at")
        values = np.unique(self.masses2_gev)
        chosen = float(values[np.argmin(np.abs(values - mass2_gev))])
        piece = self.select(np.asarray(self.masses2_gev) == chosen)
        return replace(piece, masses2_gev=None, mass2_name="", model={**self.model, self.mass2_name or "mass2_gev": chosen},
                       notes=(f"{self.mass2_name or 'mass2'} = {chosen:.2f} GeV",) + self.notes)

    def global_significance(self, *, reference_level: float = 0.5) -> GlobalSignificance:
        """Global significance of the largest local excess of a one-mass scan (Gross-Vitells, see
        :func:`analysis_lib.stats.significance.global_significance`)."""
        if self.significance is None or self.two_dimensional:
            raise ParameterError(f"{self.quantity}: no local significances of a one-mass scan to take the largest of")
        return global_significance(self.masses_gev, np.nan_to_num(self.significance), reference_level=reference_level)

    def to_frame(self) -> pd.DataFrame:
        """Long-form table with the columns of ``limits.csv`` (``mass2_gev`` after ``mass_gev`` for
        two-mass scans)."""
        frame = pd.DataFrame({"quantity": self.quantity, "unit": self.unit,
                              "mass_gev": np.asarray(self.masses_gev, dtype=float)})
        if self.two_dimensional:
            frame["mass2_gev"] = np.asarray(self.masses2_gev, dtype=float)
        frame["observed"] = np.asarray(self.observed, dtype=float)
        for i, column in enumerate(BAND_COLUMNS):
            frame[column] = np.asarray(self.expected, dtype=float)[:, i]
        return frame


def _label(result: LimitScan) -> str:
    return f"{result.quantity} [{result.unit}]" if result.unit else result.quantity


def limits_table(results, points, *, published=None) -> pd.DataFrame:
    """The limits at the scanned hypotheses nearest ``points`` (masses, or (mass, mass2) pairs for
    two-mass scans), once each, for a notebook's results table.

    Columns: the masses; for the first result its observed and expected limits with the 1 sigma
    band, the ``published`` curve's value and the ratio expected / published (when a curve is
    given) and the local significance (when computed); for the other results (on the same
    hypotheses) their observed and expected limits.
    """
    results = list(results)
    first = results[0]
    masses = np.asarray(first.masses_gev, dtype=float)
    if first.two_dimensional:
        m2 = np.asarray(first.masses2_gev, dtype=float)
        idx = [int(np.argmin((masses - a) ** 2 + (m2 - b) ** 2)) for a, b in points]
    else:
        idx = [int(np.argmin(np.abs(masses - m))) for m in points]
    idx = list(dict.fromkeys(idx))  # each scanned hypothesis once, in the order asked
    table = {f"{first.mass_name} [GeV]": masses[idx]}
    if first.two_dimensional:
        table[f"{first.mass2_name} [GeV]"] = np.asarray(first.masses2_gev)[idx]
    for k, r in enumerate(results):
        table[f"observed {_label(r)}"] = np.asarray(r.observed)[idx]
        table[f"expected {_label(r)}"] = np.asarray(r.expected)[idx, 2]
        if k == 0:
            table["-1 sigma"], table["+1 sigma"] = np.asarray(r.expected)[idx, 1], np.asarray(r.expected)[idx, 3]
            if published is not None and hasattr(published, "at"):
                table["published"] = published.at(masses[idx])
                table["expected / published"] = table[f"expected {_label(r)}"] / table["published"]
            if r.significance is not None and np.isfinite(r.significance).any():
                table["local Z"] = np.asarray(r.significance)[idx]
    return pd.DataFrame(table)


def read_results(folder) -> dict[str, LimitScan]:
    """The limits a run wrote into ``folder`` (its ``limits.csv`` and ``meta.json``), by quantity, as
    :class:`LimitScan` values with the run's conventions (CL, method, units, dataset, model parameters,
    notes): what the landing page, the publication outputs and recasting read, without the run's
    kernel. The local significances and workspaces are not in these files (None and empty).

    A missing or unreadable file, or a quantity of ``meta.json`` without rows in ``limits.csv``, is a
    :class:`~analysis_lib.core.errors.ParameterError` naming the file.
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        frame = pd.read_csv(folder / "limits.csv")
    except (OSError, ValueError) as exc:
        raise ParameterError(f"the results of the run in {folder} cannot be read ({exc}); run it again "
                             "(dsbook run --only <run id>)") from exc
    try:
        return _results_of(meta, frame, folder)
    except ParameterError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(f"the results of the run in {folder} lack {exc} (limits.csv or meta.json of another "
                             "version?); run it again (dsbook run --only <run id>)") from exc


def _results_of(meta, frame, folder) -> dict[str, LimitScan]:
    results = {}
    for entry in meta.get("quantities", []):
        rows = frame[frame["quantity"] == entry["quantity"]]
        if rows.empty:
            raise ParameterError(f"{folder / 'limits.csv'} has no rows of {entry['quantity']!r}, which "
                                 f"{folder / 'meta.json'} lists; run it again")
        two = bool(entry.get("two_masses")) and "mass2_gev" in rows
        results[entry["quantity"]] = LimitScan(
            quantity=entry["quantity"], unit=entry["unit"] if isinstance(entry["unit"], str) else "",
            masses_gev=rows["mass_gev"].to_numpy(float), observed=rows["observed"].to_numpy(float),
            expected=rows[list(BAND_COLUMNS)].to_numpy(float), cl=float(meta["confidence_level"]),
            method=entry["method"], test_statistic=entry["test_statistic"],
            masses2_gev=rows["mass2_gev"].to_numpy(float) if two else None,
            mass_name=entry.get("mass_name", "m"), mass2_name=entry.get("mass2_name", "") if two else "",
            model=dict(entry.get("model", {})), dataset=meta["dataset"], experiment=meta["experiment"],
            luminosity_fb=float(meta["luminosity_fb"]), projection=bool(meta["projection"]),
            data_source=meta["data_source"], pseudo_data=bool(meta.get("pseudo_data", True)),
            notes=tuple(entry.get("notes", ())))
    return results
