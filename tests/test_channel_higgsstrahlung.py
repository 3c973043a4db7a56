"""Dark Higgsstrahlung: the cross section against a hand computation and against the numerical
integral of the matrix element and of its angular distribution, B(A' -> mu mu) against the R table,
the fast Bayesian limit against the Monte Carlo one, the signal kinematics, and the notebook."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from analysis_lib.channels import belle2_dark_higgsstrahlung as channel
from analysis_lib.constants import ALPHA_EM, GEV2_TO_PB
from analysis_lib.errors import KinematicError, ParameterError
from analysis_lib.kinematics import two_body_momentum
from analysis_lib.physics import dark_photon as dp
from analysis_lib.stats.counting import CountingModel, bayesian_upper_limit, bayesian_upper_limits_one_bin

from .conftest import SMALL_H

ROOT = Path(__file__).resolve().parent.parent
SQRT_S = 10.58


def test_cross_section_by_hand():
    """M_A' = 5, M_h' = 1 GeV at sqrt(s) = 10.58 GeV, eps^2 alpha_D = 1, step by step: s = 111.9364,
    a = 25/s = 0.223341, h = 1/s = 0.0089336, lambda = (1 - a - h)^2 - 4 a h = 0.581421,
    sqrt(lambda) = 0.762510, lambda + 12 a = 3.261514, (1 - a)^2 = 0.603199,
    pi alpha / 3 s = 6.82689e-5 GeV^-2: sigma = 2.81466e-4 GeV^-2 = 1.09597e5 pb."""
    s = SQRT_S**2
    a, h = 25 / s, 1 / s
    lam = (1 - a - h) ** 2 - 4 * a * h
    by_hand = np.pi * ALPHA_EM / (3 * s) * np.sqrt(lam) * (lam + 12 * a) / (1 - a) ** 2 * GEV2_TO_PB
    assert by_hand == pytest.approx(1.09597e5, rel=1e-5)
    assert dp.sigma_dark_higgsstrahlung_pb(5.0, 1.0, SQRT_S) == pytest.approx(by_hand, rel=1e-12)
    assert dp.sigma_dark_higgsstrahlung_pb(5.0, 1.0, SQRT_S, eps2_alpha_d=1e-8) == pytest.approx(by_hand * 1e-8)


@pytest.mark.parametrize(("mass_a", "mass_h"), [(4.0, 0.1), (5.0, 1.0), (8.0, 2.0), (9.7, 0.5)])
def test_cross_section_is_the_integral_of_the_matrix_element_and_of_the_angular_distribution(mass_a, mass_h):
    """The formula of the physics reference against |M|^2 derived from the couplings, integrated
    over the A' direction: flux 1/2s, spin average 1/4, dPhi_2 = p / (4 pi sqrt(s)) dOmega / 4 pi."""
    s = SQRT_S**2
    p = float(two_body_momentum(SQRT_S, mass_a, mass_h))
    p1, p2 = np.array([SQRT_S / 2, 0, 0, SQRT_S / 2]), np.array([SQRT_S / 2, 0, 0, -SQRT_S / 2])

    def dsigma(c):
        k = np.array([np.hypot(p, mass_a), p * np.sqrt(1 - c * c), 0.0, p * c])
        me2 = dp.matrix_element_squared_dark_higgsstrahlung(p1, p2, k, mass_a)
        return me2 / 4 / (2 * s) * p / (4 * np.pi * SQRT_S) * 2 * np.pi / (4 * np.pi) * GEV2_TO_PB

    total = dp.sigma_dark_higgsstrahlung_pb(mass_a, mass_h, SQRT_S)
    assert quad(dsigma, -1, 1, epsrel=1e-10)[0] == pytest.approx(total, rel=1e-9)
    angular = quad(lambda c: dp.dsigma_dcos_dark_higgsstrahlung_pb(c, mass_a, mass_h, SQRT_S), -1, 1)[0]
    assert angular == pytest.approx(total, rel=1e-9)
    # and point by point: the angular distribution is the matrix element's
    for c in (-0.7, 0.0, 0.4):
        assert dp.dsigma_dcos_dark_higgsstrahlung_pb(c, mass_a, mass_h, SQRT_S) == pytest.approx(dsigma(c), rel=1e-9)


def test_cross_section_outside_the_kinematic_range():
    with pytest.raises(KinematicError, match="M_A' \\+ M_h' < sqrt"):
        dp.sigma_dark_higgsstrahlung_pb(8.0, 3.0, SQRT_S)


