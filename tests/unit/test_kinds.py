"""Message kinds apart from topics (b12/kinds.py), the question focus (b12/focus.py), the
crisis lines (b12/crisis.py) and the reply planner that combines them. No Rasa server."""

import pytest
import yaml

from b12 import settings
from b12.answering import Question, compose_health_reply, plan_reply
from b12.crisis import CrisisFileError, crisis_lines, load_crisis_lines
from b12.focus import focus
from b12.kinds import ANSWER_INTENTS, INTENTS, KINDS, understand

ROOT = settings.ROOT


def kind(text, ranking=(("ask_link", 0.9),), entities=()):
    return understand(text, list(ranking), list(entities))


# ------------------------------------------------------------------ the one table of intents
def test_every_intent_of_the_domain_has_one_row_and_a_known_kind():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    assert set(domain["intents"]) | {"nlu_fallback"} == set(INTENTS)
    assert {row.kind for row in INTENTS.values()} <= set(KINDS)


def test_the_rules_answer_exactly_the_education_intents_and_decline_exactly_the_advice_ones():
    rules = yaml.safe_load((ROOT / "data" / "rules.yml").read_text())["rules"]

    def intents_for(action):
        out = set()
        for rule in rules:
            steps = rule["steps"]
            if steps[-1].get("action") == action:
                first = steps[0]
                out |= {s["intent"] for s in first.get("or", [first])}
        return out

    assert intents_for("action_answer_question") == set(ANSWER_INTENTS) | {"ask_not_covered"}
    advice = {i for i, row in INTENTS.items() if row.refusal}
    assert intents_for("action_decline_personal_advice") == advice
    assert intents_for("action_send_emergency_help") == {"emergency"}


def test_every_topic_the_table_and_the_planner_name_is_in_the_answers_map():
    """What answers what is the answers: map of knowledge/passages.yml, and nothing else: every
    topic the intent table gives, every treatment the planner picks for a condition (and its
    version after a condition's own passage) is a key there, and every table feature a column."""
    from b12 import answering
    from b12.knowledge import FEATURES, get_knowledge

    answers = get_knowledge().answers
    for intent in ANSWER_INTENTS:
        topic = INTENTS[intent].topic
        assert topic, f"{intent} has no topic in b12/kinds.py INTENTS"
        if topic.startswith("feature:"):
            assert topic[8:] in FEATURES, intent
        elif intent in answering.ROUTE_INTENTS and topic not in answers:  # built from the table's cells
            assert topic == "compare_routes" and "compare_routes_after_cells" in answers, (intent, topic)
        else:
            assert topic in answers, (intent, topic)
    for treatment in {*answering.CONDITION_TREATMENT.values(), "treatment_route"}:
        assert treatment in answers and f"{treatment}_after_condition" in answers, treatment
    for topic in {*answering.CONDITION_TOPICS.values(), "risks_after_route_cells", "compare_routes_after_cells"}:
        assert topic in answers, topic


def test_a_treatment_after_a_condition_is_that_treatment_without_the_general_sentence():
    """The *_after_condition entries are their treatment minus the root-cause sentence the
    condition's own passage already stands for; edit one and this says to edit the other."""
    from b12.knowledge import get_knowledge

    answers = get_knowledge().answers
    for key in [k for k in answers if k.endswith("_after_condition")]:
        base = answers[key[: -len("_after_condition")]]
        assert list(answers[key]) == [p for p in base if p != "treatment.root_cause"], key


@pytest.mark.parametrize("intent", ANSWER_INTENTS)
def test_the_planner_answers_every_education_intent(intent):
    from b12.answering import Question, plan_reply

    answer = plan_reply(Question(intent=intent))
    assert answer is not None and 1 <= len(answer.passages) <= 3


# ------------------------------------------------------------------ kinds
@pytest.mark.parametrize(
    "text, expected",
    [
        ("my chest feels crushed right now", "emergency"),
        ("she won't wake up", "emergency"),
        ("my partner hits me", "emergency"),
        ("how much b12 should i take", "dosing"),
        ("my b12 came back at 160 pg/ml, is that low?", "diagnosis"),
        ("can i stop my injections now my levels are normal?", "change_treatment"),
        ("my sister has coeliac, is that why her b12 keeps dropping?", "education"),
        ("I hate needles, are tablets an option for people like me?", "education"),
        ("the nurse mentioned homocysteine, how does it relate to b12?", "education"),
        ("can b12 deficiency make you dizzy?", "not_covered"),  # the source names no dizziness
        ("can low b12 cause numbness in my feet?", "education"),
        ("how long do b12 injections take to work?", "not_covered"),
    ],
)
def test_the_kind_of_message(text, expected):
    assert kind(text).kind == expected


