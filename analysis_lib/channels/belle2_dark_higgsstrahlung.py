"""Belle II: dark Higgsstrahlung e+e- -> A' h', A' -> mu+ mu-, h' invisible, arXiv:2207.00509.

What this search declares: its signal on a grid of (M_A', M_h'), the shared backgrounds and
preselection of the two-muon plus missing-energy final state (:mod:`analysis_lib.reco.dimuon`,
:mod:`analysis_lib.simulation.dimuon`), and a counting experiment in two-dimensional windows of the
dimuon mass and the recoil mass.

The flow (modelled on the paper, whose selection details are not all public):

1. the shared preselection (two muons, no extra photon, recoil into the barrel calorimeter, dimuon
   transverse momentum above the resolution);
2. at every mass hypothesis (M_A', M_h'), a window of +-2 resolutions in the dimuon mass and in
   the recoil mass M_recoil = sign(M^2) sqrt(|M^2|), the resolutions and the signal efficiency
   interpolated between the simulated grid points;
3. the background in the window from a smooth density fitted to the simulation (P-splines,
   :func:`analysis_lib.analysis.counting.smooth_backgrounds`, with the fit's uncertainty), its
   normalisation measured in a sideband of the dimuon mass beside the window (2 to 6 resolutions on
   either side) together with its prior from simulation;
4. a 90% credibility upper limit with a uniform prior in the signal and the nuisance parameters
   marginalised (as the paper), on sigma(e+e- -> A' h') x B(A' -> mu mu) and on eps^2 alpha_D.

Pseudo-data: the simulated backgrounds are split in two halves; one makes the prediction, the other
the model of the truth (the same smooth fit), from which the data are one Poisson draw on the cells
of (dimuon mass, recoil mass). Real data are read from ``data.root``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np
import pandas as pd
from scipy.interpolate import RegularGridInterpolator

from ..analysis.counting import (
    BayesianCounting,
    CountingInputs,
    CountingWindow,
    ScaledWindows,
    Sideband,
    smooth_backgrounds,
    smoothed_once,
    summed_area,
)
from ..analysis.samples import draw_pseudo_data, ntuple_paths, work_dir
from ..analysis.scan import scan_limits
from ..analysis.sensitivity import sensitivity
from ..analysis.signal_shape import peak_summary
from ..core.errors import EmptySelectionError, KinematicError, ParameterError
from ..core.parameters import LUMINOSITY_SCAN, SEED, Parameter, mass_range
from ..detector.datasets import Dataset, dataset, dataset_parameter
from ..io.ntuple import read_meta
from ..io.published import PublishedInterval
from ..physics.dark_photon import branching_fraction_mumu, sigma_dark_higgsstrahlung_pb
from ..reco.dimuon import TRIGGER_EFFICIENCY, preselect, skim
from ..reco.selection import cut_flow_table, require_events
from ..simulation.dimuon import background_specs, generate_dark_higgsstrahlung
from ..simulation.production import ProductionConfig, SampleSpec
from ..stats.pspline import Basis
from .base import Channel, Overview, points_in_range, register

__all__ = [
    "CL", "PARAMETERS", "PUBLISHED_RANGES", "DarkHiggsstrahlung", "HiggsstrahlungInputs", "analyse",
    "efficiency_table", "physics_table", "prepare", "sample_specs", "window",
]

log = logging.getLogger(__name__)

NAME = "belle2_dark_higgsstrahlung"
_SOURCE = ("Belle II, Phys. Rev. Lett. 130 (2023) 071804, arXiv:2207.00509, abstract: 90% Bayesian credibility "
           "limits for 4.0 < M_A' < 9.7 GeV and M_h' < M_A'")
#: No digitised curve of this search is available: the ranges of its limits are drawn instead.
PUBLISHED_RANGES = {
    "sigma_x_br": PublishedInterval(quantity="sigma_ahprime_x_br_mumu", unit="fb", cl=0.90, low=1.7, high=5.0,
                                    mass_range_gev=(4.0, 9.7), source=_SOURCE,
                                    label="Belle II 2022, observed: range 1.7-5.0 fb (arXiv:2207.00509)"),
    "eps2_alpha_d": PublishedInterval(quantity="eps2_alpha_d", unit="", cl=0.90, low=1.7e-8, high=2.0e-6,
                                      mass_range_gev=(4.0, 9.7), source=_SOURCE,
                                      label="Belle II 2022, observed: range 1.7e-8 to 2.0e-6 (arXiv:2207.00509)"),
}

#: Confidence (credibility) level of the paper's limits.
CL = 0.90
#: Simulated A' masses (GeV) and, for each, h' masses as fractions of the largest one allowed
#: (:func:`max_mass_h`); efficiencies and resolutions are interpolated in (M_A', fraction).
SIGNAL_MASSES_A_GEV = (4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.7)
SIGNAL_FRACTIONS_H = (0.02, 0.25, 0.5, 0.75, 0.95)
#: The h' mass stays this far below the kinematic limit sqrt(s) - M_A' (GeV): at the limit the
#: muons carry all the energy and the recoil system is at rest.
H_MARGIN_GEV = 0.25
#: Relative uncertainty of the signal (luminosity, tracking, muon identification, trigger).
SIGNAL_SYSTEMATIC = 0.05
#: Binning of the background maps: dimuon mass and recoil mass (GeV).
MASS_EDGES = np.linspace(2.0, 10.6, 1721)
RECOIL_EDGES = np.linspace(-2.0, 10.6, 631)
#: The smooth background densities: cubic B-splines on segments of 0.36 GeV in the dimuon mass and
#: 0.63 GeV in the recoil mass (the backgrounds are continua, with no structure as narrow as the
#: resolutions).
SEGMENTS = (24, 20)
#: The fits are made on cells that join 5 x 3 cells of the maps (25 by 60 MeV).
JOIN = (5, 3)
#: The sideband of a window: 2 to 6 dimuon-mass resolutions on either side of M_A', the same recoil
#: window.
SIDEBAND_SIGMA = (2.0, 6.0)


def max_mass_h(mass_a_gev, sqrt_s_gev):
    """The largest h' mass of the search at M_A': below M_A' (the paper's range) and
    :data:`H_MARGIN_GEV` below the kinematic limit sqrt(s) - M_A'."""
    return np.minimum(np.asarray(mass_a_gev, dtype=float), sqrt_s_gev - np.asarray(mass_a_gev, dtype=float)
                      - H_MARGIN_GEV)


