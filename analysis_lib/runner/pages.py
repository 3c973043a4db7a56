"""The book's pages around the runs: the landing page, the table of contents, and each executed
notebook made into a page people read.

* :func:`write_landing` writes ``<book>/index.md`` from the runs' ``limits.csv``, ``meta.json`` and
  ``status.json`` alone (never by hand, so it is current after every build): what the book is (the
  prose of ``intro.md``), the searches with their publication and status, one figure per kind of
  coupling or rate that the channels declare (:class:`~analysis_lib.channels.base.Overview`: every
  run of every search on it, converted to that coupling, with the published results), and the table
  of runs linking to their pages.
* :func:`write_toc` writes ``_toc.yml``: the landing page, then a part per search with its runs, the
  recasting page (:mod:`analysis_lib.runner.recasting`), the studies of the method, and the pages for
  developers.
* :func:`finish_page` turns an executed notebook into its page: the run's title, its parameters in
  one line, code cells folded (a reader opens them when wanted), the parameter cells removed, every
  figure of the page written as PDF and PNG, and a last section with the run's files to download.
"""

from __future__ import annotations

import base64
import json
import logging
import zipfile
from pathlib import Path

import nbformat
import numpy as np

from ..channels import Study, channels, notebook_declaration
from ..core.cache import content_key
from ..core.paths import written_atomically
from ..core.units import luminosity_label
from ..io.published import PUBLISHED_DIR
from ..plots.figures import quantity_label

__all__ = ["BOOK_FILES", "DOWNLOADS", "OVERVIEW", "RESERVED_IDS", "chosen_parameters", "copy_book_files",
           "figure_block", "finish_page", "made_once", "page_of", "run_files", "run_status", "write_landing",
           "write_toc"]

log = logging.getLogger(__name__)

#: The book's own files beside the runs (a copy of a book folder needs them): its configuration, the
#: prose of the landing page, the page for developers, its Sphinx extension and style sheet.
BOOK_FILES = ("_config.yml", "intro.md", "adding_a_search.md", "_ext", "_static")
#: The folder of the landing page's figures, under ``<book>/runs``.
OVERVIEW = "overview"
#: Folders of ``<book>/runs`` that hold the book's own pages' files: no run may take these ids.
RESERVED_IDS = frozenset({OVERVIEW, "recasting"})
#: The files of a run offered for download on its page, in this order, with what they are.
DOWNLOADS = {
    "limits.csv": "the limits versus mass, observed and expected with the ±1σ and ±2σ band (long form)",
    "sensitivity.csv": "the expected limits versus luminosity",
    "meta.json": "the run's conventions: dataset, luminosity, confidence level, method, parameters, versions",
    "workspaces.zip": "the pyhf JSON workspace of every hypothesis (pyhf's own format; index.json lists them)",
    "hepdata.tar.gz": "a HEPData submission of the limit tables (its format checked by the tests with the HEPData validator)",
    "efficiencies.csv": "the signal efficiencies the limits come from, for recasting",
    "figures.zip": "every figure of this page, as PDF and PNG",
}
#: Tags of the cells papermill adds or reads: removed from the page (their values are in its first lines).
_PARAMETER_TAGS = {"parameters", "injected-parameters"}


