"""Binned likelihoods of several samples in several regions, with the modifiers of HistFactory.

The model of K. Cranmer, G. Lewis, L. Moneta, A. Shibata, W. Verkerke, "HistFactory: A tool for
creating statistical models for use with RooFit and RooStats", CERN-OPEN-2012-016, as pyhf states it
(L. Heinrich, M. Feickert, G. Stark, K. Cranmer, "pyhf: pure-Python implementation of HistFactory
statistical models", JOSS 6 (2021) 2823). All regions' bins form one vector; in bin b

    nu_b = sum_s [n_sb + sum_h Delta_shb(alpha_h)] * prod_k kappa_sk * prod_j gamma_jsb

with n_sb the nominal template of sample s, Delta the ``histosys`` shifts
(:mod:`~analysis_lib.stats.interpolation`, additive codes), kappa the normalisation factors
(``normfactor`` and ``lumi`` directly, ``normsys`` interpolated by a multiplicative code) and gamma
the per-bin factors (``shapesys``, ``staterror``, ``shapefactor``). Modifiers are parameters by
name: the same name on several samples or regions is one parameter (per-bin ones within one
region). The likelihood is

    L = prod_b Poisson(n_b | nu_b) * prod_{Gaussian} G(a_p | theta_p, sigma_p) * prod_{Poisson} Poisson(m_b | tau_b gamma_b)

with the constraints of pyhf: ``normsys`` and ``histosys`` Gaussian around 0 with width 1; ``lumi``
Gaussian around its auxiliary value with the width of the measurement's configuration;
``staterror`` Gaussian around 1 with the relative width sqrt(sum_s sigma_sb^2) / sum_s n_sb over the
samples that carry it (Barlow-Beeston-lite); ``shapesys`` Poisson with tau_b = (n_sb / sigma_sb)^2;
``normfactor`` and ``shapefactor`` free. Bins whose uncertainty or nominal is zero keep their
per-bin factor fixed at 1, as in pyhf. A normsys and a histosys may share a name (one alpha, as in
pyhf); a staterror belongs to one region, a shapesys to one sample (pyhf refuses a shared
shapesys), and a shapefactor may span regions of the same binning, bin by bin (pyhf indexes one
shared by regions of different sizes wrongly; it is refused here).

The model offers the interface of :func:`analysis_lib.stats.likelihood.fit` and
:func:`analysis_lib.stats.limits.upper_limit` (the signal strength is the normfactor named by
``poi``), with the gradient in closed form; every evaluation is vectorised over rows of parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..core.errors import ParameterError
from . import interpolation

__all__ = ["MODIFIER_TYPES", "HistFactoryModel", "Modifier", "Region", "Sample"]

#: The modifier types a model can hold (those of pyhf).
MODIFIER_TYPES = ("normfactor", "normsys", "histosys", "shapesys", "staterror", "lumi", "shapefactor")
_PER_BIN = ("shapesys", "staterror", "shapefactor")
#: Default interpolation codes, as pyhf 0.7 builds a model (pyhf.pdf.Model: code4 and code4p).
DEFAULT_INTERPOLATION = {"normsys": "code4", "histosys": "code4p"}


@dataclass(frozen=True)
class Modifier:
    """One modifier of a sample: its parameter's ``name``, its ``type`` (one of
    :data:`MODIFIER_TYPES`) and its ``data``: None (normfactor, lumi, shapefactor), per-bin absolute
    uncertainties (shapesys, staterror), ``{"hi": f, "lo": f}`` (normsys) or
    ``{"hi_data": [...], "lo_data": [...]}`` (histosys)."""

    name: str
    type: str
    data: object = None


@dataclass(frozen=True)
class Sample:
    """A sample of a region: its nominal expected counts per bin and its modifiers."""

    name: str
    data: tuple
    modifiers: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "data", tuple(float(x) for x in np.atleast_1d(self.data)))
        object.__setattr__(self, "modifiers", tuple(self.modifiers))


@dataclass(frozen=True)
class Region:
    """A region (pyhf's channel): samples over the same bins."""

    name: str
    samples: tuple

    def __post_init__(self):
        object.__setattr__(self, "samples", tuple(self.samples))

    @property
    def n_bins(self) -> int:
        return len(self.samples[0].data) if self.samples else 0


@dataclass
class _Parameter:
    """A parameter (a vector for per-bin modifiers) of the compiled model."""

    name: str
    type: str
    size: int
    region: str | None = None
    init: np.ndarray = None
    bounds: list = None
    fixed: np.ndarray = None
    constraint: str | None = None  # "gauss", "poisson" or None
    aux: np.ndarray = None
    width: np.ndarray = None  # sigma (gauss) or tau (poisson)
    offset: int = 0
    instances: list = field(default_factory=list)  # (sample index, modifier type, modifier data)


class HistFactoryModel:
    """Samples in regions with HistFactory modifiers (see the module docstring).

    Parameters
    ----------
    regions : sequence of Region
    poi : str
        Name of the normfactor that is the signal strength ("mu" by default).
    settings : dict, optional
        Per parameter name, overrides of pyhf's measurement configuration: ``inits``, ``bounds``,
        ``fixed``, ``auxdata``, ``sigmas`` (a ``lumi`` parameter needs ``auxdata`` and ``sigmas``).
    interpolation : dict, optional
        Interpolation codes, ``{"normsys": "code4", "histosys": "code4p"}`` by default (those of pyhf 0.7).
    mu_bounds : (float, float)
        Allowed range of the signal strength, (0, inf) by default.
    """

    def __init__(self, regions, *, poi: str = "mu", settings: dict | None = None, interpolation: dict | None = None,
                 mu_bounds=(0.0, np.inf)):
        self.regions = tuple(regions)
        self.poi = poi
        self.settings = dict(settings or {})
        self.interpolation = {**DEFAULT_INTERPOLATION, **(interpolation or {})}
        self.mu_bounds = tuple(mu_bounds)
        if self.interpolation["normsys"] not in interpolation_codes("normsys"):
            raise ParameterError(f"normsys interpolation {self.interpolation['normsys']!r}: use one of "
                                 f"{interpolation_codes('normsys')}")
        if self.interpolation["histosys"] not in interpolation_codes("histosys"):
            raise ParameterError(f"histosys interpolation {self.interpolation['histosys']!r}: use one of "
                                 f"{interpolation_codes('histosys')}")
        self._compile()

    # -- construction -------------------------------------------------------------------------

    def _compile(self):
        if not self.regions:
            raise ParameterError("a model needs at least one region")
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names):
            raise ParameterError(f"region names {names} repeat; every region needs its own name")
        self.region_slices, offset = {}, 0
        samples = []
        for region in self.regions:
            if not region.samples:
                raise ParameterError(f"region {region.name!r} has no sample")
            sample_names = [s.name for s in region.samples]
            if len(set(sample_names)) != len(sample_names):
                raise ParameterError(f"sample names {sample_names} repeat in region {region.name!r}")
            n = region.n_bins
            for sample in region.samples:
                values = np.asarray(sample.data)
                if values.size != n:
                    raise ParameterError(f"sample {sample.name!r} of region {region.name!r} has {values.size} bins, "
                                         f"but the region's first sample has {n}; give every sample the same bins")
                if not np.all(np.isfinite(values)):
                    raise ParameterError(f"sample {sample.name!r} of region {region.name!r} holds non-finite counts")
                samples.append((region, sample))
            self.region_slices[region.name] = slice(offset, offset + n)
            offset += n
        self.n_bins = offset
        self._samples = samples
        nominal = np.zeros((len(samples), offset))
        for index, (region, sample) in enumerate(samples):
            nominal[index, self.region_slices[region.name]] = sample.data
        self._nominal = nominal

        parameters: dict[str, _Parameter] = {}
        for index, (region, sample) in enumerate(samples):
            for modifier in sample.modifiers:
                self._check_modifier(modifier, region, sample)
                parameter = parameters.get(modifier.name)
                size = region.n_bins if modifier.type in _PER_BIN else 1
                if parameter is None:
                    parameter = parameters[modifier.name] = _Parameter(
                        modifier.name, modifier.type, size, region.name if modifier.type in _PER_BIN else None)
                elif parameter.type != modifier.type and {parameter.type, modifier.type} != {"normsys", "histosys"}:
                    raise ParameterError(f"modifier {modifier.name!r} is a {parameter.type} and a {modifier.type}; "
                                         "give modifiers of different types different names (only a normsys and a "
                                         "histosys may share one)")
                elif parameter.region is not None and parameter.region != region.name and (
                        modifier.type != "shapefactor" or parameter.size != region.n_bins):
                    raise ParameterError(
                        f"per-bin modifier {modifier.name!r} appears in regions {parameter.region!r} and {region.name!r}; "
                        "a staterror or shapesys belongs to one region, a shapefactor to regions of equal binning")
                if modifier.type == "shapesys" and parameter.instances:
                    raise ParameterError(f"shapesys {modifier.name!r} is on two samples; give each sample its own "
                                         "shapesys name (or use staterror for a shared per-bin uncertainty)")
                parameter.instances.append((index, modifier.type, modifier.data))
        if self.poi not in parameters or parameters[self.poi].type != "normfactor":
            raise ParameterError(f"the signal strength {self.poi!r} must be the name of a normfactor modifier "
                                 f"(found: {sorted(parameters) or 'no modifier'})")
        unknown = set(self.settings) - set(parameters)
        if unknown:
            raise ParameterError(f"settings for {sorted(unknown)}, which no modifier names; "
                                 f"the parameters are {sorted(parameters)}")
        order = [self.poi] + [name for name in parameters if name != self.poi]
        self._parameters = [parameters[name] for name in order]
        offset = 0
        for parameter in self._parameters:
            parameter.offset = offset
            offset += parameter.size
            self._configure(parameter)
        self.n_parameters = offset
        self._build_evaluation()

    @staticmethod
    def _check_modifier(modifier, region, sample):
        where = f"modifier {modifier.name!r} of sample {sample.name!r} in region {region.name!r}"
        if modifier.type not in MODIFIER_TYPES:
            raise ParameterError(f"{where} has the type {modifier.type!r}, which is not supported; "
                                 f"the supported types are {', '.join(MODIFIER_TYPES)}")
        n = region.n_bins
        data = modifier.data
        if modifier.type in ("normfactor", "lumi", "shapefactor"):
            return
        if modifier.type in ("shapesys", "staterror"):
            values = np.asarray(data, dtype=float) if data is not None else np.zeros(0)
            if values.shape != (n,) or not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ParameterError(f"{where}: data must be {n} finite non-negative uncertainties, got {data!r}")
            return
        keys = ("hi", "lo") if modifier.type == "normsys" else ("hi_data", "lo_data")
        if not isinstance(data, dict) or set(data) != set(keys):
            raise ParameterError(f"{where}: data must be a dict with the keys {keys}, got {data!r}")
        for key in keys:
            values = np.atleast_1d(np.asarray(data[key], dtype=float))
            expected = 1 if modifier.type == "normsys" else n
            if values.size != expected or not np.all(np.isfinite(values)):
                raise ParameterError(f"{where}: {key} must be {expected} finite number(s), got {data[key]!r}")
            if modifier.type == "normsys" and values[0] <= 0:
                raise ParameterError(f"{where}: {key} = {values[0]!r} must be a positive factor")

    def _configure(self, p: _Parameter):
        """Initial values, bounds, constraint and auxiliary data of a parameter (pyhf's defaults,
        then the measurement's settings)."""
        n = p.size
        p.fixed = np.zeros(n, dtype=bool)
        if p.type in ("normfactor", "shapefactor"):
            p.init, p.bounds = np.ones(n), [(0.0, 10.0)] * n
        elif p.type in ("normsys", "histosys"):
            p.init, p.bounds = np.zeros(n), [(-5.0, 5.0)] * n
            p.constraint, p.aux, p.width = "gauss", np.zeros(n), np.ones(n)
        elif p.type == "lumi":
            config = self.settings.get(p.name, {})
            if "auxdata" not in config or "sigmas" not in config:
                raise ParameterError(f"lumi parameter {p.name!r} needs its auxdata and sigmas in the settings "
                                     "(pyhf's measurement config), e.g. {'auxdata': [1.0], 'sigmas': [0.02]}")
            value = float(config["auxdata"][0])
            p.init, p.bounds = np.full(1, value), [(0.0, 10.0 * value)]  # pyhf asks for bounds; these unless given
            p.constraint, p.aux, p.width = "gauss", np.full(1, value), np.asarray(config["sigmas"], dtype=float)
        elif p.type == "staterror":
            uncertainty = np.zeros(n)
            total = np.zeros(n)
            for index, _, data in p.instances:
                uncertainty += np.square(np.asarray(data, dtype=float))
                total += self._nominal[index, self.region_slices[p.region]]
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = np.where(total > 0, np.sqrt(uncertainty) / total, 0.0)
            p.fixed = relative <= 0
            p.init, p.bounds = np.ones(n), [(1e-10, 10.0)] * n
            p.constraint, p.aux, p.width = "gauss", np.ones(n), np.where(p.fixed, 1.0, relative)
        elif p.type == "shapesys":
            (index, _, data), = p.instances
            nominal = self._nominal[index, self.region_slices[p.region]]
            sigma = np.asarray(data, dtype=float)
            valid = (nominal > 0) & (sigma > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                tau = np.where(valid, np.square(nominal / np.where(valid, sigma, 1.0)), 1.0)
            p.fixed = ~valid
            p.init, p.bounds = np.ones(n), [(1e-10, 10.0)] * n
            p.constraint, p.aux, p.width = "poisson", tau, tau
        config = self.settings.get(p.name, {})
        for key in config:
            if key not in ("inits", "bounds", "fixed", "auxdata", "sigmas", "factors", "name"):
                raise ParameterError(f"setting {key!r} of parameter {p.name!r} is not known; use inits, bounds, "
                                     "fixed, auxdata, sigmas or factors")
        if "inits" in config:
            p.init = self._sized(p, "inits", config["inits"])
        if "bounds" in config:
            bounds = [tuple(float(x) for x in b) for b in config["bounds"]]
            if len(bounds) != n or any(lo > hi for lo, hi in bounds):
                raise ParameterError(f"bounds of {p.name!r} must be {n} pairs (lo <= hi), got {config['bounds']!r}")
            p.bounds = bounds
        if "fixed" in config:
            p.fixed = np.full(n, bool(config["fixed"])) | p.fixed
        if "auxdata" in config and p.constraint is not None and p.type != "lumi":
            p.aux = self._sized(p, "auxdata", config["auxdata"])
        if "factors" in config and p.type == "shapesys":  # tau of the Poisson constraints
            p.width = self._sized(p, "factors", config["factors"])
            if "auxdata" not in config:
                p.aux = p.width.copy()
        if "sigmas" in config and p.type not in ("staterror", "lumi"):
            raise ParameterError(f"setting 'sigmas' of {p.type} parameter {p.name!r}: pyhf uses sigmas only for "
                                 "staterror and lumi parameters (a normsys or histosys constraint is a unit Gaussian; "
                                 "scale its variations instead)")
        if "sigmas" in config and p.type == "staterror":
            p.width = self._sized(p, "sigmas", config["sigmas"])
        if p.name == self.poi:
            p.bounds = [self.mu_bounds]

    @staticmethod
    def _sized(p, key, values):
        values = np.asarray(values, dtype=float)
        if values.shape != (p.size,) or not np.all(np.isfinite(values)):
            raise ParameterError(f"{key} of parameter {p.name!r} must be {p.size} finite numbers, got {values.tolist()}")
        return values

    def _build_evaluation(self):
        """Index arrays of the modifiers' instances, for the vectorised evaluation: normalisation
        factors (one entry per instance), histosys shifts and per-bin factors (one entry per bin of an
        instance), each with its sample, bin and parameter index."""
        scalar_sample, scalar_offset, normsys = [], [], []
        shift = {"sample": [], "bin": [], "offset": [], "up": [], "down": []}
        per_bin = {"sample": [], "bin": [], "param": []}
        for p in self._parameters:
            for index, kind, data in p.instances:
                region = self.region_slices[self._samples[index][0].name]
                bins = np.arange(region.start, region.stop)
                if kind in ("normfactor", "lumi", "normsys"):
                    scalar_sample.append(index)
                    scalar_offset.append(p.offset)
                    normsys.append((float(data["hi"]), float(data["lo"])) if kind == "normsys" else None)
                elif kind == "histosys":
                    nominal = self._nominal[index, region]
                    shift["sample"].append(np.full(bins.size, index))
                    shift["bin"].append(bins)
                    shift["offset"].append(np.full(bins.size, p.offset))
                    shift["up"].append(np.asarray(data["hi_data"], dtype=float) - nominal)
                    shift["down"].append(nominal - np.asarray(data["lo_data"], dtype=float))
                else:  # per bin, in the region of this sample (a shapefactor may span regions)
                    per_bin["sample"].append(np.full(bins.size, index))
                    per_bin["bin"].append(bins)
                    per_bin["param"].append(p.offset + np.arange(bins.size))
        self._scalar_sample = np.array(scalar_sample, dtype=int)
        self._scalar_offset = np.array(scalar_offset, dtype=int)
        self._normsys = np.array([i for i, hilo in enumerate(normsys) if hilo is not None], dtype=int)
        self._normsys_hi = np.array([hilo[0] for hilo in normsys if hilo is not None])
        self._normsys_lo = np.array([hilo[1] for hilo in normsys if hilo is not None])

        def joined(parts, dtype=float):
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        self._shift = {key: joined(value, int if key in ("sample", "bin", "offset") else float)
                       for key, value in shift.items()}
        self._per_bin = {key: joined(value, int) for key, value in per_bin.items()}
        self._init = np.concatenate([p.init for p in self._parameters])
        self._fixed = np.concatenate([p.fixed for p in self._parameters])
        self._bounds = [b for p in self._parameters for b in p.bounds]
        constrained = [p for p in self._parameters if p.constraint is not None]
        index = [np.arange(p.offset, p.offset + p.size)[~p.fixed] for p in constrained]
        kinds = [np.full((~p.fixed).sum(), p.constraint == "poisson") for p in constrained]
        self._constrained = np.concatenate(index).astype(int) if index else np.zeros(0, dtype=int)
        self._is_poisson = np.concatenate(kinds) if kinds else np.zeros(0, dtype=bool)
        self._width = (np.concatenate([p.width[~p.fixed] for p in constrained]) if constrained else np.zeros(0))
        self._nominal_aux = (np.concatenate([p.aux[~p.fixed] for p in constrained]) if constrained else np.zeros(0))

    # -- description ----------------------------------------------------------------------------

    @cached_property
    def full_names(self) -> tuple:
        """Names of every entry of the parameter vector (the signal strength first; per-bin entries
        as ``name[i]``)."""
        return tuple(p.name if p.size == 1 and p.type not in _PER_BIN else f"{p.name}[{i}]"
                     for p in self._parameters for i in range(p.size))

    @property
    def parameter_names(self) -> tuple:
        """Names of the nuisance parameters (every entry but the signal strength)."""
        return self.full_names[1:]

    @property
    def parameters(self) -> tuple:
        """(name, type, size) of every parameter, the signal strength first."""
        return tuple((p.name, p.type, p.size) for p in self._parameters)

    def sample_names(self) -> list:
        """(region, sample) names in the order of the samples."""
        return [(region.name, sample.name) for region, sample in self._samples]

    @cached_property
    def signal(self) -> np.ndarray:
        """Expected counts per bin added by mu = 1 at the initial nuisance parameters."""
        x = self._init[None, :].copy()
        x[0, 0] = 1.0
        one = self.expected(x)[0]
        x[0, 0] = 0.0
        return one - self.expected(x)[0]

    # -- evaluation, vectorised over rows of parameters -----------------------------------------

    def _parts(self, x):
        """Per sample: the shifted templates (K, S, n), the normalisation factors of every instance
        and their derivatives (K, M), and the per-bin factors of every entry (K, T), with their
        products per sample (K, S) and per sample and bin (K, S, n)."""
        k = x.shape[0]
        base = np.broadcast_to(self._nominal, (k, *self._nominal.shape)).copy()
        shift = self._shift
        shift_slope = None
        if shift["bin"].size:
            delta, shift_slope = interpolation.additive(self.interpolation["histosys"], x[:, shift["offset"]],
                                                        shift["up"], shift["down"])
            np.add.at(base, (slice(None), shift["sample"], shift["bin"]), delta)
        factors = x[:, self._scalar_offset].copy()
        slopes = np.ones_like(factors)
        if self._normsys.size:
            f, slope = interpolation.multiplicative(self.interpolation["normsys"], factors[:, self._normsys],
                                                    self._normsys_hi, self._normsys_lo)
            factors[:, self._normsys], slopes[:, self._normsys] = f, slope
        norm = _products(factors, (self._scalar_sample,), (k, len(self._samples)))
        gamma_entries = x[:, self._per_bin["param"]]
        gamma = _products(gamma_entries, (self._per_bin["sample"], self._per_bin["bin"]), base.shape)
        return base, shift_slope, factors, slopes, norm, gamma_entries, gamma

    def expected(self, x) -> np.ndarray:
        """Expected counts (K, n_bins) at full parameter vectors ``x`` (K, n_parameters)."""
        base, _, _, _, norm, _, gamma = self._parts(np.atleast_2d(np.asarray(x, dtype=float)))
        return np.einsum("ksb,ks->kb", base * gamma, norm)

    def _constraint_terms(self, x, aux):
        """Constraint part of the negative log likelihood (K,) and its gradient (K, n_parameters)."""
        values = x[:, self._constrained]
        gauss = ~self._is_poisson
        width = self._width
        nll = np.sum(np.where(gauss, 0.5 * np.square((values - aux) / width), 0.0), axis=1)
        rate = np.where(self._is_poisson, width * values, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.where(aux > 0, aux * np.log(np.where(aux > 0, aux, 1.0) / np.maximum(rate, 1e-300)), 0.0)
        nll = nll + np.sum(np.where(self._is_poisson, rate - aux + log_term, 0.0), axis=1)
        gradient = np.zeros_like(x)
        per_entry = np.where(gauss, (values - aux) / np.square(width),
                             width - aux / np.maximum(np.where(self._is_poisson, values, 1.0), 1e-300))
        np.add.at(gradient, (slice(None), self._constrained), per_entry)
        return nll, gradient

    def full_nll(self, x, counts, aux, *, gradient=False):
        """Negative log likelihood (K,) at full parameter vectors ``x`` (K, n_parameters), up to a
        constant: half the Poisson deviance of the main counts (S. Baker, R. D. Cousins, Nucl.
        Instrum. Meth. 221 (1984) 437) plus the constraint terms; with ``gradient``, also its gradient
        (K, n_parameters) in closed form (derived from the expected counts above; the tests compare
        it with finite differences)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        counts = np.atleast_2d(np.asarray(counts, dtype=float))
        aux = np.atleast_2d(np.asarray(aux, dtype=float))
        base, shift_slope, factors, slopes, norm, gamma_entries, gamma = self._parts(x)
        nu = np.einsum("ksb,ks->kb", base * gamma, norm)
        negative = np.any(nu < 0, axis=1)
        nu = np.maximum(nu, 1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            main = np.sum(nu - counts + np.where(counts > 0, counts * np.log(np.where(counts > 0, counts, 1.0) / nu), 0.0),
                          axis=1)
        constraint, grad = self._constraint_terms(x, aux)
        nll = np.where(negative, np.inf, main + constraint)
        if not gradient:
            return nll
        rows = slice(None)
        r = 1.0 - counts / nu  # d(main) / d(nu)
        # normalisation factors: d nu_b / d eta = slope * (the sample's other factors) * shifted * gamma
        weighted = np.einsum("kb,ksb->ks", r, base * gamma)
        others = _products_without(factors, (self._scalar_sample,), norm.shape)
        np.add.at(grad, (rows, self._scalar_offset), slopes * others * weighted[:, self._scalar_sample])
        shift = self._shift
        if shift["bin"].size:  # histosys: d nu_b / d alpha = slope_b * norm * gamma_b
            entry = (rows, shift["sample"], shift["bin"])
            np.add.at(grad, (rows, shift["offset"]),
                      r[:, shift["bin"]] * shift_slope * norm[:, shift["sample"]] * gamma[entry])
        per_bin = self._per_bin
        if per_bin["bin"].size:  # per-bin factors: d nu_b / d gamma = shifted_b * norm * other gammas_b
            others = _products_without(gamma_entries, (per_bin["sample"], per_bin["bin"]), gamma.shape)
            np.add.at(grad, (rows, per_bin["param"]), r[:, per_bin["bin"]] * base[rows, per_bin["sample"], per_bin["bin"]]
                      * others * norm[:, per_bin["sample"]])
        return nll, grad

    def aux_at(self, x) -> np.ndarray:
        """Auxiliary data equal to the constrained parameters ``x`` (K, n_parameters): the value for a
        Gaussian constraint, tau times it for a Poisson one (as pyhf builds Asimov data)."""
        values = np.atleast_2d(x)[:, self._constrained]
        return np.where(self._is_poisson, self._width * values, values)

    # -- the interface of fit() and upper_limit() ------------------------------------------------

    def polish(self, mu, values, counts, aux):
        """Newton steps (:func:`analysis_lib.stats.newton.minimize`) from a minimum found by Migrad:
        ``values`` are (mu, params) when ``mu`` is None, else params at that mu. Returns the refined
        values in the same layout and the negative log likelihood there."""
        from .newton import minimize

        free = ~self._fixed.copy()
        if mu is None:
            x = np.asarray(values, dtype=float)
        else:
            x = np.concatenate([[float(mu)], np.asarray(values, dtype=float)])
            free[0] = False
        x, nll = minimize(self, np.asarray(counts, float)[None], np.asarray(aux, float)[None], x[None], free=free)
        return (x[0] if mu is None else x[0, 1:]), float(nll[0])

    def _full(self, mu, params):
        return np.concatenate([[float(mu)], np.asarray(params, dtype=float)])[None, :]

    def start(self, counts, aux):
        """Initial values of the nuisance parameters."""
        return tuple(self._init[1:])

    def limits(self):
        """Bounds of the nuisance parameters."""
        return tuple(self._bounds[1:])

    def fixed(self):
        """Which nuisance parameters are fixed."""
        return tuple(bool(f) for f in self._fixed[1:])

    def nll(self, mu, params, counts, aux):
        """Negative log likelihood at (mu, params), up to a constant."""
        return float(self.full_nll(self._full(mu, params), counts, aux)[0])

    def nll_gradient(self, mu, params, counts, aux):
        """Gradient of :meth:`nll` in (mu, params)."""
        return self.full_nll(self._full(mu, params), counts, aux, gradient=True)[1][0]

    def expected_counts(self, mu, params, counts=None, aux=None):
        """Expected counts at (mu, params)."""
        return self.expected(self._full(mu, params))[0]

    def asimov(self, params, counts, aux):
        """Background-only Asimov main and auxiliary data at the nuisance parameters ``params``."""
        x = self._full(0.0, params)
        return self.expected(x)[0], self.aux_at(x)[0]

    def nominal_aux(self):
        """Auxiliary data at their nominal values (one entry per constrained, non-fixed parameter)."""
        return self._nominal_aux.copy()


def _products(values, where, shape):
    """Products of the columns of ``values`` (K, M) that share a cell of ``shape`` (K, ...), the
    cell of column m being ``tuple(w[m] for w in where)``; 1 in cells without a column."""
    out = np.ones(shape)
    np.multiply.at(out, (slice(None), *where), values)
    return out


def _products_without(values, where, shape):
    """For every column m of ``values`` (K, M), the product of the other columns in its cell (see
    :func:`_products`), exact where factors are zero (a strength or a shape factor at its bound)."""
    zero = values == 0
    nonzero = _products(np.where(zero, 1.0, values), where, shape)
    zeros = np.zeros(shape)
    np.add.at(zeros, (slice(None), *where), zero.astype(float))
    cell = (slice(None), *where)
    other_zeros = zeros[cell] - zero
    return np.where(other_zeros > 0, 0.0, nonzero[cell] / np.where(zero, 1.0, values))


def interpolation_codes(modifier_type: str) -> tuple:
    """The interpolation codes a modifier type accepts (as pyhf: normsys code1 or code4, histosys
    code0, code2 or code4p)."""
    return {"normsys": interpolation.MULTIPLICATIVE_CODES, "histosys": interpolation.ADDITIVE_CODES}[modifier_type]
