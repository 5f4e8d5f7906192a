"""Custom Rasa NLU components. Thin wrappers: the logic lives in b12.safety and
b12.entities, which have no Rasa imports and are tested directly."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from b12 import kinds, spelling
from b12.entities import STORY_LABEL, canonical, story_conditions
from b12.entities import load as load_entity_matcher
from b12.focus import bounded, focus
from b12.kinds import BUTTON_ONLY_INTENTS, button_intent, ranking_of, understand
from b12.spelling import correct

FULL_TEXT = "full_text"
INTENT_RANKING = "intent_ranking"


class _StatelessComponent(GraphComponent):
    """A component with no training and no config."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        cls.read_resources()
        return cls()

    @staticmethod
    def read_resources() -> None:
        """What the component reads when the model loads (nothing, unless it says otherwise).
        Not `load`: that is GraphComponent's own constructor for a trained component."""

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class EntityCanonicalizer(_StatelessComponent):
    """Replaces each extracted entity value with its canonical id ("jabs" -> "injection")."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            for entity in entities:
                entity[ENTITY_ATTRIBUTE_VALUE] = canonical(
                    entity[ENTITY_ATTRIBUTE_TYPE], str(entity[ENTITY_ATTRIBUTE_VALUE])
                )
            full = message.get(FULL_TEXT)
            if full and full != message.get(TEXT) and button_intent(full) is None:
                # the condition told in the story, outside the question ("my mum has PA. why
                # does she need injections?"): who it is about decides the answer too
                named = {e[ENTITY_ATTRIBUTE_VALUE] for e in entities if e[ENTITY_ATTRIBUTE_TYPE] == STORY_LABEL}
                story = [c for c in story_conditions(full) if c not in named]
                entities = [*entities, *({ENTITY_ATTRIBUTE_TYPE: STORY_LABEL, ENTITY_ATTRIBUTE_VALUE: c,
                                          ENTITY_ATTRIBUTE_START: 0, ENTITY_ATTRIBUTE_END: 0,
                                          EXTRACTOR: "story"} for c in story)]  # fmt: skip
                message.set(ENTITIES, entities, add_to_output=True)
        return messages


# A message featurizer to Rasa's recipe: only tokenizers and featurizers have their
# process_training_data run in training, so only so does the classifier train on the text it reads.
@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class QuestionFocus(_StatelessComponent):
    """First in the pipeline: the text the classifier reads becomes the sentences that ask
    (b12/focus.py), without greetings, apologies, thanks or "asking for my dad:". At run time,
    misspelt words of the subject are also spelled right (b12/spelling.py); training keeps its
    typo variants as they are, so the classifier still learns to read typos itself. The whole
    message is kept in `full_text` for the safety checks, which judge all of it. A button's
    payload is left as it is: Rasa's RegexMessageHandler reads its intent and entities from it."""

    def _focus(self, messages: List[Message], spell: bool) -> None:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            message.set(FULL_TEXT, text)
            if button_intent(text) is None:
                focused = bounded(focus(text))
                message.set(TEXT, correct(focused) if spell else focused)

    def process(self, messages: List[Message]) -> List[Message]:
        self._focus(messages, spell=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Focuses every example, and drops the button payloads (data/nlu_buttons.yml) and every
        example of an intent reached only by a button (b12/kinds.py BUTTON_ONLY_INTENTS; Rasa also
        adds one per intent a rule names): Rasa's RegexMessageHandler reads it from its payload, so
        it is never a class the classifier learns, and the classifier trains on the typed examples."""
        typed = [
            ex
            for ex in training_data.training_examples
            if button_intent(ex.get(TEXT) or "") is None and ex.get(INTENT) not in BUTTON_ONLY_INTENTS
        ]
        self._focus(typed, spell=False)  # the generated typo variants stay: DIET learns to read typos too
        if len(typed) == len(training_data.training_examples):
            return training_data
        return TrainingData(
            typed,
            training_data.entity_synonyms,
            training_data.regex_features,
            training_data.lookup_tables,
            training_data.responses,
        )


def _force_intent(message: Message, intent: str) -> None:
    predicted = message.get(INTENT) or {}
    if predicted.get("name") == intent:
        return
    forced = {"name": intent, "confidence": 1.0}
    ranking = [r for r in message.get(INTENT_RANKING) or [] if r.get("name") != intent]
    message.set(INTENT, forced, add_to_output=True)
    message.set(INTENT_RANKING, [forced, *ranking], add_to_output=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class MessageKindClassifier(_StatelessComponent):
    """Last in the pipeline: decides the kind of message apart from what it is about
    (b12/kinds.py), whatever DIET predicted, and sets the intent the rules act on.

    Output fields, read by the actions: `message_kind`, `topic_intent` (the answer intent it is
    about), `emergency_category` and `emergency_reported` (reported now, or asked about).
    """

    @staticmethod
    def read_resources() -> None:
        # the word lists and matchers are read when the model loads, so the first patient's
        # message does not wait for them (and a refused knowledge file stops the load)
        kinds.load()
        spelling.load()
        load_entity_matcher()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(FULL_TEXT) or message.get(TEXT) or ""
            entity_types = [str(e.get(ENTITY_ATTRIBUTE_TYPE)) for e in message.get(ENTITIES) or []]
            ranking = ranking_of(message.get(INTENT_RANKING))
            if not ranking and message.get(INTENT):
                ranking = ranking_of([message.get(INTENT)])
            u = understand(text, ranking, entity_types, focus_text=message.get(TEXT) or "")
            _force_intent(message, u.intent)
            message.set("message_kind", u.kind, add_to_output=True)
            message.set("topic_intent", u.topic_intent, add_to_output=True)
            if u.unsure:
                message.set("unsure", True, add_to_output=True)
            if u.emergency is not None:
                message.set("emergency_category", u.emergency.category, add_to_output=True)
                message.set("emergency_reported", u.emergency.reported, add_to_output=True)
        return messages
