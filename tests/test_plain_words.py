"""The assistant's own messages are short, kind and at or below an 8th-grade reading level."""

import re
from pathlib import Path

import pytest
import textstat
import yaml

from channels.rest import SAFE_REPLY

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
WIDGET = (ROOT / "web" / "widget.js").read_text()


def _js_text(pattern: str) -> str:
    """A string the widget shows, joined from its JS string literals."""
    found = re.search(pattern, WIDGET, re.S)
    assert found, pattern
    return "".join(re.findall(r'"([^"]*)"', found.group(1)))


RESPONSES = {
    name: variant["text"] for name, variants in DOMAIN["responses"].items() for variant in variants if "text" in variant
}
# Messages written outside domain.yml: the REST channel's safe reply and the widget's own text.
RESPONSES["rest: safe reply"] = SAFE_REPLY
RESPONSES["widget: assistant unreachable"] = _js_text(r"const ERROR_TEXT =(.*?);")
RESPONSES["widget: notice"] = _js_text(r'"b12c-notice",(\s*"[^"]*")')


def test_every_response_is_measured():
    for name in ("utter_greet", "utter_help", "utter_caveat", "utter_emergency", "utter_out_of_scope", "utter_clarify"):
        assert name in RESPONSES


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_reading_grade_is_at_most_8(name):
    grade = textstat.flesch_kincaid_grade(RESPONSES[name])
    assert grade <= 8.0, f"{name}: grade {grade}"


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_messages_are_short(name):
    assert len(RESPONSES[name].split()) <= 40, name


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_buttons_fit_slack(name):
    for variant in DOMAIN["responses"][name]:
        assert len(variant.get("buttons", [])) <= 5


def test_the_caveat_names_a_provider():
    assert "doctor or healthcare provider" in RESPONSES["utter_caveat"]


def test_the_emergency_message_names_emergency_numbers():
    text = RESPONSES["utter_emergency"]
    assert "emergency" in text and "911" in text and "988" in text
