"""Re-creations of dark-sector searches at the B factories.

The package reads as the path of the data: ``physics`` (cross sections, widths) ->
``detector`` and ``datasets`` (experiments and the dataset registry) -> ``simulation`` (generators,
detector response, cached ntuple production) -> ``ntuple`` (ROOT I/O with a branch mapping) ->
``selection`` -> ``histograms`` -> ``stats`` (likelihoods, limits) -> ``scan`` -> ``plotting`` ->
``runner`` (papermill runs and the book). Channels declare what differs between searches in
``analysis_lib.channels``.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
