"""Entity vocabulary: knowledge/entity_patterns.yml, validated on load. No Rasa imports.

The same file builds the spaCy entity ruler (scripts/build_spacy.py) and maps each
matched phrase to its canonical id at run time (extensions/components.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

from b12 import settings

ENTITY_FILE = settings.KNOWLEDGE_DIR / "entity_patterns.yml"


class EntityFileError(ValueError):
    """The entity pattern file is malformed."""


def load_entity_patterns(path: Path = ENTITY_FILE) -> List[Dict[str, str]]:
    """Entity-ruler phrase patterns: one per phrase, with its label and canonical id."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise EntityFileError(f"{path}: cannot read: {e}") from e
    if not isinstance(data, dict) or not data:
        raise EntityFileError(f"{path}: expected label -> canonical id -> phrases")
    patterns: List[Dict[str, str]] = []
    seen: Dict[Tuple[str, str], str] = {}
    for label, ids in data.items():
        if not isinstance(ids, dict) or not ids:
            raise EntityFileError(f"{path}: '{label}' must map canonical ids to phrase lists")
        for canonical, phrases in ids.items():
            if not isinstance(phrases, list) or not phrases:
                raise EntityFileError(f"{path}: '{label}.{canonical}' must be a non-empty list of phrases")
            for phrase in phrases:
                text = str(phrase).lower().strip()
                if (label, text) in seen and seen[(label, text)] != canonical:
                    raise EntityFileError(f"{path}: '{label}.{canonical}' repeats {text!r} of '{seen[(label, text)]}'")
                seen[(label, text)] = str(canonical)
                patterns.append({"label": str(label), "pattern": text, "id": str(canonical)})
    return patterns


@lru_cache(maxsize=1)
def canonical_ids() -> Dict[Tuple[str, str], str]:
    """(label, lower-cased phrase) -> canonical id."""
    return {(p["label"], p["pattern"]): p["id"] for p in load_entity_patterns()}


def canonical(label: str, value: str) -> str:
    """The canonical id of an entity value ("jabs" -> "injection"); unknown values pass through."""
    return canonical_ids().get((label, " ".join(value.lower().split())), value)


@lru_cache(maxsize=1)
def _condition_matcher():
    """A token matcher for the condition phrases (compiled on first use, not at import)."""
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    from b12.safety import words_of

    vocab = Vocab()
    matcher = PhraseMatcher(vocab)
    by_id: Dict[str, List[List[str]]] = {}
    for p in load_entity_patterns():
        if p["label"] == STORY_LABEL and words_of(p["pattern"]):
            by_id.setdefault(p["id"], []).append(words_of(p["pattern"]))
    for canonical_id, phrases in by_id.items():
        matcher.add(canonical_id, [Doc(vocab, words=w) for w in phrases])
    return vocab, matcher


def load() -> None:
    """Compile the condition matcher now (at model load), not on the first patient's message."""
    _condition_matcher()


STORY_LABEL = "condition"  # who the person is, told in the story: "my mum has PA. why injections?"


def story_conditions(text: str) -> List[str]:
    """The canonical ids of the conditions a message names anywhere, in order, each once. One
    pass over its words (spaCy's PhraseMatcher)."""
    from spacy.tokens import Doc

    from b12.safety import words_of

    words = words_of(text)
    if not words:
        return []
    vocab, matcher = _condition_matcher()
    found: List[str] = []
    for match_id, _, _ in sorted(matcher(Doc(vocab, words=words)), key=lambda m: m[1]):
        name = vocab.strings[match_id]
        if name not in found:
            found.append(name)
    return found
