"""The Belle II dark Higgsstrahlung channel on small samples: its counting windows (the Z' chapter's
kind, one bin), the Bayesian limits of the scan against the windows, bad input, and the notebook."""

import json
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis_lib.analysis.counting import (
    BayesianCounting, CountingWindow, counting_model, scaled_window, sideband_normalisation, window_background,
)
from analysis_lib.channels import belle2_dark_higgsstrahlung as channel
from analysis_lib.channels import channel as registered
from analysis_lib.core.errors import KinematicError, ParameterError
from analysis_lib.physics.dark_photon import branching_fraction_mumu, sigma_dark_higgsstrahlung_pb
from analysis_lib.stats.counting import bayesian_upper_limits_one_bin

from ..conftest import SMALL_H, assert_same_limits, run_notebook, two_workers

pytestmark = pytest.mark.xdist_group("higgsstrahlung")

ROOT = Path(__file__).resolve().parent.parent.parent
HIGGSSTRAHLUNG = registered("belle2_dark_higgsstrahlung")


def test_windows_follow_the_resolutions(higgsstrahlung_inputs):
    inputs = higgsstrahlung_inputs
    w = channel.window(inputs, (6.0, 2.0))
    assert isinstance(w, CountingWindow) and (w.mass_gev, w.mass2_gev) == (6.0, 2.0)
    mass, recoil = w.ranges["mass"], w.ranges["recoil_mass"]
    assert mass[0] < 6.0 < mass[1] and recoil[0] < 2.0 < recoil[1]
    # the dimuon mass is measured far better than the recoil mass
    assert mass[1] - mass[0] < 0.5 * (recoil[1] - recoil[0])
    # one counting bin, as the Z' chapter's windows have three
    for values in (w.efficiency, w.signal_per_unit, w.background, w.background_uncertainty, w.counts):
        assert np.shape(values) == (1,)
    assert 0.1 < w.efficiency[0] < 0.9 and w.background_uncertainty[0] > 0
    assert w.counts[0] == round(w.counts[0]) >= 0 and w.simulated_background >= 0 and w.background[0] > 0
    # the signal per unit of eps^2 alpha_D: luminosity x sigma(eps^2 alpha_D = 1) x B(A' -> mu mu) x efficiency
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    expected = (inputs.dataset.luminosity_pb * sigma_dark_higgsstrahlung_pb(6.0, 2.0, sqrt_s)
                * branching_fraction_mumu(6.0) * w.efficiency[0])
    assert w.signal_per_unit[0] == pytest.approx(expected, rel=1e-12)
    # the sideband: 2 to 6 dimuon-mass resolutions on either side, the same recoil window; its
    # background the smooth fits' sum there, its counts the data's
    side = w.sideband
    (b0, b1), (a0, a1) = side.ranges["mass"]
    assert b1 <= mass[0] + 1e-9 and a0 >= mass[1] - 1e-9 and side.ranges["recoil_mass"] == [recoil]
    assert (a1 - a0) == pytest.approx(mass[1] - mass[0], rel=0.2) and (b1 - b0) == pytest.approx(a1 - a0, rel=0.2)
    i0, i1 = np.searchsorted(channel.MASS_EDGES, [b0, b1])
    j0, j1 = np.searchsorted(channel.RECOIL_EDGES, recoil)
    k0, k1 = np.searchsorted(channel.MASS_EDGES, [a0, a1])
    assert side.background == pytest.approx(inputs.background_total[i0:i1, j0:j1].sum()
                                             + inputs.background_total[k0:k1, j0:j1].sum(), rel=1e-9)
    assert side.counts == inputs.data[i0:i1, j0:j1].sum() + inputs.data[k0:k1, j0:j1].sum()
    assert 0 < side.shape_uncertainty[0] < 1 and 0 < side.signal_per_unit < 0.1 * w.signal_per_unit[0]
    # the window's CLs model: the window, the sideband and the normalisation's prior as bins, the
    # background normalisation free
    model, counts = counting_model(w)
    assert model.float_background and len(model.signal) == 3
    np.testing.assert_array_equal(counts, [w.counts[0], side.counts, 1 / side.prior**2])
    with pytest.raises(KinematicError, match="outside the search's range"):
        channel.window(inputs, (8.0, 3.0))
    with pytest.raises(ParameterError):
        channel.scan_points(inputs, mass_a_min_gev=9.0, mass_a_max_gev=5.0, mass_step_sigma=2, mass_h_step_gev=0.5)


