"""Channels: what differs between searches, declared once per search on the contract of :mod:`.base`;
and studies, the book's pages about the method that the runner executes like searches.

Importing this package registers every channel; the runner and the notebooks find them with
:func:`channel` (by name) and :func:`channel_for_notebook`, and use only the :class:`Channel`
interface. A new search is a new module here that defines a registered :class:`Channel` subclass,
and one import line below (see the book's page "Adding a search").
"""

# every channel module registers its channel when imported
from . import babar_b_to_k_alp, belle2_alp_3gamma, belle2_dark_higgsstrahlung, belle2_zprime_invisible  # noqa: E402,F401,I001
from . import babar_darkonium, belle_b_to_lambda_invisible  # noqa: F401
from . import coverage_study  # noqa: F401
from .base import (Channel, Study, channel, channel_for_notebook, channels, notebook_declaration, register,
                   register_study, studies, study)

__all__ = ["Channel", "Study", "channel", "channel_for_notebook", "channels", "notebook_declaration", "register",
           "register_study", "studies", "study"]
