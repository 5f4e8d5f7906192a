"""Browser tests: the chat widget (web/widget.js) on the demo page (web/index.html), in headless
Chromium driven by Selenium, against the real assistant booted with scripts/serve.sh.

Needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver) and the
selenium package; the module is skipped, saying which is missing, when they are not there.
Run: .venv/bin/python -m pytest tests/system/test_browser.py -m browser
Screenshots of each state go to artifacts/screenshots/<name>.png.
"""

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from b12 import settings
from b12.knowledge import get_knowledge
from tests.harness import (
    CAVEAT,
    booted,
    chat,
    chromium,
    clean_env,
    conversation_events,
    listening_addresses,
    needs_a_browser,
    new_sender,
    port,
    port_open,
    request,
    texts,
    wait_until,
)

try:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    By = None


@pytest.fixture(autouse=True, scope="session")
def _needs_a_browser():
    """Checked when the tests run (not when collected), so a run that deselects them does not
    skip; with CI=true a missing browser or selenium fails."""
    needs_a_browser()


# browser: this module; integration too, since it boots the servers (so `pytest -m "not integration"` skips it)
pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = settings.ROOT
RASA_PORT, ACTIONS_PORT, WEB_PORT = port(5205), port(5255), port(8100)
RASA = f"http://127.0.0.1:{RASA_PORT}"
PAGE_ORIGIN = f"http://127.0.0.1:{WEB_PORT}"
PAGE = f"{PAGE_ORIGIN}/index.html"
OTHER_PAGES = port(8101)  # demo pages whose widget calls another server (scripts/web_server.py --server)
SHOTS = ROOT / "artifacts" / "screenshots"
WAIT = 45  # seconds for a reply (the first one after boot is the slowest)
AXE = ROOT / "tests" / "system" / "vendor" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.10.3"


# ---- servers ---------------------------------------------------------------------------------


def page_answers() -> bool:
    try:
        return request(PAGE, timeout=2).status == 200
    except OSError:
        return False


def assistant_answers() -> bool:
    """True when a health question gets its passages and the caveat (so Rasa and the action server both work)."""
    try:
        reply = texts(chat(RASA, "what is pernicious anemia?", new_sender("warm-up"), timeout=30))
    except OSError:
        return False
    return len(reply) >= 2 and "parietal cells" in " ".join(reply) and reply[-1].startswith(CAVEAT)


@pytest.fixture(scope="session")
def servers(_needs_a_browser):
    """The assistant on RASA_PORT (CORS: the page's origin only) and web/ on WEB_PORT, stopped at the end."""
    with booted(RASA_PORT, ACTIONS_PORT, web_port=WEB_PORT) as stack:
        # a real answer, not just an open port: Rasa and the action server both work (and the model is warm)
        if not wait_until(assistant_answers, 90, interval=0.5):
            pytest.fail(
                f"The assistant on :{RASA_PORT} does not answer a health question with the caveat; see {stack.run_dir}"
            )
        if not wait_until(page_answers, 15):
            pytest.fail(f"The demo page did not start on :{WEB_PORT}; see {stack.run_dir}/web.log")
        yield stack


