"""Statistics shared by every channel: binned likelihoods, fits, CLs upper limits and significances.

Conventions follow G. Cowan, K. Cranmer, E. Gross, O. Vitells, "Asymptotic formulae for
likelihood-based tests of new physics", Eur. Phys. J. C 71 (2011) 1554, arXiv:1007.1727, and the
CLs method of A. L. Read, J. Phys. G 28 (2002) 2693. ``tests/test_stats.py`` checks the limits
against pyhf on the same models.
"""

from .likelihood import BinnedModel, FitResult, fit
from .limits import LimitResult, discovery_significance, upper_limit
from .smooth import SmoothBackgroundModel

__all__ = ["BinnedModel", "FitResult", "LimitResult", "SmoothBackgroundModel", "discovery_significance", "fit",
           "upper_limit"]
