"""Custom Rasa NLU components. Thin wrappers: the logic lives in actions.safety and
actions.entities, which have no Rasa imports and are tested directly."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, ENTITY_ATTRIBUTE_VALUE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.entities import canonical
from actions.safety import emergency_category, has_words, mentions_b12, personal_advice_kind

EMERGENCY_INTENT = "emergency"
FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
INTENT_RANKING = "intent_ranking"
PERSONAL_ADVICE_INTENTS = {
    "dosing": "ask_dosing",
    "diagnosis": "ask_diagnosis",
    "change_treatment": "ask_change_treatment",
}


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
        return cls()

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
        return messages


def _force_intent(message: Message, intent: str) -> None:
    forced = {"name": intent, "confidence": 1.0}
    ranking = [r for r in message.get(INTENT_RANKING) or [] if r.get("name") != intent]
    message.set(INTENT, forced, add_to_output=True)
    message.set(INTENT_RANKING, [forced, *ranking], add_to_output=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SafetyOverride(_StatelessComponent):
    """Decides safety before any answer, whatever DIET predicted.

    Runs last in the pipeline, after DIET and the FallbackClassifier:
    - an emergency (the one matcher in actions.safety) forces the `emergency` intent;
    - a message with no plausible word (emoji only, one long run of letters) falls back to
      a clarifying question instead of a confident guess;
    - a request for personal dosing, diagnosis or a treatment change forces the matching
      decline intent (an off-topic dose question, such as insulin, stays out of scope).
    """

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            category = emergency_category(text)
            if category is not None:
                _force_intent(message, EMERGENCY_INTENT)
                message.set("emergency_category", category, add_to_output=True)
                continue
            if not has_words(text):
                _force_intent(message, FALLBACK_INTENT)  # nothing to understand: ask, never guess
                continue
            kind = personal_advice_kind(text)
            if kind is None:
                continue
            predicted = (message.get(INTENT) or {}).get("name")
            if predicted == OUT_OF_SCOPE_INTENT and not mentions_b12(text):
                continue
            _force_intent(message, PERSONAL_ADVICE_INTENTS[kind])
        return messages
