"""The channel contract: what every search declares, and the run a notebook executes with it.

A search is a subclass of :class:`Channel` that declares, once, what differs from the other
searches: its name, title and notebook, its run parameters (types and ranges, some depending on the
dataset), the confidence level and published references of its results, the simulated samples a
run needs and how they are produced (sizes, skim: :meth:`Channel.production`; the runner makes them
in its simulation stage before the runs), and its two steps, ``prepare(params) -> inputs`` (ntuples to histograms, maps or
tables) and ``analyse(inputs, params) -> results`` (a dict of
:class:`~analysis_lib.analysis.results.LimitScan`). Everything else is shared code. Channels
register themselves with :func:`register`; the runner and the notebooks find them by name
(:func:`channel`) or notebook (:func:`channel_for_notebook`) and use nothing but this interface.

A notebook starts with :func:`analysis_lib.runner.notebook.setup`, which validates its parameters
against the channel's declaration and gives the run's context.

A :class:`Study` is a page of the book that the runner executes like a search but that is about the
method, not a search (the coverage of the limits): a name, title, notebook and run parameters, no
dataset and no simulated samples; its notebook starts with
:func:`analysis_lib.runner.notebook.setup_study`. The runner finds what declares a notebook, channel
or study, with :func:`notebook_declaration`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from ..analysis import peak_search
from ..analysis.results import LimitScan
from ..core.errors import ParameterError
from ..core.parameters import Parameter, validate
from ..detector.datasets import Dataset, dataset
from ..io.published import load_curve
from ..simulation.production import requests

__all__ = ["Channel", "Overview", "PeakSearchChannel", "Study", "points_in_range", "channel", "channel_for_notebook",
           "channels", "notebook_declaration", "register", "register_study", "studies", "study"]

def points_in_range(points, low: float, high: float) -> list:
    """The masses of ``points`` (or pairs, by their first mass) from ``low`` to ``high``; the middle
    of the range where none is (a run over a narrow range still gets its sensitivity figure)."""
    inside = [p for p in points if low <= (p[0] if np.ndim(p) else p) <= high]
    if inside:
        return inside
    middle = 0.5 * (low + high)
    return [middle] if not points or not np.ndim(points[0]) else [(middle, *points[0][1:])]


@dataclass(frozen=True)
class Overview:
    """What a search contributes to the figures of the book's landing page, one figure per kind of
    coupling or rate gathering every chapter's runs on it: the search's limits on ``quantity``,
    drawn on the figure ``kind`` (``quantity`` by default) as ``(factor x value)^power`` (the coupling
    of that kind the limit implies, e.g. g_agg = s_W^2 g_aW), with ``label`` (mathtext) naming the
    search in the legend; the published result ``published`` (a key of the channel's ``published``
    curves or ``published_ranges``, drawn where the kind is the quantity itself); for a search in
    two masses, the slice at the scanned second mass nearest ``mass2_gev`` (required there);
    ``logx`` for a mass axis spanning decades."""

    quantity: str
    published: str | None = None
    mass2_gev: float | None = None
    logx: bool = False
    kind: str | None = None
    factor: float = 1.0
    power: float = 1.0
    label: str = ""

    @property
    def figure(self) -> str:
        """The kind of coupling or rate of the figure the limits are drawn on."""
        return self.kind or self.quantity

    def convert(self, scan):
        """The limits ``scan`` (a LimitScan on ``quantity``) as limits on the figure's kind."""
        if self.figure == self.quantity:
            return scan
        return scan.transform(lambda m, v: (self.factor * v) ** self.power, quantity=self.figure,
                              unit=scan.unit if self.power == 1.0 else "")


