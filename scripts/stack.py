"""Boot and stop the assistant (action server + Rasa server) for scripts that measure it.

Used by scripts/evaluate.py and scripts/bench.py; wraps scripts/serve.sh so there is one way
to start the stack. Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stack:
    rasa_port: int
    actions_port: int
    run_dir: str
    env: dict = field(default_factory=dict)  # extra environment for both servers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def webhook(self) -> str:
        return f"{self.url}/webhooks/rest/webhook"

    def _serve(self, command: str) -> None:
        env = dict(
            os.environ,
            RASA_PORT=str(self.rasa_port),
            ACTIONS_PORT=str(self.actions_port),
            RUN_DIR=self.run_dir,
            # its own conversations database, not the one `make run` keeps in var/
            TRACKER_DB=str(ROOT / self.run_dir / "tracker.db"),
            **self.env,
        )
        subprocess.run(
            [str(ROOT / "scripts" / "serve.sh"), command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
        )

    def start(self) -> None:
        self._serve("start")

    def stop(self) -> None:
        self._serve("stop")

    def pid(self, name: str) -> Optional[int]:
        path = ROOT / self.run_dir / f"{name}.pid"
        return int(path.read_text()) if path.exists() else None

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def post(url: str, sender: str, text: str, timeout: float = 30) -> Tuple[float, List[dict]]:
    """Send one message; return (milliseconds, reply messages)."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = json.loads(response.read() or b"[]")
    return (time.perf_counter() - started) * 1000, data


def peak_rss_mb(pid: Optional[int]) -> Optional[float]:
    """Peak resident memory (VmHWM) of a live process, in MB, from /proc."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
