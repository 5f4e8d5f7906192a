"""The content team's report: what patients asked, from the tracker store, private by design.

    python -m reporting [--since YYYY-MM-DD] [--until YYYY-MM-DD]     (make report SINCE=... UNTIL=...)

Writes reports/content.html (one self-contained page) and reports/content.json. No Rasa import:
store.py reads the events (read-only), figures.py counts, scrub.py replaces what could name a
person, groups.py groups the questions and applies the k-senders threshold, page.py renders.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from b12 import settings

REPORTS = settings.ROOT / "reports"


def build_report(
    since: date,
    until: date,
    env: Optional[Mapping[str, str]] = None,
    sqlite_file: Optional[Path] = None,
    min_senders: Optional[int] = None,
) -> Dict[str, Any]:
    from reporting import figures, store

    k = settings.get("REPORT_MIN_SENDERS", env) if min_senders is None else min_senders
    if k < 1:
        raise ValueError(f"REPORT_MIN_SENDERS={k}: expected at least 1")
    made = store.engine(env, sqlite_file)
    try:
        return figures.build(store.read_events(made, since, until), since, until, k)
    finally:
        made.dispose()


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a failed run leaves the previous report as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report: Dict[str, Any], out_dir: Path = REPORTS) -> Tuple[Path, Path]:
    from reporting.page import as_json, render

    html_path, json_path = out_dir / "content.html", out_dir / "content.json"
    page, data = render(report), as_json(report)  # both made before either is written
    _write(json_path, data)
    _write(html_path, page)
    return html_path, json_path
