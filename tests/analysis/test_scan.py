"""Scans of upper limits: the readable CLs path (iminuit) as the cross-check of the vectorised one on
counting models like the Z' chapter's, Bayesian counting limits, and the same results in-process and
on a dask cluster."""

from functools import partial

import numpy as np
import pytest

from analysis_lib.analysis.counting import BayesianCounting, CountingWindow
from analysis_lib.analysis.scan import CLs, FastCLs, scan_limits, scan_workers
from analysis_lib.core.errors import ParameterError
from analysis_lib.stats import BinnedModel, discovery_significance, upper_limit
from analysis_lib.stats.counting import bayesian_upper_limits_one_bin

#: Expected background in the window (all three bins) of each hypothesis, from 0.5 to 200 events.
LEVELS = (0.5, 1.2, 2.0, 5.0, 12.0, 40.0, 90.0, 200.0)
#: Share of the background and of the signal in each recoil-angle bin.
BACKGROUND_SHARES = np.array([0.25, 0.45, 0.30])
SIGNAL_SHARES = np.array([0.30, 0.40, 0.30])


def zprime_like(point, *, excess=0.0):
    """A window of the Z' chapter's kind: three bins, the background fixed to a simulated prediction
    with a per-bin uncertainty (the simulation's statistics, one event weighing 0.05, and 10%),
    pseudo-data drawn from it (plus ``excess`` signal events at the highest levels)."""
    k = int(point)
    b = LEVELS[k] * BACKGROUND_SHARES
    uncertainty = np.sqrt(0.05 * b + (0.1 * b) ** 2)
    signal = 2.0 * SIGNAL_SHARES
    counts = np.random.default_rng([11, k]).poisson(b).astype(float)
    if k >= 5:
        counts += np.round(excess * SIGNAL_SHARES)
    return BinnedModel(signal, b, uncertainty, float_background=False), counts


def one_bin(point):
    """One bin, known background: pseudo-experiments below 100 expected events."""
    b = (0.5, 4.0, 30.0)[int(point)]
    return BinnedModel([1.5], [b], float_background=False), np.array([float(int(b) + 1)])


POINTS = np.arange(len(LEVELS), dtype=float)


def test_fast_and_readable_paths_give_the_same_limits_notes_and_significances():
    build = partial(zprime_like, excess=25.0)
    readable = scan_limits(POINTS, CLs(build, 0.9), quantity="mu", unit="", cl=0.9, progress=False)
    fast = scan_limits(POINTS, FastCLs(build, 0.9), quantity="mu", unit="", cl=0.9, progress=False)
    np.testing.assert_allclose(fast.observed, readable.observed, rtol=1e-3)
    np.testing.assert_allclose(fast.expected, readable.expected, rtol=1e-3)
    assert fast.notes == readable.notes and len(readable.notes) >= 1  # the small backgrounds say so
    assert all("under-cover" in note for note in readable.notes)
    # once for the scan, counted, with the range of backgrounds
    assert readable.notes == ("2 of 8 hypotheses: expected background 0.33-0.9 < 1 under the signal: the "
                              "asymptotic formulae under-cover there (coverage map), CLs from pseudo-experiments",)
    # hypothesis by hypothesis, the same note and method: pseudo-experiments below 1 expected event
    # under the signal (0.33 and 0.90 here), the formulae above (1.4 and more)
    per_point = [[(r.note, r.method.split(" (")[0]) for r, _ in calc.batch(POINTS)]
                 for calc in (CLs(build, 0.9), FastCLs(build, 0.9))]
    assert [n for n, _ in per_point[0]] == [n for n, _ in per_point[1]]
    assert [bool(n) for n, _ in per_point[0]] == [True, True] + [False] * 6
    assert [m for _, m in per_point[0]] == ["CLs, pseudo-experiments"] * 2 + ["CLs, asymptotic"] * 6
    # the local significances are those of stats.discovery_significance, and the excess shows
    direct = np.array([discovery_significance(*build(p)) for p in POINTS])
    np.testing.assert_allclose(readable.significance, direct, rtol=1e-12)
    np.testing.assert_allclose(fast.significance, direct, rtol=1e-3, atol=1e-6)
    assert direct[-3:].min() > 1.0
    # the scan's method names both (where each applies is in the notes)
    assert fast.method == "CLs, pseudo-experiments (2000 per hypothesis) / CLs, asymptotic (vectorised)"
    assert readable.method == "CLs, pseudo-experiments (2000 per hypothesis) / CLs, asymptotic"
    assert fast.test_statistic == readable.test_statistic == "q~_mu"
    # and both are the limits of stats.upper_limit, one hypothesis at a time
    alone = upper_limit(*build(POINTS[4]), cl=0.9)
    assert readable.observed[4] == pytest.approx(alone.observed, rel=1e-9)