class Channel(abc.ABC):
    """What a search declares. Subclasses set the class attributes and implement the abstract methods.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"belle2_alp_3gamma"``.
    title : str
        Title of the search for the book.
    notebook : str
        File name of its notebook in ``notebooks/``.
    cl : float
        Confidence level of its limits (the paper's).
    parameters : tuple of Parameter
        The run parameters, with types, defaults and allowed ranges; the notebook's parameters cell
        holds the same defaults (a test checks that they agree).
    published : dict
        Result key -> file name of the published curve in ``data/published`` it is compared with.
    published_ranges : dict
        Result key -> :class:`~analysis_lib.io.published.PublishedRange` or ``PublishedInterval``,
        where a search's limits are known only by their headline range.
    published_note : str
        Where no value of the published limits could be found (neither a curve nor a headline
        range): what was found, with its source; the chapter says so beside its limits.
    sample_specs : callable
        ``sample_specs(dataset, n_signal_events=...)``: the channel's samples (used by the default
        :meth:`samples`; a channel whose samples depend on more parameters overrides :meth:`samples`).
    sensitivity_points : tuple
        The masses (or pairs of masses) of the chapter's sensitivity-versus-luminosity figure.
    paper : str
        The publication the search re-creates, as the book cites it (journal and arXiv number).
    status : str
        ``"done"`` or ``"in progress"`` (what is still missing is said in the chapter).
    overview : tuple of Overview
        The quantities the book's landing page gathers from this search's runs.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    notebook: ClassVar[str]
    cl: ClassVar[float]
    parameters: ClassVar[tuple[Parameter, ...]]
    published: ClassVar[Mapping[str, str]] = {}
    published_ranges: ClassVar[Mapping[str, Any]] = {}
    published_note: ClassVar[str] = ""
    sensitivity_points: ClassVar[tuple] = ()
    paper: ClassVar[str] = ""
    status: ClassVar[str] = "done"
    overview: ClassVar[tuple[Overview, ...]] = ()

    def validate(self, values: Mapping, *, context: str = "") -> dict:
        """All declared parameters, ``values`` checked and defaults filled in
        (:func:`analysis_lib.core.parameters.validate`)."""
        return validate(self.parameters, dict(values), context=context)

    def dataset(self, params: Mapping) -> Dataset:
        """The run's dataset."""
        return dataset(params["dataset"])

    def reference(self, key: str):
        """The published result that result ``key`` is compared with: a curve, a headline range, or
        None."""
        if key in self.published:
            return load_curve(self.published[key])
        return self.published_ranges.get(key)

    def model_parameters(self, params: Mapping) -> dict:
        """The fixed model parameters of the run's hypotheses (e.g. a lifetime), stored with every
        result; none by default."""
        return {}

    def samples(self, params: Mapping) -> list:
        """The simulated samples (:class:`~analysis_lib.simulation.production.SampleSpec`) a run with
        ``params`` reads; by default the channel's ``sample_specs(dataset, n_signal_events=...)``."""
        return self.sample_specs(self.dataset(params), n_signal_events=params["n_signal_events"])

    @abc.abstractmethod
    def production(self, params: Mapping):
        """The :class:`~analysis_lib.simulation.production.ProductionConfig` (sample sizes, skim,
        pseudo-data pools) with which :meth:`prepare` makes or reads the samples of :meth:`samples`."""

    def sample_requests(self, params: Mapping) -> list:
        """The simulated samples a run with ``params`` reads, as
        :class:`~analysis_lib.simulation.production.SampleRequest` values (keyed by what determines
        them; none for a dataset of real ntuples): what the runner's simulation stage makes before
        the run executes."""
        ds = self.dataset(params)
        if not ds.simulated:
            return []
        return requests(self.samples(params), ds, seed=params["seed"], config=self.production(params))

    @abc.abstractmethod
    def prepare(self, params: Mapping, *, progress: bool = True):
        """Ntuples of the run's dataset (simulated, cached, or real) to the inputs of its limits (an
        :class:`~analysis_lib.analysis.inputs.Inputs`)."""

    @abc.abstractmethod
    def analyse(self, inputs, params: Mapping, *, progress: bool = True, client=None) -> dict[str, LimitScan]:
        """The run's limits, by result key; with a dask ``client`` the scan spreads over its workers."""

    def run(self, inputs, params: Mapping, *, progress: bool = True, client=None) -> dict[str, LimitScan]:
        """:meth:`analyse`, with every result stamped with the run's dataset, data source and model
        parameters."""
        ds = inputs.dataset
        results = self.analyse(inputs, params, progress=progress, client=client)
        return {key: r.stamped(dataset=ds.name, experiment=ds.experiment.label, luminosity_fb=ds.luminosity_fb,
                               projection=ds.projection, data_source=inputs.data_source, pseudo_data=ds.simulated,
                               model=self.model_parameters(params))
                for key, r in results.items()}

    @abc.abstractmethod
    def luminosity_scan(self, inputs, params: Mapping, *, client=None):
        """The expected limits of the headline quantity at :attr:`sensitivity_points` from 0.1 fb^-1
        to 50 ab^-1 (a :class:`~analysis_lib.analysis.sensitivity.Sensitivity`); channels implement it
        with the shared :func:`analysis_lib.analysis.sensitivity.sensitivity`."""

    def efficiencies(self, inputs, params: Mapping):
        """The signal efficiencies the run's rate limits come from, for recasting
        (:mod:`analysis_lib.analysis.recast`; the run writes them to ``efficiencies.csv``): a pandas
        DataFrame with the columns ``quantity`` (the rate limit they convert), ``mass_gev``, one per
        model parameter they vary with (``ctau_mm``) and ``efficiency``; None (the default) where
        the channel writes none."""
        return None

    def sensitivity(self, inputs, params: Mapping, *, client=None):
        """:meth:`luminosity_scan`, every scan stamped with the run's dataset and model parameters."""
        ds = inputs.dataset
        result = self.luminosity_scan(inputs, params, client=client)
        return result.map(lambda scan: scan.stamped(dataset=ds.name, experiment=ds.experiment.label,
                                                    data_source=inputs.data_source, pseudo_data=ds.simulated,
                                                    model=self.model_parameters(params)))

    def __repr__(self):
        return f"<channel {self.name}: {self.title}>"


