"""scripts/web_server.py, the demo page server: its policy and its rules, without starting it
(tests/system/test_browser.py checks the running server and the page in Chromium)."""

import importlib.util

import pytest

from b12 import settings

SPEC = importlib.util.spec_from_file_location("web_server", settings.ROOT / "scripts" / "web_server.py")
web_server = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(web_server)


def test_the_policy_allows_scripts_from_the_page_only_and_requests_to_the_assistant_only():
    headers = web_server.security_headers("https://assistant.example.org/b12/")
    policy = dict(d.split(" ", 1) for d in headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["connect-src"] == "https://assistant.example.org"
    assert (
        policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'" and policy["form-action"] == "'none'"
    )
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    assert web_server.assistant_origin("http://localhost:5005") == "http://localhost:5005"
    assert web_server.assistant_origin("http://127.0.0.1:6205/") == "http://127.0.0.1:6205"


@pytest.mark.parametrize(
    "url",
    [
        "http://assistant.example.org",  # a patient's messages in clear over a network
        "http://10.0.0.5:5005",
        "javascript:alert(1)",
        "https://user:pw@assistant.example.org",
        "assistant.example.org",
        "https://assistant.example.org:99999",
        "https://a.example.org; script-src *",  # no policy injection
    ],
)
def test_a_bad_assistant_url_is_refused_with_a_message_naming_the_setting(url):
    with pytest.raises(ValueError, match="WEB_ASSISTANT_URL="):
        web_server.security_headers(url)


def test_the_page_gets_the_configured_server_escaped():
    html = (settings.ROOT / "web" / "index.html").read_text()
    out = web_server.page(html, "https://assistant.example.org/")
    assert 'data-server="https://assistant.example.org"' in out and "localhost:5005" not in out
    assert out.replace('data-server="https://assistant.example.org"', 'data-server="http://localhost:5005"') == html
    assert 'data-server="https://a.example.org/&quot;&gt;"' in web_server.page(html, 'https://a.example.org/">')
    with pytest.raises(ValueError, match="one data-server attribute, found 0"):
        web_server.page("<script src=widget.js></script>", "https://a.example.org")


def test_only_plain_file_names_are_served():
    ok = web_server.FILE_NAME.fullmatch
    assert ok("index.html") and ok("widget.js") and ok("demo.css")
    for name in ("", ".git", ".env", "../README.md", "a/b.js", "..", "%2e%2e", "web/", "x" * 200):
        assert not ok(name), name
