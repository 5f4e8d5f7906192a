"""Where conversations live, from the environment (b12/settings.py): the endpoints file Rasa
loads, and the tracker store's database for scripts/forget.py and scripts/retention.py.

    python -m extensions.endpoints endpoints     print the endpoints.yml Rasa should use
    python -m extensions.endpoints init-db       create Rasa's `events` table if missing

- Tracker store (Rasa's SQLTrackerStore with a per-process cache, extensions/tracker_store.py):
  SQLite at TRACKER_DB (var/tracker.db, from the project root) unless DB_HOST is set; then
  PostgreSQL at DB_HOST:DB_PORT, database DB_NAME, user DB_USER. DB_PASSWORD is never written to
  a file: the endpoints file says `password: ${DB_PASSWORD}` and Rasa expands it itself.
- Lock store, only when REDIS_HOST is set (needed for more than one Rasa process): Rasa's
  RedisLockStore made atomic across processes (extensions/lock_store.py), REDIS_PORT, REDIS_DB,
  REDIS_PASSWORD (written as ${REDIS_PASSWORD} in the same way). Without it Rasa uses its
  in-process InMemoryLockStore.
Importing this module reads nothing and changes nothing.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any, Dict, Mapping, Optional

from b12 import settings


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid double-quoted YAML scalar


# Rasa's SQLTrackerStore with a per-process cache that is checked against the database on
# every message (extensions/tracker_store.py).
STORE_TYPE = "extensions.tracker_store.CachedSQLTrackerStore"


def store_type(env: Optional[Mapping[str, str]] = None) -> str:
    """The cached store; Rasa's own SQL store with SPEED_FIXES=0 (make bench compares both)."""
    return STORE_TYPE if settings.get("SPEED_FIXES", env) else "SQL"


def tracker_store(env: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Rasa's `tracker_store` section, with real values (the password read from env)."""
    if settings.raw("DB_HOST", env):
        config: Dict[str, Any] = {
            "type": store_type(env),
            "dialect": "postgresql",
            "host": settings.get("DB_HOST", env),
            "port": settings.get("DB_PORT", env),
            "db": settings.get("DB_NAME", env),
            "username": settings.get("DB_USER", env),
        }
        if settings.raw("DB_PASSWORD", env):
            config["password"] = settings.raw("DB_PASSWORD", env)
        return config
    return {"type": store_type(env), "dialect": "sqlite", "db": str(settings.path("TRACKER_DB", env))}


def endpoints_yaml(env: Optional[Mapping[str, str]] = None) -> str:
    actions_url = settings.actions_url(env)
    store = tracker_store(env)
    lines = [
        "# Written by extensions/endpoints.py from the environment; do not edit, do not commit.",
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
    if settings.raw("REDIS_HOST", env):
        lines += [
            "lock_store:",
            "  # Rasa's RedisLockStore with atomic ticket changes (see extensions/lock_store.py)",
            "  type: extensions.lock_store.AtomicRedisLockStore",
            f"  url: {_q(settings.get('REDIS_HOST', env))}",
            f"  port: {settings.get('REDIS_PORT', env)}",
            f"  db: {settings.get('REDIS_DB', env)}",
        ]
        if settings.raw("REDIS_PASSWORD", env):
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
    if (config.type or "").lower() not in ("sql", STORE_TYPE.lower()):
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
    """An SQLAlchemy engine on the tracker store, with the store's own SQLite settings
    (secure_delete among them) and SQL parameters hidden from errors, and its `events` table."""
    import sqlalchemy as sa

    from extensions.tracker_store import connect_events

    quiet_sqlalchemy()
    store = read_store(endpoints_file)
    if store.get("dialect", "sqlite") == "sqlite":
        db = settings.resolve(store.get("db", "rasa.db"))  # as extensions/tracker_store.py does
        store["db"] = str(db)
        if not db.exists():
            raise SystemExit(f"No tracker store database at {db}.")
    engine = sa.create_engine(engine_url(store))
    connect_events(engine)
    return engine, events_table()


def quiet_sqlalchemy() -> None:
    """Rasa 3.6 uses SQLAlchemy 1.4 with APIs that warn about 2.0; not ours to fix. Called by
    the command-line tools, never on import."""
    import os

    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(argv: list[str]) -> int:
    quiet_sqlalchemy()
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
