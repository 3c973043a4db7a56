"""Event selection as an ordered list of named cuts, with a weighted cut-flow table.

Examples
--------
>>> import numpy as np
>>> flow = CutFlow([Cut("positive", lambda x: x > 0), Cut("small", lambda x: x < 5)])
>>> x = np.array([-1.0, 1.0, 3.0, 7.0])
>>> mask, table = flow.apply(x, weights=np.ones(4))
>>> mask.tolist(), table["events"].tolist()
([False, True, True, False], [4.0, 3.0, 2.0])
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable

import numpy as np
import pandas as pd

from ..core.errors import EmptySelectionError

__all__ = ["Cut", "CutFlow", "cut_flow_table", "require_events", "subset"]


@dataclass(frozen=True)
class Cut:
    """A named requirement: ``function(events) -> boolean mask``; ``description`` for tables."""

    name: str
    function: Callable
    description: str = ""


@dataclass(frozen=True)
class CutFlow:
    """Cuts applied in order."""

    cuts: list

    def apply(self, events, *, weights):
        """The combined mask and a table of the weighted events left after each cut.

        The table has a first row "all" and then one row per cut, with columns ``events`` (sum of
        weights) and ``efficiency`` (relative to "all").
        """
        weights = np.asarray(weights, dtype=float)
        mask = np.ones(len(weights), dtype=bool)
        rows = [("all", "", weights.sum())]
        for cut in self.cuts:
            mask &= np.asarray(cut.function(events), dtype=bool)
            rows.append((cut.name, cut.description, weights[mask].sum()))
        table = pd.DataFrame(rows, columns=["cut", "description", "events"])
        total = table["events"].iloc[0]
        table["efficiency"] = table["events"] / total if total > 0 else np.nan
        return mask, table


def cut_flow_table(tables: dict) -> pd.DataFrame:
    """Join per-sample cut-flow tables side by side: one column of weighted events per sample."""
    columns = {name: t.set_index("cut")["events"] for name, t in tables.items()}
    return pd.DataFrame(columns)


def require_events(mask, *, what: str):
    """Raise :class:`EmptySelectionError` when ``mask`` keeps no event."""
    if not np.any(mask):
        raise EmptySelectionError(
            f"no event of {what} passes the selection; loosen the cuts or check the input ntuple"
        )


def subset(candidates, mask):
    """The candidates of the events where ``mask`` is true (every per-event array field cut)."""
    n = len(candidates.weight)
    changes = {}
    for f in fields(candidates):
        value = getattr(candidates, f.name)
        if isinstance(value, np.ndarray) and value.shape[:1] == (n,):
            changes[f.name] = value[mask]
    return replace(candidates, **changes)
