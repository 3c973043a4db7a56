"""Tracks in the solenoid: where a track made away from the beam line appears to come from.

Track fits quote a helix by its parameters at the point of closest approach (POCA) to the beam line:
the signed distance d0, the azimuth phi0 of the momentum there, z0, and the curvature and dip angle,
which do not change along the helix. A particle made at the collision point has its own direction
at the POCA. One made at a radius r away from the beam (a photon converting in the beam pipe, a
Lambda's proton) has curved on the way in: its phi0 is turned from the azimuth of its momentum where
it was made. Paired as if they came from the collision point, the two tracks of a photon conversion
open by that turn and look like a pair of tens of MeV, the masses of a light dark photon.

A conversion's apparent mass (derived here). A photon of energy E at 90 degrees converting at radius r
into a positron of energy fraction x: each track turns by atan(r / R) on the way in, R = x E / (c B) or
(1 - x) E / (c B), so the pair opens by theta ~ c B r / (E x (1 - x)) and shows the mass
m ~ E sqrt(x (1 - x)) theta = c B r / sqrt(x (1 - x)), the same for every photon energy while both
tracks are stiff, E min(x, 1 - x) >> c B r (c B r = 45 MeV at 10 cm in 1.5 T); softer tracks turn by
less than r / R and the mass falls below it. An even split gives 2 c B r / sqrt(1 + (r / R)^2) exactly.

The geometry (derived here). In a field B along +z a particle of charge q (in units of e) and
transverse momentum p_T moves on a circle of radius R = p_T / (c B) (c = 0.2998 GeV / (T m)); its
direction turns clockwise for q > 0 seen from +z, so the centre lies at C = P - q R n, n = (-u_y, u_x)
the left normal of its transverse direction u at the point P where it was made. The point of the
circle nearest the beam line is Q = C - R C/|C|, at distance ||C| - R|, where the direction is
q (z x C/|C|). The arc from Q to P, s = R alpha / (-q) with alpha the signed turn from the direction
at Q to u, gives z0 = z_P - s cot(theta); of the helix's points above Q, one a turn, this takes the
one within half a turn of P (|alpha| <= pi), where the track was made. The book's sign of d0 is that of the straight tracks
(:func:`analysis_lib.simulation.response.impact_parameters`): the POCA is (d0 sin phi0, -d0 cos phi0).

The solenoids (all 1.5 T): BaBar (B. Aubert et al., Nucl. Instrum. Meth. A 479 (2002) 1), Belle
(A. Abashian et al., Nucl. Instrum. Meth. A 479 (2002) 117), Belle II (T. Abe et al., Belle II
Technical Design Report, arXiv:1011.0352).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import ParameterError
from .experiments import per_experiment

__all__ = ["C_GEV_PER_T_M", "SOLENOID_FIELD_TESLA", "TOUCHING_SIGNIFICANCE", "apparent_pair_mass_gev", "field_tesla",
           "helix_at_closest_approach", "meeting_momenta", "momentum_at", "pair_vertex", "track_circle"]

#: p_T [GeV] = C_GEV_PER_T_M x B [T] x R [m] for a unit charge (the speed of light / 1e9).
C_GEV_PER_T_M = 0.299792458
#: The solenoid field of each experiment (T), see the module docstring. Kept apart from the
#: experiments' descriptions, which name their samples.
SOLENOID_FIELD_TESLA = {"babar": 1.5, "belle": 1.5, "belle2": 1.5}


def field_tesla(experiment) -> float:
    """The solenoid field (T) of ``experiment`` (an :class:`~analysis_lib.detector.experiments.Experiment`)."""
    return per_experiment(SOLENOID_FIELD_TESLA, experiment, "solenoid field")


def helix_at_closest_approach(vertex_mm, momentum_gev, charge, field_tesla: float):
    """The helix of each particle made at ``vertex_mm`` (..., 3) with momentum ``momentum_gev``
    (..., 3, lab) and ``charge`` (..., in units of e, +-1), in a field of ``field_tesla`` along +z, at its
    point of closest approach to the beam line (the geometry of the module docstring).

    Returns
    -------
    (d0, z0, phi0) : arrays (...)
        d0 and z0 in mm (the book's sign of d0) and the azimuth of the momentum at the POCA; the
        momentum there is (p_T cos phi0, p_T sin phi0, p_z).
    """
    vertex = np.asarray(vertex_mm, dtype=float)
    p = np.asarray(momentum_gev, dtype=float)
    q = np.sign(np.asarray(charge, dtype=float))
    if not (np.isfinite(field_tesla) and field_tesla > 0):
        raise ParameterError(f"field_tesla={field_tesla!r} must be a finite number > 0")
    if np.any(np.abs(np.asarray(charge, dtype=float)) != 1):
        raise ParameterError(f"charge={charge!r}: helix_at_closest_approach takes particles of charge +1 or -1")
    x, y, z = np.moveaxis(vertex, -1, 0)
    px, py, pz = np.moveaxis(p, -1, 0)
    pt = np.maximum(np.hypot(px, py), 1e-12)
    ux, uy = px / pt, py / pt
    radius = pt / (C_GEV_PER_T_M * field_tesla) * 1e3  # mm
    cx, cy = x + q * radius * uy, y - q * radius * ux  # C = P - q R (-u_y, u_x)
    c_norm = np.hypot(cx, cy)
    centred = c_norm < 1e-9 * np.maximum(radius, 1.0)  # a circle about the beam line: every point is closest
    safe = np.where(centred, 1.0, c_norm)
    chx, chy = np.where(centred, -uy * q, cx / safe), np.where(centred, ux * q, cy / safe)
    qx, qy = cx - radius * chx, cy - radius * chy
    tx, ty = -q * chy, q * chx  # q (z x C/|C|)
    qx, qy = np.where(centred, x, qx), np.where(centred, y, qy)
    tx, ty = np.where(centred, ux, tx), np.where(centred, uy, ty)
    phi0 = np.arctan2(ty, tx)
    d0 = qx * np.sin(phi0) - qy * np.cos(phi0)
    alpha = np.arctan2(tx * uy - ty * ux, tx * ux + ty * uy)  # the turn from the POCA's direction to u
    arc = radius * alpha / (-q)
    z0 = z - arc * pz / pt
    return d0, z0, phi0


def apparent_pair_mass_gev(radius_mm, positron_fraction, photon_energy_gev, field_tesla: float):
    """The mass a photon conversion shows when its two tracks are paired as if they came from the
    collision point (with their momenta at their closest approach to the beam): a photon of
    ``photon_energy_gev`` at 90 degrees converting at ``radius_mm`` into a positron carrying
    ``positron_fraction`` of its energy and an electron, both along the photon, in ``field_tesla``.
    About c B r / sqrt(x (1 - x)) while both tracks are stiff (the module docstring)."""
    from ..core.constants import mass_gev

    m_e = mass_gev(11)
    r = float(radius_mm)
    total = np.zeros(4)
    for charge, share in ((1, float(positron_fraction)), (-1, 1 - float(positron_fraction))):
        energy = share * float(photon_energy_gev)
        p = np.sqrt(max(energy**2 - m_e**2, 0.0))
        _, _, phi0 = helix_at_closest_approach(np.array([r, 0.0, 0.0]), np.array([p, 0.0, 0.0]), charge, field_tesla)
        total += [energy, p * np.cos(phi0), p * np.sin(phi0), 0.0]
    return float(np.sqrt(max(total[0] ** 2 - total[1:] @ total[1:], 0.0)))


def track_circle(pt_gev, phi0, d0_mm, charge, field_tesla: float):
    """The circle a track's helix projects onto the transverse plane, from its parameters at the point
    of closest approach (the book's sign of d0): centre (x, y) and radius, in mm. The centre lies at
    C = Q - q R n, Q = (d0 sin phi0, -d0 cos phi0), n = (-sin phi0, cos phi0) the left normal of the
    direction there (the geometry of the module docstring)."""
    if not (np.isfinite(field_tesla) and field_tesla > 0):
        raise ParameterError(f"field_tesla={field_tesla!r} must be a finite number > 0")
    q = np.sign(np.asarray(charge, dtype=float))
    phi0, d0 = np.asarray(phi0, dtype=float), np.asarray(d0_mm, dtype=float)
    radius = np.asarray(pt_gev, dtype=float) / (C_GEV_PER_T_M * field_tesla) * 1e3
    cx = d0 * np.sin(phi0) + q * radius * np.sin(phi0)
    cy = -d0 * np.cos(phi0) - q * radius * np.cos(phi0)
    return cx, cy, radius


def pair_vertex(circle_a, circle_b, charge_a, charge_b, *, touching_mm=0.0):
    """Where two tracks' circles (:func:`track_circle`) meet in the transverse plane, and the angle
    between the tracks' directions there (derived here).

    Circles that cross meet at the crossing nearer the beam line (for two tracks of the collision, the
    collision point); there the directions open by psi, cos psi = q_a q_b (R_a^2 + R_b^2 - D^2) /
    (2 R_a R_b), D the distance of the centres (a track's direction at a point X is -q z x (X - C) / R).
    Circles that do not cross meet halfway across their gap on the line of the centres, where both
    directions are perpendicular to that line (psi 0 or pi). A photon's conversion gives two tracks
    of opposite charge that leave their common point parallel and curve apart: circles that touch
    from outside, which the tracks' measurement errors make cross or miss by a little. Opposite charges
    whose circles miss or overlap by less than ``touching_mm`` (D - R_a - R_b, per pair: a few of the
    tracks' position resolutions there) are taken to touch, on the line of the centres with psi = 0: crossing
    there, by the errors alone, they would open by psi ~ sqrt(2 (R_a + R_b) overlap / (R_a R_b)), tens
    of mrad for GeV tracks and a tenth of a millimetre.

    Returns
    -------
    (x, y, psi) : arrays
        The meeting point in mm and the opening angle psi in [0, pi] (radians).
    """
    ax, ay, ra = (np.asarray(v, dtype=float) for v in circle_a)
    bx, by, rb = (np.asarray(v, dtype=float) for v in circle_b)
    dx, dy = bx - ax, by - ay
    dist = np.maximum(np.hypot(dx, dy), 1e-12)
    ex, ey = dx / dist, dy / dist
    apart = dist >= ra + rb
    nested = dist <= np.abs(ra - rb)
    # crossing: a along the centres' line from A, h across it
    a = (dist**2 + ra**2 - rb**2) / (2 * dist)
    h = np.sqrt(np.maximum(ra**2 - a**2, 0.0))
    first = (ax + a * ex - h * ey, ay + a * ey + h * ex)
    second = (ax + a * ex + h * ey, ay + a * ey - h * ex)
    nearer = np.hypot(*first) <= np.hypot(*second)
    cross_x, cross_y = np.where(nearer, first[0], second[0]), np.where(nearer, first[1], second[1])
    # apart: the middle of the gap between the circles, on the centres' line
    gap = ra + (dist - ra - rb) / 2
    # nested: the middle between the inner circle's far side and the outer circle, on the line from
    # the larger's centre through the smaller's
    sign = np.where(ra >= rb, 1.0, -1.0)  # the direction from the larger's centre to the smaller's is sign e
    big_x, big_y, big_r = np.where(ra >= rb, ax, bx), np.where(ra >= rb, ay, by), np.maximum(ra, rb)
    reach = (big_r + dist + np.minimum(ra, rb)) / 2
    touching = (np.sign(charge_a) * np.sign(charge_b) < 0) & (np.abs(dist - ra - rb) < np.asarray(touching_mm))
    apart = apart | touching
    x = np.where(apart, ax + gap * ex, np.where(nested, big_x + sign * reach * ex, cross_x))
    y = np.where(apart, ay + gap * ey, np.where(nested, big_y + sign * reach * ey, cross_y))
    cos_psi = np.sign(charge_a) * np.sign(charge_b) * (ra**2 + rb**2 - dist**2) / (2 * ra * rb)
    # (circles apart or nested: |cos psi| >= 1, clipped to the parallel or antiparallel directions)
    psi = np.where(touching, 0.0, np.arccos(np.clip(cos_psi, -1.0, 1.0)))
    return x, y, psi


#: Opposite-charge circles closer to touching than this many of the combined position resolutions of
#: their tracks there are taken to touch (:func:`pair_vertex`, :func:`meeting_momenta`).
TOUCHING_SIGNIFICANCE = 2.0


def meeting_momenta(track_a, track_b, field_tesla: float, *, touching_significance: float | None = None):
    """Two tracks where their circles meet (:func:`pair_vertex`, taken to touch within
    ``touching_significance`` of their combined transverse position resolution there), from their helices
    at closest approach: ``track_a``, ``track_b`` are dicts of broadcastable arrays ``p``, ``theta``,
    ``phi`` (phi0), ``d0``, ``sigma_d0`` (its resolution), optionally ``sigma_phi`` (phi0's; 0 without)
    and ``charge``. A track's position resolution at a distance r from the beam is taken as
    hypot(sigma_d0, r sigma_phi) (derived here: its circle's offset and turn at the closest approach,
    carried to r, as independent errors; a real fit's are correlated and know the position near the
    first measured layer better), r that of the point where the two circles would touch (the middle
    of their gap or overlap on the line of the centres).

    Returns
    -------
    (x, y, psi, momentum_a, momentum_b)
        The meeting point (mm), the opening there (rad) and each track's momentum there (..., 3) in GeV:
        p_T turned along the helix, p_z unchanged.
    """
    circles, pts = [], []
    for t in (track_a, track_b):
        pt = np.asarray(t["p"], dtype=float) * np.sin(t["theta"])
        circles.append(track_circle(pt, t["phi"], t["d0"], t["charge"], field_tesla))
        pts.append(pt)
    if touching_significance is None:
        touching_significance = TOUCHING_SIGNIFICANCE
    (ax, ay, ra), (bx, by, rb) = circles
    dist = np.maximum(np.hypot(bx - ax, by - ay), 1e-12)
    reach = (ra + (dist - ra - rb) / 2) / dist  # the touching point, as a share of the way from A to B
    r = np.hypot(ax + reach * (bx - ax), ay + reach * (by - ay))
    sigma_phi_a, sigma_phi_b = track_a.get("sigma_phi", 0.0), track_b.get("sigma_phi", 0.0)
    tolerance = touching_significance * np.sqrt(np.asarray(track_a["sigma_d0"]) ** 2 + np.asarray(track_b["sigma_d0"]) ** 2
                                                + r**2 * (np.asarray(sigma_phi_a) ** 2 + np.asarray(sigma_phi_b) ** 2))
    x, y, psi = pair_vertex(circles[0], circles[1], track_a["charge"], track_b["charge"], touching_mm=tolerance)
    momenta = []
    for circle, t, pt in zip(circles, (track_a, track_b), pts):
        px, py = momentum_at(x, y, circle, t["charge"], pt)
        momenta.append(np.stack(np.broadcast_arrays(px, py, np.asarray(t["p"], dtype=float) * np.cos(t["theta"])),
                                axis=-1))
    return x, y, psi, momenta[0], momenta[1]


def momentum_at(x_mm, y_mm, circle, charge, pt_gev):
    """The transverse momentum (px, py) in GeV of a track on ``circle`` (:func:`track_circle`) at the
    point of it nearest (x, y): p_T along -q z x (X - C) / R."""
    cx, cy, _ = (np.asarray(v, dtype=float) for v in circle)
    rx, ry = np.asarray(x_mm, dtype=float) - cx, np.asarray(y_mm, dtype=float) - cy
    norm = np.maximum(np.hypot(rx, ry), 1e-12)
    q = np.sign(np.asarray(charge, dtype=float))
    # -q z x r = -q (-r_y, r_x)
    return np.asarray(pt_gev) * q * ry / norm, -np.asarray(pt_gev) * q * rx / norm
