"""What kind of message it is, decided apart from what it is about. No Rasa imports.

Two axes:
- the *kind*: an emergency happening now, personal dosing, diagnosis or test results, a change of
  treatment, an education question, a question the source does not cover, off-topic, conversation;
- what it is *about*: the answer intent DIET ranks highest, and the entities (condition, route,
  feature, neighbouring condition).

`understand()` is the one place that combines the deterministic checks (b12/safety.py) with
DIET's ranking. The NLU component (extensions/components.py) calls it and sets the intent the rules
act on; the answer planner (b12/answering.py) reads the kind and the topic.

`INTENTS` is the one table of intents: each intent's kind, and for personal advice the refusal
said first and the knowledge topic quoted when the message names nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Sequence, Set, Tuple

import yaml

from b12 import settings
from b12.feedback import RATE_INTENT
from b12.focus import SUBJECTS, asks_anything, focus
from b12.safety import (
    DOSE_WORDS,
    PERSON,
    RELATIVE,
    EmergencySignal,
    PatternError,
    assess_emergency,
    danger_score,
    has_lab_value,
    has_words,
    line_patterns,
    mentions_b12,
    personal_advice_kind,
    read_numbers,
    words_of,
)

SCOPE_FILE = settings.KNOWLEDGE_DIR / "scope.yml"

KINDS = (
    "emergency",
    "dosing",
    "diagnosis",
    "change_treatment",
    "education",
    "not_covered",
    "off_topic",
    "conversation",
)
PERSONAL_ADVICE = ("dosing", "diagnosis", "change_treatment")
FALLBACK_INTENT = "nlu_fallback"


class IntentRow(NamedTuple):
    kind: str
    refusal: str | None = None  # the response said first (personal advice)
    topic: str | None = None  # the knowledge topic quoted when nothing more specific is asked
    button_only: bool = False  # reached only by a button's payload: never a class the classifier learns


# The one table of intents. domain.yml, data/rules.yml and the planner are checked against it
# (tests/unit/test_kinds.py).
INTENTS: Dict[str, IntentRow] = {
    "emergency": IntentRow("emergency"),
    "ask_dosing": IntentRow("dosing", "utter_cannot_dose", "dosing"),
    "ask_diagnosis": IntentRow("diagnosis", "utter_cannot_diagnose", "diagnosis"),
    "ask_change_treatment": IntentRow("change_treatment", "utter_cannot_change_treatment", "change_treatment"),
    "ask_not_covered": IntentRow("not_covered"),
    "out_of_scope": IntentRow("off_topic"),
    **{i: IntentRow("conversation") for i in ("greet", "goodbye", "thanks", "bot_challenge", "help", FALLBACK_INTENT)},
    RATE_INTENT: IntentRow("conversation", button_only=True),  # "was this helpful?" (b12/feedback.py)
    # Education: the knowledge topic each answers (passages.yml `answers:`), "feature:<f>" for a
    # table row; route intents start from their topic and follow the route or condition named.
    **{
        i: IntentRow("education", topic=topic)
        for i, topic in (
            ("ask_link", "link"),
            ("ask_pernicious_anemia", "pernicious_anemia"),
            ("ask_gut_conditions", "gut_conditions"),
            ("ask_hashimotos", "hashimotos"),
            ("ask_immune_function", "immune_function"),
            ("ask_homocysteine", "homocysteine"),
            ("ask_treatment", "treatment_route"),
            ("ask_route", "treatment_route"),
            ("ask_compare_routes", "compare_routes"),
            ("ask_benefit", "feature:benefit"),
            ("ask_efficacy", "feature:efficacy"),
            ("ask_typical_use", "feature:typical_use"),
            ("ask_absorption", "feature:absorption"),
            ("ask_risks", "risks"),
            ("ask_cure", "not_a_cure"),
            ("ask_symptoms", "symptoms"),
            ("ask_lifelong", "lifelong"),
            ("ask_source", "source"),
        )
    },
}
KIND_INTENT: Dict[str, str] = {row.kind: i for i, row in INTENTS.items() if row.kind in PERSONAL_ADVICE}
KIND_INTENT.update(emergency="emergency", not_covered="ask_not_covered", off_topic="out_of_scope")
ANSWER_INTENTS: Tuple[str, ...] = tuple(i for i, row in INTENTS.items() if row.kind == "education")
BUTTON_ONLY_INTENTS = frozenset(i for i, row in INTENTS.items() if row.button_only)
# Questions the source answers in general terms for any autoimmune disease ("does B12 cure lupus?").
GENERAL_INTENTS = ("ask_cure", "ask_risks")
SOURCE_INTENT = "ask_source"
# An asked-about red flag whose topic DIET did not find: what the answer is about.
RED_FLAG_TOPICS = {"allergic_reaction": "ask_risks", "bleeding": "ask_risks"}
KEEPS_ITS_LINE = frozenset({"self_harm", "violence", "general"})  # in a story too: its own line (988, hotlines)
MIN_TOPIC_CONFIDENCE = 0.05
DIET_ADVICE_OVERRULED = 0.35
RED_FLAG_OVER_DIET = 0.5  # below this confidence in its topic, an asked-about red flag decides it
DIET_ALERT = 0.15  # DIET's confidence in "emergency" as runner-up that adds the alert line
DIET_SURE = 0.9  # DIET this sure of an emergency is believed even with no alarm word
MIN_NEXT_GUESS = 0.1  # a runner-up below this is no guess at all
REPLACES_MEDICINE_TOPIC = "ask_cure"  # B12 instead of another medicine: what the source says it is not
ROUTE_CHANGE_TOPIC = "ask_route"  # one route for another: how the route is chosen
SWITCH_WORDS = frozenset(
    {"swap", "swapping", "swappin", "swapped", "switch", "switching", "switchin", "switched", "instead", "replace",
     "replacing"}
)  # fmt: skip
RARE_WORD = 20_000  # pyspellchecker's count: rarer than this, a source word is a word of the subject
# The source's words of health that are common in English too ("health", "disease"): words of the
# subject all the same; its other common words ("form", "causes", "natural", "role") are not.
COMMON_HEALTH_WORDS = frozenset(
    {"health", "healthy", "disease", "diseases", "condition", "conditions", "treatment", "treatments", "treating",
     "treat", "cure", "stomach", "patients", "damage", "nerve", "nerves", "blood", "immune", "symptoms", "doctor",
     "medical", "deficiency", "vitamin", "diet", "cells", "body", "supplements", "injections", "absorption"}
)  # fmt: skip
OFF_SUBJECT_WORDS = 6  # a message this long with no word of the subject is off-topic, whatever DIET says
OFF_SUBJECT_FALLBACK_WORDS = 3  # and this long, when DIET is lost anyway or unsure
DIET_UNSURE = 0.5
CUE_OVER_DIET = 0.9  # a topic cue of knowledge/scope.yml outranks DIET's topic below this confidence
FOLLOW_UP_WORDS = 16  # a follow-up is short; a long message stands on its own
POINTING_BACK = frozenset(
    {"it", "its", "that", "this", "they", "them", "those", "these", "there", "then", "other", "else", "also", "too",
     "after", "afterwards", "instead", "tho", "though"}
)  # fmt: skip
# "1000mcg", "5 mg", "200 pg/ml": an amount of a medicine or a lab value. One bounded pass.
DOSE_AMOUNT = re.compile(r"\d[\d.,]{0,8} ?(?:mcg|mg|ug|µg|iu|micrograms?|milligrams?|pg|ng|pmol|nmol)\b", re.I)
UNSURE_TOPIC = 0.15  # under the fallback, a topic this likely is offered, saying it is a guess
SEARCH_QUERY_WORDS = 8  # a search-box query is short
# Words of an emergency: DIET alone hearing one, with no question asked, is believed.
ALARM_WORDS = frozenset(
    {"pain", "pains", "hurts", "hurting", "breathe", "breathing", "breath", "swelling", "swollen", "throat",
     "suicidal", "suicide", "overdose", "overdosed", "unconscious", "unresponsive", "collapsed", "bleeding", "blood",
     "stroke", "seizure", "fit", "fainted", "choking", "kill", "die", "dying", "dead", "ambulance", "emergency",
     "gasping", "crushing", "responding", "convulsing", "shaking", "vomit", "vomiting", "poison", "hit", "hurt",
     "scared", "attack", "heart", "chest", "floor", "wake", "knife", "help", "urgent", "911", "999", "112"}
)  # fmt: skip
ANIMALS = frozenset({"dog", "dogs", "cat", "cats", "pet", "pets", "puppy", "kitten", "horse", "horses", "vet"})
# Someone unnamed, or a word of harm: DIET's emergency with one of these is never noise
SOMEONE = frozenset(
    {"someone", "somebody", "guy", "man", "woman", "lady", "neighbour", "neighbor", "person", "people", "boy", "girl",
     "baby", "kid", "child", "they", "stabbed", "stab", "moving", "fell", "fallen", "fall", "passed", "hurt", "blood"}
)  # fmt: skip
# "paracetamol overdose signs in children": a search for the signs, naming no one, asks about them
SIGNS_WORDS = frozenset({"signs", "sign", "symptoms", "symptom"})
# A question about where the answers come from names one of these ("where is this from?").
SOURCE_WORDS = frozenset(
    {"source", "sources", "reference", "references", "citation", "citations", "cite", "evidence", "study",
     "studies", "research", "from", "wrote", "written", "writes", "author", "authors", "trust", "reliable",
     "accurate", "checked", "reviewed", "info", "information", "website", "site", "link", "based", "credible",
     "legit", "proof", "article", "document", "paper", "sure", "true", "vetted", "comes"}
)  # fmt: skip
SCOPE_WORDS = frozenset(
    {"b12", "cobalamin", "methylcobalamin", "hydroxocobalamin", "cyanocobalamin", "pernicious", "intrinsic",
     "parietal", "homocysteine"}
)  # fmt: skip


@dataclass(frozen=True)
class Understanding:
    kind: str
    intent: str  # what the rules act on
    topic_intent: str | None = None  # the answer intent it is about
    emergency: EmergencySignal | None = None
    unsure: bool = False  # DIET's best guess at a B12 question, not a sure one: the answer says so

    @property
    def alert(self) -> bool:
        """Asked about a red-flag symptom: the answer comes with the "if this is happening now" line."""
        return self.emergency is not None and not self.emergency.reported


def _add_patterns(matcher: Any, label: str, lines: Any, path: Path, where: str) -> None:
    """Add one key's pattern lines to a spaCy Matcher; a bad key names the file and the key."""
    if not isinstance(lines, list) or not lines:
        raise PatternError(f"{path}: '{where}' must be a non-empty list of patterns")
    try:
        matcher.add(label, [p for line in lines for p in line_patterns(str(line))])
    except PatternError as e:
        raise PatternError(f"{path}: '{where}': {e}") from e


