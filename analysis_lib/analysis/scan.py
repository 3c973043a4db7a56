"""Scans of upper limits over mass hypotheses: one call for every search, in-process or on dask.

A scan is a set of mass hypotheses (one mass, or two for two-dimensional searches) and a
*calculator* that gives the limit at each: :class:`CLs` builds the binned model of a hypothesis and
computes the CLs limit with the readable (iminuit) path, :class:`FastCLs` the same limits with the
vectorised evaluator (:mod:`analysis_lib.stats.fast`) on batches of hypotheses, and a channel may
give its own (e.g. Bayesian limits of a counting window, :class:`analysis_lib.analysis.counting.BayesianCounting`).
A calculator is a picklable object with ``batch(points) -> list of (LimitResult, significance)`` and a
``chunk`` size, and optionally ``workspace(point) -> (pyhf workspace, metadata)``: :func:`scan_limits`
cuts the hypotheses into chunks of that fixed size (so the result does not depend on the number of
workers), computes them (and the workspaces, when asked) in this process or on a dask cluster, and
returns one :class:`~analysis_lib.analysis.results.LimitScan`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from ..core.errors import AnalysisError, ParameterError
from ..stats import discovery_significance, upper_limit
from ..stats.fast import fast_upper_limits
from ..stats.limits import AUTO_TOYS, summarise_notes
from ..stats.workspace import export
from .results import LimitScan

__all__ = ["CLs", "FastCLs", "ToyCLs", "connect", "scan_limits", "scan_workers"]

log = logging.getLogger(__name__)


def connect(address: str, *, timeout_s: float = 30):
    """A client of the dask scheduler at ``address`` to give :func:`scan_limits`, or None when the
    address is empty (the scan then computes in this process).

    The book's runner passes each notebook the address of the cluster that executes it, so that
    the notebook's scan spreads over the same workers.
    """
    if not address:
        return None
    from dask.distributed import Client

    try:
        return Client(address, timeout=timeout_s)
    except OSError as exc:
        raise AnalysisError(
            f"no dask scheduler answers at {address!r} ({exc}); start one there, or give scheduler='' to compute "
            "the scan in this process"
        ) from None


def scan_workers(client) -> int:
    """Workers a scan spreads over: those of ``client``'s cluster, 0 for a scan in this process."""
    return len(client.scheduler_info()["workers"]) if client is not None else 0


@dataclass(frozen=True)
class CLs:
    """CLs upper limit (q~_mu, :func:`analysis_lib.stats.upper_limit`, ``method="auto"``: asymptotic,
    pseudo-experiments where the background under the signal is small) and local significance of the
    binned model ``build(point) -> (model, counts)`` of each hypothesis."""

    build: Callable
    cl: float
    chunk: int = 1

    def batch(self, points):
        out = []
        for point in points:
            model, counts = self.build(point)
            out.append((upper_limit(model, counts, cl=self.cl), discovery_significance(model, counts)))
        return out

    def workspace(self, point):
        return _workspace(self.build, point)


@dataclass(frozen=True)
class FastCLs:
    """The limits of :class:`CLs` from the vectorised evaluator
    (:func:`analysis_lib.stats.fast.fast_upper_limits`), a chunk of hypotheses at a time; the tests
    check it against :class:`CLs`."""

    build: Callable
    cl: float
    chunk: int = 64

    def batch(self, points):
        from ..stats.fast import fast_discovery_significances

        built = [self.build(point) for point in points]
        models, counts = [b[0] for b in built], [b[1] for b in built]
        limits = fast_upper_limits(models, counts, cl=self.cl)
        return list(zip(limits, fast_discovery_significances(models, counts)))

    def workspace(self, point):
        return _workspace(self.build, point)


@dataclass(frozen=True)
class ToyCLs:
    """CLs limits from pseudo-experiments at every hypothesis
    (:func:`analysis_lib.stats.toys.fast_toy_upper_limits`, a chunk of hypotheses at a time), for the
    binned models ``build(point) -> (model, counts)`` of a search whose signal sits in one count of a
    few events: there a single Poisson count under-covers with the formulae up to about 100 events
    (:data:`analysis_lib.stats.limits.MIN_ASYMPTOTIC_BACKGROUND_ONE_BIN`), whatever control regions
    accompany it. The pseudo-experiments of every chunk start from ``seed``, so the limits do not
    depend on how the hypotheses are spread over workers.

    ``expected_build`` (optional): the models and counts whose background-only fit places the
    expected bands, e.g. every count replaced by the prediction its control regions measure: the
    expected limit of a counting search then does not move with the count of its own window (which
    pulls the fitted background where the window measures it as well as its controls do)."""

    build: Callable
    cl: float
    n_toys: int = AUTO_TOYS
    seed: int = 0
    chunk: int = 16
    expected_build: Callable | None = None

    def batch(self, points):
        from dataclasses import replace

        from ..stats.fast import fast_discovery_significances
        from ..stats.toys import fast_toy_upper_limits

        built = [self.build(point) for point in points]
        models, counts = [b[0] for b in built], [b[1] for b in built]
        limits = fast_toy_upper_limits(models, counts, cl=self.cl, n_toys=self.n_toys, seed=self.seed)
        if self.expected_build is not None:
            other = [self.expected_build(point) for point in points]
            expected = fast_toy_upper_limits([o[0] for o in other], [o[1] for o in other], cl=self.cl,
                                             n_toys=self.n_toys, seed=self.seed)
            limits = [replace(limit, expected=e.expected) for limit, e in zip(limits, expected)]
        return list(zip(limits, fast_discovery_significances(models, counts)))

    def workspace(self, point):
        return _workspace(self.build, point)


