"""Run `rasa run ...` with two settings that the rasa CLI cannot take from the environment.

    python scripts/rasa_server.py run --model ... [other `rasa run` arguments]

- RASA_API_TOKEN: with --enable-api, added as `--auth-token` after the process has started,
  so the token never appears in the process's command line (`ps`, /proc/PID/cmdline).
  --enable-api without a token (or --jwt-secret) is refused.
- ACTION_TIMEOUT (seconds, default 5): how long Rasa waits for the action server before the
  custom action counts as failed. Rasa's own limit is 300 s (rasa.core.constants
  DEFAULT_REQUEST_TIMEOUT, read at call time by rasa.core.actions.action.RemoteAction.run),
  which would leave a user waiting five minutes behind a hung action server. The REST channel
  (channels/rest.py) answers a failed action with a safe message.
- pool_pre_ping for the SQL tracker store's connections, so a database restart loses no turn
  (SQLTrackerStore calls rasa.core.tracker_store.create_engine_kwargs at construction).
- jsonschema.validate with each distinct schema checked and compiled once: Rasa validates
  every action server response with `jsonschema.validate(result, schema)`, which re-checks the
  schema itself against the draft 2020-12 meta-schema on every call. Profiled (py-spy, make
  bench): about 40 ms of CPU per message, half of the Rasa server's time. Same result and
  same errors, without the repeated meta-schema check. A schema that names no draft is
  checked as draft 7 (Rasa's use only draft-7 keywords; see tests/test_rasa_server.py).
- Kept-alive connections to the action server: Rasa opens a new aiohttp session, and so a new
  TCP connection, for every action call (rasa.utils.endpoints.EndpointConfig.session).
  The sessions now share one connection pool per event loop (profiled: ~3 ms per message).
  A connection the action server closed (restart, crash) is dropped from the pool when the
  close arrives, so the next call opens a new one. Idle connections are closed after
  ACTION_CONNECTION_IDLE_SECONDS (2), well before any action server closes them (rasa_sdk's
  Sanic default is 5 s; scripts/action_server.py keeps 15 s): reusing a connection at the moment
  the server closes it failed an action in a test run ("Cannot write to closing transport").
- SPEED_FIXES=0 turns the two fixes above off (and scripts/store_config.py then writes Rasa's
  plain SQL tracker store): `make bench` measures with and without them in the same run.
- RASA_TELEMETRY_ENABLED defaults to false: Rasa's telemetry and its Sentry error reports,
  whose exception messages can quote a user's data, stay off unless explicitly enabled.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cache_schema_validators() -> None:
    """Replace jsonschema.validate (imported by Rasa at call time) with a version that checks
    and compiles each distinct schema once. Raises the same errors as the original."""
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
    connections are not)."""
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


def main() -> None:
    # Rasa's telemetry and Sentry error reports (which carry exception messages): off unless asked.
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    argv = sys.argv[1:]
    if "--enable-api" in argv and "--jwt-secret" not in argv:
        token = os.environ.get("RASA_API_TOKEN", "")
        if not token:
            sys.exit("--enable-api needs RASA_API_TOKEN in the environment (the HTTP API is never open).")
        if "--auth-token" in argv or "-t" in argv:
            sys.exit("Pass the API token as RASA_API_TOKEN, not on the command line.")
        argv += ["--auth-token", token]
    sys.argv = ["rasa", *argv]

    # The project root first, so credentials.yml's `channels.*` and the config's
    # `components.*` import, whatever the working directory.
    sys.path[0] = str(ROOT)  # instead of scripts/, whose file names could shadow modules

    import rasa.core.actions.action as rasa_action
    import rasa.core.tracker_store as rasa_tracker_store

    rasa_action.DEFAULT_REQUEST_TIMEOUT = float(os.environ.get("ACTION_TIMEOUT", "5"))

    # SQLTrackerStore's engine without pool_pre_ping: after a database restart each pooled
    # connection fails once, and Rasa's FailSafeTrackerStore then keeps that turn in memory
    # only (measured: 1 of 4 turns missing from PostgreSQL). Test connections on checkout.
    engine_kwargs = rasa_tracker_store.create_engine_kwargs

    def create_engine_kwargs(url):
        return {"pool_pre_ping": True, **engine_kwargs(url)}

    rasa_tracker_store.create_engine_kwargs = create_engine_kwargs

    if os.environ.get("SPEED_FIXES", "1") != "0":  # 0: Rasa as shipped (make bench compares)
        cache_schema_validators()
        share_action_server_connections()

    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