class ScopeRules:
    """Questions the source does not answer (knowledge/scope.yml), compiled once."""

    def __init__(self, path: Path = SCOPE_FILE) -> None:
        from spacy.matcher import Matcher
        from spacy.vocab import Vocab

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise PatternError(f"{path}: cannot read: {e}") from e
        self.vocab = Vocab()
        self.matcher = Matcher(self.vocab)
        for key in ("not_covered", "other_medicine", "other_care"):
            _add_patterns(self.matcher, key, data.get(key) if isinstance(data, dict) else None, path, key)
        # Cues of what a B12 question asks about, in priority order: intent -> patterns
        cues = data.get("topic_cues")
        if not isinstance(cues, dict) or not cues:
            raise PatternError(f"{path}: 'topic_cues' must map answer intents to lists of patterns")
        self.cues = Matcher(self.vocab)
        self.cue_order: List[str] = []
        for intent, lines in cues.items():
            if intent not in ANSWER_INTENTS:
                raise PatternError(f"{path}: 'topic_cues.{intent}' is not an answer intent (b12/kinds.py INTENTS)")
            _add_patterns(self.cues, str(intent), lines, path, f"topic_cues.{intent}")
            self.cue_order.append(str(intent))

    def topic_cue(self, text: str) -> str | None:
        """The answer intent a question's own words point to ("does b12 help with the fatigue?":
        symptoms), the first in the file's order; None when no cue is there."""
        from spacy.tokens import Doc

        words = read_numbers(words_of(text))
        found = {self.vocab.strings[m[0]] for m in self.cues(Doc(self.vocab, words=words))} if words else set()
        return next((i for i in self.cue_order if i in found), None)

    def _found(self, text: str) -> set:
        from spacy.tokens import Doc

        words = read_numbers(words_of(text))
        return {self.vocab.strings[m[0]] for m in self.matcher(Doc(self.vocab, words=words))} if words else set()

    def not_covered(self, text: str) -> bool:
        return bool(self._found(text))

    def other_care(self, text: str) -> bool:
        return bool({"other_care", "other_medicine"} & self._found(text))

    def other_medicine(self, text: str) -> bool:
        return "other_medicine" in self._found(text)


