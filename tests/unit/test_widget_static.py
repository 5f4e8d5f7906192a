"""Static checks of the chat widget's files (no browser needed): no HTML parsing of text, nothing
fetched from outside, and the demo page embeds the widget with one script tag."""

import re
from pathlib import Path

from b12 import settings

ROOT = settings.ROOT
WEB = ROOT / "web"


def code(path: Path) -> str:
    """The file without /* */ and // comments (comments may show example URLs)."""
    text = path.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", text)


def test_widget_never_parses_text_as_html_or_code():
    js = code(WEB / "widget.js")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc"):
        assert sink not in js, sink
    assert 'setAttribute("href"' not in js and "setAttribute('href'" not in js


def test_widget_loads_nothing_from_outside():
    js, css = code(WEB / "widget.js"), code(WEB / "widget.css")
    urls = set(re.findall(r"https?://[^\s\"'`)]+", js + css))
    assert urls == set(), urls
    assert "@import" not in css and "url(" not in css
    assert "import(" not in js and "importScripts" not in js


def test_demo_page_embeds_the_widget_with_one_script_tag():
    html = (WEB / "index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 1, scripts
    tag = scripts[0]
    assert 'src="widget.js"' in tag and 'data-server="http://localhost:5005"' in tag and " defer" in tag
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), "the demo page loads nothing from outside"


def test_every_emergency_message_starts_the_way_the_widget_styles_it():
    import re

    import yaml

    root = settings.ROOT
    prefix = re.search(r'const EMERGENCY_PREFIX = "([^"]+)"', (root / "web" / "widget.js").read_text()).group(1)
    messages = yaml.safe_load((root / "knowledge" / "crisis_lines.yml").read_text())["messages"]
    assert all(text.startswith(prefix) for text in messages.values()), messages


def test_the_demo_page_needs_no_inline_code_and_has_no_server_switch():
    """The page works under its Content-Security-Policy (scripts and styles from its own origin only),
    and nothing in its address can point the widget at another server."""
    html = (WEB / "index.html").read_text()
    assert "<style" not in html and " style=" not in html and re.search(r"\son[a-z]+=", html) is None
    assert re.findall(r"<script\b[^>]*>\s*</script>", html) == re.findall(r"<script\b[^>]*>.*?</script>", html, re.S)
    assert "allow-server-param" not in html.lower()
    js = code(WEB / "widget.js")
    assert "location.search" not in js and "URLSearchParams" not in js and "allowServerParam" not in js
    assert "location.hash" not in js


def test_every_url_the_widget_uses_passes_one_rule():
    """safeUrl: https:, or http: on this machine only; the server and every link go through it, and a
    link must be https:."""
    js = code(WEB / "widget.js")
    rule = js.split("function safeUrl(value) {", 1)[1].split("\n  }\n", 1)[0]
    assert 'if (u.protocol === "https:") return u;' in rule
    assert 'u.protocol === "http:" && LOOPBACK.indexOf(u.hostname.toLowerCase()) !== -1' in rule
    assert re.search(r'const LOOPBACK = \["localhost", "127\.0\.0\.1", "\[::1\]"\];', js)
    assert "if (!safeUrl(server))" in js
    assert 'if (!u || u.protocol !== "https:") return null;' in js.split("function allowedLink(raw) {", 1)[1]
    assert js.count("new URL(") == 2  # safeUrl, and widget.css beside widget.js: no other parsing of URLs
