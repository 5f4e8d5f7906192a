"""The vetted knowledge: loading, validation and lookup. No Rasa imports.

`knowledge/passages.yml` is the single source of truth for health content. Every
quote in it must appear verbatim in `knowledge/b12-autoimmunity.txt`; table cells
must sit in the row and column they claim. A bad file fails fast with a
`KnowledgeError` naming the file and the key.

The `review:` block records who reviewed the file (a role from REVIEWER_ROLES), when, and the
SHA-256 of the source, whole and per section: a source changed since is refused with a message
naming the sections changed, added or removed and the passages quoting them (docs/content.md).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from b12 import settings

KNOWLEDGE_DIR = settings.KNOWLEDGE_DIR
PASSAGES_FILE = KNOWLEDGE_DIR / "passages.yml"

ROUTES: Tuple[str, ...] = ("diet", "oral", "injection")
FEATURES: Tuple[str, ...] = ("benefit", "efficacy", "typical_use", "absorption", "risk")


class KnowledgeError(ValueError):
    """The knowledge file is malformed or quotes something the source does not say."""


# Who may sign a review: a role, never a person's name. A closed list, so a name cannot pass for a
# role (a rule on spelling alone would let "jane smith" through); a new role is a reviewed code
# change here. True marks the roles whose signature is a clinical sign-off (docs/content.md).
REVIEWER_ROLES: Dict[str, bool] = {
    "clinical content lead": True,
    "clinical reviewer": True,
    "clinical pharmacist": True,
    "nurse educator": True,
    "content engineer": False,
}
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# A review dated up to a day ahead of today (UTC) is accepted: the signer may live east of CI.
FUTURE_SLACK = datetime.timedelta(days=1)
BEFORE_FIRST_HEADING = "(before the first heading)"


class _Loader(yaml.SafeLoader):
    """safe_load, except that dates stay text: the loader parses them itself, so an impossible
    date (2026-02-30) is a KnowledgeError naming its key rather than a crash inside PyYAML."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


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
    sections: Mapping[str, str] = field(default_factory=dict)  # heading -> SHA-256, in source order

    @property
    def clinical(self) -> bool:
        """Whether the signer's role is a clinical one (REVIEWER_ROLES)."""
        return REVIEWER_ROLES.get(self.reviewed_by, False)


@dataclass(frozen=True)
class Section:
    """One section of the source: its heading line and the lines up to the next heading."""

    heading: str
    first_line: int  # 1-based, the heading's line
    last_line: int
    sha256: str


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


def is_heading(line: str) -> bool:
    """A section heading of the source: a short line that is neither a table row nor a sentence
    (it does not end with '.', ')', '!' or ':')."""
    line = line.strip()
    return bool(line) and not line.startswith("|") and len(line) < 90 and line[-1] not in ".)!:"


def source_sections(raw: str) -> List[Section]:
    """The source's sections in order, each with the SHA-256 of its lines joined by "\n" (line
    ends aside), so the sections together cover every character of the file but its line ends.
    One pass over the text."""
    sections: List[Section] = []
    heading, first, chunk, seen = BEFORE_FIRST_HEADING, 1, [], {}  # type: ignore[var-annotated]

    def close(last: int) -> None:
        if not chunk:
            return
        seen[heading] = seen.get(heading, 0) + 1
        name = heading if seen[heading] == 1 else f"{heading} ({seen[heading]})"
        digest = source_sha256("\n".join(chunk).encode("utf-8"))
        sections.append(Section(heading=name, first_line=first, last_line=last, sha256=digest))

    lines = raw.splitlines()
    for number, line in enumerate(lines, start=1):
        if is_heading(line):
            close(number - 1)
            heading, first, chunk = line.strip(), number, []
        chunk.append(line)
    close(len(lines))
    return sections


def check_role(role: Any) -> Optional[str]:
    """Why `role` cannot sign a review, or None when it can."""
    if not isinstance(role, str) or role.strip() not in REVIEWER_ROLES:
        return (
            "must be one of the reviewer roles ("
            + ", ".join(REVIEWER_ROLES)
            + "), never a person's name; a new role is added to REVIEWER_ROLES in b12/knowledge.py"
        )
    return None


def _check_hash(value: Any, key: str, path: Path) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if not SHA256_HEX.fullmatch(text):
        raise KnowledgeError(f"{path}: '{key}' must be a SHA-256: 64 hexadecimal characters, not {value!r}")
    return text


