"""Three-body decays: four-momentum conservation and daughter masses; flat phase space fills the
Dalitz plot uniformly; the ortho-positronium matrix element gives Ore and Powell's photon spectrum."""

import numpy as np
import pytest
from scipy.integrate import quad

from analysis_lib.core.errors import KinematicError, ParameterError
from analysis_lib.simulation.decays import ORTHO_POSITRONIUM_WEIGHT_MAX, ortho_positronium_weight, three_body_decay


def parents(n, mass, momentum=(0.3, -1.2, 2.5)):
    p = np.asarray(momentum, dtype=float)
    return np.tile(np.concatenate([[np.sqrt(mass**2 + p @ p)], p]), (n, 1))


def ore_powell_spectrum(x):
    """The photon energy spectrum of o-Ps -> 3 gamma (Ore and Powell, Phys. Rev. 75 (1949) 1696), whose
    integral over 0 < x < 1 is pi^2 - 9."""
    log = np.log(1 - x)
    return 2 * ((2 - x) / x + (1 - x) * x / (2 - x) ** 2 - 2 * (1 - x) ** 2 / (2 - x) ** 3 * log
                + 2 * (1 - x) / x**2 * log)


def test_conservation_and_masses():
    rng = np.random.default_rng(3)
    parent = parents(20_000, 3.0)
    daughters = three_body_decay(rng, parent, (0.4, 0.4, 0.4), weight=ortho_positronium_weight,
                                 weight_max=ORTHO_POSITRONIUM_WEIGHT_MAX)
    assert daughters.shape == (20_000, 3, 4)
    np.testing.assert_allclose(daughters.sum(axis=1), parent, atol=1e-10)
    masses = np.sqrt(daughters[..., 0] ** 2 - np.sum(daughters[..., 1:] ** 2, axis=-1))
    np.testing.assert_allclose(masses, 0.4, atol=1e-6)


def test_flat_phase_space_fills_the_dalitz_plot_uniformly():
    """At rest, m12^2 of flat phase space is distributed as the length of the Dalitz region at that m12^2."""
    rng = np.random.default_rng(5)
    big_m, m = 2.0, (0.14, 0.14, 0.5)
    d = three_body_decay(rng, parents(200_000, big_m, (0, 0, 0)), m)
    m12 = (d[:, 0] + d[:, 1])
    m12 = m12[:, 0] ** 2 - np.sum(m12[:, 1:] ** 2, axis=1)

    def length(s12):
        e2 = (s12 - m[0] ** 2 + m[1] ** 2) / (2 * np.sqrt(s12))
        e3 = (big_m**2 - s12 - m[2] ** 2) / (2 * np.sqrt(s12))
        return 4 * np.sqrt(max(e2**2 - m[1] ** 2, 0)) * np.sqrt(max(e3**2 - m[2] ** 2, 0))

    edges = np.linspace((m[0] + m[1]) ** 2, (big_m - m[2]) ** 2, 11)
    expected = np.array([quad(length, a, b)[0] for a, b in zip(edges[:-1], edges[1:])])
    counts, _ = np.histogram(m12, edges)
    expected *= counts.sum() / expected.sum()
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected))


def test_ortho_positronium_spectrum_is_ore_and_powell():
    """Massless daughters with the o-Ps matrix element: the photons' energy fractions follow Ore and
    Powell's spectrum (a chi^2 over 20 bins), and the matrix element's marginal equals it exactly."""
    for x in (0.1, 0.5, 0.9):
        marginal, _ = quad(lambda x2: ortho_positronium_weight(x, x2, 2 - x - x2), 1 - x, 1, epsabs=0, epsrel=1e-10)
        assert marginal == pytest.approx(ore_powell_spectrum(x), rel=1e-8)
    assert quad(ore_powell_spectrum, 0, 1)[0] == pytest.approx(np.pi**2 - 9, rel=1e-9)
    rng = np.random.default_rng(11)
    d = three_body_decay(rng, parents(100_000, 1.0, (0, 0, 0)), (0.0, 0.0, 0.0), weight=ortho_positronium_weight,
                         weight_max=ORTHO_POSITRONIUM_WEIGHT_MAX)
    x = 2 * d[..., 0].ravel()
    edges = np.linspace(0, 1, 21)
    counts, _ = np.histogram(x, edges)
    expected = np.array([quad(ore_powell_spectrum, a, b)[0] for a, b in zip(edges[:-1], edges[1:])])
    expected *= counts.sum() / expected.sum()
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 45  # 19 degrees of freedom; three photons per event are correlated, so a generous bound


def test_bad_input():
    rng = np.random.default_rng(1)
    with pytest.raises(KinematicError, match="below threshold"):
        three_body_decay(rng, parents(3, 1.0), (0.4, 0.4, 0.4))
    with pytest.raises(ParameterError, match="weight_max"):
        three_body_decay(rng, parents(3, 3.0), (0.4, 0.4, 0.4), weight=ortho_positronium_weight)
    with pytest.raises(ParameterError, match="above weight_max"):
        three_body_decay(rng, parents(1000, 3.0), (0.0, 0.0, 0.0), weight=ortho_positronium_weight, weight_max=1.0)


def test_n_body_decay_is_flat_phase_space():
    """Raubold-Lynch decays conserve four-momentum, give each daughter its mass, and for three daughters
    reproduce the flat Dalitz plot of three_body_decay (the quantiles of m12^2 and m23^2 agree); six pions
    of parents of varied masses come out too."""
    from analysis_lib.core.kinematics import invariant_mass2
    from analysis_lib.simulation.decays import n_body_decay

    rng = np.random.default_rng(11)
    n = 100_000
    parent = np.tile([3.0, 0.0, 0.0, 1.0], (n, 1))
    d = n_body_decay(rng, parent, [0.1396, 0.4937, 0.1396])
    assert np.abs(d.sum(axis=1) - parent).max() < 1e-12
    np.testing.assert_allclose(np.sqrt(invariant_mass2(d)), np.tile([0.1396, 0.4937, 0.1396], (n, 1)), atol=1e-9)
    t = three_body_decay(rng, parent, (0.1396, 0.4937, 0.1396))
    for i, j in ((0, 1), (1, 2)):
        q = [0.05, 0.25, 0.5, 0.75, 0.95]
        np.testing.assert_allclose(np.quantile(invariant_mass2(d[:, i] + d[:, j]), q),
                                   np.quantile(invariant_mass2(t[:, i] + t[:, j]), q), rtol=0.02)
    masses = np.linspace(1.0, 4.5, 2000)
    parents = np.column_stack([np.sqrt(masses**2 + 0.25), np.zeros((2000, 2)), np.full(2000, 0.5)])
    six = n_body_decay(rng, parents, [0.1396] * 6)
    assert np.abs(six.sum(axis=1) - parents).max() < 1e-12
    with pytest.raises(KinematicError, match="below threshold"):
        n_body_decay(rng, parent[:1] * 0.2, [0.1396] * 6)
