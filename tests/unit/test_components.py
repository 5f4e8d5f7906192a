"""The custom Rasa NLU components, run on real Rasa messages (no server, no network)."""

from rasa.shared.nlu.training_data.message import Message

from extensions.components import EntityCanonicalizer, MessageKindClassifier, QuestionFocus

SafetyOverride = MessageKindClassifier


def message(text, intent="ask_link", entities=None):
    m = Message(data={"text": text})
    m.set("intent", {"name": intent, "confidence": 0.9})
    m.set("intent_ranking", [{"name": intent, "confidence": 0.9}])
    m.set("entities", entities or [])
    return m


def test_an_emergency_overrides_any_intent():
    [m] = SafetyOverride().process([message("my throat is closing after the jab", intent="ask_risks")])
    assert m.get("intent") == {"name": "emergency", "confidence": 1.0}
    assert m.get("intent_ranking")[0]["name"] == "emergency"
    assert m.get("emergency_category") == "allergic_reaction"


def test_an_ordinary_question_keeps_its_intent():
    [m] = SafetyOverride().process([message("can you overdose on b12", intent="ask_risks")])
    assert m.get("intent")["name"] == "ask_risks"


def test_an_empty_message_is_a_conversation_that_asks_to_clarify():
    [m] = SafetyOverride().process([message("", intent="ask_cure")])
    assert m.get("intent")["name"] == "nlu_fallback" and m.get("message_kind") == "conversation"


def test_a_question_about_a_red_flag_keeps_its_answer_and_carries_the_alert():
    [m] = SafetyOverride().process([message("can low b12 cause chest pain?", intent="ask_symptoms")])
    assert m.get("intent")["name"] == "ask_not_covered" and m.get("topic_intent") == "ask_symptoms"
    assert m.get("emergency_category") == "chest_pain" and m.get("emergency_reported") is False


def test_a_neighbouring_condition_alone_is_off_topic():
    entities = [{"entity": "other_condition", "value": "lupus", "start": 3, "end": 8}]
    [m] = SafetyOverride().process([message("is lupus hereditary?", intent="ask_link", entities=entities)])
    assert m.get("intent")["name"] == "out_of_scope" and m.get("message_kind") == "off_topic"


def test_the_focus_keeps_the_question_and_the_whole_message_for_safety():
    m = message("hi there, sorry to bother you, but what is intrinsic factor? thanks so much")
    [m] = QuestionFocus().process([m])
    assert m.get("text") == "what is intrinsic factor?"
    assert m.get("full_text").startswith("hi there")
    m = message("What is intrinsic factor? My mum just collapsed")
    [m] = SafetyOverride().process(QuestionFocus().process([m]))
    assert m.get("intent")["name"] == "emergency"


def test_a_button_payload_reaches_rasas_regex_handler_unchanged_with_its_kind():
    from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
    from rasa.shared.core.domain import Domain

    from b12 import settings
    from b12.feedback import buttons

    payload = buttons("pernicious_anemia|pa.parietal_cells+pa.central_feature")[0]["payload"]
    [m] = SafetyOverride().process(QuestionFocus().process([message(payload, intent="emergency")]))
    assert m.get("text") == payload  # focusing would split "pa.parietal_cells" as a sentence
    assert m.get("message_kind") == "conversation" and m.get("emergency_category") is None
    domain = Domain.load(str(settings.ROOT / "domain.yml"))
    [m] = RegexMessageHandler().process([m], domain)
    assert m.get("intent")["name"] == "rate_answer"
    assert {e["entity"]: e["value"] for e in m.get("entities")} == {
        "helpful": "yes",
        "answer": "pernicious_anemia|pa.parietal_cells+pa.central_feature",
    }


