"""The one emergency matcher. No Rasa imports.

`emergency_category(text)` decides, deterministically, whether a message describes an
emergency. The Rasa NLU pipeline calls it on every message (components/safety.py) and
forces the `emergency` intent when it matches, so recall never depends on DIET alone.

Patterns live in knowledge/emergency_patterns.yml and compile into a spaCy `Matcher`
on first use (nothing heavy happens at import time).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

PATTERNS_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "emergency_patterns.yml"
GAP_WORDS = 3
TYPO_CUTOFF = 0.85
MIN_TYPO_LENGTH = 5


class PatternError(ValueError):
    """The emergency pattern file is malformed."""


def words_of(text: str) -> List[str]:
    """Lower-case words with apostrophes dropped (can't -> cant) and punctuation as spaces."""
    text = text.lower().replace("\u2019", "'").replace("'", "")
    return re.findall(r"[a-z0-9]+", text)


def token_pattern(line: str) -> List[Dict[str, Any]]:
    """Turn one line of the pattern syntax into a spaCy token pattern."""
    pattern: List[Dict[str, Any]] = []
    for slot in line.split():
        if slot == "~":
            pattern += [{"OP": "?"}] * GAP_WORDS
            continue
        if slot == "#":
            pattern.append({"ORTH": {"REGEX": "^([5-9]|[1-9][0-9]+)$"}})
            continue
        alternatives = []
        for alt in slot.split("|"):
            if not re.fullmatch(r"[a-z0-9]+\*?", alt):
                raise PatternError(f"bad word {alt!r} in pattern {line!r}")
            alternatives.append(alt[:-1] + "[a-z0-9]*" if alt.endswith("*") else alt)
        pattern.append({"ORTH": {"REGEX": "^(" + "|".join(alternatives) + ")$"}})
    if not pattern or "OP" in pattern[0] or "OP" in pattern[-1]:
        raise PatternError(f"pattern {line!r} must start and end with a word")
    return pattern


@dataclass(frozen=True)
class EmergencyMatcher:
    matcher: Any
    vocab: Any
    terms: Tuple[str, ...]
    typos: Dict[str, str]

    def fold_typos(self, words: List[str]) -> List[str]:
        folded: List[str] = []
        for w in words:
            if w in self.typos:
                folded += self.typos[w].split()  # may be several words: wanna -> want to
                continue
            if len(w) >= MIN_TYPO_LENGTH and w not in self.terms:
                # Same first letter and near-equal spelling, so "checking" never becomes "choking".
                close = difflib.get_close_matches(w, self.terms, n=3, cutoff=TYPO_CUTOFF)
                w = next((c for c in close if c[0] == w[0] and abs(len(c) - len(w)) <= 2), w)
            folded.append(w)
        return folded

    def category(self, text: str) -> str | None:
        from spacy.tokens import Doc

        words = self.fold_typos(words_of(text))
        if not words:
            return None
        matches = self.matcher(Doc(self.vocab, words=words))
        if not matches:
            return None
        return self.vocab.strings[min(matches, key=lambda m: m[1])[0]]


def load_matcher(path: Path = PATTERNS_FILE) -> EmergencyMatcher:
    """Read, validate and compile the pattern file. Errors name the file and the key."""
    from spacy.matcher import Matcher
    from spacy.vocab import Vocab

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise PatternError(f"{path}: cannot read: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise PatternError(f"{path}: missing key 'categories'")
    terms = data.get("terms")
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise PatternError(f"{path}: 'terms' must be a list of words")
    typos = data.get("typos", {})
    if not isinstance(typos, dict) or not all(isinstance(v, str) for v in typos.values()):
        raise PatternError(f"{path}: 'typos' must map misspellings to words")
    bad = [k for k, v in typos.items() if not words_of(v) or " ".join(words_of(v)) != v]
    if bad:
        raise PatternError(f"{path}: 'typos.{bad[0]}' must be lower-case words")
    vocab = Vocab()
    matcher = Matcher(vocab)
    for name, lines in data["categories"].items():
        if not isinstance(lines, list) or not lines:
            raise PatternError(f"{path}: 'categories.{name}' must be a non-empty list")
        try:
            matcher.add(str(name), [token_pattern(str(line)) for line in lines])
        except PatternError as e:
            raise PatternError(f"{path}: 'categories.{name}': {e}") from e
    return EmergencyMatcher(
        matcher=matcher, vocab=vocab, terms=tuple(terms), typos={str(k): v for k, v in typos.items()}
    )


@lru_cache(maxsize=1)
def get_matcher() -> EmergencyMatcher:
    return load_matcher(PATTERNS_FILE)


def emergency_category(text: str | None) -> str | None:
    """The emergency category a message describes (e.g. 'self_harm'), or None."""
    if not text or not text.strip():
        return None
    return get_matcher().category(text)


def is_emergency(text: str | None) -> bool:
    return emergency_category(text) is not None


# Personal-advice requests that must be declined whatever DIET says. Deliberately narrow:
# each pattern names the person ("i", "my") and a dose, a diagnosis or their own results.
_CONDITION = (
    r"(it|pa|pernicious\w*( an\w+)?|an?\s?(b12 |vitamin )?deficiency|low b12|b12 deficiency"
    r"|celiac|coeliac|crohn\w*|hashimoto\w*)"
)
PERSONAL_ADVICE = (
    (
        "dosing",
        re.compile(
            r"\bhow (much|many)( \w+){0,3} (should|do|must|can) (i|we|my( \w+){1,3})"
            r" (take|need|have|get|give|use|inject|ask)\b"
        ),
    ),
    ("dosing", re.compile(r"\bwhat( \w+){0,2} (dose|dosage|amount|strength)\b.*\b(i|me|my)\b")),
    ("dosing", re.compile(r"\b(how many|how much) (mcg|micrograms?|mg|milligrams?|iu|units)\b")),
    ("diagnosis", re.compile(rf"\b(do|could|might|can) i (have|have got) {_CONDITION}\b")),
    ("diagnosis", re.compile(rf"\b(have i got|am i) {_CONDITION}\b")),
    ("diagnosis", re.compile(r"\bam i (b12 )?deficient\b")),
    ("diagnosis", re.compile(r"\bare my symptoms\b")),
    (
        "diagnosis",
        re.compile(
            r"\bmy (b12|level|levels|result|results|blood test|homocysteine|mma)\b.*\b(is|was|are|came back)\b.*\d"
        ),
    ),
    ("diagnosis", re.compile(r"\bis my (b12|level|levels|result|results|number)\b")),
    ("change_treatment", re.compile(r"\b(can|should|could) i (stop|quit|skip|switch|change|come off|drop)\b")),
)


def personal_advice_kind(text: str | None) -> str | None:
    """'dosing', 'diagnosis' or 'change_treatment' when a message asks for personal advice."""
    if not text:
        return None
    lowered = " ".join(words_of(text))
    return next((kind for kind, pattern in PERSONAL_ADVICE if pattern.search(lowered)), None)


B12_MENTION = re.compile(r"\b(b ?12|b-12|cobalamin|methylcobalamin|hydroxocobalamin|cyanocobalamin)\b", re.I)


def mentions_b12(text: str | None) -> bool:
    return bool(text and B12_MENTION.search(text))


MAX_WORD_LENGTH = 20


def has_words(text: str | None) -> bool:
    """False for input with no plausible word: empty, emoji only, one 300-letter run of x."""
    return any(1 < len(w) <= MAX_WORD_LENGTH for w in words_of(text or ""))
