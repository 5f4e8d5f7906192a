"""Emergency and crisis messages, with the numbers of the deployment's region. No Rasa imports.

knowledge/crisis_lines.yml holds the numbers per region and the message for each emergency
category. CRISIS_REGION (default "us") picks the region; a bad file or an unknown region fails
when it is loaded, naming the file and the key.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Mapping

import yaml

from b12 import settings

CRISIS_FILE = settings.KNOWLEDGE_DIR / "crisis_lines.yml"
DEFAULT_REGION = "us"
MESSAGE_KEYS = ("emergency", "self_harm", "violence", "poisoning", "overdose", "if_now", "if_now_self_harm")


class CrisisFileError(ValueError):
    """The crisis-lines file is malformed, or the region is not in it."""


@dataclass(frozen=True)
class CrisisLines:
    region: str
    numbers: Mapping[str, str]
    categories: Mapping[str, str]
    messages: Mapping[str, str]

    def reply(self, category: str | None) -> str:
        """The message for someone reporting an emergency of `category`."""
        key = self.categories.get(category or "", "emergency")
        return self.messages[key].format(**self.numbers)

    def if_now(self, category: str | None = None) -> str:
        """The one line said above an answer about a red-flag symptom (or thoughts of self-harm)."""
        key = "if_now_self_harm" if category == "self_harm" else "if_now"
        return self.messages[key].format(**self.numbers)


def load_crisis_lines(region: str, path: Path = CRISIS_FILE) -> CrisisLines:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise CrisisFileError(f"{path}: cannot read: {e}") from e
    if not isinstance(data, dict):
        raise CrisisFileError(f"{path}: expected regions, categories and messages")
    regions, categories, messages = (data.get(k) for k in ("regions", "categories", "messages"))
    if not isinstance(regions, dict) or DEFAULT_REGION not in regions:
        raise CrisisFileError(f"{path}: 'regions' must include '{DEFAULT_REGION}'")
    if region not in regions:
        raise CrisisFileError(f"{path}: 'regions.{region}' is not defined (CRISIS_REGION={region!r})")
    required = set(regions[DEFAULT_REGION])
    for name, numbers in regions.items():
        missing = required - set(numbers or {})
        if missing:
            raise CrisisFileError(f"{path}: 'regions.{name}' lacks {sorted(missing)}")
    if not isinstance(messages, dict) or set(MESSAGE_KEYS) - set(messages):
        raise CrisisFileError(f"{path}: 'messages' must define {list(MESSAGE_KEYS)}")
    for key, text in messages.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(str(text)) if f}
        if fields - required:
            raise CrisisFileError(f"{path}: 'messages.{key}' names unknown numbers {sorted(fields - required)}")
    if not isinstance(categories, dict) or any(v not in messages for v in categories.values()):
        raise CrisisFileError(f"{path}: 'categories' must map categories to message keys")
    numbers: Dict[str, str] = {k: str(v) for k, v in regions[region].items()}
    return CrisisLines(region, numbers, dict(categories), {k: str(v) for k, v in messages.items()})


@lru_cache(maxsize=4)
def crisis_lines(region: str | None = None) -> CrisisLines:
    """The deployment's crisis lines (CRISIS_REGION, default us), loaded once."""
    return load_crisis_lines((region or settings.raw("CRISIS_REGION") or DEFAULT_REGION).strip().lower())