class PeakSearchChannel(Channel):
    """A channel built on the shared peak search (:mod:`analysis_lib.analysis.peak_search`): its
    inputs are :class:`~analysis_lib.analysis.peak_search.SearchInputs` carrying their ``search``,
    and these views of them are the same for every such channel. ``agreement_factor`` is the factor
    within which the expected limit is said to agree with the published curve."""

    agreement_factor: ClassVar[float] = 1.5

    @abc.abstractmethod
    def headline(self, inputs, mu: LimitScan) -> LimitScan:
        """The limits on the signal strength turned into the chapter's headline quantity."""

    def luminosity_scan(self, inputs, params: Mapping, *, client=None):
        """The shared peak search's sensitivity (:func:`analysis_lib.analysis.peak_search.sensitivity`)
        at the :attr:`sensitivity_points` inside the run's mass range, in the headline quantity."""
        masses = points_in_range(self.sensitivity_points, params["mass_min_gev"], params["mass_max_gev"])
        mu = peak_search.sensitivity(inputs.search, inputs, masses, half_width_sigma=params["fit_half_width_sigma"],
                                     degree=params["background_degree"], client=client)
        return mu.map(lambda scan: self.headline(inputs, scan))

    def resolution_gev(self, inputs, mass_gev: float) -> float:
        """Mass resolution of the fitted observable at ``mass_gev``."""
        return peak_search.resolution_gev(inputs.search, inputs, mass_gev)

    def example_fit(self, inputs, mass_gev: float, params: Mapping):
        """The fitted window at one mass, for a figure (the run's window and background degree)."""
        return peak_search.example_fit(inputs.search, inputs, mass_gev, half_width_sigma=params["fit_half_width_sigma"],
                                       degree=params["background_degree"])

    def expected_histograms(self, inputs, observable: str) -> dict:
        """The expected background histograms of ``observable`` at the scale of the data."""
        return peak_search.expected_histograms(inputs, observable)

    def agreement(self, result, published):
        """Share of the scanned masses where the expected limit is within :attr:`agreement_factor` of
        the published curve, and the median ratio (:func:`analysis_lib.analysis.peak_search.agreement`)."""
        return peak_search.agreement(result, published, factor=self.agreement_factor)


