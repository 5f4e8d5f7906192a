"""Every environment variable the project reads: its default and what it means. Standard library
only, no Rasa imports; nothing is read at import time.

    from b12 import settings
    settings.get("REST_REPLY_TIMEOUT")          # 30.0, or the environment's value as a float
    settings.path("TRACKER_DB")                 # an absolute Path, resolved from the project root

    python -m b12.settings                      # the table, for a person
    python -m b12.settings shell NAME...        # `NAME=value` lines, for scripts/serve.sh
    python -m b12.settings check                # every value readable? (the launchers run it)

Python code reads settings through `get()` and `path()`; the shell launchers take their defaults
from `python -m b12.settings shell`. A value that cannot be read (a port that is not a number,
a flag that is not 0 or 1) fails with a message that names the variable and what it expects.
Paths are resolved from the project root, never from the working directory.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Optional

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = ROOT / "knowledge"  # the vetted knowledge files


class Setting(NamedTuple):
    default: Optional[str]  # None: unset unless the environment sets it
    kind: str  # text, int, float, flag (exactly 0 or 1), path (resolved from ROOT), secret (never printed)
    meaning: str
    group: str


def _group(group: str, rows: Dict[str, tuple]) -> Dict[str, Setting]:
    return {name: Setting(*row, group=group) for name, row in rows.items()}


SETTINGS: Dict[str, Setting] = {
    **_group(
        "servers",
        {
            "RASA_PORT": ("5005", "int", "port of the Rasa server: REST channel, Slack webhook"),
            "RASA_INTERFACE": ("127.0.0.1", "text", "address the Rasa server listens on (0.0.0.0 in a container)"),
            "ACTIONS_PORT": ("5055", "int", "port of the action server"),
            "ACTIONS_HOST": ("127.0.0.1", "text", "address the action server listens on (loopback only)"),
            "ACTIONS_ALLOW_PUBLIC": ("0", "flag", "1 lets the action server listen beyond loopback"),
            "ACTIONS_URL": (None, "text", "action server webhook Rasa calls (default: loopback ACTIONS_PORT)"),
            "ACTIONS_LOG_LEVEL": ("INFO", "text", "log level of the action server"),
            "ACTION_SERVER_SANIC_WORKERS": ("1", "int", "action server worker processes (read by rasa_sdk)"),
            "MODEL": ("models/current.tar.gz", "path", "the trained Rasa model"),
            "RUN_DIR": (".run", "path", "pid files, logs and the endpoints file of running servers"),
            "VENV": (".venv", "path", "the virtual environment the launchers run"),
            "PYTHON310": (None, "text", "the Python 3.10 make install builds the venv with (found when unset)"),
            "WEB_PORT": ("8000", "int", "port of the demo page with the chat widget"),
            "SERVE_WEB": ("0", "flag", "1 also serves the demo page (make run sets it)"),
            "WEB_ASSISTANT_URL": (None, "text", "server the demo page's widget calls (default: localhost RASA_PORT)"),
            "SHELL_PORT": ("5006", "int", "port of the Rasa server make shell runs (on 127.0.0.1)"),
            "CORS_ORIGINS": (None, "text", "origins allowed to call REST from a browser (default: the demo page)"),
            "RASA_START_TIMEOUT": ("120", "int", "seconds the launcher waits for Rasa to answer"),
            "RASA_STARTSECS": ("20", "int", "supervisord: Rasa exiting sooner after a start is a failed start"),
            "RESTART_RETRIES": ("3", "int", "supervisord: failed starts in a row before a server is left FATAL"),
            "LOG_LEVEL": ("INFO", "text", "log level of the Rasa server (no message text at INFO)"),
            "LOG_LEVEL_LIBRARIES": ("ERROR", "text", "log level of the libraries Rasa uses"),
            "RASA_TELEMETRY_ENABLED": ("false", "text", "Rasa's telemetry and Sentry reports (off)"),
            "ENABLE_API": ("0", "flag", "1 opens Rasa's HTTP API, which then needs RASA_API_TOKEN"),
            "RASA_API_TOKEN": (None, "secret", "token of Rasa's HTTP API (never on a command line)"),
            "SANIC_REQUEST_MAX_SIZE": ("4194304", "int", "Sanic's body limit in bytes (Rasa server)"),
        },
    ),
    **_group(
        "behaviour",
        {
            "ACTION_TIMEOUT": ("5", "float", "seconds Rasa waits for the action server"),
            "SPEED_FIXES": ("1", "flag", "0 runs Rasa as shipped (make bench compares)"),
            "REST_MAX_BODY_BYTES": ("262144", "int", "largest REST request body"),
            "MAX_MESSAGE_CHARS": ("10000", "int", "longest message any channel accepts"),
            "RATE_LIMIT": ("30/minute", "text", "most messages one conversation may send (`limits` syntax)"),
            "MAX_PENDING_TURNS": ("64", "int", "turns one Rasa process works on at once, hung-up clients' included"),
            "REST_REPLY_TIMEOUT": ("30", "float", "seconds before REST answers with the safe reply"),
            "CRISIS_REGION": ("us", "text", "which emergency and crisis numbers (knowledge/crisis_lines.yml)"),
        },
    ),
    **_group(
        "storage",
        {
            "TRACKER_DB": ("var/tracker.db", "path", "SQLite file of the conversations (when DB_HOST is unset)"),
            "DB_HOST": (None, "text", "PostgreSQL host: set it to keep conversations in PostgreSQL"),
            "DB_PORT": ("5432", "int", "PostgreSQL port"),
            "DB_NAME": ("rasa", "text", "PostgreSQL database"),
            "DB_USER": ("rasa", "text", "PostgreSQL user"),
            "DB_PASSWORD": (None, "secret", "PostgreSQL password (Rasa expands it; never written to a file)"),
            "REDIS_HOST": (None, "text", "Redis host: set it for a lock store shared by several Rasa processes"),
            "REDIS_PORT": ("6379", "int", "Redis port"),
            "REDIS_DB": ("1", "int", "Redis database number"),
            "REDIS_PASSWORD": (None, "secret", "Redis password (Rasa expands it; never written to a file)"),
            "TRACKER_CACHE_BYTES": ("67108864", "int", "bytes of stored events the tracker cache keeps per process"),
            "LOCK_MAX_HOLD_SECONDS": ("120", "float", "longest a turn keeps renewing its Redis lock"),
            "LOCK_MAX_WAIT_SECONDS": ("120", "float", "longest a message waits for its conversation's Redis lock"),
            "LOCK_POLL_SECONDS": ("0.2", "float", "how often a queued message checks the Redis lock"),
            "TICKET_LOCK_LIFETIME": ("60", "float", "how long a dead process's lock blocks (Rasa's; cluster.sh: 20)"),
            "RETENTION_DAYS": ("30", "float", "make retention deletes conversations idle this long"),
            "REPORT_MIN_SENDERS": ("5", "int", "make report shows a question group only when this many senders asked"),
            "STAFF_REPORT_TOKEN": (
                None,
                "secret",
                "token of the demo server's staff report URL; unset: the URL is off",
            ),
        },
    ),
    **_group(
        "slack",
        {
            "SLACK_BOT_TOKEN": (None, "secret", "bot token; Slack is off without it"),
            "SLACK_SIGNING_SECRET": (None, "secret", "signing secret; Slack is off without it"),
            "SLACK_CHANNEL": (None, "text", "a channel where every message is answered"),
            "SLACK_USE_THREADS": ("true", "text", "reply in a thread (true or false)"),
            "SLACK_CONVERSATION_GRANULARITY": ("sender", "text", "one conversation per sender, channel or thread"),
            "SLACK_API_URL": ("https://slack.com/api/", "text", "Slack's Web API (tests use a stand-in)"),
        },
    ),
    **_group(
        "cluster",
        {
            "NGINX_PORT": ("5500", "int", "nginx in front of the cluster"),
            "RASA_PORTS": ("5501 5502", "text", "ports of the cluster's Rasa processes"),
            "CLUSTER_ACTIONS_PORT": ("5551", "int", "the cluster's action server"),
            "PG_PORT": ("5433", "int", "the cluster's PostgreSQL"),
            "CLUSTER_REDIS_PORT": ("6380", "int", "the cluster's Redis"),
            "CLUSTER_START_TIMEOUT": ("300", "int", "seconds scripts/cluster.sh waits for each Rasa process"),
        },
    ),
    **_group(
        "measuring",
        {
            "SOAK_URL": (None, "text", "assistant make soak talks to (default: loopback RASA_PORT)"),
            "DURATION": ("300", "float", "seconds make soak runs"),
            "CI": (None, "text", "true: a test that would skip for something missing fails instead"),
            "B12_KEEP_TEST_DIR": ("0", "flag", "1 keeps system tests' folders and logs"),
            "B12_TEST_PORT_OFFSET": ("0", "int", "added to every port the system tests and make eval/bench use"),
        },
    ),
}


class SettingError(ValueError):
    pass


def raw(name: str, env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The text value: the environment's (blank counts as unset), else the default."""
    if name not in SETTINGS:
        raise KeyError(f"{name} is not a setting in b12/settings.py")
    value = (os.environ if env is None else env).get(name, "").strip()
    return value or SETTINGS[name].default