@lru_cache(maxsize=1)
def scope_rules() -> ScopeRules:
    return ScopeRules(SCOPE_FILE)


def _best_answer_intent(ranking: Sequence[Tuple[str, float]], minimum: float = MIN_TOPIC_CONFIDENCE) -> str | None:
    for name, confidence in ranking:
        if name in ANSWER_INTENTS and confidence >= minimum:
            return name
    return None


def _confidence(ranking: Sequence[Tuple[str, float]], intent: str) -> float:
    return next((c for n, c in ranking if n == intent), 0.0)


def _search_query(text: str, entity_types: Sequence[str]) -> bool:
    """A search-box query about something the source does not cover ("lupus rash creams",
    "store ampoules in the fridge"): no one in it, no alarm word, and a neighbouring condition or
    a not-covered subject named. DIET's emergency alone is no reason to send it to emergency care."""
    words = set(words_of(text))
    if words & (PERSON | RELATIVE | ALARM_WORDS) or len(words) > SEARCH_QUERY_WORDS:
        return False
    return "other_condition" in entity_types or scope_rules().not_covered(text)


def _advice_topic(kind: str, text: str, topic_intent: str | None, entity_types: Sequence[str] = ()) -> str | None:
    """What a personal-advice request is about. "Should i take b12 instead of my crohn's meds?":
    B12 is no cure, whatever the condition; "can i swap my jabs for tablets?": how the route is
    chosen; otherwise DIET's best topic."""
    if kind == "change_treatment" and in_scope_words(text) and scope_rules().other_medicine(text):
        return REPLACES_MEDICINE_TOPIC
    if kind == "change_treatment" and "route" in entity_types:
        routes = list(entity_types).count("route")
        if routes >= 2 or set(words_of(text)) & SWITCH_WORDS:
            return ROUTE_CHANGE_TOPIC
    return topic_intent


