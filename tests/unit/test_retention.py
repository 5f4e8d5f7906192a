"""scripts/retention.py: idle conversations go whole, conversations still in use lose their
sessions older than the cutoff (whole sessions only), and each chunk commits on its own."""

from __future__ import annotations

import sqlite3
import sys

import pytest
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered

from b12 import settings
from extensions.tracker_store import CachedSQLTrackerStore
from tests.unit.test_tracker_store import domain, plain_texts, run, stored  # noqa: F401 (fixture)

sys.path.insert(0, str(settings.ROOT / "scripts"))
import retention  # noqa: E402  (scripts/retention.py)

NOW = 1_800_000_000.0
DAY = 86400.0


def session(tracker, start: float, texts: list) -> None:
    """A session starting at `start` (seconds), one user turn a minute."""
    tracker.update(ActionExecuted("action_session_start", timestamp=start - 0.5))
    tracker.update(SessionStarted(timestamp=start))
    tracker.update(ActionExecuted("action_listen", timestamp=start + 0.5))
    for n, text in enumerate(texts, 1):
        tracker.update(UserUttered(text, {"name": "ask_topic", "confidence": 0.9}, timestamp=start + 60 * n))
        tracker.update(ActionExecuted("action_listen", timestamp=start + 60 * n + 1))


def conversation(store, domain, sender: str, sessions: list) -> None:  # noqa: F811
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(sender, domain.slots)
    for start, texts in sessions:
        session(tracker, start, texts)
    run(store.save(tracker))


def user_texts(db, sender: str) -> list:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    import json

    return [json.loads(row[0])["text"] for row in rows]


@pytest.fixture()
def store_db(tmp_path, domain, monkeypatch):  # noqa: F811
    db = tmp_path / "t.db"
    monkeypatch.setenv("TRACKER_DB", str(db))
    monkeypatch.delenv("DB_HOST", raising=False)
    return CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db)), db


def test_old_history_goes_and_what_rasa_reads_stays(store_db, domain):  # noqa: F811
    store, db = store_db
    conversation(store, domain, "idle", [(NOW - 40 * DAY, ["idle question"])])
    conversation(
        store,
        domain,
        "active",
        [(NOW - 45 * DAY, ["first visit"]), (NOW - 35 * DAY, ["second visit"]), (NOW - 2 * DAY, ["this week"])],
    )
    # a session that began before the cutoff and goes on after it: kept whole, with what came before it gone
    conversation(
        store,
        domain,
        "spanning",
        [(NOW - 50 * DAY, ["long ago"]), (NOW - 31 * DAY, ["began before"] + ["still going"] * 2)],
    )
    with sqlite3.connect(db) as conn:  # the spanning session's last turn is recent
        conn.execute(
            "UPDATE events SET timestamp = ? WHERE id = (SELECT MAX(id) FROM events WHERE sender_id = 'spanning')",
            (NOW - 1 * DAY,),
        )
    conversation(store, domain, "recent", [(NOW - 1 * DAY, ["hello"])])
    before = {s: plain_texts(db, domain, s) for s in ("active", "spanning", "recent")}

    dry = retention.purge(30, dry_run=True, now=NOW)
    assert dry == retention.Purged(conversations=1, trimmed=2, events=0)
    assert user_texts(db, "idle") == ["idle question"]

    done = retention.purge(30, now=NOW)
    assert done.conversations == 1 and done.trimmed == 2
    assert stored(db, "idle") == []
    assert user_texts(db, "active") == ["this week"]
    assert user_texts(db, "spanning") == ["began before", "still going", "still going"]
    assert user_texts(db, "recent") == ["hello"]
    for sender, events in before.items():  # Rasa reads back exactly what it read before
        assert plain_texts(db, domain, sender) == events, sender
    with sqlite3.connect(db) as conn:  # every kept conversation begins with its session's start
        for sender in ("active", "spanning", "recent"):
            first = conn.execute("SELECT action_name FROM events WHERE sender_id = ? ORDER BY id LIMIT 2", (sender,))
            assert [row[0] for row in first] == ["action_session_start", None], sender
    assert retention.purge(30, now=NOW) == retention.Purged(0, 0, 0)  # nothing left to do


def test_a_conversation_without_session_starts_is_kept_whole(store_db, domain):  # noqa: F811
    store, db = store_db
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker("legacy", domain.slots)
    tracker.update(UserUttered("old", {"name": "ask_topic"}, timestamp=NOW - 40 * DAY))
    tracker.update(UserUttered("new", {"name": "ask_topic"}, timestamp=NOW - 1 * DAY))
    run(store.save(tracker))
    assert retention.purge(30, now=NOW).events == 0
    assert user_texts(db, "legacy") == ["old", "new"]


def test_each_chunk_commits_so_saves_do_not_wait_for_the_whole_run(store_db, domain, monkeypatch):  # noqa: F811
    """Before each chunk, a writer with no patience at all (timeout 0) can write: the chunk
    before has committed. One transaction across chunks held SQLite's write lock to the end."""
    store, db = store_db
    for n in range(7):
        conversation(store, domain, f"idle-{n}", [(NOW - 40 * DAY, [f"question {n}"])])
    monkeypatch.setattr(retention, "CHUNK", 2)
    import extensions.tracker_store as tracker_store

    original, writes = tracker_store.lock_conversations, []

    def write_first(connection, senders):
        other = sqlite3.connect(db, timeout=0)
        try:
            other.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES ('live', 'x', ?, '{}')", (NOW,)
            )
            other.commit()
            writes.append("ok")
        except sqlite3.OperationalError as error:
            writes.append(str(error))
        finally:
            other.close()
        original(connection, senders)

    monkeypatch.setattr(tracker_store, "lock_conversations", write_first)
    assert retention.purge(30, now=NOW).conversations == 7
    assert writes == ["ok"] * 4  # 7 conversations in chunks of 2
    assert all(stored(db, f"idle-{n}") == [] for n in range(7))
    assert len(stored(db, "live")) == 4


def test_retention_empties_the_write_ahead_log(store_db, domain):  # noqa: F811
    store, db = store_db
    conversation(store, domain, "idle", [(NOW - 40 * DAY, ["Quillon Vantreight asked this"])])
    retention.purge(30, now=NOW)
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert b"Vantreight" not in db.read_bytes()
