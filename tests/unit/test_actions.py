"""Every custom action, run on trackers built fresh in each test: messages and events."""

import asyncio
import re

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAnswerQuestion, ActionClarifyQuestion, ActionDeclinePersonalAdvice, HealthReplyAction
from b12 import settings
from b12.answering import PERSONAL_ADVICE_INTENTS
from b12.kinds import ANSWER_INTENTS
from b12.knowledge import get_knowledge

DOMAIN = {}


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, events


def texts(messages):
    return " ".join(m.get("text") or "" for m in messages)


@pytest.mark.parametrize("intent", ANSWER_INTENTS)
def test_every_answer_ends_with_the_caveat(intent, make_tracker):
    messages, events = run(ActionAnswerQuestion(), make_tracker(intent))
    assert messages[-1]["response"] == "utter_caveat"
    assert messages[-2]["text"]  # the quoted passages, just before the caveat
    assert all(isinstance(e, dict) and e["event"] == "slot" for e in events)


@pytest.mark.parametrize("intent", list(PERSONAL_ADVICE_INTENTS))
def test_personal_advice_is_declined_then_quoted_then_caveated(intent, make_tracker):
    messages, events = run(ActionDeclinePersonalAdvice(), make_tracker(intent, "how much should i take"))
    assert messages[0]["response"] == PERSONAL_ADVICE_INTENTS[intent][0]
    assert messages[-1]["response"] == "utter_caveat"
    assert not re.search(r"\d\s*(mcg|mg|µg|iu)\b", texts(messages), re.I)
    assert SlotSet("topic", PERSONAL_ADVICE_INTENTS[intent][1]) in events


def test_pernicious_anemia_answer_quotes_the_source(make_tracker):
    messages, events = run(ActionAnswerQuestion(), make_tracker("ask_pernicious_anemia", "what is PA?"))
    assert "parietal cells" in messages[0]["text"]
    ref = "pernicious_anemia|pa.parietal_cells+pa.central_feature"
    assert events == [
        SlotSet("topic", "pernicious_anemia"),
        SlotSet("feature", None),
        SlotSet(
            "last_answer", {"topic": "pernicious_anemia", "passages": ref.split("|")[1].split("+"), "kind": "education"}
        ),
        SlotSet("feedback_asked", [ref]),
    ]


def test_shots_then_side_effects_then_pills(make_tracker, entity):
    shots = make_tracker("ask_route", "tell me about b12 shots", [entity("route", "injection")], {"route": "injection"})
    messages, events = run(ActionAnswerQuestion(), shots)
    assert "Directly delivers B12 into bloodstream" in messages[0]["text"]
    assert SlotSet("route", "injection") in events

    side_effects = make_tracker("ask_risks", "any side effects?", slots={"route": "injection"})
    messages, events = run(ActionAnswerQuestion(), side_effects)
    assert messages[0]["text"].startswith("Intramuscular Injections, risk profile: Minor side effects possible")
    assert SlotSet("feature", "risk") in events

    pills = make_tracker(
        "ask_route", "what about pills?", [entity("route", "oral")], {"route": "oral", "feature": "risk"}
    )
    messages, events = run(ActionAnswerQuestion(), pills)
    assert messages[0]["text"].startswith("Oral Supplements, risk profile: Low risk, excess is excreted")
    assert messages[-1]["response"] == "utter_caveat"


def test_pernicious_anemia_then_treatment_then_for_life(make_tracker):
    treated = make_tracker("ask_treatment", "how is it treated?", slots={"condition": "pernicious_anemia"})
    messages, _ = run(ActionAnswerQuestion(), treated)
    assert "standard of care" in messages[0]["text"]
    for_life = make_tracker("ask_lifelong", "is that for life?", slots={"condition": "pernicious_anemia"})
    messages, _ = run(ActionAnswerQuestion(), for_life)
    assert "lifelong treatment" in messages[0]["text"]


def test_every_health_text_is_vetted(make_tracker):
    kb = get_knowledge()
    vetted = {p.text for p in kb.passages.values()}
    for intent in ANSWER_INTENTS:
        messages, _ = run(ActionAnswerQuestion(), make_tracker(intent))
        for part in messages[-2]["text"].split("\n\n"):
            assert part in vetted


def test_the_base_class_is_abstract_so_it_is_not_registered():
    with pytest.raises(TypeError):
        HealthReplyAction()


def test_action_code_depends_on_rasa_sdk_only():
    paths = list(settings.ROOT.joinpath("actions").glob("*.py"))
    assert paths
    for path in paths:
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+rasa(\.|\s)", source, re.M), path.name
        assert not re.search(r"^\s*(from|import)\s+extensions\b", source, re.M), path.name


def test_the_core_has_no_rasa_imports():
    """b12/ (knowledge, safety, entities, answering, settings) imports neither Rasa nor rasa_sdk."""
    paths = list(settings.ROOT.joinpath("b12").glob("*.py"))
    assert len(paths) >= 8
    for path in paths:
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(rasa|rasa_sdk|extensions|actions)\b", source, re.M), path.name


def test_an_unclear_message_gets_a_clarifying_reply_and_no_events(make_tracker):
    messages, events = run(ActionClarifyQuestion(), make_tracker("nlu_fallback", "blorp"))
    assert [m["response"] for m in messages] == ["utter_clarify"]
    assert events == []


def test_an_unclear_elliptical_follow_up_is_answered_in_context(make_tracker, entity):
    tracker = make_tracker(
        "nlu_fallback", "and with the jabs?", [entity("route", "injection")], {"route": "injection", "feature": "risk"}
    )
    messages, events = run(ActionClarifyQuestion(), tracker)
    assert messages[0]["text"].startswith("Intramuscular Injections, risk profile")
    assert messages[-1]["response"] == "utter_caveat"
    assert SlotSet("route", "injection") in events


def test_a_vague_link_follow_up_refers_to_the_condition_named_before(make_tracker):
    tracker = make_tracker("ask_link", "why would that make my b12 low", slots={"condition": "hashimotos"})
    messages, _ = run(ActionAnswerQuestion(), tracker)
    assert "Hashimoto's" in messages[0]["text"] and "cause and effect" in messages[0]["text"]