@lru_cache(maxsize=1)
def source_words() -> frozenset:
    """The source's own uncommon words ("deficiency", "injections", "fatigue"): words of at least
    four letters that are rarer in English than RARE_WORD (pyspellchecker's word frequencies), so
    "support", "body" or "better" do not make a message about health."""
    from b12.knowledge import get_knowledge
    from b12.safety import english_words

    frequency = english_words()
    words = set(words_of(get_knowledge().source_text))
    return frozenset(w for w in words if len(w) >= 4 and frequency.get(w, 0) < RARE_WORD) | (
        words & COMMON_HEALTH_WORDS
    )


@lru_cache(maxsize=1)
def entity_words() -> frozenset:
    """The one-word phrases of knowledge/entity_patterns.yml ("needles", "tablets", "lupus")."""
    from b12.entities import canonical_ids

    return frozenset(phrase for _, phrase in canonical_ids() if " " not in phrase)


def about_health(text: str, entity_types: Sequence[str]) -> bool:
    """Whether a message touches the subject at all: B12 words, an entity (a condition, route,
    feature, symptom or another condition), a dose or a word of dosing ("mcg"), or one of the
    source's own uncommon words (word-set checks over the whole message). "iPhone or Samsung?"
    does not, and nor do "cheap flights" or "a poem about my cat", though the scope rules know
    costs and pets: those are subjects of B12 questions only when the rest is about B12."""
    return bool(
        in_scope_words(text)
        or entity_types
        or set(words_of(text)) & (source_words() | entity_words() | DOSE_WORDS)
        or DOSE_AMOUNT.search(text)
    )


EXPLAIN_OPENERS = frozenset({"why", "whats", "how"})
NORMAL_PHRASES = (("is", "it", "normal"), ("is", "that", "normal"), ("is", "this", "normal"), ("it", "normal"))


def asks_to_explain(question: str) -> bool:
    """A question that asks why or how, whether something is normal, or names no one: asking
    to understand, not for personal advice."""
    words = words_of(question)
    if not words:
        return False
    if words[0] in EXPLAIN_OPENERS:
        return True
    if not set(words) & (PERSON | RELATIVE) and not has_lab_value(words):
        return True  # names no one, and judges no result ("b12 145 ng/l is that deficient" does)
    trigrams = set(zip(words, words[1:], words[2:]))
    return bool(trigrams & set(NORMAL_PHRASES)) or any(w == "normal" for w in words[-2:])


