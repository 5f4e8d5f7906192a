"""The assistant's own messages are short, kind and at or below an 8th-grade reading level."""

from pathlib import Path

import pytest
import textstat
import yaml

DOMAIN = yaml.safe_load((Path(__file__).resolve().parent.parent / "domain.yml").read_text())
RESPONSES = {
    name: variant["text"] for name, variants in DOMAIN["responses"].items() for variant in variants if "text" in variant
}


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


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_buttons_fit_slack(name):
    for variant in DOMAIN["responses"][name]:
        assert len(variant.get("buttons", [])) <= 5


def test_the_caveat_names_a_provider():
    assert "doctor or healthcare provider" in RESPONSES["utter_caveat"]


def test_the_emergency_message_names_emergency_numbers():
    text = RESPONSES["utter_emergency"]
    assert "emergency" in text and "911" in text and "988" in text
