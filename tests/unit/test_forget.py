"""`make forget` and scripts/forget.py: a hostile sender id runs nothing and forgets exactly its
own conversation; a forgotten conversation leaves no text in the SQLite file or its WAL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from b12 import settings
from tests.unit.test_tracker_store import domain, new_tracker, run, stored, turn  # noqa: F401 (fixture)

ROOT = settings.ROOT
sys.path.insert(0, str(ROOT / "scripts"))
import forget  # noqa: E402  (scripts/forget.py)

from extensions.tracker_store import CachedSQLTrackerStore  # noqa: E402


def hostile_ids(marker: Path) -> list:
    return [
        f"`touch {marker}`",  # the shell's command substitution, old style
        f"$(touch {marker})",  # and new style
        f"'; touch {marker}; '",  # out of single quotes
        f'"; touch {marker}; "',  # out of double quotes (the recipe quoted "$(SENDER)")
        f"$(shell touch {marker})",  # make's own expansion, before any shell
        "--dry-run",  # an option's name: must be the sender, not the option
        "-x",
        "a$$b #c",
    ]


def make_env(db: Path) -> dict:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    venv = settings.get("VENV")
    env.update(TRACKER_DB=str(db), VENV=str(venv))
    return env


def test_make_forget_runs_nothing_in_a_hostile_sender_id(tmp_path, domain):  # noqa: F811
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    db, marker = tmp_path / "t.db", tmp_path / "pwned"
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    senders = hostile_ids(marker)
    for sender in senders + ["bystander"]:
        tracker = new_tracker(domain, sender)
        turn(tracker, f"a question from {sender}", "topic")
        run(store.save(tracker))
    store.engine.dispose()
    for sender in senders:
        done = subprocess.run(
            ["make", "-s", "forget", f"SENDER={sender}"],
            cwd=ROOT,
            env=make_env(db),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (sender, done.stdout, done.stderr)
        assert "Deleted 8 event(s)" in done.stdout, (sender, done.stdout, done.stderr)
        assert not marker.exists(), f"{sender!r} ran a command"
        assert stored(db, sender) == []
    assert len(stored(db, "bystander")) == 8  # only the named conversations went
    usage = subprocess.run(["make", "-s", "forget"], cwd=ROOT, env=make_env(db), capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: make forget SENDER=" in usage.stdout


def test_a_sender_id_starting_with_a_dash_goes_after_double_dash(tmp_path, domain, monkeypatch, capsys):  # noqa: F811
    db = tmp_path / "t.db"
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    run(store.save(new_tracker(domain, "-abc")))
    monkeypatch.setenv("TRACKER_DB", str(db))
    for name in ("DB_HOST", "REDIS_HOST"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):  # without `--` it is an unknown option: refused, nothing deleted
        forget.main(["-abc"])
    assert len(stored(db, "-abc")) == 3
    assert forget.main(["--dry-run", "--", "-abc"]) == 0 and len(stored(db, "-abc")) == 3
    assert forget.main(["--", "-abc"]) == 0
    assert stored(db, "-abc") == []
    assert "Deleted 3 event(s)" in capsys.readouterr().out


def test_forgotten_text_is_in_neither_the_database_file_nor_its_wal(tmp_path, domain, monkeypatch):  # noqa: F811
    db = tmp_path / "t.db"
    store = CachedSQLTrackerStore(domain, dialect="sqlite", db=str(db))  # stays open, as Rasa's does
    secret = "Quillon Vantreight, born 1 March 1984"
    gone, kept = new_tracker(domain, "gone"), new_tracker(domain, "kept")
    for n in range(40):  # enough rows to fill several pages
        turn(gone, f"{secret} question {n}", "topic")
        turn(kept, f"an ordinary question {n}", "topic")
    run(store.save(gone))
    run(store.save(kept))
    assert run(store.retrieve("gone")) is not None  # and the store's cache holds a copy
    files = [db, Path(f"{db}-wal")]
    assert any(secret.encode() in f.read_bytes() for f in files if f.exists())  # the check can fail
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1  # the store's: on
    monkeypatch.setenv("TRACKER_DB", str(db))
    for name in ("DB_HOST", "REDIS_HOST"):
        monkeypatch.delenv(name, raising=False)
    assert forget.forget("gone") == 3 + 40 * 5
    for f in files:
        if f.exists():
            assert secret.encode() not in f.read_bytes(), f.name
            assert b"Quillon" not in f.read_bytes(), f.name
    assert Path(f"{db}-wal").stat().st_size == 0  # checkpointed and truncated
    assert run(store.retrieve("gone")) is None  # the cache does not serve it
    assert "gone" not in store._cache
    assert len(stored(db, "kept")) == 3 + 40 * 5
    assert run(store.retrieve("kept")).get_slot("topic") == "topic"


def test_without_secure_delete_a_deleted_row_stays_in_the_file(tmp_path):
    """The control for the test above: SQLite's default (off in SQLite's own build; Debian
    turns it on) leaves a deleted row's text in a free page after a checkpoint."""
    db = tmp_path / "plain.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA secure_delete=OFF")
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, data TEXT)")
        conn.executemany("INSERT INTO events (data) VALUES (?)", [("Quillon Vantreight " * 20,)] * 40)
        conn.commit()
        conn.execute("DELETE FROM events")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"Quillon" in db.read_bytes()
