"""Group the scrubbed questions by similarity and keep only the groups enough people asked.

- Each question is first normalised (lowercase, one space, no closing punctuation): the same
  wording from several people is one wording.
- Wordings are compared by TF-IDF (scikit-learn) over their content words (English stop words
  dropped, a light suffix strip so "injections" meets "injection") and cosine similarity. A
  wording joins the group whose centroid is most similar (cosine at least SIMILAR), or starts
  a group. Wordings are taken most-asked first, then alphabetically: the result never depends
  on the order rows came from the database.
- A group is shown only when at least `min_senders` DIFFERENT senders asked in it (one person
  asking five times counts once). The others are only counted.
- What a shown group shows, so that no single patient's words can be read: its count of people
  and messages; the words that at least `min_senders` of its senders used; and a wording only
  when at least `min_senders` senders sent exactly that (scrubbed) wording.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Dict, Iterable, List, NamedTuple, Set, Tuple

SIMILAR = 0.35  # least cosine between a wording and a group's centroid for it to join
MAX_TERMS = 6
WORD = re.compile(r"<[A-Z]+>|[a-z0-9][a-z0-9'-]*")


class Question(NamedTuple):
    sender: str
    text: str  # scrubbed
    reason: str  # not_covered or fallback


class Group(NamedTuple):
    senders: int
    messages: int
    wordings: List[str]  # each sent by at least min_senders senders, most-sent first
    terms: List[str]  # words used by at least min_senders senders, most-used first
    reasons: Dict[str, int]


PLACEHOLDER = re.compile(r"<(?:name|email|phone|url|date|amount|number)>")


def normalise(text: str) -> str:
    """One wording for the same question however it was typed (placeholders kept as they are)."""
    lowered = " ".join(text.lower().split()).rstrip(" ?!.")
    return PLACEHOLDER.sub(lambda m: m.group(0).upper(), lowered)


def _stop_words() -> frozenset:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | {
        "b12",
        "b-12",
        "vitamin",
        "does",
        "hi",
        "hello",
        "thanks",
        "sorry",
        "bother",
        "please",
        "just",
        "quick",
    }


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(wording: str, stop: frozenset) -> List[str]:
    return [w for w in WORD.findall(wording) if len(w) > 1 and w not in stop and not w.startswith("<")]


def cluster(wordings: List[str]) -> List[List[int]]:
    """Indices of `wordings` (already in their deterministic order), grouped."""
    if not wordings:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    stop = _stop_words()
    vectorizer = TfidfVectorizer(
        analyzer=lambda text: [_stem(w) for w in content_words(text, stop)], sublinear_tf=True, norm="l2"
    )
    try:
        matrix = vectorizer.fit_transform(wordings).tocsr()
    except ValueError:  # no content word at all: one group per wording
        return [[i] for i in range(len(wordings))]
    # Each group's centroid is its members' summed vectors, kept as an inverted index (term ->
    # {group: weight}) with each sum's squared length: memory grows with the words used, not
    # with groups x vocabulary, and a wording is compared only with groups sharing a word.
    postings: Dict[int, Dict[int, float]] = defaultdict(dict)
    squares: List[float] = []
    groups: List[List[int]] = []
    for i in range(len(wordings)):
        row = matrix[i]
        terms = [(int(t), float(w)) for t, w in zip(row.indices, row.data)]
        dots: Dict[int, float] = defaultdict(float)
        for t, w in terms:
            for g, weight in postings[t].items():
                dots[g] += w * weight
        best, best_sim = -1, SIMILAR
        for g in sorted(dots):  # the first of equals: deterministic
            sim = dots[g] / (squares[g] ** 0.5)
            if sim >= best_sim + (1e-12 if best >= 0 else 0):
                best, best_sim = g, sim
        own = sum(w * w for _, w in terms)
        if best >= 0:
            groups[best].append(i)
            squares[best] += 2 * dots[best] + own
        else:
            best = len(groups)
            groups.append([i])
            squares.append(own or 1.0)
        for t, w in terms:
            postings[t][best] = postings[t].get(best, 0.0) + w
    return groups


def group_questions(questions: Iterable[Question], min_senders: int) -> Tuple[List[Group], int, int]:
    """(the shown groups, most people first; how many groups were hidden; their messages)."""
    senders_of: Dict[str, Set[str]] = defaultdict(set)
    count_of: Counter = Counter()
    reasons_of: Dict[str, Counter] = defaultdict(Counter)
    for q in questions:
        wording = normalise(q.text)
        if not wording:
            continue
        senders_of[wording].add(q.sender)
        count_of[wording] += 1
        reasons_of[wording][q.reason] += 1
    ordered = sorted(senders_of, key=lambda w: (-len(senders_of[w]), -count_of[w], w))
    stop = _stop_words()
    shown: List[Group] = []
    hidden = hidden_messages = 0
    for members in cluster(ordered):
        wordings = [ordered[i] for i in members]
        senders = set().union(*(senders_of[w] for w in wordings))
        messages = sum(count_of[w] for w in wordings)
        if len(senders) < min_senders:
            hidden += 1
            hidden_messages += messages
            continue
        users_of_term: Dict[str, Set[str]] = defaultdict(set)
        for w in wordings:
            for term in set(content_words(w, stop)):
                users_of_term[term] |= senders_of[w]
        terms = sorted(
            (t for t, s in users_of_term.items() if len(s) >= min_senders), key=lambda t: (-len(users_of_term[t]), t)
        )
        reasons: Counter = Counter()
        for w in wordings:
            reasons.update(reasons_of[w])
        shown.append(
            Group(
                senders=len(senders),
                messages=messages,
                wordings=[w for w in wordings if len(senders_of[w]) >= min_senders][:3],
                terms=terms[:MAX_TERMS],
                reasons=dict(sorted(reasons.items())),
            )
        )
    shown.sort(key=lambda g: (-g.senders, -g.messages, g.wordings[:1], g.terms))
    return shown, hidden, hidden_messages
