"""Delete one conversation (every event of one sender id) from the tracker store.

    python scripts/forget.py SENDER_ID [--endpoints FILE] [--dry-run]

The tracker store is the one scripts/serve.sh uses, from the same environment (TRACKER_DB, or
DB_HOST and friends for PostgreSQL: see extensions/endpoints.py), or the `tracker_store` of
--endpoints FILE. Safe while the servers run: Rasa keeps no copy of a conversation in memory
with the SQL tracker store, so the next message from that sender starts a new conversation.
Exit status 0 whether or not the conversation existed (forgetting twice is not an error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the project root, not scripts/
from extensions.endpoints import connect  # noqa: E402


def forget(sender_id: str, endpoints: str | None = None, dry_run: bool = False) -> int:
    """Delete the conversation of `sender_id`; return how many events it had."""
    import sqlalchemy as sa

    engine, events = connect(endpoints)
    with engine.begin() as conn:
        count = conn.execute(sa.select(sa.func.count()).where(events.c.sender_id == sender_id)).scalar_one()
        if count and not dry_run:
            conn.execute(events.delete().where(events.c.sender_id == sender_id))
    engine.dispose()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delete one conversation from the tracker store.")
    parser.add_argument("sender_id", help="the conversation's sender id")
    parser.add_argument("--endpoints", help="read the tracker store from this endpoints file")
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    args = parser.parse_args(argv)
    if not args.sender_id.strip():
        parser.error("SENDER_ID is empty")
    count = forget(args.sender_id, args.endpoints, args.dry_run)
    verb = "Would delete" if args.dry_run else "Deleted"
    print(f"{verb} {count} event(s) of that conversation." if count else "No conversation with that sender id.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