class FakeRasa(BaseHTTPRequestHandler):
    """A stand-in REST channel that replies with hostile text, to test rendering; 'fail' gets a 500 and
    'silent' an empty list (extensions/channels/rest.py never sends one, but a proxy or another server might).
    It notes every message it gets (`seen`), and GET /page is a test-only page with the widget and
    no data-server (so the widget's server is the page's own origin)."""

    seen: list = []
    replies = [
        {"text": "Bold <b>claim</b> <img src=x onerror=\"window.__xss='bot'\"> <script>window.__xss=1</script>"},
        {
            "text": "Read https://www.hopkinsmedicine.org/health/b12. Not https://evil.example/x or "
            "https://hopkinsmedicine.org.evil.example/y or javascript:alert(1) or "
            "https://hopkinsmedicine.org@evil.example/z or http://www.hopkinsmedicine.org/health/plain"
        },
        {
            "text": "Pick one:",
            "buttons": [{"title": "<img src=x onerror=\"window.__xss='button'\">", "payload": "/help"}],
        },
    ]

    def cors(self):  # the test pages' origins (the demo pages on 127.0.0.1, /page on its own host)
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or PAGE_ORIGIN)
        self.send_header("Access-Control-Allow-Headers", "content-type")
        self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")

    def do_OPTIONS(self):  # noqa: N802 - http.server's naming
        self.send_response(204)
        self.cors()
        self.end_headers()

    def do_GET(self):  # noqa: N802
        files = {
            "/page": (
                "text/html",
                b'<!doctype html><html lang="en"><head><title>test page</title></head><body>'
                b'<main><h1>Test page</h1></main><script src="/widget.js" defer></script></body></html>',
            ),
            "/widget.js": ("text/javascript", (ROOT / "web" / "widget.js").read_bytes()),
            "/widget.css": ("text/css", (ROOT / "web" / "widget.css").read_bytes()),
        }
        kind, data = files.get(self.path.split("?")[0], ("text/plain", b""))
        self.send_response(200 if data else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        FakeRasa.seen.append(body.get("message"))
        status, payload = {"fail": (500, {"error": "boom"}), "silent": (200, [])}.get(
            body.get("message"), (200, self.replies)
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.cors()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_rasa():
    FakeRasa.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def demo_page(servers, tmp_path):
    """A factory: demo_page(server) -> the URL of the demo page (scripts/web_server.py, as make run
    serves it) with its widget pointed at `server`. The page's own address never changes the server."""
    started = []

    def make(server):
        number = OTHER_PAGES + len(started)
        log = open(tmp_path / f"web-{number}.log", "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [
                str(settings.get("VENV") / "bin" / "python"),
                "scripts/web_server.py",
                "--port",
                str(number),
                "--server",
                server,
            ],
            cwd=ROOT,
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        url = f"http://127.0.0.1:{number}/index.html"
        if not wait_until(lambda: port_open(number), 10):
            pytest.fail(f"scripts/web_server.py --server {server} did not start: {(tmp_path / log.name).read_text()}")
        return url

    yield make
    for process, log in started:
        process.terminate()
        process.wait(10)
        log.close()


# ---- browser ---------------------------------------------------------------------------------


@pytest.fixture
def browser(servers, tmp_path):
    """A factory: browser(width, height) -> a fresh headless Chromium (own profile, empty sessionStorage)."""
    drivers = []

    def make(width=1100, height=800, extra=()):
        driver = chromium(tmp_path / f"profile{len(drivers)}", width, height, tuple(extra))
        drivers.append(driver)
        driver.set_window_size(width, height)
        # every Content-Security-Policy violation on every page, from before the page's own scripts
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {
                "source": "window.__csp = []; document.addEventListener('securitypolicyviolation',"
                " e => window.__csp.push(e.effectiveDirective + ' ' + e.blockedURI));"
            },
        )
        return driver

    yield make
    for driver in drivers:
        driver.quit()


def shot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def open_page(driver, page=PAGE, open_panel=True):
    driver.get(page)
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, ".b12c-launcher").is_displayed())
    if open_panel and not driver.find_element(By.CSS_SELECTOR, ".b12c-panel").is_displayed():
        driver.find_element(By.CSS_SELECTOR, ".b12c-launcher").click()
    return driver.find_element(By.CSS_SELECTOR, ".b12c-input")


def bubbles(driver):
    """The log's messages, in order: [{"classes": [...], "text": "..."}] (text without screen-reader prefixes)."""
    return driver.execute_script(
        """return Array.from(document.querySelectorAll('.b12c-log > .b12c-msg')).map(m => ({
             classes: Array.from(m.classList),
             text: m.querySelector('.b12c-text').textContent}));"""
    )


def wait_idle(driver, at_least):
    """Wait until the widget is not waiting for the server and the log has at least `at_least` messages."""
    WebDriverWait(driver, WAIT).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, ".b12c-root").get_attribute("data-busy") == "false"
            and len(bubbles(d)) >= at_least
        )
    )
    return bubbles(driver)


