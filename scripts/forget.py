"""Delete one conversation (every event of one sender id) from the tracker store.

    python scripts/forget.py [--endpoints FILE] [--dry-run] [--] SENDER_ID

A sender id that starts with a dash goes after `--` (`make forget SENDER=...` passes it so).
The tracker store is the one scripts/serve.sh uses, from the same environment (TRACKER_DB, or
DB_HOST and friends for PostgreSQL: see extensions/endpoints.py), or the `tracker_store` of
--endpoints FILE. Safe while the servers run:
- with REDIS_HOST set (or a Redis `lock_store` in --endpoints FILE), forget first takes the
  conversation's lock, as Rasa does for each message, so it waits for a message in progress;
- in every case the delete runs under the database's write lock for that conversation
  (extensions/tracker_store.py: lock_conversations), and a turn that was running when its
  conversation was deleted is not stored: nothing forgotten is written back;
- on SQLite, deleted rows are overwritten (secure_delete) and the write-ahead log is emptied.
The next message from that sender starts a new conversation.
Exit status 0 whether or not the conversation existed (forgetting twice is not an error).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, Optional

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the project root, not scripts/
from b12 import settings  # noqa: E402
from extensions.endpoints import connect  # noqa: E402


def shared_lock_store(endpoints: Optional[str] = None) -> Optional[Any]:
    """The lock store the Rasa processes share (Redis), or None when each has its own."""
    from rasa.core.lock_store import InMemoryLockStore, LockStore

    if endpoints:
        from rasa.utils.endpoints import read_endpoint_config

        config = read_endpoint_config(endpoints, "lock_store")
        store = LockStore.create(config) if config else None
        return None if store is None or isinstance(store, InMemoryLockStore) else store
    if not settings.raw("REDIS_HOST"):
        return None
    from extensions.lock_store import AtomicRedisLockStore

    return AtomicRedisLockStore(
        host=settings.get("REDIS_HOST"),
        port=settings.get("REDIS_PORT"),
        db=settings.get("REDIS_DB"),
        password=settings.raw("REDIS_PASSWORD"),
    )


async def _forget(sender_id: str, endpoints: Optional[str], dry_run: bool) -> int:
    from extensions.tracker_store import delete_conversation

    engine, _events = connect(endpoints)
    try:
        locks = None if dry_run else shared_lock_store(endpoints)
        if locks is None:
            return delete_conversation(engine, sender_id, dry_run)
        lifetime, poll = settings.get("TICKET_LOCK_LIFETIME"), settings.get("LOCK_POLL_SECONDS")
        async with locks.lock(sender_id, lock_lifetime=lifetime, wait_time_in_seconds=poll):
            return delete_conversation(engine, sender_id, dry_run)
    finally:
        engine.dispose()


def forget(sender_id: str, endpoints: str | None = None, dry_run: bool = False) -> int:
    """Delete the conversation of `sender_id`; return how many events it had."""
    return asyncio.run(_forget(sender_id, endpoints, dry_run))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delete one conversation from the tracker store.")
    parser.add_argument("sender_id", help="the conversation's sender id (after -- if it starts with a dash)")
    parser.add_argument("--endpoints", help="read the tracker store from this endpoints file")
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    args = parser.parse_args(argv)
    if not args.sender_id.strip():
        parser.error("SENDER_ID is empty")
    try:
        count = forget(args.sender_id, args.endpoints, args.dry_run)
    except RuntimeError as error:  # the WAL could not be emptied: the rows are gone, say what is left
        print(f"Deleted the conversation, but: {error}", file=sys.stderr)
        return 1
    verb = "Would delete" if args.dry_run else "Deleted"
    print(f"{verb} {count} event(s) of that conversation." if count else "No conversation with that sender id.")
    if not count and not args.sender_id.startswith(("rest:", "slack:")):
        print("Conversations are stored per channel: give rest:<sender> or slack:<user>.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
