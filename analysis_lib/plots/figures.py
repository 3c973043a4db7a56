"""Plots of results: every function takes computed results and an optional ``ax``, returns the
figure, and computes no physics. Every plot is labelled with the experiment, the luminosity and
"Simulation re-creation" (these are not the experiments' results)."""

from __future__ import annotations

import hist
import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np
from scipy.stats import norm

from ..core.units import luminosity_label

__all__ = ["label", "quantity_label", "result_labels", "save_png_and_pdf", "plot_counts_2d", "plot_coverage", "plot_curves", "plot_limit_map", "plot_efficiency_resolution", "plot_fit", "plot_limit", "plot_shapes",
           "plot_significance", "plot_stack", "use_style"]

_LLABEL = "Simulation re-creation"
#: The label of figures of results on real ntuples (signal and backgrounds are still simulated).
_LLABEL_REAL = "Re-analysis"


def save_png_and_pdf(fig, png_path, *, close: bool = False):
    """Write ``fig`` as ``png_path`` (PNG, 100 dpi) and beside it as PDF (the same name with ``.pdf``),
    each whole or not at all (:func:`analysis_lib.core.paths.written_atomically`); the figure is
    closed afterwards with ``close``, whatever happens."""
    from pathlib import Path

    from ..core.paths import written_atomically

    png_path = Path(png_path)
    try:
        for path, options in ((png_path, {"dpi": 100}), (png_path.with_suffix(".pdf"), {})):
            with written_atomically(path) as tmp:
                fig.savefig(tmp, format=path.suffix[1:], bbox_inches="tight", **options)
    finally:
        if close:
            plt.close(fig)


def use_style():
    """The book's matplotlib style (mplhep's ROOT style; no Belle II style exists)."""
    hep.style.use("ROOT")
    plt.rcParams.update({"figure.figsize": (8, 6), "font.size": 16, "legend.fontsize": 12})


def label(ax, *, experiment: str, lumi: str, sqrt_s_gev: float | None = None, simulated: bool = True,
          llabel: str | None = None):
    """Experiment, "Simulation re-creation" (``simulated``, the default) or "Re-analysis" (real
    ntuples), or ``llabel`` when given, and the luminosity (and sqrt(s)) on ``ax``."""
    rlabel = lumi if sqrt_s_gev is None else f"{lumi} ({sqrt_s_gev:.2f} GeV)"
    if llabel is None:
        llabel = _LLABEL if simulated else _LLABEL_REAL
    hep.label.exp_label(exp=experiment, llabel=llabel, rlabel=rlabel, ax=ax, data=not simulated)


def result_labels(result, experiment=None, lumi=None) -> dict:
    """The experiment and luminosity labels of a figure of ``result`` (a
    :class:`~analysis_lib.analysis.results.LimitScan`): its own, unless given; a lifetime among its
    model parameters is added to the luminosity."""
    if lumi is None:
        lumi = luminosity_label(result.luminosity_fb) if np.isfinite(result.luminosity_fb) else ""
        if isinstance(result.model.get("ctau_mm"), int | float):
            lumi = f"{lumi}, $c\\tau$ = {result.model['ctau_mm']:g} mm"
    return {"experiment": experiment if experiment is not None else result.experiment, "lumi": lumi,
            "simulated": result.pseudo_data}


def _observed_label(result) -> str:
    return "observed (pseudo-data)" if result.pseudo_data else "observed"


def _mass_label(result, quantity=None) -> str:
    """The axis label of a result's (first) mass: by quantity where the book has one, else its name."""
    quantity = quantity or result.quantity
    if quantity.startswith("eps_alpha_d_"):
        quantity = "gamma_ee_x_br_visible"  # the darkonium chapter's limits share their masses
    return _MASS_LABELS.get(quantity, f"${result.mass_name}$ [GeV]")


#: Axis labels of second masses that are not written as TeX by their name.
_MASS2_LABELS = {"m_Upsilon_D": r"$m_{\Upsilon_D}$ [GeV]"}


def _axes(ax, ratio=False):
    if ax is not None:
        return ax.figure, ax, None
    if ratio:
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
        return fig, top, bottom
    fig, top = plt.subplots()
    return fig, top, None