def test_an_asked_red_flag_outside_b12_keeps_its_alert():
    u = kind("can lupus cause chest pain?", [("out_of_scope", 0.8)], ["other_condition"])
    assert u.alert and u.kind == "not_covered"


def test_a_change_of_treatment_is_declined_even_when_diet_says_off_topic():
    assert kind("Can I stop my injections?", [("out_of_scope", 0.6)], ["route"]).kind == "change_treatment"
    assert kind("what insulin dose should i be on", [("out_of_scope", 0.9)]).kind == "off_topic"


def test_diets_general_emergency_does_not_replace_a_clear_topic():
    u = kind("what are the side effects of b12 shots?", [("emergency", 0.6), ("ask_risks", 0.35)], ["route"])
    assert u.topic_intent == "ask_risks"


def test_a_red_flag_question_is_answered_with_the_alert():
    u = kind("could low b12 give me chest pain?", [("ask_symptoms", 0.8)])
    # the source names no chest pain: it says so, then what it says about symptoms, alert first
    assert u.kind == "not_covered" and u.topic_intent == "ask_symptoms" and u.alert


def test_diet_hearing_an_emergency_the_matcher_does_not_still_gets_care_when_nothing_is_asked():
    u = kind("my flatmate is making a weird noise on the floor", [("emergency", 0.9), ("ask_link", 0.01)])
    assert u.kind == "emergency"


def test_a_statement_opening_with_cant_is_not_a_question_so_diets_sure_emergency_stands():
    # "cant see properly" is a state, not "can't I ...?": DIET's emergency is not dropped for it
    u = kind("drank a lot and took pills. lost track. cant stand up", [("emergency", 0.99), ("goodbye", 0.01)])
    assert u.kind == "emergency"
    asked = kind("cant i just take b12 tablets instead", [("ask_route", 0.9)], ["route"])
    assert asked.kind == "education"


def test_a_search_query_about_what_the_source_does_not_cover_is_not_an_emergency_on_diets_word_alone():
    # no one in it, no alarm word, a neighbouring condition or a not-covered subject named
    ranking = [("emergency", 0.97), ("out_of_scope", 0.02)]
    u = kind("psoriasis flare scalp shampoo options", ranking, ["other_condition"])
    assert u.kind == "off_topic"
    fridge = kind("keep b12 vials in fridge", [("emergency", 0.95), ("ask_change_treatment", 0.04)])
    assert fridge.kind not in ("emergency", "change_treatment")
    # a person in it, or an alarm word: DIET's sure emergency stands
    assert kind("my psoriasis flare then she went grey", [("emergency", 0.97)], ["other_condition"]).kind == "emergency"
    assert kind("psoriasis flare chest", [("emergency", 0.97)], ["other_condition"]).kind == "emergency"


def test_a_neighbouring_condition_without_b12_is_off_topic_and_with_a_cure_question_is_answered():
    assert kind("is lupus hereditary?", entities=["other_condition"]).kind == "off_topic"
    assert kind("does b12 cure lupus?", [("ask_cure", 0.9)], ["other_condition"]).intent == "ask_cure"
    related = kind("can b12 help lupus fatigue?", [("ask_symptoms", 0.9)], ["other_condition"])
    assert related.kind == "not_covered" and related.topic_intent == "ask_symptoms"


def test_a_route_word_keeps_a_neighbouring_question_ours_only_when_diet_hears_a_b12_topic():
    # "tablets", "diet" are words of other treatments too
    for ranking in ([("ask_diagnosis", 0.6)], [("ask_not_covered", 0.8)], [("nlu_fallback", 0.3)]):
        u = kind("ulcerative colitis diet during a flare, what helps", ranking, ["other_condition", "route"])
        assert u.kind == "off_topic" and u.topic_intent is None
    u = kind("are injections or tablets better if you also have ms", [("ask_compare_routes", 0.8)],
             ["other_condition", "route"])  # fmt: skip
    assert u.kind != "off_topic" and u.topic_intent == "ask_compare_routes"
    # without a neighbouring condition, a diagnosis request is still declined
    assert kind("what does my blood test mean", [("ask_diagnosis", 0.6)]).kind == "diagnosis"


