"""What the evaluation, the benchmark, the soak test and the system tests share: one REST client,
one percentile, one reader of process memory, one report writer. Standard library only."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
HELDOUT = ROOT / "evaluation" / "heldout"


class Reply(NamedTuple):
    status: int
    body: Any  # parsed JSON, or the text when it is not JSON
    seconds: float

    @property
    def ms(self) -> float:
        return self.seconds * 1000

    @property
    def messages(self) -> List[dict]:
        return [m for m in self.body if isinstance(m, dict)] if isinstance(self.body, list) else []


def request(
    url: str,
    body: Optional[bytes] = None,
    method: Optional[str] = None,
    headers: Optional[Dict[str, str]] = None,
    timeout: float = 60,
) -> Reply:
    """One HTTP request. Never raises on an HTTP error status; transport errors do raise."""
    req = urllib.request.Request(url, body, {"Content-Type": "application/json", **(headers or {})}, method=method)
    began = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    elapsed = time.monotonic() - began
    try:
        return Reply(status, json.loads(raw or b"null"), elapsed)
    except ValueError:
        return Reply(status, raw.decode(errors="replace"), elapsed)


def webhook(base_url: str) -> str:
    return base_url.rstrip("/") + "/webhooks/rest/webhook"


def post(base_url: str, sender: str, text: Any, timeout: float = 60, headers: Optional[Dict[str, str]] = None) -> Reply:
    """Send one message to the assistant's REST channel at `base_url`."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    return request(webhook(base_url), body, "POST", headers, timeout)


def store_failures(base_url: str) -> Optional[Dict[str, int]]:
    """The tracker store failures the Rasa process at `base_url` counted (its REST health route)."""
    try:
        body = request(base_url.rstrip("/") + "/webhooks/rest/", timeout=10).body
    except OSError:
        return None
    return body.get("store_failures") if isinstance(body, dict) else None


def texts(reply: Any) -> List[str]:
    """The text of each message of a REST reply (a Reply or its parsed body)."""
    body = reply.body if isinstance(reply, Reply) else reply
    return [m.get("text", "") for m in body if isinstance(m, dict) and m.get("text")] if isinstance(body, list) else []


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1): the smallest value with at least q of the values
    at or below it. The one formula behind every p50 and p95 the reports give."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def memory_mb(pid: Optional[int], field: str = "VmRSS") -> Optional[float]:
    """Resident memory of a live process in MB from /proc: VmRSS now, or VmHWM (its peak)."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def write_report(name: str, data: Dict[str, Any], markdown: Optional[str] = None) -> Path:
    """reports/<name>.json (and reports/<name>.md for people); returns the JSON's path."""
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    if markdown is not None:
        (REPORTS / f"{name}.md").write_text(markdown)
    return path
