"""The notebook's side of a run: its parameters validated, its context, and the files it writes.

A channel's notebook starts with :func:`setup`, which validates the notebook's parameters (the
channel's and the execution parameters the runner sets) against the channel's declaration and
returns a :class:`NotebookRun`: the channel, the validated parameters, the dataset, the output folder
and the dask client of the scan. :meth:`NotebookRun.analyse` stamps the results with the run's
dataset and model parameters, and :meth:`NotebookRun.write` writes ``limits.csv`` and ``meta.json``
from the results and the parameters alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..analysis.results import LimitScan
from ..analysis.scan import connect, scan_workers
from ..channels import Channel, Study, channel, study
from ..core import timing
from ..core.errors import ParameterError, disk_full
from ..core.parameters import EXECUTION_PARAMETERS, validate
from ..detector.datasets import Dataset
from ..io.hepdata import write_hepdata
from ..io.results import write_efficiencies, write_limits, write_meta, write_sensitivity, write_workspaces
from ..plots import save_png_and_pdf, use_style

__all__ = ["DETECTOR_ROWS", "PROFILE", "NotebookRun", "StudyRun", "setup", "setup_study"]

#: The file of a run's seconds per stage (:mod:`analysis_lib.core.timing`), next to its results.
PROFILE = "profile.json"


def _calorimeter(ds):
    cal = ds.experiment.calorimeter
    return (", ".join(f"{a}-{b}°" for a, b in cal.regions_deg)
            + f", inner radius {cal.barrel_radius_mm / 10:g} cm, showers merge within {cal.min_separation_mm / 10:g} cm")


def _tracking(ds):
    t = ds.experiment.tracker
    return (f"{t.theta_min_deg}-{t.theta_max_deg}°, $\\sigma_{{p_T}}/p_T$ = {100 * t.resolution_pt_term:g}% $p_T$ ⊕ "
            f"{100 * t.resolution_beta_term:g}%/β")


def _kaon_id(ds):
    pid = ds.experiment.pid
    return f"efficiency {pid.kaon_efficiency:.0%}, pion mis-identification {dict(pid.misid_as_kaon)[211]:.1%} (a model)"


def _muon_id(ds):
    pid = ds.experiment.pid
    return (f"{100 * pid.muon_efficiency:g}% above {pid.muon_momentum_min_gev} GeV, {pid.muon_theta_range_deg[0]:g}-"
            f"{pid.muon_theta_range_deg[1]:g}°; pion mis-ID {100 * dict(pid.misid_as_muon)[211]:g}% (a model)")


def _electron_id(ds):
    pid = ds.experiment.pid
    low, high = pid.electron_momentum_range_gev
    return (f"{100 * pid.electron_efficiency:g}% at {low:g}-{high:g} GeV; pion mis-ID "
            f"{100 * dict(pid.misid_as_electron)[211]:g}% (a model)")


#: Rows a notebook may add to :meth:`NotebookRun.dataset_table`: name -> (label, value of a dataset).
DETECTOR_ROWS = {
    "bb_pairs": ("$B\\bar B$ pairs", lambda ds: f"{ds.n_bb_pairs / 1e6:.0f} million"),
    "calorimeter": ("calorimeter", _calorimeter),
    "tracking": ("tracking", _tracking),
    "kaon_id": ("kaon identification", _kaon_id),
    "muon_id": ("muon identification", _muon_id),
    "electron_id": ("electron identification", _electron_id),
}


class _Outputs:
    """What every executed notebook writes into its ``output`` folder: figures and the profile."""

    def write_profile(self):
        """Write the seconds per stage so far into ``profile.json`` (the runner's profile reads it)."""
        (self.output / PROFILE).write_text(json.dumps(timing.totals(), indent=1, sort_keys=True))

    def savefig(self, fig, name: str):
        """Save a figure into the run's folder as ``name`` (PNG, 100 dpi) and beside it as PDF (the
        same name with ``.pdf``); timed as the stage ``plots``."""
        with timing.stage("plots"):
            save_png_and_pdf(fig, self.output / name)
        self.write_profile()


@dataclass
class NotebookRun(_Outputs):
    """One execution of a channel's notebook: what :func:`setup` made of its parameters.

    Attributes
    ----------
    channel : Channel
    params : dict
        The validated run parameters.
    dataset : Dataset
    output : Path
        Folder of ``limits.csv``, ``meta.json`` and figures.
    client : dask.distributed.Client or None
        The cluster the scan spreads over (None: in the kernel).
    """

    channel: Channel
    params: dict
    dataset: Dataset
    output: Path
    client: Any = None
    #: the inputs :meth:`prepare` made (their efficiencies are written with the limits)
    inputs: Any = field(default=None, repr=False)

    @property
    def experiment(self) -> str:
        """The experiment's label, for figures."""
        return self.dataset.experiment.label

    @property
    def lumi(self) -> str:
        """The luminosity as figures print it."""
        return self.dataset.luminosity_label

    def dataset_table(self, *rows: str) -> str:
        """A Markdown table of the dataset and its experiment: name, luminosity, beams and sqrt(s),
        then the named ``rows`` of :data:`DETECTOR_ROWS` (e.g. ``"calorimeter"``, ``"tracking"``)."""
        unknown = sorted(set(rows) - set(DETECTOR_ROWS))
        if unknown:
            raise ParameterError(f"unknown dataset-table rows {unknown}; known rows: {sorted(DETECTOR_ROWS)}")
        ds, exp = self.dataset, self.dataset.experiment
        lines = [
            "| | |", "|---|---|",
            f"| dataset | `{ds.name}`: {ds.description} |",
            f"| luminosity | {ds.luminosity_fb:g} fb$^{{-1}}$ {'(projection)' if ds.projection else ''} |",
            f"| beams | e$^-$ {exp.beams.e_minus_gev} GeV x e$^+$ {exp.beams.e_plus_gev} GeV, crossing angle "
            f"{exp.beams.crossing_angle_mrad} mrad |",
            f"| $\\sqrt{{s}}$, $\\beta\\gamma$ | {exp.sqrt_s_gev:.3f} GeV, {exp.beams.beta_gamma:.3f} |",
        ]
        lines += [f"| {DETECTOR_ROWS[row][0]} | {DETECTOR_ROWS[row][1](ds)} |" for row in rows]
        return "\n".join(lines)

    def prepare(self, *, progress: bool = True):
        """The channel's inputs for this run (timed as the stage ``prepare``; the simulation,
        reading and classifier training inside it are timed on their own)."""
        with timing.stage("prepare"):
            inputs = self.channel.prepare(self.params, progress=progress)
        self.write_profile()
        self.inputs = inputs
        return inputs

    def analyse(self, inputs, *, progress: bool = True) -> dict[str, LimitScan]:
        """The channel's limits for this run, stamped with the dataset and model parameters (timed as
        the stage ``scan``)."""
        with timing.stage("scan"):
            results = self.channel.run(inputs, self.params, progress=progress, client=self.client)
        self.write_profile()
        return results

    def sensitivity(self, inputs):
        """The channel's expected limits versus luminosity for this run (timed as the stage
        ``sensitivity``), written to ``sensitivity.csv``."""
        with timing.stage("sensitivity"):
            result = self.channel.sensitivity(inputs, self.params, client=self.client)
            write_sensitivity(result, self.output / "sensitivity.csv")
        self.write_profile()
        return result

    def show_sensitivity(self, inputs, *, coupling: bool):
        """The chapter's sensitivity cell: the expected limits versus luminosity (:meth:`sensitivity`)
        drawn (``sensitivity.png``, ``coupling``: reference scalings of a coupling whose rate goes
        as its square) and tabulated (the median per luminosity and mass). A run whose
        ``luminosity_scan`` is off computes nothing and says where the curve is. Returns the
        :class:`~analysis_lib.analysis.sensitivity.Sensitivity`, or None."""
        import matplotlib.pyplot as plt
        from IPython.display import Markdown, display

        from ..plots import plot_sensitivity

        if not self.params.get("luminosity_scan", True):
            display(Markdown(
                "This run leaves the expected limits versus luminosity out (`luminosity_scan = False`). The "
                f"paragraph above describes them as the chapter's run on {self.experiment}'s published data set "
                "draws them: that run's likelihoods and selection, scaled from 0.1 fb$^{-1}$ to 50 ab$^{-1}$. "
                f"This run's limits above are the projection to {self.lumi} with the selection chosen at that "
                "luminosity, so they may differ from that curve's point here."))
            return None
        result = self.sensitivity(inputs)
        fig = plot_sensitivity(result, coupling=coupling)
        self.savefig(fig, "sensitivity.png")
        plt.show()
        frame = result.to_frame()
        columns = ["mass_gev", "mass2_gev"] if "mass2_gev" in frame else "mass_gev"
        display(frame.pivot_table(index="luminosity_fb", columns=columns, values="expected").style.format("{:.3g}"))
        return result

    def write(self, results) -> Any:
        """Write ``limits.csv`` (the results in the order given), ``meta.json``, where the scans made
        them ``workspaces.zip``, where the channel gives them the signal efficiencies for recasting
        (``efficiencies.csv``, from the inputs of :meth:`prepare`), and ``hepdata.tar.gz`` (a HEPData
        submission of the limits, with the CSV and the workspaces attached); returns the table."""
        results = list(results.values() if isinstance(results, Mapping) else results)
        frame = write_limits(results, self.output / "limits.csv")
        workspaces = write_workspaces(results, self.output / "workspaces.zip")
        write_meta(self.output / "meta.json", results, self.params, channel=self.channel.name,
                   scan_workers=scan_workers(self.client))
        resources = [(self.output / "limits.csv", "the limits of this run in long form (CSV)")]
        if workspaces is not None:
            resources.append((workspaces, "the pyhf JSON workspaces of the hypotheses (index.json lists them)"))
        extras = {
            "efficiencies.csv": lambda: self.inputs is not None and write_efficiencies(
                self.channel.efficiencies(self.inputs, self.params), self.output / "efficiencies.csv"),
            "hepdata.tar.gz": lambda: write_hepdata(
                results, self.output / "hepdata.tar.gz", title=f"{self.channel.title}, {self.dataset.name}",
                paper=self.channel.paper or self.channel.title,
                sqrt_s_gev=[part.sqrt_s_gev for part in self.dataset.parts], resources=resources),
        }
        for name, make in extras.items():  # the limits stand without them: a failure is said, not raised
            try:
                make()
            except Exception as exc:
                if disk_full(exc):
                    raise
                print(f"{name} was not written: {type(exc).__name__}: {exc}")
        return frame

    def close(self):
        """Close the dask client, if any."""
        if self.client is not None:
            self.client.close()
            self.client = None


def setup(name: str, namespace: Mapping, *, style: bool = True) -> NotebookRun:
    """The run of channel ``name`` with the parameters found in ``namespace`` (a notebook's
    ``globals()``): the channel's and the execution parameters (``output_dir``, ``scheduler``),
    validated; :class:`ParameterError` names a wrong value and the fix. Sets the figure style (unless
    ``style`` is False), logging at WARNING, creates the output folder and connects to the scan's
    cluster."""
    ch = channel(name)
    params, execution, output = _start(ch, namespace, style)
    return NotebookRun(channel=ch, params=params, dataset=ch.dataset(params), output=output,
                       client=connect(execution["scheduler"]))


@dataclass
class StudyRun(_Outputs):
    """One execution of a study's notebook: the study, its validated parameters, its output folder."""

    study: Study
    params: dict
    output: Path


def setup_study(name: str, namespace: Mapping, *, style: bool = True) -> StudyRun:
    """The run of study ``name`` with the parameters found in ``namespace``, as :func:`setup` makes a
    channel's (a study computes in its kernel: the ``scheduler`` it is given is not used)."""
    st = study(name)
    params, _, output = _start(st, namespace, style)
    return StudyRun(study=st, params=params, output=output)


#: How papermill's injected cell begins (``papermill.translators.PythonTranslator.codify``); the
#: notebook's own parameters cell begins otherwise ("# Parameters (papermill replaces ...").
_INJECTED = "# Parameters\n"


def _unknown_names(declaration, namespace) -> list[str]:
    """The names papermill injected into the notebook (the assignments of its injected cell, found in
    the kernel's input history ``In``) that neither the declaration nor the runner knows: a misspelled
    parameter, which would otherwise leave the default in place silently. None outside a papermill
    execution (a kernel of JupyterLab, or a test's plain namespace)."""
    import ast

    injected = [cell for cell in namespace.get("In", []) if isinstance(cell, str) and cell.startswith(_INJECTED)]
    if not injected:
        return []
    try:
        tree = ast.parse(injected[-1])
    except SyntaxError:
        return []
    given = {target.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
             if isinstance(target, ast.Name)}
    known = {p.name for p in (*declaration.parameters, *EXECUTION_PARAMETERS)}
    return sorted(given - known)


def _figures_as_pdf_too():
    """In a kernel, every figure a cell shows is sent as PNG (for the page) and PDF (the runner writes
    both into the run's ``figures.zip``, :func:`analysis_lib.runner.pages.finish_page`); outside a
    kernel nothing changes."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png", "pdf")


def _start(declaration, namespace, style):
    """The declared and execution parameters of ``namespace``, validated (a name that is no parameter
    is refused, as the runner refuses it); logging, timing and the figure style set up; the output
    folder created."""
    unknown = _unknown_names(declaration, namespace)
    if unknown:
        raise ParameterError(f"unknown parameter {unknown[0]!r} given to the notebook; known parameters: "
                             f"{sorted(p.name for p in declaration.parameters)} (and the runner's "
                             f"{[p.name for p in EXECUTION_PARAMETERS]})")
    params = declaration.validate({p.name: namespace[p.name] for p in declaration.parameters if p.name in namespace})
    execution = validate(EXECUTION_PARAMETERS, {p.name: namespace[p.name] for p in EXECUTION_PARAMETERS
                                                if p.name in namespace})
    logging.basicConfig(level=logging.WARNING)
    timing.reset()
    if style:
        use_style()
    _figures_as_pdf_too()
    output = Path(execution["output_dir"])
    output.mkdir(parents=True, exist_ok=True)
    return params, execution, output
