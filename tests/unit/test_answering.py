"""Answer planning and reply composition: pure functions, no Rasa."""

import pytest

from b12.answering import (
    CAVEAT_RESPONSE,
    PERSONAL_ADVICE_INTENTS,
    Question,
    compose_health_reply,
    plan_answer,
    plan_reply,
)
from b12.kinds import ANSWER_INTENTS
from b12.knowledge import FEATURES, ROUTES, get_knowledge


def ids(answer):
    return [p.id for p in answer.passages]


@pytest.mark.parametrize("intent", [*ANSWER_INTENTS, *PERSONAL_ADVICE_INTENTS])
def test_every_intent_gets_one_to_three_vetted_passages(intent):
    answer = plan_reply(Question(intent=intent))
    assert 1 <= len(answer.passages) <= 3
    kb = get_knowledge()
    assert all(kb.passages[p.id] is p for p in answer.passages)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("feature", FEATURES)
def test_every_table_cell_is_reachable(route, feature):
    intent = {"risk": "ask_risks", "benefit": "ask_benefit", "efficacy": "ask_efficacy"}.get(feature, f"ask_{feature}")
    answer = plan_answer(Question(intent=intent, routes=[route]))
    assert ids(answer)[0] == f"{route}.{feature}"


def test_every_knowledge_answer_is_reachable():
    kb = get_knowledge()
    reached = set()
    questions = [Question(intent=i) for i in (*ANSWER_INTENTS, *PERSONAL_ADVICE_INTENTS)]
    questions += [Question(intent="ask_treatment", conditions=[c]) for c in ("pernicious_anemia", "celiac")]
    for q in questions:
        reached.update(ids(plan_reply(q)))
    sentence_passages = {pid for pid, p in kb.passages.items() if p.route is None}
    assert sentence_passages <= reached


def test_follow_up_treatment_uses_the_condition_from_earlier():
    answer = plan_answer(Question(intent="ask_treatment", condition_slot="pernicious_anemia"))
    assert "treatment.injections_standard" in ids(answer)
    assert answer.topic == "treatment_route"


def test_celiac_treatment_mentions_the_less_severe_route_first():
    answer = plan_answer(Question(intent="ask_treatment", conditions=["celiac"]))
    assert ids(answer)[:2] == ["treatment.root_cause", "treatment.oral_mild"]


def test_side_effects_follow_up_uses_the_remembered_route():
    answer = plan_answer(Question(intent="ask_risks", route_slot="injection"))
    assert ids(answer)[0] == "injection.risk"
    assert answer.slots["feature"] == "risk" and answer.slots["route"] == "injection"


def test_what_about_pills_keeps_the_feature_asked_before():
    answer = plan_answer(Question(intent="ask_route", routes=["oral"], route_slot="oral", feature_slot="risk"))
    assert ids(answer) == ["oral.risk"]
    assert answer.slots == {"topic": "feature:risk", "feature": "risk", "route": "oral"}


def test_a_route_on_its_own_gets_an_overview():
    answer = plan_answer(Question(intent="ask_route", routes=["injection"]))
    assert ids(answer) == ["injection.benefit", "injection.efficacy", "injection.typical_use"]
    assert answer.slots["feature"] is None


def test_general_risk_question_quotes_the_risk_section():
    assert ids(plan_answer(Question(intent="ask_risks")))[0] == "risks.not_cure_all"


def test_comparison_covers_each_named_route():
    answer = plan_answer(Question(intent="ask_compare_routes", routes=["oral", "injection"]))
    assert {p.route for p in answer.passages if p.route} == {"oral", "injection"}


def test_link_question_naming_a_condition_quotes_that_condition():
    answer = plan_answer(Question(intent="ask_link", conditions=["hashimotos"]))
    assert ids(answer)[0] == "thyroid.hashimotos"


def test_feature_without_a_route_answers_for_every_route():
    answer = plan_answer(Question(intent="ask_absorption"))
    assert [p.route for p in answer.passages] == list(ROUTES)


def test_a_feature_entity_overrides_a_near_feature_intent():
    answer = plan_answer(Question(intent="ask_benefit", routes=["oral"], features=["absorption"]))
    assert ids(answer)[0] == "oral.absorption"


def test_personal_advice_gets_a_refusal_preface():
    answer = plan_reply(Question(intent="ask_dosing", kind="dosing"))
    assert answer.preface == "utter_cannot_dose"


def test_unknown_entity_values_are_ignored():
    answer = plan_answer(Question(intent="ask_route", routes=["homeopathy"]))
    assert answer.topic == "treatment_route"


def test_compose_puts_the_caveat_last_and_the_preface_first():
    passages = get_knowledge().answer("diagnosis")
    messages = compose_health_reply(passages, preface="utter_cannot_diagnose")
    assert messages[0] == {"response": "utter_cannot_diagnose"}
    assert messages[-1] == {"response": CAVEAT_RESPONSE}
    assert passages[0].text in messages[1]["text"]


def test_compose_refuses_an_empty_answer():
    with pytest.raises(ValueError):
        compose_health_reply([])


def test_a_condition_question_naming_a_route_adds_its_treatment():
    answer = plan_answer(
        Question(intent="ask_pernicious_anemia", conditions=["pernicious_anemia"], routes=["injection"])
    )
    assert ids(answer) == ["pa.parietal_cells", "treatment.injections_standard", "conclusion.lifelong"]


def test_a_personal_request_about_a_topic_is_declined_then_quotes_that_topic():
    """ "my homocysteine came back high, what does that mean for me?": the decline, then what the
    source says about homocysteine, then the decline's own topic; never a passage about nothing asked."""
    kb = get_knowledge()
    answer = plan_reply(Question(intent="ask_diagnosis", kind="diagnosis", topic_intent="ask_homocysteine"))
    assert answer.preface == "utter_cannot_diagnose"
    assert [p.id for p in answer.passages][:2] == list(kb.answers["homocysteine"])[:2]
    own = [p for p in kb.answers["diagnosis"] if p not in kb.answers["homocysteine"]]
    assert [p.id for p in answer.passages][2:] == own[:1]
    assert answer.kind == "diagnosis"
    # about its own topic, or about nothing: the decline's own passages
    plain = plan_reply(Question(intent="ask_diagnosis", kind="diagnosis"))
    assert [p.id for p in plain.passages] == list(kb.answers["diagnosis"])
