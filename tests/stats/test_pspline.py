"""P-spline densities of simulated counts: the basis against scipy's B-splines, the banded Hessian
against the dense product, the conservation properties of P-splines, and the fit's uncertainty
against the truth of the counts it was fitted to."""

import numpy as np
import pytest
from scipy.interpolate import BSpline

from analysis_lib.core.errors import ParameterError
from analysis_lib.stats import pspline
from analysis_lib.stats.pspline import Basis, effective_counts, fit_counts


def _grid(n, low, high):
    edges = np.linspace(low, high, n + 1)
    return 0.5 * (edges[1:] + edges[:-1])


def test_basis_against_scipy_bsplines():
    """The closed-form cubic B-splines on equal segments against scipy's de Boor evaluation on the
    same knots (extended by three segments on either side)."""
    x = np.linspace(-1.0, 3.0, 57)
    basis = Basis.at(x, -1.0, 3.0, 8)
    h = 0.5
    knots = -1.0 + h * np.arange(-3, 8 + 4)
    reference = BSpline.design_matrix(x, knots, 3).toarray()
    np.testing.assert_allclose(basis.dense, reference, atol=1e-12)
    assert basis.size == 11
    constant = Basis.at(x, 0, 1, 0)
    assert constant.size == 1 and np.all(constant.dense == 1.0)


def test_banded_hessian_equals_the_dense_product():
    rng = np.random.default_rng(3)
    bx, by = Basis.at(_grid(37, 0, 1), 0, 1, 6), Basis.at(_grid(23, 0, 2), 0, 2, 4)
    mu = rng.random((37, 23))
    dense = np.einsum("xa,xc,xy,yb,yd->abcd", bx.dense, bx.dense, mu, by.dense, by.dense)
    np.testing.assert_allclose(pspline._hessian(mu, bx, by), dense.reshape(bx.size * by.size, -1), rtol=1e-12,
                               atol=1e-12)


def test_fit_conserves_the_total_and_the_mean():
    """With a second-order difference penalty on a Poisson log-density, the fit keeps the counts'
    total and their mean along each axis (Eilers & Marx 1996), to the precision of its convergence."""
    rng = np.random.default_rng(7)
    x, y = _grid(80, 0, 8), _grid(30, -3, 3)
    truth = 40 * np.exp(-x / 2)[:, None] * np.exp(-y**2 / 2)[None, :]
    counts = rng.poisson(truth).astype(float)
    fit = fit_counts(counts, Basis.at(x, 0, 8, 12), Basis.at(y, -3, 3, 8))
    assert fit.expected.sum() == pytest.approx(counts.sum(), rel=1e-7)
    for axis, centres in ((1, x), (0, y)):
        assert (fit.expected.sum(axis=axis) * centres).sum() == pytest.approx((counts.sum(axis=axis) * centres).sum(),
                                                                                rel=1e-4)


def test_box_uncertainties_cover_the_truth():
    """Over five pseudo-samples of 5000 counts from a known density (a falling exponential times a
    Gaussian, with a tail that holds a handful of counts), the expected counts in random boxes
    against the true ones: pulls of mean within 0.3 and width 0.5-1.3 (the Bayesian covariance of a
    penalised fit is slightly conservative); and a box in the tail beyond the last count still gets
    a prediction with an uncertainty that covers the truth."""
    x, y = _grid(200, 0, 10), _grid(40, -3, 3)
    shape = np.exp(-x / 1.5)[:, None] * np.exp(-y**2 / 2)[None, :]
    truth = 5000 * shape / shape.sum()
    pulls = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        fit = fit_counts(rng.poisson(truth).astype(float), Basis.at(x, 0, 10, 20), Basis.at(y, -3, 3, 10))
        for _ in range(40):
            a, c = rng.integers(0, 150), rng.integers(0, 35)
            b, d = a + rng.integers(5, 30), c + rng.integers(2, 6)
            s, u = fit.box_sums(a, b, c, d)
            pulls.append((s[0] - truth[a:b, c:d].sum()) / u[0])
        s, u = fit.box_sums(170, 200, 0, 40)
        assert abs(s[0] - truth[170:].sum()) < 3 * u[0]
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 0.3 and 0.5 < pulls.std() < 1.3


def test_weighted_counts_and_bad_input():
    counts, unit = effective_counts(np.array([[3.0, 0.0]]), np.array([[9.0, 0.0]]))
    assert unit == 3.0 and counts.tolist() == [[1.0, 0.0]]
    x = Basis.at(_grid(10, 0, 1), 0, 1, 3)
    y = Basis.at([0.5], 0, 1, 0)
    with pytest.raises(ParameterError, match="non-negative"):
        fit_counts(-np.ones((10, 1)), x, y)
    with pytest.raises(ParameterError, match="shape"):
        fit_counts(np.ones((9, 1)), x, y)
    with pytest.raises(ParameterError, match="no counts"):
        fit_counts(np.zeros((10, 1)), x, y)
    with pytest.raises(ParameterError, match="low < high"):
        Basis.at([0.5], 1, 0, 3)


def test_bad_counts_and_an_unsettled_fit_are_reported():
    x, y = Basis.at(_grid(20, 0, 1), 0, 1, 4), Basis.at(_grid(10, 0, 1), 0, 1, 3)
    counts = np.full((20, 10), 3.0)
    counts[4, 2] = np.nan
    with pytest.raises(ParameterError, match=r"1 of the 200 counts .* cell \(4, 2\)"):
        fit_counts(counts, x, y)
    with pytest.raises(ParameterError, match="exposure"):
        fit_counts(np.ones((20, 10)), x, y, exposure=np.ones((20, 9)))
    with pytest.warns(RuntimeWarning, match="did not settle in 1 iterations"):
        fit_counts(np.random.default_rng(1).poisson(5.0, (20, 10)).astype(float), x, y, max_iterations=1)
