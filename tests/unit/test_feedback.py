""" "Was this helpful?" and "where is that from?": the buttons on the caveat, the stored vote (a
`feedback` slot event naming the answer), never asked or counted twice, and the source facts."""

import asyncio

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAnswerQuestion, ActionDeclinePersonalAdvice, ActionRecordFeedback
from b12 import feedback, settings
from b12.answering import compose_health_reply, source_facts
from b12.kinds import understand
from b12.knowledge import get_knowledge

PA_REF = "pernicious_anemia|pa.parietal_cells+pa.central_feature"
PA_PASSAGES = ["pa.parietal_cells", "pa.central_feature"]


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def slot_events(events, name):
    return [e["value"] for e in events if e["event"] == "slot" and e["name"] == name]


def vote(make_tracker, entity, helpful, ref=PA_REF, asked=(PA_REF,), voted=()):
    payload = f'/rate_answer{{"helpful":"{helpful}","answer":"{ref}"}}'
    tracker = make_tracker(
        "rate_answer",
        payload,
        [entity("helpful", helpful), entity("answer", ref)],
        {"feedback_asked": list(asked), "feedback_voted": list(voted)},
    )
    return run(ActionRecordFeedback(), tracker)


# ---- the buttons ride on the caveat, once per answer ---------------------------------------


def test_an_answer_asks_whether_it_helped_on_the_caveat_and_remembers_it_asked(make_tracker):
    messages, events = run(ActionAnswerQuestion(), make_tracker("ask_pernicious_anemia", "what is PA?"))
    caveat = messages[-1]
    assert caveat["response"] == "utter_caveat"  # still the last message
    assert [b["title"] for b in caveat["buttons"]] == ["Yes, this helped", "No, this did not help"]
    assert all(PA_REF in b["payload"] for b in caveat["buttons"])
    assert slot_events(events, "feedback_asked") == [[PA_REF]]
    assert slot_events(events, "last_answer") == [
        {"topic": "pernicious_anemia", "passages": PA_PASSAGES, "kind": "education"}
    ]


def test_the_same_answer_is_never_asked_about_twice(make_tracker):
    tracker = make_tracker("ask_pernicious_anemia", "what is PA again?", slots={"feedback_asked": [PA_REF]})
    messages, events = run(ActionAnswerQuestion(), tracker)
    assert (messages[-1]["response"], messages[-1]["buttons"]) == ("utter_caveat", [])
    assert slot_events(events, "feedback_asked") == []
    assert slot_events(events, "last_answer")  # still the last answer given


def test_a_new_answer_is_asked_about_beside_the_earlier_ones(make_tracker):
    tracker = make_tracker("ask_risks", "any risks?", slots={"feedback_asked": [PA_REF]})
    messages, events = run(ActionAnswerQuestion(), tracker)
    risks = "risks|risks.not_cure_all+risks.self_treating+risks.high_levels"
    assert [risks in b["payload"] for b in messages[-1]["buttons"]] == [True, True]
    assert slot_events(events, "feedback_asked") == [[PA_REF, risks]]


def test_a_declined_request_is_a_health_reply_and_is_rated_too(make_tracker):
    messages, events = run(ActionDeclinePersonalAdvice(), make_tracker("ask_dosing", "how much should i take"))
    assert messages[-1]["response"] == "utter_caveat" and len(messages[-1]["buttons"]) == 2
    assert slot_events(events, "last_answer")[0]["kind"] == "dosing"


def test_the_button_payload_is_read_by_rasa_as_the_intent_and_the_answer_it_names():
    domain = Domain.load(str(settings.ROOT / "domain.yml"))
    for button, value in zip(feedback.buttons(PA_REF), ("yes", "no")):
        parsed = YAMLStoryReader.unpack_regex_message(Message.build(button["payload"]), domain)
        assert parsed.get("intent")["name"] == "rate_answer"
        entities = {e["entity"]: e["value"] for e in parsed.get("entities")}
        assert entities == {"helpful": value, "answer": PA_REF}


def test_a_button_payload_is_never_read_as_an_emergency_or_a_request():
    # the payload's JSON holds passage ids such as risks.high_levels and words such as "no"
    payload = feedback.buttons("risks|risks.not_cure_all+risks.self_treating+risks.high_levels")[1]["payload"]
    u = understand(payload, [("emergency", 0.99)])
    assert (u.kind, u.intent, u.emergency) == ("conversation", "rate_answer", None)
    # a typed message that only starts like one is read as typed
    assert understand("/rate_answer i took 40 pills now", [("emergency", 0.99)]).kind == "emergency"


def test_in_rasa_shell_skip_comes_first_so_enter_is_no_vote(make_tracker, entity):
    tracker = make_tracker("ask_pernicious_anemia", "what is PA?")
    tracker.events[-1]["input_channel"] = "cmdline"
    messages, _ = run(ActionAnswerQuestion(), tracker)
    assert [b["title"] for b in messages[-1]["buttons"]] == ["Skip", "Yes, this helped", "No, this did not help"]
    messages, events = vote(make_tracker, entity, "skip")
    assert [m["response"] for m in messages] == ["utter_feedback_skipped"]
    assert events == []