def ask(driver, text):
    """Type `text`, press Enter, wait for the reply; returns the messages added (the user's first)."""
    before = len(bubbles(driver))
    box = driver.find_element(By.CSS_SELECTOR, ".b12c-input")
    box.send_keys(text, Keys.ENTER)
    return wait_idle(driver, before + 2)[before:]


STORED = "return JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage).find(k => k.startsWith('b12chat:'))))"


def said(messages):
    """The text of each widget bubble."""
    return [m["text"] for m in messages]


def is_caveat(message):
    return "b12c-msg--caveat" in message["classes"] and message["text"].startswith(CAVEAT)


def no_alert(driver):
    try:
        _ = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


# ---- tests -----------------------------------------------------------------------------------


def test_an_answer_quotes_the_source_and_its_last_bubble_is_the_caveat(browser):
    driver = browser()
    open_page(driver)
    added = ask(driver, "what is pernicious anemia?")
    assert added[0]["text"] == "what is pernicious anemia?" and "b12c-msg--user" in added[0]["classes"]
    assert any("parietal cells" in t for t in said(added[1:]))
    assert is_caveat(added[-1]), added[-1]
    assert sum("b12c-msg--caveat" in m["classes"] for m in added) == 1
    # the caveat stands out: not styled like an ordinary assistant bubble
    style = driver.execute_script(
        """const s = m => getComputedStyle(document.querySelector(m));
           return [s('.b12c-msg--caveat').backgroundColor, s('.b12c-msg--bot:not(.b12c-msg--caveat)').backgroundColor,
                   s('.b12c-msg--caveat').borderLeftWidth];"""
    )
    assert style[0] != style[1] and style[2] != "0px"
    driver.execute_script("document.querySelector('.b12c-log').lastElementChild.scrollIntoView({block: 'end'})")
    shot(driver, "answer-with-caveat")


@pytest.mark.parametrize("name, width", [("widget-desktop", 1100), ("widget-375px", 375)])
def test_screenshot_of_an_answer_for_the_readme(browser, name, width):
    """The README's pictures (make screenshots copies them to docs/images/): an answer with its
    caveat last, on a desktop and on a 375 px phone, with no horizontal scroll."""
    driver = browser(width, 760)
    open_page(driver)
    added = ask(driver, "what is pernicious anemia?")
    assert any("parietal cells" in t for t in said(added[1:])) and is_caveat(added[-1])
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width
    driver.execute_script("document.querySelector('.b12c-log').lastElementChild.scrollIntoView({block: 'end'})")
    shot(driver, name)
    assert (SHOTS / f"{name}.png").stat().st_size > 10_000


def test_a_quick_reply_sends_its_payload_and_shows_its_title(browser):
    driver = browser()
    open_page(driver)
    added = ask(driver, "help")
    assert "Pick a topic" in added[-1]["text"]
    buttons = driver.find_elements(By.CSS_SELECTOR, ".b12c-replies .b12c-reply")
    titles = [b.text for b in buttons]
    assert "Pernicious anemia" in titles, titles
    assert all(b.tag_name == "button" for b in buttons)  # natively focusable, keyboard usable
    shot(driver, "quick-replies")

    before = len(bubbles(driver))
    buttons[titles.index("Pernicious anemia")].click()
    added = wait_idle(driver, before + 2)[before:]
    assert added[0]["text"] == "Pernicious anemia" and "b12c-msg--user" in added[0]["classes"]
    assert not any(t.startswith("/") for t in said(added)), "the payload is sent, not shown"
    assert any("parietal cells" in t for t in said(added[1:]))
    assert is_caveat(added[-1])
    assert not driver.find_elements(By.CSS_SELECTOR, ".b12c-replies:not(.b12c-replies--rating)"), "old ones removed"
    assert driver.switch_to.active_element == driver.find_element(By.CSS_SELECTOR, ".b12c-input")
    shot(driver, "quick-reply-answer")


