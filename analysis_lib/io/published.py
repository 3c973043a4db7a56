"""Published limit curves (digitised), read from ``data/published`` with their provenance.

Each file starts with ``#`` lines citing the paper, figure and digitisation source; the book prints
them under every overlay. The files have quirks (see each reader) that are cleaned here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import ParameterError
from ..core.paths import PUBLISHED_DIR

__all__ = ["PUBLISHED_DIR", "PublishedCurve", "PublishedInterval", "PublishedRange", "ReferenceTable", "load_curve",
           "load_reference_table"]



@dataclass(frozen=True)
class PublishedCurve:
    """A published limit versus mass.

    ``mass_gev`` and ``value`` are the points to draw (in order, NaN separating pieces);
    ``source`` is the header of the file.
    """

    mass_gev: np.ndarray
    value: np.ndarray
    quantity: str
    unit: str
    cl: float
    source: str
    label: str

    def at(self, mass_gev):
        """The curve interpolated at ``mass_gev``: NaN outside it and inside a gap (a NaN value in the
        file, e.g. a vetoed mass range, splits the curve into pieces that are never bridged)."""
        m, v = self.mass_gev, self.value
        query = np.asarray(mass_gev, dtype=float)
        out = np.full(query.shape, np.nan)
        piece = np.cumsum(~np.isfinite(v))  # a new piece after every NaN value
        for k in np.unique(piece[np.isfinite(v)]):
            sel = (piece == k) & np.isfinite(v) & np.isfinite(m)
            order = np.argsort(m[sel], kind="stable")
            mm, vv = m[sel][order], v[sel][order]
            inside = (query >= mm[0]) & (query <= mm[-1])
            out[inside] = np.interp(query[inside], mm, vv)
        return out


@dataclass(frozen=True)
class PublishedRange:
    """A published limit known only by its headline range (a paper's abstract), where no curve is
    digitised: ``low_mass_value`` at the low end of the mass range and ``high_point`` (mass in GeV,
    value) at the high end. Plots draw it as such, never as a curve."""

    quantity: str
    unit: str
    cl: float
    low_mass_value: float
    high_point: tuple
    source: str
    label: str


@dataclass(frozen=True)
class PublishedInterval:
    """A published limit known only by the interval its values span (a paper's abstract: "limits
    in the range ``low``-``high`` over ``mass_range_gev``"), where no curve is digitised. Plots draw
    the interval as a band over the mass range, never as a curve."""

    quantity: str
    unit: str
    cl: float
    low: float
    high: float
    mass_range_gev: tuple
    source: str
    label: str


@dataclass(frozen=True)
class ReferenceTable:
    """A published simulation-level table versus mass (e.g. a resolution), with its provenance:
    ``value`` and ``error`` at ``mass_gev``."""

    mass_gev: np.ndarray
    value: np.ndarray
    error: np.ndarray
    source: str

    def at(self, mass_gev):
        """The table interpolated linearly at ``mass_gev`` (NaN outside its mass range)."""
        query = np.asarray(mass_gev, dtype=float)
        out = np.interp(query, self.mass_gev, self.value)
        return np.where((query >= self.mass_gev[0]) & (query <= self.mass_gev[-1]), out, np.nan)


def load_reference_table(name: str) -> ReferenceTable:
    """Read a three-column table ``name`` (mass in MeV, value, error) from ``data/published``;
    rows whose error exceeds their value (the last bin of the recoil-mass resolution table) are
    dropped.

    Examples
    --------
    >>> t = load_reference_table("belle2_zprime_recoil_mass2_resolution_mc.txt")
    >>> round(float(t.at(1.0)), 3)
    0.287
    """
    path = PUBLISHED_DIR / name
    if not path.exists():
        raise ParameterError(f"no reference table {name!r} in {PUBLISHED_DIR}")
    raw = np.loadtxt(path)
    raw = raw[raw[:, 2] < raw[:, 1]]
    return ReferenceTable(mass_gev=raw[:, 0] / 1e3, value=raw[:, 1], error=raw[:, 2], source=_header(path))


def _header(path: Path) -> str:
    return "\n".join(line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#"))


def _belle2_gagg(path):
    # mass in eV; the first and last rows (g = 1) only close the plotted region; a step curve
    raw = np.loadtxt(path)
    raw = raw[raw[:, 1] < 1]
    return raw[:, 0] / 1e9, raw[:, 1], "g_agg", "GeV^-1", 0.95


def _belle2_sigma(path):
    # intervals (m_low, m_high, limit); rows out of order, some with m_high < m_low: drawn as steps
    raw = np.loadtxt(path)
    low, high = np.minimum(raw[:, 0], raw[:, 1]), np.maximum(raw[:, 0], raw[:, 1])
    order = np.argsort(low, kind="stable")
    mass = np.column_stack([low[order], high[order]]).ravel()
    value = np.repeat(raw[order, 2], 2)
    return mass, value, "sigma_x_br", "pb", 0.95


def _babar_b2ka(path):
    # points (m, m, limit) in increasing mass; NaN limits mark the eta and eta' vetoes
    raw = np.loadtxt(path)
    return raw[:, 0], raw[:, 2], "br_b_to_k_a_x_br_gg", "", 0.90


_READERS = {
    "babar_2022_b2ka_br_prompt_observed_90cl.txt": (_babar_b2ka, "BaBar 2022, prompt, observed (arXiv:2111.01800)"),
    "belle2_2020_alp_gagg_observed_95cl.txt": (_belle2_gagg, "Belle II 2020, observed (arXiv:2007.13071)"),
    "belle2_2020_alp_sigma_observed_95cl_pb.txt": (_belle2_sigma, "Belle II 2020, observed (arXiv:2007.13071)"),
}


def load_curve(name: str) -> PublishedCurve:
    """Read the published curve ``name`` (a file name in ``data/published``).

    Examples
    --------
    >>> c = load_curve("belle2_2020_alp_gagg_observed_95cl.txt")
    >>> c.cl, c.unit, bool(0.19 < c.mass_gev.min() < 0.2)
    (0.95, 'GeV^-1', True)
    """
    if name not in _READERS:
        raise ParameterError(f"no reader for published curve {name!r}; known: {sorted(_READERS)}")
    path = PUBLISHED_DIR / name
    reader, label = _READERS[name]
    mass, value, quantity, unit, cl = reader(path)
    return PublishedCurve(mass_gev=mass, value=value, quantity=quantity, unit=unit, cl=cl,
                          source=_header(path), label=label)