def test_the_fast_path_falls_back_to_pseudo_experiments_where_the_readable_one_does():
    points = np.arange(3.0)
    readable = CLs(one_bin, 0.95).batch(points)
    fast = FastCLs(one_bin, 0.95).batch(points)
    for (r, z_r), (f, z_f) in zip(readable, fast):
        assert f.note == r.note
        assert f.method.startswith("CLs, pseudo-experiments") == r.method.startswith("CLs, pseudo-experiments")
        assert f.observed == pytest.approx(r.observed, rel=1e-3)
        assert np.asarray(f.expected) == pytest.approx(np.asarray(r.expected), rel=1e-3)
        assert z_f == pytest.approx(z_r, rel=1e-3, abs=1e-6)
    # one bin, known background: below 100 events the exact CLs of pseudo-experiments (0.5, 4, 30 here)
    assert all(r.method == "CLs, pseudo-experiments (exact)" for r, _ in readable)
    assert all("pseudo-experiments" in f.note for f, _ in fast)


def test_points_and_confidence_levels_are_checked():
    with pytest.raises(ParameterError, match="non-empty array"):
        scan_limits(np.zeros((3, 3)), CLs(one_bin, 0.9), quantity="mu", unit="", cl=0.9, progress=False)
    with pytest.raises(ParameterError, match="non-empty array"):
        scan_limits([], CLs(one_bin, 0.9), quantity="mu", unit="", cl=0.9, progress=False)
    with pytest.raises(ParameterError, match="calculator computes at cl=0.95"):
        scan_limits([1.0], CLs(one_bin, 0.95), quantity="mu", unit="", cl=0.9, progress=False)
    assert scan_workers(None) == 0


def counting_window(point):
    """A one-bin window of a two-mass hypothesis (a Bayesian counting calculator's input)."""
    m_a, m_h = point
    b = 0.5 + m_a - m_h
    return CountingWindow(mass_gev=m_a, mass2_gev=m_h, ranges={"mass": (m_a - 0.1, m_a + 0.1)},
                          efficiency=np.array([0.3]), signal_per_unit=np.array([100.0 * m_h + 50.0]),
                          background=np.array([b]), background_uncertainty=np.array([0.2 * b]),
                          simulated_background=40.0, counts=np.array([float(round(b))]))


def test_bayesian_counting_scan_of_two_masses():
    points = np.array([(4.0, 0.1), (4.0, 1.1), (6.0, 0.1), (6.0, 2.1), (9.0, 0.6)])
    calculator = BayesianCounting(counting_window, 0.9, signal_uncertainty=0.05)
    scan = scan_limits(points, calculator, quantity="eps2_alpha_d", unit="", cl=0.9, mass_name="M_A'",
                       mass2_name="M_h'", progress=False)
    np.testing.assert_array_equal(scan.masses_gev, points[:, 0])
    np.testing.assert_array_equal(scan.masses2_gev, points[:, 1])
    assert scan.two_dimensional and (scan.mass_name, scan.mass2_name) == ("M_A'", "M_h'")
    assert np.all(np.isnan(scan.significance))  # not computed by Bayesian counting
    assert scan.method == BayesianCounting.method and scan.test_statistic == BayesianCounting.test_statistic
    for point, observed in zip(points, scan.observed):
        w = counting_window(point)
        direct = bayesian_upper_limits_one_bin(w.counts, w.signal_per_unit[0], w.background[0],
                                               background_uncertainty=w.background_uncertainty[0],
                                               signal_uncertainty=0.05, cl=0.9)[0]
        assert observed == pytest.approx(direct, rel=1e-12)
    assert np.all(np.diff(scan.expected, axis=1) >= 0)
    # each window's likelihood as a workspace: the signal and background, their uncertainties as
    # histosys at plus and minus one standard deviation, the count; the metadata says what the limits are
    from analysis_lib.stats.workspace import from_workspace, validate

    spec, metadata = calculator.workspace(points[3])
    validate(spec)
    w = counting_window(points[3])
    assert "Bayesian" in metadata["converted_from"] and spec["observations"][0]["data"] == [float(w.counts.sum())]
    samples = {s["name"]: s for s in spec["channels"][0]["samples"]}
    b, sigma = float(w.background[0]), float(w.background_uncertainty[0])
    assert samples["background"]["modifiers"][0]["data"] == {"hi_data": [b + sigma], "lo_data": [max(b - sigma, 0.0)]}
    s = float(w.signal_per_unit[0])
    assert samples["signal"]["modifiers"][1]["data"]["hi_data"] == pytest.approx([1.05 * s])
    model, counts = from_workspace(spec)
    assert model.expected(model._init[None])[0] == pytest.approx([s + b])