def votes(stack, driver):
    """The `feedback` slot events stored for the widget's conversation."""
    sender = driver.execute_script(STORED)["sender"]
    events = conversation_events(stack.engine(), sender)
    return [e["value"] for e in events if e["event"] == "slot" and e["name"] == "feedback"]


@pytest.mark.parametrize(
    "choice, helpful, thanks",
    [("Yes, this helped", True, "glad it helped"), ("No, this did not help", False, "sorry that did not help")],
)
def test_was_this_helpful_is_one_tap_under_the_answer_and_is_stored(browser, servers, choice, helpful, thanks):
    driver = browser()
    open_page(driver)
    added = ask(driver, "what is pernicious anemia?")
    assert is_caveat(added[-1])  # the caveat stays the last message; the question sits under it
    group = driver.find_element(By.CSS_SELECTOR, ".b12c-replies--rating")
    label = group.find_element(By.CSS_SELECTOR, ".b12c-rating-label")
    assert label.text == "Was this helpful?" and group.get_attribute("aria-labelledby") == label.get_attribute("id")
    buttons = group.find_elements(By.CSS_SELECTOR, "button.b12c-reply")
    assert [b.text for b in buttons] == ["Yes, this helped", "No, this did not help"]
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", group)
    shot(driver, "was-this-helpful")

    before = len(bubbles(driver))
    buttons[[b.text for b in buttons].index(choice)].click()
    added = wait_idle(driver, before + 2)[before:]
    assert said(added)[0] == choice and not any(t.startswith("/") for t in said(added))
    assert thanks in said(added)[-1]
    assert not driver.find_elements(By.CSS_SELECTOR, ".b12c-replies--rating"), "asked once, then gone"
    if not helpful:  # a "no" offers the topics again
        titles = [b.text for b in driver.find_elements(By.CSS_SELECTOR, ".b12c-replies .b12c-reply")]
        assert "More topics" in titles, titles
    shot(driver, f"voted-{'yes' if helpful else 'no'}")
    assert wait_until(lambda: votes(servers, driver), 10)
    assert votes(servers, driver) == [
        {"topic": "pernicious_anemia", "passages": ["pa.parietal_cells", "pa.central_feature"], "helpful": helpful}
    ]

    # the same answer again: not asked again
    added = ask(driver, "what is pernicious anemia?")
    assert is_caveat(added[-1])
    assert not driver.find_elements(By.CSS_SELECTOR, ".b12c-replies--rating")


def test_each_answer_has_a_source_disclosure_with_the_sections_and_review_date(browser):
    kb = get_knowledge()
    driver = browser()
    open_page(driver)
    ask(driver, "what is pernicious anemia?")
    sources = driver.find_elements(By.CSS_SELECTOR, ".b12c-log > .b12c-msg details.b12c-source")
    assert len(sources) == 1, "one disclosure, on the quoted passages"
    details = sources[0]
    assert details.get_attribute("open") is None  # small: closed until asked
    details.find_element(By.CSS_SELECTOR, "summary").click()
    facts = details.find_element(By.CSS_SELECTOR, ".b12c-source-facts").text
    assert kb.source_title in facts
    assert "Autoimmune Conditions that Affect B12 Absorption" in facts
    assert str(kb.review.reviewed_on.year) in facts and kb.review.reviewed_on.strftime("%B") in facts
    link = details.find_element(By.CSS_SELECTOR, "a.b12c-link")
    assert link.get_attribute("href") == kb.source_url and link.get_attribute("rel") == "noopener noreferrer"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", details)
    shot(driver, "source-disclosure")

    # survives a reload, as data
    driver.refresh()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, ".b12c-panel").is_displayed())
    assert len(driver.find_elements(By.CSS_SELECTOR, "details.b12c-source")) == 1


