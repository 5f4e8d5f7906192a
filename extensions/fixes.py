"""Runtime fixes to Rasa 3.6 and rasa_sdk, one function per fix, each with its reason. Importing
this module changes nothing: the launchers (scripts/rasa_server.py, scripts/action_server.py)
call `apply_rasa_fixes()` and `hide_action_errors(app)`. Tests: tests/unit/test_fixes.py.
"""

from __future__ import annotations

from typing import Any

from b12 import settings


def bound_action_timeout(seconds: float) -> None:
    """How long Rasa waits for the action server before the custom action counts as failed.

    Rasa's own limit is 300 s (rasa.core.constants DEFAULT_REQUEST_TIMEOUT, read at call time by
    rasa.core.actions.action.RemoteAction.run), which would leave a user waiting five minutes
    behind a hung action server. The REST channel answers a failed action with a safe message."""
    import rasa.core.actions.action as rasa_action

    rasa_action.DEFAULT_REQUEST_TIMEOUT = float(seconds)


def ping_pooled_connections() -> None:
    """pool_pre_ping for the SQL tracker store's connections, so a database restart loses no turn.

    Without it, after a database restart each pooled connection fails once, and Rasa's
    FailSafeTrackerStore then keeps that turn in memory only (measured: 1 of 4 turns missing from
    PostgreSQL). SQLTrackerStore calls rasa.core.tracker_store.create_engine_kwargs when built."""
    import rasa.core.tracker_store as rasa_tracker_store

    engine_kwargs = rasa_tracker_store.create_engine_kwargs
    if getattr(engine_kwargs, "_b12_pre_ping", False):
        return

    def create_engine_kwargs(url):
        return {"pool_pre_ping": True, **engine_kwargs(url)}

    create_engine_kwargs._b12_pre_ping = True  # type: ignore[attr-defined]
    rasa_tracker_store.create_engine_kwargs = create_engine_kwargs


def cache_schema_validators() -> None:
    """Replace jsonschema.validate (imported by Rasa at call time) with a version that checks
    and compiles each distinct schema once. Raises the same errors as the original.

    Rasa validates every action server response with `jsonschema.validate(result, schema)`,
    which re-checks the schema itself against the draft 2020-12 meta-schema on every call.
    Profiled (py-spy, make bench): about 40 ms of CPU per message, half of the Rasa server's
    time. A schema that names no draft is checked as draft 7 (Rasa's use only draft-7 keywords;
    see tests/unit/test_fixes.py)."""
    import json
    from functools import lru_cache

    import jsonschema
    from jsonschema import exceptions, validators

    original = jsonschema.validate

    @lru_cache(maxsize=64)
    def compiled(cls, schema_json: str):
        schema = json.loads(schema_json)
        # Rasa's schemas name no draft and use only draft-7 keywords; draft 7 validates them
        # the same, without draft 2020-12's dynamic references (profiled: ~2 ms a message).
        cls = cls or validators.validator_for(schema, default=validators.Draft7Validator)
        cls.check_schema(schema)  # a bad schema raises SchemaError and is not cached
        return cls(schema)

    def validate(instance, schema, cls=None, *args, **kwargs):
        if args or kwargs:
            return original(instance, schema, cls, *args, **kwargs)
        try:
            key = json.dumps(schema, sort_keys=True)
        except (TypeError, ValueError):
            return original(instance, schema, cls)
        error = exceptions.best_match(compiled(cls, key).iter_errors(instance))
        if error is not None:
            raise error

    jsonschema.validate = validate


ACTION_CONNECTION_IDLE_SECONDS = 2.0


def share_action_server_connections() -> None:
    """EndpointConfig.session() returns sessions over one shared connector per event loop
    (the session is closed after each request as before; the connector and its kept-alive
    connections are not).

    Rasa opens a new aiohttp session, and so a new TCP connection, for every action call
    (rasa.utils.endpoints.EndpointConfig.session); profiled: ~3 ms per message. A connection the
    action server closed (restart, crash) is dropped from the pool when the close arrives.
    Idle connections are closed after ACTION_CONNECTION_IDLE_SECONDS, well before the action
    server closes them (scripts/action_server.py keeps 15 s): reusing a connection at the moment
    the server closes it failed an action in a test run ("Cannot write to closing transport")."""
    import asyncio

    import aiohttp
    import rasa.utils.endpoints as rasa_endpoints
    from rasa.utils.endpoints import EndpointConfig

    connectors: dict = {}

    def session(self: EndpointConfig) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        connector = connectors.get(loop)
        if connector is None or connector.closed:
            connector = connectors[loop] = aiohttp.TCPConnector(
                keepalive_timeout=ACTION_CONNECTION_IDLE_SECONDS, limit=64
            )
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        return aiohttp.ClientSession(  # as Rasa's EndpointConfig.session, plus the shared connector
            connector=connector,
            connector_owner=False,
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=rasa_endpoints.DEFAULT_REQUEST_TIMEOUT),
        )

    EndpointConfig.session = session