PARAMETERS = (
    dataset_parameter("belle2_2019", "belle2"),
    SEED,
    LUMINOSITY_SCAN,
    *mass_range("A'", (4.0, 9.7), prefix="mass_a", bounds=(SIGNAL_MASSES_A_GEV[0], SIGNAL_MASSES_A_GEV[-1])),
    Parameter("mass_step_sigma", float, 2.0, "A' mass step in units of the dimuon-mass resolution", minimum=0.5,
              maximum=20),
    Parameter("mass_h_step_gev", float, 0.5, "h' mass step of the scan, GeV", minimum=0.05, maximum=5),
    Parameter("n_signal_events", int, 5_000, "simulated events per signal point", minimum=500, maximum=10_000_000),
    Parameter("max_mc_events", int, 2_000_000, "largest simulated background sample", minimum=10_000,
              maximum=100_000_000),
    Parameter("window_sigma", float, 2.0, "half width of the 2D window in resolutions", minimum=0.5, maximum=5),
)


# ---------------------------------------------------------------------------------------------
# samples


def signal_points(sqrt_s_gev):
    """The simulated (M_A', M_h') grid: every A' mass with the h' fractions of :data:`SIGNAL_FRACTIONS_H`."""
    return [(m_a, float(f * max_mass_h(m_a, sqrt_s_gev))) for m_a in SIGNAL_MASSES_A_GEV for f in SIGNAL_FRACTIONS_H]


def sample_specs(ds: Dataset, *, n_signal_events: int):
    """Signal at every grid point (cross section times B(A' -> mu mu) for eps^2 alpha_D = 1) and the
    backgrounds of :func:`analysis_lib.simulation.dimuon.background_specs`."""
    beams = ds.experiment.beams
    specs = []
    for m_a, m_h in signal_points(beams.sqrt_s_gev):
        sigma = float(sigma_dark_higgsstrahlung_pb(m_a, m_h, beams.sqrt_s_gev) * branching_fraction_mumu(m_a))
        specs.append(SampleSpec(
            name=f"signal_ma{m_a:.3f}_mh{m_h:.3f}", label=f"A′ {m_a:g}, h′ {m_h:.2f} GeV", kind="signal",
            sigma_pb=sigma,
            generate=partial(generate_dark_higgsstrahlung, beams=beams, mass_a_gev=m_a, mass_h_gev=m_h, sigma_pb=sigma),
            config={"process": "A' h'", "mass_a_gev": m_a, "mass_h_gev": m_h}, n_events=n_signal_events, tracks=True,
        ))
    return specs + background_specs(beams)


