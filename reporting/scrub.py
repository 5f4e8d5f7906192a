"""Scrub a patient's question before the content team reads it: what could name or reach a person
becomes a placeholder.

    scrub("I'm Maria Lopez, call 415-555-0132 about my 1000 mcg shot on March 3")
    -> "I'm <NAME>, call <PHONE> about my <AMOUNT> shot on <DATE>"

- <EMAIL>, <URL>: addresses (plain rules, bounded).
- <PHONE>: Google's `phonenumbers` (the libphonenumber port, offline: its metadata ships in the
  package), every number it finds as possible, as dialled in the US or the UK, or in international
  (+) form. Any digits left after that become <NUMBER> below, so no number survives either way.
- <DATE>: numeric dates (3/4/2024, 2024-03-04), a month with a day or a year, a month name on its
  own, weekdays.
- <AMOUNT>: a number with a unit (1000 mcg, 45 years, 3x); <NUMBER>: any other number on its own
  (an age, a room, a case number). Digits inside a word stay (B12, B-12).
- <NAME>: the project has no pretrained spaCy model (so no statistical NER), so names are found by
  rules: the words after "my name is", "I'm", "call me", "Dr", "my husband", "hi", "thanks"...,
  and any capitalised word inside a sentence that the knowledge files never use. The rules err
  towards scrubbing: a capitalised drug name the source does not know becomes <NAME> too.

Every step is one pass over the text (no regex with nested unbounded repeats).
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import FrozenSet, List

from b12 import settings

PLACEHOLDERS = ("<NAME>", "<EMAIL>", "<PHONE>", "<URL>", "<DATE>", "<AMOUNT>", "<NUMBER>")

PHONE_REGIONS = ("US", "GB")  # the clinics' regions (knowledge/crisis_lines.yml): local numbers as dialled there
MIN_PHONE_DIGITS = 7  # a shorter match ("1000") is a number, not a phone
EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{1,190}")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>]{1,2000}", re.IGNORECASE)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
DATE = re.compile(
    r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b"
    rf"|\b{_DAY}\s(?:of\s)?{_MONTH}\b\.?(?:,?\s\d{{4}}\b)?"
    rf"|\b{_MONTH}\.?\s{_DAY}\b(?:,?\s\d{{4}}\b)?"
    rf"|\b{_MONTH}\.?\s\d{{4}}\b"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b",
    re.IGNORECASE,
)
MONTH_NAME = re.compile(r"\b(?:January|February|March|April|June|July|August|September|October|November|December)\b")
_UNIT = (
    r"(?:mcg|µg|ug|micrograms?|mg|milligrams?|g|grams?|kg|kilos?|lbs?|pounds?|ml|l|iu|units?|pg/ml|pmol/l|ng/ml"
    r"|nmol/l|years?|yrs?|yo|months?|weeks?|wks?|days?|hours?|hrs?|minutes?|mins?|times?|x|shots?|doses?"
    r"|injections?|tablets?|pills?|cm|ft|feet|inch(?:es)?)"
)
AMOUNT = re.compile(rf"(?<![\w.-])\d{{1,9}}(?:[.,]\d{{1,6}})?(?:\s?{_UNIT}\b|\s?%)", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.<-])(?<![bB] )\d{1,20}(?:[.,]\d{1,20})?(?![\w>])")
# Digit groups joined by - . / or a space (0176-1234-5678, a card number): one <NUMBER>, before
# the rule above, which leaves a group after "-" or "." alone (B-12). Bounded repeats: linear.
NUMBER_RUN = re.compile(r"(?<![\w<])(?<![bB] )\d{1,20}(?:[-./ ]\d{1,20}){1,8}(?![\w>])")

# A name follows these words (lowercased, joined by one space).
ANY_NEXT = {
    "my name is",
    "my names",
    "name is",
    "name's",
    "call me",
    "dr",
    "dr.",
    "mr",
    "mr.",
    "mrs",
    "mrs.",
    "ms",
    "ms.",
}
CAPITALISED_NEXT = {
    "i'm",
    "im",
    "i am",
    "this is",
    "it's",
    "doctor",
    "nurse",
    "prof",
    "prof.",
    "hi",
    "hello",
    "hey",
    "dear",
    "thanks",
    "thank you",
    "regards",
    "cheers",
    "sincerely",
    "from",
    "love",
    "with",
    *(
        f"my {who}"
        for who in (
            "husband wife son daughter mom mum mother dad father sister brother friend partner grandmother"
            " grandfather grandma grandpa gran aunt uncle niece nephew cousin boyfriend girlfriend child kid"
            " baby doctor gp neighbour neighbor"
        ).split()
    ),
}
NAME_BEFORE = {"here", "asking", "writing", "speaking"}  # "Maria here", at a sentence's start
COMMON = frozenset(
    """a about after all also am an and any are as at be because been before being both but by can
    could did do does doing done for from get gets getting give go going got had has have having he her
    here hers him his how i if in into is it its just know let like may me might more most much must my
    need no not now of off ok okay on once only or other our out over please should so some still such
    than thank thanks that the their them then there these they this those to too under up us very was
    we were what when where which while who why will with would yes yet you your hi hello hey dear
    regards cheers sincerely love best morning evening afternoon sorry question questions quick help
    vitamin b12 b-12 doctor nurse dr mr mrs ms prof""".split()
)
TOKEN = re.compile(r"\S+")
EDGE = "".join(sorted(set(string.punctuation) - set("<>'"))) + "\u2018\u2019\u201c\u201d\u2026"  # str.strip: linear


@lru_cache(maxsize=1)
def known_words() -> FrozenSet[str]:
    """Every word the knowledge files use (lowercased): a capitalised one of these is not a name."""
    words = set(COMMON)
    for file in sorted(settings.KNOWLEDGE_DIR.glob("*")):
        if file.suffix in (".txt", ".yml"):
            words.update(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{0,40}", file.read_text(encoding="utf-8")))
    words.update(w.split("'")[0] for w in list(words) if "'" in w)  # "hashimoto's" -> "hashimoto"
    return frozenset(words)


def _core(token: str) -> str:
    """The word without the punctuation around it ("Maria," -> "Maria")."""
    return token.strip(EDGE).strip("'").lstrip(">").rstrip("<")


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and any(c.islower() for c in word) and word.replace("'", "").replace("-", "").isalpha()


def _unknown(word: str) -> bool:
    lower = word.lower()
    return lower not in known_words() and lower.split("'")[0] not in known_words()


def _names(text: str) -> str:
    tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    cores = [_core(text[a:b]) for a, b in tokens]
    lower = [c.lower() for c in cores]
    is_name: List[bool] = [False] * len(tokens)
    after_any = False  # the previous word was named after "my name is", "call me", "Dr"...
    sentence_start = True
    for i, core in enumerate(cores):
        raw = text[tokens[i][0] : tokens[i][1]]
        prev1 = lower[i - 1] if i >= 1 else ""
        prev2 = f"{lower[i - 2]} {prev1}" if i >= 2 else ""
        prev3 = f"{lower[i - 3]} {prev2}" if i >= 3 else ""
        after_break = i >= 1 and text[tokens[i - 1][1] - 1] in ",.;:!?"  # "hi, Maria" still follows "hi"
        cue = {prev1, prev2, prev3} - {""}
        word = core.replace("'s", "") if core.endswith("'s") else core
        if core and core.isalpha() or _capitalised(word):
            if cue & ANY_NEXT and lower[i] not in COMMON:
                is_name[i] = after_any = True
            elif after_any and not after_break and lower[i] not in COMMON and _unknown(word):
                is_name[i] = True  # "my name is john smith"
            elif cue & CAPITALISED_NEXT and _capitalised(word) and _unknown(word):
                is_name[i] = True
            elif i >= 1 and is_name[i - 1] and _capitalised(word) and not after_break:
                is_name[i] = True  # the rest of a full name: "Maria Lopez"
            elif not sentence_start and _capitalised(word) and _unknown(word):
                is_name[i] = True
            elif sentence_start and _capitalised(word) and _unknown(word) and i + 1 < len(cores):
                nxt = cores[i + 1]
                if raw == core and (_capitalised(nxt) and _unknown(nxt) or lower[i + 1] in NAME_BEFORE):
                    is_name[i] = True  # "Maria Lopez here", "Maria here"
        after_any = after_any and is_name[i]
        sentence_start = raw[-1:] in ".!?"
    spans: List[List[int]] = []
    for i, (a, b) in enumerate(tokens):
        if not is_name[i]:
            continue
        start = a + text[a:b].find(cores[i])
        end = start + len(cores[i]) - (2 if cores[i].endswith("'s") else 0)  # keep "'s": "<NAME>'s"
        if spans and is_name[i - 1] and not text[spans[-1][1] : start].strip():
            spans[-1][1] = end  # one <NAME> for a full name
        else:
            spans.append([start, end])
    return _replace(text, spans, "<NAME>")


def _replace(text: str, spans, placeholder: str) -> str:
    """`text` with each (start, end) span, in order and apart, replaced: one pass."""
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], placeholder]
        last = end
    out.append(text[last:])
    return "".join(out)


def _phones(text: str) -> str:
    import phonenumbers

    for region in PHONE_REGIONS:  # a local number is read as one of these regions'; "+..." as itself
        spans = [
            (m.start, m.end)
            for m in phonenumbers.PhoneNumberMatcher(
                text, region, leniency=phonenumbers.Leniency.POSSIBLE, max_tries=200
            )
            if sum(c.isdigit() for c in m.raw_string) >= MIN_PHONE_DIGITS
        ]
        text = _replace(text, spans, "<PHONE>")
    return text


def scrub(text: str) -> str:
    """The text with names, emails, phone numbers, URLs, dates and numbers replaced by placeholders."""
    text = " ".join(str(text).split())  # one line: no layout (a signature block) survives
    text = EMAIL.sub("<EMAIL>", text)
    text = URL.sub("<URL>", text)
    text = DATE.sub("<DATE>", text)
    text = MONTH_NAME.sub("<DATE>", text)
    text = _phones(text)
    text = AMOUNT.sub("<AMOUNT>", text)
    text = NUMBER_RUN.sub("<NUMBER>", text)
    text = NUMBER.sub("<NUMBER>", text)
    return _names(text)