def test_b12_instead_of_another_medicine_is_declined_then_answered_by_not_a_cure():
    text = "thinking of ditching my crohns meds and just taking b12 instead, good idea?"
    u = kind(text, [("ask_change_treatment", 0.6), ("ask_gut_conditions", 0.3)], ["condition"])
    assert (u.kind, u.topic_intent) == ("change_treatment", "ask_cure")
    answer = plan_reply(Question(intent=u.intent, kind=u.kind, topic_intent=u.topic_intent, conditions=["crohns"]))
    messages = compose_health_reply(answer.passages, answer.preface, answer.alert, answer.preface_args)
    assert messages[0] == {"response": "utter_cannot_change_treatment"}
    assert "not in curing the underlying condition" in messages[1]["text"]
    assert messages[-1] == {"response": "utter_caveat"}
    # stopping B12 itself is about lifelong treatment, as DIET says
    stop = kind("can i stop my b12 injections now i feel fine", [("ask_change_treatment", 0.6), ("ask_lifelong", 0.3)])
    assert (stop.kind, stop.topic_intent) == ("change_treatment", "ask_lifelong")


def test_a_red_flag_in_the_story_leaves_the_question_to_decide_and_keeps_the_general_line():
    text = "My nan collapsed last month and was very anaemic. She is fine now. Why can't she just take B12 tablets?"
    focus_text = "Why can't she just take B12 tablets?"
    u = understand(text, [("ask_route", 0.8)], ["route"], focus_text=focus_text)
    assert (u.kind, u.intent, u.emergency.category, u.alert) == ("education", "ask_route", "general", True)
    # the red flag asked in the question itself still decides it
    asked = "My dad had a fit in 2021. Can b12 deficiency cause seizures?"
    u = understand(asked, [("ask_symptoms", 0.8)], focus_text="Can b12 deficiency cause seizures?")
    assert u.kind == "not_covered" and u.emergency.category == "seizure"
    # self-harm in the story keeps its own line
    dark = "Two years ago I felt suicidal when my B12 was very low. Is low B12 linked to mood?"
    u = understand(dark, [("ask_symptoms", 0.8)], focus_text="Is low B12 linked to mood?")
    assert u.emergency is not None and u.emergency.category == "self_harm"


def test_under_the_fallback_a_b12_question_gets_diets_best_topic_said_to_be_a_guess():
    ranking = [("nlu_fallback", 0.3), ("ask_gut_conditions", 0.28), ("ask_risks", 0.23)]
    u = kind("can crohns cause dangerously low b12", ranking, ["condition"])
    assert (u.kind, u.intent, u.unsure) == ("education", "ask_gut_conditions", True)
    # a guess too weak, or a message that is not about B12, is still "not sure what you mean"
    weak = [("nlu_fallback", 0.3), ("ask_risks", 0.1)]
    assert kind("can crohns cause dangerously low b12", weak).intent == "nlu_fallback"
    assert kind("what about the other thing then", ranking).intent == "nlu_fallback"
    answer = plan_reply(Question(intent="ask_gut_conditions", kind="education", unsure=True))
    messages = compose_health_reply(answer.passages, answer.preface, answer.alert, answer.preface_args)
    assert messages[0] == {"response": "utter_unsure_related", "about": "celiac and Crohn's disease"}
    assert "intestinal lining" in messages[1]["text"] and messages[-1] == {"response": "utter_caveat"}
    sure = plan_reply(Question(intent="ask_gut_conditions", kind="education"))
    assert sure.preface is None and sure.passages == answer.passages


def test_a_long_b12_question_is_never_taken_for_a_goodbye():
    u = kind("does taking b12 at night keep you awake?", [("goodbye", 0.6), ("ask_risks", 0.1)])
    assert u.kind == "not_covered"


