"""The pages around the runs (analysis_lib.runner.pages): the landing page and table of contents
written from the runs' files, and an executed notebook made a page. On the fixture book
(tests/runner/fixture_book.py), without rendering."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from analysis_lib.analysis.results import read_results
from analysis_lib.channels import channels
from analysis_lib.core.constants import SIN2_THETA_W
from analysis_lib.core.errors import ParameterError
from analysis_lib.runner.cli import load_runs
from analysis_lib.runner.pages import OVERVIEW, chosen_parameters, overview_curves, write_landing, write_toc, _declared

from .fixture_book import FAILED, ROOT, RUNS, _results, make_book


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The fixture book with its pages written once (their figures drawn)."""
    book = make_book(tmp_path_factory.mktemp("pages") / "book")
    write_toc(load_runs(book / "runs.yaml", book_dir=book), book)
    return book


@pytest.fixture
def book(pristine, tmp_path):
    """A copy of the fixture book for a test to change (the drawn figures kept: none is drawn again
    unless the test changes what it shows)."""
    return Path(shutil.copytree(pristine, tmp_path / "book"))


def test_results_read_back_from_the_files_a_run_writes(book):
    written = {r.quantity: r for r in _results("higgs_2019")}
    read = read_results(book / "runs" / "higgs_2019")
    assert read.keys() == written.keys()
    for key, r in read.items():
        w = written[key]
        for name in ("masses_gev", "masses2_gev", "observed", "expected"):
            np.testing.assert_allclose(getattr(r, name), getattr(w, name), rtol=1e-12)
        assert (r.unit, r.cl, r.method, r.dataset, r.experiment, r.luminosity_fb, r.mass_name, r.mass2_name,
                r.pseudo_data) == (w.unit, w.cl, w.method, w.dataset, w.experiment, w.luminosity_fb, w.mass_name,
                                   w.mass2_name, w.pseudo_data)
    with pytest.raises(ParameterError, match="cannot be read"):
        read_results(book / "runs" / FAILED)
    (book / "runs" / "alp_2018" / "limits.csv").write_text("quantity,unit,mass_gev\n")
    with pytest.raises(ParameterError, match="has no rows of 'g_agg'"):
        read_results(book / "runs" / "alp_2018")


def test_the_toc_has_a_part_per_search_then_the_method(book):
    runs = load_runs(book / "runs.yaml", book_dir=book)
    write_toc(runs, book)
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    assert toc["root"] == "index"
    captions = [part["caption"] for part in toc["parts"]]
    assert captions == [channels()[name].title for name in ("belle2_alp_3gamma", "belle2_dark_higgsstrahlung",
                                                             "babar_b_to_k_alp", "belle2_zprime_invisible")] + [
        "Re-interpretation", "The method", "Developing"]
    assert toc["parts"][4]["chapters"] == [{"file": "recasting"}]
    assert [c["file"] for c in toc["parts"][1]["chapters"]] == ["runs/higgs_2019/belle2_dark_higgsstrahlung",
                                                                f"runs/{FAILED}/error"]


def test_the_runs_parameters_shown_are_those_the_runs_file_chose(book):
    runs = {run.id: run for run in load_runs(book / "runs.yaml", book_dir=book)}
    assert len(runs["bka_ctau10"].parameters) > 5  # validated: every declared parameter
    assert chosen_parameters(runs["bka_ctau10"]) == {"dataset": "babar_4s", "ctau_mm": 10.0}
    assert chosen_parameters(runs["coverage"]) == {}
    text = write_landing(list(runs.values()), book).read_text()
    assert "| `babar_4s` | 424 fb$^{-1}$ | `ctau_mm` = 10.0 |" in text and "`seed`" not in text


def test_the_landing_page_comes_from_the_runs_files(book):
    runs = load_runs(book / "runs.yaml", book_dir=book)
    text = write_landing(runs, book).read_text()
    assert text.startswith((book / "intro.md").read_text().splitlines()[0])
    for ch in channels().values():
        assert f"| {ch.paper} | {ch.status} |" in text
    for run_id, (notebook, title, _) in RUNS.items():
        page = "error.md" if run_id == FAILED else notebook
        assert f"[{title}](runs/{run_id}/{page})" in text
    assert "| `belle2_50ab` | 50 ab$^{-1}$ |" in text and "| failed |" in text
    for quantity in ("g_agg", "eps2_alpha_d", "eps_alpha_d_0p5", "br_b_to_k_a_x_br_gg", "g_prime_neutrinos"):
        assert f"runs/{OVERVIEW}/{quantity}.png" in text
        assert (book / "runs" / OVERVIEW / f"{quantity}.pdf").stat().st_size > 1000
    # a rebuild draws no figure again unless what it shows changed
    figure = book / "runs" / OVERVIEW / "g_agg.png"
    drawn = figure.stat().st_mtime_ns
    write_landing(runs, book)
    assert figure.stat().st_mtime_ns == drawn
    limits = book / "runs" / "alp_2018" / "limits.csv"
    limits.write_text(limits.read_text().replace("g_agg,GeV^-1,0.2,", "g_agg,GeV^-1,0.21,", 1))
    write_landing(runs, book)
    assert figure.stat().st_mtime_ns != drawn
    # a run added to the folder is on the next landing page: it is never written by hand
    status = book / "runs" / "alp_50ab" / "status.json"
    status.write_text(json.dumps({"status": "failed", "seconds": 3.0}))
    assert "| failed | 3.0 |" in write_landing(runs, book).read_text().split("## Runs")[1]


