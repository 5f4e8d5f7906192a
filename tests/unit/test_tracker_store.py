"""extensions/tracker_store.py: the cached SQL tracker store stores exactly what Rasa's
SQLTrackerStore stores, and never serves a conversation the database no longer agrees with."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from b12 import settings
from extensions import endpoints as endpoints_file
from extensions.tracker_store import CachedSQLTrackerStore

ROOT = settings.ROOT


@pytest.fixture()
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def run(coroutine):
    return asyncio.run(coroutine)


CLOCK = itertools.count(1_700_000_000)  # distinct, increasing event timestamps


def turn(tracker: DialogueStateTracker, text: str, topic: str) -> None:
    tracker.update(UserUttered(text, {"name": "ask_topic", "confidence": 0.9}, timestamp=next(CLOCK)))
    tracker.update(ActionExecuted("action_answer_question", timestamp=next(CLOCK)))
    tracker.update(BotUttered(f"about {topic}", timestamp=next(CLOCK)))
    tracker.update(SlotSet("topic", topic, timestamp=next(CLOCK)))
    tracker.update(ActionExecuted("action_listen", timestamp=next(CLOCK)))


def start_session(tracker: DialogueStateTracker) -> None:
    tracker.update(ActionExecuted("action_session_start", timestamp=next(CLOCK)))
    tracker.update(SessionStarted(timestamp=next(CLOCK)))
    tracker.update(ActionExecuted("action_listen", timestamp=next(CLOCK)))


def new_tracker(domain: Domain, sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, domain.slots)
    start_session(tracker)
    return tracker


def stored(db: Path, sender: str) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT type_name, intent_name, action_name, data FROM events WHERE sender_id = ? ORDER BY id", (sender,)
        ).fetchall()


def plain_texts(db: Path, domain: Domain, sender: str) -> list:
    """The conversation as Rasa's own SQLTrackerStore reads it back."""
    tracker = run(SQLTrackerStore(domain, dialect="sqlite", db=str(db)).retrieve(sender))
    return [e.as_dict() for e in tracker.events] if tracker else []


def test_writes_the_same_rows_as_rasas_store(tmp_path, domain):
    cached_db, plain_db = tmp_path / "cached.db", tmp_path / "plain.db"
    cached = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(cached_db))
    plain = SQLTrackerStore(domain, dialect="sqlite", db=str(plain_db))
    for store in (cached, plain):
        global CLOCK
        CLOCK = itertools.count(1_700_000_000)  # the same timestamps for both stores
        tracker = new_tracker(domain, "s1")
        run(store.save(tracker))
        for n in range(3):
            tracker = run(store.retrieve("s1"))
            turn(tracker, f"question {n}", f"topic{n}")
            run(store.save(tracker))
    assert stored(cached_db, "s1") == stored(plain_db, "s1")
    assert len(stored(cached_db, "s1")) == 3 + 3 * 5


def test_a_saved_conversation_is_served_from_memory(tmp_path, domain, monkeypatch):
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    run(store.save(new_tracker(domain, "s1")))
    tracker = run(store.retrieve("s1"))  # read once from the database
    turn(tracker, "what is pernicious anemia", "pernicious_anemia")
    run(store.save(tracker))
    reads = []
    original = SQLTrackerStore.retrieve

    async def counting(self, sender_id):
        reads.append(sender_id)
        return await original(self, sender_id)

    monkeypatch.setattr(SQLTrackerStore, "retrieve", counting)
    again = run(store.retrieve("s1"))
    assert again is tracker and reads == []
    assert again.get_slot("topic") == "pernicious_anemia"


def test_a_change_by_another_process_is_read_from_the_database(tmp_path, domain):
    db = str(tmp_path / "t.db")
    first, second = (CachedSQLTrackerStore(domain, dialect="sqlite", db=db) for _ in range(2))
    run(first.save(new_tracker(domain, "s1")))
    assert run(first.retrieve("s1")) is not None  # cached in the first process
    other = run(second.retrieve("s1"))
    turn(other, "how is it treated", "treatment_route")
    run(second.save(other))
    seen = run(first.retrieve("s1"))
    assert seen.get_slot("topic") == "treatment_route"
    assert [e.as_dict() for e in seen.events] == plain_texts(Path(db), domain, "s1")