# ------------------------------------------------------------------ focus
@pytest.mark.parametrize(
    "text, question",
    [
        ("hey there! what is pernicious anemia? cheers", "what is pernicious anemia?"),
        ("apologies in advance, but is b12 a cure?", "is b12 a cure?"),
        ("asking for my dad: why does he need injections?", "why does he need injections?"),
        ("I got my bloods back. I'm confused. What is homocysteine?", "What is homocysteine?"),
        ("My sister has coeliac. Is that why her b12 is low?", "My sister has coeliac. Is that why her b12 is low?"),
        ("hi", "hi"),
    ],
)
def test_the_focus_is_the_sentence_that_asks(text, question):
    assert focus(text) == question


# ------------------------------------------------------------------ crisis lines
def test_each_region_has_its_numbers_and_the_default_is_the_us():
    assert "911" in crisis_lines("us").reply(None)
    assert "999" in crisis_lines("uk").reply("collapse") and "116 123" in crisis_lines("uk").reply("self_harm")
    assert "1-800-222-1222" in crisis_lines("us").reply("poisoning")


def test_an_unknown_region_names_the_file_and_the_key():
    with pytest.raises(CrisisFileError, match="regions.mars"):
        load_crisis_lines("mars")


def test_a_region_missing_a_number_fails_naming_it(tmp_path):
    data = yaml.safe_load((ROOT / "knowledge" / "crisis_lines.yml").read_text())
    del data["regions"]["uk"]["poison"]
    path = tmp_path / "lines.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CrisisFileError, match=r"regions.uk.*poison"):
        load_crisis_lines("us", path)


# ------------------------------------------------------------------ the reply, from both axes
def test_a_diagnosis_request_about_pa_gets_the_decline_then_the_pa_passage_then_the_caveat():
    answer = plan_reply(Question(intent="ask_diagnosis", conditions=["pernicious_anemia"], kind="diagnosis"))
    messages = compose_health_reply(answer.passages, answer.preface, answer.alert, answer.preface_args)
    assert messages[0] == {"response": "utter_cannot_diagnose"}
    assert "parietal cells" in messages[1]["text"]
    assert messages[-1] == {"response": "utter_caveat"}


def test_a_red_flag_question_opens_with_the_alert_and_ends_with_the_caveat():
    answer = plan_reply(Question(intent="ask_symptoms", kind="education", alert=True))
    messages = compose_health_reply(answer.passages, answer.preface, answer.alert, answer.preface_args)
    assert "happening to you now" in messages[0]["text"] and "911" in messages[0]["text"]
    assert "neuropathy" in messages[1]["text"] and messages[-1] == {"response": "utter_caveat"}


def test_not_covered_says_so_then_what_the_source_does_say_about_the_topic():
    answer = plan_reply(Question(intent="ask_not_covered", kind="not_covered", topic_intent="ask_pernicious_anemia"))
    assert answer.preface == "utter_not_covered_related"
    assert answer.preface_args == {"about": "pernicious anemia"}
    assert any("parietal" in p.text for p in answer.passages)


def test_not_covered_with_nothing_related_has_nothing_to_quote():
    assert plan_reply(Question(intent="ask_not_covered", kind="not_covered")) is None


def test_what_the_classifier_reads_is_bounded_and_keeps_the_end():
    from b12.focus import MAX_FOCUS_CHARS, bounded

    long = "word " * 1000 + "what is pernicious anemia?"
    assert len(bounded(long)) <= MAX_FOCUS_CHARS and bounded(long).endswith("what is pernicious anemia?")
    assert bounded("?" * 10000) == "?" * MAX_FOCUS_CHARS
    assert bounded("short") == "short"


def test_routes_asked_about_for_an_autoimmune_condition_are_compared_for_it():
    q = Question(intent="ask_benefit", routes=["injection", "oral"], conditions=["pernicious_anemia"])
    answer = plan_reply(q)
    assert [p.id for p in answer.passages] == ["injection.efficacy", "oral.efficacy", "treatment.root_cause"]
    # without a condition, the feature asked about stands
    plain = plan_reply(Question(intent="ask_benefit", routes=["injection", "oral"]))
    assert [p.id for p in plain.passages] == ["injection.benefit", "oral.benefit"]