def production_config(max_mc_events: int) -> ProductionConfig:
    """Sample sizes: backgrounds sized for the reference luminosity up to ``max_mc_events``, with the
    shared two-track skim (the invisible Z' channel reads the same background samples); pseudo-data
    are drawn from the expected counts, never simulated event by event."""
    return ProductionConfig(skim=skim, n_max=max_mc_events)


# ---------------------------------------------------------------------------------------------
# inputs


def _recoil_mass(m2):
    return np.sign(m2) * np.sqrt(np.abs(m2))


@dataclass(frozen=True)
class HiggsstrahlungInputs(CountingInputs):
    """Everything the limits of one run need, made once by :func:`prepare`.

    The shared counting inputs (background maps, their squared weights and simulated events,
    smoothed alike, and the data) on cells of (:data:`MASS_EDGES`, :data:`RECOIL_EDGES`), with their
    summed-area tables for fast window sums; the signal on the simulated grid (A' masses x h'
    fractions): the efficiency in its own 2D window and the two resolutions.
    """

    fits: dict  # background name -> SmoothCounts of the prediction half on (dimuon mass, recoil mass)
    grid_a: np.ndarray
    grid_f: np.ndarray
    efficiency: np.ndarray  # (A', fraction)
    sigma_mass: np.ndarray  # dimuon-mass resolution (GeV)
    sigma_recoil: np.ndarray  # recoil-mass resolution (GeV)
    window_sigma: float

    @cached_property
    def cumulative(self) -> dict:
        """Summed-area tables (:func:`~analysis_lib.analysis.counting.summed_area`) of the simulated
        background events and of the data (the prediction's sums come from its smooth fits)."""
        return {"raw": summed_area(self.background_raw), "data": summed_area(self.data)}

    def interpolate(self, values, mass_a_gev, mass_h_gev):
        """A per-grid-point quantity at (M_A', M_h'), bilinear in (M_A', M_h' / max M_h')."""
        fraction = mass_h_gev / max_mass_h(mass_a_gev, self.dataset.experiment.sqrt_s_gev)
        point = np.clip([mass_a_gev, fraction], [self.grid_a[0], self.grid_f[0]], [self.grid_a[-1], self.grid_f[-1]])
        return float(RegularGridInterpolator((self.grid_a, self.grid_f), values)(point)[0])


def _map(candidates, weights):
    """Weighted candidates on the cells of (dimuon mass, recoil mass)."""
    h, _, _ = np.histogram2d(candidates.mass, _recoil_mass(candidates.recoil_mass2), bins=(MASS_EDGES, RECOIL_EDGES),
                             weights=weights)
    return h


def _bases():
    """The spline bases of the smooth background densities at the cell centres of the two axes."""
    x = 0.5 * (MASS_EDGES[1:] + MASS_EDGES[:-1])
    y = 0.5 * (RECOIL_EDGES[1:] + RECOIL_EDGES[:-1])
    return (Basis.at(x, MASS_EDGES[0], MASS_EDGES[-1], SEGMENTS[0]),
            Basis.at(y, RECOIL_EDGES[0], RECOIL_EDGES[-1], SEGMENTS[1]))


def _physical(sqrt_s_gev):
    """1 for the cells of (dimuon mass, recoil mass) inside the kinematic limit, recoil mass <=
    sqrt(s) - dimuon mass (the recoil system's energy is what the muons leave), 0 beyond: the
    backgrounds pile up against the limit and stop there, an edge no smooth density crosses."""
    x = 0.5 * (MASS_EDGES[1:] + MASS_EDGES[:-1])
    y = 0.5 * (RECOIL_EDGES[1:] + RECOIL_EDGES[:-1])
    return (y[None, :] <= sqrt_s_gev - x[:, None]).astype(float)


