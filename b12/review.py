"""Reviewing the knowledge file: what a reviewer reads, and how the review is recorded. No Rasa imports.

    python -m b12.review [--out FILE]     every passage and table cell beside its place in the
                                          source, with the topics that quote it and example questions
    python -m b12.review --sign ROLE      record a review: rewrite only the `review:` block of
                                          knowledge/passages.yml (today's date, the source's hashes)

`make review` and `make review SIGN="clinical content lead"` run these (docs/content.md). The
report works on a file the loader refuses because its source changed: that is when it is needed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from b12 import settings
from b12.answering import ROUTE_INTENTS
from b12.kinds import INTENTS
from b12.knowledge import (
    FEATURES,
    PASSAGES_FILE,
    REVIEWER_ROLES,
    ROUTES,
    Knowledge,
    KnowledgeError,
    Passage,
    check_role,
    content_hashes,
    load_knowledge,
    normalise,
    read_file,
    source_sections,
    source_sha256,
)

DATA_DIR = settings.ROOT / "data"
EXAMPLES_PER_TOPIC = 3
WIDTH = 100
MARK = (">>>", "<<<")  # around the quoted part of a source line
ENTITY = re.compile(r"\[([^\]\n]*)\](?:\([^)\n]*\)|\{[^}\n]*\})")  # [text](entity) / [text]{...}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


# --- where each passage sits in the source ----------------------------------------------------


@dataclass(frozen=True)
class Place:
    line: int  # 1-based line of the source
    start: int  # offsets of the quote in the normalised line
    end: int
    text: str  # the normalised line


def _norm_lines(source: str) -> List[str]:
    return [normalise(line) for line in source.splitlines()]


def locate(passage: Passage, lines: Sequence[str]) -> Optional[Place]:
    """The first source line holding the passage's text (a cell: its own row and column)."""
    if passage.route is not None:
        return None
    for number, line in enumerate(lines, start=1):
        at = line.find(passage.text)
        if at >= 0:
            return Place(number, at, at + len(passage.text), line)
    return None


def locate_cell(kb: Knowledge, route: str, feature: str, lines: Sequence[str]) -> Optional[Place]:
    passage = kb.cell(route, feature)
    cell = passage.text.split(": ", 1)[1]
    column = ROUTES.index(route)
    for number, line in enumerate(lines, start=1):
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > column + 1 and cells[column + 1] == cell and cells[0] != "Feature":
            at = 0  # just after the bar that opens that column
            for _ in range(column + 2):
                at = line.index("|", at) + 1
            start = line.index(cell, at)
            return Place(number, start, start + len(cell), line)
    return None


def marked(place: Place, whole_line: bool = False) -> str:
    """The quote marked within its line: the sentence before and after it, or the whole line."""
    before, quote, after = place.text[: place.start], place.text[place.start : place.end], place.text[place.end :]
    if not whole_line:
        before_parts = SENTENCE_END.split(before.rstrip())
        before = ("… " if len(before_parts) > 1 else "") + before_parts[-1] + " " if before.strip() else ""
        after_parts = SENTENCE_END.split(after.lstrip(), maxsplit=1)
        after = " " + after_parts[0] + (" …" if len(after_parts) > 1 else "") if after.strip() else ""
    return f"{before}{MARK[0]}{quote}{MARK[1]}{after}"


# --- topics and questions ------------------------------------------------------------------------