def test_a_message_with_no_word_of_the_subject_is_off_topic_whatever_diet_says():
    sure = [("ask_compare_routes", 0.95)]
    for text in (
        "Is the Ninja air fryer better than the Tefal one? Everyone in my group has one.",
        "Does anyone know how to write a cover letter for a receptionist job?",
    ):
        u = kind(text, sure)
        assert (u.kind, u.intent, u.topic_intent) == ("off_topic", "out_of_scope", None), text
    # a word of the subject, a dose, a short follow-up that points back, or the source: left to DIET
    assert kind("Is the ninja air fryer better for people with coeliac disease?", sure).kind != "off_topic"
    assert kind("I took 1000mcg today, is that too much?", [("ask_risks", 0.9)]).kind != "off_topic"
    assert kind("how do I know if it is working for me", [("ask_lifelong", 0.9)]).kind != "off_topic"
    assert kind("where does your info come from, is it made up by someone", [("ask_source", 0.9)]).kind != "off_topic"
    assert kind("are you a bot or a real person then", [("bot_challenge", 0.9)]).intent == "bot_challenge"


def test_a_few_words_of_nothing_we_cover_that_diet_is_lost_on_are_off_topic_not_unclear():
    lost = [("nlu_fallback", 0.3), ("ask_link", 0.2)]
    assert kind("reset patient portal password", lost).kind == "off_topic"
    assert kind("hmm what", lost).intent == "nlu_fallback"  # too short to tell: ask again
    assert kind("what is it for then", lost).intent == "nlu_fallback"  # points back


def test_a_follow_up_that_points_back_keeps_diets_topic_even_without_a_word_of_the_subject():
    u = kind("do you have to have it for life or just a while", [("ask_lifelong", 0.6), ("out_of_scope", 0.3)])
    assert (u.kind, u.intent) == ("education", "ask_lifelong")


def test_diets_personal_advice_gives_way_to_a_topic_when_the_question_asks_to_understand():
    advice_first = [("ask_diagnosis", 0.6), ("ask_risks", 0.2)]
    u = kind("is it normal to have a little lump where i had my b12 jab 2 days ago", advice_first, ["route"])
    assert (u.kind, u.intent) == ("education", "ask_risks")
    u = kind("why cant i just take tablets for my pa instead of the jabs", [("ask_change_treatment", 0.6),
             ("ask_compare_routes", 0.2)], ["route", "condition"])  # fmt: skip
    assert u.intent == "ask_compare_routes"
    # a result of one's own, or a request that is personal and not asking why, stays declined
    assert kind("b12 145 ng/l is that deficient", advice_first).kind == "diagnosis"
    dosing_first = [("ask_dosing", 0.6), ("ask_risks", 0.2)]
    assert kind("my sister has pa, does she need her dose changed", dosing_first).kind == "dosing"


@pytest.mark.parametrize(
    "text, entity_types, conditions, first_passage",
    [
        ("switch from b12 jabs to tablets", ["route", "route"], [], "treatment.root_cause"),
        ("thinking of swapping my injections for tablets, ok with PA?", ["route", "route", "condition"],
         ["pernicious_anemia"], "treatment.root_cause"),
        ("ive got coeliac and take b12 tablets, should i switch to injections instead?", ["route", "condition"],
         ["celiac"], "treatment.root_cause"),
    ],
)  # fmt: skip
def test_one_route_for_another_is_declined_then_answered_by_how_the_route_is_chosen(
    text, entity_types, conditions, first_passage
):
    u = kind(text, [("ask_change_treatment", 0.85), ("ask_lifelong", 0.03)], entity_types)
    assert (u.kind, u.topic_intent) == ("change_treatment", "ask_route")
    answer = plan_reply(Question(intent=u.intent, kind=u.kind, topic_intent=u.topic_intent, conditions=conditions))
    messages = compose_health_reply(answer.passages, answer.preface, answer.alert, answer.preface_args)
    assert messages[0] == {"response": "utter_cannot_change_treatment"}
    assert answer.passages[0].id == first_passage and "standard of care" in " ".join(p.text for p in answer.passages)
    assert messages[-1] == {"response": "utter_caveat"}
    # one route named and no switch: what DIET heard stands
    stop = kind("can i stop my jabs now i feel fine", [("ask_change_treatment", 0.6), ("ask_lifelong", 0.3)], ["route"])
    assert stop.topic_intent == "ask_lifelong"


