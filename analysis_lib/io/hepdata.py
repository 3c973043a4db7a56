"""A run's limits as a HEPData submission (``hepdata.tar.gz``), made with ``hepdata_lib`` and checked
with the HEPData validator before it is written.

One table per result (:class:`~analysis_lib.analysis.results.LimitScan`, read through its fields):
the mass (and the second mass of a search in two masses) as independent variables; the observed
limit and the median expected limit with its ±1σ and ±2σ band as asymmetric uncertainties, each with
the qualifiers a reader needs (confidence level, method, experiment, luminosity, √s, the model's
fixed parameters). Every table's description and the submission's comment state that these are
simulation re-creations: the "observed" limits are those of pseudo-data where the run's data are
simulated. Hypotheses whose limits are not finite are left out, and the description says how many.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from ..core.errors import AnalysisError
from ..core.units import luminosity_label

__all__ = ["CAVEAT", "submission", "validate_submission", "write_hepdata"]

log = logging.getLogger(__name__)

#: The largest file HEPData takes as an additional resource.
_MAX_RESOURCE_BYTES = 100 * 1024 * 1024
#: What every table and the submission say about where the numbers come from.
CAVEAT = ("A simulation re-creation of the published search by an open analysis book, not the experiment's "
          "result: signal and backgrounds are simulated through a model of the detector calibrated to published "
          "performance.")


def _plain(text: str) -> str:
    """A label without TeX markup, for HEPData's plain-text headers."""
    return text.replace("$", "").replace("^{-1}", "^-1").replace("\\", "")


