"""The result type of every search: shape checks, transformations, slices, stamps and its table."""

import numpy as np
import pytest

from analysis_lib.analysis.results import BAND_COLUMNS, LimitScan
from analysis_lib.core.errors import ParameterError
from analysis_lib.stats.significance import global_significance

BAND = np.array([0.5, 0.75, 1.0, 1.5, 2.0])


def one_mass(n=4, **fields):
    masses = np.linspace(1.0, 2.5, n)
    return LimitScan(quantity="mu", unit="", masses_gev=masses, observed=1.2 * masses,
                     expected=masses[:, None] * BAND, cl=0.9, method="CLs, asymptotic", test_statistic="q~_mu",
                     **fields)


def two_masses(**fields):
    # three h' masses, A' masses in between, as a scan of (M_A', M_h') pairs
    points = np.array([(4.0, 0.1), (5.0, 0.1), (6.0, 0.1), (4.0, 1.1), (5.0, 1.1), (5.0, 2.1), (6.0, 2.1)])
    value = points[:, 0] + 10 * points[:, 1]
    return LimitScan(quantity="eps2_alpha_d", unit="", masses_gev=points[:, 0], masses2_gev=points[:, 1],
                     observed=value, expected=value[:, None] * BAND, cl=0.9, method="Bayesian",
                     test_statistic="posterior", mass_name="M_A'", mass2_name="M_h'", **fields)


@pytest.mark.parametrize(("fields", "message"), [
    ({"observed": np.ones(3)}, r"observed of shape \(4,\)"),
    ({"expected": np.ones((4, 3))}, r"expected of shape \(4, 5\)"),
    ({"expected": np.ones(4)}, r"expected of shape \(4, 5\)"),
    ({"significance": np.zeros(5)}, r"significance has shape \(5,\), but \(4,\) is required"),
    ({"masses2_gev": np.zeros((4, 2))}, r"masses2_gev has shape \(4, 2\)"),
])
def test_inconsistent_shapes_are_refused(fields, message):
    values = {"quantity": "mu", "unit": "", "masses_gev": np.arange(4.0), "observed": np.ones(4),
              "expected": np.ones((4, 5)), "cl": 0.9, "method": "m", "test_statistic": "t", **fields}
    with pytest.raises(ParameterError, match=message):
        LimitScan(**values)


def test_defaults_state_what_is_not_known_yet():
    scan = one_mass()
    assert len(scan) == 4 and not scan.two_dimensional
    assert scan.significance is None and scan.masses2_gev is None and scan.model == {}
    assert scan.dataset == "" and scan.experiment == "" and np.isnan(scan.luminosity_fb) and not scan.projection
    assert scan.mass_name == "m" and scan.mass2_name == "" and scan.notes == ()


def test_transform_of_one_mass():
    scan = one_mass(significance=np.array([0.0, 1.0, 2.0, 0.5]), notes=("a note",))
    sigma = scan.transform(lambda m, v: v * m**2, quantity="sigma", unit="fb")
    m = scan.masses_gev
    np.testing.assert_allclose(sigma.observed, 1.2 * m**3)
    np.testing.assert_allclose(sigma.expected, m[:, None] ** 3 * BAND)  # every band value at its own mass
    assert (sigma.quantity, sigma.unit) == ("sigma", "fb")
    # everything else is kept: conventions, masses, significances, notes
    assert (sigma.cl, sigma.method, sigma.test_statistic, sigma.notes) == (0.9, scan.method, "q~_mu", ("a note",))
    np.testing.assert_array_equal(sigma.significance, scan.significance)
    np.testing.assert_array_equal(sigma.masses_gev, m)
    assert scan.quantity == "mu"  # the original is unchanged


def test_transform_of_two_masses_receives_both():
    scan = two_masses()
    out = scan.transform(lambda a, h, v: v * a - h, quantity="x", unit="fb")
    a, h = scan.masses_gev, scan.masses2_gev
    np.testing.assert_allclose(out.observed, scan.observed * a - h)
    np.testing.assert_allclose(out.expected, scan.expected * a[:, None] - h[:, None])
    np.testing.assert_array_equal(out.masses2_gev, h)


def test_select_keeps_every_array_aligned():
    scan = two_masses(significance=np.arange(7.0))
    piece = scan.select(scan.masses_gev == 5.0)
    assert len(piece) == 3
    np.testing.assert_array_equal(piece.masses2_gev, [0.1, 1.1, 2.1])
    np.testing.assert_array_equal(piece.significance, [1.0, 4.0, 5.0])
    np.testing.assert_allclose(piece.observed, 5.0 + 10 * np.array([0.1, 1.1, 2.1]))
    np.testing.assert_allclose(piece.expected[:, 2], piece.observed)


def test_at_mass2_slices_at_the_nearest_scanned_second_mass():
    scan = two_masses(model={"alpha_d": 0.5}, notes=("from the scan",))
    piece = scan.at_mass2(1.0)  # nearest scanned: 1.1
    assert not piece.two_dimensional and piece.masses2_gev is None and piece.mass2_name == ""
    np.testing.assert_array_equal(piece.masses_gev, [4.0, 5.0])
    np.testing.assert_allclose(piece.observed, [15.0, 16.0])
    np.testing.assert_allclose(piece.expected, np.array([15.0, 16.0])[:, None] * BAND)
    assert piece.model == {"alpha_d": 0.5, "M_h'": 1.1}
    assert piece.notes == ("M_h' = 1.10 GeV", "from the scan")
    assert piece.mass_name == "M_A'" and piece.quantity == scan.quantity
    assert len(scan.at_mass2(5.0)) == 2  # far above: the largest scanned, 2.1
    np.testing.assert_array_equal(scan.at_mass2(5.0).masses_gev, [5.0, 6.0])
    with pytest.raises(ParameterError, match="no second mass"):
        one_mass().at_mass2(1.0)