@pytest.mark.parametrize(
    "text, ranking",
    [
        ("weather tomorrow manchester", [("emergency", 0.99), ("out_of_scope", 0.01)]),
        ("fix flat bike tyre", [("emergency", 0.99), ("ask_treatment", 0.01)]),
        ("what time does tesco shut on a sunday", [("ask_source", 0.46), ("out_of_scope", 0.34)]),
        ("python list comprehension example", [("ask_treatment", 0.41), ("help", 0.21)]),
        # costs and pets are B12 subjects the source does not answer, only beside B12
        ("cheap flights to lisbon", [("ask_source", 0.49), ("out_of_scope", 0.09)]),
        ("lol can u write me a poem about my cat", [("ask_source", 0.56), ("ask_diagnosis", 0.11)]),
        ("My allotment tomatoes keep splitting as they ripen. What causes tomatoes to split and can I stop it?",
         [("nlu_fallback", 0.3), ("ask_risks", 0.26)]),
    ],
)  # fmt: skip
def test_noise_that_diet_takes_for_a_topic_advice_or_an_emergency_is_off_topic(text, ranking):
    assert kind(text, ranking).kind == "off_topic"


@pytest.mark.parametrize(
    "text",
    [
        "tonights the night. i wont be a problem for anyone after this",  # someone in it
        "had 12 cans and a fistful of co-codamol. not sure how many",  # a number
        "neighbour stabbed outside",
        "guy not moving on the pavement",
        "someone fell down the stairs not moving",
    ],
)
def test_diet_hearing_an_emergency_with_someone_or_a_number_in_it_is_believed(text):
    # and someone unnamed, or a word of harm ("neighbour stabbed outside", "guy not moving")
    assert kind(text, [("emergency", 0.95), ("out_of_scope", 0.02)]).kind == "emergency"


def test_a_question_about_the_source_names_a_word_of_sources():
    assert kind("where is this info from?", [("ask_source", 0.46), ("out_of_scope", 0.3)]).intent == "ask_source"


def test_a_dose_question_with_no_other_word_of_the_subject_is_still_declined():
    assert kind("how many mcg a day should i take", [("ask_dosing", 0.99), ("help", 0.01)]).kind == "dosing"


@pytest.mark.parametrize(
    "text, ranking, entities, intent",
    [
        ("does sortin out b12 help with the tiredness u get with autoimmune disease", [("ask_link", 0.6)], [],
         "ask_symptoms"),
        ("my wife's homocysteine is through the roof, what has it to do with b12?", [("ask_link", 0.7)], [],
         "ask_homocysteine"),
        ("why doesn't eating more meat help people with PA?", [("nlu_fallback", 0.3), ("ask_risks", 0.2)],
         ["route", "condition"], "ask_efficacy"),
        # DIET sure of its topic keeps it
        ("what do b12 injections actually do for you", [("ask_benefit", 0.95)], ["route"], "ask_benefit"),
    ],
)  # fmt: skip
def test_a_question_naming_its_topic_outranks_an_unsure_classifier(text, ranking, entities, intent):
    u = kind(text, ranking, entities)
    assert (u.kind, u.intent, u.unsure) == ("education", intent, False)


def test_a_topic_cue_naming_no_answer_intent_names_the_file_and_key(tmp_path):
    from b12.kinds import ScopeRules
    from b12.safety import PatternError

    good = yaml.safe_load((settings.KNOWLEDGE_DIR / "scope.yml").read_text())
    bad = tmp_path / "scope.yml"
    bad.write_text(yaml.safe_dump({**good, "topic_cues": {"ask_everything": ["b12"]}}))
    with pytest.raises(PatternError, match=r"scope\.yml: 'topic_cues\.ask_everything'"):
        ScopeRules(bad)
    bad.write_text(yaml.safe_dump({k: v for k, v in good.items() if k != "topic_cues"}))
    with pytest.raises(PatternError, match="'topic_cues' must map"):
        ScopeRules(bad)


def test_a_pets_care_is_off_topic_not_personal_advice():
    u = kind("can my dog have b12 injections? vet mentioned it", [("ask_change_treatment", 0.7), ("ask_route", 0.1)],
             ["route"])  # fmt: skip
    assert u.kind == "off_topic"  # the source is about people: no passage about them is offered for a dog
    assert kind(
        "can i stop my b12 injections?", [("ask_change_treatment", 0.7), ("ask_route", 0.1)], ["route"]
    ).kind == ("change_treatment")