def _peak_window(mass, seed):
    x = np.linspace(-1, 1, 15)
    signal = 10 * np.exp(-((x - (mass - 1.5)) ** 2) / 0.02)
    background = 50 + 10 * x
    counts = np.random.default_rng([seed, int(mass * 1000)]).poisson(background).astype(float)
    return BinnedModel(signal, background, float_background=True), counts


def test_scan_on_a_dask_cluster_equals_in_process():
    from dask.distributed import Client, LocalCluster

    masses = np.linspace(1.0, 2.0, 6)
    calculators = {"readable": CLs(partial(_peak_window, seed=3), 0.95),
                   "vectorised": FastCLs(partial(zprime_like, excess=25.0), 0.9, chunk=3),
                   "bayesian": BayesianCounting(counting_window, 0.9, signal_uncertainty=0.05)}
    points = {"readable": masses, "vectorised": POINTS,
              "bayesian": np.array([(4.0, 0.1), (4.0, 1.1), (6.0, 0.1), (6.0, 2.1)])}
    local = {name: scan_limits(points[name], calc, quantity="mu", unit="", cl=calc.cl, progress=False)
             for name, calc in calculators.items()}
    with LocalCluster(n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        assert scan_workers(client) == 2
        remote = {name: scan_limits(points[name], calc, quantity="mu", unit="", cl=calc.cl, progress=False,
                                    client=client)
                  for name, calc in calculators.items()}
    for name in calculators:
        np.testing.assert_array_equal(local[name].observed, remote[name].observed)
        np.testing.assert_array_equal(local[name].expected, remote[name].expected)
        np.testing.assert_array_equal(local[name].significance, remote[name].significance)
        np.testing.assert_array_equal(local[name].masses_gev, remote[name].masses_gev)
        assert local[name].notes == remote[name].notes
    g = local["readable"].global_significance()
    assert g.global_p >= g.local_p and g.global_z <= g.local_z + 1e-12


def test_workspaces_of_a_scan_are_written_once_and_give_its_limits(tmp_path):
    # every hypothesis's likelihood as a pyhf workspace, kept with the result and its conversions,
    # written once per hypothesis; read back, a window's workspace gives the scan's limit
    import json
    import zipfile

    from analysis_lib.io.results import write_workspaces
    from analysis_lib.stats.workspace import from_workspace

    points = POINTS[4:7]  # 12-90 events: the asymptotic limits of both
    mu = scan_limits(points, FastCLs(zprime_like, 0.9), quantity="mu", unit="", cl=0.9, progress=False,
                     workspaces=True).stamped(dataset="toy", experiment="Belle II", luminosity_fb=1.0)
    sigma = mu.transform(lambda m, v: 3 * v, quantity="sigma", unit="fb")
    assert len(mu.workspaces) == 3 and sigma.workspaces is mu.workspaces
    assert len(mu.select(np.array([True, False, True])).workspaces) == 2
    path = write_workspaces([sigma, mu], tmp_path / "workspaces.zip")
    with zipfile.ZipFile(path) as archive:
        index = json.loads(archive.read("index.json"))
        assert len(index["workspaces"]) == 3 and "re-creation" in index["caveat"]
        entry = index["workspaces"][1]
        assert [r["quantity"] for r in entry["results"]] == ["sigma", "mu"] and entry["dataset"] == "toy"
        spec = json.loads(archive.read(entry["file"]))
    limit = upper_limit(*from_workspace(spec, mu_bounds=(0.0, np.inf)), cl=0.9)
    assert limit.observed == pytest.approx(mu.observed[1], rel=2e-3)
    assert write_workspaces([sigma.select(np.zeros(3, dtype=bool))], tmp_path / "none.zip") is None
    with pytest.raises(ParameterError, match="makes no workspaces"):
        scan_limits(points, object(), quantity="mu", unit="", cl=0.9, workspaces=True)