# Tracker store failures in this process since it started: `GET /webhooks/rest/` reports them,
# and `make bench` and `make soak` print them.
STORE_FAILURES = {"save": 0, "retrieve": 0}


class TrackerStoreError(RuntimeError):
    """The conversation could not be read or saved; the turn ends with the safe reply."""


def no_silent_tracker_store_fallback() -> None:
    """Rasa's FailSafeTrackerStore, without its silent fallbacks.

    When the database write fails, Rasa keeps the turn in an unbounded in-memory store and the
    user gets a normal reply: the turn is lost on restart, and `make forget` and retention cannot
    see it. When a read fails, Rasa goes on with a new, empty conversation, and the save at the
    end of the turn then writes nothing (SQLTrackerStore appends only the events past those
    already stored). Here both raise instead: the REST channel ends the turn with its safe reply,
    the error is logged by type only (its message can quote the conversation), and
    STORE_FAILURES counts it."""
    import logging

    from rasa.core.tracker_store import FailSafeTrackerStore

    if getattr(FailSafeTrackerStore, "_b12_no_fallback", False):
        return
    log = logging.getLogger("extensions.fixes")

    def failed(kind: str, error: Exception) -> TrackerStoreError:
        STORE_FAILURES[kind] += 1
        log.error(
            "The tracker store could not %s a conversation (%s); the turn ends with the safe reply.",
            kind,
            type(error).__name__,
        )
        return TrackerStoreError(f"tracker store {kind} failed ({type(error).__name__})")

    async def save(self, tracker):
        try:
            await self._tracker_store.save(tracker)
        except Exception as e:
            raise failed("save", e) from None

    async def retrieve(self, sender_id):
        try:
            return await self._tracker_store.retrieve(sender_id)
        except Exception as e:
            raise failed("retrieve", e) from None

    async def retrieve_full_tracker(self, sender_id):
        try:
            return await self._tracker_store.retrieve_full_tracker(sender_id)
        except Exception as e:
            raise failed("retrieve", e) from None

    FailSafeTrackerStore.save = save
    FailSafeTrackerStore.retrieve = retrieve
    FailSafeTrackerStore.retrieve_full_tracker = retrieve_full_tracker
    FailSafeTrackerStore._b12_no_fallback = True


def apply_rasa_fixes() -> None:
    """Every fix the Rasa server runs with. SPEED_FIXES=0 leaves out the two speed fixes (and
    extensions/endpoints.py then writes Rasa's plain SQL tracker store): `make bench` measures
    with and without them in the same run."""
    bound_action_timeout(settings.get("ACTION_TIMEOUT"))
    ping_pooled_connections()
    no_silent_tracker_store_fallback()
    if settings.get("SPEED_FIXES"):
        cache_schema_validators()
        share_action_server_connections()


def hide_action_errors(app: Any) -> None:
    """The action server's answer to an exception in an action, without the request in it.

    rasa_sdk's own handler answers a 500 with the whole request (the tracker, so the user's
    messages) in its body, and Rasa then logs that body in its own traceback. This one logs the
    exception's type and where it happened (its message can quote the tracker) and answers with
    the type only."""
    import logging
    import traceback

    from sanic import response
    from sanic.exceptions import SanicException

    log = logging.getLogger("action_server")

    @app.exception(Exception)
    async def on_error(request, exception):
        if isinstance(exception, SanicException):
            return response.json({"error": str(exception)}, status=exception.status_code)
        frames = "".join(traceback.format_tb(exception.__traceback__))
        log.error("Action failed with %s:\n%s", type(exception).__name__, frames)
        return response.json({"error": f"The action failed ({type(exception).__name__})."}, status=500)
