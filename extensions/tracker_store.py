"""Rasa's SQLTrackerStore with a per-process cache of recent conversations.

Rasa's SQLTrackerStore rebuilds a conversation from the database on every message: it reads
every event of the current session, parses each one and replays them all. Profiled on a
six-turn conversation: about 22 ms per message, growing with the conversation. This store
keeps the trackers it has saved or loaded (at most CACHE_SIZE conversations, least recently
used dropped first) and checks a cached tracker against the database with one indexed query
before using it: the number of the conversation's stored events and the id of the newest one.

What stays exactly as in Rasa's store:
- every event is written to the database before the reply is sent (the store is still the
  source of truth, and a restart loses nothing);
- a change made elsewhere (another Rasa process behind the load balancer, `make forget`,
  `make retention`) changes the count or the newest id, so the cached copy is dropped and the
  conversation is read from the database;
- a tracker that was changed in memory but not saved (a turn that failed half way) has a
  different number of events than when it was cached, and is read from the database again;
- a tracker that spans a new session (Rasa reads only the latest session) is not cached.

Several Rasa processes stay correct because each conversation is processed under Rasa's lock
(Redis lock store in the cluster), so the stamp taken right after a save belongs to that save.

Forgetting (scripts/forget.py, scripts/retention.py: `delete_conversation`, `delete_events`):
- a forgotten conversation is never written back. Rasa's save appends the tracker's events
  past the number already stored, so a turn that was running when its conversation was deleted
  would store the whole forgotten history again. Here every tracker remembers the id of the
  newest stored event it was read from (or last saved); `save` checks, under the database's
  write lock for that conversation (`lock_conversations`: SQLite's one writer, PostgreSQL's
  advisory lock, which forget and retention take too), that this event still exists, and
  writes nothing if it does not. That turn is not stored (its reply was already sent); the
  sender's next message starts a new conversation;
- the cache never serves a forgotten conversation (the stamp check above) and keeps no copy
  long: an entry unused for `cache_idle_seconds` (300) is dropped by a timer, and `save` drops
  the entry of a conversation it finds forgotten;
- SQLite runs with secure_delete=ON (deleted rows are overwritten with zeros, not left in free
  pages) and forgetting ends with a TRUNCATE checkpoint, which copies the zeroed pages into the
  database file and empties the write-ahead log, where the old pages were;
- SQLAlchemy's error messages do not carry the statement's parameters (the user's text):
  `hide_parameters` is set on the engine.

SQLite also gets write-ahead logging with synchronous=NORMAL: a commit no longer waits for two
fsyncs, a crash of the process loses nothing committed (a power cut can lose the last commits),
and readers (`make forget`, `make retention`) do not block the server.

Config (endpoints.yml, written by extensions/endpoints.py): `type:
extensions.tracker_store.CachedSQLTrackerStore` and the keys of Rasa's SQL tracker store, plus
`cache_size` and `cache_idle_seconds`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from b12 import settings

logger = logging.getLogger(__name__)

CACHE_SIZE = 2000
CACHE_IDLE_SECONDS = 300.0  # a cached conversation unused this long is dropped from memory
Stamp = Tuple[int, Optional[int]]  # (number of stored events, id of the newest one)
# Set on every tracker this store reads or saves: the id of the newest stored event it holds.
STORED_NEWEST = "_b12_stored_newest"


@dataclass
class _Entry:
    tracker: DialogueStateTracker
    stamp: Stamp
    length: int  # len(tracker.events) when cached
    used: float  # time.monotonic() of the last use
    size: int = 0  # bytes of the conversation's stored events (their JSON), for the cache's byte bound


class CachedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that reuses a conversation's tracker while the database shows no change,
    and never writes back a conversation deleted while it was in use."""

    def __init__(
        self, *args: Any, cache_size: int = CACHE_SIZE, cache_idle_seconds: float = CACHE_IDLE_SECONDS, **kwargs: Any
    ) -> None:
        if kwargs.get("dialect", "sqlite") == "sqlite" and kwargs.get("db"):
            # endpoints.yml's `db: var/tracker.db` means the project's var/, whatever the working directory
            kwargs["db"] = str(settings.resolve(kwargs["db"]))
        super().__init__(*args, **kwargs)
        self.cache_size = int(cache_size)
        self.cache_bytes = int(settings.get("TRACKER_CACHE_BYTES"))
        self._cached_bytes = 0
        self.cache_idle_seconds = float(cache_idle_seconds)
        self._cache: "OrderedDict[str, _Entry]" = OrderedDict()
        self._expiry: Optional[asyncio.TimerHandle] = None
        if self.engine.dialect.name == "sqlite":
            # One pooled connection instead of a new one per query (SQLAlchemy 1.4's default
            # for a SQLite file); Rasa uses the store from its event loop thread only.
            self.engine = sa.create_engine(self.engine.url, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=4)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
            sa.event.listen(self.engine, "connect", sqlite_pragmas)
            with self.engine.connect() as connection:  # WAL is a property of the file: set it now
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        self.engine.hide_parameters = True  # an SQL error's message would carry the user's text

    def _stamp(self, sender_id: str, connection: Any = None) -> Stamp:
        events = self.SQLEvent.__table__
        query = sa.select(sa.func.count(events.c.id), sa.func.max(events.c.id)).where(events.c.sender_id == sender_id)
        if connection is not None:
            count, newest = connection.execute(query).one()
        else:
            with self.engine.connect() as own:
                count, newest = own.execute(query).one()
        return int(count), newest

    def _latest_session_length(self, sender_id: str, connection: Any) -> int:
        """How many events Rasa's retrieve reads back: those of the latest session (the same
        query as SQLTrackerStore._event_query, counted)."""
        events = self.SQLEvent.__table__
        start = (
            sa.select(sa.func.max(events.c.timestamp))
            .where(events.c.sender_id == sender_id, events.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        query = sa.select(sa.func.count()).where(
            events.c.sender_id == sender_id, sa.or_(events.c.timestamp >= start, start.is_(None))
        )
        return int(connection.execute(query).scalar_one())

    def _size(self, sender_id: str, connection: Any = None) -> int:
        """Bytes of a conversation's stored events (the JSON of each), read when it is cached."""
        events = self.SQLEvent.__table__
        query = sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(events.c.data)), 0)).where(
            events.c.sender_id == sender_id
        )
        if connection is not None:
            return int(connection.execute(query).scalar_one())
        with self.engine.connect() as own:
            return int(own.execute(query).scalar_one())

    def _remember(self, sender_id: str, tracker: DialogueStateTracker, stamp: Stamp, size: int) -> None:
        """Cache a tracker: at most `cache_size` conversations and TRACKER_CACHE_BYTES bytes of
        their events, least recently used first out. A conversation bigger than the whole
        allowance is not cached (it is read from the database each time)."""
        if self.cache_size <= 0 or size > self.cache_bytes:
            return
        self.forget_cached(sender_id)
        self._cache[sender_id] = _Entry(tracker, stamp, len(tracker.events), time.monotonic(), size)
        self._cached_bytes += size
        while len(self._cache) > self.cache_size or self._cached_bytes > self.cache_bytes:
            self._drop_oldest()
        self._schedule_expiry()

    def _drop_oldest(self) -> None:
        _, entry = self._cache.popitem(last=False)
        self._cached_bytes -= entry.size

    def _schedule_expiry(self) -> None:
        """One timer at a time, due when the least recently used entry has been idle too long."""
        if not self._cache or (self._expiry is not None and not self._expiry.cancelled()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not called from Rasa's event loop: entries expire at the next use
            return
        oldest = next(iter(self._cache.values()))
        delay = max(0.0, oldest.used + self.cache_idle_seconds - time.monotonic())
        self._expiry = loop.call_later(delay, self._expire)

    def _expire(self) -> None:
        self._expiry = None
        deadline = time.monotonic() - self.cache_idle_seconds
        while self._cache and next(iter(self._cache.values())).used <= deadline:
            self._drop_oldest()
        self._schedule_expiry()

    def forget_cached(self, sender_id: str) -> None:
        entry = self._cache.pop(sender_id, None)
        if entry is not None:
            self._cached_bytes -= entry.size

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        stamp = self._stamp(sender_id)  # before reading: a later change only makes it stale
        entry = self._cache.get(sender_id)
        if entry is not None:
            fresh = entry.used + self.cache_idle_seconds > time.monotonic()
            if fresh and entry.stamp == stamp and len(entry.tracker.events) == entry.length:
                entry.used = time.monotonic()
                self._cache.move_to_end(sender_id)
                return entry.tracker
            self.forget_cached(sender_id)
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            setattr(tracker, STORED_NEWEST, stamp[1])
            self._remember(sender_id, tracker, stamp, self._size(sender_id))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events Rasa's SQLTrackerStore.save would store (those past the stored
        latest session), in one transaction under the conversation's write lock, unless the
        conversation this tracker was read from has been deleted since."""
        sender_id = tracker.sender_id
        entry = self._cache.get(sender_id)
        self.forget_cached(sender_id)  # if saving fails, nothing stale stays behind
        cached = entry is not None and entry.tracker is tracker
        await self.stream_events(tracker)
        events = self.SQLEvent.__table__
        with self.engine.begin() as connection:
            lock_conversations(connection, [sender_id])
            newest = getattr(tracker, STORED_NEWEST, None)
            if newest is not None:
                still_there = sa.select(events.c.id).where(events.c.id == newest, events.c.sender_id == sender_id)
                if connection.execute(still_there).first() is None:
                    logger.warning(
                        "Not storing a turn of a conversation that was deleted while it ran (forget or "
                        "retention); the next message starts a new conversation."
                    )
                    return
            # The cached tracker: its first entry.length events are the stored latest session
            # (checked against the database when it was retrieved, under the conversation's lock).
            stored = entry.length if cached else self._latest_session_length(sender_id, connection)
            new_events = list(itertools.islice(tracker.events, stored, None))
            rows = [self._row(sender_id, event) for event in new_events]
            if rows:
                connection.execute(events.insert(), rows)
            stamp = self._stamp(sender_id, connection)
            # the cached size plus what was just written; summed in the database only when uncached
            size = entry.size + sum(len(row["data"]) for row in rows) if cached else self._size(sender_id, connection)
            length = None if cached else self._latest_session_length(sender_id, connection)
        setattr(tracker, STORED_NEWEST, stamp[1])
        if cached:
            if stamp[0] != entry.stamp[0] + len(rows):  # someone else wrote too: read it back next time
                return
            if not any(isinstance(event, SessionStarted) for event in new_events):
                self._remember(sender_id, tracker, stamp, size)
        elif len(tracker.events) == length:  # Rasa reads back only the latest session: cache only that
            self._remember(sender_id, tracker, stamp, size)

    @staticmethod
    def _row(sender_id: str, event: Event) -> Dict[str, Any]:
        """One `events` row, with the values SQLTrackerStore.save writes."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every SQLite connection to the tracker store (the Rasa process's, forget's, retention's)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
    cursor.close()


