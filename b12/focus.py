"""Find the question in a message. No Rasa imports.

A patient's message may wrap its question in greetings, apologies and thanks, frame it for
someone else ("asking for my dad: ..."), or put it after a story. `focus(text)` keeps the
sentence or sentences that ask, so those wrappers do not change the answer. Safety is judged
elsewhere over the whole message (b12/safety.py); only the topic is read from the focus.

One pass over the text: sentences, then comma clauses, each checked against word sets.
"""

from __future__ import annotations

import re
from typing import List

_SENTENCE = re.compile(r"[^.!?\n;:]+[.!?\n;:]*")
_CLAUSE = re.compile(r"[^,]+,?")
_WORD = re.compile(r"[a-z0-9]+")

# Words that open a courtesy clause, and the words such a clause is made of.
COURTESY_OPENERS = frozenset(
    {"hi", "hello", "hey", "hiya", "heya", "howdy", "greetings", "morning", "afternoon", "evening", "dear",
     "sorry", "apologies", "apologise", "apologize", "thanks", "thank", "thx", "ty", "cheers", "tia", "ta",
     "please", "pls", "plz", "bye", "regards", "best", "hope", "ok", "okay", "um", "umm", "erm", "so", "yo"}
)  # fmt: skip
COURTESY_WORDS = COURTESY_OPENERS | frozenset(
    {"there", "all", "everyone", "everybody", "guys", "folks", "team", "good", "to", "bother", "bothering",
     "you", "in", "advance", "so", "much", "very", "a", "lot", "lots", "for", "your", "help", "this", "is",
     "if", "dumb", "stupid", "silly", "daft", "question", "quick", "but", "just", "again", "and", "really",
     "sir", "madam", "doc", "bot", "mate", "hun", "well", "are", "ya", "u", "hows", "how", "doing", "it",
     "going", "the", "an", "ask", "asking", "wondering", "was", "i", "im", "am", "new", "here", "first",
     "post", "time", "long", "read", "lurker", "ive", "got", "one", "more", "thing", "x", "xx", "xxx",
     "any", "advice", "appreciated", "welcome", "kind", "kindly", "many", "grateful", "wish", "luck", "hear",
     "hoping", "someone", "can", "anyone", "could", "would", "love", "know", "need", "some", "info"}
)  # fmt: skip
# "asking for my dad:", "on behalf of my mum,": who it is for does not change the answer.
FOR_SOMEONE = (("asking", "for"), ("on", "behalf", "of"), ("question", "for"), ("this", "is", "for"))
QUESTION_OPENERS = frozenset(
    {"what", "whats", "why", "how", "hows", "when", "where", "which", "who", "can", "could", "does", "do",
     "did", "is", "are", "was", "will", "would", "should", "may", "might", "isnt", "arent", "doesnt",
     "cant", "any", "anyone", "tell", "explain"}
)  # fmt: skip
# What the classifier reads is at most this long (safety reads the whole message): 10,000 marks
# of punctuation are 10,000 tokens for the featurizers, seconds of work for nothing.
MAX_FOCUS_CHARS = 600
REFERENCES = frozenset({"it", "that", "this", "they", "them", "she", "he", "her", "his", "their", "so"})


def _words(text: str) -> List[str]:
    return _WORD.findall(text.lower().replace("'", "").replace("\u2019", ""))


def is_courtesy(clause: str) -> bool:
    """A clause of courtesy only: "hi there", "sorry if this is a dumb question", "cheers"."""
    words = _words(clause)
    if not words:
        return True
    if any(tuple(words[: len(p)]) == p for p in FOR_SOMEONE):
        return True
    return any(w in COURTESY_OPENERS for w in words) and all(w in COURTESY_WORDS for w in words)


def _strip_courtesy(sentence: str) -> str:
    clauses = _CLAUSE.findall(sentence)
    while clauses and is_courtesy(clauses[0]):
        clauses.pop(0)
    while clauses and is_courtesy(clauses[-1]):
        clauses.pop()
    text = "".join(clauses).strip().strip(",").strip()
    return re.sub(r"^(but|so|and|anyway)\s+", "", text, flags=re.I)


