"""Custom actions. Thin: read the tracker, call the pure functions in
b12.answering, utter, return events. Depends on rasa_sdk only."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from b12 import feedback
from b12.answering import Answer, Question, compose_health_reply, plan_follow_up, plan_reply
from b12.crisis import crisis_lines

CLARIFY_RESPONSE = "utter_clarify"
NOT_COVERED_RESPONSE = "utter_not_covered"
# Slots only the actions set (domain.yml): the last answer given, the answers the patient was
# asked to rate, and a vote.
LAST_ANSWER_SLOT = "last_answer"
ASKED_SLOT = "feedback_asked"
VOTED_SLOT = "feedback_voted"
FEEDBACK_SLOT = "feedback"


def _refs(tracker: Tracker, slot: str) -> List[str]:
    value = tracker.get_slot(slot)
    return [str(v) for v in value] if isinstance(value, list) else []


def question_from(tracker: Tracker) -> Question:
    """The current question: its intent, this message's entities, and remembered slots."""
    latest = tracker.latest_message or {}
    intent = (latest.get("intent") or {}).get("name") or ""

    def values(entity: str) -> List[str]:
        return [str(v) for v in tracker.get_latest_entity_values(entity)]

    def slot(name: str) -> str | None:
        value = tracker.get_slot(name)
        return str(value) if value else None

    last: Any = tracker.get_slot(LAST_ANSWER_SLOT)
    last_passages = last.get("passages") if isinstance(last, dict) else None

    return Question(
        intent=intent,
        routes=values("route"),
        conditions=values("condition"),
        features=values("feature"),
        route_slot=slot("route"),
        condition_slot=slot("condition"),
        feature_slot=slot("feature"),
        topic_slot=slot("topic"),
        kind=str(latest.get("message_kind") or "education"),
        topic_intent=latest.get("topic_intent") or None,
        unsure=latest.get("unsure") is True,
        alert=bool(latest.get("emergency_category")) and latest.get("emergency_reported") is False,
        alert_category=latest.get("emergency_category") or None,
        last_passages=tuple(str(p) for p in last_passages) if isinstance(last_passages, list) else (),
    )


class HealthReplyAction(Action, ABC):
    """Base for every action that says health content: it plans the answer from the
    tracker and always goes through compose_health_reply, so the provider caveat is
    the last message. The caveat asks "was this helpful?" the first time an answer is given in a
    conversation; `last_answer` records which answer it was. Abstract, so rasa_sdk does not
    register it."""

    # Said when the plan has no passages to quote.
    nothing_to_quote = CLARIFY_RESPONSE

    @abstractmethod
    def name(self) -> str: ...

    def plan(self, question: Question) -> Answer | None:
        return plan_reply(question)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        answer = self.plan(question_from(tracker))
        if answer is None:
            dispatcher.utter_message(response=self.nothing_to_quote)
            return []
        asked = _refs(tracker, ASKED_SLOT)
        ask = answer.rated and answer.ref not in asked
        for message in compose_health_reply(
            answer.passages,
            preface=answer.preface,
            alert=answer.alert,
            preface_args=answer.preface_args,
            ask_feedback=answer.ref if ask else None,
            skip_first=tracker.get_latest_input_channel() in feedback.SKIP_FIRST_CHANNELS,
        ):
            dispatcher.utter_message(**message)
        events: List[EventType] = [SlotSet(name, value) for name, value in answer.slots.items()]
        if answer.rated:
            events.append(SlotSet(LAST_ANSWER_SLOT, answer.as_event_value()))
        if ask:
            events.append(SlotSet(ASKED_SLOT, [*asked, answer.ref]))
        return events


class ActionAnswerQuestion(HealthReplyAction):
    """Answers a topic, route or table question with vetted passages. A question the source does
    not answer gets "my source doesn't answer that", with what it does say when it says
    something related (b12/answering.py: plan_reply)."""

    nothing_to_quote = NOT_COVERED_RESPONSE

    def name(self) -> str:
        return "action_answer_question"


class ActionDeclinePersonalAdvice(HealthReplyAction):
    """Declines personal dosing, diagnosis or treatment changes, then quotes what the
    material says about working with a provider."""

    def name(self) -> str:
        return "action_decline_personal_advice"


class ActionClarifyQuestion(HealthReplyAction):
    """For an unclear message: answers an elliptical follow-up in context, otherwise asks
    the person to clarify with suggestion buttons. Never a guessed answer."""

    def name(self) -> str:
        return "action_clarify_question"

    def plan(self, question: Question) -> Answer | None:
        return plan_follow_up(question)


class ActionRecordFeedback(Action):
    """A "was this helpful?" button was clicked: store the vote once, as a `feedback` slot event
    naming the answer it rates (b12/feedback.py), and thank the patient. A "no" offers the topics
    and suggests asking a provider."""

    def name(self) -> str:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        voted = _refs(tracker, VOTED_SLOT)
        outcome = feedback.decide_vote(
            next(tracker.get_latest_entity_values(feedback.HELPFUL_ENTITY), None),
            next(tracker.get_latest_entity_values(feedback.ANSWER_ENTITY), None),
            asked=_refs(tracker, ASKED_SLOT),
            voted=voted,
        )
        dispatcher.utter_message(response=outcome.response)
        if outcome.vote is None:
            return []
        return [SlotSet(FEEDBACK_SLOT, outcome.vote.as_event_value()), SlotSet(VOTED_SLOT, [*voted, outcome.vote.ref])]


class ActionSendEmergencyHelp(Action):
    """Someone reports an emergency happening now: emergency care first, and nothing else. The
    message and its numbers depend on the category and the deployment's region
    (knowledge/crisis_lines.yml, CRISIS_REGION)."""

    def name(self) -> str:
        return "action_send_emergency_help"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        category = (tracker.latest_message or {}).get("emergency_category")
        dispatcher.utter_message(text=crisis_lines().reply(category))
        return []
