"""Read the tracker store's events over a date range, read-only, with SQLAlchemy (no Rasa).

The database is the assistant's own, from the same settings (b12/settings.py): SQLite at
TRACKER_DB unless DB_HOST is set, then PostgreSQL at DB_HOST:DB_PORT, DB_NAME, DB_USER,
DB_PASSWORD (as extensions/endpoints.py gives Rasa). SQLite is opened read-only (`mode=ro`), a
PostgreSQL session is read-only (`default_transaction_read_only`): the report never writes.
The table is Rasa's SQLTrackerStore `events` table; only its columns are named here.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, NamedTuple, Optional

from b12 import settings

SLOTS = ("last_answer", "feedback")  # the slot events the report reads
# A new session copies every slot forward (carry_over_slots_to_new_session): the slot events
# between these two actions are copies, not new answers or votes (reporting/figures.py).
SESSION_START, LISTEN = "action_session_start", "action_listen"
CHUNK = 2000  # rows fetched at a time


class StoreError(RuntimeError):
    """The tracker store cannot be read: the message says which and why (no password in it)."""


class Event(NamedTuple):
    sender_id: str
    type_name: str  # user, slot, or action (a session start and the listen that ends it)
    timestamp: float
    name: Optional[str]  # the slot's name (Rasa's action_name column), the intent for a user event
    data: Dict[str, Any]


def events_table():
    import sqlalchemy as sa

    return sa.table(
        "events",
        sa.column("id", sa.Integer),
        sa.column("sender_id", sa.String),
        sa.column("type_name", sa.String),
        sa.column("timestamp", sa.Float),
        sa.column("intent_name", sa.String),
        sa.column("action_name", sa.String),
        sa.column("data", sa.Text),
    )


def describe(env: Optional[Mapping[str, str]] = None) -> str:
    """Where the report reads from, for a person (never the password)."""
    if settings.raw("DB_HOST", env):
        return (
            f"PostgreSQL {settings.get('DB_USER', env)}@{settings.get('DB_HOST', env)}:"
            f"{settings.get('DB_PORT', env)}/{settings.get('DB_NAME', env)}"
        )
    return f"SQLite {settings.path('TRACKER_DB', env)}"


def engine(env: Optional[Mapping[str, str]] = None, sqlite_file: Optional[Path] = None):
    """A read-only SQLAlchemy engine on the tracker store (the settings', or `sqlite_file`)."""
    import sqlalchemy as sa

    if sqlite_file is None and settings.raw("DB_HOST", env):
        host = settings.get("DB_HOST", env)
        if "://" in host:  # a whole URL, as Rasa's SQLTrackerStore accepts
            url = sa.engine.make_url(host)
        else:
            url = sa.engine.URL.create(
                "postgresql",
                username=settings.get("DB_USER", env),
                password=settings.raw("DB_PASSWORD", env),
                host=host,
                port=settings.get("DB_PORT", env),
                database=settings.get("DB_NAME", env),
            )
        made = sa.create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})
    else:
        db = Path(sqlite_file) if sqlite_file else settings.path("TRACKER_DB", env)
        if not db.is_file():
            raise StoreError(f"No tracker store database at {db} (TRACKER_DB; or set DB_HOST for PostgreSQL).")
        made = sa.create_engine(f"sqlite:///file:{db.resolve()}?mode=ro&uri=true")
    made.hide_parameters = True
    return made


def day_bounds(since: date, until: date) -> tuple:
    """Epoch seconds from `since` 00:00 UTC to the end of `until` (both days included)."""
    start = datetime.combine(since, time(0), tzinfo=timezone.utc).timestamp()
    end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=timezone.utc).timestamp()
    return start, end


def read_events(made, since: date, until: date) -> Iterator[Event]:
    """The user events, the `last_answer` / `feedback` slot events and the actions that start and
    end a session's start from `since` to `until`, in order (each conversation's in its own order)."""
    import sqlalchemy as sa

    events = events_table()
    start, end = day_bounds(since, until)
    query = (
        sa.select(events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.action_name, events.c.data)
        .where(
            events.c.timestamp >= start,
            events.c.timestamp < end,
            sa.or_(
                events.c.type_name == "user",
                sa.and_(events.c.type_name == "slot", events.c.action_name.in_(SLOTS)),
                sa.and_(events.c.type_name == "action", events.c.action_name.in_((SESSION_START, LISTEN))),
            ),
        )
        .order_by(events.c.timestamp, events.c.id)
    )
    try:
        with made.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(query)
            while True:
                rows = result.fetchmany(CHUNK)
                if not rows:
                    break
                for sender_id, type_name, timestamp, action_name, data in rows:
                    try:
                        parsed = json.loads(data or "{}")
                    except ValueError:
                        continue  # not Rasa's JSON: not an event the report can read
                    if isinstance(parsed, dict):
                        yield Event(sender_id, type_name, timestamp, action_name, parsed)
    except sa.exc.SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).splitlines()[0]
        raise StoreError(f"Cannot read the tracker store ({describe_engine(made)}): {reason}") from None


def describe_engine(made) -> str:
    url = made.url
    if url.get_backend_name() == "sqlite":
        return f"SQLite {str(url.database).replace('file:', '', 1)}"
    return f"PostgreSQL {url.username}@{url.host}:{url.port}/{url.database}"


def quiet() -> None:
    """SQLAlchemy 1.4's warnings about 2.0 are not for the person running the report."""
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", module="sqlalchemy")