class _Registry(dict):
    """Name -> the one instance of each registered subclass of ``base`` (channels, studies)."""

    def __init__(self, kind: str, base: type):
        super().__init__()
        self.kind, self.base = kind, base

    def add(self, cls):
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{cls!r} is not a {self.base.__name__} subclass")
        instance = cls()
        if instance.name in self and type(self[instance.name]) is not cls:
            raise ParameterError(f"two {self.kind}s are named {instance.name!r}")
        self[instance.name] = instance
        return cls

    def named(self, name: str):
        if name not in self:
            raise ParameterError(f"unknown {self.kind} {name!r}; known {self.kind}s: {sorted(self)}")
        return self[name]


_REGISTRY = _Registry("channel", Channel)


def register(cls: type[Channel]) -> type[Channel]:
    """Class decorator: register one instance of a channel under its name."""
    return _REGISTRY.add(cls)


def channels() -> dict[str, Channel]:
    """The registered channels by name."""
    return dict(_REGISTRY)


def channel(name: str) -> Channel:
    """The channel registered under ``name``."""
    return _REGISTRY.named(name)


def _file_name(notebook) -> str:
    return str(notebook).replace("\\", "/").rsplit("/", 1)[-1]


def channel_for_notebook(notebook: str) -> Channel:
    """The channel whose notebook file is ``notebook`` (a file name or path)."""
    stem = _file_name(notebook)
    for ch in _REGISTRY.values():
        if ch.notebook == stem:
            return ch
    raise ParameterError(
        f"no channel declares the notebook {notebook!r}; notebooks of channels: "
        f"{sorted(ch.notebook for ch in _REGISTRY.values())}"
    )


class Study:
    """A page of the book about the method that the runner executes like a search (see the module
    docstring). Subclasses set ``name``, ``title``, ``notebook`` and ``parameters``."""

    name: ClassVar[str]
    title: ClassVar[str]
    notebook: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]]

    def validate(self, values: Mapping, *, context: str = "") -> dict:
        """All declared parameters, ``values`` checked and defaults filled in."""
        return validate(self.parameters, dict(values), context=context)

    def sample_requests(self, params: Mapping) -> list:
        """A study reads no simulated sample."""
        return []

    def __repr__(self):
        return f"<study {self.name}: {self.title}>"


_STUDIES = _Registry("study", Study)


def register_study(cls: type[Study]) -> type[Study]:
    """Class decorator: register one instance of a study under its name."""
    return _STUDIES.add(cls)


def studies() -> dict[str, Study]:
    """The registered studies by name."""
    return dict(_STUDIES)


def study(name: str) -> Study:
    """The study registered under ``name``."""
    return _STUDIES.named(name)


def notebook_declaration(notebook: str) -> Channel | Study:
    """The channel or study whose notebook file is ``notebook`` (a file name or path): what the
    runner validates a run's parameters with and asks for its samples."""
    stem = _file_name(notebook)
    for st in _STUDIES.values():
        if st.notebook == stem:
            return st
    try:
        return channel_for_notebook(notebook)
    except ParameterError:
        raise ParameterError(
            f"no channel or study declares the notebook {notebook!r}; notebooks of channels: "
            f"{sorted(ch.notebook for ch in _REGISTRY.values())}; of studies: "
            f"{sorted(st.notebook for st in _STUDIES.values())}"
        ) from None
