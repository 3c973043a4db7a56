"""A small book built from fixture results, no chapter executed: runs of three searches and the
coverage study, each folder holding what a run writes (``limits.csv`` and ``meta.json`` from
:class:`LimitScan` values through the writers the notebooks use, ``status.json``, an executed notebook
with a figure), one failed run with its error page. The landing-page, page and browser tests use it."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import nbformat
import numpy as np
import yaml

from analysis_lib.analysis.results import LimitScan
from analysis_lib.io.hepdata import write_hepdata
from analysis_lib.io.results import write_efficiencies, write_limits, write_meta
from analysis_lib.runner.pages import copy_book_files, finish_page

ROOT = Path(__file__).resolve().parents[2]

#: The fixture's runs: id -> (notebook, title, parameters, results or None for a failed run).
RUNS = {
    "alp_2018": ("belle2_alp_3gamma.ipynb", "Belle II e+e- → γa: 2018 data set, 445 pb⁻¹", {"dataset": "belle2_2018"}),
    "alp_50ab": ("belle2_alp_3gamma.ipynb", "Belle II e+e- → γa: projection to 50 ab⁻¹", {"dataset": "belle2_50ab"}),
    "higgs_2019": ("belle2_dark_higgsstrahlung.ipynb", "Belle II e+e- → A′h′: 2019 data set, 8.34 fb⁻¹",
                   {"dataset": "belle2_2019"}),
    "higgs_failed": ("belle2_dark_higgsstrahlung.ipynb", "Belle II e+e- → A′h′: projection to 1 ab⁻¹",
                     {"dataset": "belle2_1ab"}),
    **{f"bka_ctau{c:g}": ("babar_b_to_k_alp.ipynb", f"BaBar B⁺ → K⁺a: 424 fb⁻¹, cτ = {c:g} mm",
                          {"dataset": "babar_4s", "ctau_mm": c}) for c in (0.0, 1.0, 10.0, 100.0)},
    "zprime_2019_2020": ("belle2_zprime_invisible.ipynb", "Belle II e+e- → μ⁺μ⁻Z′: 79.7 fb⁻¹",
                         {"dataset": "belle2_2019_2020"}),
    "coverage": ("coverage.ipynb", "Coverage of the upper limits", {}),
}
#: The run that failed before its notebook ran.
FAILED = "higgs_failed"


def _band(values):
    values = np.asarray(values, dtype=float)
    return np.column_stack([values * f for f in (0.55, 0.75, 1.0, 1.4, 1.9)])


#: The B -> K a fixture's simulated masses and lifetime grid, and its limit on selected signal events per B
#: (observed, then the five expected quantiles), the same at every lifetime.
_BKA_MASSES = (0.2, 0.5, 1.0, 2.0, 3.0, 4.0)
_BKA_CTAUS = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
_BKA_EVENTS = 3e-8 * np.array([1.0, 0.6, 0.8, 1.0, 1.3, 1.8])


def bka_efficiencies():
    """The B -> K a fixture's efficiencies: a prompt one falling with mass, times the chance that the ALP
    (beta gamma = 2.6 / m) decays within 5 cm."""
    import pandas as pd

    rows = []
    for c in _BKA_CTAUS:
        for m in _BKA_MASSES:
            prompt = 0.3 - 0.03 * m
            rows.append({"quantity": "br_b_to_k_a_x_br_gg", "mass_gev": m, "ctau_mm": c,
                         "efficiency": prompt * (1 - np.exp(-50.0 / (2.6 / m * c))) if c > 0 else prompt})
    return pd.DataFrame(rows)


def _bka_rate(ctau):
    from analysis_lib.analysis.recast import efficiency_at

    m = np.linspace(0.25, 3.9, 25)
    values = _BKA_EVENTS[None, :] / efficiency_at(bka_efficiencies(), m, ctau)[:, None]
    return LimitScan(quantity="br_b_to_k_a_x_br_gg", unit="", masses_gev=m, observed=values[:, 0],
                     expected=values[:, 1:], cl=0.9, method="CLs, asymptotic", test_statistic="q~_mu", mass_name="m_a",
                     model={"ctau_mm": ctau}, dataset="babar_4s", experiment="BaBar", luminosity_fb=424.0,
                     data_source="pseudo-data")


def _results(run_id):
    if run_id.startswith("bka"):
        return [_bka_rate(RUNS[run_id][2]["ctau_mm"])]
    lumi = {"alp_2018": 0.445, "alp_50ab": 50000.0, "higgs_2019": 8.34, "zprime_2019_2020": 79.7}[run_id]
    stamp = {"dataset": RUNS[run_id][2]["dataset"], "experiment": "Belle II", "luminosity_fb": lumi,
             "projection": lumi > 1000, "data_source": "ntuple" if run_id.startswith("alp") else "pseudo-data"}
    if run_id.startswith("zprime"):
        m = np.linspace(0.1, 8.0, 30)
        g = 3e-4 * (1 + m)
        dark = LimitScan(quantity="g_prime_dark_matter", unit="", masses_gev=m, observed=g * 1.1, expected=_band(g),
                         cl=0.90, method="CLs, asymptotic", test_statistic="q~_mu", mass_name="M_Z'", **stamp)
        return [dark.transform(lambda mass, v: 1.5 * v, quantity="g_prime_neutrinos", unit=""), dark]
    if run_id.startswith("alp"):
        m = np.linspace(0.2, 9.7, 40)
        g = 1e-3 * (1 + m / 3) * (0.445 / lumi) ** 0.25
        rng = np.random.default_rng(len(run_id))
        g_agg = LimitScan(quantity="g_agg", unit="GeV^-1", masses_gev=m, observed=g * rng.lognormal(0, 0.2, m.size),
                          expected=_band(g), cl=0.95, method="CLs, asymptotic", test_statistic="q~_mu",
                          mass_name="m_a", **stamp)
        sigma = g_agg.transform(lambda mass, v: 1e4 * v**2, quantity="sigma_x_br", unit="pb")
        return [g_agg, sigma]
    a, h = np.meshgrid(np.linspace(4.0, 9.5, 12), [0.5, 1.0, 2.0])
    eps2 = 1e-7 * (1 + a.ravel()) * (1 + h.ravel())
    return [LimitScan(quantity="eps2_alpha_d", unit="", masses_gev=a.ravel(), masses2_gev=h.ravel(), observed=eps2 * 1.1,
                      expected=_band(eps2), cl=0.90, method="Bayesian", test_statistic="counting",
                      mass_name="M_A'", mass2_name="M_h'", **stamp)]


def _png_and_pdf():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("$m$ [GeV]")
    data = {}
    for fmt in ("png", "pdf"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt)
        data[fmt] = base64.b64encode(buffer.getvalue()).decode()
    plt.close(fig)
    return data


def _notebook(path: Path, title: str, parameters: dict):
    """An executed notebook as papermill leaves it: a heading, the parameters cell and papermill's
    injected one, a cell with a figure (PNG and PDF, as the kernels send them) and one with a table."""
    figure = _png_and_pdf()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {title.split(':')[0]}\n\nA fixture page.\n\n## Results"),
        nbformat.v4.new_code_cell("seed = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(f"# Parameters\n{json.dumps(parameters)}", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("plot()", execution_count=1, outputs=[nbformat.v4.new_output(
            "display_data", data={"image/png": figure["png"], "application/pdf": figure["pdf"],
                                  "text/plain": "<Figure>"})]),
        nbformat.v4.new_code_cell("table()", execution_count=2, outputs=[nbformat.v4.new_output(
            "display_data", data={"text/markdown": "| a | b |\n|---|---|\n| 1 | 2 |", "text/plain": "table"})]),
    ]
    nbformat.write(nb, path)


def make_book(folder: Path) -> Path:
    """Write the fixture book into ``folder`` (created) and return it: ``runs.yaml``, the book's own
    pages, and a folder per run as the runner leaves it (pages finished by
    :func:`analysis_lib.runner.pages.finish_page`)."""
    copy_book_files(ROOT / "book", folder)
    (folder / "runs.yaml").write_text(yaml.safe_dump({"runs": [
        {"id": run_id, "notebook": notebook, "title": title, "parameters": parameters}
        for run_id, (notebook, title, parameters) in RUNS.items()]}, allow_unicode=True))
    for run_id, (notebook, title, parameters) in RUNS.items():
        run = folder / "runs" / run_id
        run.mkdir(parents=True)
        if run_id == FAILED:
            (run / "error.md").write_text(f"# {title}\n\nThis run failed before its notebook ran:\n\n```text\n"
                                          "ParameterError: a fixture's failure\n```\n")
            (run / "status.json").write_text(json.dumps({"id": run_id, "status": "failed", "seconds": "",
                                                         "error": "ParameterError: a fixture's failure"}))
            continue
        if run_id != "coverage":
            results = _results(run_id)
            write_limits(results, run / "limits.csv")
            write_meta(run / "meta.json", results, {"seed": 1, **parameters}, channel=notebook.removesuffix(".ipynb"))
            write_hepdata(results, run / "hepdata.tar.gz", title=title, paper="a fixture", sqrt_s_gev=[10.58],
                          resources=[(run / "limits.csv", "the limits")])
        if run_id.startswith("bka"):
            write_efficiencies(bka_efficiencies(), run / "efficiencies.csv")
        (run / "status.json").write_text(json.dumps({"id": run_id, "status": "ok", "seconds": 12.5, "error": None}))
        _notebook(run / notebook, title, parameters)
        finish_page(run / notebook, title, parameters)
    _bka_coupling(folder)
    return folder


def _bka_coupling(folder: Path):
    """The B -> K a runs' g_aW limit (a chapter computes it once for its lifetimes): here the recast of
    the four runs at g_aB = 0, written beside each run's rate limit."""
    from analysis_lib.channels.babar_b_to_k_alp import recast_hypercharge

    folders = [folder / "runs" / run_id for run_id in RUNS if run_id.startswith("bka")]
    coupling = recast_hypercharge(folders, 0.0)
    for run in folders:
        rate = _bka_rate(RUNS[run.name][2]["ctau_mm"])
        write_limits([rate, coupling], run / "limits.csv")
        write_meta(run / "meta.json", [rate, coupling], {"seed": 1, **RUNS[run.name][2]}, channel="babar_b_to_k_alp")
