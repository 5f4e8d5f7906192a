"""Start the rasa_sdk action server bound to the loopback interface only.

`python -m rasa_sdk` binds 0.0.0.0 unless SANIC_HOST is set; the action server has no
authentication and only the Rasa server should ever call it, so this launcher binds
127.0.0.1 by default and never a wildcard address unless explicitly allowed.

    python scripts/action_server.py [--port 5055] [--actions actions] [--host 127.0.0.1]

Env: ACTIONS_HOST (127.0.0.1), ACTIONS_PORT (5055), ACTIONS_LOG_LEVEL (INFO),
     ACTION_SERVER_SANIC_WORKERS (1), ACTIONS_ALLOW_PUBLIC=1 to allow a non-loopback --host
     (only on a private network, e.g. a pod network behind a NetworkPolicy).
No CORS: browsers never call the action server.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# How long an idle kept-alive connection from Rasa stays open. Rasa's side closes its idle
# connections sooner (scripts/rasa_server.py: ACTION_CONNECTION_IDLE_SECONDS), so it never
# sends a message on a connection this server is closing.
KEEP_ALIVE_SECONDS = 15


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", default="actions", help="package with the custom actions")
    parser.add_argument("--host", default=os.environ.get("ACTIONS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTIONS_PORT", "5055")))
    args = parser.parse_args(argv)

    if not is_loopback(args.host) and os.environ.get("ACTIONS_ALLOW_PUBLIC") != "1":
        parser.error(
            f"refusing to bind the action server to {args.host!r}: it has no authentication. "
            "Set ACTIONS_ALLOW_PUBLIC=1 only on a private network (see docs/deployment.md)."
        )

    # Actions import the project's packages (actions/, knowledge/) relative to the root.
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))

    level = os.environ.get("ACTIONS_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s - %(message)s", stream=sys.stdout)
    # Sanic's access log carries only method, path and status; keep it off all the same.
    logging.getLogger("sanic.access").setLevel(logging.WARNING)

    from rasa_sdk.endpoint import create_app
    from rasa_sdk.utils import number_of_sanic_workers
    from sanic import response
    from sanic.exceptions import SanicException

    app = create_app(args.actions, cors_origins=None)
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_SECONDS
    log = logging.getLogger("action_server")

    # Replaces rasa_sdk's handler, which answers a 500 with the whole request (the tracker, so
    # the user's messages) in its body; Rasa then logs that body in its own traceback.
    @app.exception(Exception)
    async def on_error(request, exception):
        if isinstance(exception, SanicException):
            return response.json({"error": str(exception)}, status=exception.status_code)
        frames = "".join(traceback.format_tb(exception.__traceback__))
        # The exception's message can quote the tracker; log its type and where it happened.
        log.error("Action failed with %s:\n%s", type(exception).__name__, frames)
        return response.json({"error": f"The action failed ({type(exception).__name__})."}, status=500)

    logging.getLogger(__name__).info("Action server on http://%s:%s (loopback only)", args.host, args.port)
    # ACTION_SERVER_SANIC_WORKERS (rasa_sdk's own setting, default 1): worker processes.
    app.run(host=args.host, port=args.port, workers=number_of_sanic_workers(), access_log=False, motd=False)


if __name__ == "__main__":
    main()