# What a request to be diagnosed judges: a result, a test, symptoms. DIET's "diagnosis" with none
# of them ("does crohns mean i cant have kids, just got diagnosed") is a question, answered.
DIAGNOSIS_CUES = frozenset(
    {"result", "results", "test", "tests", "tested", "bloods", "level", "levels", "reading", "readings",
     "symptom", "symptoms", "signs", "scan", "biopsy", "diagnose", "wrong", "worried", "worry", "positive",
     "negative", "antibodies", "antibody"}
)  # fmt: skip
DIAGNOSIS_ASKS = frozenset(
    {("do", "i", "have"), ("have", "i", "got"), ("could", "i", "have"), ("might", "i", "have"), ("i", "still", "have"),
     ("is", "going", "on"), ("is", "that", "bad"), ("is", "this", "bad"), ("is", "it", "bad")}
)  # fmt: skip


def reads_a_result(heard: Set[str], text: str) -> bool:
    """Whether a message gives something to diagnose from: a lab value or a word of DIAGNOSIS_CUES."""
    words = words_of(text)
    # "does my son have pa?": whether someone has a condition
    asks_whether = any(
        w in ("does", "do", "could", "might") and "have" in words[i + 1 : i + 4] for i, w in enumerate(words)
    )
    return (
        bool(heard & DIAGNOSIS_CUES or set(zip(words, words[1:], words[2:])) & DIAGNOSIS_ASKS)
        or asks_whether
        or has_lab_value(words)
    )


GREETINGS = frozenset({"hello", "hi", "hey", "hiya", "howdy", "morning", "evening", "afternoon"})
THANKS = frozenset({"thanks", "thank", "thx", "ta", "cheers", "thankyou"})
WHO_ANSWERS = frozenset({"ai", "bot", "robot", "chatbot", "human", "computer", "automated"})
WHO_ASKS = frozenset({("is", "this"), ("are", "you"), ("talking", "to"), ("speaking", "to"), ("am", "i")})
QUESTION_OPENERS = frozenset(
    {"will", "can", "could", "does", "do", "is", "are", "should", "would", "what", "why", "how"}
)
SOCIAL_PAIRS = frozenset(
    {("to", "meet"), ("say", "hi"), ("saying", "hi"), ("say", "hello"), ("saying", "hello"), ("new", "here"),
     ("introduce", "myself")}
)  # fmt: skip
APPRECIATION = frozenset(
    {"appreciate", "appreciated", "helpful", "helped", "helps", "sense", "useful", "great", "brilliant", "lovely",
     "kind", "clear", "clearer", "much"}
)  # fmt: skip
CONVERSATION_WORDS = GREETINGS | THANKS | WHO_ANSWERS | frozenset({"bye", "goodbye", "help", "ok", "okay", "great"})


CHILDREN = frozenset({"toddler", "child", "baby", "kid", "kids", "son", "daughter", "children"})
OWNERS = frozenset({"my", "our", "the", "his", "her"})


def _about_a_pet(text: str, heard: Set[str]) -> bool:
    """A pet's own care ("my dog needs cobalamin jabs", "cat b12 injection vet cost"), not a
    person's ("i'm allergic to cats, can i still have b12?", "the dog and my toddler ate my tablets")."""
    if heard & ((RELATIVE - {"he", "she"}) | CHILDREN):  # "he" may be the dog
        return False
    words = words_of(text)
    owned = any(w in OWNERS and nxt in ANIMALS for w, nxt in zip(words, words[1:]))
    return owned or "vet" in heard or (bool(heard & ANIMALS) and not heard & PERSON)


def _conversation_only(text: str, heard: Set[str], advice: str | None) -> str | None:
    """The conversation intent of a message that asks nothing and opens with thanks or greets
    socially ("nice to meet you"), or that asks who is answering (a bot or a person), whatever
    else it tells. A greeting before a search query ("hi there, b12 tablets vs jabs") is no greeting."""
    words = words_of(text)
    if not words:
        return None
    if advice is not None:
        return None  # "is this an ai? my b12 came back at 90, do i have pa?": the request comes first
    if heard & WHO_ANSWERS and set(zip(words, words[1:])) & WHO_ASKS and asks_anything(text):
        return "bot_challenge"
    pairs = set(zip(words, words[1:]))
    if asks_anything(text) or any(w in QUESTION_OPENERS and nxt in SUBJECTS for w, nxt in pairs):
        return None  # "thanks will she need it for life"
    if (words[0] in THANKS or tuple(words[:2]) == ("much", "appreciated")) and heard & APPRECIATION:
        return "thanks"  # not "thanks. i've stopped my jabs myself and feel awful"
    if heard & GREETINGS and pairs & SOCIAL_PAIRS:  # "... nice to meet you", "just saying hi": no search query
        return "greet"
    return None


