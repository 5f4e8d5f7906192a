"""Custom Rasa NLU components. Thin wrappers: the logic lives in actions.safety and
actions.entities, which have no Rasa imports and are tested directly."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, ENTITY_ATTRIBUTE_VALUE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.entities import canonical
from actions.safety import emergency_category

EMERGENCY_INTENT = "emergency"
INTENT_RANKING = "intent_ranking"


class _StatelessComponent(GraphComponent):
    """A component with no training and no config."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class EmergencyOverride(_StatelessComponent):
    """Forces the `emergency` intent when the deterministic matcher fires.

    Runs last in the pipeline, after DIET and the FallbackClassifier, so an emergency
    is never lost to a misclassification or a low-confidence fallback.
    """

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            category = emergency_category(message.get(TEXT))
            if category is None:
                continue
            forced = {"name": EMERGENCY_INTENT, "confidence": 1.0}
            ranking = [r for r in message.get(INTENT_RANKING) or [] if r.get("name") != EMERGENCY_INTENT]
            message.set(INTENT, forced, add_to_output=True)
            message.set(INTENT_RANKING, [forced, *ranking], add_to_output=True)
            message.set("emergency_category", category, add_to_output=True)
        return messages
