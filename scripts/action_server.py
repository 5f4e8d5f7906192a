"""Start the rasa_sdk action server bound to the loopback interface only.

`python -m rasa_sdk` binds 0.0.0.0 unless SANIC_HOST is set; the action server has no
authentication and only the Rasa server should ever call it, so this launcher binds
127.0.0.1 by default and never a wildcard address unless explicitly allowed.

    python scripts/action_server.py [--port 5055] [--actions actions] [--host 127.0.0.1]

Settings (b12/settings.py): ACTIONS_HOST, ACTIONS_PORT, ACTIONS_LOG_LEVEL,
ACTION_SERVER_SANIC_WORKERS, ACTIONS_ALLOW_PUBLIC=1 to allow a non-loopback --host (only on a
private network, e.g. a pod network behind a NetworkPolicy).
No CORS: browsers never call the action server. Errors in actions are answered without the
request in them (extensions/fixes.py: hide_action_errors).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# How long an idle kept-alive connection from Rasa stays open. Rasa's side closes its idle
# connections sooner (extensions/fixes.py: ACTION_CONNECTION_IDLE_SECONDS), so it never
# sends a message on a connection this server is closing.
KEEP_ALIVE_SECONDS = 15


def main(argv: list[str] | None = None) -> None:
    sys.path[0] = str(ROOT)  # the project's packages, not scripts/
    from b12 import settings

    try:
        settings.check()  # a bad value stops here, naming the variable
    except settings.SettingError as e:
        sys.exit(f"b12/settings.py: {e}")
    from b12.knowledge import KnowledgeError, get_knowledge

    try:
        get_knowledge()  # a refused knowledge file stops here, naming the file and what changed
    except KnowledgeError as e:
        sys.exit(f"The knowledge file is refused: {e}")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", default="actions", help="package with the custom actions")
    parser.add_argument("--host", default=settings.get("ACTIONS_HOST"))
    parser.add_argument("--port", type=int, default=settings.get("ACTIONS_PORT"))
    args = parser.parse_args(argv)

    if not settings.is_loopback(args.host) and not settings.get("ACTIONS_ALLOW_PUBLIC"):
        parser.error(
            f"refusing to bind the action server to {args.host!r}: it has no authentication. "
            "Set ACTIONS_ALLOW_PUBLIC=1 only on a private network (see docs/deployment.md)."
        )

    os.chdir(ROOT)
    level = settings.get("ACTIONS_LOG_LEVEL").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s - %(message)s", stream=sys.stdout)
    # Sanic's access log carries only method, path and status; keep it off all the same.
    logging.getLogger("sanic.access").setLevel(logging.WARNING)

    from rasa_sdk.endpoint import create_app
    from rasa_sdk.utils import number_of_sanic_workers

    from extensions.fixes import hide_action_errors

    app = create_app(args.actions, cors_origins=None)
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_SECONDS
    hide_action_errors(app)

    logging.getLogger(__name__).info("Action server on http://%s:%s (loopback only)", args.host, args.port)
    # ACTION_SERVER_SANIC_WORKERS (rasa_sdk's own setting, default 1): worker processes.
    app.run(host=args.host, port=args.port, workers=number_of_sanic_workers(), access_log=False, motd=False)


if __name__ == "__main__":
    main()