def copy_book_files(source: Path, target: Path):
    """Copy the book's own files (:data:`BOOK_FILES`) of the book folder ``source`` into ``target``
    (created): what a book folder of other runs needs (tests, benchmarks)."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        path = Path(source) / name
        if path.is_dir():
            shutil.copytree(path, target / name, dirs_exist_ok=True)
        elif path.exists():
            shutil.copy(path, target / name)


def made_once(folder: Path, name: str, inputs, make):
    """``make()`` (which returns JSON-able values, and may write files into ``folder``), made again
    only when the contents of the files ``inputs`` or the library's code changed: its value and the
    key are kept in ``folder/.<name>.json``, and the files it wrote are checked to be still there.
    A rebuild with nothing changed then draws no figure again."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / f".{name}.json"
    texts = [(str(path.name), path.read_text() if path.exists() else None) for path in map(Path, inputs)]
    key = content_key(name, texts)
    try:
        kept = json.loads(record.read_text())
        if kept["key"] == key and all((folder / f).exists() for f in kept["files"]):
            return kept["value"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if not p.name.startswith(".")}
    value = make()
    files = sorted(p.name for p in folder.iterdir()
                   if not p.name.startswith(".") and before.get(p.name) != p.stat().st_mtime_ns)
    with written_atomically(record) as tmp:
        tmp.write_text(json.dumps({"key": key, "files": files, "value": value}))
    return value


def run_files(run) -> list[Path]:
    """The files of a run's folder that the pages read: its status, limits, conventions, efficiencies."""
    return [run.folder / name for name in ("status.json", "limits.csv", "meta.json", "efficiencies.csv")]


def page_of(run) -> Path | None:
    """The page of a run in its folder: the executed notebook, or the error page of a run that could
    not execute; None for a run not yet executed."""
    if (run.folder / run.notebook).exists():
        return run.folder / run.notebook
    if (run.folder / "error.md").exists():
        return run.folder / "error.md"
    return None


def figure_block(path: str, alt: str, caption: str) -> list[str]:
    """The MyST lines of a figure of the book (``path`` a PNG relative to the book) with its caption
    and a link to download it as PDF."""
    return [f"```{{figure}} {path}", f":alt: {alt}", ":width: 90%", "",
            f"{caption} {{download}}`PDF <{path.replace('.png', '.pdf')}>`", "```", ""]


def run_status(run) -> dict:
    """The run's ``status.json`` (``{"status": "not run"}`` where it has none or it cannot be read)."""
    try:
        return json.loads((run.folder / "status.json").read_text())
    except (OSError, ValueError):
        return {"status": "not run", "seconds": ""}