def test_to_frame_has_the_columns_of_limits_csv():
    frame = one_mass().to_frame()
    assert list(frame.columns) == ["quantity", "unit", "mass_gev", "observed", *BAND_COLUMNS]
    assert list(BAND_COLUMNS) == ["expected_minus2", "expected_minus1", "expected", "expected_plus1",
                                  "expected_plus2"]
    np.testing.assert_allclose(frame["expected"], one_mass().expected[:, 2])
    np.testing.assert_allclose(frame["expected_plus2"], one_mass().expected[:, 4])
    assert set(frame["quantity"]) == {"mu"}
    two = two_masses().to_frame()
    assert list(two.columns) == ["quantity", "unit", "mass_gev", "mass2_gev", "observed", *BAND_COLUMNS]
    np.testing.assert_array_equal(two["mass2_gev"], two_masses().masses2_gev)
    assert len(two) == 7


def test_stamped_sets_run_fields_and_keeps_the_results_own_model_values():
    coupling = one_mass(model={"ctau_mm": "from the coupling"}, notes=("lifetime from the coupling",))
    stamped = coupling.stamped(dataset="babar_4s", experiment="BaBar", luminosity_fb=424.2, projection=False,
                               data_source="pseudo-data", model={"ctau_mm": 10.0, "decay": "gamma gamma"},
                               notes=("thresholds", "lifetime from the coupling"))
    assert stamped.model == {"ctau_mm": "from the coupling", "decay": "gamma gamma"}
    assert stamped.notes == ("lifetime from the coupling", "thresholds")  # added once each, in order
    assert (stamped.dataset, stamped.experiment, stamped.luminosity_fb, stamped.data_source) == (
        "babar_4s", "BaBar", 424.2, "pseudo-data")
    np.testing.assert_array_equal(stamped.observed, coupling.observed)
    # a result without its own value takes the run's
    assert one_mass().stamped(model={"ctau_mm": 10.0}).model == {"ctau_mm": 10.0}
    assert coupling.model == {"ctau_mm": "from the coupling"} and coupling.dataset == ""  # unchanged


def test_global_significance_of_the_largest_local_excess():
    z = np.array([0.0, 0.9, 0.0, 0.8, 0.0, 3.0, 0.0, 1.0, np.nan])  # NaN: not computed
    masses = np.linspace(1.0, 2.0, 9)
    scan = LimitScan(quantity="mu", unit="", masses_gev=masses, observed=np.ones(9), expected=np.ones((9, 5)),
                     cl=0.95, method="m", test_statistic="t", significance=z)
    g = scan.global_significance()
    direct = global_significance(masses, np.nan_to_num(z))
    assert g.mass_gev == pytest.approx(1.625) and g.local_z == pytest.approx(3.0)
    assert g.global_p == pytest.approx(direct.global_p) and g.upcrossings == 4
    assert g.global_z < g.local_z
    with pytest.raises(ParameterError, match="no local significances"):
        one_mass().global_significance()
    with pytest.raises(ParameterError, match="no local significances"):
        two_masses(significance=np.zeros(7)).global_significance()


def test_limits_table_at_the_nearest_scanned_hypotheses():
    from analysis_lib.analysis.results import limits_table
    from analysis_lib.io.published import load_curve

    first = one_mass(significance=np.array([0.0, 1.0, 2.0, 0.5]))
    other = first.transform(lambda m, v: 2 * v, quantity="sigma", unit="fb")
    table = limits_table([first, other], [1.0, 1.1, 2.4, 2.5])  # 1.0 and 1.1 are nearest the same mass
    assert list(table.columns) == ["m [GeV]", "observed mu", "expected mu", "-1 sigma", "+1 sigma", "local Z",
                                   "observed sigma [fb]", "expected sigma [fb]"]
    np.testing.assert_allclose(table["m [GeV]"], [1.0, 2.5])
    np.testing.assert_allclose(table["expected sigma [fb]"], 2 * table["expected mu"])
    np.testing.assert_allclose(table["local Z"], [0.0, 0.5])
    curve = load_curve("belle2_2020_alp_gagg_observed_95cl.txt")
    table = limits_table([first], [1.5], published=curve)
    mass = table["m [GeV]"].to_numpy()
    np.testing.assert_allclose(table["published"], curve.at(mass))
    np.testing.assert_allclose(table["expected / published"], table["expected mu"] / curve.at(mass))
    two = limits_table([two_masses()], [(5.0, 1.0), (6.1, 2.2)])
    assert list(two.columns[:2]) == ["M_A' [GeV]", "M_h' [GeV]"] and "local Z" not in two.columns
    np.testing.assert_allclose(two[["M_A' [GeV]", "M_h' [GeV]"]].to_numpy(), [[5.0, 1.1], [6.0, 2.1]])