def test_the_conversation_survives_a_reload(browser):
    driver = browser()
    open_page(driver)
    ask(driver, "what is pernicious anemia?")
    ask(driver, "help")
    history = bubbles(driver)
    sender = driver.execute_script(STORED)["sender"]

    driver.refresh()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, ".b12c-panel").is_displayed())
    assert bubbles(driver) == history
    assert any(is_caveat(m) for m in history)
    assert [b.text for b in driver.find_elements(By.CSS_SELECTOR, ".b12c-reply")][:1] == ["Pernicious anemia"]
    shot(driver, "after-reload")

    # same sender id: the assistant still remembers the topic for a follow-up
    added = ask(driver, "how is it treated?")
    assert "standard of care" in " ".join(said(added))
    stored = driver.execute_script(STORED)
    assert stored["sender"] == sender
    assert "<" not in json.dumps(stored), "history is stored as data, not HTML"


def test_typed_html_is_shown_as_text_and_never_runs(browser):
    driver = browser()
    open_page(driver)
    attacks = [
        "<img src=x onerror=alert(1)>",
        "<img src=x onerror=\"window.__xss='img'\">",
        "<script>window.__xss='script'</script><svg onload=\"window.__xss='svg'\">",
    ]
    for attack in attacks:
        added = ask(driver, attack)
        assert added[0]["text"] == attack
        time.sleep(0.3)  # give an injected onerror a moment to fire
        assert no_alert(driver), "an alert fired"
    assert driver.find_elements(By.CSS_SELECTOR, ".b12c-root img, .b12c-root script, .b12c-root svg") == []
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    shot(driver, "typed-html")


def test_assistant_text_is_text_and_only_hopkins_https_links_are_made(browser, fake_rasa, demo_page):
    driver = browser()
    open_page(driver, demo_page(fake_rasa))
    added = ask(driver, "anything")
    assert added[1]["text"].startswith("Bold <b>claim</b> <img")
    assert driver.find_elements(By.CSS_SELECTOR, ".b12c-root img, .b12c-root script, .b12c-root b") == []
    links = driver.find_elements(By.CSS_SELECTOR, ".b12c-log a")
    assert [a.get_attribute("href") for a in links] == ["https://www.hopkinsmedicine.org/health/b12"]
    assert links[0].get_attribute("rel") == "noopener noreferrer" and links[0].get_attribute("target") == "_blank"
    assert "evil.example/x or" in added[2]["text"]  # the others stay plain text
    assert added[2]["text"].endswith("or http://www.hopkinsmedicine.org/health/plain")  # http: is not linked
    [button] = driver.find_elements(By.CSS_SELECTOR, ".b12c-reply")
    assert button.text == "<img src=x onerror=\"window.__xss='button'\">"
    time.sleep(0.3)
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    assert no_alert(driver)
    shot(driver, "hostile-reply-as-text")


def test_fits_a_375px_phone_without_horizontal_scroll(browser):
    driver = browser(375, 800)
    assert driver.execute_script("return window.innerWidth") <= 375
    open_page(driver, open_panel=False)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    shot(driver, "phone-closed")
    open_page(driver)
    ask(driver, "where can I read more about this?")
    ask(driver, "help")
    ask(driver, "x" * 300)  # one long unbroken word
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 375, width
    right = driver.execute_script("return document.querySelector('.b12c-panel').getBoundingClientRect().right")
    assert right <= driver.execute_script("return window.innerWidth")
    shot(driver, "phone")


def test_an_unreachable_server_shows_the_emergency_error(browser, fake_rasa, demo_page):
    dead = port(5999)
    if port_open(dead):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
    driver = browser()
    box = open_page(driver, demo_page(f"http://127.0.0.1:{dead}"))
    added = ask(driver, "what is pernicious anemia?")
    error = added[-1]
    assert "b12c-msg--error" in error["classes"]
    assert error["text"] == (
        "Sorry, I can't reach the assistant right now. "
        "If this is an emergency, call your local emergency number now (911 in the US)."
    )
    assert driver.switch_to.active_element == box and box.is_enabled()
    assert low_contrast(driver, [".b12c-msg--error"]) == []
    shot(driver, "server-unreachable")

    # a non-2xx answer, and an answer with no message, are errors too
    driver = browser()
    open_page(driver, demo_page(fake_rasa))
    for message in ("fail", "silent"):
        added = ask(driver, message)
        assert len(added) == 2 and "b12c-msg--error" in added[-1]["classes"] and "911" in added[-1]["text"]