def plot_limit(result, *, published=None, ax=None, ratio=True, logy=True, regions=(), experiment=None, lumi=None):
    """Observed limit and expected band (:class:`analysis_lib.analysis.results.LimitScan`) versus
    mass, the published curve overlaid, and the ratio of the expected limit to it in a lower panel.
    Experiment, luminosity and confidence level are the result's (``experiment`` and ``lumi`` override
    the first two).

    ``published`` is a :class:`analysis_lib.io.published.PublishedCurve`, or a
    :class:`analysis_lib.io.published.PublishedRange` (a headline range: its two ends are marked, no
    ratio panel); ``regions`` are extra shaded bands (masses, low, high, label), e.g. the couplings
    that would explain an anomaly.
    """
    from ..io.published import PublishedInterval, PublishedRange

    headline = isinstance(published, PublishedRange | PublishedInterval)
    fig, top, bottom = _axes(ax, ratio=ratio and published is not None and not headline)
    m = result.masses_gev
    e = result.expected
    cl = f"{100 * result.cl:g}% CL"
    top.fill_between(m, e[:, 0], e[:, 4], color="#ffcc00", label=r"Expected $\pm 2\sigma$", lw=0)
    top.fill_between(m, e[:, 1], e[:, 3], color="#00cc00", label=r"Expected $\pm 1\sigma$", lw=0)
    top.plot(m, e[:, 2], "k--", lw=1.5, label=f"Expected {cl}")
    top.plot(m, result.observed, "k-", lw=1.5, label=f"{_observed_label(result).capitalize()} {cl}")
    for masses, low, high, text in regions:
        top.fill_between(masses, low, high, color="tab:purple", alpha=0.25, lw=0, label=text)
    _draw_published(top, published, m)
    unit = f" [{_unit_label(result.unit)}]" if result.unit else ""
    top.set_ylabel(f"{_quantity_label(result.quantity)}{unit}")
    if logy:
        top.set_yscale("log")
    top.legend(loc="upper left", frameon=False)
    ymin, ymax = np.nanmin(e[:, 0]), np.nanmax(np.concatenate([e[:, 4], result.observed]))
    if logy:
        top.set_ylim(ymin / 2, ymax * 30)
    label(top, **result_labels(result, experiment, lumi))
    xlabel = _mass_label(result)
    if bottom is not None:
        ref = published.at(m)
        bottom.plot(m, e[:, 2] / ref, "k--", lw=1.2, label="expected / published")
        bottom.plot(m, result.observed / ref, "k-", lw=1.0, alpha=0.6, label="observed / published")
        bottom.axhline(1.0, color="tab:red", lw=1)
        bottom.set_ylabel("ratio")
        bottom.set_ylim(0, 3)
        bottom.set_xlabel(xlabel)
        bottom.legend(loc="upper left", frameon=False, ncol=2, fontsize=10)
    else:
        top.set_xlabel(xlabel)
    return fig


def _draw_published(ax, published, masses):
    """The published result on ``ax``: a curve, a headline range (its two ends marked, the low-mass
    value drawn over the first quarter of ``masses``) or an interval (a hatched box); nothing for None."""
    from ..io.published import PublishedInterval, PublishedRange

    if isinstance(published, PublishedInterval):
        ax.fill_between(published.mass_range_gev, published.low, published.high, facecolor="none", hatch="//",
                        edgecolor="tab:red", lw=1, label=published.label)
    elif isinstance(published, PublishedRange):
        m = np.sort(np.asarray(masses, dtype=float))
        ax.hlines(published.low_mass_value, m[0], m[0] + 0.25 * (m[-1] - m[0]), colors="tab:red", lw=2.5,
                  label=published.label)
        ax.plot(*published.high_point, marker="*", ms=16, color="tab:red", ls="none")
    elif published is not None:
        ax.plot(published.mass_gev, published.value, color="tab:red", lw=1.5, label=published.label)


_MASS_LABELS = {
    **dict.fromkeys(("g_agg", "g_aw", "br_b_to_k_a_x_br_gg"), r"$m_a$ [GeV]"),
    **dict.fromkeys(("g_prime_neutrinos", "g_prime_dark_matter", "sigma_mumu_zprime_x_br"), r"$M_{Z'}$ [GeV]"),
    **dict.fromkeys(("eps2_alpha_d", "sigma_ahprime_x_br_mumu"), r"$M_{A'}$ [GeV]"),
    "br_b0_lambda_psi": r"$m_{\psi_D}$ [GeV]",
    "gamma_ee_x_br_visible": r"$m_{A'}$ [GeV]",
}


