"""Belle II: dark Higgsstrahlung e+e- -> A' h', A' -> mu+ mu-, h' invisible, arXiv:2207.00509.

What this search declares: its signal on a grid of (M_A', M_h'), the shared backgrounds and
preselection of the two-muon plus missing-energy final state (:mod:`analysis_lib.dimuon`,
:mod:`analysis_lib.simulation.dimuon`), and a counting experiment in two-dimensional windows of the
dimuon mass and the recoil mass.

The flow (modelled on the paper, whose selection details are not all public):

1. the shared preselection (two muons, no extra photon, recoil into the barrel calorimeter, dimuon
   transverse momentum above the resolution);
2. at every mass hypothesis (M_A', M_h'), a window of +-2 resolutions in the dimuon mass and in
   the recoil mass M_recoil = sign(M^2) sqrt(|M^2|), the resolutions and the signal efficiency
   interpolated between the simulated grid points;
3. the background in the window from the simulation (smoothed, with its statistical and a
   systematic uncertainty), the pseudo-data one Poisson draw of it;
4. a 90% credibility upper limit with a uniform prior in the signal and the nuisance parameters
   marginalised (as the paper), on sigma(e+e- -> A' h') x B(A' -> mu mu) and on eps^2 alpha_D.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd
from scipy.interpolate import RegularGridInterpolator
from scipy.ndimage import gaussian_filter
from scipy.stats import norm, poisson
from tqdm.auto import tqdm

from ..datasets import Dataset, dataset, dataset_names
from ..dimuon import TRIGGER_EFFICIENCY, background_estimate, preselect, skim
from ..errors import EmptySelectionError, KinematicError, ParameterError
from ..ntuple import read_meta
from ..parameters import Parameter
from ..physics.dark_photon import branching_fraction_mumu, sigma_dark_higgsstrahlung_pb
from ..published import PublishedInterval
from ..scan import ScanResult
from ..selection import cut_flow_table, require_events
from ..signal_shape import peak_summary
from ..simulation.dimuon import background_specs, generate_dark_higgsstrahlung
from ..simulation.production import ProductionConfig, SampleSpec, produce, sample_rng
from ..stats.counting import bayesian_upper_limits_one_bin
from ..stats.limits import BANDS

__all__ = [
    "CL", "NAME", "NOTEBOOK", "PARAMETERS", "PUBLISHED_RANGES", "TITLE", "Inputs", "LimitMap", "analyse",
    "efficiency_table", "physics_table", "prepare", "sample_specs", "window",
]

log = logging.getLogger(__name__)

NAME = "belle2_dark_higgsstrahlung"
TITLE = "Belle II: e+e- → A′h′, A′ → μ+μ-, h′ invisible"
NOTEBOOK = "belle2_dark_higgsstrahlung.ipynb"
PUBLISHED = ()
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
#: Relative uncertainties: the simulated background (a model, see the Z' chapter) and the signal
#: (luminosity, tracking, muon identification, trigger).
BACKGROUND_SYSTEMATIC = 0.10
SIGNAL_SYSTEMATIC = 0.05
#: Binning of the background maps: dimuon mass and recoil mass (GeV).
MASS_EDGES = np.linspace(2.0, 10.6, 1721)
RECOIL_EDGES = np.linspace(-2.0, 10.6, 631)
#: Gaussian kernel (bins of each axis: 15 MeV in the dimuon mass, 60 MeV in the recoil mass) that
#: smooths the simulated background maps, narrower than the resolutions.
KERNEL_BINS = (3.0, 3.0)


def max_mass_h(mass_a_gev, sqrt_s_gev):
    """The largest h' mass of the search at M_A': below M_A' (the paper's range) and
    :data:`H_MARGIN_GEV` below the kinematic limit sqrt(s) - M_A'."""
    return np.minimum(np.asarray(mass_a_gev, dtype=float), sqrt_s_gev - np.asarray(mass_a_gev, dtype=float)
                      - H_MARGIN_GEV)


def _mass_range(values):
    return SIGNAL_MASSES_A_GEV[0], SIGNAL_MASSES_A_GEV[-1]