# ---- the vote ------------------------------------------------------------------------------


def test_yes_is_stored_once_as_an_event_naming_the_answer(make_tracker, entity):
    messages, events = vote(make_tracker, entity, "yes")
    assert [m["response"] for m in messages] == ["utter_feedback_thanks"]
    assert events == [
        SlotSet("feedback", {"topic": "pernicious_anemia", "passages": PA_PASSAGES, "helpful": True}),
        SlotSet("feedback_voted", [PA_REF]),
    ]


def test_no_is_stored_and_offers_the_topics_and_a_provider(make_tracker, entity):
    messages, events = vote(make_tracker, entity, "no")
    assert [m["response"] for m in messages] == ["utter_feedback_sorry"]
    assert slot_events(events, "feedback") == [
        {"topic": "pernicious_anemia", "passages": PA_PASSAGES, "helpful": False}
    ]
    sorry = Domain.load(str(settings.ROOT / "domain.yml")).responses["utter_feedback_sorry"][0]
    assert "healthcare provider" in sorry["text"]
    assert "/help" in [b["payload"] for b in sorry["buttons"]]


def test_a_second_vote_on_the_same_answer_stores_nothing(make_tracker, entity):
    messages, events = vote(make_tracker, entity, "no", voted=[PA_REF])
    assert [m["response"] for m in messages] == ["utter_feedback_already"]
    assert events == []


@pytest.mark.parametrize(
    "helpful, ref, asked",
    [
        ("yes", "risks|risks.high_levels", [PA_REF]),  # an answer this conversation was never asked about
        ("maybe", PA_REF, [PA_REF]),  # not yes or no
        ("yes", "no-bar-here", ["no-bar-here"]),  # not an answer's name
        ("yes", "x|" + "+".join(["p"] * 200), ["x|" + "+".join(["p"] * 200)]),  # far too long
    ],
)
def test_a_typed_or_forged_vote_stores_nothing_and_says_so_kindly(make_tracker, entity, helpful, ref, asked):
    messages, events = vote(make_tracker, entity, helpful, ref=ref, asked=asked)
    assert [m["response"] for m in messages] == ["utter_feedback_unknown"]
    assert events == []


def test_a_vote_with_no_entities_at_all_stores_nothing(make_tracker):
    messages, events = run(ActionRecordFeedback(), make_tracker("rate_answer", "/rate_answer"))
    assert [m["response"] for m in messages] == ["utter_feedback_unknown"]
    assert events == []


# ---- where it comes from -------------------------------------------------------------------


def test_every_quoted_passage_carries_its_source_facts_for_the_widget():
    kb = get_knowledge()
    passages = kb.answer("treatment_autoimmune")
    messages = compose_health_reply(passages, ask_feedback="t|x")
    facts = messages[-2]["source"]
    assert facts == {
        "title": kb.source_title,
        "url": kb.source_url,
        "sections": [
            "How Is B12 Administered for Autoimmune-Related Deficiencies?",
            "Conclusion: A Supportive Tool, Not a Cure",
        ],
        "reviewed": f"{kb.review.reviewed_on:%B} {kb.review.reviewed_on.day}, {kb.review.reviewed_on.year}",
        "reviewed_on": kb.review.reviewed_on.isoformat(),
        "reviewed_by": kb.review.reviewed_by,
        "clinical_review": kb.review.clinical,
    }
    assert facts["url"].startswith("https://") and facts["url"] in kb.source_text
    assert source_facts(passages)["sections"] == facts["sections"]


def test_where_is_that_from_after_an_answer_names_the_sections_it_quoted(make_tracker):
    last = {"topic": "pernicious_anemia", "passages": PA_PASSAGES, "kind": "education"}
    messages, events = run(
        ActionAnswerQuestion(), make_tracker("ask_source", "where is that from?", slots={"last_answer": last})
    )
    kb = get_knowledge()
    assert messages[0]["response"] == "utter_source_of_answer"
    assert messages[0]["sections"] == '"Autoimmune Conditions that Affect B12 Absorption"'
    assert messages[0]["title"] == kb.source_title
    assert messages[0]["reviewed"].endswith(str(kb.review.reviewed_on.year))
    assert messages[0]["reviewer"] == kb.review.reviewed_by  # the role that checked it, never more
    assert kb.source_url in messages[1]["text"]  # the source's own citation, quoted
    assert (messages[-1]["response"], messages[-1]["buttons"]) == ("utter_caveat", [])  # no vote asked here
    assert slot_events(events, "last_answer") == []  # and the answer it explains stays the last one


def test_where_is_that_from_before_any_answer_names_the_source(make_tracker):
    messages, _ = run(ActionAnswerQuestion(), make_tracker("ask_source", "where do you get your info?"))
    assert messages[0]["response"] == "utter_source"
    assert "sections" not in messages[0]
    assert messages[-1]["response"] == "utter_caveat"
