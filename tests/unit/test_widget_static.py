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
