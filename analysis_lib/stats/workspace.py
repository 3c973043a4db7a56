"""pyhf JSON workspaces, both ways: a :class:`~analysis_lib.stats.histfactory.HistFactoryModel`
and its observed counts to a workspace, and a workspace to them.

The format is pyhf's (schema version 1.0.0: ``channels``, ``observations``, ``measurements``,
``version``; L. Heinrich et al., JOSS 6 (2021) 2823, and the HEPData format of likelihoods,
ATL-PHYS-PUB-2019-029). A workspace has no place for anything else, so what it cannot say (that a
template stands for a fitted parametric shape, the dataset, the re-creation caveat) goes into a
metadata file beside it (:func:`write_workspace`).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np

from ..core.errors import ParameterError
from .histfactory import MODIFIER_TYPES, HistFactoryModel, Modifier, Region, Sample
from .likelihood import BinnedModel

__all__ = ["export", "from_binned_model", "from_counting", "from_smooth_model", "from_workspace", "read_workspace",
           "to_workspace", "validate", "write_workspace"]

SCHEMA_VERSION = "1.0.0"
#: Where a fitted continuum's ``histosys`` templates sit, in standard deviations of its coefficients
#: from the fit (:func:`from_smooth_model`): their unit-Gaussian parameters then constrain them ten
#: times more loosely than the data do.
CONTINUUM_SIGMAS = 10.0
#: The largest shift of the log-continuum (in any bin) a continuum template may have: a factor e^2.
MAX_LOG_SHIFT = 2.0


def validate(spec: dict) -> None:
    """Check ``spec`` against pyhf's workspace schema; a clear error naming the first problem."""
    import jsonschema

    try:
        _validator().validate(spec)
    except jsonschema.ValidationError as error:
        raise ParameterError(f"not a valid pyhf workspace (schema {SCHEMA_VERSION}): {error.message} "
                             f"(at {'/'.join(map(str, error.absolute_path)) or 'the top'})") from None


@functools.lru_cache(maxsize=1)
def _validator():
    """The validator of pyhf's workspace schema (draft 6, the schema files pyhf ships), made once per
    process: pyhf's own ``pyhf.schema.validate`` resolves the schema's references again at every
    call, which cost a scan more than its limits (about 20 ms per hypothesis)."""
    import jsonschema
    import pyhf
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT6

    folder = Path(pyhf.schema.path) / SCHEMA_VERSION
    resources = []
    for file in sorted(folder.glob("*.json")):
        contents = json.loads(file.read_text())
        # without "$schema" the referenced schemas are checked by this validator (with its types), not
        # by the stock one of their dialect; the registry knows them as draft 6
        contents.pop("$schema", None)
        resources.append((contents.get("$id", file.name), Resource.from_contents(contents, default_specification=DRAFT6)))
    registry = Registry().with_resources(resources)
    # the workspace schema is one "$ref" beside its "$id", which draft 6 ignores: refer to it by that id
    root = json.loads((folder / "workspace.json").read_text())["$id"]
    # numpy arrays count as arrays, as pyhf's own validation lets tensors through
    checker = jsonschema.Draft6Validator.TYPE_CHECKER.redefine(
        "array", lambda _, instance: isinstance(instance, list | np.ndarray))
    validator = jsonschema.validators.extend(jsonschema.Draft6Validator, type_checker=checker)
    return validator({"$ref": root}, registry=registry, format_checker=None)