def test_a_turn_that_failed_half_way_is_not_served(tmp_path, domain):
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    run(store.save(new_tracker(domain, "s1")))
    tracker = run(store.retrieve("s1"))
    turn(tracker, "never saved", "lost")  # the turn failed: no save
    fresh = run(store.retrieve("s1"))
    assert fresh is not tracker
    assert fresh.get_slot("topic") is None
    assert [e.as_dict() for e in fresh.events] == plain_texts(tmp_path / "t.db", domain, "s1")


def test_a_forgotten_conversation_is_gone(tmp_path, domain):
    db = tmp_path / "t.db"
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    run(store.save(new_tracker(domain, "s1")))
    with sqlite3.connect(db) as conn:  # what `make forget` does
        conn.execute("DELETE FROM events WHERE sender_id = 's1'")
    assert run(store.retrieve("s1")) is None


def test_a_new_session_is_stored_once_and_read_back_alone(tmp_path, domain):
    db = tmp_path / "t.db"
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    tracker = new_tracker(domain, "s1")
    turn(tracker, "first session", "one")
    run(store.save(tracker))
    tracker = run(store.retrieve("s1"))
    start_session(tracker)
    turn(tracker, "second session", "two")
    run(store.save(tracker))
    assert len(stored(db, "s1")) == 8 + 8  # each event once
    latest = run(store.retrieve("s1"))
    assert latest is not tracker  # spans two sessions: read back from the database
    assert [e.as_dict() for e in latest.events] == plain_texts(db, domain, "s1")
    turn(latest, "third question", "three")
    run(store.save(latest))
    assert len(stored(db, "s1")) == 16 + 5


def test_the_endpoints_file_creates_this_store(tmp_path, domain):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(endpoints_file.endpoints_yaml({"TRACKER_DB": str(tmp_path / "t.db")}))
    store = TrackerStore.create(read_endpoint_config(str(endpoints), "tracker_store"), domain)
    assert type(store) is CachedSQLTrackerStore  # not Rasa's silent in-memory fallback
    assert store.engine.dialect.name == "sqlite"
    with sqlite3.connect(tmp_path / "t.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_speed_fixes_off_gives_rasas_own_store(tmp_path, domain):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(endpoints_file.endpoints_yaml({"TRACKER_DB": str(tmp_path / "t.db"), "SPEED_FIXES": "0"}))
    store = TrackerStore.create(read_endpoint_config(str(endpoints), "tracker_store"), domain)
    assert type(store) is SQLTrackerStore


def forget_elsewhere(db: Path, sender: str) -> int:
    """What scripts/forget.py does, from its own engine (its own process in real life)."""
    import sqlalchemy as sa

    from extensions.tracker_store import connect_events, delete_conversation

    engine = sa.create_engine(f"sqlite:///{db}")
    connect_events(engine)
    try:
        return delete_conversation(engine, sender)
    finally:
        engine.dispose()


def test_a_turn_running_when_its_conversation_is_forgotten_does_not_write_it_back(tmp_path, domain):
    """Rasa's save appends the events past the stored count: after a delete that count is 0,
    so Rasa's own store writes the whole forgotten history back."""
    db = tmp_path / "t.db"
    plain = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "plain.db"))
    cached = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    other = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))  # a second Rasa process, no cache hit
    for store, path in ((plain, tmp_path / "plain.db"), (cached, db), (other, db)):
        sender = f"s-{id(store)}"
        tracker = new_tracker(domain, sender)
        turn(tracker, "my son's b12 is low", "b12_deficiency")
        run(cached.save(tracker) if store is other else store.save(tracker))
        running = run(store.retrieve(sender))  # a turn starts
        turn(running, "what should we do next", "treatment_route")
        assert forget_elsewhere(path, sender) == 8  # make forget, meanwhile
        run(store.save(running))  # the turn ends
        if store is plain:
            assert any("my son's b12" in row[3] for row in stored(path, sender))  # Rasa's own: it is back
            continue
        assert stored(path, sender) == [], "a forgotten conversation was written back"
        assert sender not in store._cache
        run(store.save(running))  # and a second save of that tracker writes nothing either
        assert stored(path, sender) == []
        fresh = run(store.get_or_create_tracker(sender))  # the next message: a new conversation
        assert [e.as_dict() for e in fresh.events] == plain_texts(path, domain, sender)
        assert not [e for e in fresh.events if isinstance(e, UserUttered)]
        turn(fresh, "hello again", "greeting")
        run(store.save(fresh))
        assert [row[1] for row in stored(path, sender) if row[0] == "user"] == ["ask_topic"]