def _asks(sentence: str) -> bool:
    words = _words(sentence)
    return sentence.rstrip().endswith("?") or bool(words and words[0] in QUESTION_OPENERS)


RUN_ON_WORDS = 25  # a sentence this long with no punctuation may hold a story and its question


def run_on_question(sentence: str) -> str:
    """A long run-on sentence ("...borderline they said why is homocysteine linked") from its last
    question opener on; anything else unchanged. For judging what is asked (safety.py), not for
    the classifier, which needs the whole story when there is no punctuation."""
    words = sentence.split()
    if len(words) < RUN_ON_WORDS:
        return sentence
    plain = [w.lower().strip(",").replace("'", "").replace("\u2019", "") for w in words]
    starts = [i for i in range(8, len(plain) - 2) if (plain[i], plain[i + 1]) in ASKING_PAIRS]
    return " ".join(words[starts[-1] :]) if starts else sentence


def focus(text: str) -> str:
    """The part of `text` that asks. The whole text when nothing would be left."""
    sentences = [s for s in (_strip_courtesy(s) for s in _SENTENCE.findall(text)) if s]
    if not sentences:
        return text
    asking = [i for i, s in enumerate(sentences) if _asks(s)]
    if not asking:
        kept = sentences
    else:
        first = asking[0]
        kept_ids = list(asking)
        # "My sister has coeliac. Is that why her B12 keeps dropping?": keep what "that" refers to.
        if first > 0 and set(_words(sentences[first])) & REFERENCES:
            kept_ids.insert(0, first - 1)
        kept = [sentences[i] for i in kept_ids]
    return " ".join(s.strip() for s in kept)


# A question inside a run-on sentence with no punctuation: "...my mate reckons its b12 is that true"
ASKING_PAIRS = frozenset(
    {("is", "that"), ("is", "it"), ("is", "this"), ("is", "there"), ("can", "low"), ("can", "b12"), ("does", "b12"),
     ("does", "low"), ("could", "it"), ("could", "this"), ("why", "do"), ("why", "does"), ("why", "is"),
     ("how", "do"), ("how", "does"), ("what", "is"), ("is", "b12"), ("is", "low"), ("are", "b12"), ("can", "a"),
     ("can", "you"), ("does", "a"), ("is", "fainting"), ("do", "people"), ("does", "that"), ("can", "it"),
     ("should", "i"), ("can", "i"), ("do", "i"), ("will", "b12"), ("what", "does"), ("how", "long"), ("how", "much"),
     ("is", "my"), ("are", "my"), ("does", "stress"), ("can", "stress"), ("will", "i")}
)  # fmt: skip


# A sentence opening with one of these and no "?" asks only when a subject follows ("cant i ...");
# "cant see properly", "isnt waking up" are statements.
NEGATED_OPENERS = frozenset({"cant", "isnt", "arent", "doesnt"})
SUBJECTS = frozenset({"i", "you", "u", "we", "it", "he", "she", "they", "b12", "my", "this", "that", "there"})


def _asks_plainly(sentence: str) -> bool:
    words = _words(sentence)
    if words and words[0] in NEGATED_OPENERS and not sentence.rstrip().endswith("?"):
        return len(words) > 1 and words[1] in SUBJECTS
    return _asks(sentence)


def asks_anything(text: str) -> bool:
    """Whether any sentence of the message asks something, punctuated or not."""
    if any(_asks_plainly(s) for s in _SENTENCE.findall(text)):
        return True
    words = _words(text)
    return any(pair in ASKING_PAIRS for pair in zip(words, words[1:]))


def bounded(text: str, limit: int = MAX_FOCUS_CHARS) -> str:
    """The last `limit` characters of `text`, cut at a space (a question usually ends a post)."""
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    cut = tail.find(" ")
    return tail[cut + 1 :] if 0 <= cut < limit // 2 else tail
