"""extensions/fixes.py: each runtime fix does what its docstring says, and importing does nothing.
The speed fixes change how fast Rasa checks action server replies and reaches the action
server, never what it accepts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jsonschema
import pytest
from jsonschema import ValidationError, validators
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from extensions import fixes

GOOD = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "topic", "value": "lifelong", "timestamp": None}],
        "responses": [{"text": "hi"}],
    },
    {"events": [{"event": "bot", "text": "hello"}, {"event": "action", "name": "action_listen"}]},
]
BAD = [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "value": 1}]},  # no name
    {"responses": [1, 2]},
    ["not", "an", "object"],
]


@pytest.fixture()
def fast_validate(monkeypatch):
    monkeypatch.setattr(jsonschema, "validate", jsonschema.validate)  # restored after the test
    original = jsonschema.validate
    fixes.cache_schema_validators()
    return original, jsonschema.validate


@pytest.mark.parametrize("reply", GOOD + BAD)
def test_action_replies_are_judged_as_by_jsonschema(fast_validate, reply):
    original, fast = fast_validate
    schema = RemoteAction.action_response_format_spec()

    def outcome(validate):
        try:
            validate(reply, schema)
            return None
        except ValidationError as error:
            return (error.message, list(error.path))

    assert outcome(fast) == outcome(original)
    assert (outcome(fast) is None) == (reply in GOOD)


def test_rasas_action_schema_uses_only_draft_7_keywords():
    """Why checking it as draft 7 is the same check: it validates as a draft-7 schema and
    names none of the keywords newer drafts added."""
    schema = RemoteAction.action_response_format_spec()
    validators.Draft7Validator.check_schema(schema)
    text = str(schema)
    for keyword in ("$dynamicRef", "$defs", "prefixItems", "unevaluated", "dependentRequired", "$schema"):
        assert keyword not in text


def test_each_schema_is_checked_once(fast_validate, monkeypatch):
    _, fast = fast_validate
    checks = []
    original_check = validators.Draft7Validator.check_schema
    monkeypatch.setattr(
        validators.Draft7Validator, "check_schema", classmethod(lambda cls, s: checks.append(1) or original_check(s))
    )
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "title": "checked once"}
    for _ in range(5):
        fast({"n": 1}, dict(schema))  # a new but equal dict each time, as Rasa builds it
    with pytest.raises(ValidationError):
        fast({"n": "x"}, dict(schema))
    assert len(checks) == 1


def test_a_bad_schema_still_fails(fast_validate):
    _, fast = fast_validate
    with pytest.raises(jsonschema.SchemaError):
        fast({}, {"type": "no_such_type"})


def test_action_server_sessions_share_one_connection_pool(monkeypatch):
    monkeypatch.setattr(EndpointConfig, "session", EndpointConfig.session)  # restored after
    fixes.share_action_server_connections()
    endpoint = EndpointConfig("http://127.0.0.1:5055/webhook")

    async def two_sessions():
        first, second = endpoint.session(), endpoint.session()
        same = first.connector is second.connector and not first.connector_owner
        await first.close()
        still_open = not second.connector.closed  # closing a session keeps the pool
        await second.close()
        return same, still_open

    assert asyncio.run(two_sessions()) == (True, True)


def test_rasa_drops_idle_action_connections_before_any_action_server_does():
    """Reusing a connection while the action server closes it fails the action: Rasa's idle
    limit stays below rasa_sdk's Sanic default (5 s) and this project's action server's."""
    from sanic.config import DEFAULT_CONFIG

    from scripts import action_server

    idle = fixes.ACTION_CONNECTION_IDLE_SECONDS
    assert idle < DEFAULT_CONFIG["KEEP_ALIVE_TIMEOUT"] / 2
    assert idle < action_server.KEEP_ALIVE_SECONDS / 2


def test_the_shared_pool_uses_the_idle_limit(monkeypatch):
    monkeypatch.setattr(EndpointConfig, "session", EndpointConfig.session)  # restored after
    fixes.share_action_server_connections()

    async def idle_limit():
        session = EndpointConfig("http://127.0.0.1:5055/webhook").session()
        limit = session.connector._keepalive_timeout
        await session.close()
        return limit

    assert asyncio.run(idle_limit()) == fixes.ACTION_CONNECTION_IDLE_SECONDS


def test_the_action_timeout_fix_sets_how_long_rasa_waits(monkeypatch):
    import rasa.core.actions.action as rasa_action

    monkeypatch.setattr(rasa_action, "DEFAULT_REQUEST_TIMEOUT", rasa_action.DEFAULT_REQUEST_TIMEOUT)
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 300  # Rasa's own: five minutes behind a hung server
    fixes.bound_action_timeout(5)
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 5.0


