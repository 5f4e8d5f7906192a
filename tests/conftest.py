import os
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_tracker(
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


def entity(kind: str, value: str) -> Dict[str, Any]:
    return {"entity": kind, "value": value, "start": 0, "end": 1, "extractor": "SpacyEntityExtractor"}


@pytest.fixture
def tracker_factory():
    return make_tracker
