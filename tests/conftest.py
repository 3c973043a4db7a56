"""Shared fixtures. Simulation-dependent tests share one xdist group ("simulation") so a single
worker simulates the small samples once, into a temporary folder, never into data/generated."""

from __future__ import annotations

import os

import pytest

#: Small parameters: every simulation-dependent test uses these.
SMALL = {"n_signal_events": 1000, "max_mc_events": 20_000}


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


@pytest.fixture(scope="session")
def alp_inputs(generated_dir):
    """The Belle II ALP channel prepared on the 2018 dataset with small samples."""
    from analysis_lib.channels import belle2_alp_3gamma as channel

    return channel.prepare("belle2_2018", seed=7, progress=False, **SMALL)


#: Small parameters of the B -> K a channel (its classifiers need a few hundred background events).
SMALL_B = {"n_signal_events": 2000, "max_mc_events": 100_000}


@pytest.fixture(scope="session")
def babar_inputs(generated_dir):
    """The BaBar B -> K a channel, prompt, prepared with small samples."""
    from analysis_lib.channels import babar_b_to_k_alp as channel

    return channel.prepare("babar_4s", seed=3, ctau_mm=0.0, progress=False, **SMALL_B)


#: Small parameters of the invisible Z' channel (its classifier needs a few thousand background events).
SMALL_Z = {"n_signal_events": 1000, "max_mc_events": 30_000}


@pytest.fixture(scope="session")
def zprime_inputs(generated_dir):
    """The Belle II invisible Z' channel prepared on the 2019-2020 dataset with small samples."""
    from analysis_lib.channels import belle2_zprime_invisible as channel

    return channel.prepare("belle2_2019_2020", seed=5, progress=False, **SMALL_Z)


#: Small parameters of the dark Higgsstrahlung channel.
SMALL_H = {"n_signal_events": 1000, "max_mc_events": 30_000}


@pytest.fixture(scope="session")
def higgsstrahlung_inputs(generated_dir):
    """The Belle II dark Higgsstrahlung channel prepared on the 2019 dataset with small samples."""
    from analysis_lib.channels import belle2_dark_higgsstrahlung as channel

    return channel.prepare("belle2_2019", seed=5, progress=False, **SMALL_H)
