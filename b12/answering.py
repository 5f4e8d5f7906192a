"""Which vetted passages answer a question, and how a health reply is composed.
No Rasa imports: actions/actions.py reads the tracker and calls these.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Sequence, Tuple

from b12 import feedback
from b12.crisis import crisis_lines
from b12.kinds import INTENTS, KIND_INTENT, PERSONAL_ADVICE, REPLACES_MEDICINE_TOPIC, ROUTE_CHANGE_TOPIC
from b12.knowledge import FEATURES, ROUTES, Knowledge, Passage, get_knowledge

CAVEAT_RESPONSE = "utter_caveat"
# What a channel says when no answer can be given (the action server is down, a reply times out).
SAFE_REPLY = (
    "I can't look that up right now. If this is an emergency, call your local emergency number now "
    "(911 in the US). Please consult your healthcare provider."
)
MAX_PASSAGES = 3
# A change of treatment whose subject outranks the condition named: B12 instead of another
# medicine (not a cure) and one route for another (how the route is chosen), b12/kinds.py.
CHANGE_TOPICS_FIRST = (REPLACES_MEDICINE_TOPIC, ROUTE_CHANGE_TOPIC)

# From the one table of intents (b12/kinds.py). Route intents: the answer follows the route or
# condition named (or remembered); feature intents: a row of the comparison table; topic
# intents: their topic's passages.
ROUTE_INTENTS = ("ask_route", "ask_compare_routes", "ask_risks", "ask_treatment")
FEATURE_INTENTS: Dict[str, str] = {
    i: str(row.topic)[8:]
    for i, row in INTENTS.items()
    if row.kind == "education" and str(row.topic).startswith("feature:")
}
TOPIC_INTENTS: Dict[str, str] = {
    i: str(row.topic)
    for i, row in INTENTS.items()
    if row.kind == "education" and i not in ROUTE_INTENTS and i not in FEATURE_INTENTS
}
# Personal-advice intents -> (the refusal response said first, the knowledge topic quoted),
# from the one table of intents in b12/kinds.py.
PERSONAL_ADVICE_INTENTS: Dict[str, Tuple[str, str]] = {
    intent: (str(row.refusal), str(row.topic)) for intent, row in INTENTS.items() if row.kind in PERSONAL_ADVICE
}
NOT_COVERED_RELATED = "utter_not_covered_related"
UNSURE_RELATED = "utter_unsure_related"  # "I'm not sure I understood. Here is what my source says about <topic>:"
# "Where is that from?": after an answer, the source and the sections that answer quoted; before
# any answer, the source alone. Both say when the knowledge file was last reviewed.
SOURCE_OF_ANSWER = "utter_source_of_answer"
SOURCE_IN_GENERAL = "utter_source"
SOURCE_TOPIC = "source"
# What a related answer is about, in plain words: "What it does say about <label>:".
TOPIC_LABELS: Dict[str, str] = {
    "link": "B12 and autoimmune disease",
    "pernicious_anemia": "pernicious anemia",
    "gut_conditions": "celiac and Crohn's disease",
    "hashimotos": "Hashimoto's",
    "immune_function": "B12 and the immune system",
    "homocysteine": "homocysteine",
    "treatment_route": "how B12 is given",
    "risks": "the risks of B12",
    "compare_routes": "food, tablets and shots",
    "not_a_cure": "what B12 can and cannot do",
    "symptoms": "what low B12 can lead to",
    "lifelong": "lifelong treatment",
    "source": "where this comes from",
    "route:diet": "B12 from food",
    "route:oral": "B12 tablets",
    "route:injection": "B12 shots",
}

# Condition entity -> the knowledge topic about it.
CONDITION_TOPICS: Dict[str, str] = {
    "pernicious_anemia": "pernicious_anemia",
    "intrinsic_factor": "pernicious_anemia",
    "celiac": "gut_conditions",
    "crohns": "gut_conditions",
    "hashimotos": "hashimotos",
    "autoimmune_gastritis": "hashimotos",
}
# Which treatment answer fits a condition: injections for loss of intrinsic factor,
# "less severe" malabsorption for gut conditions.
CONDITION_TREATMENT: Dict[str, str] = {
    "pernicious_anemia": "treatment_autoimmune",
    "intrinsic_factor": "treatment_autoimmune",
    "autoimmune_gastritis": "treatment_autoimmune",
    "hashimotos": "treatment_autoimmune",
    "celiac": "treatment_mild",
    "crohns": "treatment_mild",
}
_CONDITION_INTENTS = {topic: intent for intent, topic in TOPIC_INTENTS.items()}
# Topics a vague "how does that relate to autoimmunity?" can refer back to.
LINKED_TOPICS = ("homocysteine", "immune_function", *CONDITION_TOPICS.values())
# The features that describe what a route is for, asked first then the other two.
PURPOSE_FEATURES = ("benefit", "efficacy", "typical_use")


@dataclass(frozen=True)
class Question:
    """What the assistant knows when it answers: the intent, this message's entities,
    and what earlier turns left in slots."""

    intent: str
    routes: Sequence[str] = ()
    conditions: Sequence[str] = ()
    features: Sequence[str] = ()
    route_slot: str | None = None
    condition_slot: str | None = None
    feature_slot: str | None = None
    topic_slot: str | None = None
    kind: str = "education"  # b12/kinds.py: what kind of message it is
    topic_intent: str | None = None  # the answer intent it is about
    alert: bool = False  # asked about a red-flag symptom: say first what to do if it is happening now
    alert_category: str | None = None  # which red flag (self-harm gets its own line)
    last_passages: Sequence[str] = ()  # the passages the last answer quoted ("where is that from?")
    unsure: bool = False  # the topic is the classifier's best guess, not a sure one: say so first


@dataclass(frozen=True)
class Answer:
    topic: str
    passages: List[Passage]
    preface: str | None = None
    slots: Dict[str, str | None] = field(default_factory=dict)
    preface_args: Dict[str, str] = field(default_factory=dict)
    alert: str | None = None
    kind: str = "education"

    @property
    def ref(self) -> str:
        """The answer's name: its topic and the passages it quotes (b12/feedback.py)."""
        return feedback.answer_ref(self.topic, [p.id for p in self.passages[:MAX_PASSAGES]])

    @property
    def rated(self) -> bool:
        """Whether the patient is asked if this answer helped: not "where is that from?"."""
        return self.topic != SOURCE_TOPIC

    def as_event_value(self) -> Dict[str, Any]:
        """What the `last_answer` slot event stores: which answer was given."""
        return {"topic": self.topic, "passages": [p.id for p in self.passages[:MAX_PASSAGES]], "kind": self.kind}