def plot_limits(results, *, ylabel=None, ax=None, logx=False, logy=True, experiment=None, lumi=None, title=None,
                published=None):
    """Several limits on one figure (e.g. one coupling at several values of a model parameter, which
    must not interleave as one curve, or every run of a search): ``results`` maps a legend label to a
    one-mass :class:`~analysis_lib.analysis.results.LimitScan`; each is drawn as its observed limit
    (solid), its median expected one (dashed) and its +-1 sigma band, in its own colour; ``published``
    (a curve, range or interval of :mod:`analysis_lib.io.published`, or a list of them) overlaid in
    red. Labels are the first result's unless given."""
    fig, ax, _ = _axes(ax)
    results = {name: r for name, r in results.items() if len(r)}
    if not results:
        raise ValueError("plot_limits needs at least one result with hypotheses")
    first = next(iter(results.values()))
    for (name, r), colour in zip(results.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        m, e = np.asarray(r.masses_gev), np.asarray(r.expected)
        ax.fill_between(m, e[:, 1], e[:, 3], color=colour, alpha=0.2, lw=0)
        ax.plot(m, e[:, 2], "--", color=colour, lw=1.2)
        ax.plot(m, r.observed, "-", color=colour, lw=1.6, label=name)
    masses = np.concatenate([np.asarray(r.masses_gev, dtype=float) for r in results.values()])
    for reference in (published if isinstance(published, list | tuple) else [published]):
        _draw_published(ax, reference, masses)
    ax.plot([], [], "k-", label=f"{_observed_label(first).capitalize()} {100 * first.cl:g}% CL")
    ax.plot([], [], "k--", label=r"Expected (median, $\pm 1\sigma$)")
    unit = f" [{_unit_label(first.unit)}]" if first.unit else ""
    ax.set_ylabel(ylabel or f"{_quantity_label(first.quantity)}{unit}")
    ax.set_xlabel(_mass_label(first))
    if logx:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # the decades alone: minor labels overlap
    if logy:
        ax.set_yscale("log")
        low = min(np.nanmin(np.asarray(r.expected)[:, 1]) for r in results.values())
        high = max(np.nanmax(np.concatenate([np.asarray(r.expected)[:, 3], r.observed])) for r in results.values())
        ax.set_ylim(low / 2, high * 30)
    ax.legend(loc="upper left", frameon=False, fontsize=11, ncol=2, title=title)
    label(ax, **result_labels(first, experiment, lumi))
    return fig


def quantity_label(quantity) -> str:
    """What a quantity of ``limits.csv`` is, as figures and pages write it (mathtext)."""
    return _quantity_label(quantity)


def _quantity_label(quantity):
    if quantity.startswith("eps_alpha_d_"):  # the darkonium chapter's epsilon at one alpha_D
        return rf"$\varepsilon$ ($\alpha_D$ = {quantity.removeprefix('eps_alpha_d_').replace('p', '.')})"
    return {
        "eps2_alpha_d": r"$\varepsilon^2\alpha_D$",
        "sigma_ahprime_x_br_mumu": r"$\sigma(e^+e^-\to A'h')\,\mathcal{B}(A'\to\mu^+\mu^-)$",
        "g_prime_neutrinos": r"$g'$ ($Z'\to\nu\bar\nu$, $L_\mu-L_\tau$)",
        "g_prime_dark_matter": r"$g'$ ($\mathcal{B}(Z'\to\chi\bar\chi) = 1$)",
        "sigma_mumu_zprime_x_br": r"$\sigma(e^+e^-\to\mu^+\mu^-Z')\,\mathcal{B}(Z'\to\mathrm{inv.})$",
        "g_agg": r"$g_{a\gamma\gamma}$",
        "sigma_x_br": r"$\sigma(e^+e^- \to \gamma a)\,\mathcal{B}(a\to\gamma\gamma)$",
        "mu": r"$\mu$",
        "br_b_to_k_a_x_br_gg": r"$\mathcal{B}(B^+\to K^+a)\,\mathcal{B}(a\to\gamma\gamma)$",
        "g_aw": r"$g_{aW}$",
        "br_b0_lambda_psi": r"$\mathcal{B}(B^0\to\Lambda\psi_D)$",
        "gamma_ee_x_br_visible": r"$\Gamma_{ee}\,\mathcal{B}(\Upsilon_D\to 3A')\,\mathcal{B}(A'\to\mathrm{pairs})^3$",
    }.get(quantity, quantity)


def _unit_label(unit):
    return {"GeV^-1": r"GeV$^{-1}$", "pb": "pb", "fb": "fb"}.get(unit, unit)


def plot_significance(result, *, ax=None, experiment=None, lumi=None):
    """Local p-value of the background-only hypothesis versus mass (from the result's local
    significances), with the 1-3 sigma levels."""
    fig, ax, _ = _axes(ax)
    p_local = norm.sf(np.clip(result.significance, 0, None))
    ax.plot(result.masses_gev, p_local, "k-", lw=1.2, label="local $p_0$")
    for z in (1, 2, 3):
        ax.axhline(norm.sf(z), color="grey", ls=":", lw=1)
        ax.text(result.masses_gev[-1], norm.sf(z), f" {z}$\\sigma$", va="center", fontsize=11)
    ax.set_yscale("log")
    ax.set_xlabel(_mass_label(result))
    ax.set_ylabel(r"local $p_0$")
    ax.set_ylim(min(norm.sf(4), np.nanmin(p_local) / 3), 2)
    ax.legend(frameon=False, loc="lower left")
    label(ax, **result_labels(result, experiment, lumi))
    return fig


def plot_stack(hists, data, *, labels, experiment, lumi, xlabel, ax=None, logy=True, rebin=1,
               data_label="Pseudo-data"):
    """Stacked background histograms (``hist`` objects by sample) with the data as points (labelled
    ``data_label``: "Data" for real ntuples)."""
    fig, ax, _ = _axes(ax)
    names = sorted(hists, key=lambda n: hists[n].sum().value)
    stack = [hists[n][:: hist.rebin(rebin)] if rebin > 1 else hists[n] for n in names]
    hep.histplot(stack, stack=True, histtype="fill", label=[labels[n] for n in names], ax=ax)
    if data is not None:
        d = data[:: hist.rebin(rebin)] if rebin > 1 else data
        hep.histplot(d, histtype="errorbar", color="black", label=data_label, ax=ax, yerr=np.sqrt(d.values()))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Entries / bin")
    if logy:
        ax.set_yscale("log")
        ax.set_ylim(0.5, ax.get_ylim()[1] * 300)
    ax.legend(frameon=False, ncol=2, loc="upper center", fontsize=11)
    label(ax, experiment=experiment, lumi=lumi)
    return fig


def plot_fit(edges, counts, background, total, mu_hat, *, experiment, lumi, xlabel, ax=None):
    """Observed counts in a fit window with the fitted background and signal-plus-background."""
    fig, ax, _ = _axes(ax)
    centres = 0.5 * (edges[1:] + edges[:-1])
    hep.histplot(background, edges, ax=ax, label="background (fitted)", color="tab:blue")
    hep.histplot(total, edges, ax=ax, label=f"signal + background, $\\hat\\mu$ = {mu_hat:.2f}", color="tab:red")
    ax.errorbar(centres, counts, yerr=np.sqrt(counts), fmt="ko", label="Pseudo-data")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Entries / bin")
    ax.legend(frameon=False)
    label(ax, experiment=experiment, lumi=lumi)
    return fig


def plot_efficiency_resolution(masses_gev, efficiency, resolution_gev, *, experiment, lumi):
    """Signal efficiency and mass resolution versus mass, side by side."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
    left.plot(masses_gev, efficiency, "o-")
    left.set_xlabel(r"$m_a$ [GeV]")
    left.set_ylabel("signal efficiency (correct pair)")
    left.set_ylim(0, 1)
    right.plot(masses_gev, 1e3 * np.asarray(resolution_gev), "o-")
    right.set_xlabel(r"$m_a$ [GeV]")
    right.set_ylabel(r"mass resolution $\sigma_m$ [MeV]")
    for ax in (left, right):
        label(ax, experiment=experiment, lumi=lumi)
    return fig


def plot_shapes(samples, *, bins, xlabel, experiment, lumi, ax=None, logy=False):
    """Normalised distributions of a variable for several samples: ``samples`` maps a legend label
    to (values, weights)."""
    fig, ax, _ = _axes(ax)
    for name, (values, weights) in samples.items():
        values, weights = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
        if not values.size or weights.sum() <= 0:
            continue
        counts, edges = np.histogram(values, bins=bins, weights=weights)
        hep.histplot(counts / weights.sum(), edges, ax=ax, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction / bin")
    if logy:
        ax.set_yscale("log")
    ax.legend(frameon=False, fontsize=11)
    label(ax, experiment=experiment, lumi=lumi)
    return fig


def plot_curves(curves, *, xlabel, ylabel, experiment, lumi, ax=None, logy=False, llabel=None):
    """Curves versus a common variable: ``curves`` maps a legend label to (x, y) or (x, y, yerr);
    curves with errors are drawn as points. ``llabel`` replaces "Simulation re-creation"."""
    fig, ax, _ = _axes(ax)
    for name, curve in curves.items():
        x, y = np.asarray(curve[0], dtype=float), np.asarray(curve[1], dtype=float)
        if len(curve) > 2 and curve[2] is not None:
            ax.errorbar(x, y, yerr=curve[2], fmt="o", ms=4, label=name)
        else:
            ax.plot(x, y, "-", lw=1.5, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend(frameon=False, fontsize=11)
    label(ax, experiment=experiment, lumi=lumi, llabel=llabel)
    return fig


def plot_coverage(curves, *, cl, xlabel, ylabel="coverage", thresholds=(), ax=None, logx=True):
    """Coverage of upper limits: ``curves`` as :func:`plot_curves` takes them (label -> (x, y) or
    (x, y, error)), the nominal ``cl`` as a line, and vertical grey lines at ``thresholds`` (label ->
    x: where a method changes). Labelled "Simulation" and "pseudo-experiments" (no experiment)."""
    fig = plot_curves(curves, xlabel=xlabel, ylabel=ylabel, experiment="", lumi="pseudo-experiments", ax=ax,
                      llabel="Simulation")
    ax = fig.axes[0] if ax is None else ax
    ax.axhline(cl, color="black", lw=1, ls=":", label=f"nominal ({cl:.0%})")
    for (name, x), style in zip(dict(thresholds).items(), ("--", "-.", ":")):
        ax.axvline(x, color="grey", ls=style, lw=1.2, label=name)
    if logx:
        ax.set_xscale("log")
    ax.legend(frameon=False, fontsize=11, loc="lower right")
    return fig


def plot_limit_map(result, *, expected=True, ax=None, experiment=None, lumi=None):
    """A limit on a grid of two masses (a two-mass :class:`~analysis_lib.analysis.results.LimitScan`:
    ``masses_gev`` on x, ``masses2_gev`` on y) as coloured cells on a logarithmic colour scale; the
    expected limit (default) or the observed one."""
    from matplotlib.colors import LogNorm

    fig, ax, _ = _axes(ax)
    values = result.expected[:, 2] if expected else result.observed
    heights = np.unique(result.masses2_gev)
    step_h = np.min(np.diff(heights)) if heights.size > 1 else 0.5
    norm_ = LogNorm(vmin=np.nanmin(values), vmax=np.nanmax(values))
    for h in heights:
        sel = result.masses2_gev == h
        x = result.masses_gev[sel]
        edges = np.concatenate([[x[0]], 0.5 * (x[1:] + x[:-1]), [x[-1]]])
        mesh = ax.pcolormesh(edges, [h - step_h / 2, h + step_h / 2], values[sel][None, :], norm=norm_,
                             cmap="viridis", shading="flat")
    unit = f" [{_unit_label(result.unit)}]" if result.unit else ""
    what = "expected" if expected else _observed_label(result)
    fig.colorbar(mesh, ax=ax, label=f"{what} {100 * result.cl:g}% CL {_quantity_label(result.quantity)}{unit}")
    ax.set_xlabel(_mass_label(result))
    ax.set_ylabel(_MASS2_LABELS.get(result.mass2_name, f"${result.mass2_name}$ [GeV]"))
    label(ax, **result_labels(result, experiment, lumi))
    return fig


def plot_counts_2d(values, x_edges, y_edges, *, rebin=(1, 1), xlabel, ylabel, zlabel, experiment, lumi, ax=None):
    """Counts on a 2D grid (e.g. pseudo-data in the plane of two masses) as grey cells on a
    logarithmic scale, ``rebin`` fine cells merged along each axis (the grid must divide evenly)."""
    from matplotlib.colors import LogNorm

    fig, ax, _ = _axes(ax)
    rx, ry = rebin
    nx, ny = (len(x_edges) - 1) // rx, (len(y_edges) - 1) // ry
    merged = np.asarray(values)[: nx * rx, : ny * ry].reshape(nx, rx, ny, ry).sum(axis=(1, 3))
    mesh = ax.pcolormesh(np.asarray(x_edges)[:: rx][: nx + 1], np.asarray(y_edges)[:: ry][: ny + 1], merged.T,
                         cmap="Greys", norm=LogNorm(vmin=0.5))
    fig.colorbar(mesh, ax=ax, label=zlabel)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    label(ax, experiment=experiment, lumi=lumi)
    return fig


def plot_sensitivity(sensitivity, *, coupling: bool, ax=None, experiment=None):
    """Expected limits versus luminosity (a :class:`~analysis_lib.analysis.sensitivity.Sensitivity`):
    per mass the median with its +-1 and +-2 sigma bands, the statistics-only median (dashed), and the
    background-free and background-dominated scalings through the run's own point (L^-1 and L^-1/2
    for a rate; L^-1/2 and L^-1/4 for a ``coupling`` whose rate goes as its square), with a marker
    where a systematic uncertainty takes over (:meth:`~analysis_lib.analysis.sensitivity.Sensitivity.takeover`)."""
    fig, ax, _ = _axes(ax)
    lums = np.asarray(sensitivity.luminosities_fb, dtype=float)
    expected = sensitivity.expected()
    statistical = sensitivity.median_statistical()
    takeover = sensitivity.takeover()
    first = sensitivity.scans[0]
    power = 0.5 if coupling else 1.0
    masses2 = first.masses2_gev
    for k, mass in enumerate(sensitivity.masses_gev):
        name = f"{first.mass_name} = {mass:g} GeV" + (f", {first.mass2_name} = {masses2[k]:g} GeV"
                                                       if masses2 is not None else "")
        line, = ax.plot(lums, expected[k, :, 2], "-", lw=2, label=name)
        colour = line.get_color()
        ax.fill_between(lums, expected[k, :, 0], expected[k, :, 4], color=colour, alpha=0.1, lw=0)
        ax.fill_between(lums, expected[k, :, 1], expected[k, :, 3], color=colour, alpha=0.25, lw=0)
        ax.plot(lums, statistical[k], "--", color=colour, lw=1)
        own = int(np.argmin(np.abs(lums - sensitivity.reference_fb)))
        for p, style in ((power, ":"), (power / 2, "-.")):
            ax.plot(lums, expected[k, own, 2] * (lums / lums[own]) ** (-p), style, color="grey", lw=0.8)
        if np.isfinite(takeover[k]):
            j = int(np.argmin(np.abs(lums - takeover[k])))
            ax.plot(lums[j], expected[k, j, 2], "v", color=colour, ms=9)
    # legend entries of the line styles
    ax.plot([], [], "--", color="black", lw=1, label="statistics only (background known)")
    ax.plot([], [], ":", color="grey", label=f"background-free scaling $L^{{-{power:g}}}$")
    ax.plot([], [], "-.", color="grey", label=f"background-dominated $L^{{-{power / 2:g}}}$")
    ax.plot([], [], "v", color="black", label="a systematic takes over")
    ax.axvline(sensitivity.reference_fb, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"integrated luminosity [fb$^{-1}$]")
    unit = f" [{_unit_label(first.unit)}]" if first.unit else ""
    ax.set_ylabel(f"expected {first.cl:.0%} CL limit on {_quantity_label(first.quantity)}{unit}")
    ax.legend(frameon=False, fontsize=10, loc="upper right")
    label(ax, experiment=experiment if experiment is not None else first.experiment,
          lumi=f"projection from {luminosity_label(sensitivity.reference_fb)}", simulated=first.pseudo_data)
    return fig


__all__ += ["plot_limits", "plot_sensitivity"]
