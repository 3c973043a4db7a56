"""The built book as a reader's browser shows it (tools/browse_book.py): headless Chromium opens every
page of a book built from fixture results (tests/runner/fixture_book.py; no chapter executed), and a
page fails on a JavaScript error, an image that does not load or a link to a missing file. A
screenshot of each page is saved (into $BOOK_SCREENSHOTS when set, else the test's folder)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from analysis_lib.channels import channels
from analysis_lib.runner.cli import load_runs, render

from .fixture_book import FAILED, RUNS, make_book

TOOL = Path(__file__).resolve().parents[2] / "tools" / "browse_book.py"
_spec = importlib.util.spec_from_file_location("browse_book", TOOL)
browse_book = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("browse_book", browse_book)  # its dataclasses look their module up
_spec.loader.exec_module(browse_book)

MISSING = browse_book.available()
pytestmark = [pytest.mark.xdist_group("browser"),
              pytest.mark.skipif(MISSING is not None, reason=f"no headless browser: {MISSING}")]


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    book = make_book(tmp_path_factory.mktemp("browser") / "book")
    assert render(load_runs(book / "runs.yaml", book_dir=book), book) == 0  # -W: a warning fails the build
    return book / "_build" / "html"


@pytest.fixture(scope="module")
def driver():
    browser = browse_book.browser()
    yield browser
    browser.quit()


def test_every_page_loads_without_errors(html, driver, tmp_path):
    screenshots = Path(os.environ.get("BOOK_SCREENSHOTS", tmp_path / "screenshots"))
    pages = [browse_book.visit(driver, path, screenshots, html) for path in browse_book.pages_of(html)]
    names = {p.path.relative_to(html).as_posix() for p in pages}
    assert {"index.html", "adding_a_search.html", "runs/coverage/coverage.html", f"runs/{FAILED}/error.html"} <= names
    assert len(names) >= len(RUNS) + 2
    assert {p.path.name: p.problems for p in pages if p.problems} == {}
    assert all(p.screenshot.stat().st_size > 10_000 for p in pages)


def test_the_landing_page_reads_as_a_reader_expects(html, driver):
    from selenium.webdriver.common.by import By

    page = browse_book.visit(driver, html / "index.html")
    assert page.problems == []
    text = driver.find_element(By.TAG_NAME, "main").text
    for ch in channels().values():  # the six searches, with their status
        assert ch.title in text
    assert "in progress" in text and "done" in text
    # the table of runs: every run of the fixture, its link to its page resolving
    rows = {row.text: row for row in driver.find_elements(By.CSS_SELECTOR, "section#runs table tbody tr")}
    assert len(rows) == len(RUNS)
    for run_id, (_, title, _) in RUNS.items():
        row = next(r for text, r in rows.items() if title in text)
        link = row.find_element(By.TAG_NAME, "a").get_attribute("href")
        expected = "error.html" if run_id == FAILED else ".html"
        assert link.endswith(expected) and not browse_book._missing_file(link), (run_id, link)
        assert ("failed" if run_id == FAILED else "ok") in row.text
    # the overview figures, drawn and loaded: a figure per quantity a search declares, its runs on it
    figures = driver.find_elements(By.CSS_SELECTOR, "figure img")
    sources = sorted(Path(img.get_attribute("src")).name for img in figures)
    assert sources == ["br_b_to_k_a_x_br_gg.png", "eps2_alpha_d.png", "eps_alpha_d_0p5.png", "g_agg.png",
                       "g_prime_neutrinos.png"]
    assert all(driver.execute_script("return arguments[0].naturalWidth", img) > 300 for img in figures)


def test_a_run_page_is_narrative_with_downloads(html, driver):
    from selenium.webdriver.common.by import By

    page = browse_book.visit(driver, html / "runs" / "alp_2018" / "belle2_alp_3gamma.html")
    assert page.problems == []
    main = driver.find_element(By.TAG_NAME, "main")
    assert "Parameters of this run: dataset = belle2_2018" in main.text
    assert "seed = 1" not in main.text  # the parameter cells are removed
    folded = driver.find_elements(By.CSS_SELECTOR, "details.hide.above-input")
    assert len(folded) == 2 and not any(d.get_attribute("open") for d in folded)
    downloads = {a.text: a.get_attribute("href") for a in main.find_elements(By.CSS_SELECTOR, "a.download")}
    assert {"limits.csv", "meta.json", "figures.zip"} <= set(downloads)
    assert not any(browse_book._missing_file(link) for link in downloads.values())


def test_the_recasting_page_shows_three_models(html, driver):
    from selenium.webdriver.common.by import By

    page = browse_book.visit(driver, html / "recasting.html")
    assert page.problems == []
    text = driver.find_element(By.TAG_NAME, "main").text
    assert "recast_hypercharge" in text and "recast_other_width" in text and "recast_invisible_fraction" in text
    assert "reproduces the chapter" in text and "could not be made" not in text
    figures = driver.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(figures) == 3 and all(driver.execute_script("return arguments[0].naturalWidth", f) > 300 for f in figures)