def _flow(obj) -> str:
    """``obj`` (dicts, lists, strings, numbers) as one YAML flow expression: JSON syntax, with every
    float written with a decimal point and an exponent (YAML 1.1 readers such as PyYAML, which the
    HEPData validator uses, read ``1e-05`` as a string).

    >>> _flow({"value": 1e-05, "errors": [{"label": "1 sigma", "symerror": 2}]})
    '{"value": 1.0000000e-05, "errors": [{"label": "1 sigma", "symerror": 2}]}'
    """
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_flow(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(_flow(v) for v in obj) + "]"
    if isinstance(obj, bool) or obj is None:
        return json.dumps(obj)
    if isinstance(obj, int | np.integer):
        return str(int(obj))
    if isinstance(obj, float | np.floating):
        return f"{float(obj):.7e}"
    return json.dumps(str(obj))


def _table_class():
    """hepdata_lib's ``Table`` whose data file is written as YAML flow lines (:func:`_flow`) instead
    of by PyYAML's pure-Python emitter, which takes about 20 s for the 8000 hypotheses of a
    two-mass scan; the file holds the same document (the tests read it back with the validator)."""
    import yaml
    from hepdata_lib import Table

    class FastTable(Table):
        def write_yaml(self, outdir="."):
            os.makedirs(outdir, exist_ok=True)
            variables = {"independent_variables": [], "dependent_variables": []}
            for var in self.variables:
                variables["independent_variables" if var.is_independent else "dependent_variables"].append(var)
            data_file = f"{self.name.lower().replace(' ', '_')}.yaml"
            with open(os.path.join(outdir, data_file), "w", encoding="utf-8") as out:
                for key, group in variables.items():
                    out.write(f"{key}:\n" if group else f"{key}: []\n")
                    out.writelines(f"- {_flow(var.make_dict())}\n" for var in group)
            entry = {"name": self.name, "description": self.description, "location": self.location,
                     "data_file": data_file,
                     "keywords": [{"name": k, "values": v} for k, v in self.keywords.items()]}
            if self.additional_resources:
                entry["additional_resources"] = self.additional_resources
            if self.data_license:
                entry["data_license"] = self.data_license
            with open(os.path.join(outdir, "submission.yaml"), "a", encoding="utf-8") as out:
                yaml.safe_dump(entry, out, default_flow_style=False, explicit_start=True, allow_unicode=True)
            return data_file

    return FastTable


def _table(result, *, sqrt_s_gev, title: str):
    from hepdata_lib import Uncertainty, Variable

    Table = _table_class()

    masses = np.asarray(result.masses_gev, dtype=float)
    observed = np.asarray(result.observed, dtype=float)
    expected = np.asarray(result.expected, dtype=float)
    columns = [masses] + ([np.asarray(result.masses2_gev, dtype=float)] if result.masses2_gev is not None else [])
    finite = np.all(np.isfinite(np.column_stack([*columns, observed, expected])), axis=1)
    left_out = int((~finite).sum())
    unit = result.unit or "dimensionless"
    cl = f"{100 * result.cl:g}%"
    name = f"Upper limits on {result.quantity}"
    table = Table(name)
    model = ", ".join(f"{k} = {v}" for k, v in result.model.items())
    table.description = (
        f"{cl} CL upper limits on {result.quantity} [{unit}] versus {result.mass_name or 'm'}"
        + (f" and {result.mass2_name}" if result.masses2_gev is not None else "")
        + f" ({title}); dataset {result.dataset}, {_plain(luminosity_label(result.luminosity_fb))}"
        + (" (a luminosity projection)" if result.projection else "")
        + f"; method: {result.method}, test statistic {result.test_statistic}"
        + (f"; model: {model}" if model else "")
        + (f"; {left_out} hypotheses without a finite limit left out" if left_out else "")
        + ". " + CAVEAT
        + (" The observed limits are those of one seeded pseudo-data set." if result.pseudo_data else ""))
    table.location = f"limits.csv of the run (dataset {result.dataset})"
    table.keywords["observables"] = ["UL"]
    table.keywords["cmenergies"] = [float(e) for e in sqrt_s_gev]
    table.keywords["phrases"] = ["Dark sector", "Upper limit", "Simulation re-creation"]
    for values, mass_name in zip(columns, [result.mass_name or "m", result.mass2_name or "m2"]):
        mass = Variable(mass_name, is_independent=True, is_binned=False, units="GeV")
        mass.values = values[finite].tolist()
        table.add_variable(mass)
    qualifiers = [("CL", cl), ("EXPERIMENT", result.experiment), ("DATASET", result.dataset),
                  ("LUMINOSITY", _plain(luminosity_label(result.luminosity_fb))),
                  ("SQRT(S)", ", ".join(f"{e:.4g}" for e in sqrt_s_gev) + " GeV"), ("METHOD", result.method),
                  *((str(k), str(v)) for k, v in result.model.items())]
    label = "Observed upper limit (pseudo-data)" if result.pseudo_data else "Observed upper limit"
    observed_variable = Variable(label, is_independent=False, is_binned=False, units=result.unit)
    observed_variable.values = observed[finite].tolist()
    expected_variable = Variable("Expected upper limit", is_independent=False, is_binned=False, units=result.unit)
    expected_variable.values = expected[finite, 2].tolist()
    for k, sigma in ((1, "1 sigma"), (0, "2 sigma")):
        band = Uncertainty(sigma, is_symmetric=False)
        band.values = list(zip((expected[finite, k] - expected[finite, 2]).tolist(),
                               (expected[finite, 4 - k] - expected[finite, 2]).tolist()))
        expected_variable.add_uncertainty(band)
    for variable in (observed_variable, expected_variable):
        for key, value in qualifiers:
            variable.add_qualifier(key, value)
        table.add_variable(variable)
    return table


def submission(results, *, title: str, paper: str, sqrt_s_gev, resources=()):
    """The ``hepdata_lib.Submission`` of ``results`` (LimitScan values): a table each (see the module),
    the comment naming the re-created publication ``paper`` and the caveat, and ``resources`` (paths,
    with a description each) attached as additional resources."""
    from hepdata_lib import Submission

    sqrt_s_gev = [float(e) for e in np.atleast_1d(sqrt_s_gev)]
    if not sqrt_s_gev or not all(math.isfinite(e) and e > 0 for e in sqrt_s_gev):
        raise AnalysisError(f"a HEPData submission needs the centre-of-mass energies of the data; got {sqrt_s_gev}")
    sub = Submission()
    sub.comment = f"{title}: a re-creation of {paper}. {CAVEAT}"
    names = set()
    for result in results:
        table = _table(result, sqrt_s_gev=sqrt_s_gev, title=title)
        if table.name in names:
            raise AnalysisError(f"two results of one run limit {result.quantity!r}: HEPData tables need distinct names")
        names.add(table.name)
        sub.add_table(table)
    for path, description in resources:
        sub.add_additional_resource(description, str(path), copy_file=True)
    return sub


def validate_submission(folder) -> list[str]:
    """The HEPData validator's messages on the submission in ``folder`` (its ``submission.yaml`` and
    tables); empty when it is valid."""
    from hepdata_validator.full_submission_validator import FullSubmissionValidator

    validator = FullSubmissionValidator()
    if validator.validate(directory=str(folder)):
        return []
    return [f"{Path(name).name}: {message.message}" for name, messages in validator.get_messages().items()
            for message in messages]


def _write_files(sub, folder: Path):
    """The submission's files in ``folder``: ``submission.yaml`` (its header, then an entry per table),
    the tables' data files and the attached resources. What ``hepdata_lib``'s ``create_files`` writes,
    without its tar ball, which it makes in the process's working directory: a kernel's other
    threads would see that directory change."""
    import yaml

    header = {"data_license": sub.get_license(), "comment": sub.comment}
    if sub.additional_resources:
        header["additional_resources"] = sub.additional_resources
    with open(folder / "submission.yaml", "w", encoding="utf-8") as out:
        yaml.safe_dump(header, out, default_flow_style=False, explicit_start=True, allow_unicode=True)
    for table in sub.tables:
        table.write_output(str(folder))
        table.copy_files(str(folder))
    sub.copy_files(str(folder))


def write_hepdata(results, path, *, title: str, paper: str, sqrt_s_gev, resources=(), validate: bool = False
                  ) -> Path | None:
    """Write the HEPData submission of ``results`` to ``path`` (a ``.tar.gz`` of the submission's files),
    whole or not at all; with ``validate``, only after the HEPData validator accepted it (an
    :class:`AnalysisError` with its messages otherwise). The runs leave validation to the tests: the
    validator reads a two-mass scan's 8000 hypotheses in about 15 s. Resources larger than HEPData's
    100 MB are left out, with a warning. None and nothing written for a run without results."""
    results = [r for r in results if len(r)]
    if not results:
        return None
    path = Path(path)
    attached = []
    for resource, description in resources:
        resource = Path(resource).resolve()
        if resource.exists() and resource.stat().st_size > _MAX_RESOURCE_BYTES:
            log.warning("%s is larger than HEPData's 100 MB: left out of %s", resource, path)
            continue
        attached.append((resource, description))
    sub = submission(results, title=title, paper=paper, sqrt_s_gev=sqrt_s_gev, resources=attached)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        _write_files(sub, folder)
        problems = validate_submission(folder) if validate else []
        if problems:
            raise AnalysisError(f"the HEPData submission of {title} is not valid: " + "; ".join(problems[:5]))
        archive = Path(tmp) / "submission.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for member in sorted(folder.iterdir()):
                tar.add(member, arcname=member.name)
        os.replace(archive, path)
    return path