def _figures(book):
    runs = load_runs(book / "runs.yaml", book_dir=book)
    return overview_curves({k: v for k, v in _declared(runs).items() if hasattr(k, "overview")})


def test_a_figure_per_kind_of_coupling_gathers_the_chapters(book):
    figures = _figures(book)
    assert set(figures) == {"g_agg", "br_b_to_k_a_x_br_gg", "eps2_alpha_d", "eps_alpha_d_0p5", "g_prime_neutrinos"}
    # the photon coupling: the gamma a runs, and B -> K a's g_aW limit as g_agg = s_W^2 g_aW
    declared, curves = figures["g_agg"]
    assert [ch.name for _, ch in declared] == ["belle2_alp_3gamma", "babar_b_to_k_alp"]
    assert sorted(curves) == [r"$B^+\to K^+a$ ($g_{a\gamma\gamma} = s_W^2 g_{aW}$): BaBar 424 fb$^{-1}$",
                              r"$e^+e^-\to\gamma a$: Belle II 445 pb$^{-1}$",
                              r"$e^+e^-\to\gamma a$: Belle II 50 ab$^{-1}$ (projection)"]
    (bka,) = [scan for label, scan in curves.items() if label.startswith("$B")]
    g_aw = read_results(book / "runs" / "bka_ctau0")["g_aw"]
    np.testing.assert_allclose(bka.observed, SIN2_THETA_W * g_aw.observed)
    assert bka.quantity == "g_agg" and bka.unit == "GeV^-1"
    # epsilon at alpha_D = 0.5 from the Higgsstrahlung limit on eps^2 alpha_D, sliced at M_h' = 1 GeV
    (label, scan), = figures["eps_alpha_d_0p5"][1].items()
    eps2 = read_results(book / "runs" / "higgs_2019")["eps2_alpha_d"].at_mass2(1.0)
    assert label.endswith("M_h' = 1.00 GeV") and len(scan) == 12 and not scan.two_dimensional
    np.testing.assert_allclose(scan.observed, np.sqrt(eps2.observed / 0.5))
    # the four lifetimes' rate limits differ and are drawn each; their one coupling limit once
    assert len(figures["br_b_to_k_a_x_br_gg"][1]) == 4


def test_identical_limits_are_drawn_once_and_labels_never_collide(book):
    # two runs with the same limits (NaN included) under different labels: one curve
    alp_2018, alp_50ab = book / "runs" / "alp_2018", book / "runs" / "alp_50ab"
    limits = alp_2018 / "limits.csv"
    frame = pd.read_csv(limits)
    frame.loc[0, "observed"] = np.nan
    frame.to_csv(limits, index=False)
    (alp_50ab / "limits.csv").write_text(limits.read_text())
    meta = json.loads((alp_50ab / "meta.json").read_text())
    assert meta["luminosity_fb"] == 50000.0  # another label
    assert len(_figures(book)["g_agg"][1]) == 2  # one gamma a curve and the B -> K a one
    # two runs with the same label and other limits: both drawn, the second named by its run
    (alp_50ab / "meta.json").write_text((alp_2018 / "meta.json").read_text())
    frame.loc[0, "observed"] = 1.0
    frame.to_csv(alp_50ab / "limits.csv", index=False)
    labels = sorted(_figures(book)["g_agg"][1])
    assert r"$e^+e^-\to\gamma a$: Belle II 445 pb$^{-1}$ (alp_50ab)" in labels and len(labels) == 3


def test_a_page_reads_as_narrative_with_its_downloads(book):
    run = book / "runs" / "alp_2018"
    nb = nbformat.read(run / "belle2_alp_3gamma.ipynb", as_version=4)
    title = nb.cells[0].source
    assert title.startswith(f"# {RUNS['alp_2018'][1]}\n") and ("Parameters of this run: `dataset` = belle2_2018 (the others at the notebook's defaults)."
                                                             in title)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.metadata["tags"] for c in code] == [["parameters", "remove-cell"], ["injected-parameters", "remove-cell"],
                                                  ["hide-input"], ["hide-input"]]
    assert "application/pdf" not in code[2].outputs[0]["data"]  # the page keeps the PNG
    with zipfile.ZipFile(run / "figures.zip") as archive:
        assert sorted(archive.namelist()) == ["figure_01.pdf", "figure_01.png"]
        assert archive.read("figure_01.pdf").startswith(b"%PDF")
    downloads = nb.cells[-1].source
    assert downloads.startswith("## Downloads")
    assert "{download}`limits.csv <limits.csv>`" in downloads and "figures.zip" in downloads
    assert "hepdata.tar.gz" in downloads and "sensitivity.csv" not in downloads  # the files the run wrote


def test_every_runs_outputs_open_with_their_tools(book, capsys):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("check_outputs", ROOT / "tools" / "check_outputs.py")
    tool = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_outputs", tool)
    spec.loader.exec_module(tool)
    assert tool.main(["--runs", str(book / "runs")]) == 0
    out = capsys.readouterr().out
    assert out.count("HEPData valid") == len(RUNS) - 2  # not the failed run nor the study
    assert "54 efficiencies" in out and "all outputs open with their tools" in out
    (book / "runs" / "alp_2018" / "hepdata.tar.gz").unlink()
    assert tool.main(["--runs", str(book / "runs")]) == 1