def test_limits_are_the_bayesian_limits_of_the_windows(higgsstrahlung_inputs):
    inputs = higgsstrahlung_inputs
    params = HIGGSSTRAHLUNG.validate({"dataset": "belle2_2019", "seed": 5, "mass_a_min_gev": 5.0,
                                      "mass_a_max_gev": 6.0, "mass_step_sigma": 8.0, "mass_h_step_gev": 1.5,
                                      **SMALL_H})
    results = HIGGSSTRAHLUNG.run(inputs, params, progress=False)
    with two_workers() as client:  # the same limits whatever the number of workers
        assert_same_limits(results, HIGGSSTRAHLUNG.run(inputs, params, progress=False, client=client))
    eps2, sigma = results["eps2_alpha_d"], results["sigma_x_br"]
    assert eps2.two_dimensional and (eps2.mass_name, eps2.mass2_name) == ("M_A'", "M_h'")
    assert eps2.cl == 0.9 and "Bayesian" in eps2.method
    assert np.all((eps2.masses_gev >= 5.0) & (eps2.masses_gev <= 6.0)) and np.all(eps2.masses2_gev < eps2.masses_gev)
    points = channel.scan_points(inputs, mass_a_min_gev=5.0, mass_a_max_gev=6.0, mass_step_sigma=8.0,
                                 mass_h_step_gev=1.5)
    np.testing.assert_array_equal(np.column_stack([eps2.masses_gev, eps2.masses2_gev]), points)
    # each limit is the one-bin Bayesian limit of its window with the background the sideband
    # measures, computed here directly
    for k in (0, len(points) - 1):
        w = channel.window(inputs, points[k])
        b, u = window_background(w)
        theta, spread = sideband_normalisation(w.sideband.counts, w.sideband.background)
        assert b == pytest.approx(theta * w.background[0], rel=1e-12)
        assert u == pytest.approx(b * np.hypot(spread / theta, w.sideband.shape_uncertainty[0]), rel=1e-12)
        direct = bayesian_upper_limits_one_bin(w.counts, w.signal_per_unit[0], b, background_uncertainty=u,
                                               signal_uncertainty=channel.SIGNAL_SYSTEMATIC, cl=0.9)[0]
        assert eps2.observed[k] == pytest.approx(direct, rel=1e-12)
    limit = BayesianCounting(partial(channel.window, inputs), 0.9,
                             signal_uncertainty=channel.SIGNAL_SYSTEMATIC).limit(channel.window(inputs, points[0]))
    np.testing.assert_allclose(eps2.expected[0], limit.expected, rtol=1e-12)
    # the cross section: eps^2 alpha_D x sigma(eps^2 alpha_D = 1) x B(A' -> mu mu), in fb
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    factor = 1e3 * sigma_dark_higgsstrahlung_pb(eps2.masses_gev, eps2.masses2_gev, sqrt_s) \
        * branching_fraction_mumu(eps2.masses_gev)
    np.testing.assert_allclose(sigma.observed, eps2.observed * factor, rtol=1e-12)
    assert sigma.unit == "fb" and sigma.quantity == "sigma_ahprime_x_br_mumu"
    for key, result in results.items():
        assert HIGGSSTRAHLUNG.reference(key).quantity == result.quantity and result.dataset == "belle2_2019"
    # a slice at one h' mass, for the figures
    piece = eps2.at_mass2(eps2.masses2_gev[0])
    assert not piece.two_dimensional and piece.model["M_h'"] == pytest.approx(eps2.masses2_gev[0])


def test_sensitivity_versus_luminosity(higgsstrahlung_inputs):
    """The expected limits at the run's luminosity are the windows' own; with more data they fall, and
    with the background known (statistics only) at least as fast as 1/sqrt(L) once background
    dominates; with the systematic uncertainties they never fall below the statistics-only ones."""
    params = HIGGSSTRAHLUNG.validate({"dataset": "belle2_2019", "seed": 5, **SMALL_H})
    result = HIGGSSTRAHLUNG.luminosity_scan(higgsstrahlung_inputs, params)
    assert result.quantity == "eps2_alpha_d" and result.masses2_gev is not None
    lums = result.luminosities_fb
    own = int(np.argmin(np.abs(lums - 8.34)))
    for k, point in enumerate(np.column_stack([result.masses_gev, result.masses2_gev])):
        w = channel.window(higgsstrahlung_inputs, point)
        calculator = BayesianCounting(lambda p: w, 0.9, signal_uncertainty=channel.SIGNAL_SYSTEMATIC)
        # the curve's point at the run's luminosity is the Asimov window of the background the
        # sideband measured; its expected limits are those of the run within the normalisation's
        # uncertainty (the posterior of the sideband's counts versus of their expectation)
        asimov = scaled_window(w, 1.0)
        np.testing.assert_allclose(result.expected()[k, own], calculator.limit(asimov).expected, rtol=1e-9)
        np.testing.assert_allclose(result.expected()[k, own], calculator.limit(w).expected, rtol=0.1)
    median, statistical = result.expected()[:, :, 2], result.median_statistical()
    assert np.all(np.diff(median, axis=1) <= 1e-12 * median[:, 1:])
    # (to 0.1%: where counts are small the median count is an integer, and the background with the
    # normalisation's posterior mean is a little larger than the known one, which can lower the limit)
    assert np.all(median >= statistical * (1 - 1e-3))
    slope = np.log(statistical[:, -1] / statistical[:, -2]) / np.log(lums[-1] / lums[-2])
    assert np.all(slope <= -0.45), slope


@pytest.mark.slow
def test_notebook_runs_with_small_parameters(tmp_path, higgsstrahlung_inputs):
    out = run_notebook("belle2_dark_higgsstrahlung.ipynb", tmp_path,
                       {"seed": 5, "mass_step_sigma": 8.0, "mass_h_step_gev": 1.5, **SMALL_H})
    limits = pd.read_csv(out / "limits.csv")
    assert "mass2_gev" in limits.columns
    assert set(limits["quantity"]) == {"sigma_ahprime_x_br_mumu", "eps2_alpha_d"}
    eps2 = limits[limits["quantity"] == "eps2_alpha_d"]
    assert (eps2["mass2_gev"] < eps2["mass_gev"]).all()
    assert (eps2["expected"] > 1e-10).all() and (eps2["expected"] < 1e-3).all()
    sigma = limits[limits["quantity"] == "sigma_ahprime_x_br_mumu"]
    assert (sigma["expected"] > 0.01).all() and (sigma["expected"] < 1e3).all()  # fb
    meta = json.loads((out / "meta.json").read_text())
    assert meta["confidence_level"] == 0.9 and meta["dataset"] == "belle2_2019"
    assert meta["channel"] == "belle2_dark_higgsstrahlung" and meta["parameters"]["mass_h_step_gev"] == 1.5
    assert all(q["two_masses"] for q in meta["quantities"])