def reviewer(kb: Knowledge) -> str:
    """Who last checked the knowledge file, as a role: never claims a clinical review that was not."""
    return kb.review.reviewed_by if kb.review else "no one yet"


def reviewed_date(kb: Knowledge) -> str:
    """When the knowledge file was last reviewed, in words ("December 1, 2026")."""
    day = kb.review.reviewed_on if kb.review else None
    return f"{day:%B} {day.day}, {day.year}" if day else "not yet"


def sections_of(passages: Sequence[Passage]) -> List[str]:
    """The source section each passage is quoted from, once each, in order."""
    out: List[str] = []
    for p in passages:
        if p.section not in out:
            out.append(p.section)
    return out


def source_facts(passages: Sequence[Passage], kb: Knowledge | None = None) -> Dict[str, Any]:
    """Where a reply's passages come from, for the widget's Source disclosure: the source's
    title and URL, the section headings quoted, and when the file was last reviewed."""
    kb = kb or get_knowledge()
    return {
        "title": kb.source_title,
        "url": kb.source_url,
        "sections": sections_of(passages),
        "reviewed": reviewed_date(kb),
        "reviewed_on": kb.review.reviewed_on.isoformat() if kb.review else None,
        "reviewed_by": reviewer(kb),
        "clinical_review": bool(kb.review and kb.review.clinical),
    }