def prepare(dataset_name: str, *, seed: int, n_signal_events: int, max_mc_events: int, window_sigma: float = 2.0,
            progress=True, specs=None) -> HiggsstrahlungInputs:
    """Simulate (or reuse) the ntuples, preselect, and build the signal grid and background maps."""
    ds = dataset(dataset_name)
    specs = sample_specs(ds, n_signal_events=n_signal_events) if specs is None else specs
    paths = ntuple_paths(specs, ds, seed=seed, config=production_config(max_mc_events), progress=progress)
    sqrt_s = ds.experiment.sqrt_s_gev
    grid_a, grid_f = np.array(SIGNAL_MASSES_A_GEV), np.array(SIGNAL_FRACTIONS_H)
    efficiency = np.zeros((grid_a.size, grid_f.size))
    sigma_mass, sigma_recoil = np.zeros_like(efficiency), np.zeros_like(efficiency)
    flows, background = {}, {}
    for spec in specs:
        c, flows[spec.label] = preselect(paths[spec.name], ds, simulated=True,
                                         generated_events=spec.cross_section_pb() * ds.luminosity_pb,
                                         cache_dir=work_dir(ds, seed))
        recoil = _recoil_mass(c.recoil_mass2)
        if spec.kind == "signal":
            m_a, m_h = spec.config["mass_a_gev"], spec.config["mass_h_gev"]
            i = int(np.argmin(np.abs(grid_a - m_a)))
            j = int(np.argmin(np.abs(grid_f * max_mass_h(m_a, sqrt_s) - m_h)))
            if len(c) < 20:
                raise EmptySelectionError(
                    f"only {len(c)} simulated signal events at M_A' = {m_a}, M_h' = {m_h:.2f} GeV pass the preselection; "
                    "raise n_signal_events"
                )
            sigma_mass[i, j], sigma_recoil[i, j] = peak_summary(c.mass)[1], peak_summary(recoil)[1]
            inside = ((np.abs(c.mass - m_a) < window_sigma * sigma_mass[i, j])
                      & (np.abs(recoil - m_h) < window_sigma * sigma_recoil[i, j]))
            n_generated = read_meta(paths[spec.name]).get("n_generated", n_signal_events)
            efficiency[i, j] = TRIGGER_EFFICIENCY * inside.sum() / n_generated
            continue
        background[spec.name] = (c, c.weight)
    # the simulated backgrounds in two halves, each standing for the whole sample: the prediction
    # (smooth fits) and the model of the truth the pseudo-data are drawn from (the same fits)
    x, y = _bases()
    halves = []
    for which in (0, 1):
        sums = {}
        for name, (c, weights) in background.items():
            w = np.where(np.arange(len(weights)) % 2 == which, 2.0 * weights, 0.0)
            sums[name] = (_map(c, w), _map(c, w**2))
        halves.append(sums)
    physical = _physical(sqrt_s)
    # fitted once for every luminosity of the experiment (the fits scale with it)
    smooth = partial(smooth_backgrounds, x=x, y=y, exposure=physical, join=JOIN)
    shared = {"luminosity_pb": ds.luminosity_pb, "folder": work_dir(ds, seed),
              "key": (x.dense, y.dense, physical, list(JOIN))}
    fits = smoothed_once(smooth, halves[0], name="higgsstrahlung_smooth_prediction", **shared)
    maps = {name: fit.expected for name, fit in fits.items()}
    raw = sum(_map(c, (np.arange(len(w)) % 2 == 0).astype(float)) for c, w in background.values())
    if "data" not in paths:
        truth = smoothed_once(smooth, halves[1], name="higgsstrahlung_smooth_truth", **shared)
        data = draw_pseudo_data(sum(fit.expected for fit in truth.values()), ds, seed)
        source = "pseudo-data"
    else:
        c, flows["data"] = preselect(paths["data"], ds, simulated=False)
        require_events(np.ones(len(c), dtype=bool) if len(c) else np.zeros(1, bool), what=f"the data of {ds.name}")
        data = _map(c, np.ones(len(c)))
        source = "ntuple"
    return HiggsstrahlungInputs(
        dataset=ds, seed=seed, grid_a=grid_a, grid_f=grid_f, efficiency=efficiency, sigma_mass=sigma_mass,
        sigma_recoil=sigma_recoil, backgrounds={s.name: s.label for s in specs if s.kind == "background"},
        background_maps=maps, background_raw=raw, data=data, fits=fits,
        data_source=source, cut_flow=cut_flow_table(flows), window_sigma=window_sigma,
    )


