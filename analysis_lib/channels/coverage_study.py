"""The coverage study: how often the book's 95% CL limits cover the true signal, the map from which
``method="auto"`` (:mod:`analysis_lib.stats.limits`) chooses pseudo-experiments over the asymptotic
formulae. Its page is ``notebooks/coverage.ipynb``; the computation is
:mod:`analysis_lib.stats.coverage`."""

from __future__ import annotations

from ..core.parameters import Parameter
from .base import Study, register_study

__all__ = ["CoverageStudy"]


@register_study
class CoverageStudy(Study):
    name = "coverage"
    title = "Coverage of the upper limits: where the asymptotic formulae fail"
    notebook = "coverage.ipynb"
    parameters = (
        Parameter("seed", int, 1, "seed of the pseudo-data sets", minimum=0),
        Parameter("backgrounds", list, [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
                  "expected backgrounds of the map, in events (all bins of the shape model)", minimum=0.01,
                  maximum=1000.0),
        Parameter("n_signals", int, 8, "true signals per background, 0.2 to 2 times the median expected limit",
                  minimum=2, maximum=50),
        Parameter("n_pseudo_data", int, 500, "pseudo-data sets per true signal for the asymptotic limits of the "
                  "shape model", minimum=100, maximum=100_000),
        Parameter("n_toy_signals", int, 3, "true signals per background (0.5 to 1.5 times the median expected "
                  "limit) where the shape model's limits come from pseudo-experiments", minimum=1, maximum=20),
        Parameter("n_toy_data", int, 150, "pseudo-data sets per true signal there, each with its own "
                  "pseudo-experiments", minimum=50, maximum=100_000),
        Parameter("toys_per_limit", int, 500, "pseudo-experiments per pseudo-data set there", minimum=100,
                  maximum=100_000),
    )