def _source_answer(q: Question, answer: Answer, kb: Knowledge) -> Answer:
    """ "Where is that from?": after an answer, the sections it quoted; before one, the source."""
    earlier = [kb.passages[i] for i in q.last_passages if i in kb.passages]
    args = {"title": kb.source_title, "reviewed": reviewed_date(kb), "reviewer": reviewer(kb)}
    if not earlier:
        return replace(answer, preface=SOURCE_IN_GENERAL, preface_args=args)
    sections = "; ".join(f'"{s}"' for s in sections_of(earlier))
    return replace(answer, preface=SOURCE_OF_ANSWER, preface_args={**args, "sections": sections})


def topic_label(topic: str) -> str:
    if topic.startswith("feature:"):
        return {"risk": "the risks of B12", "absorption": "how B12 is absorbed"}.get(topic[8:], "how B12 is given")
    return TOPIC_LABELS.get(topic, "B12 and autoimmune disease")


def _known(values: Sequence[str], allowed: Sequence[str]) -> List[str]:
    out: List[str] = []
    for v in values:
        if v in allowed and v not in out:
            out.append(v)
    return out


def _route_cells(kb: Knowledge, route: str, features: Sequence[str]) -> List[Passage]:
    return [kb.cell(route, f) for f in features]


def _feature_answer(kb: Knowledge, feature: str, routes: List[str]) -> List[Passage]:
    if len(routes) != 1:
        return [kb.cell(r, feature) for r in (routes or ROUTES)][:MAX_PASSAGES]
    if feature in PURPOSE_FEATURES:
        order = [feature] + [f for f in PURPOSE_FEATURES if f != feature]
    elif feature == "absorption":
        order = ["absorption", "efficacy"]
    else:
        order = [feature]
    return _route_cells(kb, routes[0], order)


def plan_answer(q: Question, kb: Knowledge | None = None) -> Answer:
    """Pick the vetted passages (1-3) that answer `q`, and the slots to remember."""
    kb = kb or get_knowledge()
    routes = _known(q.routes, ROUTES)
    conditions = [c for c in q.conditions if c in CONDITION_TOPICS]
    features = _known(q.features, FEATURES)
    remembered_route = q.route_slot if q.route_slot in ROUTES else None
    condition = conditions[0] if conditions else q.condition_slot

    if q.intent in TOPIC_INTENTS:
        topic = TOPIC_INTENTS[q.intent]
        if q.intent == "ask_link":
            # "what's the link between hashimoto's and b12?", or "why would that lower my b12?"
            # after "i have hashimotos": the condition's (or the last topic's) passages first.
            about = CONDITION_TOPICS.get(condition or "")
            if about is None and q.topic_slot in LINKED_TOPICS:
                about = q.topic_slot
            if about:
                passages = (kb.answer(about)[:2] + kb.answer("link"))[:MAX_PASSAGES]
                return Answer(topic, passages, slots={"topic": about})
        if topic in CONDITION_TOPICS.values() and routes:
            # "why are injections used for pernicious anemia?": the condition, then its treatment.
            own = kb.answer(topic)[0]
            treatment = kb.answer(CONDITION_TREATMENT.get(condition or "", "treatment_route") + "_after_condition")
            passages = [own, *treatment][:MAX_PASSAGES]
            return Answer(topic, passages, slots={"topic": topic, "feature": None})
        return Answer(topic, kb.answer(topic), slots={"topic": topic, "feature": None})

    if q.intent == "ask_treatment":
        topic = CONDITION_TREATMENT.get(condition or "", "treatment_route")
        return Answer("treatment_route", kb.answer(topic), slots={"topic": "treatment_route", "feature": None})

    if q.intent == "ask_risks":
        if routes:
            passages = [kb.cell(r, "risk") for r in routes][:2]
        elif remembered_route:
            passages = [kb.cell(remembered_route, "risk")]
        else:
            return Answer("risks", kb.answer("risks"), slots={"topic": "risks", "feature": "risk"})
        passages += kb.answer("risks_after_route_cells")
        return Answer(
            "risks", passages, slots={"topic": "risks", "feature": "risk", "route": (routes or [remembered_route])[-1]}
        )

    if q.intent == "ask_compare_routes":
        compared = (
            routes if len(routes) >= 2 else _known([*routes, remembered_route or "", "oral", "injection"], ROUTES)
        )
        passages = [kb.cell(r, "efficacy") for r in compared][:MAX_PASSAGES]
        passages = (passages + kb.answer("compare_routes_after_cells"))[:MAX_PASSAGES]
        return Answer("compare_routes", passages, slots={"topic": "compare_routes", "feature": "efficacy"})

    # A table question: a feature intent or a route question. A feature word in the message
    # ("how are they absorbed") wins over a near intent; "what about pills?" right after a
    # feature question keeps that feature.
    feature = features[0] if features else FEATURE_INTENTS.get(q.intent)
    if feature is None and routes and q.feature_slot in FEATURES:
        feature = q.feature_slot
    target_routes = routes or ([remembered_route] if remembered_route else [])

    if feature is None:
        if not target_routes:
            return Answer("treatment_route", kb.answer("treatment_route"), slots={"topic": "treatment_route"})
        if conditions and routes:
            # "why are injections used for pernicious anemia?": the condition, then its treatment
            return plan_answer(replace(q, intent=_CONDITION_INTENTS[CONDITION_TOPICS[conditions[0]]]), kb)
        route = target_routes[0]
        return Answer(
            f"route:{route}",
            _route_cells(kb, route, PURPOSE_FEATURES),
            slots={"topic": f"route:{route}", "route": route, "feature": None},
        )
    if conditions and len(target_routes) >= 2 and feature in PURPOSE_FEATURES and not features:
        # "she has pernicious anemia, why injections and not tablets?": the routes compared, for
        # an autoimmune condition (the "efficacy in autoimmunity" cells)
        return plan_answer(replace(q, intent="ask_compare_routes"), kb)
    slots: Dict[str, str | None] = {"topic": f"feature:{feature}", "feature": feature}
    if len(target_routes) == 1:
        slots["route"] = target_routes[0]
    passages = _feature_answer(kb, feature, target_routes)
    if conditions and len(routes) == 1 and feature in PURPOSE_FEATURES:
        # "why are injections used for pernicious anemia?": the cell, then that condition's treatment
        treatment = kb.answer(CONDITION_TREATMENT.get(conditions[0], "treatment_route"))
        passages = [passages[0], *treatment][:MAX_PASSAGES]
    elif conditions and not routes:
        # "my daughter has crohns, does that change how she absorbs b12?": the condition first
        passages = [kb.answer(CONDITION_TOPICS[conditions[0]])[0], *passages][:MAX_PASSAGES]
    return Answer(f"feature:{feature}", passages, slots=slots)