def nlu_examples(data_dir: Path = DATA_DIR) -> Dict[str, List[str]]:
    """Intent -> its training examples, files in name order, examples in file order, markup removed."""
    out: Dict[str, List[str]] = {}
    for path in sorted(data_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if not isinstance(item, dict) or "intent" not in item or not isinstance(item.get("examples"), str):
                continue
            for line in item["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    out.setdefault(str(item["intent"]), []).append(ENTITY.sub(r"\1", line[2:].strip()))
    return out


def intents_of(topic: str) -> List[str]:
    """The intents whose knowledge topic is `topic` (b12/kinds.py INTENTS), in table order."""
    return [intent for intent, row in INTENTS.items() if row.topic == topic]


def questions(topic: str, examples: Dict[str, List[str]], k: int = EXAMPLES_PER_TOPIC) -> List[str]:
    """Up to k example questions for `topic`, taking one from each of its intents in turn."""
    pools = [examples.get(i, []) for i in intents_of(topic)]
    out: List[str] = []
    for depth in range(max((len(p) for p in pools), default=0)):
        for pool in pools:
            if depth < len(pool) and pool[depth] not in out:
                out.append(pool[depth])
                if len(out) == k:
                    return out
    return out


def passage_topics(kb: Knowledge, passage: Passage) -> List[str]:
    """The topics whose answer quotes this passage: the `answers:` map; for a table cell, its
    feature's row (feature:<f>), its route (route:<r>), the route comparison for efficacy and a
    risk question naming the route for risk (as b12/answering.py quotes them)."""
    if passage.route is not None:
        topics = [f"feature:{passage.feature}", f"route:{passage.route}"]
        extra = {"efficacy": ["compare_routes"], "risk": ["risks"]}.get(str(passage.feature), [])
        return topics + extra
    return [topic for topic, ids in kb.answers.items() if passage.id in ids]


# --- the report ----------------------------------------------------------------------------------


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(settings.ROOT))
    except ValueError:
        return str(path)


def _wrap(text: str, indent: str) -> List[str]:
    wrapped = textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ", break_on_hyphens=False)
    return wrapped or [indent]


def _entry(
    kb: Knowledge,
    passage: Passage,
    place: Optional[Place],
    examples: Dict[str, List[str]],
    where: str,
    warning: str = "",
) -> List[str]:
    out = [f"  [{passage.id}]  {where}"]
    if warning:
        out += _wrap(f"NOTE: {warning}", "    ")
    if place is None:
        out += _wrap(f"NOT FOUND in the source: {passage.text}", "    ")
    else:
        out += _wrap(marked(place, whole_line=passage.route is not None), "    ")
    for topic in passage_topics(kb, passage):
        intents = intents_of(topic)
        if intents:
            label = f"topic {topic}: " + ", ".join(intents)
        elif topic.startswith("route:"):
            label = f"topic {topic}: a question naming this route ({', '.join(ROUTE_INTENTS)})"
        else:
            label = f"topic {topic}: no intent of its own (the planner, b12/answering.py, picks it)"
        out += _wrap(label, "    ")
        out += [f'      - "{q}"' for q in questions(topic, examples)]
    return out + [""]


def review_status(path: Path) -> str:
    try:
        kb = load_knowledge(path)
    except KnowledgeError as e:
        return f"REFUSED by the loader: {e}"
    review = kb.review
    assert review is not None
    kind = "a clinical sign-off" if review.clinical else "NOT a clinical sign-off"
    return f"{review.reviewed_by}, {review.reviewed_on} ({kind}); it matches the source"


def report(path: Path = PASSAGES_FILE, data_dir: Path = DATA_DIR) -> str:
    """The reviewer's text: every passage and cell in source order, beside its source line."""
    kb = load_knowledge(path, check_review=False)
    data = read_file(path)
    source_path = path.parent / str(data["source"])
    source_bytes = source_path.read_bytes()
    lines = _norm_lines(kb.source_text)
    examples = nlu_examples(data_dir)
    sections = source_sections(kb.source_text)

    def section_of(line: int) -> str:
        return next((s.heading for s in sections if s.first_line <= line <= s.last_line), "")

    placed: List[Tuple[int, int, List[str]]] = []
    for passage in kb.passages.values():
        if passage.route is not None:
            continue
        place = locate(passage, lines)
        where = f"line {place.line}" if place else "line ?"
        warning = ""
        if place and section_of(place.line) != passage.section:
            warning = f"the file says it is from section {passage.section!r}, but it is quoted from this one"
        entry = _entry(kb, passage, place, examples, where, warning)
        placed.append((place.line if place else 0, place.start if place else 0, entry))
    for feature in FEATURES:
        for route in ROUTES:
            passage = kb.cell(route, feature)
            place = locate_cell(kb, route, feature, lines)
            label = data["table"]["routes"][route]
            row = data["table"]["features"][feature]
            where = f"line {place.line if place else '?'}, table row {row!r}, column {label!r}"
            entry = _entry(kb, passage, place, examples, where)
            placed.append((place.line if place else 0, place.start if place else 0, entry))
    placed.sort(key=lambda item: (item[0], item[1]))

    out = [
        f"Review of {_shown(path)} against {_shown(source_path)}",
        f"Source: {kb.source_title!r} {kb.source_url}",
        f"Source SHA-256: {source_sha256(source_bytes)}",
        f"Recorded review: {review_status(path)}",
        f"{len(kb.passages) - len(ROUTES) * len(FEATURES)} passages, {len(ROUTES) * len(FEATURES)} table cells, "
        f"{len(sections)} sections.",
        "",
        "Check, for each entry: the quote (between >>> and <<<) says what its topics need, it reads",
        "right out of its context, and the example questions are fairly answered by it.",
        f'Then sign: make review SIGN="clinical content lead"  (roles: {", ".join(REVIEWER_ROLES)}).',
        "",
    ]
    for section in sections:
        out += [f"== {section.heading}  (lines {section.first_line}-{section.last_line}) ==", ""]
        inside = [e for line, _, e in placed if section.first_line <= line <= section.last_line]
        if not inside:
            out += ["  (no passage quotes this section)", ""]
        for entry in inside:
            out += entry
    lost = [e for line, _, e in placed if line == 0]
    if lost:
        out += ["== Not found in the source ==", ""] + [line for e in lost for line in e]
    return "\n".join(out).rstrip() + "\n"


# --- recording a review --------------------------------------------------------------------------


def review_block(role: str, day: datetime.date, source_raw: bytes, data: Dict[str, Any]) -> str:
    """The `review:` block for `role` signing on `day` against `source_raw`."""
    if REVIEWER_ROLES[role]:
        note = [
            f"  # Signed by the {role} after reading `make review` against the source whose hashes",
            "  # follow. A change to the source refuses this file until it is reviewed and signed again.",
        ]
    else:
        note = [
            f"  # A content-engineering check by the {role}, NOT a clinical sign-off: quotes, sections",
            "  # and hashes were checked against the source; no clinician has reviewed this file, and",
            "  # nothing may claim one did. A clinical content lead should read `make review` and sign:",
            '  # make review SIGN="clinical content lead" (docs/content.md: reviewing).',
        ]
    sections = source_sections(source_raw.decode("utf-8"))
    lines = ["review:", *note]
    lines += [
        f"  reviewed_by: {json.dumps(role)}",
        f"  reviewed_on: {day.isoformat()}",
        f'  source_sha256: "{source_sha256(source_raw)}"',
        "  # heading -> SHA-256 of the section's lines, in source order: the loader names what changed",
        "  sections:",
    ]
    lines += [f'    {json.dumps(s.heading, ensure_ascii=False)}: "{s.sha256}"' for s in sections]
    lines += ["  # each part of this file -> SHA-256: a changed passage or answer needs a new review", "  content:"]
    lines += [f'    {key}: "{digest}"' for key, digest in content_hashes(data).items()]
    return "\n".join(lines) + "\n"


def block_span(text: str) -> Tuple[int, int]:
    """Offsets of the `review:` block: its top-level line and the indented lines after it."""
    lines = text.splitlines(keepends=True)
    offset, start = 0, None
    for line in lines:
        if start is None and line.rstrip("\r\n") == "review:":
            start = offset
        elif start is not None and not line.startswith((" ", "\t")):
            return start, offset
        offset += len(line)
    if start is None:
        raise KnowledgeError("no top-level 'review:' line to rewrite")
    return start, offset


def sign(path: Path, role: str, today: Optional[datetime.date] = None) -> str:
    """Record a review by `role` today: rewrite only the `review:` block of `path`, keeping every
    other byte, and return the new block. Refuses a role that is not a reviewer role, and a file
    that does not load but for its review (the trial copy is loaded whole before it replaces it)."""
    role = role.strip() if isinstance(role, str) else role
    problem = check_role(role)
    if problem:
        raise KnowledgeError(f"{path}: 'review.reviewed_by' {problem}")
    load_knowledge(path, check_review=False)  # the rest of the file must be sound first
    text = path.read_bytes().decode("utf-8")  # as it is: no newline translation
    try:
        start, end = block_span(text)
    except KnowledgeError as e:
        raise KnowledgeError(f"{path}: {e}") from None
    data = read_file(path)
    source_raw = (path.parent / str(data["source"])).read_bytes()
    day = today or datetime.datetime.now(datetime.timezone.utc).date()
    block = review_block(role, day, source_raw, data)
    new = text[:start] + block + text[end:]
    trial = path.with_name(path.name + ".signing")
    trial.write_bytes(new.encode("utf-8"))
    try:
        load_knowledge(trial)
        if {k: v for k, v in read_file(trial).items() if k != "review"} != {
            k: v for k, v in data.items() if k != "review"
        }:
            raise KnowledgeError(f"{path}: signing would change more than the 'review' block")
        trial.replace(path)
    finally:
        trial.unlink(missing_ok=True)
    return block


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m b12.review", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the report to this file instead of the terminal")
    parser.add_argument("--sign", metavar="ROLE", help="record a review by ROLE today (a role, never a name)")
    parser.add_argument("--file", type=Path, default=PASSAGES_FILE, help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        if args.sign is not None:
            sign(args.file, args.sign)
            print(f"{_shown(args.file)}: review recorded: {args.sign.strip()}, today, against the current source.")
            return 0
        text = report(args.file)
    except KnowledgeError as e:
        print(f"b12/review.py: {e}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"Wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
