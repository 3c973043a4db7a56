"""Statistics shared by every channel: likelihoods, fits, upper limits and significances.

Modules, one concept each: ``likelihood`` (template model with per-bin uncertainties profiled in
closed form, and the generic :func:`fit`), ``histfactory`` (any number of samples and regions with
pyhf's modifiers), ``interpolation`` (its interpolation codes), ``newton`` (its fits by Newton's
method, vectorised), ``workspace`` (pyhf JSON workspaces both ways), ``smooth`` (peak on a
data-driven smooth background with constrained templates), ``limits`` (CLs, asymptotic), ``fast``
(the same limits vectorised over mu), ``counting`` (Feldman-Cousins, Bayesian, toy CLs),
``significance`` (look-elsewhere effect), ``pspline`` (smooth densities of simulated counts, with
their uncertainty).

Conventions follow G. Cowan, K. Cranmer, E. Gross, O. Vitells, "Asymptotic formulae for
likelihood-based tests of new physics", Eur. Phys. J. C 71 (2011) 1554, arXiv:1007.1727, and the
CLs method of A. L. Read, J. Phys. G 28 (2002) 2693. ``tests/stats/`` checks the limits against pyhf
on the same models.
"""

from .histfactory import HistFactoryModel, Modifier, Region, Sample
from .likelihood import BinnedModel, FitResult, fit
from .limits import LimitResult, discovery_significance, upper_limit
from .smooth import SmoothBackgroundModel

__all__ = ["BinnedModel", "FitResult", "HistFactoryModel", "LimitResult", "Modifier", "Region", "Sample",
           "SmoothBackgroundModel", "discovery_significance", "fit", "upper_limit"]
