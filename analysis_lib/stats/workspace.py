"""pyhf JSON workspaces, both ways: a :class:`~analysis_lib.stats.histfactory.HistFactoryModel`
and its observed counts to a workspace, and a workspace to them.

The format is pyhf's (schema version 1.0.0: ``channels``, ``observations``, ``measurements``,
``version``; L. Heinrich et al., JOSS 6 (2021) 2823, and the HEPData format of likelihoods,
ATL-PHYS-PUB-2019-029). A workspace has no place for anything else, so what it cannot say (that a
template stands for a fitted parametric shape, the dataset, the re-creation caveat) goes into a
metadata file beside it (:func:`write_workspace`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..core.errors import ParameterError
from .histfactory import MODIFIER_TYPES, HistFactoryModel, Modifier, Region, Sample
from .likelihood import BinnedModel

__all__ = ["from_binned_model", "from_workspace", "read_workspace", "to_workspace", "validate", "write_workspace"]

SCHEMA_VERSION = "1.0.0"


def validate(spec: dict) -> None:
    """Check ``spec`` against pyhf's workspace schema; a clear error naming the first problem."""
    import pyhf

    try:
        pyhf.schema.validate(spec, "workspace.json", version=SCHEMA_VERSION)
    except pyhf.exceptions.InvalidSpecification as error:
        raise ParameterError(f"not a valid pyhf workspace (schema {SCHEMA_VERSION}): {error}") from None


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
    settings = {"background_norm": {"bounds": [[1e-9, 1e9]]}} if model.float_background else {}
    return HistFactoryModel([Region(region, [
        Sample("signal", model.signal, [Modifier("mu", "normfactor")]),
        Sample("background", model.background, modifiers),
    ])], settings=settings, mu_bounds=model.mu_bounds)


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
