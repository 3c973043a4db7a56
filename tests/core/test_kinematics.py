"""Kinematics: Lorentz boosts against the vector package."""

import numpy as np
import pytest
import vector

from analysis_lib.core.kinematics import boost, invariant_mass2


def test_boost_matches_vector_and_inverts():
    rng = np.random.default_rng(3)
    p = np.column_stack([np.full(5, 10.0), rng.normal(size=(5, 3))])
    beta = np.array([0.1, -0.2, 0.3])
    out = boost(p, beta)
    v = vector.obj(E=p[0, 0], px=p[0, 1], py=p[0, 2], pz=p[0, 3]).boost_beta3(vector.obj(x=0.1, y=-0.2, z=0.3))
    assert out[0] == pytest.approx([v.E, v.px, v.py, v.pz])
    assert np.allclose(boost(out, -beta), p)
    assert np.allclose(invariant_mass2(out), invariant_mass2(p))


def test_boost_per_particle_velocities_match_vector():
    rng = np.random.default_rng(4)
    p = np.column_stack([rng.uniform(5, 10, 200), rng.normal(size=(200, 3))])
    beta = rng.normal(size=(200, 3))
    beta *= rng.uniform(0, 0.95, (200, 1)) / np.linalg.norm(beta, axis=1, keepdims=True)
    beta[0] = 0.0
    out = boost(p, beta)
    v = vector.array({"E": p[:, 0], "px": p[:, 1], "py": p[:, 2], "pz": p[:, 3]}).boost_beta3(
        vector.array({"x": beta[:, 0], "y": beta[:, 1], "z": beta[:, 2]}))
    assert np.allclose(out, np.stack([v.E, v.px, v.py, v.pz], axis=-1), rtol=1e-12, atol=1e-12)
    assert np.array_equal(out[0], p[0])
    with pytest.raises(ValueError, match="beta"):
        boost(p, [0.0, 0.0, 1.0])