def test_a_new_conversation_forgotten_during_its_first_turn_is_not_written_back(tmp_path, domain):
    db = tmp_path / "t.db"
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    tracker = run(store.get_or_create_tracker("s1"))  # Rasa creates and saves it
    assert len(stored(db, "s1")) == 1
    turn(tracker, "my son's b12 is low", "b12_deficiency")
    forget_elsewhere(db, "s1")
    run(store.save(tracker))
    assert stored(db, "s1") == []


def test_the_check_and_the_write_hold_the_database_lock(tmp_path, domain, monkeypatch):
    """Between the store's check (is the conversation still there?) and its insert, no one
    else can delete: a delete from another connection is refused while the save runs."""
    db = tmp_path / "t.db"
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    run(store.save(new_tracker(domain, "s1")))
    fresh = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db), cache_size=0)  # counts under the lock
    tracker = run(fresh.retrieve("s1"))
    turn(tracker, "a question", "topic")
    attempts = []
    original = CachedSQLTrackerStore._latest_session_length

    def meanwhile(self, sender_id, connection):
        other = sqlite3.connect(db, timeout=0)
        try:
            other.execute("DELETE FROM events WHERE sender_id = 's1'")
            other.commit()
            attempts.append("deleted")
        except sqlite3.OperationalError as error:
            attempts.append(str(error))
        finally:
            other.close()
        return original(self, sender_id, connection)

    monkeypatch.setattr(CachedSQLTrackerStore, "_latest_session_length", meanwhile)
    run(fresh.save(tracker))
    assert attempts and all(a == "database is locked" for a in attempts), attempts
    assert len(stored(db, "s1")) == 3 + 5


def test_a_cached_conversation_leaves_memory_when_unused(tmp_path, domain):
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"), cache_idle_seconds=0.2)

    async def scenario():
        await store.save(new_tracker(domain, "s1"))
        assert await store.retrieve("s1") is not None and "s1" in store._cache
        await asyncio.sleep(0.1)
        await store.save(new_tracker(domain, "s2"))
        assert await store.retrieve("s2") is not None
        await asyncio.sleep(0.15)  # s1 idle 0.25 s: dropped by the timer, with no call to the store
        assert "s1" not in store._cache and "s2" in store._cache
        await asyncio.sleep(0.2)
        assert not store._cache

    run(scenario())


def test_an_sql_error_carries_no_parameters(tmp_path, domain):
    import sqlalchemy as sa

    db = tmp_path / "t.db"
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    tracker = new_tracker(domain, "sender-xyz")
    turn(tracker, "my son's b12 is low", "b12_deficiency")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(sa.exc.DBAPIError) as error:
        run(store.save(tracker))
    assert "refused" in str(error.value) and "parameters hidden" in str(error.value)
    assert "son" not in str(error.value) and "sender-xyz" not in str(error.value)
    assert stored(db, "sender-xyz") == []


def test_the_cache_is_bounded_in_bytes_not_only_in_conversations(tmp_path, domain, monkeypatch):
    monkeypatch.setenv("TRACKER_CACHE_BYTES", "8000")
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    for sender in ("a", "b", "c"):
        tracker = new_tracker(domain, sender)
        turn(tracker, "x" * 1200, "pernicious_anemia")  # about 3.5 kB of stored JSON each
        run(store.save(tracker))
        run(store.retrieve(sender))
    assert 0 < store._cached_bytes <= 8000
    assert list(store._cache) == ["b", "c"]  # the least recently used went first
    assert store._cached_bytes == sum(entry.size for entry in store._cache.values())

    huge = new_tracker(domain, "huge")
    turn(huge, "y" * 9000, "pernicious_anemia")  # bigger than the whole allowance
    run(store.save(huge))
    assert run(store.retrieve("huge")).latest_message.text == "y" * 9000  # still served, from the database
    assert "huge" not in store._cache and store._cached_bytes <= 8000
    store.forget_cached("b")
    assert store._cached_bytes == sum(entry.size for entry in store._cache.values())