# ---------------------------------------------------------------------------------------------
# windows and limits


def _box(cumulative, i0, i1, j0, j1):
    return cumulative[i1, j1] - cumulative[i0, j1] - cumulative[i1, j0] + cumulative[i0, j0]


def window(inputs: HiggsstrahlungInputs, point) -> CountingWindow:
    """The window at ``point`` = (M_A', M_h'): +-``window_sigma`` interpolated resolutions in both
    masses, the smooth background prediction in it, and the :class:`Sideband` in the dimuon mass
    (:data:`SIDEBAND_SIGMA` resolutions, the same recoil window) that measures its normalisation,
    with the uncertainty of the window-to-sideband ratio from the fits' covariances."""
    mass_a_gev, mass_h_gev = (float(x) for x in point)
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    if not (inputs.grid_a[0] <= mass_a_gev <= inputs.grid_a[-1]) or not 0 <= mass_h_gev <= max_mass_h(mass_a_gev, sqrt_s):
        raise KinematicError(
            f"(M_A', M_h') = ({mass_a_gev}, {mass_h_gev}) GeV is outside the search's range: "
            f"{inputs.grid_a[0]} <= M_A' <= {inputs.grid_a[-1]} GeV and 0 <= M_h' <= {float(max_mass_h(mass_a_gev, sqrt_s)):.3f} GeV"
        )
    k = inputs.window_sigma
    sigma_m = inputs.interpolate(inputs.sigma_mass, mass_a_gev, mass_h_gev)
    dr = k * inputs.interpolate(inputs.sigma_recoil, mass_a_gev, mass_h_gev)
    inner, outer = max(SIDEBAND_SIGMA[0], k), max(SIDEBAND_SIGMA[1], k + 2 * SIDEBAND_SIGMA[0])
    last = len(MASS_EDGES) - 1
    i0, i1, b0, b1, a0, a1 = (int(np.clip(v, 0, last)) for v in np.searchsorted(MASS_EDGES, [
        mass_a_gev - k * sigma_m, mass_a_gev + k * sigma_m, mass_a_gev - outer * sigma_m,
        mass_a_gev - inner * sigma_m, mass_a_gev + inner * sigma_m, mass_a_gev + outer * sigma_m]))
    j0, j1 = (int(v) for v in np.searchsorted(RECOIL_EDGES, [mass_h_gev - dr, mass_h_gev + dr]))
    i1, j1 = max(i1, i0 + 1), min(max(j1, j0 + 1), len(RECOIL_EDGES) - 1)
    boxes = [(i0, i1), (b0, b1), (a0, a1)]
    background = side = 0.0
    pieces = []
    for fit in inputs.fits.values():
        g = fit.gradients([b[0] for b in boxes], [b[1] for b in boxes], [j0] * 3, [j1] * 3)
        sums = [fit.expected[lo:hi, j0:j1].sum() for lo, hi in boxes]
        background += sums[0]
        side += sums[1] + sums[2]
        pieces.append((fit, g[0], g[1] + g[2]))
    variance = 0.0
    for fit, g_window, g_side in pieces:
        g = g_window / max(background, 1e-300) - g_side / max(side, 1e-300)
        variance += float(g @ fit.covariance @ g)
    shape = np.sqrt(variance)
    eff = inputs.interpolate(inputs.efficiency, mass_a_gev, mass_h_gev)
    sigma = float(sigma_dark_higgsstrahlung_pb(mass_a_gev, mass_h_gev, sqrt_s) * branching_fraction_mumu(mass_a_gev))
    signal = inputs.dataset.luminosity_pb * sigma * eff
    data = inputs.cumulative["data"]
    # the signal's tails in the sideband: its Gaussian share between the sideband's edges
    from scipy.stats import norm

    tails = 2 * (norm.cdf(outer) - norm.cdf(inner)) / (2 * norm.cdf(k) - 1)
    sideband = Sideband(
        ranges={"mass": [(MASS_EDGES[b0], MASS_EDGES[b1]), (MASS_EDGES[a0], MASS_EDGES[a1])],
                "recoil_mass": [(RECOIL_EDGES[j0], RECOIL_EDGES[j1])]},
        background=float(side), signal_per_unit=float(signal * tails),
        counts=float(sum(_box(data, lo, hi, j0, j1) for lo, hi in boxes[1:])), shape_uncertainty=np.atleast_1d(shape))
    return CountingWindow(
        mass_gev=mass_a_gev, mass2_gev=mass_h_gev,
        ranges={"mass": (MASS_EDGES[i0], MASS_EDGES[i1]), "recoil_mass": (RECOIL_EDGES[j0], RECOIL_EDGES[j1])},
        efficiency=np.atleast_1d(eff), signal_per_unit=np.atleast_1d(signal),
        background=np.atleast_1d(background), background_uncertainty=np.atleast_1d(background * shape),
        simulated_background=float(_box(inputs.cumulative["raw"], i0, i1, j0, j1)),
        counts=np.atleast_1d(float(_box(data, i0, i1, j0, j1))), sideband=sideband,
    )


