"""Fixtures for the unit tests: rasa_sdk trackers built in each test."""

from typing import Any, Dict, List

import pytest


def _make_tracker(
    intent: str,
    text: str = "",
    entities: List[Dict[str, Any]] | None = None,
    slots: Dict[str, Any] | None = None,
    sender_id: str = "test-user",
):
    """A fresh rasa_sdk Tracker whose latest message has `intent` and `entities`."""
    from rasa_sdk import Tracker

    entities = entities or []
    latest = {
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities,
        "text": text,
        "intent_ranking": [{"name": intent, "confidence": 0.99}],
    }
    all_slots = {"condition": None, "route": None, "feature": None, "topic": None}
    all_slots.update(slots or {})
    return Tracker(
        sender_id=sender_id,
        slots=all_slots,
        latest_message=latest,
        events=[{"event": "user", "text": text, "parse_data": latest}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def _entity(kind: str, value: str) -> Dict[str, Any]:
    return {"entity": kind, "value": value, "start": 0, "end": 1, "extractor": "SpacyEntityExtractor"}


@pytest.fixture
def make_tracker():
    """Build a fresh rasa_sdk Tracker: make_tracker(intent, text, entities, slots)."""
    return _make_tracker


@pytest.fixture
def entity():
    """An entity as SpacyEntityExtractor gives it: entity(kind, value)."""
    return _entity
