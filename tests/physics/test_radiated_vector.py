"""e+e- -> mu+ mu- V (a vector radiated off a muon): the matrix element against the analytic Dalitz
density, its charge-conjugation symmetry, and the kinematic limits."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from analysis_lib.core.constants import ALPHA_EM
from analysis_lib.core.errors import KinematicError
from analysis_lib.physics import radiated_vector as rv
from analysis_lib.physics.zprime import MUON_MASS_GEV

SQRT_S = 10.58


def test_matrix_element_averaged_over_orientations_is_the_dalitz_density():
    """At fixed energies of the final state, the average of |M|^2 over the orientations of the
    event equals the analytic massless Dalitz density: d sigma / dx1 dx2 = <|M|^2> / (1024 pi^3)
    (flux 1/2s, spin average 1/4, dPhi_3 = s / (128 pi^3) dx1 dx2 dOmega dphi / (8 pi^2), derived here)."""
    mass, m_lepton = 3.0, 1e-5
    space = rv.PhaseSpace(SQRT_S, mass, m_lepton)
    p3, p4, k, _ = space.momenta(np.array([[0.37, 0.5, 0.23, 0.6]]))
    n = 40_000
    rotations = Rotation.random(n, random_state=11).as_matrix()
    def rotate(p):
        return np.concatenate([np.repeat(p[:, :1], n, axis=0), np.einsum("nij,j->ni", rotations, p[0, 1:])], axis=1)
    half = SQRT_S / 2
    p1 = np.broadcast_to([half, 0, 0, half], (n, 4))
    p2 = np.broadcast_to([half, 0, 0, -half], (n, 4))
    me2 = rv.matrix_element_squared(p1, p2, rotate(p3), rotate(p4), rotate(k), lepton_mass_gev=m_lepton)
    x1, x2 = 2 * p3[0, 0] / SQRT_S, 2 * p4[0, 0] / SQRT_S
    s = SQRT_S**2
    expected = 4 * np.pi * ALPHA_EM**2 / (3 * s) / (8 * np.pi**2) * rv.dalitz_density(x1, x2, mass**2 / s)
    # the orientation average of a 1 + cos^2-like distribution: 40000 rotations give ~0.2%
    assert me2.mean() / (1024 * np.pi**3) == pytest.approx(expected, rel=0.01)


def test_matrix_element_is_symmetric_under_charge_conjugation():
    """Swapping e- <-> e+ and mu- <-> mu+ together leaves |M|^2 unchanged (both vertices are vector
    couplings), point by point; a wrong sign between the two diagrams would break it."""
    space = rv.PhaseSpace(SQRT_S, 2.0, MUON_MASS_GEV)
    rng = np.random.default_rng(3)
    p3, p4, k, _ = space.momenta(rng.random((50, 4)), rng.uniform(0, 2 * np.pi, 50))
    half = SQRT_S / 2
    p1 = np.broadcast_to([half, 0, 0, half], (50, 4))
    p2 = np.broadcast_to([half, 0, 0, -half], (50, 4))
    direct = rv.matrix_element_squared(p1, p2, p3, p4, k, lepton_mass_gev=MUON_MASS_GEV)
    swapped = rv.matrix_element_squared(p2, p1, p4, p3, k, lepton_mass_gev=MUON_MASS_GEV)
    np.testing.assert_allclose(direct, swapped, rtol=1e-10)
    assert np.all(direct > 0)


def test_cross_section_limits_and_errors():
    with pytest.raises(KinematicError, match="V mass"):
        rv.PhaseSpace(SQRT_S, 10.5, MUON_MASS_GEV)
    with pytest.raises(KinematicError):
        rv.sigma_massless_pb(11.0, SQRT_S)