# Tokens this project makes up itself (not given by Slack or a database): long enough not to guess.
LONG_SECRETS = frozenset({"STAFF_REPORT_TOKEN"})
MIN_SECRET_CHARS = 32


def get(name: str, env: Optional[Mapping[str, str]] = None) -> Any:
    """The value, as its kind: int, float, bool (flag), Path (path) or str; None when unset."""
    setting, value = SETTINGS.get(name), raw(name, env)
    if value is None:
        return None
    kind = setting.kind
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError:
        raise SettingError(f"{name}={value!r}: expected a number ({setting.meaning})") from None
    if kind == "flag":
        if value not in ("0", "1"):
            raise SettingError(f"{name}={value!r}: expected 0 or 1 ({setting.meaning})")
        return value == "1"
    if kind == "path":
        return resolve(value)
    if name in LONG_SECRETS and len(value) < MIN_SECRET_CHARS:  # never shown: its length only
        raise SettingError(f"{name}: {len(value)} characters, expected at least {MIN_SECRET_CHARS} ({setting.meaning})")
    return value


def path(name: str, env: Optional[Mapping[str, str]] = None) -> Path:
    if SETTINGS[name].kind != "path":
        raise KeyError(f"{name} is not a path setting")
    return get(name, env)


def resolve(value: str | Path) -> Path:
    """A path from a setting or a config file: absolute as given, else from the project root."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else ROOT / p


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine only."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cors_origins(env: Optional[Mapping[str, str]] = None) -> str:
    web = get("WEB_PORT", env)
    return raw("CORS_ORIGINS", env) or f"http://localhost:{web} http://127.0.0.1:{web}"


def web_assistant_url(env: Optional[Mapping[str, str]] = None) -> str:
    return raw("WEB_ASSISTANT_URL", env) or f"http://localhost:{get('RASA_PORT', env)}"


def actions_url(env: Optional[Mapping[str, str]] = None) -> str:
    return raw("ACTIONS_URL", env) or f"http://127.0.0.1:{get('ACTIONS_PORT', env)}/webhook"


DERIVED = {"CORS_ORIGINS": cors_origins, "ACTIONS_URL": actions_url, "WEB_ASSISTANT_URL": web_assistant_url}


def shell(names, env: Optional[Mapping[str, str]] = None) -> str:
    """`NAME=value` lines (shell-quoted) with each value as the launchers should use it."""
    lines = []
    for name in names:
        if SETTINGS[name].kind == "secret":
            raise SettingError(f"{name} is a secret: the launchers read it from the environment")
        value = DERIVED[name](env) if name in DERIVED else get(name, env)
        if isinstance(value, bool):
            value = int(value)
        lines.append(f"{name}={shlex.quote('' if value is None else str(value))}")
    return "\n".join(lines) + "\n"


def check(env: Optional[Mapping[str, str]] = None) -> None:
    """Read every setting once, so that a bad value stops a launcher at start with one message
    naming each bad variable, rather than failing each request later."""
    bad = []
    for name in SETTINGS:
        try:
            get(name, env)
        except SettingError as e:
            bad.append(str(e))
    if bad:
        raise SettingError("; ".join(bad))


def table() -> str:
    lines = []
    for group in dict.fromkeys(s.group for s in SETTINGS.values()):
        lines.append(f"{group}:")
        for name, s in SETTINGS.items():
            if s.group == group:
                shown = "(unset)" if s.default is None else s.default
                lines.append(f"  {name:<32} {shown:<24} {s.meaning}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if not argv:
        sys.stdout.write(table())
        return 0
    if argv[0] == "check":
        try:
            check()
        except SettingError as e:
            print(f"b12/settings.py: {e}", file=sys.stderr)
            return 2
        return 0
    if argv[0] == "shell":
        try:
            sys.stdout.write(shell(argv[1:]))
        except (SettingError, KeyError) as e:
            print(f"b12/settings.py: {e}", file=sys.stderr)
            return 2
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
