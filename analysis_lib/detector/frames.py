"""The centre-of-mass frame of an experiment's beams and the transformation to and from its lab.

Generators work in the centre-of-mass frame with the incoming electron along +z; reconstruction
works on lab quantities and transforms them back. Both use :class:`Frame` (crossing angle and boost
from :class:`analysis_lib.detector.experiments.Beams`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.kinematics import boost, rotate_z_to
from .experiments import Beams

__all__ = ["Frame"]


@dataclass(frozen=True)
class Frame:
    """Transformation from the centre-of-mass frame (e- along +z) to the lab frame of ``beams``."""

    beams: Beams

    @property
    def electron_axis_cm(self) -> np.ndarray:
        """Direction of the electron beam in the centre-of-mass frame."""
        e_minus, _ = self.beams.four_momenta()
        p = boost(e_minus, -self.beams.beta)
        return p[1:] / np.linalg.norm(p[1:])

    def to_lab(self, p4_cm):
        """Rotate (z -> electron axis) and boost four-momenta (..., 4) to the lab."""
        p4_cm = np.asarray(p4_cm, dtype=float)
        rotated = np.concatenate(
            [p4_cm[..., :1], rotate_z_to(p4_cm[..., 1:], self.electron_axis_cm)], axis=-1
        )
        return boost(rotated, self.beams.beta)

    def to_cm(self, p4_lab):
        """Inverse of :meth:`to_lab`: boost to the centre-of-mass frame and rotate back to z."""
        p4 = boost(np.asarray(p4_lab, dtype=float), -self.beams.beta)
        axis = self.electron_axis_cm
        # rotate_z_to returns v @ R.T; the inverse rotation of row vectors is v @ R
        rotation_transposed = rotate_z_to(np.eye(3), axis)
        return np.concatenate([p4[..., :1], p4[..., 1:] @ rotation_transposed.T], axis=-1)

    def beam_four_momenta_cm(self):
        """Electron and positron four-momenta in the centre-of-mass frame (e- along +z)."""
        half = self.beams.sqrt_s_gev / 2
        return np.array([half, 0, 0, half]), np.array([half, 0, 0, -half])
