"""Misspellings read as the subject's own words, in the text the classifier reads. No Rasa imports.

"cronhs", "hasihmotos", "inejction", "dfeiciency": a word that is not a real English word
(pyspellchecker's dictionary, the same list the emergency matcher uses) and is one slip away from
a word of the subject (knowledge/entity_patterns.yml and the source itself) is read as that word.
A real word is never changed. Safety reads the patient's own words and folds its own typos, onto
alarm words (b12/safety.py); this only helps find the topic.

One pass over the words, at most MAX_CORRECTIONS lookups per message: linear in its length.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, FrozenSet, Tuple

from b12.safety import MAX_WORD_LENGTH, MIN_TYPO_LENGTH, english_words, nearest_term, words_of

_TOKEN = re.compile(r"[A-Za-z]+")
MAX_CORRECTIONS = 40  # misspelt-looking words looked up per message


@lru_cache(maxsize=1)
def _known() -> FrozenSet[str]:
    return frozenset(english_words())


@lru_cache(maxsize=1)
def vocabulary() -> Tuple[FrozenSet[str], Dict[str, Tuple[str, ...]]]:
    """The subject's words (entity phrases and the source's words), and the same by first letter."""
    from b12.entities import load_entity_patterns
    from b12.knowledge import get_knowledge

    words = {w for p in load_entity_patterns() for w in words_of(p["pattern"])}
    words |= set(words_of(get_knowledge().source_text))
    words = {w for w in words if w.isalpha() and len(w) >= MIN_TYPO_LENGTH}
    buckets: Dict[str, list] = {}
    for w in sorted(words):
        buckets.setdefault(w[0], []).append(w)
    return frozenset(words), {k: tuple(v) for k, v in buckets.items()}


def load() -> None:
    """Read the word lists now (at model load), not on the first patient's message."""
    _known()
    vocabulary()


def correct(text: str) -> str:
    """`text` with each misspelt word of the subject spelled right; everything else as it was."""
    known = _known()
    subject, buckets = vocabulary()
    out, last, lookups = [], 0, 0
    for m in _TOKEN.finditer(text):
        word = m.group(0).lower()
        if not MIN_TYPO_LENGTH <= len(word) <= MAX_WORD_LENGTH or word in known or word in subject:
            continue
        lookups += 1
        if lookups > MAX_CORRECTIONS:
            break
        fixed = nearest_term(word, buckets.get(word[0], ()))
        if fixed != word:
            out += [text[last : m.start()], fixed]
            last = m.end()
    out.append(text[last:])
    return "".join(out)
