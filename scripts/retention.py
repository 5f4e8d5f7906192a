"""Delete conversation history older than the retention period from the tracker store.

    python scripts/retention.py [--days N] [--endpoints FILE] [--dry-run]

N is RETENTION_DAYS, default 30; the cutoff is N days before now. Whole sessions go, never part
of one, so no tracker is ever left holding half a session:
- a conversation whose newest event is older than the cutoff is deleted whole;
- a conversation still in use keeps the session its first event since the cutoff belongs to,
  and everything after it; the sessions before that one (each entirely older than the cutoff)
  are deleted. A session begins at its `session_started` event, as in Rasa's own
  SQLTrackerStore, which reads back only the latest one, so what Rasa reads is never touched.
  A conversation with no `session_started` before its recent events is left whole.
Each chunk of conversations is deleted in its own short transaction, under the database's write
lock for those conversations (extensions/tracker_store.py: lock_conversations), so the Rasa
server's saves wait at most one chunk, never the whole run; on SQLite the deleted rows are
overwritten (secure_delete) and the write-ahead log is emptied at the end. Run it daily (cron,
a Kubernetes CronJob: see docs/deployment.md); it is safe while the servers run. The tracker
store is found as in scripts/forget.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, NamedTuple, Optional

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the project root, not scripts/
from b12 import settings  # noqa: E402
from extensions.endpoints import connect  # noqa: E402

CHUNK = 100  # conversations per transaction


class Purged(NamedTuple):
    conversations: int  # deleted whole
    trimmed: int  # conversations still in use whose old sessions were deleted
    events: int  # events deleted in all (0 with --dry-run)


def _keep_from(conn, events, sender_id: str, cutoff: float) -> Optional[float]:
    """Where the oldest session to keep starts (its `action_session_start`, else its
    `session_started`): the session the conversation's first event at or after `cutoff`
    belongs to. None: keep everything."""
    import sqlalchemy as sa

    # `action_session_start` opens a session but is stored a moment before its `session_started`
    # (so Rasa's timestamp query counts it in the session before): it does not make that one recent.
    first_recent = (
        sa.select(sa.func.min(events.c.timestamp))
        .where(
            events.c.sender_id == sender_id,
            events.c.timestamp >= cutoff,
            sa.or_(events.c.action_name.is_(None), events.c.action_name != "action_session_start"),
        )
        .scalar_subquery()
    )
    start = sa.select(sa.func.max(events.c.timestamp)).where(
        events.c.sender_id == sender_id,
        events.c.type_name == "session_started",
        events.c.timestamp <= first_recent,
    )
    started = conn.execute(start).scalar()
    if started is None:
        return None
    # Keep that session's own `action_session_start` too, when it comes right before.
    opened = conn.execute(
        sa.select(sa.func.max(events.c.timestamp)).where(
            events.c.sender_id == sender_id,
            events.c.action_name == "action_session_start",
            events.c.timestamp <= started,
        )
    ).scalar()
    if opened is None:
        return started
    between = sa.select(sa.func.count()).where(
        events.c.sender_id == sender_id,
        events.c.timestamp >= opened,
        events.c.timestamp < started,
        events.c.action_name.is_distinct_from("action_session_start"),
    )
    return opened if conn.execute(between).scalar_one() == 0 else started


def purge(days: float, endpoints: str | None = None, dry_run: bool = False, now: float | None = None) -> Purged:
    """Delete what is older than `days` (see the module's docstring); return what was deleted."""
    import sqlalchemy as sa

    from extensions.tracker_store import checkpoint, delete_events, lock_conversations

    cutoff = (now if now is not None else time.time()) - days * 86400
    engine, events = connect(endpoints)
    newest, oldest = sa.func.max(events.c.timestamp), sa.func.min(events.c.timestamp)
    by_sender = sa.select(events.c.sender_id).group_by(events.c.sender_id)
    with engine.connect() as conn:
        stale: List[str] = [row[0] for row in conn.execute(by_sender.having(newest < cutoff))]
        in_use = by_sender.having(sa.and_(oldest < cutoff, newest >= cutoff))
        active: List[str] = [row[0] for row in conn.execute(in_use)]
    senders = stale + active
    whole, trimmed, deleted = 0, 0, 0
    for start in range(0, len(senders), CHUNK):
        chunk = senders[start : start + CHUNK]
        with engine.begin() as conn:  # one short transaction per chunk
            if not dry_run:
                lock_conversations(conn, chunk)
            for sender_id in chunk:  # checked again under the lock: a message may have come in
                last = conn.execute(sa.select(newest).where(events.c.sender_id == sender_id)).scalar()
                if last is None:
                    continue  # forgotten meanwhile
                if last < cutoff:  # idle since before the cutoff: the whole conversation goes
                    whole += 1
                    deleted += 0 if dry_run else delete_events(conn, sender_id)
                    continue
                keep_from = _keep_from(conn, events, sender_id, cutoff)
                if keep_from is None:
                    continue
                old = sa.select(sa.func.count()).where(events.c.sender_id == sender_id, events.c.timestamp < keep_from)
                if conn.execute(old).scalar_one():
                    trimmed += 1
                    deleted += 0 if dry_run else delete_events(conn, sender_id, before=keep_from)
    if not dry_run:
        checkpoint(engine)
    engine.dispose()
    return Purged(whole, trimmed, deleted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delete conversation history older than the retention period.")
    parser.add_argument("--days", type=float, default=settings.get("RETENTION_DAYS"))
    parser.add_argument("--endpoints", help="read the tracker store from this endpoints file")
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    args = parser.parse_args(argv)
    if args.days <= 0:
        parser.error("--days / RETENTION_DAYS must be positive")
    try:
        result = purge(args.days, args.endpoints, args.dry_run)
    except RuntimeError as error:  # the WAL could not be emptied: the rows are gone, say what is left
        print(f"Deleted the old history, but: {error}", file=sys.stderr)
        return 1
    verb = "Would delete" if args.dry_run else "Deleted"
    print(
        f"{verb} {result.conversations} conversation(s) with no activity in the last {args.days:g} day(s), "
        f"and the sessions older than that of {result.trimmed} conversation(s) still in use."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