def test_pooled_tracker_store_connections_are_tested_on_checkout(monkeypatch):
    import rasa.core.tracker_store as rasa_tracker_store

    monkeypatch.setattr(rasa_tracker_store, "create_engine_kwargs", rasa_tracker_store.create_engine_kwargs)
    url = "postgresql://rasa@127.0.0.1/rasa"
    assert "pool_pre_ping" not in rasa_tracker_store.create_engine_kwargs(url)
    fixes.ping_pooled_connections()
    once = rasa_tracker_store.create_engine_kwargs
    fixes.ping_pooled_connections()  # twice is once: not wrapped again
    assert rasa_tracker_store.create_engine_kwargs is once
    assert rasa_tracker_store.create_engine_kwargs(url)["pool_pre_ping"] is True


def test_importing_the_fixes_changes_nothing():
    import subprocess
    import sys

    code = (
        "import jsonschema, rasa.core.actions.action as a, rasa.utils.endpoints as e; "
        "before = (jsonschema.validate, a.DEFAULT_REQUEST_TIMEOUT, e.EndpointConfig.session); "
        "import extensions.fixes, extensions.redaction, extensions.channels.rest, extensions.endpoints, logging, os; "
        "import extensions.components, extensions.tracker_store, extensions.lock_store, extensions.channels.slack; "
        "assert before == (jsonschema.validate, a.DEFAULT_REQUEST_TIMEOUT, e.EndpointConfig.session); "
        "assert not getattr(logging.getLogRecordFactory(), '_b12_redacting', False); "
        "assert 'SQLALCHEMY_SILENCE_UBER_WARNING' not in os.environ; print('unchanged')"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "SQLALCHEMY_SILENCE_UBER_WARNING"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=fixes.settings.ROOT
    )
    assert done.stdout.strip().endswith("unchanged"), done.stderr[-2000:]


def test_an_action_error_is_answered_without_the_request(caplog):
    from rasa_sdk.endpoint import create_app

    app = create_app("actions", cors_origins=None)
    fixes.hide_action_errors(app)
    handler = app.error_handler.lookup(ValueError("tracker: my name is Zebulon"), None)
    assert handler is not None and handler.__name__ == "on_error"
    with caplog.at_level("ERROR"):
        reply = asyncio.run(handler(None, ValueError("tracker: my name is Zebulon")))
    assert reply.status == 500
    assert reply.body == b'{"error":"The action failed (ValueError)."}'
    assert "Zebulon" not in caplog.text and "ValueError" in caplog.text


def test_the_launcher_reads_relative_paths_from_the_callers_folder():
    from scripts.rasa_server import absolute_paths

    cwd = Path("/home/me/checkout")
    argv = ["run", "--model", "models/m.tar.gz", "--endpoints=.run/e.yml", "--ssl-keyfile", "/etc/k.pem", "-m"]
    assert absolute_paths(argv, cwd) == [
        "run",
        "--model",
        "/home/me/checkout/models/m.tar.gz",
        "--endpoints=/home/me/checkout/.run/e.yml",
        "--ssl-keyfile",
        "/etc/k.pem",
        "-m",  # an option with nothing after it is left to rasa to report
    ]


class BrokenStore:
    """A primary tracker store whose database has gone."""

    domain = None
    event_broker = None

    async def save(self, tracker):
        raise OSError("disk I/O error: INSERT ... ('my son''s b12 is low', ...)")

    async def retrieve(self, sender_id):
        raise OSError("no such table: events")

    async def retrieve_full_tracker(self, sender_id):
        raise OSError("no such table: events")


def test_a_failed_save_or_read_is_never_hidden(monkeypatch, caplog):
    from rasa.core.tracker_store import FailSafeTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    for name in ("save", "retrieve", "retrieve_full_tracker"):
        monkeypatch.setattr(FailSafeTrackerStore, name, getattr(FailSafeTrackerStore, name))
    monkeypatch.setattr(FailSafeTrackerStore, "_b12_no_fallback", False, raising=False)
    monkeypatch.setattr(fixes, "STORE_FAILURES", {"save": 0, "retrieve": 0})
    store = FailSafeTrackerStore(BrokenStore())
    tracker = DialogueStateTracker("rest:someone", [])
    assert asyncio.run(store.retrieve("rest:someone")) is None  # Rasa: a new, empty conversation
    asyncio.run(store.save(tracker))  # Rasa: kept in memory only, lost on restart
    assert asyncio.run(store.fallback_tracker_store.retrieve("rest:someone")) is not None
    assert "my son" in caplog.text  # and Rasa's log line quotes the database error's parameters
    caplog.clear()

    fixes.no_silent_tracker_store_fallback()
    store = FailSafeTrackerStore(BrokenStore())
    with caplog.at_level("ERROR"):
        with pytest.raises(fixes.TrackerStoreError, match="save failed"):
            asyncio.run(store.save(tracker))
        with pytest.raises(fixes.TrackerStoreError, match="retrieve failed"):
            asyncio.run(store.retrieve("rest:someone"))
    assert fixes.STORE_FAILURES == {"save": 1, "retrieve": 1}
    assert asyncio.run(store.fallback_tracker_store.retrieve("rest:someone")) is None  # nothing kept aside
    assert "OSError" in caplog.text and "son" not in caplog.text  # the error's type, never its message
