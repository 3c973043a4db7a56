"""Figures take their labels from the result: experiment, luminosity, lifetime, confidence level and
whether the observed limit is that of pseudo-data."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from analysis_lib.analysis.results import LimitScan
from analysis_lib.plots import plot_limit, plot_limit_map, plot_significance, result_labels


def scan(**fields):
    masses = np.linspace(1.0, 2.0, 5)
    values = {"quantity": "g_aw", "unit": "GeV^-1", "masses_gev": masses, "observed": 1e-5 * masses,
              "expected": 1e-5 * masses[:, None] * np.array([0.5, 0.7, 1.0, 1.4, 2.0]), "cl": 0.9,
              "method": "CLs, asymptotic", "test_statistic": "q~_mu", "significance": np.array([0, 1, 2, 0.5, 0]),
              "experiment": "BaBar", "luminosity_fb": 424.2, "model": {"ctau_mm": 10.0}, "mass_name": "m_a"}
    return LimitScan(**{**values, **fields})


def test_labels_are_the_results_own_unless_given():
    assert result_labels(scan()) == {"experiment": "BaBar", "lumi": "424.2 fb$^{-1}$, $c\\tau$ = 10 mm",
                                     "simulated": True}
    # a lifetime that follows the coupling is not a number to print; a real dataset is not a re-creation
    assert result_labels(scan(model={"ctau_mm": "from the coupling"}, pseudo_data=False)) == {
        "experiment": "BaBar", "lumi": "424.2 fb$^{-1}$", "simulated": False}
    assert result_labels(scan(), experiment="Belle", lumi="1 ab$^{-1}$")["experiment"] == "Belle"
    assert result_labels(scan(), lumi="1 ab$^{-1}$")["lumi"] == "1 ab$^{-1}$"
    assert result_labels(scan(luminosity_fb=float("nan"), model={}))["lumi"] == ""


@pytest.mark.parametrize(("pseudo_data", "observed"), [(True, "Observed (pseudo-data) 90% CL"),
                                                       (False, "Observed 90% CL")])
def test_limit_figure_legend(pseudo_data, observed):
    fig = plot_limit(scan(pseudo_data=pseudo_data))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Expected 90% CL" in legend and observed in legend
    assert fig.axes[0].get_xlabel() == r"$m_a$ [GeV]"
    plt.close(fig)


def test_significance_and_map_figures():
    fig = plot_significance(scan())
    p_local = fig.axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(p_local[2], 0.02275, rtol=1e-3)  # one-sided p of 2 sigma
    plt.close(fig)
    points = np.array([(4.0, 0.5), (5.0, 0.5), (4.0, 1.5), (5.0, 1.5), (6.0, 1.5)])
    two = scan(masses_gev=points[:, 0], masses2_gev=points[:, 1], observed=np.arange(1.0, 6.0),
               expected=np.outer(np.arange(1.0, 6.0), [0.5, 0.7, 1.0, 1.4, 2.0]), significance=None,
               quantity="eps2_alpha_d", unit="", mass_name="M_A'", mass2_name="M_h'")
    fig = plot_limit_map(two)
    assert fig.axes[0].get_ylabel() == "$M_h'$ [GeV]"
    assert "expected 90% CL" in fig.axes[1].get_ylabel()
    plt.close(fig)
