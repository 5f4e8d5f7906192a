"""The report's figures from the tracker store's events (reporting/store.py). Pure: no I/O.

Read from each `user` event's parse_data (b12/kinds.py's labels): `message_kind`, the intent
(`nlu_fallback` for a fallback) and `emergency_category`; the channel from `input_channel` (else
the sender id's "rest:"/"slack:" namespace). From the slot events: `last_answer` (one per health
reply: its topic) and `feedback` (a vote: topic and helpful).

The questions the source did not answer: messages of kind `not_covered`, and fallbacks (the
assistant did not understand them: often a question worded in a way it does not know). Off-topic
messages are counted, never listed (the weather, jokes: nothing for the content team, and often
personal). A message that is an emergency or asks for personal advice never gives its text,
whatever else it is. Sender ids are used to count people and never leave this module.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Set, Tuple

from b12.kinds import FALLBACK_INTENT, INTENTS, PERSONAL_ADVICE
from reporting.groups import Question, group_questions
from reporting.scrub import PLACEHOLDERS, scrub
from reporting.store import SESSION_START, Event

REPLIES = (  # (key, label) of the replies that did not answer from the source
    ("fallback", "Not understood (fallback)"),
    ("not_covered", "Not covered by the source"),
    ("off_topic", "Off-topic"),
)


def _value(data: Dict[str, Any]) -> Dict[str, Any]:
    """A slot event's value as a dict (the actions store a JSON object; a string of one is read too)."""
    value = data.get("value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _label(value: Any, default: str = "unknown") -> str:
    return value.strip()[:80] if isinstance(value, str) and value.strip() else default


def person_of(sender_id: str) -> str:
    """Who asked, as far as the store can tell: a Slack conversation id may add the channel and the
    thread to the user (SLACK_CONVERSATION_GRANULARITY: "slack:U123_C456_1700000000.1"), and
    Slack user ids have no "_", so one user in many threads is one person for the k threshold."""
    if sender_id.startswith("slack:"):
        return sender_id.split("_", 1)[0]
    return sender_id


def _channel(event: Event) -> str:
    channel = event.data.get("input_channel")
    if not isinstance(channel, str) or not channel:
        channel = event.sender_id.split(":", 1)[0] if ":" in event.sender_id else "unknown"
    return _label(channel)


def build(events: Iterable[Event], since: date, until: date, min_senders: int) -> Dict[str, Any]:
    days = (until - since).days + 1
    per_day: Dict[str, Counter] = {str(since + timedelta(days=i)): Counter() for i in range(days)}
    channels: Counter = Counter()
    answers: Counter = Counter()
    votes: Dict[str, Counter] = defaultdict(Counter)
    replies: Counter = Counter()
    emergencies: Counter = Counter()
    advice: Counter = Counter()
    questions: List[Question] = []
    total = 0
    starting: Set[str] = set()  # conversations inside a session start: its slot events are copies
    voted: Set[Tuple[str, str]] = set()  # (person, answer): a vote counts once
    for event in events:
        if event.type_name == "action":
            (starting.add if event.name == SESSION_START else starting.discard)(event.sender_id)
            continue
        if event.type_name == "slot":
            if event.sender_id in starting:
                continue
            value = _value(event.data)
            topic = _label(value.get("topic"))
            if event.name == "last_answer":
                answers[topic] += 1
            elif event.name == "feedback" and isinstance(value.get("helpful"), bool):
                rated = (person_of(event.sender_id), f"{topic}|{value.get('passages')}")
                if rated in voted:
                    continue
                voted.add(rated)
                votes[topic]["votes"] += 1
                votes[topic]["helpful"] += value["helpful"]
            continue
        total += 1
        channel = _channel(event)
        day = str(datetime.fromtimestamp(event.timestamp, timezone.utc).date())
        if day in per_day:
            per_day[day][channel] += 1
        channels[channel] += 1
        parse = event.data.get("parse_data") if isinstance(event.data.get("parse_data"), dict) else {}
        intent = (parse.get("intent") or {}).get("name") if isinstance(parse.get("intent"), dict) else None
        # A button's message has no message_kind (Rasa's RegexMessageHandler rebuilds it): its intent's kind.
        kind = parse.get("message_kind") or (INTENTS[intent].kind if intent in INTENTS else None)
        category = parse.get("emergency_category")
        private = kind == "emergency" or kind in PERSONAL_ADVICE or bool(category)
        if kind == "emergency":
            emergencies[_label(category)] += 1
        elif kind in PERSONAL_ADVICE:
            advice[kind] += 1
        reason = "fallback" if intent == FALLBACK_INTENT else kind if kind in ("not_covered", "off_topic") else None
        if reason:
            replies[reason] += 1
        text = event.data.get("text")
        if reason in ("fallback", "not_covered") and not private and isinstance(text, str) and text.strip():
            if not text.lstrip().startswith("/"):  # a button's payload, not a question
                questions.append(Question(person_of(event.sender_id), scrub(text), reason))
    shown, hidden, hidden_messages = group_questions(questions, min_senders)
    all_channels = sorted(channels)
    return {
        "period": {"since": str(since), "until": str(until), "days": days},
        "min_senders": min_senders,
        "placeholders": list(PLACEHOLDERS),
        "messages": {
            "total": total,
            "channels": all_channels,
            "per_channel": {c: channels[c] for c in all_channels},
            "per_day": [{"day": d, **{c: per_day[d][c] for c in all_channels}} for d in per_day],
        },
        "answers_per_topic": [
            {"topic": t, "answers": n} for t, n in sorted(answers.items(), key=lambda x: (-x[1], x[0]))
        ],
        "helpful_per_topic": [
            {"topic": t, "votes": v["votes"], "helpful": v["helpful"], "rate": round(v["helpful"] / v["votes"], 3)}
            for t, v in sorted(votes.items(), key=lambda x: (-x[1]["votes"], x[0]))
        ],
        "unanswered_replies": [
            {
                "kind": key,
                "label": label,
                "count": replies[key],
                "share": round(replies[key] / total, 4) if total else 0.0,
            }
            for key, label in REPLIES
        ],
        "emergencies": [
            {"category": c, "count": n} for c, n in sorted(emergencies.items(), key=lambda x: (-x[1], x[0]))
        ],
        "personal_advice": [{"kind": k, "count": advice[k]} for k in PERSONAL_ADVICE],
        "questions": {
            "considered": len(questions),
            "shown": [
                {
                    "rank": i + 1,
                    "senders": g.senders,
                    "messages": g.messages,
                    "wordings": g.wordings,
                    "terms": g.terms,
                    "reasons": g.reasons,
                }
                for i, g in enumerate(shown)
            ],
            "hidden_groups": hidden,
            "hidden_messages": hidden_messages,
        },
    }