def test_entity_values_become_canonical_ids():
    entities = [
        {"entity": "route", "value": "Jabs", "start": 0, "end": 4},
        {"entity": "condition", "value": "coeliac", "start": 5, "end": 12},
        {"entity": "route", "value": "unknown thing", "start": 13, "end": 26},
    ]
    [m] = EntityCanonicalizer().process([message("jabs coeliac", entities=entities)])
    assert [e["value"] for e in m.get("entities")] == ["injection", "celiac", "unknown thing"]


def test_a_personal_dose_question_is_declined_whatever_diet_said():
    [m] = SafetyOverride().process([message("how many mcg of b12 should i take", intent="ask_treatment")])
    assert m.get("intent")["name"] == "ask_dosing"


def test_a_diagnosis_request_is_declined_even_after_a_fallback():
    [m] = SafetyOverride().process([message("are my symptoms from pernicious anemia?", intent="nlu_fallback")])
    assert m.get("intent")["name"] == "ask_diagnosis"


def test_an_off_topic_dose_question_stays_out_of_scope():
    [m] = SafetyOverride().process([message("what insulin dose should i be on", intent="out_of_scope")])
    assert m.get("intent")["name"] == "out_of_scope"


def test_a_message_without_words_falls_back_instead_of_guessing():
    [m] = SafetyOverride().process([message("x" * 300, intent="ask_cure")])
    assert m.get("intent")["name"] == "nlu_fallback"


def test_an_emergency_in_a_long_message_still_wins():
    [m] = SafetyOverride().process([message("x" * 300 + " chest pain", intent="ask_cure")])
    assert m.get("intent")["name"] == "emergency"


def test_button_payload_examples_are_not_learnt_from_words():
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from b12.feedback import buttons

    typed = Message(data={"text": "hi there, what is intrinsic factor?", "intent": "ask_pernicious_anemia"})
    pressed = Message(data={"text": buttons("x|y")[0]["payload"], "intent": "rate_answer"})
    from_a_rule = Message(data={"intent": "rate_answer"})  # Rasa adds one per intent a rule names
    data = QuestionFocus().process_training_data(TrainingData([typed, pressed, from_a_rule]))
    assert [m.get("text") for m in data.training_examples] == ["what is intrinsic factor?"]
    assert data.intents == {"ask_pernicious_anemia"}


def test_a_condition_told_in_the_story_joins_the_question_s_entities_once():
    text = "My nan has pernicious anaemia and coeliac. She hates needles. Why can't she take tablets?"
    routes = [{"entity": "route", "value": "tablets", "start": 74, "end": 81}]
    [m] = QuestionFocus().process([message(text, intent="ask_route", entities=routes)])
    assert m.get("text") != text  # the classifier reads the question alone
    [m] = EntityCanonicalizer().process([m])
    assert [(e["entity"], e["value"]) for e in m.get("entities")] == [
        ("route", "oral"), ("condition", "pernicious_anemia"), ("condition", "celiac")
    ]  # fmt: skip
    # a condition the question names is not added again, and a message that is all question adds none
    asked = [{"entity": "condition", "value": "coeliac", "start": 0, "end": 7}]
    [m] = EntityCanonicalizer().process([QuestionFocus().process([message("coeliac and b12?", entities=asked)])[0]])
    assert [e["value"] for e in m.get("entities")] == ["celiac"]


def test_story_conditions_reads_each_condition_once_in_order():
    from b12.entities import story_conditions

    assert story_conditions("I have hashis, my son has Crohn's, and my hashimoto's is fine") == ["hashimotos", "crohns"]
    assert story_conditions("") == [] and story_conditions("nothing here") == []


def test_rasa_loads_each_component_through_its_own_load_and_the_word_lists_are_read_then():
    # Rasa builds a trained pipeline with GraphComponent.load (which calls create); a component
    # that shadowed `load` broke every message while its unit tests still passed
    for component in (QuestionFocus, EntityCanonicalizer, MessageKindClassifier):
        built = component.load({}, None, None, None)
        assert isinstance(built, component)
    [m] = MessageKindClassifier.load({}, None, None, None).process([message("what is pernicious anemia?")])
    assert m.get("message_kind") == "education"
