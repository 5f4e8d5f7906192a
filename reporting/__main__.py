"""python -m reporting [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--out DIR] [--tracker-db FILE]

The content report over a date range (UTC days, both included; default the last 30 days up to
today), from the tracker store the settings name (TRACKER_DB, or DB_HOST... for PostgreSQL).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from b12 import settings
from reporting import REPORTS, build_report, write_report
from reporting.store import StoreError

DEFAULT_DAYS = 30


def _day(text: str) -> date | None:
    if not text.strip():
        return None  # make report without SINCE or UNTIL
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: expected YYYY-MM-DD, e.g. 2026-11-01") from None


def period(since: date | None, until: date | None, today: date | None = None) -> tuple:
    today = today or datetime.now(timezone.utc).date()
    until = until or today
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    return since, until


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reporting", description=__doc__.splitlines()[0])
    parser.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (default: 29 days before --until)")
    parser.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--out", type=Path, default=REPORTS, help="folder for content.html and content.json")
    parser.add_argument("--tracker-db", type=Path, help="a SQLite tracker store (default: from the settings)")
    args = parser.parse_args(argv)
    try:
        since, until = period(args.since, args.until)
        report = build_report(since, until, sqlite_file=args.tracker_db)
        html_path, json_path = write_report(report, args.out)
    except (ValueError, StoreError, settings.SettingError) as e:
        print(f"make report: {e}", file=sys.stderr)
        return 2
    q = report["questions"]
    print(
        f"Report {since} to {until}: {report['messages']['total']} messages, {len(q['shown'])} question groups"
        f" shown, {q['hidden_groups']} hidden (fewer than {report['min_senders']} people).\n"
        f"Wrote {html_path} and {json_path}"
    )
    return 0


if __name__ == "__main__":
    from reporting.store import quiet

    quiet()
    sys.exit(main())
