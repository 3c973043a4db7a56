"""The material a photon from the collision crosses before the tracking volume: beam pipe, vertex
detector layers and the drift chamber's inner wall, as thin cylinders about the beam line.

Each layer is a cylinder of radius ``radius_mm`` and half length ``half_length_mm`` (a photon whose
line leaves through its end misses it) and ``x_over_x0`` radiation lengths thick at normal
incidence. A photon crossing it at angle psi to its surface traverses x_over_x0 / sin psi (psi the
polar angle for a photon from the beam line). The layers are what the detector papers describe, reduced
to what a conversion model needs: supports, cables and cooling are folded into the layers they sit
beside (a model of their size, said per experiment below). A conversion beyond the last layer makes tracks too
short to be paired with those of the collision and is not modelled.

Sources (see :data:`MATERIAL`): BaBar, B. Aubert et al., Nucl. Instrum. Meth. A 479 (2002) 1;
Belle, A. Abashian et al., Nucl. Instrum. Meth. A 479 (2002) 117 and, for its second silicon vertex
detector, Y. Ushiroda et al., Nucl. Instrum. Meth. A 511 (2003) 6; Belle II, T. Abe et al., Belle II
Technical Design Report, arXiv:1011.0352, and the geometry of its public software (basf2: the beam
pipe's layers and the drift chamber's inner wall). Radiation lengths of the materials from the Review
of Particle Physics' tables (beryllium 35.28 cm, silicon 9.37 cm, aluminium 8.897 cm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import ParameterError
from .experiments import per_experiment

__all__ = ["INTRINSIC_ANGLE_RAD", "MATERIAL", "Layer", "crossings", "direction_resolution_rad", "layers",
           "scattering_angle_rad", "track_resolutions"]


@dataclass(frozen=True)
class Layer:
    """One cylinder of material about the beam line (see the module docstring)."""

    name: str
    radius_mm: float
    half_length_mm: float
    x_over_x0: float

    def __post_init__(self):
        for field in ("radius_mm", "half_length_mm", "x_over_x0"):
            value = getattr(self, field)
            if not (np.isfinite(value) and value > 0):
                raise ParameterError(f"layer {self.name!r}: {field}={value!r} must be a finite number > 0")


#: The layers of each experiment, innermost first. Radii and lengths are those of the sources; the
#: thicknesses are models of the size they describe (silicon layers count their sensors, readout and
#: supports together), to a factor of about 1.5: conversion rates scale with them.
MATERIAL = {
    # Belle II: the beam pipe's central section (gold coating, two beryllium walls with paraffin
    # coolant between, about 0.8% X0 from the thicknesses of the basf2 geometry), the two pixel layers
    # at 14 and 22 mm ("about 0.2% of a radiation length" each, with their supports), the four strip
    # layers at 39, 80, 104 and 135 mm (sensors of 320 microns, 0.34% X0, with readout, supports and
    # cooling: modelled as 0.6%), the drift chamber's inner wall at 160 mm (carbon fibre and aluminium,
    # about 0.3%); the TDR (arXiv:1011.0352) and the experiment's public geometry
    "belle2": (
        Layer("beam pipe", 10.0, 80.0, 0.008),
        Layer("PXD layer 1", 14.0, 45.0, 0.002),
        Layer("PXD layer 2", 22.0, 62.0, 0.002),
        Layer("SVD layer 3", 39.0, 130.0, 0.006),
        Layer("SVD layer 4", 80.0, 200.0, 0.006),
        Layer("SVD layer 5", 104.0, 280.0, 0.006),
        Layer("SVD layer 6", 135.0, 380.0, 0.006),
        Layer("CDC inner wall", 160.0, 800.0, 0.003),
    ),
    # Belle, as it took most of its data (the second silicon detector, from 2003): a beryllium beam pipe
    # of 15 mm radius with a double wall (0.5 mm Be, helium, 0.5 mm Be: 0.28% X0 by the 2002 paper's
    # table for the first pipe), four silicon layers at 20, 43.5, 70 and 88 mm (Ushiroda et al.: 300
    # micron sensors, 0.32% X0, with readout and supports modelled as 0.6%); the drift chamber's inner
    # wall is left out (its radius after the upgrade was not found): an underestimate of a few tenths
    # of a per cent. The second detector's radii and pipe are as its paper is usually quoted; they were
    # not checked against its text here
    "belle": (
        Layer("beam pipe", 15.0, 100.0, 0.0028),
        Layer("SVD layer 1", 20.0, 80.0, 0.006),
        Layer("SVD layer 2", 43.5, 150.0, 0.006),
        Layer("SVD layer 3", 70.0, 200.0, 0.006),
        Layer("SVD layer 4", 88.0, 250.0, 0.006),
    ),
    # BaBar: the beryllium beam pipe with its water cooling and gold foil at 27.9 mm (about 1% X0 at
    # normal incidence), the five silicon layers at 32, 40 and 54 mm and the two arched outer layers
    # (91-127 and 114-144 mm: placed at 110 and 130 mm), about 4% X0 in all with their supports
    # (modelled as 0.8% each), and the drift chamber's beryllium inner wall at 236 mm (1 mm, 0.28%):
    # the detector paper, Nucl. Instrum. Meth. A 479 (2002) 1, as it is usually quoted (its text was not
    # available here to check these numbers; the outer radius 144 mm agrees with the tracker's model)
    "babar": (
        Layer("beam pipe", 27.9, 200.0, 0.010),
        Layer("SVT layer 1", 32.0, 100.0, 0.008),
        Layer("SVT layer 2", 40.0, 120.0, 0.008),
        Layer("SVT layer 3", 54.0, 160.0, 0.008),
        Layer("SVT layer 4", 110.0, 260.0, 0.008),
        Layer("SVT layer 5", 130.0, 300.0, 0.008),
        Layer("DCH inner wall", 236.0, 1000.0, 0.0028),
    ),
}


def layers(experiment) -> tuple[Layer, ...]:
    """The material layers of ``experiment`` (an :class:`~analysis_lib.detector.experiments.Experiment`),
    innermost first."""
    return per_experiment(MATERIAL, experiment, "material model")


def crossings(vertex_mm, direction, material) -> tuple[np.ndarray, np.ndarray]:
    """Where straight lines from ``vertex_mm`` (..., 3) along unit ``direction`` (..., 3) cross the
    cylinders ``material`` (a sequence of :class:`Layer`, innermost first), outward.

    Returns
    -------
    (points, thickness) : arrays (..., L, 3) and (..., L)
        The crossing points (mm) and the radiation lengths traversed there (x_over_x0 / sin psi, psi
        the angle between the line and the cylinder's surface); thickness 0 where a line does not
        cross a layer: it starts outside it, or leaves through its end (|z| > half length), or runs
        along the beam.
    """
    v = np.asarray(vertex_mm, dtype=float)[..., None, :]
    u = np.asarray(direction, dtype=float)[..., None, :]
    radius = np.array([layer.radius_mm for layer in material])
    half = np.array([layer.half_length_mm for layer in material])
    x0 = np.array([layer.x_over_x0 for layer in material])
    a = u[..., 0] ** 2 + u[..., 1] ** 2
    b = v[..., 0] * u[..., 0] + v[..., 1] * u[..., 1]
    c = v[..., 0] ** 2 + v[..., 1] ** 2 - radius**2
    along = a > 1e-12
    inside = c < 0
    # the outward crossing of |v_T + t u_T| = R, t >= 0, for a line starting inside the cylinder
    t = np.where(along & inside, (-b + np.sqrt(np.maximum(b * b - a * c, 0.0))) / np.where(along, a, 1.0), 0.0)
    points = v + t[..., None] * u
    # the sine of the angle to the surface: the direction's component along the surface's normal
    sin_psi = np.abs(points[..., 0] * u[..., 0] + points[..., 1] * u[..., 1]) / radius
    crossed = along & inside & (np.abs(points[..., 2]) <= half) & (sin_psi > 1e-9)
    thickness = np.where(crossed, x0 / np.where(crossed, sin_psi, 1.0), 0.0)
    return points, thickness


def scattering_angle_rad(momentum_gev, beta, thickness_x0):
    """The width theta_0 of the projected multiple-scattering angle of a singly charged particle of
    ``momentum_gev`` and speed ``beta`` through ``thickness_x0`` radiation lengths (along its path):
    (13.6 MeV / (beta c p)) sqrt(x/X0) (1 + 0.038 ln(x / (X0 beta^2))), the Highland formula as the
    Review of Particle Physics gives it (R. L. Workman et al. (Particle Data Group), Prog. Theor. Exp.
    Phys. 2022 083C01, "Passage of particles through matter", multiple scattering through small
    angles; 11% or better for 1e-3 < x/X0 < 100).

    Examples
    --------
    >>> round(1e3 * float(scattering_angle_rad(1.0, 1.0, 0.01)), 3)  # mrad
    1.122
    """
    p_beta = np.maximum(np.asarray(momentum_gev, dtype=float) * np.asarray(beta, dtype=float), 1e-6)
    t = np.maximum(np.asarray(thickness_x0, dtype=float), 1e-12)
    beta2 = np.asarray(beta, dtype=float) ** 2
    return 0.0136 / p_beta * np.sqrt(t) * (1 + 0.038 * np.log(t / np.maximum(beta2, 1e-12)))


#: The directions' resolution of high-momentum tracks (rad): a model of the size the detector papers
#: give for the azimuth and dip of tracks from the collision point (a few tenths of a mrad).
INTRINSIC_ANGLE_RAD = 5e-4


def direction_resolution_rad(experiment, momentum_gev, beta, theta_rad):
    """The resolution of a track's polar angle (and of its azimuth times sin theta) at the collision
    point: :data:`INTRINSIC_ANGLE_RAD` in quadrature with the multiple scattering
    (:func:`scattering_angle_rad`) in the material up to its first measurement, the experiment's two
    innermost layers (beam pipe and first silicon layer), crossed at theta (a model: also for tracks
    made beyond them, a conversion's or a decay's in flight, which it overstates; and independent of the
    d0 resolution, whose scattering term is the same material's)."""
    first = layers(experiment)[:2]
    thickness = sum(layer.x_over_x0 for layer in first) / np.maximum(np.sin(theta_rad), 1e-3)
    return np.hypot(INTRINSIC_ANGLE_RAD, scattering_angle_rad(momentum_gev, beta, thickness))


def track_resolutions(experiment, momentum_gev, theta_rad) -> dict:
    """The resolutions a reconstruction assigns to tracks of ``momentum_gev`` at ``theta_rad`` from the
    beam line (relativistic, beta = 1: slow pions' are 20% or so larger): ``sigma_d0`` (mm, the tracker's impact-parameter model) and
    ``sigma_phi`` (rad, :func:`direction_resolution_rad` over sin theta)."""
    theta = np.asarray(theta_rad, dtype=float)
    return {"sigma_d0": experiment.tracker.impact_resolution_mm(momentum_gev, 1.0, theta, 0.0)[0],
            "sigma_phi": direction_resolution_rad(experiment, momentum_gev, 1.0, theta) / np.maximum(np.sin(theta), 1e-3)}
