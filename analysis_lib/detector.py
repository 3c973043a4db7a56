"""Detector models: beams, calorimeter, tracker and beam background of each experiment.

A model is data (frozen dataclasses); :mod:`analysis_lib.simulation.response` applies it to
generated particles. Numbers are taken from the detector papers cited at each constant. Belle II is
complete here; BaBar and Belle are added as further instances of the same classes by the chapters
that need them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError

__all__ = ["BELLE2", "Beams", "Calorimeter", "Experiment", "Tracker", "BeamBackground", "experiment"]


@dataclass(frozen=True)
class Beams:
    """Beam energies (GeV) and the full horizontal crossing angle (mrad) of a collider.

    The electron beam runs along +z (tilted by half the crossing angle in x), the positron beam
    along -z (tilted the same way), as in the Belle II coordinate convention.
    """

    e_minus_gev: float
    e_plus_gev: float
    crossing_angle_mrad: float = 0.0

    def four_momenta(self):
        """Lab four-momenta (E, px, py, pz) of the electron and the positron beam (massless)."""
        half = self.crossing_angle_mrad * 1e-3 / 2
        e_minus = self.e_minus_gev * np.array([1.0, np.sin(half), 0.0, np.cos(half)])
        e_plus = self.e_plus_gev * np.array([1.0, np.sin(half), 0.0, -np.cos(half)])
        return e_minus, e_plus

    @property
    def sqrt_s_gev(self) -> float:
        """Centre-of-mass energy in GeV."""
        total = np.sum(self.four_momenta(), axis=0)
        return float(np.sqrt(total[0] ** 2 - np.sum(total[1:] ** 2)))

    @property
    def beta(self) -> np.ndarray:
        """Velocity of the centre-of-mass frame in the lab."""
        total = np.sum(self.four_momenta(), axis=0)
        return total[1:] / total[0]

    @property
    def beta_gamma(self) -> float:
        """|beta| gamma of the centre-of-mass frame."""
        b = np.linalg.norm(self.beta)
        return float(b / np.sqrt(1 - b**2))


@dataclass(frozen=True)
class Calorimeter:
    """Electromagnetic calorimeter: geometry, acceptance, resolution and cluster separation.

    Energy resolution sigma_E / E = (a / E) (+) (b / E^(1/4)) (+) c (added in quadrature, E in GeV),
    position resolution sigma_x = p0 + p1 / sqrt(E) + p2 / E^(1/4) in mm (the forms of the Belle
    CsI(Tl) calorimeter, Ikeda et al., Nucl. Instrum. Meth. A 441 (2000) 401).
    """

    #: polar-angle ranges (degrees, lab) covered by crystals; gaps between them see nothing
    regions_deg: tuple[tuple[float, float], ...]
    barrel_radius_mm: float
    forward_z_mm: float
    backward_z_mm: float
    noise_term: float
    stochastic_term: float
    constant_term: float
    position_terms_mm: tuple[float, float, float]
    #: two showers closer than this at the calorimeter form one cluster
    min_separation_mm: float
    #: clusters below this energy are not reconstructed
    threshold_gev: float
    #: reconstruction efficiency of a photon inside the acceptance
    efficiency: float

    def energy_resolution(self, energy_gev):
        """Absolute energy resolution sigma_E in GeV."""
        e = np.maximum(np.asarray(energy_gev, dtype=float), 1e-6)
        rel = np.sqrt(
            (self.noise_term / e) ** 2 + (self.stochastic_term / e**0.25) ** 2 + self.constant_term**2
        )
        return rel * e

    def position_resolution_mm(self, energy_gev):
        """Position resolution of a shower at the calorimeter face in mm."""
        e = np.maximum(np.asarray(energy_gev, dtype=float), 1e-6)
        p0, p1, p2 = self.position_terms_mm
        return p0 + p1 / np.sqrt(e) + p2 / e**0.25

    def in_acceptance(self, theta_rad):
        """True where the polar angle (lab, radians) falls on crystals."""
        deg = np.degrees(theta_rad)
        inside = np.zeros(np.shape(deg), dtype=bool)
        for low, high in self.regions_deg:
            inside |= (deg >= low) & (deg <= high)
        return inside


@dataclass(frozen=True)
class Tracker:
    """Tracking acceptance: a charged particle inside the polar range and above the p_T threshold
    leaves a track with the given efficiency; sigma_pT / pT = a pT (+) b / beta."""

    theta_min_deg: float
    theta_max_deg: float
    pt_min_gev: float
    efficiency: float
    resolution_pt_term: float
    resolution_beta_term: float


@dataclass(frozen=True)
class BeamBackground:
    """Extra photon clusters from beam-induced background, overlaid on every event.

    The number above ``threshold_gev`` is Poisson with mean ``mean_clusters``; their energy above
    threshold is exponential with mean ``mean_energy_gev``; their lab polar angle is uniform in
    cos(theta) over the calorimeter acceptance. A model, not a measurement (see the chapter).
    """

    mean_clusters: float
    threshold_gev: float
    mean_energy_gev: float


@dataclass(frozen=True)
class Experiment:
    """One experiment: its name for labels, beams and detector."""

    name: str
    label: str
    beams: Beams
    calorimeter: Calorimeter
    tracker: Tracker
    beam_background: BeamBackground

    @property
    def sqrt_s_gev(self) -> float:
        return self.beams.sqrt_s_gev


#: Belle II at SuperKEKB. Beams 7.007 x 4.000 GeV (sqrt(s) = 10.58 GeV) with an 83 mrad crossing angle (Belle II Technical
#: Design Report, T. Abe et al., arXiv:1011.0352). ECL: CsI(Tl) barrel at r = 1.25 m and endcaps at
#: z = +1.96 m and -1.02 m (TDR); crystal coverage 12.4-31.4, 32.2-128.7, 130.7-155.1 degrees
#: (the basf2 ECLCluster regions); energy resolution in the Belle form with the noise and constant
#: terms set so that sigma_E/E = 4% at 0.1 GeV and 1.6% at 8 GeV as quoted for Belle II (TDR);
#: position resolution of Belle (Ikeda et al.). Two showers are resolved when their centres are at
#: least two crystal faces (2 x 5.5 cm) apart, a model of the local-maximum splitting of the
#: clustering. CDC acceptance 17-150 degrees (TDR).
BELLE2 = Experiment(
    name="belle2",
    label="Belle II",
    beams=Beams(e_minus_gev=7.007, e_plus_gev=4.0, crossing_angle_mrad=83.0),
    calorimeter=Calorimeter(
        regions_deg=((12.4, 31.4), (32.2, 128.7), (130.7, 155.1)),
        barrel_radius_mm=1250.0,
        forward_z_mm=1960.0,
        backward_z_mm=-1020.0,
        noise_term=0.0034,
        stochastic_term=0.0081,
        constant_term=0.0153,
        position_terms_mm=(0.27, 3.4, 1.8),
        min_separation_mm=110.0,
        threshold_gev=0.05,
        efficiency=0.98,
    ),
    tracker=Tracker(
        theta_min_deg=17.0,
        theta_max_deg=150.0,
        pt_min_gev=0.1,
        efficiency=0.99,
        resolution_pt_term=0.0011,
        resolution_beta_term=0.0025,
    ),
    beam_background=BeamBackground(mean_clusters=0.05, threshold_gev=0.1, mean_energy_gev=0.08),
)

_EXPERIMENTS = {BELLE2.name: BELLE2}


def experiment(name: str) -> Experiment:
    """The detector model registered under ``name``.

    Examples
    --------
    >>> experiment("belle2").label
    'Belle II'
    """
    try:
        return _EXPERIMENTS[name]
    except KeyError:
        raise ParameterError(
            f"unknown experiment {name!r}; known experiments: {sorted(_EXPERIMENTS)}"
        ) from None