def test_keyboard_only(browser):
    driver = browser()
    open_page(driver, open_panel=False)
    shot(driver, "closed")
    body = driver.find_element(By.TAG_NAME, "body")
    launcher = driver.find_element(By.CSS_SELECTOR, ".b12c-launcher")
    body.send_keys(Keys.TAB)
    for _ in range(10):
        if driver.switch_to.active_element == launcher:
            break
        driver.switch_to.active_element.send_keys(Keys.TAB)
    assert driver.switch_to.active_element == launcher
    assert launcher.get_attribute("aria-expanded") == "false"
    launcher.send_keys(Keys.ENTER)
    box = driver.find_element(By.CSS_SELECTOR, ".b12c-input")
    assert launcher.get_attribute("aria-expanded") == "true"
    assert driver.switch_to.active_element == box, "opening the chat puts focus in the text box"
    label = driver.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']")
    assert label.text
    log = driver.find_element(By.CSS_SELECTOR, "[role=log]")
    assert log.get_attribute("aria-live") == "polite"

    ask(driver, "help")
    assert driver.switch_to.active_element == box, "focus stays in the text box after sending"
    # Shift+Tab from the text box reaches the quick replies; Enter on one sends it
    for _ in range(10):
        driver.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
        if "b12c-reply" in (driver.switch_to.active_element.get_attribute("class") or ""):
            break
    reply = driver.switch_to.active_element
    assert "b12c-reply" in reply.get_attribute("class")
    title = reply.text
    before = len(bubbles(driver))
    reply.send_keys(Keys.ENTER)
    added = wait_idle(driver, before + 2)[before:]
    assert added[0]["text"] == title
    assert driver.switch_to.active_element == box

    box.send_keys(Keys.ESCAPE)
    assert not driver.find_element(By.CSS_SELECTOR, ".b12c-panel").is_displayed()
    assert driver.switch_to.active_element == launcher


COLOURS = """
    const bg = el => {
      for (; el; el = el.parentElement) {
        const c = getComputedStyle(el).backgroundColor;
        if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;
      }
      return 'rgb(255, 255, 255)';
    };
    return arguments[0].map(s => document.querySelector(s)).filter(Boolean)
                       .map(el => [el.className, getComputedStyle(el).color, bg(el)]);"""


def low_contrast(driver, selectors, minimum=4.5):
    """The selectors' text/background pairs whose WCAG contrast ratio is below `minimum` (opaque colours)."""

    def luminance(rgb):
        values = [int(float(v)) / 255 for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in values]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    pairs = driver.execute_script(COLOURS, selectors)
    assert len(pairs) == len(selectors), "an element to check is missing"
    bad = []
    for name, fg, bg in pairs:
        hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
        if (hi + 0.05) / (lo + 0.05) < minimum:
            bad.append(f"{name}: {fg} on {bg} is {(hi + 0.05) / (lo + 0.05):.2f}:1")
    return bad


def test_text_colours_meet_wcag_aa(browser):
    driver = browser()
    open_page(driver)
    ask(driver, "where can I read more?")
    ask(driver, "help")
    selectors = [
        ".b12c-title",
        ".b12c-reset",
        ".b12c-notice",
        ".b12c-msg--user",
        ".b12c-msg--bot:not(.b12c-msg--caveat)",
        ".b12c-msg--caveat",
        ".b12c-link",
        ".b12c-reply",
        ".b12c-label",
        ".b12c-input",
        ".b12c-send",
        ".b12c-launcher-text",
    ]
    assert low_contrast(driver, selectors) == []