def _about(q: Question, kb: Knowledge) -> Answer | None:
    """What the message is about, when it names something: its topic intent, else its entities."""
    if q.topic_intent:
        return plan_answer(replace(q, intent=q.topic_intent), kb)
    conditions = [c for c in q.conditions if c in CONDITION_TOPICS]
    if conditions:
        return plan_answer(replace(q, intent="ask_link", topic_slot=None), kb)
    routes = _known(q.routes, ROUTES)
    if routes:
        return plan_answer(replace(q, intent="ask_route"), kb)
    return None


def plan_reply(q: Question, kb: Knowledge | None = None) -> Answer | None:
    """The whole reply, from both axes: the kind of message and what it is about.

    - personal advice: the refusal, then what the message is about (a named condition), else the
      refusal's own topic;
    - not covered: "My source doesn't answer that. What it does say about <topic>:" and the
      passages, when the message names something the source speaks of; None otherwise (the plain
      "my source doesn't cover that");
    - an education question: its answer.
    A question about a red-flag symptom also carries the "if this is happening now" line.
    """
    kb = kb or get_knowledge()
    answer: Answer | None
    if q.intent in PERSONAL_ADVICE_INTENTS:
        preface, topic = PERSONAL_ADVICE_INTENTS[q.intent]
        conditions = [c for c in q.conditions if c in CONDITION_TOPICS]
        own = kb.answer(topic)
        if q.topic_intent in CHANGE_TOPICS_FIRST and q.intent == KIND_INTENT["change_treatment"]:
            # B12 instead of another medicine: "not a cure" first, whatever the condition; one route
            # for another: how the route is chosen (for the condition named, if one is)
            about_topic = str(INTENTS[q.topic_intent].topic)
            if q.topic_intent == ROUTE_CHANGE_TOPIC and conditions:
                about_topic = CONDITION_TREATMENT.get(conditions[0], about_topic)
            about = kb.answer(about_topic)
            passages = [*about, *[p for p in own if p not in about]][:MAX_PASSAGES]
            answer = Answer(about_topic, passages, preface=preface, slots={"topic": topic})
        elif conditions:
            about = kb.answer(CONDITION_TOPICS[conditions[0]])[:2]
            passages = [*about, *[p for p in own if p not in about]][:MAX_PASSAGES]
            answer = Answer(CONDITION_TOPICS[conditions[0]], passages, preface=preface, slots={"topic": topic})
        elif q.topic_intent in TOPIC_INTENTS and TOPIC_INTENTS[q.topic_intent] != topic:
            # what the request is about ("can i stop the shots now i feel fine?": lifelong), then
            # the refusal's own topic
            about_topic = TOPIC_INTENTS[q.topic_intent]
            about = kb.answer(about_topic)[:2]
            passages = [*about, *[p for p in own if p not in about]][:MAX_PASSAGES]
            answer = Answer(about_topic, passages, preface=preface, slots={"topic": topic})
        else:
            answer = Answer(topic, own, preface=preface, slots={"topic": topic})
    elif q.kind == "not_covered" or q.intent == "ask_not_covered":
        related = _about(q, kb)
        if related is None and q.alert:  # a red flag asked about: what the source says low B12 leads to
            related = plan_answer(replace(q, intent="ask_symptoms"), kb)
        if related is None:
            return None
        answer = replace(related, preface=NOT_COVERED_RELATED, preface_args={"about": topic_label(related.topic)})
    else:
        answer = plan_answer(q, kb)
        if answer.topic == SOURCE_TOPIC:
            answer = _source_answer(q, answer, kb)
        elif q.unsure:
            answer = replace(answer, preface=UNSURE_RELATED, preface_args={"about": topic_label(answer.topic)})
    answer = replace(answer, kind=INTENTS[q.intent].kind if q.intent in PERSONAL_ADVICE_INTENTS else q.kind)
    if q.alert:
        answer = replace(answer, alert=crisis_lines().if_now(q.alert_category))
    return answer