def _meta(run) -> dict | None:
    try:
        return json.loads((run.folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def _declared(runs):
    """The runs grouped by what declares their notebook (channel or study), in the order of the runs
    file; a notebook that nothing declares is grouped on its own."""
    groups = {}
    for run in runs:
        try:
            key = notebook_declaration(run.notebook)
        except Exception:  # an unknown notebook: the runs file's check names it; here it only gets a part
            key = run.notebook
        groups.setdefault(key, []).append(run)
    return groups


def write_toc(runs, book_dir: Path):
    """Write ``<book_dir>/_toc.yml`` and the landing page for the runs that have a page: a part per
    search (its title as the caption, its runs beneath), the studies of the method, and the page for
    developers."""
    from .recasting import write_recasting

    try:
        write_landing(runs, book_dir)
    except Exception as exc:  # the runs' pages are built even when the landing page cannot be
        log.error("the landing page could not be written (%s)", exc)
        with written_atomically(book_dir / "index.md") as tmp:
            tmp.write_text(f"# The book\n\nThe landing page could not be written from the runs' files: "
                           f"{type(exc).__name__}: {exc}\n")
    recasting = write_recasting(runs, book_dir)
    searches, studies = [], []
    for declaration, group in _declared(runs).items():
        chapters = [{"file": str(page_of(run).relative_to(book_dir).with_suffix(""))} for run in group if page_of(run)]
        if not chapters:
            continue
        if isinstance(declaration, Study):
            studies += chapters
        else:
            searches.append({"caption": getattr(declaration, "title", str(declaration)), "chapters": chapters})
    parts = searches + [{"caption": "Re-interpretation", "chapters": [{"file": recasting.stem}]}]
    parts += [{"caption": "The method", "chapters": studies}] if studies else []
    if (book_dir / "adding_a_search.md").exists():
        parts.append({"caption": "Developing", "chapters": [{"file": "adding_a_search"}]})
    toc = {"format": "jb-book", "root": "index", "parts": parts}
    import yaml

    with written_atomically(book_dir / "_toc.yml") as tmp:
        tmp.write_text(yaml.safe_dump(toc, sort_keys=False, allow_unicode=True))


def _link(run, book_dir: Path, text: str) -> str:
    page = page_of(run)
    return f"[{text}]({page.relative_to(book_dir).as_posix()})" if page else text


def chosen_parameters(run) -> dict:
    """The parameters of ``run`` that differ from its notebook's declared defaults (what the runs file
    chose), in their order, and always its dataset; all of them where the notebook's declaration is
    unknown."""
    try:
        defaults = {p.name: p.default for p in notebook_declaration(run.notebook).parameters}
    except Exception:  # an unknown notebook: the runs file's check names it
        return dict(run.parameters)
    return {k: v for k, v in run.parameters.items() if k == "dataset" or k not in defaults or v != defaults[k]}


def _parameters_text(parameters: dict, *, skip=()) -> str:
    """The parameters a run was given, as one line (``skip``: names said elsewhere)."""
    shown = {k: v for k, v in parameters.items() if k not in skip}
    return ", ".join(f"`{k}` = {v}" for k, v in shown.items()) or "none"


def _luminosity(run, meta) -> str:
    if meta is not None and "luminosity_fb" in meta:
        return luminosity_label(float(meta["luminosity_fb"]))
    try:
        from ..detector.datasets import dataset

        return luminosity_label(dataset(run.parameters["dataset"]).luminosity_fb)
    except Exception:  # a study, or a dataset the registry no longer has: the table says nothing
        return ""


def _searches_table(groups, book_dir) -> list[str]:
    lines = ["| search | publication | status | runs |", "|---|---|---|---|"]
    for ch in channels().values():
        group = groups.get(ch, [])
        statuses = [run_status(run).get("status", "unknown") for run in group]
        done = sum(s == "ok" for s in statuses)
        runs = f"{done} of {len(group)} executed" if group else "none in this book"
        if any(s == "failed" for s in statuses):
            runs += f", {statuses.count('failed')} failed"
        title = _link(group[0], book_dir, ch.title) if group else ch.title
        lines.append(f"| {title} | {ch.paper} | {ch.status} | {runs} |")
    return lines


def _runs_table(groups, book_dir) -> list[str]:
    lines = ["| search | run | dataset | luminosity | parameters | status | time [s] |", "|---|---|---|---|---|---|---|"]
    for declaration, group in groups.items():
        for run in group:
            status, meta = run_status(run), _meta(run)
            dataset = run.parameters.get("dataset", "")
            lines.append(f"| {getattr(declaration, 'title', declaration)} | {_link(run, book_dir, run.title)} | "
                         f"`{dataset}` | {_luminosity(run, meta)} | {_parameters_text(chosen_parameters(run), skip=('dataset',))} | "
                         f"{status.get('status', 'unknown')} | {status.get('seconds', '')} |")
    return lines


def _curve_label(scan, slice_note: str) -> str:
    label = f"{scan.experiment} {luminosity_label(scan.luminosity_fb)}"
    if scan.projection:
        label += " (projection)"
    if isinstance(scan.model.get("ctau_mm"), int | float):
        label += f", $c\\tau$ = {scan.model['ctau_mm']:g} mm"
    return label + slice_note


def _same(a, b) -> bool:
    return (np.array_equal(a.masses_gev, b.masses_gev) and np.array_equal(a.observed, b.observed, equal_nan=True)
            and np.array_equal(a.expected, b.expected, equal_nan=True))


def overview_curves(groups) -> dict:
    """The landing page's figures: for each kind of coupling or rate that the channels' :attr:`overview`
    declare, the declarations drawn on it (with their channel) and the one-mass limits of every
    executed run of those channels (a two-mass scan sliced at the declared second mass, converted to
    the kind), by legend label. Runs whose limits are identical (a coupling limit shared by the runs
    of several lifetimes) are drawn once; a label two runs would share names the run."""
    from ..analysis.results import read_results

    figures = {}
    for ch, group in groups.items():
        for overview in getattr(ch, "overview", ()):
            declared, curves = figures.setdefault(overview.figure, ([], {}))
            declared.append((overview, ch))
            for run in group:
                if run_status(run).get("status") != "ok" or _meta(run) is None:
                    continue
                try:
                    scan = read_results(run.folder).get(overview.quantity)
                    if scan is None or not len(scan):
                        continue
                    note = ""
                    if scan.two_dimensional:
                        if overview.mass2_gev is None:
                            raise ValueError(f"{overview.quantity} has two masses: its Overview needs mass2_gev")
                        scan = scan.at_mass2(overview.mass2_gev)
                        note = f", {scan.notes[0]}"  # the slice's second mass
                    scan = overview.convert(scan)
                except Exception as exc:  # unreadable results: the run's page says more; the figure goes on
                    log.warning("run %s: its limits on %s are left off the landing page (%s)", run.id,
                                overview.quantity, exc)
                    continue
                if any(_same(scan, c) for c in curves.values()):
                    continue
                label = (f"{overview.label}: " if overview.label else "") + _curve_label(scan, note)
                curves[label if label not in curves else f"{label} ({run.id})"] = scan
    return {kind: entry for kind, entry in figures.items() if entry[1]}


def _published(declared) -> list:
    """The published results of the declarations drawn on a figure (where the kind is their own
    quantity: a converted limit is not compared with another quantity's publication)."""
    references = [ch.reference(ov.published) for ov, ch in declared if ov.published and ov.figure == ov.quantity]
    return [reference for reference in references if reference is not None]


def _overview_figure(kind, declared, curves, folder: Path) -> str:
    """Draw one overview figure into ``folder`` (PNG and PDF); returns the PNG's file name."""
    import matplotlib

    matplotlib.use("Agg")
    from ..plots import plot_limits, save_png_and_pdf, use_style

    use_style()
    experiments = ", ".join(sorted({scan.experiment for scan in curves.values()}))
    fig = plot_limits(curves, logx=any(ov.logx for ov, _ in declared), experiment=experiments, lumi="all runs",
                      published=_published(declared))
    name = f"{kind}.png"
    save_png_and_pdf(fig, folder / name, close=True)
    return name


def write_landing(runs, book_dir: Path) -> Path:
    """Write the landing page ``<book_dir>/index.md`` and its figures (``runs/overview/``) from the
    runs' files: the prose of ``intro.md``, the searches, the overview figures and the runs."""
    book_dir = Path(book_dir)
    groups = _declared(runs)
    search_groups = {k: v for k, v in groups.items() if not isinstance(k, Study) and not isinstance(k, str)}
    intro = book_dir / "intro.md"
    lines = [intro.read_text().rstrip() if intro.exists() else "# The book", ""]
    lines += ["## The searches", "",
              "Each search is one notebook executed for several data sets (a part of the book each); its "
              "status says whether the re-creation is complete.", ""]
    lines += _searches_table(search_groups, book_dir)
    lines += ["", "## Limits across the searches", "",
              "Every run of a search on one figure: observed limits (solid: of the pseudo-data, since every "
              "result here is a simulation re-creation), median expected limits (dashed) with their ±1σ "
              "band, and the published result in red where one is known. Projections to larger "
              "luminosities use the same detector model and selection.", ""]
    try:
        figures = overview_curves(search_groups)
    except Exception as exc:  # the figures must not cost the book its landing page
        log.warning("the landing page's figures could not be made (%s)", exc)
        figures = {}
    folder = book_dir / "runs" / OVERVIEW
    for kind, (declared, curves) in figures.items():
        channels_drawn = list(dict.fromkeys(ch for _, ch in declared))
        inputs = [path for ch in channels_drawn for run in search_groups[ch] for path in run_files(run)]
        inputs += [PUBLISHED_DIR / ch.published[ov.published] for ov, ch in declared
                   if ov.published in getattr(ch, "published", {})]  # a digitised curve
        try:
            name = made_once(folder, kind, inputs,
                             lambda declared=declared, curves=curves: _overview_figure(kind, declared, curves, folder))
        except Exception as exc:  # a figure that cannot be drawn must not cost the book its landing page
            log.warning("the landing page's figure of %s could not be drawn (%s)", kind, exc)
            continue
        published = _published(declared)
        source = (" Published: " + "; ".join(p.label for p in published) + ".") if published else ""
        searches = ", ".join(ch.title for ch in channels_drawn)
        lines += [f"### {quantity_label(kind)}", "",
                  *figure_block(f"runs/{OVERVIEW}/{name}", f"limits on {kind} of every run of {searches}",
                                f"{searches}: {len(curves)} run(s).{source}")]
    if not figures:
        lines += ["No run has results yet: `make book` executes them.", ""]
    lines += ["## Runs", "", "Every run of `book/runs.yaml`: its search, dataset and parameters, whether it "
              "executed, and how long it took on its worker.", ""]
    lines += _runs_table(groups, book_dir)
    path = book_dir / "index.md"
    with written_atomically(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# the page of one run


def _figures(nb, folder: Path) -> list[str]:
    """Write every figure of the executed notebook ``nb`` into ``folder/figures.zip`` (PDF where the
    kernel gave one, and PNG), dropping the PDF from the page (the browser shows the PNG). Returns
    the names written."""
    names, files = [], {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" not in data:
                continue
            stem = f"figure_{len(names) + 1:02d}"
            files[f"{stem}.png"] = base64.b64decode(data["image/png"])
            if "application/pdf" in data:
                files[f"{stem}.pdf"] = base64.b64decode(data.pop("application/pdf"))
            names.append(stem)
    if files:
        with written_atomically(folder / "figures.zip") as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, content in files.items():
                    archive.writestr(name, content)
    return names


def _downloads(folder: Path) -> str:
    lines = ["## Downloads", "",
             "The files of this run (a simulation re-creation: the \"observed\" limits are those of pseudo-data):", ""]
    for name, what in DOWNLOADS.items():
        if (folder / name).exists():
            lines.append(f"* {{download}}`{name} <{name}>`: {what}")
    named = sorted(p for p in folder.glob("*.pdf"))
    if named:
        lines.append("* the figures of the results, PDF and PNG: "
                     + ", ".join(f"{{download}}`{p.stem} <{p.name}>` ({{download}}`PNG <{p.stem}.png>`)"
                                 for p in named if (folder / f"{p.stem}.png").exists()))
    return "\n".join(lines)


def finish_page(path: Path, title: str, parameters: dict):
    """Make the executed notebook ``path`` a page: ``title`` as its first heading (the notebook's own
    kept beneath it), ``parameters`` (those the runs file chose, :func:`chosen_parameters`) in one line, its parameter cells removed and its other code
    cells folded, every figure written as PDF and PNG (``figures.zip`` beside it) and the run's files
    to download in a last section."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            first, _, rest = cell.source.lstrip().partition("\n")
            cell.source = (f"# {title}\n\n*{first[2:].strip()}*\n\nParameters of this run: "
                           f"{_parameters_text(parameters)} (the others at the notebook's defaults).\n{rest}")
            break
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        if tags & _PARAMETER_TAGS:
            tags.add("remove-cell")
        else:
            tags.add("hide-input")
        cell.metadata["tags"] = sorted(tags)
    _figures(nb, path.parent)
    nb.cells.append(nbformat.v4.new_markdown_cell(_downloads(path.parent)))
    with written_atomically(path) as tmp:
        nbformat.write(nb, tmp)
