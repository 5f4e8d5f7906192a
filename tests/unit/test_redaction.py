"""extensions/redaction.py: installed by the launcher, it keeps a turn's text and sender id out
of every log record made while the turn is handled."""

import logging

import pytest

from extensions import redaction


@pytest.fixture
def installed():
    previous = logging.getLogRecordFactory()
    assert not redaction.installed()  # importing the REST channel or this module changed nothing
    redaction.install()
    redaction.install()  # twice is once
    yield
    logging.setLogRecordFactory(previous)


def record(message: str, *args) -> logging.LogRecord:
    return logging.getLogger("rasa.core.processor").makeRecord(
        "rasa.core.processor", logging.ERROR, __file__, 1, message, args, None
    )


def test_a_turns_text_and_sender_never_reach_a_log_record(installed):
    turn = redaction.Turn("my name is Zebulon, call me on 07700 900123", "sender-abc-123")
    token = redaction.TURN.set(turn)
    try:
        logged = record("failed on %r for %s", "my name is Zebulon, call me on 07700 900123", "sender-abc-123")
        assert logged.getMessage() == f"failed on '[message]' for {redaction.opaque_id('sender-abc-123')}"
        assert "Zebulon" not in logged.getMessage() and "sender-abc-123" not in logged.getMessage()
        assert not turn.action_failed
        record("Encountered an exception while running action 'action_answer_question'")
        assert turn.action_failed  # the REST channel then ends the reply with its safe reply
    finally:
        redaction.TURN.reset(token)
    outside = record("between turns: %s", "sender-abc-123")
    assert outside.getMessage() == "between turns: sender-abc-123"


def test_the_opaque_id_is_stable_and_not_the_id():
    assert redaction.opaque_id("abc") == redaction.opaque_id("abc") != redaction.opaque_id("abd")
    assert "abc" not in redaction.opaque_id("abc")