@pytest.mark.parametrize(
    "text, ranking",
    [
        ("will i need b12 jabs forever??", [("ask_lifelong", 0.8)]),
        ("do b12 jabs bypass the gut", [("ask_absorption", 0.8)]),
        ("dying to know - can coeliac mess with your b12??", [("ask_gut_conditions", 0.8)]),
    ],
)
def test_words_the_source_itself_uses_do_not_make_a_question_not_covered(text, ranking):
    assert kind(text, ranking).kind == "education"


# ------------------------------------------------------------------ fifth round (2026-12-02)
def test_diets_diagnosis_with_nothing_to_diagnose_is_a_question():
    ranking = [("ask_diagnosis", 0.5), ("ask_gut_conditions", 0.2)]
    u = kind("does coeliac mean i can never eat bread out, only just got diagnosed", ranking, ["condition"])
    assert u.kind != "diagnosis" and u.topic_intent == "ask_gut_conditions"
    # a result, a test or "do i have" keeps it a request to be diagnosed
    assert kind("my b12 came back at 150, do i have pa?", ranking, ["condition"]).kind == "diagnosis"
    assert kind("parietal cell antibodies positive, what does it mean for me", ranking).kind == "diagnosis"


def test_thanks_or_a_social_greeting_with_a_story_and_no_question_is_conversation():
    health = [("ask_compare_routes", 1.0)]
    u = kind("Thank you so much. I have had PA for years and the table of tablets and injections made sense.", health,
             ["condition", "route", "route"])  # fmt: skip
    assert (u.kind, u.intent) == ("conversation", "thanks")
    u = kind("Hello all! My dad was just told he has pernicious anaemia. Nice to meet you.", health, ["condition"])
    assert (u.kind, u.intent) == ("conversation", "greet")
    # a greeting before a question, or a search query, is no greeting; thanks before a question is no thanks
    assert kind("hi there, b12 tablets vs injections thanks so much!", health, ["route", "route"]).kind == "education"
    assert kind("thanks that helps will she need it for life", [("ask_lifelong", 0.9)]).kind == "education"


def test_asking_who_answers_is_a_bot_challenge_whatever_the_classifier_says():
    u = kind("before I go on, am I talking to a real nurse or is this some kind of AI?", [("ask_symptoms", 0.9)])
    assert (u.kind, u.intent) == ("conversation", "bot_challenge")


def test_words_of_nothing_we_cover_are_off_topic_unless_the_classifier_is_sure():
    assert kind("excel vlookup returning n/a", [("ask_risks", 0.4)]).kind == "off_topic"
    # a question DIET is fairly sure of keeps its topic, though it names no word of the subject
    assert kind("where can I read more?", [("ask_source", 0.8)]).kind == "education"
    assert kind("what are the risks?", [("ask_risks", 0.8)]).kind == "education"
    assert kind("nba finals score last night", [("goodbye", 0.4), ("ask_source", 0.2)]).kind == "off_topic"
    assert kind("ok bye for now", [("goodbye", 0.4)]).intent == "goodbye"  # a word of conversation keeps it


def test_the_conversation_and_pet_rules_leave_a_person_s_care_alone():
    # a review's findings: the rules above must not swallow these
    assert (
        kind("the dog ate my b12 tablets and my toddler might have had some too", [("ask_risks", 0.5)]).kind
        != "off_topic"
    )
    assert (
        kind("i'm allergic to cats, can i still have b12 injections?", [("ask_risks", 0.6)], ["route"]).kind
        != "off_topic"
    )
    assert kind("thanks. i've stopped my b12 jabs myself and feel awful", [("ask_lifelong", 0.6)]).intent != "thanks"
    u = kind("is this an ai? my b12 came back at 90, do i have pa?", [("ask_diagnosis", 0.6)], ["condition"])
    assert u.kind == "diagnosis"
    assert kind("does my son have pa? he is pale and always tired", [("ask_diagnosis", 0.6), ("ask_symptoms", 0.2)],
                ["condition"]).kind == "diagnosis"  # fmt: skip
