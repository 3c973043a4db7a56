"""Limits of analysis_lib.stats against pyhf on twenty binned models (1 to 200 bins, with and without
per-bin uncertainties, small and large counts): observed and all five expected values within 1%.

pyhf needs minutes per limit on the large models, so the references are computed once by
tools/make_pyhf_references.py and stored with the model JSON and the pyhf version in
tests/data/pyhf_references.json; tests/stats/test_limits.py runs pyhf live on small models.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from analysis_lib.stats import BinnedModel, upper_limit

REFERENCES = json.loads((Path(__file__).resolve().parent.parent / "data" / "pyhf_references.json").read_text())


def our_model(entry):
    signal, background = entry["spec"]["channels"][0]["samples"]
    uncertainty = next((m["data"] for m in background["modifiers"] if m["type"] == "shapesys"), None)
    return BinnedModel(signal["data"], background["data"], uncertainty, float_background=entry["float_background"])


def test_references_cover_the_required_range():
    models = REFERENCES["models"]
    bins = [len(m["counts"]) for m in models]
    assert len(models) >= 20 and min(bins) == 1 and max(bins) == 200
    assert any(our_model(m).background_uncertainty is None for m in models)
    assert any(our_model(m).background_uncertainty is not None for m in models)
    assert REFERENCES["pyhf_version"]


@pytest.mark.parametrize("index", range(len(REFERENCES["models"])))
def test_limit_matches_pyhf_reference(index):
    entry = REFERENCES["models"][index]
    result = upper_limit(our_model(entry), entry["counts"], cl=REFERENCES["cl"], method="asymptotic")
    assert result.observed == pytest.approx(entry["observed"], rel=0.01)
    assert np.asarray(result.expected) == pytest.approx(np.asarray(entry["expected"]), rel=0.01)
