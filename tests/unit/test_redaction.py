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


APOSTROPHE = "my son's b12 is low, his name is Quillon Vantreight"


def redacted(turn: redaction.Turn, line: str) -> str:
    out = turn.redact(line)
    assert "Quillon" not in out and "Vantreight" not in out and "son" not in out, out
    return out


def test_every_form_of_the_text_is_redacted():
    import json

    text = APOSTROPHE + ' "quoted"\nnext line, café'
    turn = redaction.Turn(text, "U0123ABC")
    event = json.dumps({"event": "user", "text": text})
    lines = {
        "as typed": f"received {text}",
        "repr": f"received {text!r}",
        "repr in a tuple": str(("U0123ABC", text)),
        "JSON": json.dumps({"text": text}),
        "JSON, not ASCII": json.dumps({"text": text}, ensure_ascii=False),
        "repr of JSON (SQL parameters)": str(("U0123ABC", "user", event)),
        "JSON of JSON": json.dumps({"body": event}),
        "repr of JSON of JSON": repr(json.dumps({"body": event})),
    }
    for name, line in lines.items():
        out = redacted(turn, line)
        assert "[message]" in out, name
        assert "U0123ABC" not in out, name
    assert repr(text)[1:-1] != text  # the repr form differs from the typed one: the check can fail


def test_a_long_text_cut_short_in_a_log_line_is_redacted():
    from sqlalchemy.sql.util import _repr_params

    text = APOSTROPHE + ". " + "He gets injections every month. " * 30 + "Call me at 07700 900123."
    turn = redaction.Turn(text, "s-1")
    shortened = repr(_repr_params((text,), 10))  # SQLAlchemy keeps the first and last 150 characters
    assert "characters truncated" in shortened and "07700" in shortened
    out = redacted(turn, shortened)
    assert "07700" not in out and "injections" not in out


def test_a_database_error_during_a_turn_is_logged_without_the_text(installed, tmp_path, caplog):
    """A real SQLAlchemy error (parameters shown, as an engine without hide_parameters
    prints them: repr of the event's JSON, the apostrophe escaped as \\')."""
    import json

    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE events (sender_id TEXT, data TEXT CHECK (length(data) < 10))")
    turn = redaction.Turn(APOSTROPHE, "sender-abc-123")
    token = redaction.TURN.set(turn)
    try:
        with caplog.at_level(logging.ERROR):
            try:
                with engine.begin() as conn:
                    conn.execute(
                        sa.text("INSERT INTO events VALUES (:s, :d)"),
                        {"s": "sender-abc-123", "d": json.dumps({"text": APOSTROPHE})},
                    )
            except sa.exc.IntegrityError as error:
                assert "son\\'s" in str(error)  # the form the old redaction missed
                logging.getLogger("rasa.core.tracker_store").error(f"Could not save: {error}", exc_info=True)
    finally:
        redaction.TURN.reset(token)
    assert caplog.records
    for record in caplog.records:
        assert "Quillon" not in record.getMessage() and "son\\'s" not in record.getMessage()
        assert "sender-abc-123" not in record.getMessage()
        assert "Quillon" not in (record.exc_text or "")


def test_a_slack_message_is_handled_as_a_redacted_turn(installed, caplog):
    """extensions/channels/slack.py sets the turn around Rasa's process_message; Rasa answers
    in a task created there, which sees it."""
    import asyncio

    from rasa.core.channels.slack import SlackInput

    from extensions.channels.slack import EnvSlackInput

    channel = EnvSlackInput.from_env({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret"})
    assert isinstance(channel, EnvSlackInput)
    seen = []

    async def on_new_message(message):
        seen.append((message.text, redaction.TURN.get()))
        logging.getLogger("rasa.core.processor").error("failed on %r from %s", message.text, message.sender_id)
        raise RuntimeError(f"database down while saving {message.text!r}")

    class Request:
        headers: dict = {}

    async def scenario():
        with caplog.at_level(logging.ERROR):
            await channel.process_message(Request(), on_new_message, APOSTROPHE, "U0SLACK123", {"out_channel": "D1"})
            for _ in range(5):
                await asyncio.sleep(0)  # the answering task
            await asyncio.gather(*channel._background_tasks, return_exceptions=True)

    assert SlackInput.process_message is not EnvSlackInput.process_message
    asyncio.run(scenario())
    assert seen and seen[0][0] == APOSTROPHE and seen[0][1] is not None
    assert redaction.TURN.get() is None  # reset after the message
    messages = [r.getMessage() for r in caplog.records]
    assert any("[message]" in m for m in messages), messages
    for message in messages:
        assert "Quillon" not in message and "U0SLACK123" not in message, message
