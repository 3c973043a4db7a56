"""The book's recasting page, written from the runs' files at every build (never by hand): three
chapters' limits recast to other models with :mod:`analysis_lib.analysis.recast` and the chapters'
recast functions, without simulating again.

* BaBar B -> K a: an ALP that couples to hypercharge too (g_aB = r g_aW), whose photon coupling, hence
  lifetime, changes: the rate limits of the chapter's lifetime runs and their stored efficiencies
  give the limit at any lifetime (:func:`~analysis_lib.channels.babar_b_to_k_alp.recast_hypercharge`);
  r = 0 is compared with the chapter's own coupling limit, which recomputes every lifetime.
* Belle II gamma a: an ALP with a width to other states
  (:func:`~analysis_lib.channels.belle2_alp_3gamma.recast_other_width`).
* Belle II Z' -> invisible: other invisible branching fractions
  (:func:`~analysis_lib.channels.belle2_zprime_invisible.recast_invisible_fraction`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..analysis.results import read_results
from ..channels import babar_b_to_k_alp, belle2_alp_3gamma, belle2_zprime_invisible
from ..core.paths import written_atomically
from ..core.units import luminosity_label
from .pages import figure_block, made_once, run_files, run_status

__all__ = ["PAGE", "write_recasting"]

log = logging.getLogger(__name__)

#: The page, relative to the book folder (its figures in ``runs/recasting``, a reserved run id).
PAGE = "recasting.md"
#: The models drawn: g_aB / g_aW; extra widths of the ALP (GeV); invisible branching fractions of the Z'.
HYPERCHARGE_RATIOS = (0.0, 1.0, -0.2)
OTHER_WIDTHS_GEV = (0.0, 1e-10, 1e-8)
INVISIBLE_FRACTIONS = (1.0, 0.5, 0.1)


def _runs_of(runs, notebook, *, with_file="limits.csv"):
    return [run for run in runs if run.notebook == notebook and run_status(run).get("status") == "ok"
            and (run.folder / with_file).exists()]


def _figure(curves, name, folder, *, logx=False, title=None):
    import matplotlib

    matplotlib.use("Agg")
    from ..plots import plot_limits, save_png_and_pdf, use_style

    use_style()
    first = next(iter(curves.values()))
    fig = plot_limits(curves, logx=logx, title=title,
                      lumi=f"{luminosity_label(first.luminosity_fb)}, recast" if np.isfinite(first.luminosity_fb) else "recast")
    folder.mkdir(parents=True, exist_ok=True)
    save_png_and_pdf(fig, folder / f"{name}.png", close=True)
    return f"runs/recasting/{name}.png"


def _table(columns: dict, masses, points) -> list[str]:
    masses = np.asarray(masses, dtype=float)
    idx = list(dict.fromkeys(int(np.argmin(np.abs(masses - p))) for p in points))
    lines = ["| mass [GeV] | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for i in idx:
        lines.append(f"| {masses[i]:.3g} | " + " | ".join(f"{np.asarray(v)[i]:.3g}" for v in columns.values()) + " |")
    return lines + [""]


def _b_to_k_a(runs, folder) -> list[str]:
    group = _runs_of(runs, babar_b_to_k_alp.BToKAlp.notebook, with_file="efficiencies.csv")
    # runs that differ in their lifetime alone (the same dataset, seed and selection)
    alike = {}
    for run in group:
        others = json.dumps({k: v for k, v in run.parameters.items() if k != "ctau_mm"}, sort_keys=True, default=str)
        alike.setdefault(others, []).append(run)
    if not alike:
        return ["No run of the B → K a chapter with its efficiencies is in this book yet.", ""]
    chosen = max(alike.values(), key=len)
    dataset = chosen[0].parameters.get("dataset")
    own = read_results(chosen[0].folder)["g_aw"]
    ctaus = sorted(float(read_results(r.folder)["br_b_to_k_a_x_br_gg"].model["ctau_mm"]) for r in chosen)
    curves, recast = {}, {}
    for ratio in HYPERCHARGE_RATIOS:
        scan = babar_b_to_k_alp.recast_hypercharge([r.folder for r in chosen], ratio, masses_gev=own.masses_gev)
        recast[ratio] = scan
        curves[f"$g_{{aB}}/g_{{aW}}$ = {ratio:g}"] = scan
    agreement = recast[0.0].expected[:, 2] / own.expected[:, 2]  # at the chapter's own masses
    ok = np.isfinite(agreement)
    check = (f"Check: at $r = 0$ the recast reproduces the chapter's own limit on $g_{{aW}}$ (which recomputes the "
             f"rate limit at every lifetime) within a median {100 * np.median(np.abs(agreement[ok] - 1)):.1f}% and at "
             f"most {100 * np.max(np.abs(agreement[ok] - 1)):.1f}% (expected limits, {int(ok.sum())} masses)."
             if ok.any() else "Check: no mass has both the recast and the chapter's own limit.")
    path = _figure(curves, "b_to_k_a_hypercharge", folder, title=r"BaBar $B^+\to K^+a$, recast")
    lines = [
        "## An ALP coupled to hypercharge: BaBar $B^+ \\to K^+ a$", "",
        f"The chapter's runs on `{dataset}` at $c\\tau$ = {', '.join(f'{c:g}' for c in ctaus)} mm limit "
        "$\\mathcal{B}(B^+\\to K^+a)\\,\\mathcal{B}(a\\to\\gamma\\gamma)$ at their lifetime and store the selection's "
        "efficiency on a grid of lifetimes (`efficiencies.csv`). An ALP that couples to hypercharge as well, "
        "$g_{aB} = r\\,g_{aW}$, has the same $B \\to K a$ rate (only the $W$ changes flavour at one loop) but the "
        "photon coupling $g_{a\\gamma\\gamma} = s_W^2 g_{aW} + c_W^2 g_{aB}$, hence another lifetime: the limit on "
        "$g_{aW}$ is where the rate reaches the rate limit at the lifetime the couplings give.", "",
        "```python",
        "from analysis_lib.channels.babar_b_to_k_alp import recast_hypercharge",
        f"limits = recast_hypercharge([{', '.join(repr(f'book/runs/{r.id}') for r in chosen)}], g_ab_over_g_aw=1.0)",
        "```", "",
        *figure_block(path, "g_aW limits for several hypercharge couplings",
                       "Limits on $g_{aW}$ for three ratios $g_{aB}/g_{aW}$ (solid: observed on the pseudo-data, "
                       "dashed: expected, band ±1σ). A larger photon coupling shortens the lifetime and strengthens "
                       "the limit where the W-coupled ALP escapes the detector (low masses); $r = -0.2$ makes it "
                       "3.3 times smaller (it vanishes at $r = -\\tan^2\\theta_W \\approx -0.29$)."),
        check, "",
    ]
    columns = {"chapter's own (expected)": own.expected[:, 2]}
    columns.update({f"r = {ratio:g} (expected)": recast[ratio].expected[:, 2] for ratio in HYPERCHARGE_RATIOS})
    return lines + ["Expected limits on $g_{aW}$ [GeV$^{-1}$]:", ""] + _table(columns, recast[0.0].masses_gev,
                                                                            (0.2, 0.5, 1.5, 3.0, 4.5))


def _gamma_a(runs, folder) -> list[str]:
    group = _runs_of(runs, belle2_alp_3gamma.AlpThreeGamma.notebook)
    if not group:
        return ["No run of the γa chapter is in this book yet.", ""]
    run = group[0]
    curves = {}
    for width in OTHER_WIDTHS_GEV:
        curves[f"$\\Gamma_x$ = {width:g} GeV"] = belle2_alp_3gamma.recast_other_width(run.folder, width)
    path = _figure(curves, "gamma_a_other_width", folder, logx=True, title=r"Belle II $e^+e^-\to\gamma a$, recast")
    lines = [
        "## An ALP with a width to other states: Belle II $e^+e^- \\to \\gamma a$", "",
        f"The run `{run.id}` limits $\\sigma(e^+e^-\\to\\gamma a)\\,\\mathcal{{B}}(a\\to\\gamma\\gamma)$. An ALP that also "
        "decays to other states (invisible ones, say) with a width $\\Gamma_x$ has "
        "$\\mathcal{B}(a\\to\\gamma\\gamma) = \\Gamma_{\\gamma\\gamma}/(\\Gamma_{\\gamma\\gamma}+\\Gamma_x)$, which falls "
        "as the coupling does: the limit on $g_{a\\gamma\\gamma}$ is where the product reaches the run's limit. The "
        "extra width only shortens a lifetime that is already prompt, so the efficiency is the run's.", "",
        "```python",
        "from analysis_lib.channels.belle2_alp_3gamma import recast_other_width",
        f"limits = recast_other_width('book/runs/{run.id}', other_width_gev=1e-8)",
        "```", "",
        *figure_block(path, "g_agg limits for several non-photon widths",
                       "Limits on $g_{a\\gamma\\gamma}$ for three widths to other states."),
    ]
    return lines


def _zprime(runs, folder) -> list[str]:
    group = _runs_of(runs, belle2_zprime_invisible.ZprimeInvisible.notebook)
    if not group:
        return ["No run of the invisible Z′ chapter is in this book yet.", ""]
    run = group[0]
    curves = {f"$\\mathcal{{B}}(Z'\\to$ inv.$)$ = {b:g}": belle2_zprime_invisible.recast_invisible_fraction(run.folder, b)
              for b in INVISIBLE_FRACTIONS}
    path = _figure(curves, "zprime_invisible_fraction", folder, title=r"Belle II $Z'\to$ invisible, recast")
    return [
        "## Other invisible branching fractions: Belle II $e^+e^- \\to \\mu^+\\mu^- Z'$", "",
        f"The run `{run.id}` sees the muon pair and the recoil alone, so its efficiency does not depend on what the "
        "$Z'$ decays to invisibly: the rate goes as $g'^2\\,\\mathcal{B}$(inv.), and $g'$ scales as "
        "$1/\\sqrt{\\mathcal{B}}$ from the run's limit at $\\mathcal{B}(Z'\\to\\chi\\bar\\chi) = 1$.", "",
        "```python",
        "from analysis_lib.channels.belle2_zprime_invisible import recast_invisible_fraction",
        f"limits = recast_invisible_fraction('book/runs/{run.id}', branching_invisible=0.5)",
        "```", "",
        *figure_block(path, "g' limits for several invisible branching fractions",
                       "Limits on $g'$ for three invisible branching fractions."),
    ]


def write_recasting(runs, book_dir: Path) -> Path:
    """Write the recasting page ``<book_dir>/recasting.md`` and its figures from the runs' files."""
    book_dir = Path(book_dir)
    folder = book_dir / "runs" / "recasting"
    lines = [
        "# Recasting: other models from the stored efficiencies", "",
        "A limit on a rate is a limit on the number of selected signal events divided by the efficiency. "
        "Every run of a chapter writes, beside its limits, the signal efficiencies they come from "
        "(`efficiencies.csv`: versus mass, and versus the lifetime where the chapter reweights its simulated "
        "decays), so another model with the same signal kinematics is limited without simulating again: its rate "
        "against the run's rate limit rescaled by the efficiency at its own lifetime, "
        "$R_\\mathrm{lim}(m, c\\tau) = R_\\mathrm{lim,run}(m)\\,\\varepsilon(m, c\\tau_\\mathrm{run}) / "
        "\\varepsilon(m, c\\tau)$ (`analysis_lib.analysis.recast`). The recast limits keep the runs' conventions "
        "(confidence level, method, data set) and, like every result of this book, are simulation re-creations. "
        "This page is written by the build from the runs' files.", "",
    ]
    for section in (_b_to_k_a, _gamma_a, _zprime):
        inputs = [path for run in runs for path in run_files(run)]
        try:
            lines += made_once(folder, section.__name__.strip("_"), inputs, lambda: section(runs, folder))
        except Exception as exc:  # a recast that fails must not cost the book its other pages
            log.warning("the recasting page's section %s failed (%s)", section.__name__, exc)
            lines += [f"This section could not be made from the runs' files: {type(exc).__name__}: {exc}", ""]
    path = book_dir / PAGE
    with written_atomically(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path