def _workspace(build, point):
    """The pyhf workspace of the hypothesis ``build(point) -> (model, counts)`` and its metadata
    (:func:`analysis_lib.stats.workspace.export`)."""
    return export(*build(point))


def _chunks(n, size):
    return [slice(start, min(start + size, n)) for start in range(0, n, max(int(size), 1))]


def scan_limits(points, calculator, *, quantity: str, unit: str, cl: float, mass_name: str = "m",
                mass2_name: str = "", progress: bool = True, client=None, workspaces: bool = False) -> LimitScan:
    """Upper limits and local significances at every hypothesis.

    Parameters
    ----------
    points : array (n,) or (n, 2)
        Mass hypotheses in GeV: one mass, or two (the second stored as ``masses2_gev``).
    calculator : CLs, FastCLs or another object with ``batch`` and ``chunk``
        The limit at each hypothesis; it must be picklable to run on a cluster.
    quantity, unit : str
        What the calculator's limits are on (e.g. ``"mu"``, ``""``).
    cl : float
        Confidence level, stored in the result (the calculator computes at its own, which must agree).
    mass_name, mass2_name : str
        Names of the masses for tables and figures.
    progress : bool
        Show a progress bar (True by default).
    client : dask.distributed.Client, optional
        Spread the chunks over this cluster; None (the default) computes in this process. Chunks
        have the calculator's fixed size, so the result does not depend on the number of workers.
    workspaces : bool
        Also make every hypothesis's pyhf workspace (the calculator's ``workspace(point) -> (spec,
        metadata)``), kept in the result's ``workspaces`` (False by default).
    """
    points = np.asarray(points, dtype=float)
    if points.ndim not in (1, 2) or (points.ndim == 2 and points.shape[1] != 2) or not len(points):
        raise ParameterError(f"points must be a non-empty array of masses (n,) or mass pairs (n, 2); got shape "
                             f"{points.shape}")
    if getattr(calculator, "cl", cl) != cl:
        raise ParameterError(f"the calculator computes at cl={calculator.cl}, but the scan is declared at cl={cl}")
    if workspaces and not hasattr(calculator, "workspace"):
        raise ParameterError(f"{type(calculator).__name__} makes no workspaces (it has no workspace(point) method)")
    chunks = _chunks(len(points), calculator.chunk)
    bar = tqdm(total=len(points), desc="mass hypotheses", disable=not progress, mininterval=2)
    if client is None:
        pieces = []
        for piece in chunks:
            pieces.append(_batch(calculator, points[piece], workspaces))
            bar.update(piece.stop - piece.start)
    else:
        from dask.distributed import as_completed

        remote = client.scatter(calculator, broadcast=True)
        futures = [client.submit(_batch, remote, points[piece], workspaces, pure=False) for piece in chunks]
        sizes = {f.key: piece.stop - piece.start for f, piece in zip(futures, chunks)}
        for future in as_completed(futures):
            bar.update(sizes[future.key])
        pieces = client.gather(futures)
    bar.close()
    computed = [item for piece, _ in pieces for item in piece]
    made = tuple(w for _, piece in pieces for w in piece) if workspaces else ()
    limits = [c[0] for c in computed]
    notes = summarise_notes(limits)
    for note in notes:
        log.warning("scan: %s", note)
    methods = list(dict.fromkeys(limit.method for limit in limits))
    return LimitScan(
        quantity=quantity, unit=unit,
        masses_gev=points if points.ndim == 1 else points[:, 0],
        masses2_gev=None if points.ndim == 1 else points[:, 1],
        mass_name=mass_name, mass2_name=mass2_name,
        observed=np.array([limit.observed for limit in limits], dtype=float),
        expected=np.array([limit.expected for limit in limits], dtype=float),
        significance=np.array([c[1] for c in computed], dtype=float),
        cl=cl, method=" / ".join(methods), test_statistic=limits[0].test_statistic, notes=tuple(notes),
        workspaces=made,
    )


def _batch(calculator, points, workspaces=False):
    """A chunk's limits, and its workspaces when asked (an empty list when not)."""
    return calculator.batch(points), [calculator.workspace(p) for p in points] if workspaces else []
