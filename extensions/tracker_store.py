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

SQLite also gets write-ahead logging with synchronous=NORMAL: a commit no longer waits for two
fsyncs, a crash of the process loses nothing committed (a power cut can lose the last commits),
and readers (`make forget`, `make retention`) do not block the server.

Config (endpoints.yml, written by extensions/endpoints.py): `type:
extensions.tracker_store.CachedSQLTrackerStore` and the keys of Rasa's SQL tracker store, plus
`cache_size`.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from b12 import settings

logger = logging.getLogger(__name__)

CACHE_SIZE = 2000
Stamp = Tuple[int, Optional[int]]  # (number of stored events, id of the newest one)


@dataclass
class _Entry:
    tracker: DialogueStateTracker
    stamp: Stamp
    length: int  # len(tracker.events) when cached


class CachedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that reuses a conversation's tracker while the database shows no change."""

    def __init__(self, *args: Any, cache_size: int = CACHE_SIZE, **kwargs: Any) -> None:
        if kwargs.get("dialect", "sqlite") == "sqlite" and kwargs.get("db"):
            # endpoints.yml's `db: var/tracker.db` means the project's var/, whatever the working directory
            kwargs["db"] = str(settings.resolve(kwargs["db"]))
        super().__init__(*args, **kwargs)
        self.cache_size = int(cache_size)
        self._cache: "OrderedDict[str, _Entry]" = OrderedDict()
        if self.engine.dialect.name == "sqlite":
            # One pooled connection instead of a new one per query (SQLAlchemy 1.4's default
            # for a SQLite file); Rasa uses the store from its event loop thread only.
            self.engine = sa.create_engine(self.engine.url, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=4)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            with self.engine.connect() as connection:  # WAL is a property of the file: set it now
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    def _stamp(self, sender_id: str, connection: Any = None) -> Stamp:
        events = self.SQLEvent.__table__
        query = sa.select(sa.func.count(events.c.id), sa.func.max(events.c.id)).where(events.c.sender_id == sender_id)
        if connection is not None:
            count, newest = connection.execute(query).one()
        else:
            with self.engine.connect() as own:
                count, newest = own.execute(query).one()
        return int(count), newest

    def _latest_session_length(self, sender_id: str) -> int:
        with self.session_scope() as session:
            return self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()

    def _remember(self, sender_id: str, tracker: DialogueStateTracker, stamp: Stamp) -> None:
        self._cache[sender_id] = _Entry(tracker, stamp, len(tracker.events))
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def forget_cached(self, sender_id: str) -> None:
        self._cache.pop(sender_id, None)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        stamp = self._stamp(sender_id)  # before reading: a later change only makes it stale
        entry = self._cache.get(sender_id)
        if entry is not None:
            if entry.stamp == stamp and len(entry.tracker.events) == entry.length:
                self._cache.move_to_end(sender_id)
                return entry.tracker
            self.forget_cached(sender_id)
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            self._remember(sender_id, tracker, stamp)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        sender_id = tracker.sender_id
        entry = self._cache.pop(sender_id, None)  # if saving fails, nothing stale stays behind
        if entry is None or entry.tracker is not tracker:
            await super().save(tracker)
            # Rasa reads back only the latest session: cache the tracker only when it is that.
            if len(tracker.events) == self._latest_session_length(sender_id):
                self._remember(sender_id, tracker, self._stamp(sender_id))
            return
        # The cached tracker: its first entry.length events are the stored latest session (checked
        # against the database when it was retrieved, under the conversation's lock), so the new
        # events are the rest; Rasa's own save computes the same slice with one more query.
        await self.stream_events(tracker)
        new_events = list(itertools.islice(tracker.events, entry.length, None))
        rows = [self._row(sender_id, event) for event in new_events]
        with self.engine.begin() as connection:  # one transaction: the rows, then the new stamp
            if rows:
                connection.execute(self.SQLEvent.__table__.insert(), rows)
            stamp = self._stamp(sender_id, connection)
        if stamp[0] != entry.stamp[0] + len(rows):  # someone else wrote too: read it back next time
            return
        if not any(isinstance(event, SessionStarted) for event in new_events):
            self._remember(sender_id, tracker, stamp)

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