@pytest.mark.parametrize("mass", [1.0, 3.0, 6.0, 9.0])
def test_branching_fraction_against_the_r_table(mass):
    """B(A' -> mu mu) from the table's R at a few masses, computed here from the table's rows
    directly (nearest points, linear interpolation) and the lepton widths."""
    table = np.loadtxt(ROOT / "data" / "published" / "r_ratio_pdg2020.dat")
    table = table[np.argsort(table[:, 0])]
    r = np.interp(mass, table[:, 0], table[:, 1])
    def width(m_l):
        x = (m_l / mass) ** 2
        return (1 + 2 * x) * np.sqrt(1 - 4 * x) if x < 0.25 else 0.0
    leptons = [width(m) for m in (0.000511, 0.10566, 1.77686)]
    expected = leptons[1] / (sum(leptons) + r)
    assert dp.branching_fraction_mumu(mass) == pytest.approx(expected, rel=1e-3)
    # between the heavy-flavour thresholds R is 2-4: B(mu mu) is 15-30%
    assert 0.1 < dp.branching_fraction_mumu(mass) < 0.35


@pytest.mark.parametrize(("n", "s", "b", "db", "ds"), [(0, 1.0, 3.0, 0.0, 0.0), (12, 2.0, 10.0, 3.0, 0.05),
                                                       (40, 0.5, 35.0, 10.0, 0.1), (1000, 3.0, 950.0, 100.0, 0.05)])
def test_quadrature_bayesian_limit_against_the_monte_carlo_one(n, s, b, db, ds):
    """Gauss-Hermite marginalisation against Monte Carlo marginalisation (20000 draws, whose own
    noise is about 0.5%): within 1.5%."""
    fast = bayesian_upper_limits_one_bin([n], s, b, background_uncertainty=db, signal_uncertainty=ds, cl=0.9)[0]
    slow = bayesian_upper_limit([n], CountingModel([s], [b], db, ds), cl=0.9)
    assert fast == pytest.approx(slow, rel=0.015)


def test_signal_events_have_the_two_masses():
    from analysis_lib.datasets import dataset
    from analysis_lib.simulation.dimuon import generate_dark_higgsstrahlung
    from analysis_lib.simulation.generators import Frame

    beams = dataset("belle2_2019").experiment.beams
    ev = generate_dark_higgsstrahlung(np.random.default_rng(2), 4000, beams=beams, mass_a_gev=6.0, mass_h_gev=2.0,
                                      sigma_pb=1.0)
    cm = Frame(beams).to_cm(ev.p4)
    pair = cm.sum(axis=1)
    recoil = np.array([beams.sqrt_s_gev, 0, 0, 0]) - pair
    def mass2(p):
        return p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1)
    np.testing.assert_allclose(mass2(pair), 36.0, rtol=1e-9)
    np.testing.assert_allclose(mass2(recoil), 4.0, atol=1e-6)
    # the A' polar angle: <cos^2> of lambda sin^2 + 8 M^2/s against its value from the distribution
    s = beams.sqrt_s_gev**2
    lam = (2 * float(two_body_momentum(beams.sqrt_s_gev, 6.0, 2.0)) / beams.sqrt_s_gev) ** 2
    c2 = (pair[:, 3] / np.linalg.norm(pair[:, 1:], axis=1)) ** 2
    expected = (lam * (1 / 3 - 1 / 5) + 8 * 36 / s / 3) / (lam * 2 / 3 + 8 * 36 / s)
    assert c2.mean() == pytest.approx(expected, abs=4 * c2.std() / np.sqrt(c2.size))


@pytest.mark.xdist_group("higgsstrahlung")
def test_windows_follow_the_resolutions(higgsstrahlung_inputs):
    inputs = higgsstrahlung_inputs
    w = channel.window(inputs, 6.0, 2.0)
    assert w.mass_range[0] < 6.0 < w.mass_range[1] and w.recoil_range[0] < 2.0 < w.recoil_range[1]
    # the dimuon mass is measured far better than the recoil mass
    assert w.mass_range[1] - w.mass_range[0] < 0.5 * (w.recoil_range[1] - w.recoil_range[0])
    assert 0.1 < w.efficiency < 0.9 and w.background_uncertainty > 0
    with pytest.raises(KinematicError, match="outside the search's range"):
        channel.window(inputs, 8.0, 3.0)
    with pytest.raises(ParameterError):
        channel.scan_points(inputs, mass_a_min_gev=9.0, mass_a_max_gev=5.0, mass_step_sigma=2, mass_h_step_gev=0.5)


@pytest.mark.xdist_group("higgsstrahlung")
def test_notebook_runs_with_small_parameters(tmp_path, higgsstrahlung_inputs):
    import papermill

    out = tmp_path / "run"
    out.mkdir()
    papermill.execute_notebook(ROOT / "notebooks" / "belle2_dark_higgsstrahlung.ipynb", out / "nb.ipynb", cwd=str(out),
                               kernel_name="python3", progress_bar=False,
                               parameters={"seed": 5, "mass_step_sigma": 8.0, "mass_h_step_gev": 1.5, **SMALL_H})
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
