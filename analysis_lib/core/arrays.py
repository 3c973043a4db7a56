"""Small array helpers shared by the physics functions."""

from __future__ import annotations

import numpy as np


def scalar_or_array(x):
    """A Python float for 0-d input, the array otherwise (so scalars print as plain numbers)."""
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x
