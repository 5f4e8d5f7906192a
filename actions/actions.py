"""Custom actions. Thin: read the tracker, call the pure functions in
b12.answering, utter, return events. Depends on rasa_sdk only."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from b12.answering import Answer, Question, compose_health_reply, plan_follow_up, plan_reply
from b12.crisis import crisis_lines

CLARIFY_RESPONSE = "utter_clarify"
NOT_COVERED_RESPONSE = "utter_not_covered"


def question_from(tracker: Tracker) -> Question:
    """The current question: its intent, this message's entities, and remembered slots."""
    latest = tracker.latest_message or {}
    intent = (latest.get("intent") or {}).get("name") or ""

    def values(entity: str) -> List[str]:
        return [str(v) for v in tracker.get_latest_entity_values(entity)]

    def slot(name: str) -> str | None:
        value = tracker.get_slot(name)
        return str(value) if value else None

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
        alert=bool(latest.get("emergency_category")) and latest.get("emergency_reported") is False,
        alert_category=latest.get("emergency_category") or None,
    )


class HealthReplyAction(Action, ABC):
    """Base for every action that says health content: it plans the answer from the
    tracker and always goes through compose_health_reply, so the provider caveat is
    the last message. Abstract, so rasa_sdk does not register it."""

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
        for message in compose_health_reply(
            answer.passages, preface=answer.preface, alert=answer.alert, preface_args=answer.preface_args
        ):
            dispatcher.utter_message(**message)
        return [SlotSet(name, value) for name, value in answer.slots.items()]


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