def _advisory_key(sender_id: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, from the sender id."""
    digest = hashlib.sha256(sender_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_conversations(connection: Any, sender_ids: Iterable[str]) -> None:
    """Begin `connection`'s transaction holding the database's write lock for these
    conversations, until it commits. Every writer of the events table takes it (the store's
    save, forget, retention), so a check made under it (is the conversation still there?) still
    holds when the rows are written. SQLite: BEGIN IMMEDIATE, its one writer at a time;
    PostgreSQL: a transaction-scoped advisory lock per sender id, in sorted order (no two
    writers wait on each other in a cycle). Call it first in an `engine.begin()` block."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        # bounded, like SQLite's busy timeout: a writer stuck elsewhere fails this turn (safe
        # reply) instead of holding up Rasa's event loop without end
        connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
        for key in sorted({_advisory_key(s) for s in sender_ids}):
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def delete_events(connection: Any, sender_id: str, before: Optional[float] = None) -> int:
    """Delete a conversation's events (those with a timestamp before `before`, if given) on a
    connection holding `lock_conversations`; return how many were deleted."""
    events = SQLTrackerStore.SQLEvent.__table__
    condition = events.c.sender_id == sender_id
    if before is not None:
        condition = sa.and_(condition, events.c.timestamp < before)
    return int(connection.execute(events.delete().where(condition)).rowcount or 0)


def delete_conversation(engine: Any, sender_id: str, dry_run: bool = False) -> int:
    """Delete every event of `sender_id` under its write lock and, on SQLite, empty the
    write-ahead log; return how many events the conversation had."""
    events = SQLTrackerStore.SQLEvent.__table__
    with engine.begin() as connection:
        lock_conversations(connection, [sender_id])
        count = connection.execute(sa.select(sa.func.count()).where(events.c.sender_id == sender_id)).scalar_one()
        if count and not dry_run:
            delete_events(connection, sender_id)
    if not dry_run:
        checkpoint(engine)
    return int(count)


def checkpoint(engine: Any, attempts: int = 20) -> None:
    """SQLite: copy the write-ahead log into the database file and truncate it to zero bytes,
    so deleted rows' old pages are not left in it. It waits for readers (busy_timeout, then up
    to `attempts` tries); raises RuntimeError if they never let it. Nothing to do elsewhere."""
    if engine.dialect.name != "sqlite":
        return
    for _attempt in range(attempts):
        with engine.connect() as connection:
            busy, _log, _done = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if not busy:
            return
        time.sleep(0.25)
    raise RuntimeError("SQLite's write-ahead log could not be emptied: a reader kept it busy. Run the command again.")


def connect_events(engine: Any) -> None:
    """Give an engine on the tracker store the store's SQLite settings (secure_delete among
    them) and hide SQL parameters from its error messages."""
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", sqlite_pragmas)
    engine.hide_parameters = True