def plan_follow_up(q: Question, kb: Knowledge | None = None) -> Answer | None:
    """An unclear message that is an elliptical follow-up ("and with the jabs?" right after a
    question about side effects) is answered in that context; anything else returns None so
    the assistant asks to clarify instead of guessing."""
    routes = _known(q.routes, ROUTES)
    if len(routes) == 1 and q.feature_slot in FEATURES:
        return plan_answer(Question(intent="ask_route", routes=routes, feature_slot=q.feature_slot), kb)
    return None


def compose_health_reply(
    passages: Sequence[Passage],
    preface: str | None = None,
    alert: str | None = None,
    preface_args: Dict[str, str] | None = None,
    ask_feedback: str | None = None,
    kb: Knowledge | None = None,
    skip_first: bool = False,
) -> List[Dict[str, Any]]:
    """The one way a health reply is built: an optional alert line (what to do if a red-flag
    symptom is happening now), an optional preface response, the quoted passages as one
    message, and the provider caveat as the LAST message.

    The passages message carries `source` (source_facts: the widget's Source disclosure). With
    `ask_feedback` (an answer's ref), the caveat carries the "was this helpful?" buttons ("Skip"
    first with `skip_first`, for a pick list).

    Returns keyword arguments for `dispatcher.utter_message`, in order.
    """
    if not passages:
        raise ValueError("a health reply needs at least one vetted passage")
    messages: List[Dict[str, Any]] = []
    if alert:
        messages.append({"text": alert})
    if preface:
        messages.append({"response": preface, **(preface_args or {})})
    quoted = passages[:MAX_PASSAGES]
    messages.append({"text": "\n\n".join(p.text for p in quoted), "source": source_facts(quoted, kb)})
    caveat: Dict[str, Any] = {"response": CAVEAT_RESPONSE}
    if ask_feedback:
        caveat["buttons"] = feedback.buttons(ask_feedback, skip_first=skip_first)
    messages.append(caveat)
    return messages