PARAMETERS = (
    Parameter("dataset", str, "belle2_2019", "registered Belle II dataset", choices=partial(dataset_names, "belle2")),
    Parameter("seed", int, 1, "random seed of the simulation and pseudo-data", minimum=0),
    Parameter("mass_a_min_gev", float, 4.0, "lowest A' mass of the scan, GeV", depends=_mass_range),
    Parameter("mass_a_max_gev", float, 9.7, "highest A' mass of the scan, GeV", depends=_mass_range),
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


# ---------------------------------------------------------------------------------------------
# inputs


def _recoil_mass(m2):
    return np.sign(m2) * np.sqrt(np.abs(m2))


@dataclass(frozen=True)
class Inputs:
    """Everything the limits of one run need, made once by :func:`prepare`.

    Signal on the simulated grid (A' masses x h' fractions): the efficiency in its own 2D window
    and the two resolutions. Background and data as maps on (:data:`MASS_EDGES`,
    :data:`RECOIL_EDGES`) with their cumulative sums, for fast window sums.
    """

    dataset: Dataset
    seed: int
    grid_a: np.ndarray
    grid_f: np.ndarray
    efficiency: np.ndarray  # (A', fraction)
    sigma_mass: np.ndarray  # dimuon-mass resolution (GeV)
    sigma_recoil: np.ndarray  # recoil-mass resolution (GeV)
    backgrounds: dict  # sample name -> label
    background_maps: dict  # sample name -> smoothed expected events per cell
    background_cumulative: np.ndarray  # summed-area table of the total expected background
    w2_cumulative: np.ndarray  # of the summed squared weights
    raw_cumulative: np.ndarray  # of the simulated events
    data_cumulative: np.ndarray  # of the data
    data: np.ndarray
    background_unit: float
    data_source: str
    cut_flow: object
    window_sigma: float

    def interpolate(self, values, mass_a_gev, mass_h_gev):
        """A per-grid-point quantity at (M_A', M_h'), bilinear in (M_A', M_h' / max M_h')."""
        fraction = mass_h_gev / max_mass_h(mass_a_gev, self.dataset.experiment.sqrt_s_gev)
        point = np.clip([mass_a_gev, fraction], [self.grid_a[0], self.grid_f[0]], [self.grid_a[-1], self.grid_f[-1]])
        return float(RegularGridInterpolator((self.grid_a, self.grid_f), values)(point)[0])


def _summed_area(values):
    out = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    out[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    return out


def _map(mass, recoil, weights):
    h, _, _ = np.histogram2d(mass, recoil, bins=(MASS_EDGES, RECOIL_EDGES), weights=weights)
    return h


def prepare(dataset_name: str, *, seed: int, n_signal_events: int, max_mc_events: int, window_sigma: float = 2.0,
            progress=True) -> Inputs:
    """Simulate (or reuse) the ntuples, preselect, and build the signal grid and background maps."""
    ds = dataset(dataset_name)
    specs = sample_specs(ds, n_signal_events=n_signal_events)
    bar = tqdm(total=len(specs), desc="samples", disable=not progress)
    if ds.simulated:
        paths = produce(specs, ds, seed=seed, config=ProductionConfig(skim=skim, n_max=max_mc_events), progress=bar)
    else:
        folder = ds.ntuple_dir(seed)
        paths = {**{s.name: folder / f"{s.name}.root" for s in specs}, "data": folder / "data.root"}
    bar.close()
    sqrt_s = ds.experiment.sqrt_s_gev
    grid_a, grid_f = np.array(SIGNAL_MASSES_A_GEV), np.array(SIGNAL_FRACTIONS_H)
    efficiency = np.zeros((grid_a.size, grid_f.size))
    sigma_mass, sigma_recoil = np.zeros_like(efficiency), np.zeros_like(efficiency)
    flows, maps, w2, raw, unit = {}, {}, 0.0, 0.0, 0.0
    for spec in specs:
        c, flows[spec.label] = preselect(paths[spec.name], ds, simulated=True,
                                         generated_events=spec.sigma_pb * ds.luminosity_pb)
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
        # the expectation, its squared weights and the simulated events, smoothed alike
        maps[spec.name] = gaussian_filter(_map(c.mass, recoil, c.weight), KERNEL_BINS, mode="constant")
        w2 = w2 + gaussian_filter(_map(c.mass, recoil, c.weight**2), KERNEL_BINS, mode="constant")
        raw = raw + gaussian_filter(_map(c.mass, recoil, np.ones(len(c))), KERNEL_BINS, mode="constant")
        unit = max(unit, float(c.weight.max(initial=0.0)))
    total = sum(maps.values())
    if ds.simulated:
        data = sample_rng(seed, ds.name, "pseudo-data", 1).poisson(total).astype(float)
        source = "pseudo-data"
    else:
        c, flows["data"] = preselect(paths["data"], ds, simulated=False)
        require_events(np.ones(len(c), dtype=bool) if len(c) else np.zeros(1, bool), what=f"the data of {ds.name}")
        data = _map(c.mass, _recoil_mass(c.recoil_mass2), np.ones(len(c)))
        source = "ntuple"
    return Inputs(
        dataset=ds, seed=seed, grid_a=grid_a, grid_f=grid_f, efficiency=efficiency, sigma_mass=sigma_mass,
        sigma_recoil=sigma_recoil, backgrounds={s.name: s.label for s in specs if s.kind == "background"},
        background_maps=maps, background_cumulative=_summed_area(total), w2_cumulative=_summed_area(w2),
        raw_cumulative=_summed_area(raw), data_cumulative=_summed_area(data), data=data, background_unit=unit,
        data_source=source, cut_flow=cut_flow_table(flows), window_sigma=window_sigma,
    )


# ---------------------------------------------------------------------------------------------
# windows and limits


@dataclass(frozen=True)
class Window:
    """The 2D window of one mass hypothesis and what it holds."""

    mass_a_gev: float
    mass_h_gev: float
    mass_range: tuple
    recoil_range: tuple
    efficiency: float
    signal_per_unit: float  # expected events for eps^2 alpha_D = 1
    background: float
    background_uncertainty: float
    simulated_background: float
    counts: float


def _box(cumulative, i0, i1, j0, j1):
    return cumulative[i1, j1] - cumulative[i0, j1] - cumulative[i1, j0] + cumulative[i0, j0]


def window(inputs: Inputs, mass_a_gev: float, mass_h_gev: float) -> Window:
    """The window at (M_A', M_h'): +-``window_sigma`` interpolated resolutions in both masses."""
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    if not (inputs.grid_a[0] <= mass_a_gev <= inputs.grid_a[-1]) or not 0 <= mass_h_gev <= max_mass_h(mass_a_gev, sqrt_s):
        raise KinematicError(
            f"(M_A', M_h') = ({mass_a_gev}, {mass_h_gev}) GeV is outside the search's range: "
            f"{inputs.grid_a[0]} <= M_A' <= {inputs.grid_a[-1]} GeV and 0 <= M_h' <= {float(max_mass_h(mass_a_gev, sqrt_s)):.3f} GeV"
        )
    k = inputs.window_sigma
    dm = k * inputs.interpolate(inputs.sigma_mass, mass_a_gev, mass_h_gev)
    dr = k * inputs.interpolate(inputs.sigma_recoil, mass_a_gev, mass_h_gev)
    i0, i1 = np.searchsorted(MASS_EDGES, [mass_a_gev - dm, mass_a_gev + dm])
    j0, j1 = np.searchsorted(RECOIL_EDGES, [mass_h_gev - dr, mass_h_gev + dr])
    i1, j1 = max(i1, i0 + 1), max(j1, j0 + 1)
    b, uncertainty = background_estimate(
        _box(inputs.background_cumulative, i0, i1, j0, j1), _box(inputs.w2_cumulative, i0, i1, j0, j1),
        _box(inputs.raw_cumulative, i0, i1, j0, j1), unit_weight=inputs.background_unit,
        systematic=BACKGROUND_SYSTEMATIC)
    eff = inputs.interpolate(inputs.efficiency, mass_a_gev, mass_h_gev)
    sigma = float(sigma_dark_higgsstrahlung_pb(mass_a_gev, mass_h_gev, sqrt_s) * branching_fraction_mumu(mass_a_gev))
    return Window(
        mass_a_gev=mass_a_gev, mass_h_gev=mass_h_gev, mass_range=(MASS_EDGES[i0], MASS_EDGES[i1]),
        recoil_range=(RECOIL_EDGES[j0], RECOIL_EDGES[j1]), efficiency=eff,
        signal_per_unit=inputs.dataset.luminosity_pb * sigma * eff, background=float(b),
        background_uncertainty=float(uncertainty), simulated_background=float(_box(inputs.raw_cumulative, i0, i1, j0, j1)),
        counts=float(_box(inputs.data_cumulative, i0, i1, j0, j1)),
    )


def _limits(w: Window):
    """Observed and expected (bands at the background-only count quantiles) 90% credibility limits
    on eps^2 alpha_D."""
    expected_counts = [poisson.ppf(norm.cdf(z), w.background) for z in BANDS]
    counts = np.array([w.counts] + expected_counts)
    unique, back = np.unique(counts, return_inverse=True)
    limits = bayesian_upper_limits_one_bin(unique, w.signal_per_unit, w.background,
                                           background_uncertainty=w.background_uncertainty,
                                           signal_uncertainty=SIGNAL_SYSTEMATIC, cl=CL)[back]
    return limits[0], limits[1:]


@dataclass(frozen=True)
class LimitMap:
    """Limits on a grid of (M_A', M_h'): ``mass_gev`` is M_A', ``mass2_gev`` M_h'."""

    quantity: str
    unit: str
    mass_gev: np.ndarray
    mass2_gev: np.ndarray
    observed: np.ndarray
    expected: np.ndarray  # (n, 5)
    cl: float
    method: str = "Bayesian, uniform prior in the signal, nuisance parameters marginalised"

    def to_frame(self) -> pd.DataFrame:
        """Long-form table with the columns of ``limits.csv`` and ``mass2_gev``."""
        frame = self.slice_frame(np.ones(self.mass_gev.size, dtype=bool))
        frame.insert(3, "mass2_gev", self.mass2_gev)
        return frame

    def slice_frame(self, mask):
        return pd.DataFrame({"quantity": self.quantity, "unit": self.unit, "mass_gev": self.mass_gev[mask],
                             "observed": self.observed[mask],
                             **{c: self.expected[mask, i] for i, c in enumerate(
                                 ["expected_minus2", "expected_minus1", "expected", "expected_plus1", "expected_plus2"])}})

    def at_mass_h(self, mass_h_gev: float) -> ScanResult:
        """The slice at the scanned h' mass nearest ``mass_h_gev``, as a scan versus M_A'."""
        values = np.unique(self.mass2_gev)
        chosen = values[np.argmin(np.abs(values - mass_h_gev))]
        mask = self.mass2_gev == chosen
        return ScanResult(quantity=self.quantity, unit=self.unit, masses_gev=self.mass_gev[mask],
                          observed=self.observed[mask], expected=self.expected[mask],
                          significance=np.zeros(mask.sum()), cl=self.cl, method=self.method,
                          test_statistic="posterior of the signal rate", notes=(f"M_h' = {chosen:.2f} GeV",))

    def transform(self, function, *, quantity: str, unit: str) -> LimitMap:
        """Apply ``function(mass_a, mass_h, value)`` to every limit."""
        return replace(self, quantity=quantity, unit=unit,
                       observed=function(self.mass_gev, self.mass2_gev, self.observed),
                       expected=function(self.mass_gev[:, None], self.mass2_gev[:, None], self.expected))


def scan_points(inputs: Inputs, *, mass_a_min_gev, mass_a_max_gev, mass_step_sigma, mass_h_step_gev):
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


def analyse(inputs: Inputs, *, mass_a_min_gev, mass_a_max_gev, mass_step_sigma, mass_h_step_gev, progress=True):
    """Limits on eps^2 alpha_D and on sigma(e+e- -> A' h') x B(A' -> mu mu) (fb) on the (M_A', M_h')
    grid of :func:`scan_points`."""
    points = scan_points(inputs, mass_a_min_gev=mass_a_min_gev, mass_a_max_gev=mass_a_max_gev,
                         mass_step_sigma=mass_step_sigma, mass_h_step_gev=mass_h_step_gev)
    observed, expected = np.zeros(len(points)), np.zeros((len(points), len(BANDS)))
    for k, (m_a, m_h) in enumerate(tqdm(points, desc="mass hypotheses", disable=not progress, mininterval=2)):
        observed[k], expected[k] = _limits(window(inputs, m_a, m_h))
    eps2 = LimitMap(quantity="eps2_alpha_d", unit="", mass_gev=points[:, 0], mass2_gev=points[:, 1],
                    observed=observed, expected=expected, cl=CL)
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    sigma = eps2.transform(lambda a, h, v: 1e3 * v * sigma_dark_higgsstrahlung_pb(a, h, sqrt_s)
                           * branching_fraction_mumu(a), quantity="sigma_ahprime_x_br_mumu", unit="fb")
    return {"eps2_alpha_d": eps2, "sigma_x_br": sigma}


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


def efficiency_table(inputs: Inputs):
    """Efficiency in the window and the two resolutions at every simulated point."""
    sqrt_s = inputs.dataset.experiment.sqrt_s_gev
    rows = []
    for i, m_a in enumerate(inputs.grid_a):
        for j, f in enumerate(inputs.grid_f):
            rows.append({"M_A' [GeV]": m_a, "M_h' [GeV]": f * float(max_mass_h(m_a, sqrt_s)),
                         "efficiency": inputs.efficiency[i, j], "sigma(M_mumu) [MeV]": 1e3 * inputs.sigma_mass[i, j],
                         "sigma(M_recoil) [MeV]": 1e3 * inputs.sigma_recoil[i, j]})
    return pd.DataFrame(rows)


def results_table(results, points):
    """Limits at a few (M_A', M_h') points (the nearest scanned ones)."""
    eps2, sigma = results["eps2_alpha_d"], results["sigma_x_br"]
    rows = []
    for m_a, m_h in points:
        k = int(np.argmin((eps2.mass_gev - m_a) ** 2 + (eps2.mass2_gev - m_h) ** 2))
        rows.append({"M_A' [GeV]": eps2.mass_gev[k], "M_h' [GeV]": eps2.mass2_gev[k],
                     "sigma x B observed [fb]": sigma.observed[k], "sigma x B expected [fb]": sigma.expected[k, 2],
                     "eps^2 alpha_D observed": eps2.observed[k], "eps^2 alpha_D expected": eps2.expected[k, 2],
                     "-1 sigma": eps2.expected[k, 1], "+1 sigma": eps2.expected[k, 3]})
    return pd.DataFrame(rows).drop_duplicates()
