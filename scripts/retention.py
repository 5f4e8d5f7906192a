"""Delete conversations older than the retention period from the tracker store.

    python scripts/retention.py [--days N] [--endpoints FILE] [--dry-run]

A conversation (all events of one sender id) is deleted when its most recent event is older
than N days: RETENTION_DAYS, default 30. Whole conversations go, never part of one, so a
tracker is never left half-deleted. Run it daily (cron, a Kubernetes CronJob: see
docs/deployment.md); it is safe while the servers run. The tracker store is found as in
scripts/forget.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the project root, not scripts/
from b12 import settings  # noqa: E402
from extensions.endpoints import connect  # noqa: E402


def purge(days: float, endpoints: str | None = None, dry_run: bool = False, now: float | None = None) -> int:
    """Delete conversations idle for more than `days`; return how many were deleted."""
    import sqlalchemy as sa

    cutoff = (now if now is not None else time.time()) - days * 86400
    engine, events = connect(endpoints)
    stale = sa.select(events.c.sender_id).group_by(events.c.sender_id).having(sa.func.max(events.c.timestamp) < cutoff)
    with engine.begin() as conn:
        senders = [row[0] for row in conn.execute(stale)]
        if senders and not dry_run:
            for start in range(0, len(senders), 500):
                chunk = senders[start : start + 500]
                conn.execute(events.delete().where(events.c.sender_id.in_(chunk)))
    engine.dispose()
    return len(senders)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delete conversations older than the retention period.")
    parser.add_argument("--days", type=float, default=settings.get("RETENTION_DAYS"))
    parser.add_argument("--endpoints", help="read the tracker store from this endpoints file")
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    args = parser.parse_args(argv)
    if args.days <= 0:
        parser.error("--days / RETENTION_DAYS must be positive")
    count = purge(args.days, args.endpoints, args.dry_run)
    verb = "Would delete" if args.dry_run else "Deleted"
    print(f"{verb} {count} conversation(s) with no activity in the last {args.days:g} day(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
