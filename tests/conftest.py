"""Shared fixtures. The channels' inputs are prepared through the channel contract
(``channel(name).prepare(validated parameters)``) with small samples, once per test session, into a
temporary folder, never into data/generated. The tests that use one channel's inputs share an xdist
group ("simulation" for the ALP channel, "babar", "zprime", "higgsstrahlung"), so that a single
worker prepares them."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

#: Small parameters: every simulation-dependent test uses these.
SMALL = {"n_signal_events": 1000, "max_mc_events": 20_000}


def _prepare(name, values):
    """The inputs of channel ``name`` for the run parameters ``values`` (validated, defaults filled in)."""
    from analysis_lib.channels import channel

    ch = channel(name)
    return ch.prepare(ch.validate(values), progress=False)


@contextmanager
def two_workers():
    """A dask client of two single-threaded workers (threads of this process: what a comparison with
    the scan in the kernel tests is the scan's split over workers and its random streams, the same
    whatever the number of workers)."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def assert_same_limits(first: dict, second: dict):
    """The same results (by key): masses, observed and expected limits, significances, notes."""
    assert first.keys() == second.keys()
    for key, a in first.items():
        b = second[key]
        for name in ("masses_gev", "masses2_gev", "observed", "expected", "significance"):
            if getattr(a, name, None) is not None:
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"{key}.{name}")
        assert a.notes == b.notes, key


def run_notebook(notebook: str, folder, parameters: dict):
    """Execute ``notebooks/<notebook>`` with papermill into ``folder``/run with ``parameters``; returns
    the run's folder (its limits.csv and meta.json)."""
    import papermill

    out = folder / "run"
    out.mkdir()
    papermill.execute_notebook(Path(__file__).resolve().parent.parent / "notebooks" / notebook, out / "nb.ipynb",
                               cwd=str(out), kernel_name="python3", progress_bar=False, parameters=parameters)
    return out


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory):
    """A temporary folder for simulated ntuples, exported to kernels through the environment."""
    path = tmp_path_factory.mktemp("generated")
    old = os.environ.get("DSBOOK_GENERATED_DIR")
    os.environ["DSBOOK_GENERATED_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("DSBOOK_GENERATED_DIR", None)
    else:
        os.environ["DSBOOK_GENERATED_DIR"] = old


def _inputs(name, values, doc):
    """A session fixture: the inputs of channel ``name`` prepared with ``values``."""

    @pytest.fixture(scope="session")
    def inputs(generated_dir):
        return _prepare(name, values)

    inputs.__doc__ = doc
    return inputs


#: Small parameters of the B -> K a channel (its classifiers need a few hundred background events).
SMALL_B = {"n_signal_events": 2000, "max_mc_events": 100_000}
#: Small parameters of the invisible Z' channel (its classifier needs a few thousand background events).
SMALL_Z = {"n_signal_events": 1000, "max_mc_events": 30_000}
#: Small parameters of the B0 -> Lambda psi_D channel (its smallest allowed samples).
SMALL_L = {"n_signal_events": 3000, "max_mc_events": 20_000}
#: Small parameters of the dark Higgsstrahlung channel.
SMALL_H = {"n_signal_events": 1000, "max_mc_events": 30_000}
#: Small parameters of the darkonium channel: a 1 GeV darkonium leaves six tracks in 2-6% of its events, and
#: the photon-like share of the background needs about 10^5 simulated events.
SMALL_D = {"n_signal_events": 4000, "max_mc_events": 120_000}

alp_inputs = _inputs("belle2_alp_3gamma", {"dataset": "belle2_2018", "seed": 7, **SMALL},
                     "The Belle II ALP channel prepared on the 2018 dataset with small samples.")
babar_inputs = _inputs("babar_b_to_k_alp", {"dataset": "babar_4s", "seed": 3, "ctau_mm": 0.0, **SMALL_B},
                       "The BaBar B -> K a channel, prompt, prepared with small samples.")
zprime_inputs = _inputs("belle2_zprime_invisible", {"dataset": "belle2_2019_2020", "seed": 5, **SMALL_Z},
                        "The Belle II invisible Z' channel prepared on the 2019-2020 dataset with small samples.")
higgsstrahlung_inputs = _inputs("belle2_dark_higgsstrahlung", {"dataset": "belle2_2019", "seed": 5, **SMALL_H},
                                "The Belle II dark Higgsstrahlung channel prepared on the 2019 dataset with small samples.")
darkonium_inputs = _inputs("babar_darkonium", {"dataset": "babar_3s_off", "seed": 5, **SMALL_D},
                           "The BaBar darkonium channel prepared below the Upsilon(3S) (2.6 fb^-1) with small samples.")
