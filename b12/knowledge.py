"""The vetted knowledge: loading, validation and lookup. No Rasa imports.

`knowledge/passages.yml` is the single source of truth for health content. Every
quote in it must appear verbatim in `knowledge/b12-autoimmunity.txt`; table cells
must sit in the row and column they claim. A bad file fails fast with a
`KnowledgeError` naming the file and the key.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import yaml

from b12 import settings

KNOWLEDGE_DIR = settings.KNOWLEDGE_DIR
PASSAGES_FILE = KNOWLEDGE_DIR / "passages.yml"

ROUTES: Tuple[str, ...] = ("diet", "oral", "injection")
FEATURES: Tuple[str, ...] = ("benefit", "efficacy", "typical_use", "absorption", "risk")


class KnowledgeError(ValueError):
    """The knowledge file is malformed or quotes something the source does not say."""


@dataclass(frozen=True)
class Passage:
    id: str
    topic: str
    section: str
    text: str
    route: str | None = None
    feature: str | None = None


@dataclass(frozen=True)
class Review:
    """Who reviewed the knowledge file (a role), when, and against which source text."""

    reviewed_by: str
    reviewed_on: datetime.date
    source_sha256: str


@dataclass(frozen=True)
class Knowledge:
    passages: Mapping[str, Passage]
    answers: Mapping[str, Tuple[str, ...]]
    source_text: str
    source_title: str = ""
    source_url: str = ""
    review: Review | None = None

    def answer(self, topic: str) -> List[Passage]:
        """The passages that answer `topic`, in order."""
        return [self.passages[pid] for pid in self.answers[topic]]

    def cell(self, route: str, feature: str) -> Passage:
        """The table cell for `route` x `feature`."""
        return self.passages[f"{route}.{feature}"]


def normalise(text: str) -> str:
    """Fold quote marks and whitespace, so a quote can be matched against the source."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


def parse_table(source: str) -> Dict[str, List[str]]:
    """The source's markdown table: row label -> cells, and '' -> the header cells."""
    rows: Dict[str, List[str]] = {}
    for line in source.splitlines():
        if not line.startswith("|") or set(line.replace("|", "").strip()) <= {"-"}:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        label, rest = cells[0], cells[1:]
        rows["" if label == "Feature" else label] = rest
    return rows


def _require(mapping: Any, key: str, where: str, path: Path) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise KnowledgeError(f"{path}: missing key '{where}{key}'")
    return mapping[key]


def _check_quote(quote: Any, source: str, key: str, path: Path) -> str:
    if not isinstance(quote, str) or not quote.strip():
        raise KnowledgeError(f"{path}: '{key}' must be a non-empty string")
    text = normalise(quote)
    if text not in source:
        raise KnowledgeError(f"{path}: '{key}' is not quoted verbatim from the source: {text[:80]!r}")
    return text


def _load_table(table: Any, source_raw: str, path: Path) -> Dict[str, Passage]:
    section = _require(table, "section", "table.", path)
    routes = _require(table, "routes", "table.", path)
    features = _require(table, "features", "table.", path)
    cells = _require(table, "cells", "table.", path)
    parsed = parse_table(source_raw)
    header = parsed.get("")
    if not header:
        raise KnowledgeError(f"{path}: the source has no comparison table for 'table'")
    out: Dict[str, Passage] = {}
    for route in ROUTES:
        route_label = _require(routes, route, "table.routes.", path)
        if route_label not in header:
            raise KnowledgeError(f"{path}: 'table.routes.{route}' is not a table column: {route_label!r}")
        column = header.index(route_label)
        for feature in FEATURES:
            feature_label = _require(features, feature, "table.features.", path)
            if feature_label not in parsed:
                raise KnowledgeError(f"{path}: 'table.features.{feature}' is not a table row: {feature_label!r}")
            key = f"table.cells.{route}.{feature}"
            cell = normalise(
                str(_require(_require(cells, route, "table.cells.", path), feature, f"table.cells.{route}.", path))
            )
            if parsed[feature_label][column] != cell:
                raise KnowledgeError(
                    f"{path}: '{key}' is not the cell in row {feature_label!r}, column {route_label!r}"
                )
            label = route_label if route != "diet" else "Dietary B12 (Animal Sources)"
            text = f"{label}, {feature_label.lower()}: {cell}"
            out[f"{route}.{feature}"] = Passage(
                id=f"{route}.{feature}",
                topic=f"{route}.{feature}",
                section=section,
                text=text,
                route=route,
                feature=feature,
            )
    return out