def test_cors_allows_the_page_origin_only(servers):
    webhook = f"{RASA}/webhooks/rest/webhook"

    def headers(method, origin):
        body = json.dumps({"sender": "cors-check", "message": "hi"}).encode() if method == "POST" else None
        request = urllib.request.Request(webhook, data=body, method=method)
        request.add_header("Origin", origin)
        request.add_header("Content-Type", "application/json")
        if method == "OPTIONS":
            request.add_header("Access-Control-Request-Method", "POST")
            request.add_header("Access-Control-Request-Headers", "content-type")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.headers
        except urllib.error.HTTPError as e:
            return e.headers

    for method in ("OPTIONS", "POST"):
        evil = headers(method, "http://evil.example").get_all("Access-Control-Allow-Origin") or []
        assert not {"http://evil.example", "*"} & {v.strip() for v in evil}, (method, evil)
        for origin in (PAGE_ORIGIN, f"http://localhost:{WEB_PORT}"):
            assert headers(method, origin).get("Access-Control-Allow-Origin") == origin, (method, origin)


# ---- where the servers listen, what the page allows, where the widget sends messages ---------------


def test_the_servers_listen_on_this_machine_only(servers):
    """RASA_INTERFACE defaults to 127.0.0.1 (behind a proxy); the demo page is on 127.0.0.1."""
    for number in (RASA_PORT, ACTIONS_PORT, WEB_PORT):
        assert listening_addresses(number) == ["127.0.0.1"], (number, listening_addresses(number))


def fetch(url):
    """(status, headers, body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_the_demo_page_is_served_with_security_headers(servers):
    rasa = f"http://localhost:{RASA_PORT}"  # WEB_ASSISTANT_URL's default: the booted assistant
    for path in ("/", "/index.html", "/widget.js", "/widget.css", "/demo.css", "/no-such-file"):
        status, headers, body = fetch(f"{PAGE_ORIGIN}{path}")
        assert status == (404 if path == "/no-such-file" else 200), path
        policy = {d.split()[0]: d.split()[1:] for d in headers["Content-Security-Policy"].split("; ")}
        assert policy["default-src"] == ["'none'"] and policy["script-src"] == ["'self'"], policy
        assert policy["style-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"], policy
        assert policy["connect-src"] == [rasa] and policy["base-uri"] == ["'none'"], policy
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY" and "Python" not in (headers["Server"] or "")
        if path.endswith(".js"):
            assert headers["Content-Type"].startswith("text/javascript")
        if path in ("/", "/index.html"):  # the widget calls the configured assistant, and nothing else enables ?server=
            assert f'data-server="{rasa}"'.encode() in body and b"allow-server-param" not in body.lower()
    # only web/'s own files: no listing, no dot files, nothing outside it
    for path in ("/..%2fb12/settings.py", "/../README.md", "/%2e%2e/Makefile", "/.gitignore", "/web/", "//etc/passwd"):
        status, headers, _ = fetch(f"{PAGE_ORIGIN}{path}")
        assert status == 404 and headers["X-Content-Type-Options"] == "nosniff", path


def test_the_page_policy_lets_the_widget_work_and_stops_injected_script(browser):
    driver = browser()
    open_page(driver)
    added = ask(driver, "what is pernicious anemia?")
    assert any("parietal cells" in t for t in said(added[1:])) and is_caveat(added[-1])
    assert driver.execute_script("return window.__csp") == [], "the widget and the page break no rule of the policy"
    ran = driver.execute_script(
        """const s = document.createElement('script'); s.textContent = 'window.__injected = 1';
           document.body.appendChild(s); return window.__injected === 1;"""
    )
    assert ran is False
    assert any(v.startswith("script-src") for v in driver.execute_script("return window.__csp"))


def test_the_demo_page_ignores_a_server_in_its_address(browser, fake_rasa):
    """?server= used to point the widget at another server (data-allow-server-param): a link could
    send a patient's messages elsewhere. The default demo page has no such switch."""
    driver = browser()
    open_page(driver, f"{PAGE}?server={fake_rasa}")
    added = ask(driver, "what is pernicious anemia?")
    assert any("parietal cells" in t for t in said(added[1:])), "answered by the real assistant"
    assert FakeRasa.seen == []


