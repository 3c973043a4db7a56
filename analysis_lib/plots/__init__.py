"""Figures: every function takes results or histograms and an optional ``ax``, and computes no physics."""

from .figures import *  # noqa: F401,F403
from .figures import __all__  # noqa: F401
