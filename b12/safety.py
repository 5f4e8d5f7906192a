"""The one emergency matcher and the personal-advice detector. No Rasa imports.

`assess_emergency(text)` decides, deterministically, whether a message is about an emergency
and whether the person is *reporting* it (happening now: emergency care first, nothing else)
or *asking about* it ("can low B12 make you faint?": the answer, with one emergency line).
The Rasa NLU pipeline calls it on every message (extensions/components.py), so recall never
depends on DIET alone.

Patterns live in knowledge/emergency_patterns.yml and compile into a spaCy `Matcher` on first
use (nothing heavy happens at import time). Every check here is linear in the message length
(what a sentence holds is computed once per sentence, not once per match):
no regular expression with nested or multiple unbounded repeats (tests/unit/test_safety.py feeds
hostile 10,000-character shapes).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Sequence, Tuple

import yaml

from b12 import settings
from b12.focus import ASKING_PAIRS, SUBJECTS, focus, run_on_question

PATTERNS_FILE = settings.KNOWLEDGE_DIR / "emergency_patterns.yml"
GAP_WORDS = 3
TYPO_CUTOFF = 0.85
MIN_TYPO_LENGTH = 5
MAX_WORD_LENGTH = 20
MAX_FOLDS = 300  # typo folds per message

# Every apostrophe a keyboard, phone or word processor produces: removed (can't -> cant).
APOSTROPHES = "'\u2019\u2018\u02bc\u0060\u00b4\u2032\uff07\u201b"
_APOSTROPHE_TABLE = str.maketrans("", "", APOSTROPHES)
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"[.!?;\n]+")
_DECIMAL = re.compile(r"(\d)[.,](\d)")  # "folate 3.1" stays one number

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "dozen": 12,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip


# Words just before an alarm word that make it a state now: "i cant breathe", "he is fitting".
_STATE_NOW = frozenset(
    {"cant", "cannot", "couldnt", "isnt", "wont", "arent", "not", "is", "am", "im", "are", "keeps", "having"}
)


_HISTORY_ALLOWED = frozenset({"poisoning", "overdose"})
_PAST_PAIRS = frozenset(
    {("last", "week"), ("last", "month"), ("last", "year"), ("last", "summer"), ("last", "winter"),
     ("last", "spring"), ("last", "autumn"), ("last", "christmas"), ("the", "past"), ("used", "to"),
     ("fine", "now"), ("better", "now"), ("ok", "now"), ("okay", "now"), ("recovered", "now"),
     ("totally", "fine"), ("was", "fine"), ("doing", "well"), ("for", "years"), ("a", "year"),
     ("for", "months"),
     *(("in", m) for m in ("january", "february", "march", "april", "june", "july", "august", "september",
                            "october", "november", "december"))}
)  # fmt: skip
# over and done ("all settled now", "completely gone"): in the urgency net, the danger told is history
_OVER = frozenset({("all", "settled"), ("settled", "now"), ("completely", "gone"), ("cleared", "up")})
_ACUTE = frozenset({"chest_pain", "stroke", "breathing", "allergic_reaction", "bleeding", "seizure"})
_FIRST_PERSON_NOW = frozenset(
    {("i", "have"), ("ive", "got"), ("i", "am"), ("i", "feel"), ("im", "having"), ("my", "chest"), ("my", "face"),
     ("my", "arm"), ("my", "throat"), ("my", "lips"), ("my", "tongue"), ("my", "left"), ("my", "right"),
     ("my", "heart"), ("my", "breathing"), ("my", "leg"), ("my", "speech"), ("my", "vision"), ("my", "mouth")}
)  # fmt: skip


def _first_person_present(sentence: Sequence[str]) -> bool:
    return any(pair in _FIRST_PERSON_NOW for pair in zip(sentence, sentence[1:])) or (
        "im" in sentence and "having" in sentence
    )


# Oneself as the subject ("my daughter's attempt last year" is about someone else, and history)
_SELF = frozenset({"i", "im", "ive", "id", "me", "myself"})
_HELP_TAIL = frozenset({"now", "right", "please", "pls", "plz", "help", "quick", "asap", "someone", "anyone"})
# how long it has lasted: a report when someone has it, not in a question naming no one
_DURATION = frozenset({"minutes", "mins", "min", "hour", "hours", "hr", "hrs"})
_WEAK_NOW = frozenset({"now", "just", "currently", "atm", "happening", "please", "pls", "plz"})
_RECOVERED = frozenset(
    {("good", "place"), ("safe", "now"), ("fine", "now"), ("better", "now"), ("ok", "now"), ("okay", "now"),
     ("doing", "well"), ("well", "now"), ("recovered", "now"), ("much", "better")}
)  # fmt: skip
_RECOVERABLE = frozenset({"violence", "self_harm"})
_NOT_OVER = frozenset({"but", "again", "tonight", "today", "still", "outside", "found"})
# "what to do if someone has a seizure": a hypothetical
_HYPOTHETICAL = frozenset(
    {("if", "someone"), ("if", "somebody"), ("if", "anyone"), ("if", "a"), ("when", "someone"), ("when", "a"),
     ("if", "you"), ("if", "u"), ("if", "people"), ("when", "people")}
)  # fmt: skip
# a supposition that is about someone real: "... asking for me", "i took them", "for my sister"
_FOR_SOMEONE = frozenset(
    {("for", "me"), ("for", "my"), ("for", "myself"), ("its", "me"), ("i", "took"), ("ive", "taken"),
     ("i", "swallowed"), ("ive", "swallowed"), ("i", "ate"), ("i", "have"), ("i", "did"), ("ive", "had"), ("i", "had")}
)  # fmt: skip
_B12_WORDS = frozenset({"b12", "cobalamin", "vitamin", "vitamins", "hydroxocobalamin", "cyanocobalamin"})
_HEARSAY = frozenset({"told", "says", "said", "reckons", "thinks", "claims"})
# a figure of speech ("a friend says i'm basically overdosing on my b12"), not pills taken
_FIGURATIVE = frozenset({"basically", "technically", "practically"})
_CAUSING = frozenset({"cause", "causes", "causing", "link", "linked", "lead", "leads", "trigger", "triggers"})
_HABITUAL = frozenset({("always", "have"), ("always", "has"), ("always", "had"), ("always", "do")})
_EVENT_WORDS = frozenset({"after", "since", "the", "up", "got", "had", "just", "from", "this", "today", "again"})


class PatternError(ValueError):
    """The emergency pattern file is malformed."""


_CONTRACTIONS = {"ll": "will", "d": "would", "re": "are", "ve": "have", "s": "is"}
_CONTRACTION = re.compile(
    "\\b(he|she|they|i|you|we|it|what|that|there|who|where|here)[" + APOSTROPHES + "](ll|d|re|ve|s)\\b"
)
_YEAR = re.compile(r"^(19|20)[0-9][0-9]$")
_POSSESSIVE = re.compile("(?<=[a-z])[" + APOSTROPHES + "]s\\b")


def normalise_text(text: str) -> str:
    """Lower case, contractions spelled out (he'll -> he will, never "hell"), every apostrophe
    variant removed (can't -> cant), "OD'd" spelled out."""
    text = text.lower()
    for variant in APOSTROPHES:
        text = text.replace("od" + variant + "d", " overdosed ").replace("od" + variant + "ed", " overdosed ")
    text = _CONTRACTION.sub(lambda m: f"{m.group(1)} {_CONTRACTIONS[m.group(2)]}", text)
    text = _POSSESSIVE.sub("", text)  # "my littlie's had a go", "she's not breathing": the 's goes
    return text.translate(_APOSTROPHE_TABLE)


def read_numbers(words: Sequence[str]) -> List[str]:
    """Number words become digits: "thirty two" -> "32", "a hundred" -> "100". One pass."""
    out: List[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in _TENS:
            value = _TENS[w]
            if i + 1 < len(words) and words[i + 1] in _UNITS and _UNITS[words[i + 1]] < 10:
                value += _UNITS[words[i + 1]]
                i += 1
            out.append(str(value))
        elif w in _UNITS:
            out.append(str(_UNITS[w]))
        elif w == "hundred":
            if out and out[-1].isdigit() and len(out[-1]) <= 6:
                out[-1] = str(int(out[-1]) * 100)
            else:
                out.append("100")
        else:
            out.append(w)
        i += 1
    return out


_DOSE_UNITS = frozenset({"mcg", "ug", "mg", "micrograms", "microgram", "milligrams", "iu", "ml", "units", "g"})
_GLUED = re.compile(r"(?<=[0-9])(?=[a-z])")  # "3yo" -> "3 yo", "1000mcg" -> "1000 mcg" (never "b12")
_VITAMIN_B = re.compile(r"\bb[ -]12\b")  # "b 12" and "b-12" are b12, not twelve of anything
_CHILD_AGE = frozenset({"year", "years", "yr", "yrs", "month", "months", "week", "weeks"})
_MONTHS_OLD = frozenset({("month", "old"), ("months", "old"), ("mth", "old"), ("mths", "old")})


def _child_ages(words: List[str]) -> List[str]:
    """ "my 2 year old", "3 yo", "18 month old" -> "child" (12 or under); an 80 year old stays one."""
    out: List[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("a", "1") and tuple(words[i + 1 : i + 3]) in (("year", "old"), ("yr", "old"), ("month", "old")):
            out.append("child")  # "my baby is a year old"
            i += 3
            continue
        if w.isdigit() and len(w) <= 2 and int(w) <= 36 and tuple(words[i + 1 : i + 3]) in _MONTHS_OLD:
            out.append("child")  # "my 18 month old"
            i += 3
            continue
        if w.isdigit() and len(w) <= 2 and int(w) <= 12:
            if i + 2 < len(words) and words[i + 1] in _CHILD_AGE and words[i + 2] == "old":
                out.append("child")
                i += 3
                continue
            if i + 1 < len(words) and words[i + 1] == "yo":
                out.append("child")
                i += 2
                continue
        out.append(w)
        i += 1
    return out


def _dose_amounts(words: List[str]) -> List[str]:
    """A number with a dose unit is an amount, not a count of pills: "1000 mcg" -> "dose mcg"."""
    return [
        "dose" if w.isdigit() and i + 1 < len(words) and words[i + 1] in _DOSE_UNITS else w for i, w in enumerate(words)
    ]


# "an hour ago", "20 minutes ago": recent, not the past
_RECENT_UNITS = _DURATION | {"second", "seconds", "secs", "minute"}
# "for 3 years now", "months now": how long it has gone on, not a word of now
_LONG_UNITS = frozenset({"days", "weeks", "months", "years", "decade", "decades", "ages"})
_NEGATIONS = frozenset({"not", "isnt", "no", "nothing", "wasnt", "never"})


def _times(words: List[str]) -> List[str]:
    """Words of time read as what they say: "an hour ago" is recent ("hour recently"); "an hour
    later" is a while later, not a duration now; "3 years now" is so far, not now; "this isnt
    urgent" is no word of urgency. One pass."""
    out = []
    for i, w in enumerate(words):
        before = words[i - 1] if i else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        if w == "ago" and before in _RECENT_UNITS:
            w = "recently"
        elif w in _RECENT_UNITS and after == "later":
            w = "while"
        elif w == "now" and before in _LONG_UNITS:
            w = "sofar"
        elif w == "urgent" and before in _NEGATIONS:
            w = "noturgent"
        out.append(w)
    return out


RUN_KEPT = 3  # no pattern names one word more than three times in a row: "i i i i ..." is three


def _runs_cut(words: List[str]) -> List[str]:
    """A run of one word repeated is cut to RUN_KEPT (a hostile "i " * 5000 is matched as 3 words)."""
    return [w for i, w in enumerate(words) if i < RUN_KEPT or any(words[i - k] != w for k in range(1, RUN_KEPT + 1))]


RUN_ON_WORDS = 25  # a "sentence" this long with no punctuation is several, run together
_OPENERS = frozenset(
    {"what", "whats", "why", "how", "can", "could", "does", "do", "is", "are", "will", "would", "should"}
)
_WH = frozenset({"what", "whats", "why", "how", "when", "where", "which"})
_WONDERING = frozenset({"wondering", "wondered", "curious"})
_SUBJECTS = SUBJECTS | {"low"}  # b12/focus.py's subjects of a question, and "is low b12 ..."


def _run_on_split(words: List[str]) -> List[List[str]]:
    """A long run with no punctuation ("...she was fine after is b12 dangerous for kids"), cut
    where a question starts (an opener and its subject), so the story and the question are each
    a sentence again. Short sentences are left whole. One pass."""
    if len(words) < RUN_ON_WORDS:
        return [words]
    out: List[List[str]] = [[]]
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        before = words[i - 1] if i else ""
        starts = (
            (w in _WH and nxt in _OPENERS)  # "what do i do", "how long does it"
            or (before not in _OPENERS and (w in _OPENERS and nxt in _SUBJECTS or (w, nxt) in ASKING_PAIRS))
            or (w == "just" and nxt in _WONDERING)
            or (w in _WONDERING and before != "just")
        )
        if starts and len(out[-1]) >= 4:
            out.append([])
        out[-1].append(w)
    return out


def sentences_of(text: str) -> List[List[str]]:
    """The message's sentences, each as normalised words (number words read as digits)."""
    out = []
    for part in _SENTENCE_END.split(normalise_text(text)):
        words = _runs_cut(
            _times(
                _child_ages(_dose_amounts(read_numbers(_WORD.findall(_GLUED.sub(" ", _VITAMIN_B.sub("b12", part))))))
            )
        )
        if words:
            out += _run_on_split(words)
    return out


def words_of(text: str) -> List[str]:
    """Lower-case words with apostrophes dropped (can't -> cant) and punctuation as spaces."""
    return _WORD.findall(normalise_text(text))


def is_question(text: str) -> bool:
    return "?" in text


def token_pattern(line: str) -> List[Dict[str, Any]]:
    """Turn one side of a pattern line into a spaCy token pattern."""
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
            # the message's number words are read as digits, so the pattern's are too ("one side")
            alternatives.append(alt[:-1] + "[a-z0-9]*" if alt.endswith("*") else read_numbers([alt])[0])
        pattern.append({"ORTH": {"REGEX": "^(" + "|".join(alternatives) + ")$"}})
    if not pattern or "OP" in pattern[0] or "OP" in pattern[-1]:
        raise PatternError(f"pattern {line!r} must start and end with a word")
    return pattern


def line_patterns(line: str) -> List[List[Dict[str, Any]]]:
    """One pattern line -> its spaCy patterns. "a <> b": a and b in either order, with up to
    three words between (a body part and its symptom: "chest feels tight", "tight chest")."""
    if "<>" in line:
        left, _, right = (s.strip() for s in line.partition("<>"))
        if not left or not right or "<>" in right:
            raise PatternError(f"pattern {line!r}: '<>' needs one side each")
        return [token_pattern(f"{left} ~ {right}"), token_pattern(f"{right} ~ {left}")]
    return [token_pattern(line)]


@dataclass(frozen=True)
class EmergencySignal:
    """An emergency the message is about. `reported`: happening now (emergency care first and
    nothing else); otherwise asked about (the answer, with one line on what to do if it is)."""

    category: str
    reported: bool


_NO_SIGN = frozenset({"no", "without"})  # "no breathing trouble or rash": signs said to be absent


@dataclass(frozen=True)
class UrgencyGroup:
    name: str
    weight: int
    category: str | None
    words: FrozenSet[str]
    phrases: Tuple[Tuple[str, ...], ...]
    not_after: FrozenSet[str] = frozenset()  # a word of the group does not count after one of these


@dataclass(frozen=True)
class Urgency:
    """Words of now, danger and means, weighted (knowledge/emergency_patterns.yml: urgency)."""

    threshold: int
    groups: Tuple[UrgencyGroup, ...]  # in priority order, `now` first
    by_first: Dict[str, Tuple[Tuple[str, Tuple[str, ...]], ...]]  # first word -> (group, phrase)

    def signs(self, words: Sequence[str]) -> bool:
        """Whether the words name a sign of harm or a child (the `danger` or `child` group, counted
        as the score counts them): pills taken twice by a child, or with a sign, are no question."""
        hits, _ = self._hits(words)
        return bool(hits.get("danger") or hits.get("child"))

    def _hits(self, words: Sequence[str]) -> Tuple[Dict[str, set], Dict[str, int]]:
        """Each group's distinct words and phrases in the message, and where each group first
        appears. One pass."""
        hits: Dict[str, set] = {g.name: set() for g in self.groups}
        first: Dict[str, int] = {}
        covered_until = -1  # a word of now inside another group's phrase ("tonight is the night") is not now
        for i, w in enumerate(words):
            for name, phrase in self.by_first.get(w, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    hits[name].add(phrase)
                    first.setdefault(name, i)
                    if name != "now":
                        covered_until = max(covered_until, i + len(phrase) - 1)
            negated = i > 0 and words[i - 1] in _NO_SIGN
            for g in self.groups:
                if (
                    w in g.words
                    and not (g.name == "now" and i <= covered_until)
                    and not (negated and g.name != "now")
                    and not (i and words[i - 1] in g.not_after)
                ):
                    hits[g.name].add(w)
                    first.setdefault(g.name, i)
        return hits, first

    def score(self, words: Sequence[str]) -> Tuple[int, str | None, int, bool, int]:
        """(score, category, index of its first word, whether a word of now is there, the score
        without the words of now). One pass."""
        hits, first = self._hits(words)
        total, best, best_score = 0, None, 0
        for g in self.groups:
            part = g.weight * min(2, len(hits[g.name]))
            total += part
            if g.category and part > best_score:
                best, best_score = g, part
        danger = total - self.groups[0].weight * min(2, len(hits["now"]))  # `now` is first
        if best is None:
            return total, None, 0, bool(hits["now"]), danger
        return total, best.category, first[best.name], bool(hits["now"]), danger


def _load_urgency(data: Any, categories: Sequence[str], path: Path) -> Urgency | None:
    if data is None:
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("threshold"), int)
        or not isinstance(data.get("groups"), dict)
    ):
        raise PatternError(f"{path}: 'urgency' needs an integer 'threshold' and 'groups'")
    if "now" not in data["groups"]:
        raise PatternError(f"{path}: 'urgency.groups.now' is missing")
    order = ["now", *[g for g in data.get("priority", []) if g != "now"]]
    order += [g for g in data["groups"] if g not in order]
    groups = []
    for name in order:
        raw = data["groups"].get(name)
        where = f"urgency.groups.{name}"
        if not isinstance(raw, dict) or not isinstance(raw.get("weight"), int):
            raise PatternError(f"{path}: '{where}' needs an integer 'weight'")
        category = raw.get("category")
        if category is not None and category not in categories:
            raise PatternError(f"{path}: '{where}.category' names an unknown category {category!r}")
        words = [str(w) for w in raw.get("words", [])]
        not_after = [str(w) for w in raw.get("not_after", [])]
        phrases = [tuple(read_numbers(words_of(str(p)))) for p in raw.get("phrases", [])]
        if not all(_WORD.fullmatch(w) for w in [*words, *not_after]) or not all(phrases):
            raise PatternError(f"{path}: '{where}' words must be lower-case words")
        groups.append(
            UrgencyGroup(name, raw["weight"], category, frozenset(words), tuple(phrases), frozenset(not_after))
        )
    by_first: Dict[str, List[Tuple[str, Tuple[str, ...]]]] = {}
    for g in groups:
        for phrase in g.phrases:
            by_first.setdefault(phrase[0], []).append((g.name, phrase))
    return Urgency(data["threshold"], tuple(groups), {k: tuple(v) for k, v in by_first.items()})


@dataclass(frozen=True)
class EmergencyMatcher:
    matcher: Any
    vocab: Any
    terms: Tuple[str, ...]
    typos: Dict[str, str]
    buckets: Dict[str, Tuple[str, ...]]
    known_words: FrozenSet[str] | Any
    always_reported: FrozenSet[str]
    urgency: Urgency | None
    immediacy: FrozenSet[str]
    asking: FrozenSet[str]
    topical: FrozenSet[str]
    past: FrozenSet[str]
    help_now: Tuple[str, ...] = ()  # "what do i do", "should i ring": asking for help now is a report
    this_now: Tuple[str, ...] = ()  # "could this be the jab", "do i wait it out": asking what is happening

    def asks_for_help(self, sentences: Sequence[Sequence[str]]) -> bool:
        """A sentence that ends asking for help ('... what do i do', 'what should i do now'),
        not 'what should i do if it does' or 'what do i do about my levels'; or one that asks
        what this is, happening ('could this be the jab', 'is this my b12', 'do i wait it out').
        Linear: one substring scan per phrase."""
        for sentence in sentences:
            if set(sentence) & self.past or set(zip(sentence, sentence[1:])) & _PAST_PAIRS:
                continue  # "could this be why my dad had one last year": history
            words = [w for w in sentence if w not in _HELP_TAIL]
            end = f" {' '.join(words[-6:])} "
            if any(end.endswith(phrase) for phrase in self.help_now):
                return True
            joined = f" {' '.join(sentence)} "
            if any(phrase in joined for phrase in self.this_now):
                return True
        return False

    def fold_typos(self, words: Iterable[str]) -> List[str]:
        folded: List[str] = []
        attempts = 0
        for w in words:
            if w in self.typos:
                folded += self.typos[w].split()  # may be several words: wanna -> want to
                continue
            if attempts < MAX_FOLDS and _foldable(w, self.known_words):
                attempts += 1  # bounded per message: a 10,000-character message of nonsense stays fast
                w = _fold_cached(w, self.buckets.get(w[0], ()))
            folded.append(w)
        return folded

    def _asked_about(
        self,
        category: str,
        words: Sequence[str],
        sentence: Tuple[FrozenSet[str], bool, bool, bool, bool],
        start: int,
        end: int,
        message: Dict[str, Any],
    ) -> bool:
        """Whether the match at words[start] is asked about rather than reported. `sentence`: the
        words of its sentence, whether it opens by asking, whether it tells the past, a time gone
        by, and whether it opens supposing ("if someone ...")."""
        s, asking, past, long_ago, supposing = sentence
        lo = max(0, start - 8)
        pairs = set(zip(words[lo:end], words[lo + 1 : end + 1]))
        if (
            asking
            and (supposing or pairs & _HYPOTHETICAL)
            and not s & (RELATIVE | _SELF | {"my"})
            and not message["now"]
            and (
                category not in self.always_reported
                or (s & _B12_WORDS and not message["pairs"] & _FOR_SOMEONE)  # about B12 itself, no one real
            )
        ):
            # "what to do if someone has a seizure", "what happens if you overdose on b12": a
            # hypothetical asked about ("if u took 30 paracetamol would u be ok" is no hypothetical:
            # of pills, only B12 itself is supposed, with no one real in the message)
            return True
        if (
            category == "overdose"
            and end - start == 1  # the word "overdosing" alone, no pills counted or named
            and (
                set(words[max(0, start - 3) : start]) & _FIGURATIVE
                or (
                    set(words[max(0, start - 5) : start]) & _HEARSAY
                    and set(words[end : end + 4]) & _B12_WORDS
                    and not any(w.isdigit() for w in s)
                )
            )
            and message["question"]
            and not message["now"]
        ):
            # "a friend says i'm basically overdosing", "my gp says i'm overdosing on b12, is it
            # risky?": a figure of speech, or someone's word about B12 itself (never "he told me
            # he took 30 of his sertraline")
            return True
        if category in _RECOVERABLE and long_ago and self._recovered_after(words, end, message) and not message["now"]:
            # "my ex used to hit me years ago, i'm safe now": history, asked about with its line
            # (never a poisoning: iron and paracetamol look fine at first)
            return True
        if category in self.always_reported:
            # a swallowed bottle last week: history, but not "she seems fine now" alone (a
            # poisoning can look fine at first); abuse is history only told with recovery (above)
            if not (category in _HISTORY_ALLOWED and long_ago and not s & self.immediacy):
                return False
        if asking and self._caused_by_b12(words, start) and not message["now"] and not message["first_person_now"]:
            return True  # "is b12 deficiency known to cause seizures?": a cause asked about
        # "i have chest pain after my shot, is that a side effect?": oneself, now, near the match
        first_person_now = _first_person_present(words[max(0, start - 4) : end + 4])
        # "i cant breathe", "she isnt breathing", "he is having a fit": a state now, unless asked
        before = set(words[max(0, start - 1) : end])
        if not asking and (before & _STATE_NOW) and not (past and message["question"]):
            return False
        # how long it has lasted is a word of now when someone has it, not in a question naming
        # no one ("can b12 cause chest pain for hours?")
        now_words = s & self.immediacy
        if asking and not s & (PERSON | RELATIVE | _SELF):
            now_words = now_words - _DURATION
        if now_words - _WEAK_NOW:
            return False
        if (
            category == "self_harm"
            and self._caused_by_b12(words, start)
            and not message["first_person_now"]
            and not message["now"]
        ):
            return True  # "someone claimed b12 deficiency is a hidden cause of suicidal depression"
        if category == "self_harm" and s & _SELF:
            return False  # "i want to die?", "i have wanted to kill myself for months": a report
        habit = set(zip(words[lo : end + 12], words[lo + 1 : end + 13])) & _HABITUAL
        if category in _ACUTE and habit and not now_words and not before & _STATE_NOW:
            return True  # "i bleed a lot when i have blood taken, always have": how it always is
        if category in _ACUTE and not asking and first_person_now:
            return False  # "i have chest pain after my shot, is that a side effect?"
        if past or message["year"]:
            return True  # "years ago my dad had a fit", "her stroke in 2019", "nearly passed out"
        if now_words or message["now"] or not message["topical"]:
            return False
        # a search-box query ("b12 deficiency chest pain") names no one and no event; "from" is
        # no event in "seizure damage from b12 deficiency"
        events = s & (PERSON | RELATIVE | _EVENT_WORDS)
        if events == {"from"} and self._caused_by_b12(words, end + 5):
            events = frozenset()
        return asking or message["question"] or not events

    def _caused_by_b12(self, words: Sequence[str], before: int) -> bool:
        """A cause named in the words before `before`: a word of the subject, then a word of
        causing or "from" ("b12 deficiency is a hidden cause of ...", "... from low b12"), with
        no one of oneself after it. Bounded: the eight words before."""
        window = words[max(0, before - 8) : before]
        for i, w in enumerate(window):
            if w in _CAUSING and (set(window[max(0, i - 4) : i]) & self.topical):
                return not set(window[i:]) & (_SELF | {"my"})
            if w == "from" and i + 1 < len(window) and (window[i + 1] in self.topical or window[i + 1] == "low"):
                return True
        return False

    @staticmethod
    def _recovered_after(words: Sequence[str], end: int, message: Dict[str, Any]) -> bool:
        """Recovery words after the harm ("... i'm safe now"), in the harm's sentence, with no
        "but", "again" or later harm after them."""
        sentence_end = message["sentence_end"](end)
        for i in range(end, min(sentence_end, len(words) - 1)):
            if (words[i], words[i + 1]) in _RECOVERED:
                return not set(words[i + 2 : sentence_end]) & _NOT_OVER
        return False

    def assess(self, text: str) -> EmergencySignal | None:
        from spacy.tokens import Doc

        sentences = [self.fold_typos(s) for s in sentences_of(text)]
        words = [w for s in sentences for w in s]
        if not words:
            return None
        sentence_of: List[int] = []
        ends: List[int] = []
        for i, s in enumerate(sentences):
            sentence_of += [i] * len(s)
            ends.append(len(sentence_of))
        matches = list(self.matcher(Doc(self.vocab, words=words)))
        every = set(words)
        message_asks = (
            is_question(text)
            or any(s[0] in self.asking for s in sentences)
            or any(pair in ASKING_PAIRS for pair in zip(words, words[1:]))
        )
        if self.urgency is not None:
            score, category, at, now, danger = self.urgency.score(words)
            urgent = now or category in ("violence", "self_harm")
            if category and (score >= self.urgency.threshold + (0 if urgent else 2)):
                # a question about B12 with no strong word of now, or a story of the past, is asked
                strong_now = every & (self.immediacy - _WEAK_NOW) or self.asks_for_help(sentences)
                # the past where the danger is told, not "diagnosed in 2018" in the story before it
                told = sentences[sentence_of[at]]
                told_pairs = set(zip(told, told[1:]))
                past_there = bool(set(told) & self.past) or bool(
                    (told_pairs & _OVER or any(_YEAR.match(w) for w in told))
                    and category not in _HISTORY_ALLOWED  # never a poisoning: it can look fine at first
                    and not set(told) & self.immediacy
                    and not self.asks_for_help(sentences)
                )  # "in 2021 i had a flare with a lot of bleeding", "the swelling is completely gone": history
                asked = (
                    past_there
                    or (
                        not strong_now
                        # pills taken again and again, and dizzy now (a sign of harm or a child, not
                        # "took it twice, is that bad?"): a poisoning is not asked about
                        and not (
                            category in _HISTORY_ALLOWED
                            and now
                            and danger >= self.urgency.threshold - 1
                            and not set(zip(words, words[1:])) & _RECOVERED
                            and self.urgency.signs(words)
                        )
                        and (bool(every & self.past) or (bool(every & self.topical) and message_asks))
                    )
                )
                if (category == "violence" and (strong_now or score >= self.urgency.threshold + 2)) or (
                    category == "self_harm" and every & _SELF and (strong_now or score >= self.urgency.threshold + 3)
                ):
                    asked = False  # as with the patterns: abuse happening is told; so is a plan of one's own
                if not matches:
                    return EmergencySignal(category, reported=not asked)
        if not matches:
            return None
        named_no_one = message_asks and not every & (PERSON | RELATIVE | _SELF)
        message = {
            # "can b12 cause chest pain? mine started an hour ago" (not "my levels are fine now")
            "now": bool(every & self.immediacy - _WEAK_NOW - (_DURATION if named_no_one else frozenset()))
            or self.asks_for_help(sentences),
            "topical": bool(every & self.topical),
            "first_person_now": _first_person_present(words),
            "pairs": set(zip(words, words[1:])),
            "question": message_asks,
            "year": any(_YEAR.match(w) for w in every),
            "sentence_end": lambda at: ends[sentence_of[at]] if at < len(sentence_of) else len(words),
        }
        asked: str | None = None
        about: Dict[int, Tuple[FrozenSet[str], bool, bool, bool, bool]] = {}
        for match_id, start, end in sorted(matches, key=lambda m: m[1]):
            category = self.vocab.strings[match_id]
            i = sentence_of[start]
            if i not in about:  # once per sentence, however many matches it holds
                words_i = frozenset(sentences[i])
                # "if someone with pa stopped their jabs, would they collapse": asks, supposing
                supposing = tuple(sentences[i][:2]) in _HYPOTHETICAL
                asks_i = (
                    sentences[i][0] in self.asking or bool(words_i & {"wonder", "wondering", "whether"}) or supposing
                )
                pairs = set(zip(sentences[i], sentences[i][1:]))
                about[i] = (
                    words_i,
                    asks_i,
                    bool(words_i & self.past or pairs & _PAST_PAIRS),
                    bool(words_i & self.past or pairs & (_PAST_PAIRS - _RECOVERED)),  # a time gone by
                    supposing,
                )
            if not self._asked_about(category, words, about[i], start, end, message):
                return EmergencySignal(category, reported=True)
            asked = asked or category
        return EmergencySignal(asked, reported=False) if asked else None

    def category(self, text: str) -> str | None:
        signal = self.assess(text)
        return signal.category if signal and signal.reported else None


def nearest_term(word: str, terms: Tuple[str, ...]) -> str:
    """The one of `terms` that `word` is a slip of (two letters swapped, or near-equal spelling),
    else `word` itself. Cached per word."""
    return _fold_cached(word, terms)


@lru_cache(maxsize=8192)
def _fold_cached(word: str, terms: Tuple[str, ...]) -> str:
    # `terms` share the word's first letter; near-equal spelling, so "checking" never becomes "choking".
    near = [t for t in terms if abs(len(t) - len(word)) <= 2]
    for t in near:  # two neighbouring letters swapped: "haivng" -> "having"
        if len(t) == len(word):
            diff = [i for i in range(len(t)) if t[i] != word[i]]
            if (
                len(diff) == 2
                and diff[1] == diff[0] + 1
                and t[diff[0]] == word[diff[1]]
                and t[diff[1]] == word[diff[0]]
            ):
                return t
    close = difflib.get_close_matches(word, near, n=1, cutoff=TYPO_CUTOFF)
    return close[0] if close else word


def _foldable(word: str, known_words: Any) -> bool:
    """A misspelt word may fold onto an alarm word; a real English word never does."""
    return MIN_TYPO_LENGTH <= len(word) <= MAX_WORD_LENGTH and word.isalpha() and word not in known_words


def pattern_words(lines: Iterable[str]) -> List[str]:
    """Every literal word the pattern lines name (not prefixes, gaps or numbers)."""
    out = []
    for line in lines:
        for slot in line.replace("<>", " ").split():
            out += [a for a in slot.split("|") if a.isalpha()]
    return out


def english_words() -> Any:
    """The real-word list (pyspellchecker's English dictionary, from the package index)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1).word_frequency.dictionary


def _word_set(data: Dict[str, Any], key: str, path: Path) -> FrozenSet[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(w, str) and _WORD.fullmatch(w) for w in value):
        raise PatternError(f"{path}: '{key}' must be a list of lower-case words")
    return frozenset(value)


def load_matcher(path: Path = PATTERNS_FILE, known_words: Any = None) -> EmergencyMatcher:
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
    context = data.get("context", {k: [] for k in ("immediacy", "asking", "topical", "past")})
    if not isinstance(context, dict):
        raise PatternError(f"{path}: 'context' must map immediacy, asking, topical and past to words")
    sets = {k: _word_set(context, k, path) for k in ("immediacy", "asking", "topical", "past")}
    help_now = context.get("help_now", [])
    if not isinstance(help_now, list) or not all(isinstance(p, str) and words_of(p) for p in help_now):
        raise PatternError(f"{path}: 'context.help_now' must be a list of phrases")
    sets["help_now"] = tuple(f" {' '.join(words_of(p))} " for p in help_now)
    this_now = context.get("this_now", [])
    if not isinstance(this_now, list) or not all(isinstance(p, str) and words_of(p) for p in this_now):
        raise PatternError(f"{path}: 'context.this_now' must be a list of phrases")
    sets["this_now"] = tuple(f" {' '.join(words_of(p))} " for p in this_now)
    vocab = Vocab()
    matcher = Matcher(vocab)
    for name, lines in data["categories"].items():
        if not isinstance(lines, list) or not lines:
            raise PatternError(f"{path}: 'categories.{name}' must be a non-empty list")
        try:
            matcher.add(str(name), [p for line in lines for p in line_patterns(str(line))])
        except PatternError as e:
            raise PatternError(f"{path}: 'categories.{name}': {e}") from e
    always = data.get("always_reported", [])
    unknown = [c for c in always if c not in data["categories"]]
    if not isinstance(always, list) or unknown:
        raise PatternError(f"{path}: 'always_reported' names unknown categories {unknown}")
    # Typos fold onto the listed terms and onto every word a pattern names ("answeirng").
    vocabulary = sorted(
        {
            *terms,
            *(
                w
                for w in pattern_words(str(x) for v in data["categories"].values() for x in v)
                if len(w) >= MIN_TYPO_LENGTH
            ),
        }
    )
    buckets: Dict[str, List[str]] = {}
    for w in vocabulary:
        buckets.setdefault(w[0], []).append(w)
    return EmergencyMatcher(
        matcher=matcher,
        vocab=vocab,
        terms=tuple(vocabulary),
        buckets={k: tuple(v) for k, v in buckets.items()},
        typos={str(k): v for k, v in typos.items()},
        known_words=english_words() if known_words is None else known_words,
        always_reported=frozenset(always),
        urgency=_load_urgency(data.get("urgency"), list(data["categories"]), path),
        **sets,
    )


@lru_cache(maxsize=1)
def get_matcher() -> EmergencyMatcher:
    return load_matcher(PATTERNS_FILE)


def assess_emergency(text: str | None) -> EmergencySignal | None:
    """The emergency a message is about, and whether it is reported (now) or asked about."""
    if not text or not text.strip():
        return None
    return get_matcher().assess(text)


def danger_score(text: str | None) -> int:
    """How much of the urgency net's danger a message holds (its groups but `now`, each word
    weighted as there): 0 for "weather tomorrow manchester". One pass over the words."""
    matcher = get_matcher()
    if not text or matcher.urgency is None:
        return 0
    return matcher.urgency.score([w for s in sentences_of(text) for w in matcher.fold_typos(s)])[4]


def emergency_category(text: str | None) -> str | None:
    """The category of an emergency the message reports (e.g. 'self_harm'), or None."""
    signal = assess_emergency(text)
    return signal.category if signal and signal.reported else None


def is_emergency(text: str | None) -> bool:
    return emergency_category(text) is not None


# ----------------------------------------------------------------------------------------------
# Personal advice: requests for a personal dose, a diagnosis or reading of one's own results, or
# a change of one's own treatment. Token scans, each one pass over the words (no backtracking).
PERSON = frozenset({"i", "we", "me", "my", "mine", "im", "ive", "id", "myself"})
RELATIVE = frozenset(
    {"mum", "mom", "mother", "dad", "father", "son", "daughter", "wife", "husband", "partner", "child",
     "kid", "baby", "nan", "gran", "grandma", "grandad", "grandpa", "sister", "brother", "friend", "she", "he"}
)  # fmt: skip
DOSE_WORDS = frozenset({"dose", "dosage", "doses", "dosing", "amount", "strength", "mcg", "micrograms", "mg"})
_CONDITION_WORDS = frozenset(
    {"pa", "pernicious", "deficiency", "deficient", "celiac", "coeliac", "crohns", "crohn", "hashimotos",
     "hashimoto", "anemia", "anaemia", "gastritis", "neuropathy"}
)  # fmt: skip
_LAB_WORDS = frozenset(
    {"b12", "level", "levels", "result", "results", "bloods", "blood", "test", "tests", "homocysteine", "mma",
     "folate", "ferritin", "mcv", "serum", "reading", "count", "tsh", "iron", "haemoglobin", "hemoglobin", "hb"}
)  # fmt: skip
_UNITS_OF_LAB = frozenset({"ng", "pg", "pmol", "nmol", "umol", "ngl", "pgml", "pmoll", "fl", "gl", "iu"})
_NOT_LAB_UNITS = frozenset(
    {"day", "days", "week", "weeks", "month", "months", "year", "years", "yr", "yrs", "hour", "hours", "hrs", "min",
     "mins", "minutes", "times", "x", "yo", "old", "am", "pm", "weekly", "tablets", "pills", "jabs", "injections"}
)  # fmt: skip
_JUDGEMENT = frozenset(
    {"low", "high", "normal", "bad", "ok", "okay", "fine", "good", "worrying", "concerning", "dangerous",
     "serious", "borderline", "enough", "deficient", "wrong", "worried", "worry", "mean", "means"}
)  # fmt: skip
_CHANGE = frozenset({"stop", "quit", "skip", "switch", "change", "drop", "swap", "replace", "reduce", "ditch"})
_MODALS = frozenset({"can", "should", "could", "shall", "may", "do", "is", "would"})


def _find(words: Sequence[str], targets: FrozenSet[str] | set, start: int = 0, end: int | None = None) -> int:
    end = len(words) if end is None else min(end, len(words))
    for i in range(start, end):
        if words[i] in targets:
            return i
    return -1


def _has_phrase(words: Sequence[str], phrases: Sequence[Tuple[str, ...]]) -> bool:
    for i in range(len(words)):
        for p in phrases:
            if words[i] == p[0] and tuple(words[i : i + len(p)]) == p:
                return True
    return False


def has_lab_value(words: Sequence[str]) -> bool:
    """A number next to a lab word or unit: "b12 was 160", "148 ng/l", "folate 3.1"."""
    for i, w in enumerate(words):
        after = (
            words[i + 1 : i + 3] if i + 1 < len(words) and words[i + 1] in ("b12", "vitamin") else words[i + 1 : i + 2]
        )
        if not w[0].isdigit() or set(after) & _NOT_LAB_UNITS:  # "2 b12 injections"
            continue
        near = set(words[max(0, i - 4) : i + 3])
        if near & _LAB_WORDS or near & _UNITS_OF_LAB:
            return True
    return False


_DIAGNOSIS_PHRASES = (
    ("whats", "wrong", "with", "me"), ("what", "is", "wrong", "with", "me"), ("something", "wrong", "with", "me"),
    ("should", "i", "be", "worried"), ("should", "i", "be", "concerned"), ("do", "i", "need", "to", "worry"),
    ("am", "i", "deficient"), ("are", "my", "symptoms"), ("is", "my", "b12"), ("is", "my", "level"),
    ("is", "my", "result"), ("are", "my", "levels"), ("are", "my", "results"), ("does", "this", "sound", "like"),
    ("does", "that", "sound", "like"), ("do", "you", "think", "i", "have"), ("do", "you", "think", "it", "is"),
    ("is", "that", "low"), ("is", "this", "low"), ("is", "that", "bad"), ("is", "this", "bad"),
    ("is", "that", "high"), ("is", "it", "low"),
    ("read", "my"), ("interpret", "my"), ("explain", "my", "results"), ("is", "her", "level"),
    ("is", "his", "level"), ("is", "his", "b12"), ("is", "her", "b12"), ("is", "mine"),
)  # fmt: skip
_COMPARING = frozenset(
    {
        "diff",
        "different",
        "difference",
        "differ",
        "same",
        "vs",
        "versus",
        "like",
        "compare",
        "compared",
        "linked",
        "related",
        "connected",
    }
)
_HAVE_CONDITION = (("do", "i", "have"), ("could", "i", "have"), ("might", "i", "have"), ("can", "i", "have"),
                   ("have", "i", "got"), ("do", "i", "have", "a"), ("am", "i"), ("could", "this", "be"),
                   ("could", "it", "be"), ("is", "it"), ("sounds", "like"))  # fmt: skip


# "is it my b12?", "is that her thyroid?": a judgement on someone's own body
_WHOSE = (("is", "it", "my"), ("is", "that", "my"), ("is", "that", "her"), ("is", "that", "his"), ("is", "this", "my"),
          ("is", "it", "her"), ("is", "it", "his"))  # fmt: skip


def _dosing(words: Sequence[str]) -> bool:
    for i, w in enumerate(words):
        if w in ("double", "increase", "decrease", "lower", "raise", "up", "halve", "reduce") and i + 2 < len(words):
            # "should i double my dose?", "can i up my jabs to weekly?"
            if words[i + 1] in ("my", "the", "her", "his") and words[i + 2] in DOSE_WORDS | {"injections", "jabs"}:
                if _find(words, PERSON | RELATIVE, max(0, i - 4), i) >= 0:
                    return True
        if (
            w == "enough"
            and _find(words, {"dose"}, max(0, i - 8), i) >= 0
            and _find(words, {"me", "her", "him"}, i, i + 4) >= 0
        ):
            return True  # "is 1000 mcg a day enough for me?"
        if w == "how" and i + 1 < len(words) and words[i + 1] in ("much", "many", "often"):
            # "how much should i take", "how many mcg should my mum have"
            j = _find(words, _MODALS, i + 2, i + 7)
            if (
                j >= 0
                and j + 1 < len(words)
                and (words[j + 1] in PERSON or words[j + 1] in RELATIVE or words[j + 1] == "my")
            ):
                if (
                    _find(
                        words, {"take", "need", "have", "get", "give", "use", "inject", "be", "on", "ask"}, j + 2, j + 6
                    )
                    >= 0
                ):
                    return True
            if i + 2 < len(words) and words[i + 2] in ("mcg", "micrograms", "mg", "milligrams", "iu", "units"):
                return True
        if w in ("what", "which") and _find(words, DOSE_WORDS, i + 1, i + 4) >= 0:
            k = _find(words, DOSE_WORDS, i + 1, i + 4)
            if _find(words, PERSON | {"her", "him", "his", "she", "he"}, k + 1, k + 10) >= 0:
                return True
    return False


_MEANING = (("what", "does", "this", "mean"), ("what", "does", "that", "mean"), ("what", "do", "these", "mean"),
            ("what", "does", "it", "mean"), ("what", "do", "they", "mean"),
            # "is that normal?" of a result; of a side effect it asks what is usual (education)
            ("is", "that", "normal"), ("is", "this", "normal"))  # fmt: skip


def _diagnosis(words: Sequence[str], question: Sequence[str]) -> bool:
    """`words`: the whole message; `question`: the sentences that ask (b12/focus.py)."""
    if _has_phrase(words, _DIAGNOSIS_PHRASES):
        return True
    lab = has_lab_value(words)
    if lab and _has_phrase(question, _MEANING):
        return True  # "my b12 came back at 160 and my folate at 3. what does this mean?"
    for i in range(len(words)):
        for p in _WHOSE:
            if words[i] == p[0] and tuple(words[i : i + 3]) == p:
                if _find(words, _LAB_WORDS | _CONDITION_WORDS | {"thyroid"}, i + 3, i + 6) >= 0:
                    return True
        for p in _HAVE_CONDITION:
            if words[i] == p[0] and tuple(words[i : i + len(p)]) == p:
                end = i + len(p) + 4
                # "is it pernicious anaemia?", not "how is it different from b12 deficiency?"
                if (
                    _find(words, _CONDITION_WORDS, i + len(p), end) >= 0
                    and _find(words, _COMPARING, i + len(p), end) < 0
                ):
                    return True
    # A story with one's own lab value and a judgement asked for: "my b12 came back 160, is that low?"
    # (the judgement in the question itself, not anywhere in the story, and about that result:
    # "...it was 150. can low b12 cause low mood?" asks about B12 in general)
    if lab and _find(question, _JUDGEMENT) >= 0 and _find(words, PERSON | RELATIVE) >= 0:
        return _about_a_result(question)
    return False


_THAT_RESULT = frozenset({"this", "that", "it", "these", "those", "they", "mine", "hers", "his"})
_WHOSE_WORDS = PERSON | {"her", "his", "him", "she", "he", "hers"}
SHORT_QUESTION = 4  # "low?", "is that bad?": a bare judgement is about the result just given


def _about_a_result(question: Sequence[str]) -> bool:
    """Whether the question judges a particular result: its number, whose it is, or "is that ..."."""
    if len(question) <= SHORT_QUESTION or any(w[0].isdigit() for w in question) or set(question) & _WHOSE_WORDS:
        return True
    return any(w in ("is", "are", "was", "were") and nxt in _THAT_RESULT for w, nxt in zip(question, question[1:]))


def _change_treatment(words: Sequence[str]) -> bool:
    for i, w in enumerate(words):
        if w in ("can", "should", "could", "shall", "may") and i + 2 < len(words):
            who = words[i + 1]
            rest = words[i + 2 : i + 5]
            personal = who in ("i", "we") or (who in ("my", "she", "he") or who in RELATIVE)
            if personal and (
                set(rest) & _CHANGE or tuple(rest[:2]) in (("come", "off"), ("go", "off"), ("cut", "down"))
            ):
                return True
        be = 1 if i + 2 < len(words) and words[i + 2] == "be" else 0  # "would it be okay to skip"
        if (
            w in ("is", "would")
            and i + 3 + be < len(words)
            and words[i + 1] == "it"
            and words[i + 2 + be] in ("ok", "okay", "safe", "fine")
        ):
            if (
                _find(words, {"stop", "skip", "quit", "miss", "drop", "switch"}, i + 3 + be, i + 7 + be) >= 0
                and _find(words, PERSON) >= 0
            ):
                return True
        if (
            w in ("going", "gonna", "decided", "about")
            and i + 2 < len(words)
            and words[i + 1] in ("to", "stop", "quit")
        ):
            # "i'm going to stop my injections", "i've decided to come off the jabs"
            rest = words[i + 1 : i + 4]
            if (set(rest) & _CHANGE or ("come" in rest and "off" in words[i + 2 : i + 5])) and _find(
                words, PERSON, max(0, i - 3), i
            ) >= 0:
                return True
        if w in ("tempted", "thinking", "planning", "considering", "want", "wanting", "ditching", "ditch"):
            # "i'm tempted to stop my injections", "thinking of ditching my levothyroxine"
            changing = _CHANGE | {"stopping", "quitting", "coming", "skipping", "switching", "ditching", "dropping"}
            if w.startswith("ditch") or _find(words, changing, i + 1, i + 4) >= 0:
                if _find(words, PERSON, max(0, i - 3), i) >= 0 or _find(words, {"my"}, i + 1, i + 6) >= 0:
                    return True
    return False


def personal_advice_kind(text: str | None) -> str | None:
    """'dosing', 'diagnosis' or 'change_treatment' when a message asks for personal advice."""
    if not text:
        return None
    words = _dose_amounts(read_numbers(_WORD.findall(normalise_text(_DECIMAL.sub(r"\1\2", text)))))
    if _change_treatment(words):
        return "change_treatment"
    if _dosing(words):
        return "dosing"
    question = _dose_amounts(
        read_numbers(_WORD.findall(normalise_text(_DECIMAL.sub(r"\1\2", run_on_question(focus(text))))))
    )
    if _diagnosis(words, question):
        return "diagnosis"
    return None


B12_MENTION = re.compile(r"\b(b ?12|b-12|cobalamin|methylcobalamin|hydroxocobalamin|cyanocobalamin)\b", re.I)


def mentions_b12(text: str | None) -> bool:
    return bool(text and B12_MENTION.search(text))


def has_words(text: str | None) -> bool:
    """False for input with no plausible word: empty, emoji only, one 300-letter run of x."""
    return any(1 < len(w) <= MAX_WORD_LENGTH for w in words_of(text or ""))