def test_the_widget_sends_nothing_to_an_unencrypted_server_off_this_machine(browser, fake_rasa):
    """Only https:, or http: on this machine. fake.test is mapped to the stand-in, so without the rule
    the widget's messages would reach it over plain http."""
    fake_port = fake_rasa.rsplit(":", 1)[1]
    driver = browser(extra=["--host-resolver-rules=MAP fake.test 127.0.0.1"])
    # the test-only page whose server is its own origin: on 127.0.0.1 the widget talks to it
    open_page(driver, f"{fake_rasa}/page")
    assert ask(driver, "anything")[1]["text"].startswith("Bold <b>claim</b>")
    assert FakeRasa.seen == ["anything"]
    # the same page and server, but named fake.test (http, not this machine's name): nothing is sent
    open_page(driver, f"http://fake.test:{fake_port}/page")
    assert driver.execute_script("return location.host") == f"fake.test:{fake_port}"
    added = ask(driver, "my name is Zebulon")
    assert "b12c-msg--error" in added[-1]["classes"] and "911" in added[-1]["text"]
    assert FakeRasa.seen == ["anything"]


# ---- accessibility: axe-core (Deque), vendored in tests/system/vendor/axe-core -----------------------


def axe_problems(driver, state):
    """Serious and critical WCAG violations axe-core finds on the page as it is now."""
    source = AXE.read_text()
    assert f"axe v{AXE_VERSION}" in source[:200]
    driver.execute_script(source + "\n;window.__axe = axe;")
    results = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
           window.__axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                                          'wcag22aa', 'best-practice']},
                                       resultTypes: ['violations']})
             .then(r => done({passes: r.passes.length, violations: r.violations.map(v => ({
                 id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))}))
             .catch(e => done({error: String(e)}));"""
    )
    assert "error" not in results, results
    assert results["passes"] > 10, results  # axe really ran its rules
    return [
        (state, v["id"], v["impact"], v["nodes"])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("width", [1100, 375])
def test_no_serious_accessibility_violations(browser, width):
    driver = browser(width, 760)
    driver.execute_cdp_cmd("Page.setBypassCSP", {"enabled": True})  # axe builds its messages with new Function
    open_page(driver, open_panel=False)
    problems = axe_problems(driver, "page, chat closed")
    driver.find_element(By.CSS_SELECTOR, ".b12c-launcher").click()
    problems += axe_problems(driver, "chat open")
    ask(driver, "what is pernicious anemia?")
    assert driver.execute_script(
        "const s = document.querySelector('.b12c-scroll'); return s.scrollHeight > s.clientHeight"
    )
    problems += axe_problems(driver, "after an answer")
    ask(driver, "help")
    problems += axe_problems(driver, "with quick replies")
    assert problems == []


def test_the_conversation_scrolls_from_the_keyboard(browser):
    """The message area scrolls (a long answer does not fit): it takes focus, so the arrow keys,
    Page Up/Down, Home and End scroll it (axe: scrollable-region-focusable)."""
    driver = browser(375, 640)
    box = open_page(driver)
    ask(driver, "what is pernicious anemia?")
    ask(driver, "how is it treated?")
    scroller = driver.find_element(By.CSS_SELECTOR, ".b12c-scroll")
    assert driver.execute_script("return arguments[0].scrollHeight > arguments[0].clientHeight", scroller)
    for _ in range(15):
        driver.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
        if driver.switch_to.active_element == scroller:
            break
    assert driver.switch_to.active_element == scroller, "Shift+Tab from the text box reaches the messages"
    # focusable in every browser (not only where the browser makes scrollers focusable itself), and named
    assert scroller.get_attribute("tabindex") == "0"
    assert scroller.get_attribute("role") == "region" and scroller.get_attribute("aria-label")
    scroller.send_keys(Keys.HOME)
    assert wait_until(lambda: driver.execute_script("return arguments[0].scrollTop", scroller) == 0, 3)
    scroller.send_keys(Keys.END)
    assert wait_until(lambda: driver.execute_script("return arguments[0].scrollTop", scroller) > 0, 3)
    box.click()