def _check_types(spec):
    """Name an unsupported modifier type before the schema does (its message lists every branch)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("channels"), list):
        raise ParameterError("a pyhf workspace is a JSON object with a list 'channels'; got "
                             f"{type(spec).__name__} {list(spec)[:5] if isinstance(spec, dict) else ''}")
    for channel in spec["channels"]:
        for sample in channel.get("samples", []):
            for modifier in sample.get("modifiers", []):
                kind = modifier.get("type") if isinstance(modifier, dict) else None
                if kind not in MODIFIER_TYPES:
                    raise ParameterError(
                        f"modifier {modifier.get('name') if isinstance(modifier, dict) else modifier!r} of sample "
                        f"{sample.get('name')!r} in channel {channel.get('name')!r} has the type {kind!r}, which is not "
                        f"supported; the supported types are {', '.join(MODIFIER_TYPES)}")


def from_workspace(spec: dict, *, measurement: str | None = None, interpolation: dict | None = None,
                   mu_bounds=(0.0, np.inf)):
    """The model and observed counts of a pyhf workspace.

    Parameters
    ----------
    spec : dict
        The workspace (as read from its JSON).
    measurement : str, optional
        Name of the measurement whose configuration (POI, parameter settings) is used; the first by
        default.
    interpolation : dict, optional
        Interpolation codes (pyhf 0.7's defaults: normsys code4, histosys code4p; a workspace does not
        store them).
    mu_bounds : (float, float)
        Range of the signal strength, (0, inf) by default (the measurement's bounds of the POI are
        not used: the limits need mu free above).

    Returns
    -------
    (HistFactoryModel, numpy.ndarray)
        The model and the observed counts, regions in the workspace's channel order.
    """
    _check_types(spec)
    validate(spec)
    measurements = {m["name"]: m["config"] for m in spec["measurements"]}
    name = measurement or spec["measurements"][0]["name"]
    if name not in measurements:
        raise ParameterError(f"measurement {name!r} is not in the workspace; it has {sorted(measurements)}")
    config = measurements[name]
    regions = [Region(channel["name"], [
        Sample(sample["name"], sample["data"],
               [Modifier(m["name"], m["type"], m.get("data")) for m in sample["modifiers"]])
        for sample in channel["samples"]]) for channel in spec["channels"]]
    settings = {}
    for parameter in config.get("parameters", []):
        entry = {key: value for key, value in parameter.items() if key != "name"}
        if parameter["name"] == config["poi"]:
            entry = {key: value for key, value in entry.items() if key == "inits"}
        if entry:
            settings[parameter["name"]] = entry
    model = HistFactoryModel(regions, poi=config["poi"], settings=settings, interpolation=interpolation,
                             mu_bounds=mu_bounds)
    observations = {o["name"]: o["data"] for o in spec["observations"]}
    counts = []
    for region in model.regions:
        if region.name not in observations:
            raise ParameterError(f"the workspace has no observation for channel {region.name!r}")
        data = np.asarray(observations[region.name], dtype=float)
        if data.size != region.n_bins:
            raise ParameterError(f"observation of channel {region.name!r} has {data.size} bins, "
                                 f"its samples {region.n_bins}")
        counts.append(data)
    return model, np.concatenate(counts)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.floating | np.integer):
        return value.item()
    return value


def to_workspace(model: HistFactoryModel, counts, *, measurement: str = "measurement") -> dict:
    """The pyhf workspace of ``model`` with the observed ``counts`` (valid against pyhf's schema)."""
    counts = np.asarray(counts, dtype=float)
    if counts.shape != (model.n_bins,):
        raise ParameterError(f"counts have shape {counts.shape}, but ({model.n_bins},) is required")
    channels = [{"name": region.name, "samples": [
        {"name": sample.name, "data": list(sample.data),
         "modifiers": [{"name": m.name, "type": m.type, "data": _plain(m.data)} for m in sample.modifiers]}
        for sample in region.samples]} for region in model.regions]
    observations = [{"name": region.name, "data": counts[model.region_slices[region.name]].tolist()}
                    for region in model.regions]
    parameters = [{"name": name, **{k: _plain(v) for k, v in entry.items()}} for name, entry in model.settings.items()]
    spec = {"channels": channels, "observations": observations,
            "measurements": [{"name": measurement, "config": {"poi": model.poi, "parameters": parameters}}],
            "version": SCHEMA_VERSION}
    validate(spec)
    return spec


def from_binned_model(model: BinnedModel, *, region: str = "window") -> HistFactoryModel:
    """The :class:`~analysis_lib.stats.likelihood.BinnedModel` of a chapter as a HistFactory model:
    the signal with the normfactor ``mu``, the background with the normfactor ``background_norm``
    when it floats and a ``shapesys`` of its per-bin uncertainties when it has them (the same
    likelihood: the tests compare the limits)."""
    modifiers = []
    if model.float_background:
        modifiers.append(Modifier("background_norm", "normfactor"))
    if model.background_uncertainty is not None:
        modifiers.append(Modifier("background_stat", "shapesys", list(map(float, model.background_uncertainty))))
    settings = _poi_settings(model.signal, model.background)
    if model.float_background:
        settings["background_norm"] = {"bounds": [[1e-9, 1e9]]}
    return HistFactoryModel([Region(region, [
        Sample("signal", model.signal, [Modifier("mu", "normfactor")]),
        Sample("background", model.background, modifiers),
    ])], settings=settings, mu_bounds=model.mu_bounds)


def from_smooth_model(model, counts, aux=None, *, region: str = "window") -> tuple[HistFactoryModel, dict]:
    """A peak on a smooth background (:class:`~analysis_lib.stats.smooth.SmoothBackgroundModel`), which
    pyhf cannot express, as a HistFactory model of templates, and what the conversion did (metadata).

    The continuum becomes the template of its background-only fit to ``counts``. Its coefficients
    are free in the original, and their uncertainty (covariance: the inverse of the Hessian of the nll
    over all nuisance parameters at that fit) comes from the same counts; pyhf has no unconstrained
    shape modifier (and no ``sigmas`` for ``histosys``), so each eigenvector v_k of the covariance
    becomes a ``histosys`` with templates at c +- :data:`CONTINUUM_SIGMAS` sqrt(lambda_k) v_k: its
    unit-Gaussian parameter is ten times looser than the data, a penalty of 0.005 at one standard
    deviation of the fit, and the counts constrain the shape once, as in the original. Each peaking
    template keeps its Gaussian normalisation constraint as a ``histosys`` to (1 +- delta) times it
    (code4p is linear there: the same likelihood), and each of its shape modes a ``histosys`` to the
    template plus and minus the mode. The signal carries the normfactor ``mu``.
    """
    from .newton import minimize

    counts = np.asarray(counts, dtype=float)
    aux = model.nominal_aux() if aux is None else np.asarray(aux, dtype=float)
    free = ~model._fixed
    free[0] = False  # background only
    x, _ = minimize(model, counts[None], aux[None], np.array([[0.0, *model.start(counts, aux)]]), free=free)
    x = x[0]
    d = model.degree + 2
    covariance = np.linalg.pinv(model.full_hessian(x[None], counts[None], aux[None])[0][1:, 1:])[: d - 1, : d - 1]
    eigenvalues, eigenvectors = np.linalg.eigh(0.5 * (covariance + covariance.T))
    coefficients = x[1:d]
    continuum_modifiers = []
    capped = False
    for k, (value, vector) in enumerate(zip(eigenvalues, eigenvectors.T)):
        shift = CONTINUUM_SIGMAS * np.sqrt(max(value, 0.0)) * vector
        # a window with few events leaves the coefficients almost free (the covariance is huge, or
        # infinite where the level sits at its bound): the templates' log-continuum shift is capped at
        # MAX_LOG_SHIFT (a factor e^2), so that they stay finite and pyhf can fit them
        largest = np.max(np.abs(shift @ model._p))
        if largest > MAX_LOG_SHIFT:
            shift, capped = shift * MAX_LOG_SHIFT / largest, True
        continuum_modifiers.append(Modifier(f"continuum_shape_{k}", "histosys", {
            "hi_data": model.continuum(coefficients + shift).tolist(),
            "lo_data": model.continuum(coefficients - shift).tolist()}))
    samples = [Sample("signal", model.signal, [Modifier("mu", "normfactor")]),
               Sample("continuum", model.continuum(coefficients), continuum_modifiers)]
    modes = model.template_modes or tuple(np.zeros((0, model.n_bins)) for _ in model.templates)
    for j, (template, delta, shapes) in enumerate(zip(model.templates, model._delta, modes)):
        modifiers = [Modifier(f"peaking_{j}_norm", "histosys", {
            "hi_data": ((1 + delta) * template).tolist(), "lo_data": ((1 - delta) * template).tolist()})]
        modifiers += [Modifier(f"peaking_{j}_shape_{m}", "histosys", {
            "hi_data": (template + shape).tolist(), "lo_data": (template - shape).tolist()})
            for m, shape in enumerate(shapes)]
        samples.append(Sample(f"peaking_{j}", template, modifiers))
    converted = HistFactoryModel([Region(region, samples)], settings=_poi_settings(model.signal, counts),
                                 mu_bounds=model.mu_bounds)
    metadata = {
        "converted_from": "a signal peak on a smooth log-polynomial background fitted to the data "
                          f"(degree {model.degree}), with {len(model.templates)} constrained peaking template(s)",
        "continuum": "template of the background-only fit to the observed counts; its coefficients' uncertainty "
                     f"as {len(continuum_modifiers)} histosys modifier(s) along the eigenvectors of their covariance",
        "continuum_templates": f"at +-{CONTINUUM_SIGMAS:g} standard deviations of the fit along each eigenvector: "
                               "their unit-Gaussian parameters leave the shape nearly free, as the original "
                               "coefficients, whose uncertainty comes from the same counts",
        "caveat": "the continuum is linear in its parameters where the original is exponential: limits from this "
                  "workspace approximate the chapter's (the tests: within 2% in windows of 0 to 2000 events; pyhf "
                  "gives CLs = 0.05 at this project's limit)",
        "few_events": bool(capped or counts.sum() < 20),
        "bin_edges": model.edges.tolist(),
    }
    return converted, metadata


def _poi_settings(signal, counts):
    """Bounds of ``mu`` for pyhf, whose default (0, 10) is too narrow for the chapters' signal
    strengths (in units of a reference signal): 100 times the strength of a signal as large as
    three standard deviations of the counts (this project's evaluators take the model's own)."""
    top = 100 * 3 * (np.sqrt(max(float(np.sum(counts)), 1.0)) + 1) / max(float(np.sum(signal)), 1e-300)
    return {"mu": {"bounds": [[0.0, max(top, 10.0)]]}}


def from_counting(signal: float, background: float, background_uncertainty: float, *,
                  signal_uncertainty: float = 0.0, region: str = "window") -> HistFactoryModel:
    """A one-bin counting window as a HistFactory model: the signal with the normfactor ``mu`` (and
    a ``histosys`` of its relative uncertainty), the background with a ``histosys`` of its absolute
    uncertainty: Gaussian parameters entering linearly, the likelihood that a Bayesian limit with
    Gaussian uncertainties marginalises (where the uncertainty exceeds the background its lower
    template is clipped at zero, and the interpolation is no longer linear below the nominal)."""
    signal_modifiers = [Modifier("mu", "normfactor")]
    if signal_uncertainty > 0:
        signal_modifiers.append(Modifier("signal_uncertainty", "histosys", {
            "hi_data": [signal * (1 + signal_uncertainty)], "lo_data": [signal * (1 - signal_uncertainty)]}))
    background_modifiers = []
    if background_uncertainty > 0:
        background_modifiers.append(Modifier("background_uncertainty", "histosys", {
            "hi_data": [background + background_uncertainty],
            "lo_data": [max(background - background_uncertainty, 0.0)]}))
    return HistFactoryModel([Region(region, [Sample("signal", [signal], signal_modifiers),
                                             Sample("background", [background], background_modifiers)])],
                            settings=_poi_settings([signal], [background]))


def export(model, counts, aux=None) -> tuple[dict, dict]:
    """The pyhf workspace of any model a chapter fits, with the observed ``counts``, and its metadata
    (what the model was, and what the conversion changed): a HistFactory model as it is, a template
    model through :func:`from_binned_model` (the same likelihood), a peak on a smooth background
    through :func:`from_smooth_model` (its fitted shape as templates). The workspace carries the
    nominal auxiliary data (``aux`` enters only the fit of a smooth background); a peaking template's
    histosys parameter has pyhf's bounds (-5, 5), which allow a negative normalisation where the
    original stops at zero (a relative uncertainty above 0.2)."""
    from .smooth import SmoothBackgroundModel

    if isinstance(model, HistFactoryModel):
        return to_workspace(model, counts), {"converted_from": "a HistFactory model: the same likelihood"}
    if isinstance(model, BinnedModel):
        return (to_workspace(from_binned_model(model), counts),
                {"converted_from": "a template model (signal, background with a free normalisation and per-bin "
                                   "uncertainties): the same likelihood"})
    if isinstance(model, SmoothBackgroundModel):
        converted, metadata = from_smooth_model(model, counts, aux)
        return to_workspace(converted, counts), metadata
    raise ParameterError(f"no pyhf workspace for a {type(model).__name__}; models that have one: HistFactoryModel, "
                         "BinnedModel, SmoothBackgroundModel")


def write_workspace(path, spec: dict, metadata: dict | None = None) -> Path:
    """Write ``spec`` to ``path`` (JSON) atomically, and ``metadata`` (what the workspace cannot say:
    dataset, units of mu, fitted shapes written as templates) to ``<stem>.meta.json`` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    outputs = [(path, spec)] + ([(path.with_name(f"{path.stem}.meta.json"), metadata)] if metadata else [])
    for target, content in outputs:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_plain(content), indent=1))
        os.replace(tmp, target)
    return path


def read_workspace(path, **options):
    """The model and observed counts of the workspace file ``path`` (see :func:`from_workspace`)."""
    path = Path(path)
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise ParameterError(f"workspace {str(path)!r} does not exist") from None
    except json.JSONDecodeError as error:
        raise ParameterError(f"workspace {str(path)!r} is not valid JSON: {error}") from None
    return from_workspace(spec, **options)