def source_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _load_review(data: Any, source_raw: bytes, source_path: Path, path: Path) -> Review:
    review = _require(data, "review", "", path)
    reviewed_by = _require(review, "reviewed_by", "review.", path)
    if not isinstance(reviewed_by, str) or not reviewed_by.strip():
        raise KnowledgeError(f"{path}: 'review.reviewed_by' must name a role, for example 'clinical content lead'")
    reviewed_on = _require(review, "reviewed_on", "review.", path)
    if not isinstance(reviewed_on, datetime.date) or isinstance(reviewed_on, datetime.datetime):
        raise KnowledgeError(f"{path}: 'review.reviewed_on' must be a date (YYYY-MM-DD), not {reviewed_on!r}")
    recorded = str(_require(review, "source_sha256", "review.", path)).strip().lower()
    actual = source_sha256(source_raw)
    if recorded != actual:
        raise KnowledgeError(
            f"{path}: 'review.source_sha256' was reviewed against {recorded[:12]}…, but {source_path.name} "
            f"is now {actual[:12]}…: the source changed since the last review. Review again (make review) and "
            "record the new hash."
        )
    return Review(reviewed_by=reviewed_by.strip(), reviewed_on=reviewed_on, source_sha256=actual)


def load_knowledge(path: Path = PASSAGES_FILE) -> Knowledge:
    """Read and validate a knowledge file. Raises KnowledgeError naming the file and key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise KnowledgeError(f"{path}: file not found") from e
    except yaml.YAMLError as e:
        raise KnowledgeError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: expected a mapping at the top level")
    source_name = _require(data, "source", "", path)
    source_path = path.parent / str(source_name)
    if not source_path.is_file():
        raise KnowledgeError(f"{path}: 'source' names a missing file: {source_path}")
    source_bytes = source_path.read_bytes()
    source_raw = source_bytes.decode("utf-8")
    source = normalise(source_raw)
    review = _load_review(data, source_bytes, source_path, path)
    source_title = _require(data, "source_title", "", path)
    if not isinstance(source_title, str) or not source_title.strip():
        raise KnowledgeError(f"{path}: 'source_title' must be a non-empty string")
    source_url = _require(data, "source_url", "", path)
    if not isinstance(source_url, str) or not source_url.startswith("https://") or source_url not in source_raw:
        raise KnowledgeError(f"{path}: 'source_url' must be the https:// address the source cites")

    passages: Dict[str, Passage] = _load_table(_require(data, "table", "", path), source_raw, path)
    raw_passages = _require(data, "passages", "", path)
    if not isinstance(raw_passages, list) or not raw_passages:
        raise KnowledgeError(f"{path}: 'passages' must be a non-empty list")
    for i, item in enumerate(raw_passages):
        where = f"passages[{i}]."
        pid = _require(item, "id", where, path)
        where = f"passages.{pid}."
        if pid in passages:
            raise KnowledgeError(f"{path}: duplicate passage id '{pid}'")
        passages[pid] = Passage(
            id=pid,
            topic=str(_require(item, "topic", where, path)),
            section=_check_quote(_require(item, "section", where, path), source, where + "section", path),
            text=_check_quote(_require(item, "quote", where, path), source, where + "quote", path),
        )

    raw_answers = _require(data, "answers", "", path)
    if not isinstance(raw_answers, dict) or not raw_answers:
        raise KnowledgeError(f"{path}: 'answers' must be a non-empty mapping")
    answers: Dict[str, Tuple[str, ...]] = {}
    for topic, ids in raw_answers.items():
        if not isinstance(ids, list) or not 1 <= len(ids) <= 3:
            raise KnowledgeError(f"{path}: 'answers.{topic}' must list 1 to 3 passage ids")
        for pid in ids:
            if pid not in passages:
                raise KnowledgeError(f"{path}: 'answers.{topic}' names an unknown passage '{pid}'")
        answers[str(topic)] = tuple(ids)
    for pid, passage in passages.items():
        if passage.route is None and not any(pid in ids for ids in answers.values()):
            raise KnowledgeError(f"{path}: 'passages.{pid}' is not used by any answer")
    return Knowledge(
        passages=passages,
        answers=answers,
        source_text=source_raw,
        source_title=source_title.strip(),
        source_url=source_url,
        review=review,
    )


@lru_cache(maxsize=1)
def get_knowledge() -> Knowledge:
    """The project's knowledge, loaded and validated once, on first use."""
    return load_knowledge(PASSAGES_FILE)


def source_sentences(knowledge: Knowledge) -> List[str]:
    """Every prose sentence of the source (headings and table rows excluded), for coverage checks."""
    headings = {p.section for p in knowledge.passages.values()}
    sentences: List[str] = []
    for line in knowledge.source_text.splitlines():
        line = normalise(line)
        if not line or line.startswith("|") or line in headings:
            continue
        for part in re.split(r"(?<=[.!?])\s+(?=[A-Z(])|(?<=\.)(?=\(http)", line):
            citation = re.fullmatch(r"\((https?://[^)]+)\)\.?", part)
            sentences.append(citation.group(1) if citation else part)
    return sentences


def covered(knowledge: Knowledge, sentence: str) -> bool:
    return any(sentence in p.text for p in knowledge.passages.values())


def passages_for(ids: Sequence[str]) -> List[Passage]:
    kb = get_knowledge()
    return [kb.passages[i] for i in ids]
