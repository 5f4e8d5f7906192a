"""A tracker store with known conversations for the report's tests (tests/unit/test_report.py,
tests/system/test_report_browser.py), written by Rasa's own SQLTrackerStore from real Rasa events.

What it holds, and what the report should make of it (k = 5):
- coffee: 5 people ask "Can I drink coffee with my B12 tablets?" (one of them 4 times), a 6th the same
  with her name, phone number and email: shown, 6 people, that wording shown.
- tinnitus: 5 people ask about tinnitus, each in their own words (one signs with a name): shown,
  5 people, no wording (none was sent by 5), the word "tinnitus".
- ivf: 4 people (k - 1): hidden.
- hair: 1 person asks 5 times, 3 others once: 4 people, hidden.
- tummy: 5 fallbacks (not understood) from 5 people, with a <script> in it: shown, escaped.
- late: 5 people on LATE_DAY, outside the default period: shown only when the period includes it.
- emergencies (chest_pain x6, self_harm x1), personal advice (dosing x5, diagnosis x2) with names and
  numbers in them, 5 not-covered messages flagged with an emergency category, 5 off-topic messages: counted,
  never listed.
- answers: pernicious_anemia x3, route:oral x2; votes: pernicious_anemia 2 helpful of 3, route:oral 0 of 1.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

SINCE, UNTIL, LATE_DAY = date(2026, 11, 10), date(2026, 11, 12), date(2026, 11, 20)
SENDER_TAG = "patient-7f3a"  # in every sender id: the report must never contain it
FAKE_NAMES = ("Margaret", "Okafor", "Jane", "Roe", "Priya", "Dimitri", "Volkov", "Grete", "Halvorsen")
FAKE_CONTACTS = ("415-555-0132", "4155550132", "margaret.okafor@example.com", "212-555-0199", "+44 20 7946 0958")


def _ts(day: date, n: int) -> float:
    return datetime(day.year, day.month, day.day, 9, tzinfo=timezone.utc).timestamp() + 60 * n


def _messages() -> List[dict]:
    """(sender, day, text, kind, intent, category, channel, slot events after it)."""
    rows: List[dict] = []

    def add(sender, text, kind="not_covered", intent="ask_topic", category=None, day=SINCE, channel="rest", slots=()):
        rows.append(
            dict(
                sender=sender,
                text=text,
                kind=kind,
                intent=intent,
                category=category,
                day=day,
                channel=channel,
                slots=list(slots),
            )
        )

    coffee = [
        "Can I drink coffee with my B12 tablets?",
        "can i drink coffee with my b12 tablets",
        "Can I drink coffee with my B12 tablets",
    ]
    for i in range(5):
        add(f"c{i}", coffee[i % 3], day=UNTIL if i == 4 else SINCE, channel="slack" if i == 3 else "rest")
    for _ in range(3):
        add("c0", "can I drink coffee with my B12 tablets??")
    add(
        "c5",
        "Hi, I'm Margaret Okafor. Can I drink coffee with my B12 tablets?"
        " Call me on 415-555-0132 or margaret.okafor@example.com",
    )
    tinnitus = [
        "will b12 help my tinnitus",
        "b12 and tinnitus?",
        "could low b12 cause tinnitus",
        "My tinnitus is bad on 1000 mcg, could b12 help tinnitus",
        "tinnitus b12 link? thanks, Grete Halvorsen",
    ]
    for i, text in enumerate(tinnitus):
        add(f"t{i}", text)
    for i in range(4):
        add(f"i{i}", "is b12 safe during ivf treatment")
    for _ in range(5):
        add("h0", "does b12 stop hair loss")
    for i in range(1, 4):
        add(f"h{i}", "does b12 stop hair loss")
    for i in range(5):
        add(f"f{i}", "b12 <script>alert(1)</script> tummy thing", kind="education", intent="nlu_fallback")
    for i in range(5):
        add(f"l{i}", "can b12 patches replace injections", day=LATE_DAY)
    # never listed, whatever they say
    for i in range(6):
        add(
            f"e{i}",
            "I'm Jane Roe, crushing chest pain right now, call 212-555-0199",
            kind="emergency",
            category="chest_pain",
        )
    add("e6", "i want to end it all", kind="emergency", category="self_harm")
    for i in range(7, 12):  # not covered, but the emergency matcher flagged it: never listed either
        add(f"e{i}", "my chest pain is back, can b12 help", kind="not_covered", category="chest_pain")
    for i in range(5):
        add(f"d{i}", "Dimitri Volkov here, I am 45, how much B12 should I take", kind="dosing")
    for i in range(2):
        add(f"g{i}", "do I have pernicious anaemia, Priya asking", kind="diagnosis")
    for i in range(5):
        add(f"o{i}", "what's the weather in Leeds", kind="off_topic")
    # answered, with votes
    pa = {"topic": "pernicious_anemia", "passages": ["pa_what"], "kind": "education"}
    oral = {"topic": "route:oral", "passages": ["oral_route"], "kind": "education"}
    add(
        "a0",
        "what is pernicious anemia",
        kind="education",
        slots=[("last_answer", pa), ("feedback", {**pa, "helpful": True})],
    )
    add(
        "a1",
        "what is pernicious anemia",
        kind="education",
        slots=[("last_answer", pa), ("feedback", {**pa, "helpful": True})],
    )
    add("a2", "what is PA", kind="education", slots=[("last_answer", pa), ("feedback", {**pa, "helpful": False})])
    add(
        "a3",
        "can i take b12 by mouth",
        kind="education",
        slots=[("last_answer", oral), ("feedback", {**oral, "helpful": False})],
    )
    add("a4", "are tablets ok", kind="education", slots=[("last_answer", oral)])
    return rows


def expected_counts() -> Dict[str, int]:
    rows = _messages()
    in_period = [r for r in rows if r["day"] <= UNTIL]
    return {
        "total": len(in_period),
        "slack": sum(r["channel"] == "slack" for r in in_period),
        "late": len(rows) - len(in_period),
    }


def build(db: Optional[Path], domain=None, store=None) -> Optional[Path]:
    """Write the conversations to a new SQLite tracker store at `db` with Rasa's SQLTrackerStore
    (or to `store`, another SQLTrackerStore: PostgreSQL)."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = domain or Domain.empty()
    store = store or SQLTrackerStore(domain, dialect="sqlite", db=str(db))
    clock = itertools.count()
    trackers: Dict[str, DialogueStateTracker] = {}
    for row in _messages():
        sender = f"{row['channel']}:{SENDER_TAG}-{row['sender']}"
        tracker = trackers.get(sender)
        if tracker is None:
            tracker = trackers[sender] = DialogueStateTracker(sender, domain.slots)
            start = _ts(row["day"], next(clock))
            tracker.update(ActionExecuted("action_session_start", timestamp=start))
            tracker.update(SessionStarted(timestamp=start + 0.1))
            tracker.update(ActionExecuted("action_listen", timestamp=start + 0.2))
        n = next(clock)
        parse_data: Dict[str, Optional[object]] = {
            "intent": {"name": row["intent"], "confidence": 0.9},
            "entities": [],
            "text": row["text"],
            "message_kind": row["kind"],
        }
        if row["category"]:
            parse_data["emergency_category"] = row["category"]
        tracker.update(
            UserUttered(
                row["text"],
                parse_data["intent"],
                [],
                parse_data,
                timestamp=_ts(row["day"], n),
                input_channel=row["channel"],
            )
        )
        tracker.update(
            BotUttered("a reply", {}, {"utter_action": "utter_not_covered"}, timestamp=_ts(row["day"], n) + 1)
        )
        for i, (slot, value) in enumerate(row["slots"]):
            tracker.update(SlotSet(slot, value, timestamp=_ts(row["day"], n) + 2 + i))
        tracker.update(ActionExecuted("action_listen", timestamp=_ts(row["day"], n) + 5))
    for tracker in trackers.values():
        asyncio.run(store.save(tracker))
    store.engine.dispose()
    return db