def _check_date(value: Any, key: str, path: Path, today: datetime.date) -> datetime.date:
    try:
        day = datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise KnowledgeError(f"{path}: '{key}' must be a real date (YYYY-MM-DD), not {value!r}") from None
    if day > today + FUTURE_SLACK:
        raise KnowledgeError(f"{path}: '{key}' is {day}, in the future: a review is dated the day it was signed")
    return day


def _quoted_in(data: Mapping[str, Any]) -> Dict[str, List[str]]:
    """Section heading -> the passage ids (and table cell ids) that quote from it, read leniently
    from the raw file: it names the passages a changed section puts in question."""
    out: Dict[str, List[str]] = {}
    table = data.get("table")
    if isinstance(table, dict) and isinstance(table.get("cells"), dict):
        cells = [
            f"{route}.{feature}" for route, row in table["cells"].items() if isinstance(row, dict) for feature in row
        ]
        out.setdefault(str(table.get("section")), []).extend(cells)
    for item in data.get("passages") or []:
        if isinstance(item, dict) and "id" in item:
            out.setdefault(str(item.get("section")), []).append(str(item["id"]))
    return out


def _section_changes(
    recorded: Mapping[str, str],
    sections: Sequence[Section],
    data: Mapping[str, Any],
    source: str,
    order_matters: bool,
) -> List[str]:
    """What differs between the recorded section hashes and the source's sections, in words.
    The record's order counts only to explain a changed source (sections moved)."""
    current = {s.heading: s for s in sections}
    quoted = _quoted_in(data)
    quotes = {
        str(item["id"]): normalise(str(item.get("quote", "")))
        for item in data.get("passages") or []
        if isinstance(item, dict) and "id" in item
    }
    cells = (data.get("table") or {}).get("cells") if isinstance(data.get("table"), dict) else None
    if isinstance(cells, dict):
        for route, row in cells.items():
            for feature, cell in (row if isinstance(row, dict) else {}).items():
                quotes[f"{route}.{feature}"] = normalise(f"| {cell} |")

    def quoted_by(heading: str) -> str:
        ids = quoted.get(heading, [])
        if not ids:
            return ""
        gone = [pid for pid in ids if pid in quotes and quotes[pid] not in source]
        text = f"; quoted by {', '.join(ids)}"
        return text + (f"; no longer in the source: {', '.join(gone)}" if gone else "")

    def lines(s: Section) -> str:
        return f"line {s.first_line}" if s.first_line == s.last_line else f"lines {s.first_line}-{s.last_line}"

    changed = [h for h in recorded if h in current and current[h].sha256 != recorded[h]]
    added = [s.heading for s in sections if s.heading not in recorded]
    removed = [h for h in recorded if h not in current]
    parts = []
    if changed:
        parts.append("changed " + ", ".join(f"'{h}' ({lines(current[h])}{quoted_by(h)})" for h in changed))
    if added:
        parts.append("added " + ", ".join(f"'{h}' ({lines(current[h])})" for h in added))
    if removed:
        parts.append(
            "removed " + ", ".join(f"'{h}'" + (f" ({quoted_by(h)[2:]})" if quoted_by(h) else "") for h in removed)
        )
    if not parts and order_matters and list(recorded) != [s.heading for s in sections]:
        parts.append("the sections are in a new order: " + ", ".join(f"'{s.heading}'" for s in sections))
    return parts


SIGN_HINT = 'Review it again (make review) and sign the new text: make review SIGN="clinical content lead".'


def content_hashes(data: Mapping[str, Any]) -> Dict[str, str]:
    """The SHA-256 of each top-level part of the knowledge file but `review` (canonical JSON), so a
    review also covers what is quoted and which passages answer which topic."""
    return {
        str(key): hashlib.sha256(
            json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        ).hexdigest()
        for key, value in data.items()
        if key != "review"
    }


