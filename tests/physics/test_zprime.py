"""The L_mu - L_tau Z' against independent numbers: its widths and invisible branching fraction, and
the limits of its contribution to (g-2)_mu."""

import numpy as np
import pytest

from analysis_lib.core.errors import ParameterError
from analysis_lib.physics.zprime import (
    MUON_MASS_GEV,
    delta_a_mu,
    g_minus_2_band,
    invisible_branching_fraction,
    width_to_leptons_gev,
    widths_gev,
)


@pytest.mark.parametrize("mass", [0.15, 1.0, 3.0, 5.0])
def test_widths_sum_to_the_total_and_follow_the_formulae(mass):
    w = widths_gev(mass, 0.01)
    assert w["total"] == pytest.approx(w["mumu"] + w["tautau"] + w["nunu"], rel=1e-12)
    # two neutrino flavours of half a Dirac lepton each: together one massless charged lepton
    assert w["nunu"] == pytest.approx(width_to_leptons_gev(mass, 0.01, 0.0), rel=1e-12)
    assert invisible_branching_fraction(mass) == pytest.approx(w["nunu"] / w["total"])
    assert invisible_branching_fraction(mass, "dark_matter") == 1.0


def test_invisible_fraction_limits():
    assert invisible_branching_fraction(0.2) == 1.0  # below the muon threshold only neutrinos
    assert invisible_branching_fraction(1000.0) == pytest.approx(1 / 3, rel=1e-4)  # nu nu : mu mu : tau tau
    with pytest.raises(ParameterError, match="decay"):
        invisible_branching_fraction(1.0, "photons")
    with pytest.raises(ParameterError, match="positive"):
        widths_gev(-1.0)


def test_delta_a_mu_limits_and_the_factor_quoted_at_0p1_gev():
    heavy = lambda m: 0.01**2 * MUON_MASS_GEV**2 / (12 * np.pi**2 * m**2)  # noqa: E731
    assert delta_a_mu(200.0, 0.01) == pytest.approx(heavy(200.0), rel=1e-3)
    assert delta_a_mu(1e-7, 0.01) == pytest.approx(0.01**2 / (8 * np.pi**2), rel=1e-5)
    # the book's physics reference: the heavy limit is a factor 3.4 too large at 0.1 GeV
    assert heavy(0.1) / delta_a_mu(0.1, 0.01) == pytest.approx(3.4, abs=0.1)
    central, low, high = g_minus_2_band([0.1, 1.0])
    assert np.all(low < central) and np.all(central < high)
    assert delta_a_mu(1.0, central[1]) == pytest.approx(251e-11, rel=1e-9)
