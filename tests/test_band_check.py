"""The band check of a built book (tools/band_check.py): where observed limits fall in their bands."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "band_check.py"


@pytest.fixture(scope="module")
def band_check():
    spec = importlib.util.spec_from_file_location("band_check", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_positions_in_the_band(band_check):
    band = {"expected_minus2": 1.0, "expected_minus1": 2.0, "expected": 4.0, "expected_plus1": 8.0,
            "expected_plus2": 16.0}
    observed = [4.0, 2.0, np.sqrt(8.0 * 16.0), 32.0, 0.5, 4.0]
    frame = pd.DataFrame([{**band, "observed": o} for o in observed])
    frame.loc[5, "expected_plus1"] = 3.0  # a band that does not increase: no position
    z = band_check.positions(frame)
    np.testing.assert_allclose(z[:5], [0.0, -1.0, 1.5, 3.0, -3.0])
    assert np.isnan(z[5])


def test_counts_below_and_above(band_check):
    frame = pd.DataFrame({"observed": [0.5, 1.5, 20.0, 4.0], "expected_minus2": [1.0] * 4,
                          "expected_plus2": [16.0] * 4})
    s = band_check.summary(frame)
    assert (s["points"], s["below"], s["above"]) == (4, 1, 1)
    assert 0 < s["p_below"] < 1
