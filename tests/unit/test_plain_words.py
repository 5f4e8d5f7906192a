"""The assistant's own messages are short, kind and at or below an 8th-grade reading level."""

import re

import pytest
import textstat
import yaml

from b12 import settings
from b12.answering import SAFE_REPLY
from b12.feedback import TITLES
from b12.knowledge import get_knowledge
from extensions.channels import RATE_LIMITED
from extensions.channels.rest import BUSY
from extensions.channels.slack import TOO_LONG

ROOT = settings.ROOT
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
RESPONSES["channels: too fast"] = RATE_LIMITED
RESPONSES["rest: busy"] = BUSY
RESPONSES["slack: too long"] = TOO_LONG.format(limit=10000)
RESPONSES["widget: assistant unreachable"] = _js_text(r"const ERROR_TEXT =(.*?);")
RESPONSES["widget: notice"] = _js_text(r'"b12c-notice",(\s*"[^"]*")')
# The emergency and crisis messages, filled in with every region's numbers.
CRISIS = yaml.safe_load((ROOT / "knowledge" / "crisis_lines.yml").read_text())
for region, numbers in CRISIS["regions"].items():
    for key, template in CRISIS["messages"].items():
        RESPONSES[f"crisis {region}: {key}"] = template.format(**numbers)
# A related "not covered" preface and an unsure one, with the longest topic label.
for _name in ("utter_not_covered_related", "utter_unsure_related"):
    RESPONSES[_name] = DOMAIN["responses"][_name][0]["text"].format(about="celiac and Crohn's disease")

# "Where is that from?", filled in with the source's title, two of its headings and a date.
for _name in ("utter_source_of_answer", "utter_source"):
    RESPONSES[_name] = DOMAIN["responses"][_name][0]["text"].format(
        title=get_knowledge().source_title,
        sections='"Autoimmune Conditions that Affect B12 Absorption"; "Conclusion: A Supportive Tool, Not a Cure"',
        reviewed="December 1, 2026",
        reviewer="clinical content lead",
    )
# "Was this helpful?": the buttons and the widget's label for them.
for _value, _title in TITLES.items():
    RESPONSES[f"feedback button: {_value}"] = _title
RESPONSES["widget: rating label"] = _js_text(r'"b12c-rating-label",(\s*"[^"]*")')


def test_every_response_is_measured():
    for name in (
        "utter_greet",
        "utter_help",
        "utter_caveat",
        "utter_out_of_scope",
        "utter_clarify",
        "crisis us: emergency",
    ):
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


@pytest.mark.parametrize(
    "key, numbers",
    [
        ("crisis us: emergency", ["911"]),
        ("crisis us: self_harm", ["988", "911"]),
        ("crisis us: violence", ["911", "1-800-799-7233", "1-800-656-4673"]),
        ("crisis us: poisoning", ["911", "1-800-222-1222"]),
        ("crisis uk: emergency", ["999"]),
        ("crisis uk: self_harm", ["116 123", "111", "999"]),
    ],
)
def test_each_emergency_message_says_emergency_and_names_its_numbers(key, numbers):
    text = RESPONSES[key]
    assert "emergency" in text.lower() and all(n in text for n in numbers), text
