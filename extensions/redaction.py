"""Log redaction for the Rasa process. The launcher (scripts/rasa_server.py) calls `install()`;
importing this module changes nothing.

Rasa logs no message text at INFO, but an exception's traceback can carry it (a failing
action's 500 body is the whole tracker). While a REST message is being handled (the channel
sets `TURN`), every log record created has that message's text replaced by "[message]" and the
sender id replaced by an opaque "sender#<hash>" (see `opaque_id`). The same hook notes when
Rasa reports a failed custom action, so the REST channel can end that reply with its safe reply.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Optional, Text

# rasa.core.processor.MessageProcessor._run_action logs this (logger.exception) when a custom
# action raises, then carries on without the action's events.
_ACTION_FAILED_PREFIX = "Encountered an exception while running action"


def opaque_id(sender_id: Optional[Text]) -> Text:
    """A stable, non-reversible stand-in for a sender id in logs."""
    digest = hashlib.sha256((sender_id or "").encode("utf-8", "surrogatepass")).hexdigest()
    return f"sender#{digest[:12]}"


@dataclass
class Turn:
    text: Text
    sender_id: Optional[Text]
    action_failed: bool = False

    def redact(self, line: Text) -> Text:
        if len(self.text.strip()) >= 3:
            # as typed, and as it appears inside JSON (a stored event, an SQL error's parameters)
            for form in {self.text, json.dumps(self.text)[1:-1], json.dumps(self.text, ensure_ascii=False)[1:-1]}:
                if form in line:
                    line = line.replace(form, "[message]")
        if self.sender_id and len(self.sender_id) >= 3 and self.sender_id in line:
            pattern = r"(?<![\w-])" + re.escape(self.sender_id) + r"(?![\w-])"
            line = re.sub(pattern, opaque_id(self.sender_id), line)
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
