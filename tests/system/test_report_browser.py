"""make report's page in headless Chromium: the seeded report (tests/report_seed.py) opens with its
title, its charts' text alternatives and its question groups, fetches nothing, and is saved as
artifacts/screenshots/content-report.png; the staff URL (scripts/web_server.py) is refused without
its token. No Rasa server is needed: the page is a file and the demo server runs in this process.

Run: .venv/bin/python -m pytest tests/system/test_report_browser.py -m browser
"""

from __future__ import annotations

import importlib.util
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from b12 import settings
from reporting import build_report, write_report
from tests import report_seed as seed
from tests.harness import chromium, needs_a_browser, port

SHOTS = settings.ROOT / "artifacts" / "screenshots"
try:
    from selenium.webdriver.common.by import By
except ImportError:
    By = None

# browser: this module; integration too, so that make integration (and make test) runs it
pytestmark = [pytest.mark.browser, pytest.mark.integration]
STAFF_PORT = port(8190)
TOKEN = "staff-" + "k" * 32


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    db = seed.build(folder / "tracker.db")
    html_path, _ = write_report(build_report(seed.SINCE, seed.UNTIL, sqlite_file=db, min_senders=5), folder / "out")
    return html_path


@pytest.fixture
def driver(tmp_path):
    needs_a_browser()
    made = chromium(tmp_path / "profile", 1100, 1800)
    # every request the page makes, to check that it fetches nothing
    made.execute_cdp_cmd("Network.enable", {})
    yield made
    made.quit()


def shot(driver, name: str) -> Path:
    """The whole page (the viewport made as tall as the page first)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1100, "height": height, "deviceScaleFactor": 1, "mobile": False}
    )
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_the_report_page_shows_its_figures_and_fetches_nothing(driver, report_page):
    driver.get(report_page.as_uri())
    assert driver.title == "What patients asked: content report"
    assert driver.find_element(By.TAG_NAME, "h1").text == "What patients asked: content report"
    headings = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
    assert "Questions the source did not answer" in headings and "Was it helpful?" in headings
    # a chart's text alternative, shown under it and given to a screen reader
    chart = driver.find_element(By.ID, "chart-helpful")
    assert chart.get_attribute("role") == "img"
    desc = driver.find_element(By.ID, "chart-helpful-d").get_attribute("textContent")
    assert desc == "pernicious_anemia (3 votes): 67%; route:oral (1 vote): 0%"
    captions = [c.text for c in driver.find_elements(By.TAG_NAME, "figcaption")]
    assert any(desc in c for c in captions)
    groups = driver.find_element(By.XPATH, "//caption[text()='Question groups asked by at least 5 people']/..")
    cells = [row.find_elements(By.TAG_NAME, "td") for row in groups.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert [(c[1].text, c[3].text) for c in cells] == [
        ("6", "can i drink coffee with my b12 tablets"),
        ("5", "(worded differently by each person)"),
        ("5", "b12 <script>alert(<NUMBER>)</script> tummy thing"),  # shown as text, never run
    ]
    assert driver.execute_script("return document.scripts.length") == 0
    body = driver.find_element(By.TAG_NAME, "body").text
    for secret in seed.FAKE_NAMES + seed.FAKE_CONTACTS + (seed.SENDER_TAG,):
        assert secret not in body
    fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == []
    path = shot(driver, "content-report")
    assert path.stat().st_size > 10_000


@pytest.fixture
def staff_server(report_page):
    spec = importlib.util.spec_from_file_location("web_server", settings.ROOT / "scripts" / "web_server.py")
    web_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(web_server)
    made = web_server.handler("http://localhost:5005", staff_token=TOKEN, staff_report=report_page)
    httpd = ThreadingHTTPServer(("127.0.0.1", STAFF_PORT), made)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{STAFF_PORT}"
    httpd.shutdown()
    httpd.server_close()


def test_the_staff_url_is_refused_without_the_token(driver, staff_server):
    driver.get(f"{staff_server}/staff/report")
    assert driver.title == "Refused"
    assert "What patients asked" not in driver.page_source
    shot(driver, "content-report-refused")
    driver.get(f"{staff_server}/staff/report?token={TOKEN}")  # a token in the URL is no token
    assert driver.title == "Refused"
    # with the header (as a staff proxy or tool sends it) the same browser gets the report
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {TOKEN}"}})
    driver.get(f"{staff_server}/staff/report")
    assert driver.title == "What patients asked: content report"
    assert driver.find_element(By.ID, "chart-days-d").get_attribute("textContent").startswith("2026-11-10: 59")
