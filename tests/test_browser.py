"""The built book as a reader's browser shows it: headless Chromium opens every chapter.

Checks: no JavaScript errors in the console, every figure loads and has alt text, the data
tables render and can be filtered, and untrusted text from a search export (a record titled
``<script>alert(1)</script>``) shows as text and never runs. Screenshots of every page are
saved under ``tests/_artifacts/screenshots/`` for a person to look at.
"""
from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from book_build import REPO_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = REPO_ROOT / "tests" / "_artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium and ChromeDriver are needed (Debian packages chromium and "
           "chromium-driver; .ci/run installs them)",
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output readable
        pass


def _serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _page_problems(driver, url: str) -> list[str]:
    """Open a page and list what a reader would see as broken."""
    driver.get(url)
    problems = []
    for entry in driver.get_log("browser"):
        # Pages are read offline: a CDN that cannot be reached is not an error of the book, and
        # the browser asks the test server for /favicon.ico on its own.
        if (entry["level"] == "SEVERE" and "net::ERR" not in entry["message"]
                and "/favicon.ico" not in entry["message"]):
            problems.append(f"console error: {entry['message']}")
    images = driver.execute_script(
        "return Array.from(document.querySelectorAll('main img')).map("
        "i => [i.getAttribute('alt') || '', i.complete && i.naturalWidth > 0, i.src.slice(0, 40)]);"
    )
    for alt, loaded, source in images:
        if not loaded:
            problems.append(f"figure did not load: {source}")
        if not alt.strip():
            problems.append(f"figure without alt text: {source}")
    error_text = driver.execute_script(
        "return Array.from(document.querySelectorAll('.output.traceback, .output.stderr'))"
        ".map(e => e.textContent.slice(0, 200));"
    )
    problems.extend(f"error output on the page: {text}" for text in error_text)
    return problems


def test_every_chapter_renders_without_errors(built_book, chapter_pages, browser):
    server = _serve(built_book)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        found = {}
        for page in chapter_pages:
            problems = _page_problems(browser, base + page)
            assert not problems, f"{page}: " + "; ".join(problems)
            found[page] = browser.execute_script(
                "return [document.querySelectorAll('main img').length,"
                " document.querySelectorAll('main table').length];")
            browser.save_screenshot(str(SCREENSHOTS / page.replace("/", "_").replace(".html", ".png")))
    finally:
        server.shutdown()
    figures = {page: counts[0] for page, counts in found.items()}
    tables = {page: counts[1] for page, counts in found.items()}
    # The chapters that pool or diagram must show their figures; the data chapters their tables.
    for page in ("book/02_screening.html", "book/04_webhelp_correlations.html", "book/05_interventions.html"):
        assert figures[page] >= 1, f"{page} shows no figure"
    for page in ("book/01_search.html", "book/03_extraction.html", "book/05_interventions.html"):
        assert tables[page] >= 1, f"{page} shows no table"


def test_tables_filter_and_sort(built_book, browser):
    server = _serve(built_book)
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/book/03_extraction.html")
        wrap = browser.find_element("css selector", ".review-table-wrap.searchable")
        rows = wrap.find_elements("css selector", "tbody tr")
        assert len(rows) >= 2
        # The second column holds the study id: distinctive, unlike the spreadsheet row number.
        first_cell = rows[0].find_elements("css selector", "td")[1].text
        box = wrap.find_element("css selector", "input[data-filter-for]")
        box.send_keys(first_cell)
        shown = [r for r in wrap.find_elements("css selector", "tbody tr") if r.is_displayed()]
        assert 1 <= len(shown) < len(rows)
        header = wrap.find_element("css selector", "thead th")
        header.click()
        assert header.get_attribute("aria-sort") == "ascending"
    finally:
        server.shutdown()


def test_hostile_title_shows_as_text(changed_book, browser):
    from selenium.common.exceptions import NoAlertPresentException

    html_dir, hostile_title = changed_book["html"], changed_book["hostile_title"]
    server = _serve(html_dir)
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/book/02_screening.html")
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # a script that ran would have opened an alert
        assert hostile_title in browser.find_element("css selector", "main").text
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "hostile_title_screening.png"))
    finally:
        server.shutdown()
