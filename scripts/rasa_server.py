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
- RASA_TELEMETRY_ENABLED defaults to false: Rasa's telemetry and its Sentry error reports,
  whose exception messages can quote a user's data, stay off unless explicitly enabled.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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

    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
