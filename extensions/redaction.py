"""Log redaction for the Rasa process. The launcher (scripts/rasa_server.py) calls `install()`;
importing this module changes nothing.

Rasa logs no message text at INFO, but an exception's traceback can carry it (a failing
action's 500 body is the whole tracker; an SQL error's parameters hold the stored event). While
a REST or Slack message is being handled (the channel sets `TURN`), every log record created has
that message's text replaced by "[message]" and the sender id replaced by an opaque
"sender#<hash>" (see `opaque_id`). The same hook notes when Rasa reports a failed custom action,
so the REST channel can end that reply with its safe reply.

The text is found in every form a log line can carry it (`forms`): as typed; escaped for JSON
(a stored event, a tracker), or twice (that JSON inside a JSON body); and each of those escaped
as Python's repr() writes it, with or without escaped single quotes (a tuple or dict of
parameters, `%r`; an SQL error's parameters are the event's JSON, printed with repr). A long
text cut short in a log line (SQLAlchemy shortens a long parameter to its first and last 150
characters) is caught too: any run of at least `PIECE` characters that starts where a form
starts, or ends where it ends, is replaced. Each search moves forward through the line: linear
in its length. The sender id is replaced in the same forms.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, List, Optional, Text, Tuple

# rasa.core.processor.MessageProcessor._run_action logs this (logger.exception) when a custom
# action raises, then carries on without the action's events.
_ACTION_FAILED_PREFIX = "Encountered an exception while running action"


def opaque_id(sender_id: Optional[Text]) -> Text:
    """A stable, non-reversible stand-in for a sender id in logs."""
    digest = hashlib.sha256((sender_id or "").encode("utf-8", "surrogatepass")).hexdigest()
    return f"sender#{digest[:12]}"


PIECE = 24  # the shortest start or end of a text, cut short in a log line, that is redacted
_PY_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _py_escaped(text: Text, quote: Text = "") -> Text:
    """The inside of repr(text) when repr() picks `quote` to escape ("" when it escapes none)."""
    out = []
    for char in text:
        if char in _PY_ESCAPES:
            out.append(_PY_ESCAPES[char])
        elif char == quote:
            out.append("\\" + char)
        elif not char.isprintable():
            out.append(repr(char)[1:-1])
        else:
            out.append(char)
    return "".join(out)


def forms(text: Text) -> List[Text]:
    """`text` as a log line can carry it: as typed, JSON-escaped (once or twice), and each of
    those repr-escaped; longest first."""
    jsons = {text}
    for _ in range(2):  # JSON, and JSON of JSON (an event's JSON inside a JSON body)
        jsons |= {json.dumps(j, ensure_ascii=ascii)[1:-1] for j in jsons for ascii in (True, False)}
    found = {_py_escaped(j, quote) for j in jsons for quote in ("", "'")} | jsons
    return sorted(found, key=len, reverse=True)


def _pieces(line: Text, form: Text) -> List[Tuple[int, int]]:
    """Spans of `line` holding at least PIECE characters of `form`'s start, or of its end."""
    spans, head, tail = [], form[:PIECE], form[-PIECE:]
    at = line.find(head)
    while at != -1:
        end = at + PIECE
        while end < len(line) and end - at < len(form) and line[end] == form[end - at]:
            end += 1
        spans.append((at, end))
        at = line.find(head, end)
    at = line.rfind(tail)
    while at != -1:
        start, end = at, at + PIECE
        while start > 0 and end - start < len(form) and line[start - 1] == form[len(form) - (end - start) - 1]:
            start -= 1
        spans.append((start, end))
        at = line.rfind(tail, 0, start) if start > 0 else -1
    return spans


def _replace(line: Text, spans: List[Tuple[int, int]], mark: Text) -> Text:
    out, position = [], 0
    for start, end in sorted(spans):
        if start < position:  # overlaps the span before: one mark for both
            position = max(position, end)
            continue
        out += [line[position:start], mark]
        position = end
    return "".join(out) + line[position:]


@dataclass
class Turn:
    text: Text
    sender_id: Optional[Text]
    action_failed: bool = False

    def __post_init__(self) -> None:
        self._forms = forms(self.text) if len(self.text.strip()) >= 3 else []
        ids = forms(self.sender_id) if self.sender_id and len(self.sender_id) >= 3 else []
        bare = (self.sender_id or "").split(":", 1)[-1]  # "rest:<sender>" -> the client's own id
        if bare != self.sender_id and len(bare) >= 3:
            ids += forms(bare)
        self._id_patterns = [re.compile(r"(?<![\w-])" + re.escape(form) + r"(?![\w-])") for form in ids]

    def redact(self, line: Text) -> Text:
        for form in self._forms:
            if form in line:
                line = line.replace(form, "[message]")
        spans = [span for form in self._forms if len(form) > PIECE for span in _pieces(line, form)]
        if spans:
            line = _replace(line, spans, "[message]")
        for pattern in self._id_patterns:
            line = pattern.sub(opaque_id(self.sender_id), line)
        return line


TURN: contextvars.ContextVar[Optional[Turn]] = contextvars.ContextVar("rest_turn", default=None)


def install() -> None:
    """Redact every log record made during a REST turn; note failed custom actions."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_b12_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        turn = TURN.get()
        if turn is None:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging to report
            return record
        if record.name == "rasa.core.processor" and message.startswith(_ACTION_FAILED_PREFIX):
            turn.action_failed = True
        record.msg, record.args = turn.redact(message), None
        if record.exc_info:
            record.exc_text = turn.redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = turn.redact(record.stack_info)
        return record

    factory._b12_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def installed() -> bool:
    return bool(getattr(logging.getLogRecordFactory(), "_b12_redacting", False))
