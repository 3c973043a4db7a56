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