def scan_points(inputs: HiggsstrahlungInputs, *, mass_a_min_gev, mass_a_max_gev, mass_step_sigma, mass_h_step_gev):
    """The (M_A', M_h') hypotheses: h' masses from the smallest simulated one in steps of
    ``mass_h_step_gev``; at each, A' masses in steps of ``mass_step_sigma`` dimuon-mass resolutions
    wherever M_h' is allowed."""
    if mass_a_min_gev >= mass_a_max_gev:
        raise ParameterError(f"mass_a_min_gev={mass_a_min_gev} must be below mass_a_max_gev={mass_a_max_gev}")
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    h_values = np.arange(0.1, float(max_mass_h(SIGNAL_MASSES_A_GEV[1], sqrt_s)), mass_h_step_gev)
    points = []
    for m_h in h_values:
        m_a = mass_a_min_gev
        while m_a <= mass_a_max_gev:
            if m_h <= max_mass_h(m_a, sqrt_s):
                points.append((m_a, m_h))
            m_a += mass_step_sigma * inputs.interpolate(inputs.sigma_mass, m_a, min(m_h, max_mass_h(m_a, sqrt_s)))
    return np.array(points)


def analyse(inputs: HiggsstrahlungInputs, *, mass_a_min_gev, mass_a_max_gev, mass_step_sigma, mass_h_step_gev,
            progress=True, client=None):
    """Limits on eps^2 alpha_D and on sigma(e+e- -> A' h') x B(A' -> mu mu) (fb) on the (M_A', M_h')
    grid of :func:`scan_points`: 90% credibility limits of the counting windows (uniform prior in the
    signal rate, background and signal uncertainties marginalised, as the paper)."""
    points = scan_points(inputs, mass_a_min_gev=mass_a_min_gev, mass_a_max_gev=mass_a_max_gev,
                         mass_step_sigma=mass_step_sigma, mass_h_step_gev=mass_h_step_gev)
    calculator = BayesianCounting(partial(window, inputs), CL, signal_uncertainty=SIGNAL_SYSTEMATIC)
    eps2 = scan_limits(points, calculator, quantity="eps2_alpha_d", unit="", cl=CL, mass_name="M_A'",
                       mass2_name="M_h'", progress=progress, client=client, workspaces=True)
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    sigma = eps2.transform(lambda a, h, v: 1e3 * v * sigma_dark_higgsstrahlung_pb(a, h, sqrt_s)
                           * branching_fraction_mumu(a), quantity="sigma_ahprime_x_br_mumu", unit="fb")
    return {"eps2_alpha_d": eps2, "sigma_x_br": sigma}


def luminosity_scan(inputs: HiggsstrahlungInputs, points, *, client=None):
    """Expected limits on eps^2 alpha_D at ``points`` (M_A', M_h') from 0.1 fb^-1 to 50 ab^-1: the
    run's windows (:func:`window`) at scaled luminosities (:class:`~analysis_lib.analysis.counting.ScaledWindows`)."""
    def calculator_at(scale, systematics):
        return BayesianCounting(ScaledWindows(partial(window, inputs), scale, systematics), CL,
                                signal_uncertainty=SIGNAL_SYSTEMATIC)

    return sensitivity(calculator_at, np.asarray(points, dtype=float), reference_fb=inputs.dataset.luminosity_fb,
                       quantity="eps2_alpha_d", unit="", cl=CL, mass_name="M_A'", mass2_name="M_h'", client=client)


