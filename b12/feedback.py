""" "Was this helpful?": which answer a vote rates, the buttons that ask, and whether a vote counts.
No Rasa imports: actions/actions.py reads the tracker and calls these.

An answer is named by its topic and the ids of the passages it quoted (`answer_ref`). The buttons
ride on the provider caveat, the last message of the answer, and carry that name in their payload,
so a click on an older answer rates that answer. Each answer is asked about once per conversation,
and a vote counts once: the action stores it as a `feedback` slot event (`Vote.as_event_value`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

RATE_INTENT = "rate_answer"
HELPFUL_ENTITY = "helpful"
ANSWER_ENTITY = "answer"
YES, NO, SKIP = "yes", "no", "skip"
# Said on the buttons in the widget, in Slack and in `rasa shell` (where there is no other question).
# `rasa shell` shows buttons as a pick list with the first one chosen: there "Skip" comes first, so
# pressing Enter to go on is no vote.
TITLES = {YES: "Yes, this helped", NO: "No, this did not help", SKIP: "Skip"}
SKIP_FIRST_CHANNELS = frozenset({"cmdline"})

SKIPPED_RESPONSE = "utter_feedback_skipped"
THANKS_RESPONSE = "utter_feedback_thanks"
SORRY_RESPONSE = "utter_feedback_sorry"
ALREADY_RESPONSE = "utter_feedback_already"
UNKNOWN_RESPONSE = "utter_feedback_unknown"

MAX_REF_CHARS = 300  # a ref names a topic and at most 3 passage ids


def answer_ref(topic: str, passage_ids: Sequence[str]) -> str:
    """The name of an answer: its topic and the passages it quoted, in order."""
    return f"{topic}|{'+'.join(passage_ids)}"


def parse_ref(ref: Any) -> Tuple[str, List[str]] | None:
    """(topic, passage ids) from an answer's name, or None if it is not one."""
    if not isinstance(ref, str) or not 0 < len(ref) <= MAX_REF_CHARS or ref.count("|") != 1:
        return None
    topic, ids = ref.split("|")
    passages = [p for p in ids.split("+") if p]
    if not topic or not passages:
        return None
    return topic, passages


def buttons(ref: str, skip_first: bool = False) -> List[Dict[str, str]]:
    """The buttons that ask whether the answer named `ref` helped: yes and no, after "Skip" in a
    pick list (`skip_first`)."""

    def payload(value: str) -> str:
        return "/" + RATE_INTENT + json.dumps({HELPFUL_ENTITY: value, ANSWER_ENTITY: ref}, separators=(",", ":"))

    values = (SKIP, YES, NO) if skip_first else (YES, NO)
    return [{"title": TITLES[value], "payload": payload(value)} for value in values]


@dataclass(frozen=True)
class Vote:
    topic: str
    passages: Tuple[str, ...]
    helpful: bool

    @property
    def ref(self) -> str:
        return answer_ref(self.topic, self.passages)

    def as_event_value(self) -> Dict[str, Any]:
        """What the `feedback` slot event stores: the answer it rates, and the vote."""
        return {"topic": self.topic, "passages": list(self.passages), "helpful": self.helpful}


@dataclass(frozen=True)
class Outcome:
    response: str
    vote: Vote | None = None  # None: nothing to store


def decide_vote(helpful: Any, ref: Any, asked: Sequence[str], voted: Sequence[str]) -> Outcome:
    """What a click on a "was this helpful?" button does.

    `asked`: the answers this conversation was asked about; `voted`: those already rated. A vote
    counts once, and only for an answer the conversation was asked about (a typed or replayed
    payload for anything else stores nothing)."""
    parsed = parse_ref(ref)
    if helpful == SKIP:
        return Outcome(SKIPPED_RESPONSE)
    if helpful not in (YES, NO) or parsed is None or ref not in asked:
        return Outcome(UNKNOWN_RESPONSE)
    if ref in voted:
        return Outcome(ALREADY_RESPONSE)
    topic, passages = parsed
    vote = Vote(topic, tuple(passages), helpful == YES)
    return Outcome(THANKS_RESPONSE if vote.helpful else SORRY_RESPONSE, vote)
