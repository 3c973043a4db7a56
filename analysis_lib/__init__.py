"""Re-creations of dark-sector searches at the B factories.

The package reads as the path of the data, one subpackage per stage, each importing only from the
stages before it: ``core`` (constants, units, errors, parameters, kinematics) -> ``detector``
(detector models and the dataset registry) -> ``physics`` (cross sections, widths) -> ``io``
(ntuples, published curves, results files) -> ``simulation`` (generators, detector response, cached
ntuple production) -> ``reco`` (candidates, selections) -> ``stats`` (likelihoods, limits) ->
``analysis`` (histograms, fits, counting windows, scans, the result type) -> ``plots`` ->
``channels`` (the channel contract and one declaration per search) -> ``runner`` (papermill runs
and the book).
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
