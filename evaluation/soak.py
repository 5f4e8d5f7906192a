"""Soak test: bounded, steady load on a local assistant; reports memory growth, latency drift
and errors (which must be zero).

    python -m evaluation.soak [--url http://127.0.0.1:5005] [--duration 300] [--rate 4]
                           [--workers 4] [--pidfile FILE ...] [--json FILE] [--quick]

Env: DURATION (300), SOAK_URL, RUN_DIR (.run: its rasa.pid and actions.pid are watched when
no --pidfile is given). --quick is a 20-second run.

Each worker plays short conversations, each under a fresh sender id: a topic question, two
follow-ups that only resolve with the conversation's memory, a greeting. Requests are paced
to --rate per second in total, so the load is steady and bounded whatever the server's speed.
An error is: a transport failure, a status other than 200, an empty reply, the safe "can't look
that up" reply, or a follow-up that did not resolve. Memory is each process's resident set
(VmRSS) sampled every second: growth = mean of the last fifth minus mean of the first fifth
(after a warm-up of a tenth of the run). Latency drift = p50/p95 of the last third of
requests against the first third. Only loopback URLs are accepted.
Exit status: 0 when there were no errors, 1 otherwise (2: bad arguments).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from b12 import settings
from evaluation.common import memory_mb, percentile, post, store_failures, texts, webhook

ROOT = Path(__file__).resolve().parent.parent

SAFE_REPLY_START = "I can't look that up right now"
# (message, text the reply must contain, case-insensitive; None: any non-empty reply)
CONVERSATION: List[Tuple[str, Optional[str]]] = [
    ("what is pernicious anemia?", "parietal cells"),
    ("how is it treated?", "standard of care"),
    ("is that for life?", "lifelong"),
    ("hello", None),
]


def _during(before: Dict[str, int], after: Optional[Dict[str, int]]) -> Optional[Dict[str, int]]:
    """Failures counted during the run (the server's counters run from its start)."""
    return None if after is None else {k: v - before.get(k, 0) for k, v in after.items()}


class Soak:
    def __init__(self, url: str, duration: float, rate: float, workers: int, pids: Dict[str, int]) -> None:
        self.url = url
        self.duration, self.rate, self.workers, self.pids = duration, rate, workers, pids
        self.lock = threading.Lock()
        self.samples: List[Tuple[float, float]] = []  # (start offset, latency seconds)
        self.errors: List[str] = []
        self.memory: Dict[str, List[Tuple[float, int]]] = {name: [] for name in pids}
        self.next_slot = 0.0
        self.start = 0.0

    def _slot(self) -> Optional[float]:
        """The next send time on the shared steady schedule, or None when the run is over."""
        with self.lock:
            at = self.next_slot
            self.next_slot += 1.0 / self.rate
        return at if at < self.duration else None

    def _worker(self) -> None:
        while True:
            sender = f"soak-{uuid.uuid4().hex}"
            for message, expected in CONVERSATION:
                at = self._slot()
                if at is None:
                    return
                delay = self.start + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                began = time.monotonic()
                try:
                    reply = post(self.url, sender, message, timeout=30)
                    error = None
                    said = " ".join(texts(reply))
                    if reply.status != 200:
                        error = f"status {reply.status}"
                    elif not reply.messages:
                        error = "empty reply"
                    elif SAFE_REPLY_START in said:
                        error = "safe fallback reply (a failure inside the assistant)"
                    elif expected and expected not in said.lower():
                        error = f"follow-up did not resolve: {message!r} lacks {expected!r}"
                except Exception as e:  # transport errors, timeouts, bad JSON
                    error = f"{type(e).__name__}: {e}"
                latency = time.monotonic() - began
                with self.lock:
                    self.samples.append((began - self.start, latency))
                    if error:
                        self.errors.append(error)

    def _watch_memory(self, stop: threading.Event) -> None:
        while not stop.is_set():
            now = time.monotonic() - self.start
            for name, pid in self.pids.items():
                mb = memory_mb(pid)
                kb = None if mb is None else int(mb * 1024)
                if kb is not None:
                    self.memory[name].append((now, kb))
                elif not self.memory[name] or self.memory[name][-1][1] != -1:
                    self.memory[name].append((now, -1))  # the process is gone
            stop.wait(1.0)

    def run(self) -> dict:
        self.failures_before = store_failures(self.url) or {}
        self.start = time.monotonic()
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_memory, args=(stop,), daemon=True)
        watcher.start()
        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.duration + 60)  # bounded: a request times out after 30 s
        stop.set()
        watcher.join(5)
        return self.report(time.monotonic() - self.start)

    def report(self, elapsed: float) -> dict:
        latencies = [lat for _, lat in sorted(self.samples)]
        third = max(1, len(latencies) // 3)
        first, last = latencies[:third], latencies[-third:]
        memory = {}
        for name, points in self.memory.items():
            alive = [(t, kb) for t, kb in points if kb >= 0]
            warm = [(t, kb) for t, kb in alive if t >= self.duration * 0.1] or alive
            fifth = max(1, len(warm) // 5)
            head = [kb for _, kb in warm[:fifth]]
            tail = [kb for _, kb in warm[-fifth:]]
            memory[name] = {
                "pid": self.pids[name],
                "died": any(kb < 0 for _, kb in points),
                "rss_start_mb": round(statistics.mean(head) / 1024, 1) if head else None,
                "rss_end_mb": round(statistics.mean(tail) / 1024, 1) if tail else None,
                "rss_growth_mb": round((statistics.mean(tail) - statistics.mean(head)) / 1024, 1) if head else None,
                "rss_max_mb": round(max(kb for _, kb in alive) / 1024, 1) if alive else None,
            }
        return {
            "url": webhook(self.url),
            "duration_s": round(elapsed, 1),
            "target_rate_per_s": self.rate,
            "requests": len(latencies),
            "achieved_rate_per_s": round(len(latencies) / elapsed, 2) if elapsed else 0,
            "errors": len(self.errors),
            "error_examples": sorted(set(self.errors))[:10],
            "store_failures": _during(self.failures_before, store_failures(self.url)),
            "latency_ms": {
                "p50": round(percentile(latencies, 0.5) * 1000, 1),
                "p95": round(percentile(latencies, 0.95) * 1000, 1),
                "max": round(max(latencies) * 1000, 1) if latencies else None,
                "first_third_p50": round(percentile(first, 0.5) * 1000, 1),
                "last_third_p50": round(percentile(last, 0.5) * 1000, 1),
                "first_third_p95": round(percentile(first, 0.95) * 1000, 1),
                "last_third_p95": round(percentile(last, 0.95) * 1000, 1),
                "p50_drift_ms": round((percentile(last, 0.5) - percentile(first, 0.5)) * 1000, 1),
            },
            "memory": memory,
        }


def is_loopback_url(url: str) -> bool:
    return settings.is_loopback(urllib.parse.urlsplit(url).hostname or "")


def main(argv: Optional[List[str]] = None) -> int:
    run_dir = settings.path("RUN_DIR")
    parser = argparse.ArgumentParser(description="Steady load on a local assistant; memory, latency, errors.")
    parser.add_argument("--url", default=settings.raw("SOAK_URL") or f"http://127.0.0.1:{settings.get('RASA_PORT')}")
    parser.add_argument("--duration", type=float, default=settings.get("DURATION"))
    parser.add_argument("--quick", action="store_true", help="a 20-second run")
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second in total (default 4)")
    parser.add_argument("--workers", type=int, default=4, help="concurrent conversations (default 4)")
    parser.add_argument("--pidfile", action="append", default=[], help="a process to watch (repeatable)")
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 20.0
    if not is_loopback_url(args.url):
        parser.error("only loopback URLs (127.0.0.1, localhost, ::1) are allowed")
    if not (0 < args.rate <= 50 and 1 <= args.workers <= 32 and 0 < args.duration <= 86400):
        parser.error("bounds: 0 < rate <= 50, 1 <= workers <= 32, 0 < duration <= 86400")

    pidfiles = [Path(p) for p in args.pidfile] or [
        p for p in (run_dir / "rasa.pid", run_dir / "actions.pid") if p.exists()
    ]
    pids = {}
    for path in pidfiles:
        try:
            pids[path.stem] = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            parser.error(f"cannot read a pid from {path}")

    report = Soak(args.url, args.duration, args.rate, args.workers, pids).run()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    failures = sum((report["store_failures"] or {}).values())
    return 0 if report["errors"] == 0 and failures == 0 and report["requests"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
