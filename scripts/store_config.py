"""Where conversations live, from the environment: one source for serve.sh, cluster.sh,
forget.py and retention.py.

    python scripts/store_config.py endpoints        print the endpoints.yml Rasa should use
    python scripts/store_config.py init-db          create Rasa's `events` table if missing

Environment:
  ACTIONS_URL       action server webhook (default http://127.0.0.1:$ACTIONS_PORT/webhook, port 5055)
  Tracker store (Rasa's SQLTrackerStore):
    DB_HOST unset   SQLite at TRACKER_DB (default var/tracker.db, relative to the project root)
    DB_HOST set     PostgreSQL at DB_HOST:DB_PORT (5432), database DB_NAME (rasa), user DB_USER
                    (rasa). DB_PASSWORD is never written to a file: the endpoints file says
                    `password: ${DB_PASSWORD}` and Rasa expands it from its own environment.
  Lock store, only when REDIS_HOST is set (needed for more than one Rasa process): Rasa's
  RedisLockStore made atomic across processes (channels/lock_store.py). REDIS_HOST,
  REDIS_PORT (6379), REDIS_DB (1), REDIS_PASSWORD (written as ${REDIS_PASSWORD} in the same
  way). Without it Rasa uses its in-process InMemoryLockStore.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

ROOT = Path(__file__).resolve().parent.parent

# Rasa 3.6 uses SQLAlchemy 1.4 with APIs that warn about 2.0 on import; not ours to fix.
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
warnings.filterwarnings("ignore", category=DeprecationWarning)


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid double-quoted YAML scalar


# Rasa's SQLTrackerStore with a per-process cache that is checked against the database on
# every message (channels/tracker_store.py).
STORE_TYPE = "channels.tracker_store.CachedSQLTrackerStore"


def store_type(env: Mapping[str, str]) -> str:
    """The cached store; Rasa's own SQL store with SPEED_FIXES=0 (make bench compares both)."""
    return "SQL" if env.get("SPEED_FIXES") == "0" else STORE_TYPE


def tracker_store(env: Mapping[str, str] = os.environ) -> Dict[str, Any]:
    """Rasa's `tracker_store` section, with real values (the password read from env)."""
    if env.get("DB_HOST"):
        config: Dict[str, Any] = {
            "type": store_type(env),
            "dialect": "postgresql",
            "host": env["DB_HOST"],
            "port": int(env.get("DB_PORT") or 5432),
            "db": env.get("DB_NAME") or "rasa",
            "username": env.get("DB_USER") or "rasa",
        }
        if env.get("DB_PASSWORD"):
            config["password"] = env["DB_PASSWORD"]
        return config
    db = Path(env.get("TRACKER_DB") or "var/tracker.db")
    return {"type": store_type(env), "dialect": "sqlite", "db": str(db if db.is_absolute() else ROOT / db)}


def endpoints_yaml(env: Mapping[str, str] = os.environ) -> str:
    actions_url = env.get("ACTIONS_URL") or f"http://127.0.0.1:{env.get('ACTIONS_PORT') or 5055}/webhook"
    store = tracker_store(env)
    lines = [
        "# Written by scripts/store_config.py from the environment; do not edit, do not commit.",
        "action_endpoint:",
        f"  url: {_q(actions_url)}",
        "tracker_store:",
    ]
    for key, value in store.items():
        if key == "host":  # Rasa passes the section's `url` to SQLTrackerStore as `host`
            lines.append(f"  url: {_q(value)}")
        elif key == "password":
            lines.append("  password: ${DB_PASSWORD}")  # expanded by Rasa from its environment
        else:
            lines.append(f"  {key}: {value if isinstance(value, int) else _q(value)}")
    if env.get("REDIS_HOST"):
        lines += [
            "lock_store:",
            "  # Rasa's RedisLockStore with atomic ticket changes (see channels/lock_store.py)",
            "  type: channels.lock_store.AtomicRedisLockStore",
            f"  url: {_q(env['REDIS_HOST'])}",
            f"  port: {int(env.get('REDIS_PORT') or 6379)}",
            f"  db: {int(env.get('REDIS_DB') or 1)}",
        ]
        if env.get("REDIS_PASSWORD"):
            lines.append("  password: ${REDIS_PASSWORD}")
    return "\n".join(lines) + "\n"


def engine_url(store: Optional[Dict[str, Any]] = None):
    """The SQLAlchemy URL Rasa's SQLTrackerStore builds for `store`."""
    from rasa.core.tracker_store import SQLTrackerStore

    store = dict(store or tracker_store())
    store.pop("type", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Calling URL() directly is deprecated" (SQLAlchemy 1.4)
        return SQLTrackerStore.get_db_url(
            store.get("dialect", "sqlite"),
            store.get("host"),
            store.get("port"),
            store.get("db", "rasa.db"),
            store.get("username"),
            store.get("password"),
        )


def read_store(endpoints_file: Optional[str]) -> Dict[str, Any]:
    """The tracker store of an endpoints file (as Rasa reads it, ${VAR}s expanded), else from env."""
    if not endpoints_file:
        return tracker_store()
    from rasa.utils.endpoints import read_endpoint_config

    config = read_endpoint_config(endpoints_file, "tracker_store")
    if config is None:
        raise SystemExit(f"{endpoints_file} has no tracker_store section.")
    if (config.type or "").lower() != "sql":
        raise SystemExit(f"{endpoints_file}: only Rasa's SQL tracker store is supported here, not {config.type!r}.")
    store = dict(config.kwargs)
    if config.url:  # EndpointConfig keeps `url` apart; SQLTrackerStore reads it as `host`
        store.setdefault("host", config.url)
    return store


def events_table():
    """Rasa's own `events` table definition."""
    from rasa.core.tracker_store import SQLTrackerStore

    return SQLTrackerStore.SQLEvent.__table__


def connect(endpoints_file: Optional[str] = None):
    """An SQLAlchemy engine on the tracker store, and its `events` table."""
    import sqlalchemy as sa

    store = read_store(endpoints_file)
    if store.get("dialect", "sqlite") == "sqlite":
        db = Path(store.get("db", "rasa.db"))
        if not db.exists():
            raise SystemExit(f"No tracker store database at {db}.")
    return sa.create_engine(engine_url(store)), events_table()


def main(argv: list[str]) -> int:
    if argv[:1] == ["endpoints"]:
        sys.stdout.write(endpoints_yaml())
        return 0
    if argv[:1] == ["init-db"]:
        import sqlalchemy as sa

        engine = sa.create_engine(engine_url())
        events_table().metadata.create_all(engine)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