def _check_content(review: Mapping[str, Any], data: Mapping[str, Any], path: Path) -> None:
    raw = _require(review, "content", "review.", path)
    if not isinstance(raw, dict) or not raw:
        raise KnowledgeError(f"{path}: 'review.content' must map each part of this file to its SHA-256")
    recorded = {str(k): _check_hash(v, f"review.content.{k}", path) for k, v in raw.items()}
    actual = content_hashes(data)
    changed = [k for k in actual if k in recorded and recorded[k] != actual[k]]
    added = [k for k in actual if k not in recorded]
    removed = [k for k in recorded if k not in actual]
    parts = [f"changed {', '.join(changed)}"] if changed else []
    parts += [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    if parts:
        raise KnowledgeError(
            f"{path}: this file changed since the last review ('review.content': {'; '.join(parts)}). {SIGN_HINT}"
        )


def _load_review(
    data: Any, source_raw: bytes, source_path: Path, path: Path, today: Optional[datetime.date] = None
) -> Review:
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    review = _require(data, "review", "", path)
    reviewed_by = _require(review, "reviewed_by", "review.", path)
    problem = check_role(reviewed_by)
    if problem:
        raise KnowledgeError(f"{path}: 'review.reviewed_by' {problem}")
    reviewed_on = _check_date(_require(review, "reviewed_on", "review.", path), "review.reviewed_on", path, today)
    recorded = _check_hash(_require(review, "source_sha256", "review.", path), "review.source_sha256", path)
    raw_sections = _require(review, "sections", "review.", path)
    if not isinstance(raw_sections, dict) or not raw_sections:
        raise KnowledgeError(f"{path}: 'review.sections' must map each section heading of the source to its SHA-256")
    recorded_sections = {str(h): _check_hash(v, f"review.sections.{h}", path) for h, v in raw_sections.items()}
    text = source_raw.decode("utf-8")
    sections = source_sections(text)
    actual = source_sha256(source_raw)
    changes = _section_changes(recorded_sections, sections, data, normalise(text), recorded != actual)
    name = source_path.name
    if recorded != actual:
        what = (
            "; ".join(changes)
            if changes
            else (
                "no section's text changed ('review.sections' all match), so only its line ends did, "
                "or the recorded hash was edited by hand"
            )
        )
        raise KnowledgeError(
            f"{path}: {name} changed since the last review ('review.source_sha256' is {recorded[:12]}…, "
            f"{name} is now {actual[:12]}…): {what}. {SIGN_HINT}"
        )
    if changes:
        raise KnowledgeError(
            f"{path}: 'review.sections' does not match {name}, though 'review.source_sha256' does "
            f"(the record was edited by hand): {'; '.join(changes)}. {SIGN_HINT}"
        )
    return Review(
        reviewed_by=reviewed_by.strip(),
        reviewed_on=reviewed_on,
        source_sha256=actual,
        sections=recorded_sections,
    )


def read_file(path: Path) -> Dict[str, Any]:
    """The knowledge file's YAML as a mapping (dates left as text). Raises KnowledgeError."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except FileNotFoundError as e:
        raise KnowledgeError(f"{path}: file not found") from e
    except yaml.YAMLError as e:
        raise KnowledgeError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: expected a mapping at the top level")
    return data


def load_knowledge(path: Path = PASSAGES_FILE, *, check_review: bool = True) -> Knowledge:
    """Read and validate a knowledge file. Raises KnowledgeError naming the file and key.
    `check_review=False` (make review, for the reviewer of a changed source) skips the review block."""
    data = read_file(path)
    source_name = _require(data, "source", "", path)
    source_path = path.parent / str(source_name)
    if not source_path.is_file():
        raise KnowledgeError(f"{path}: 'source' names a missing file: {source_path}")
    source_bytes = source_path.read_bytes()
    source_raw = source_bytes.decode("utf-8")
    source = normalise(source_raw)
    review = _load_review(data, source_bytes, source_path, path) if check_review else None
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
    if check_review:  # a sound file: is it the one that was reviewed?
        _check_content(data["review"], data, path)
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


def main(argv: Sequence[str]) -> int:
    """`python -m b12.knowledge check [FILE]`: load the knowledge file as the servers do, so a
    launcher (scripts/serve.sh, scripts/action_server.py, make train) stops at start with the
    loader's message rather than failing every answer later."""
    if not argv or argv[0] != "check" or len(argv) > 2:
        print("usage: python -m b12.knowledge check [passages.yml]", file=sys.stderr)
        return 2
    path = Path(argv[1]) if len(argv) == 2 else PASSAGES_FILE
    try:
        load_knowledge(path)
    except KnowledgeError as e:
        print(f"The knowledge file is refused: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