def leans_on_before(text: str) -> bool:
    """A short message that points back ("how do i know if it is working?"): about the answer
    before it, whatever its own words."""
    words = words_of(text)
    return len(words) < FOLLOW_UP_WORDS and bool(set(words) & POINTING_BACK)


def load() -> None:
    """Compile the emergency matcher, the scope rules and the subject's words now (at model
    load), not on the first patient's message."""
    from b12.safety import get_matcher

    get_matcher()
    scope_rules()
    source_words()
    entity_words()


def in_scope_words(text: str) -> bool:
    return mentions_b12(text) or bool(set(words_of(text)) & SCOPE_WORDS)


# A button's payload: "/intent" or "/intent{json}" (Rasa reads the intent and entities from it).
# One bounded repeat: linear in the message's length.
BUTTON_PAYLOAD = re.compile(r"/([a-z_]+)(\{[^\n]*\})?")


def button_intent(text: str) -> str | None:
    """The intent a button click names, or None when the message was typed."""
    match = BUTTON_PAYLOAD.fullmatch(text.strip())
    return match.group(1) if match and match.group(1) in INTENTS else None


def understand(
    text: str,
    ranking: Sequence[Tuple[str, float]],
    entity_types: Sequence[str] = (),
    focus_text: str | None = None,
) -> Understanding:
    """The kind of message and what it is about. `text` is the whole message (safety is judged
    over all of it); `focus_text` the sentences that ask (the topic); `ranking` DIET's intents,
    best first; `entity_types` the labels of the entities found (condition, route, ...)."""
    pressed = button_intent(text)
    if pressed is not None:  # a button: the kind its intent has, and never an emergency matched in JSON
        row = INTENTS[pressed]
        return Understanding(row.kind, pressed, topic_intent=pressed if row.kind == "education" else None)
    signal = assess_emergency(text)
    if signal is not None and signal.reported:
        return Understanding("emergency", "emergency", emergency=signal)
    if not has_words(text):
        return Understanding("conversation", FALLBACK_INTENT)  # nothing to understand: ask, never guess
    heard = set(words_of(text))  # the whole message's words, read once

    question = focus_text if focus_text is not None else focus(text)
    if (
        signal is not None
        and signal.category not in KEEPS_ITS_LINE
        and question.strip() != text.strip()
        and assess_emergency(question) is None
        and not {w.removesuffix("s") for w in words_of(question)} & ALARM_WORDS
    ):
        # the red flag is in the story, not in the question ("my nan collapsed last month, she is
        # fine now. why can't she take tablets?"): the question decides the answer, the general
        # "if this is happening now" line stays
        signal = EmergencySignal("general", reported=False)

    predicted = ranking[0][0] if ranking else FALLBACK_INTENT
    topic_intent = _best_answer_intent(ranking)
    if predicted == "emergency":
        if signal is None:
            # DIET hears an emergency that the matcher does not: answer a question if there is
            # any answer, saying first what to do if it is happening now; else treat it as one.
            # With no question and no alarm word at all ("ms relapse vs pseudo relapse"), DIET's
            # next guess stands.
            any_topic = topic_intent or _best_answer_intent(ranking, minimum=0.0)
            if not (
                heard & (ALARM_WORDS | PERSON | RELATIVE | SOMEONE)
                or any(c.isdigit() for c in text)
                or danger_score(text)
                or about_health(text, entity_types)
                or leans_on_before(text)
            ):
                # "weather tomorrow manchester", "fix flat bike tyre": no one in it, no number, no
                # word of danger, alarm or the subject, and the matcher heard nothing: noise
                return Understanding("off_topic", "out_of_scope")
            signs_query = bool(heard & SIGNS_WORDS and not heard & (PERSON | RELATIVE))
            if any_topic is not None and asks_anything(text) and in_scope_words(text):
                signal, topic_intent = EmergencySignal("general", reported=False), any_topic
                predicted = topic_intent
            elif not signs_query and (
                heard & ALARM_WORDS
                or (
                    not asks_anything(text)
                    and not _search_query(text, entity_types)
                    and (
                        any_topic is None
                        or ranking[0][1] >= DIET_SURE
                        or len(ranking) < 2
                        or ranking[1][1] < MIN_NEXT_GUESS
                    )
                )
            ):
                return Understanding("emergency", "emergency", emergency=EmergencySignal("general", reported=True))
            else:
                if signs_query:  # "paracetamol overdose signs in children": asked about, with the line
                    signal = EmergencySignal("general", reported=False)
                # DIET's next guess stands; a search query names no one, so it asks no personal advice
                dropped = {"emergency", *(KIND_INTENT[k] for k in PERSONAL_ADVICE if _search_query(text, entity_types))}
                ranking = [r for r in ranking if r[0] not in dropped]
                topic_intent = _best_answer_intent(ranking)
                predicted = ranking[0][0] if ranking else FALLBACK_INTENT
        else:
            # the matcher says it is asked about: DIET's runner-up topic is noise here
            topic_intent = predicted = RED_FLAG_TOPICS.get(signal.category, "ask_symptoms")
    elif signal is None and any(n == "emergency" and c >= DIET_ALERT for n, c in ranking[1:3]):
        signal = EmergencySignal("general", reported=False)  # DIET half hears one: say the line too
    if (
        signal is not None
        and signal.category != "general"
        and (
            topic_intent is None
            or _confidence(ranking, predicted) < RED_FLAG_OVER_DIET
            or signal.category in RED_FLAG_TOPICS  # an allergic reaction is a risk of the shots, whatever DIET says
        )
    ):
        # a red flag asked about, and DIET unsure what else: the answer is about the red flag
        topic_intent = RED_FLAG_TOPICS.get(signal.category, "ask_symptoms")
        predicted = topic_intent if INTENTS.get(predicted, IntentRow("conversation")).kind == "education" else predicted
    unsure = False
    if signal is not None and INTENTS.get(predicted, IntentRow("conversation")).kind in ("conversation", "off_topic"):
        unsure = predicted == FALLBACK_INTENT and topic_intent is not None
        predicted = topic_intent or "ask_symptoms"

    advice = personal_advice_kind(text)
    told = _conversation_only(text, heard, advice)
    if told is not None and signal is None:
        # "hello everyone! my mum was just told she has pa, nice to meet you", "thank you so much,
        # that table made sense", "am i talking to a nurse or is this some kind of ai?": no question
        # of health in it, so the greeting, thanks or question about who answers is what it is
        return Understanding("conversation", told)
    if signal is None and _about_a_pet(text, heard):
        # "my dog needs cobalamin jabs, tips for keeping him still?": the source is about people
        return Understanding("off_topic", "out_of_scope")
    # an off-topic dose question ("what insulin dose should i be on") stays off-topic; "can i stop
    # my injections?" does not, whatever DIET said
    off_topic_advice = (
        predicted == "out_of_scope" and not (in_scope_words(text) or {"route", "condition"} & set(entity_types))
    ) or (signal is None and not about_health(text, entity_types))  # "my sponge sinks, what am i doing wrong?"
    if advice is not None and heard & ANIMALS:
        advice = None  # "can my dog have b12 injections?": no one's own care, and not covered
    if advice is not None and not off_topic_advice:
        return Understanding(
            advice, KIND_INTENT[advice], _advice_topic(advice, text, topic_intent, entity_types), signal
        )

    if (
        signal is None
        and (
            (
                INTENTS.get(predicted, IntentRow("conversation")).kind in ("education", "not_covered", *PERSONAL_ADVICE)
                and len(words_of(text)) >= OFF_SUBJECT_WORDS
            )
            # DIET lost, or unsure, on a few words of nothing we cover ("reset patient portal
            # password", "python list comprehension example")
            or (
                (
                    predicted == FALLBACK_INTENT
                    or (
                        INTENTS.get(predicted, IntentRow("conversation")).kind == "education"
                        and _confidence(ranking, predicted) < DIET_UNSURE
                    )
                    # "nba finals score last night" is no goodbye
                    or (
                        INTENTS.get(predicted, IntentRow("off_topic")).kind == "conversation"
                        and _confidence(ranking, predicted) < DIET_UNSURE
                        and not heard & CONVERSATION_WORDS
                    )
                )
                and len(words_of(text)) >= OFF_SUBJECT_FALLBACK_WORDS
            )
        )
        and not (predicted == SOURCE_INTENT and set(words_of(question)) & SOURCE_WORDS)
        and not about_health(text, entity_types)
        and not leans_on_before(text)
    ):
        # "is the ninja air fryer better than the tefal one?": no word of the subject at all; a
        # short follow-up ("is it reliable tho") leans on the answer before, so it is left alone
        return Understanding("off_topic", "out_of_scope")

    row = INTENTS.get(predicted, IntentRow("conversation"))
    not_covered = scope_rules().not_covered(question)
    if row.kind == "conversation" and len(words_of(question)) >= 3 and in_scope_words(question):
        # "does taking b12 at night keep you awake?" is not a goodbye: a B12 question it is
        if predicted != FALLBACK_INTENT or not_covered:
            predicted = topic_intent or "ask_not_covered"
            row = INTENTS[predicted]
    guess = _best_answer_intent(ranking, minimum=UNSURE_TOPIC)
    if (
        predicted == FALLBACK_INTENT
        and guess is not None
        and len(words_of(question)) >= 3
        and (in_scope_words(text) or {"condition", "route"} & set(entity_types))
    ):
        # DIET unsure between the topics of a B12 question ("can crohns cause dangerously low
        # b12"): its best guess, said to be a guess, beats "not sure what you mean"
        predicted, unsure = guess, True
        row = INTENTS[predicted]
    neighbouring = "other_condition" in entity_types
    other_care = scope_rules().other_care(question)
    if (
        (neighbouring or other_care)
        and signal is None
        and not in_scope_words(text)
        and ("route" not in entity_types or row.kind != "education" or _search_query(text, entity_types))
    ):
        # "is lupus hereditary?", "crohn's infliximab side effects", "ANA positive what does it
        # mean", "RA diet changes": about another condition, not B12, so not ours. A route word
        # ("tablets", "diet") keeps a question ours only when DIET hears a B12 topic in it.
        return Understanding("off_topic", "out_of_scope", emergency=signal)
    if row.kind in PERSONAL_ADVICE:
        # DIET alone hears personal advice that the rules do not: a clear topic wins, so an
        # education question with personal context is answered, not refused. So does any topic
        # when the question asks for an explanation ("why can't i just take tablets?", "is it
        # normal to have a lump after the jab?") or names no one ("is 5000 mcg a day too much?").
        minimum = MIN_TOPIC_CONFIDENCE if asks_to_explain(question) else DIET_ADVICE_OVERRULED
        if row.kind == "diagnosis" and not reads_a_result(heard, text):
            minimum = 0.0  # no result, test or symptom to judge ("can u get b12 from mushrooms, im veggie")
        if heard & ANIMALS:
            minimum = 0.0  # a pet's care is no one's own: any topic, and the scope rules say not covered
        if not _best_answer_intent(ranking, minimum=minimum):
            return Understanding(row.kind, predicted, _advice_topic(row.kind, text, topic_intent, entity_types), signal)
        predicted = str(_best_answer_intent(ranking, minimum=minimum))
        row = INTENTS[predicted]

    if row.kind == "education":
        # A red flag the matcher found, asked about: the source names none of them ("can low b12
        # cause palpitations?"), so it says so, then what it does say, with the alert line first.
        red_flag = signal is not None and signal.category != "general"
        if predicted == SOURCE_INTENT and not red_flag and set(words_of(question)) & SOURCE_WORDS:
            # "is this from the NHS? who wrote it?": where the answers come from, whatever it names
            return Understanding("education", predicted, predicted, signal, unsure=unsure)
        cue = scope_rules().topic_cue(question)
        if cue is not None and cue != predicted and _confidence(ranking, predicted) < CUE_OVER_DIET:
            # the question's own words name its topic ("does sorting out b12 help with the
            # tiredness?": symptoms; "homocysteine through the roof, what has it to do with b12?")
            predicted, unsure = cue, False
        if red_flag or not_covered or (neighbouring and predicted not in GENERAL_INTENTS):
            # where the answers come from is never "what it does say" about something else
            return Understanding(
                "not_covered", "ask_not_covered", predicted if predicted != SOURCE_INTENT else None, signal
            )
        return Understanding("education", predicted, predicted, signal, unsure=unsure)
    if row.kind == "not_covered":
        return Understanding("not_covered", predicted, topic_intent if signal else None, signal)
    return Understanding(row.kind, predicted, topic_intent if row.kind != "off_topic" else None, signal)


def ranking_of(intent_ranking: Sequence[Dict[str, Any]] | None) -> List[Tuple[str, float]]:
    """Rasa's intent_ranking as (name, confidence) pairs, best first."""
    return [(str(r.get("name")), float(r.get("confidence") or 0.0)) for r in intent_ranking or [] if r.get("name")]
