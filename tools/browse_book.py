"""Open every page of a built book in headless Chromium, as a reader's browser shows it, and report
what a reader would meet: JavaScript errors (and resources that failed to load), images that did not
load, links to files of the book that do not exist; a screenshot of each page is saved.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``) and Selenium
(installed with the test extra). The tests run it on a book built from fixture results
(tests/runner/test_browser.py); on the real book, after ``make book``::

    .venv/bin/python tools/browse_book.py [--html book/_build/html] [--screenshots book/_build/screenshots]

Exits non-zero when a page has a problem, listing them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
#: Where Debian installs the browser and its driver.
CHROMIUM = "chromium"
DRIVER = "chromedriver"
#: The browser window (width, height in pixels); screenshots take the whole page's height.
WINDOW = (1280, 900)
#: Seconds a page is given after its load event before its log is read.
SETTLE_S = 0.3


def available() -> str | None:
    """None when the browser, its driver and Selenium are present, else what is missing and how to
    install it."""
    missing = [name for name in (CHROMIUM, DRIVER) if shutil.which(name) is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install selenium)")
    if missing:
        return (f"missing: {', '.join(missing)}; on Debian: apt-get install -y chromium chromium-driver "
                "(.ci/run installs them)")
    return None


def browser(width: int = WINDOW[0], height: int = WINDOW[1]):
    """A headless Chromium driven by Selenium, keeping the browser's console log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.binary_location = shutil.which(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=shutil.which(DRIVER)))


@dataclass
class Page:
    """What a reader met on one page."""

    path: Path
    title: str = ""
    errors: list = field(default_factory=list)
    broken_images: list = field(default_factory=list)
    broken_links: list = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        """Every problem of the page, one line each."""
        return ([f"JavaScript: {e}" for e in self.errors] + [f"image not loaded: {i}" for i in self.broken_images]
                + [f"broken link: {link}" for link in self.broken_links])


_IMAGES = "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);"
_LINKS = "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);"


def _errors(driver) -> list[str]:
    """The JavaScript errors (and failed loads) the browser logged since it was last asked."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _missing_file(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme == "file" and not Path(unquote(parsed.path)).exists()


def visit(driver, path: Path, screenshots: Path | None = None, html: Path | None = None) -> Page:
    """Open ``path`` and record its problems (and a full-page screenshot into ``screenshots``)."""
    page = Page(path=path)
    driver.get(path.resolve().as_uri())  # returns at the load event
    time.sleep(SETTLE_S)  # scripts loaded asynchronously (MathJax, the theme's) run and report
    page.title = driver.title
    page.errors = _errors(driver)
    page.broken_images = driver.execute_script(_IMAGES)
    page.broken_links = sorted({link for link in driver.execute_script(_LINKS) if _missing_file(link)})
    if screenshots is not None:
        height = driver.execute_script("return document.documentElement.scrollHeight;")
        driver.set_window_size(WINDOW[0], min(max(int(height), WINDOW[1]), 12000))
        name = path.relative_to(html).with_suffix(".png").as_posix().replace("/", "__") if html else path.stem + ".png"
        screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot = screenshots / name
        driver.save_screenshot(str(page.screenshot))
        driver.set_window_size(*WINDOW)
    page.errors += _errors(driver)  # what the page reported while it was looked at
    return page


def pages_of(html: Path) -> list[Path]:
    """The HTML pages of a built book (its pages, the search page and the index; not the theme's files)."""
    return sorted(p for p in html.rglob("*.html") if not any(part.startswith("_") for part in p.relative_to(html).parts))


def browse(html: Path, screenshots: Path | None = None) -> list[Page]:
    """Every page of the built book ``html``, visited."""
    driver = browser()
    try:
        return [visit(driver, path, screenshots, html) for path in pages_of(html)]
    finally:
        driver.quit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "book" / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "book" / "_build" / "screenshots")
    args = parser.parse_args(argv)
    missing = available()
    if missing:
        print(f"error: cannot open a browser: {missing}", file=sys.stderr)
        return 2
    if not (args.html / "index.html").exists():
        print(f"error: no built book in {args.html}; run make book first", file=sys.stderr)
        return 2
    pages = browse(args.html, args.screenshots)
    bad = [p for p in pages if p.problems]
    for page in pages:
        print(f"{'FAIL' if page.problems else 'ok  '} {page.path.relative_to(args.html)}  ({page.title})")
        for problem in page.problems:
            print(f"       {problem}")
    print(f"{len(pages)} pages, {len(bad)} with problems; screenshots in {args.screenshots}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