# ---------------------------------------------------------------------------------------------
# tables


def physics_table(points, sqrt_s_gev):
    """Cross section for eps^2 alpha_D = 1, B(A' -> mu mu) and their product at a few points."""
    rows = []
    for m_a, m_h in points:
        sigma = float(sigma_dark_higgsstrahlung_pb(m_a, m_h, sqrt_s_gev))
        br = float(branching_fraction_mumu(m_a))
        rows.append({"M_A' [GeV]": m_a, "M_h' [GeV]": m_h, "sigma(eps^2 alpha_D = 1) [pb]": sigma,
                     "B(A' -> mu mu)": br, "sigma x B at eps^2 alpha_D = 1e-7 [fb]": sigma * br * 1e-7 * 1e3})
    return pd.DataFrame(rows)


def efficiency_table(inputs: HiggsstrahlungInputs):
    """Efficiency in the window and the two resolutions at every simulated point."""
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    rows = []
    for i, m_a in enumerate(inputs.grid_a):
        for j, f in enumerate(inputs.grid_f):
            rows.append({"M_A' [GeV]": m_a, "M_h' [GeV]": f * float(max_mass_h(m_a, sqrt_s)),
                         "efficiency": inputs.efficiency[i, j], "sigma(M_mumu) [MeV]": 1e3 * inputs.sigma_mass[i, j],
                         "sigma(M_recoil) [MeV]": 1e3 * inputs.sigma_recoil[i, j]})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# the channel


@register
class DarkHiggsstrahlung(Channel):
    """Belle II e+e- -> A' h', A' -> mu+ mu-, h' invisible: counting in 2D windows, Bayesian limits."""

    name = NAME
    title = "Belle II: e+e- → A′h′, A′ → μ+μ-, h′ invisible"
    notebook = "belle2_dark_higgsstrahlung.ipynb"
    cl = CL
    parameters = PARAMETERS
    sample_specs = staticmethod(sample_specs)
    published_ranges = PUBLISHED_RANGES
    paper = "Belle II, Phys. Rev. Lett. 130 (2023) 071804, arXiv:2207.00509"
    overview = (Overview("eps2_alpha_d", published="eps2_alpha_d", mass2_gev=1.0, label=r"$e^+e^-\to A'h'$"),
                # epsilon at alpha_D = 0.5, beside the darkonium chapter's
                Overview("eps2_alpha_d", kind="eps_alpha_d_0p5", factor=2.0, power=0.5, mass2_gev=1.0, logx=True,
                         label=r"$e^+e^-\to A'h'$"))

    physics_table = staticmethod(physics_table)
    efficiency_table = staticmethod(efficiency_table)
    window = staticmethod(window)
    mass_edges = MASS_EDGES
    recoil_edges = RECOIL_EDGES
    signal_uncertainty = SIGNAL_SYSTEMATIC
    sensitivity_points = ((5.0, 1.0), (7.0, 2.0), (9.0, 0.5))

    def luminosity_scan(self, inputs, params, *, client=None):
        points = points_in_range(self.sensitivity_points, params["mass_a_min_gev"], params["mass_a_max_gev"])
        sqrt_s = inputs.dataset.experiment.sqrt_s_gev
        points = [(a, min(h, 0.5 * float(max_mass_h(a, sqrt_s)))) for a, h in points]
        return luminosity_scan(inputs, points, client=client)

    def production(self, params):
        return production_config(params["max_mc_events"])

    def prepare(self, params, *, progress=True):
        return prepare(params["dataset"], seed=params["seed"], n_signal_events=params["n_signal_events"],
                       max_mc_events=params["max_mc_events"], window_sigma=params["window_sigma"], progress=progress,
                       specs=self.samples(params))

    def analyse(self, inputs, params, *, progress=True, client=None):
        return analyse(inputs, mass_a_min_gev=params["mass_a_min_gev"], mass_a_max_gev=params["mass_a_max_gev"],
                       mass_step_sigma=params["mass_step_sigma"], mass_h_step_gev=params["mass_h_step_gev"],
                       progress=progress, client=client)
