"""The one test harness: it boots the assistant (scripts/serve.sh) or the cluster
(scripts/cluster.sh) on given ports, in a folder of its own with its own database, from a clean
environment; and it holds the helpers every suite shares. `make eval` and `make bench` boot
their assistant through it too.

A clean environment: every project setting (b12/settings.py) and every SLACK_* variable is
removed from the caller's environment, so nothing from the developer's shell (DB_HOST,
REDIS_HOST, ENABLE_API, a TRACKER_DB) reaches the servers under test. Only VENV and CI pass.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional

from b12 import settings
from b12.answering import SAFE_REPLY
from evaluation.common import Reply, request, texts, webhook

__all__ = ["SAFE_REPLY", "Cluster", "Stack", "chat", "port", "request", "texts"]

ROOT = settings.ROOT
MODEL = ROOT / "models" / "current.tar.gz"
PASSED_ON = ("VENV", "CI", "B12_KEEP_TEST_DIR", "B12_TEST_PORT_OFFSET")


def port(number: int) -> int:
    """A suite's port, moved by B12_TEST_PORT_OFFSET so that two checkouts can test side by side."""
    return number + settings.get("B12_TEST_PORT_OFFSET")


def _caveat_start() -> str:
    """The first sentence of the provider caveat, from domain.yml (its one source)."""
    import yaml

    text = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]["utter_caveat"][0]["text"]
    return text.split(".")[0] + "."


CAVEAT = _caveat_start()
# The fake personal data that must never reach a log line.
PII_MESSAGE = "my name is Zebulon Quartermaine, call me on 07700 900123"
PII_FRAGMENTS = ["Zebulon", "Quartermaine", "07700 900123", "07700", "900123"]


def clean_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The caller's environment without any project setting or SLACK_* variable, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in PASSED_ON or (k not in settings.SETTINGS and not k.startswith("SLACK_"))
    }
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def new_sender(tag: str = "t") -> str:
    return f"{tag}-{uuid.uuid4().hex}"


def needs_model() -> None:
    import pytest

    if not MODEL.exists():
        pytest.fail("No trained model at models/current.tar.gz: run `make train` first (make test does).")


def ensure_free(*ports: int) -> None:
    busy = [p for p in ports if port_open(p)]
    if busy:
        import pytest

        pytest.fail(f"ports already in use: {busy}; stop what runs there first")


class Stack:
    """The assistant (action server + Rasa server, optionally the demo page) through
    scripts/serve.sh, on `rasa_port` and `actions_port`, in `home` (a new temporary folder when
    None): `home`/run for pid files and logs, `home`/data/tracker.db for the conversations.
    `env` is added to the clean environment of every start and stop."""

    def __init__(
        self,
        rasa_port: int,
        actions_port: int,
        home: Optional[Path | str] = None,
        env: Optional[Mapping[str, str]] = None,
        web_port: Optional[int] = None,
    ) -> None:
        self.temporary = home is None
        self.home = Path(tempfile.mkdtemp(prefix="b12-stack-")) if home is None else settings.resolve(home)
        self.run_dir = self.home / "run"
        self.db = self.home / "data" / "tracker.db"
        self.archive = self.home / "old-logs"
        self.archive.mkdir(parents=True, exist_ok=True)
        self.rasa_port, self.actions_port, self.web_port = rasa_port, actions_port, web_port
        self.extra = dict(env or {})
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def webhook(self) -> str:
        return webhook(self.url)

    def env(self, **extra: str) -> Dict[str, str]:
        base = {
            "RUN_DIR": str(self.run_dir),
            "TRACKER_DB": str(self.db),
            "RASA_PORT": str(self.rasa_port),
            "ACTIONS_PORT": str(self.actions_port),
            "RASA_START_TIMEOUT": "240",
        }
        if self.web_port:
            base.update(WEB_PORT=str(self.web_port), SERVE_WEB="1")
        return clean_env({**base, **self.extra, **extra})

    def serve(self, command: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
        """scripts/serve.sh `command`; with check, a failure fails the test with the log's end."""
        done = subprocess.run(
            [str(ROOT / "scripts" / "serve.sh"), command],
            cwd=ROOT,
            env=self.env(**extra),
            timeout=300,
            capture_output=True,
            text=True,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"scripts/serve.sh {command} failed ({self.run_dir}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return done

    def start(self, **extra: str) -> None:
        self.serve("start", **extra)

    def stop(self) -> None:
        self.serve("stop", check=False)

    def pid(self, name: str) -> Optional[int]:
        path = self.run_dir / f"{name}.pid"
        return read_pid(path) if path.exists() else None

    def keep_logs(self) -> None:
        """serve.sh starts each server with a fresh log: keep the old one (for the privacy checks)."""
        self.restarts += 1
        for name in ("rasa.log", "actions.log"):
            if (self.run_dir / name).exists():
                shutil.copy(self.run_dir / name, self.archive / f"{self.restarts}-{name}")

    def log_files(self) -> List[Path]:
        return sorted(self.archive.glob("*.log")) + sorted(self.run_dir.glob("*.log"))

    def log(self, name: str = "rasa") -> str:
        path = self.run_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def engine(self):
        import sqlalchemy as sa

        return sa.create_engine(f"sqlite:///{self.db}")

    def remove(self) -> None:
        """Delete a temporary home, unless B12_KEEP_TEST_DIR=1 keeps it to look at a failure."""
        if self.temporary and not settings.get("B12_KEEP_TEST_DIR"):
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextlib.contextmanager
def booted(rasa_port: int, actions_port: int, **kwargs: Any) -> Iterator[Stack]:
    """A Stack started on free ports with a trained model, stopped and removed afterwards."""
    needs_model()
    ensure_free(rasa_port, actions_port, *([kwargs["web_port"]] if kwargs.get("web_port") else []))
    stack = Stack(rasa_port, actions_port, **kwargs)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        stack.remove()


class Cluster:
    """scripts/cluster.sh (nginx, two Rasa processes, one action server, PostgreSQL, Redis) in a
    temporary folder, on the given ports, from a clean environment."""

    def __init__(self, nginx: int, rasa_ports: List[int], actions: int, pg: int, redis: int) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="b12-cluster-"))
        self.home.chmod(0o755)  # PostgreSQL runs as the `postgres` user and must reach its data dir
        self.ports = {"nginx": nginx, "actions": actions, "pg": pg, "redis": redis}
        self.rasa_ports = list(rasa_ports)
        self.env = clean_env(
            {
                "RUN_DIR": str(self.home),
                "RASA_START_TIMEOUT": "300",
                "NGINX_PORT": str(nginx),
                "RASA_PORTS": " ".join(map(str, rasa_ports)),
                "CLUSTER_ACTIONS_PORT": str(actions),
                "PG_PORT": str(pg),
                "CLUSTER_REDIS_PORT": str(redis),
            }
        )

    def all_ports(self) -> List[int]:
        return [*self.ports.values(), *self.rasa_ports]

    def run(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ROOT / "scripts" / "cluster.sh"), command],
            cwd=ROOT,
            env=self.env,
            check=check,
            timeout=900,
            capture_output=True,
            text=True,
        )

    def secrets(self) -> Dict[str, str]:
        lines = (self.home / "cluster" / "secrets.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def db_env(self) -> Dict[str, str]:
        env = dict(self.env, DB_HOST="127.0.0.1", DB_PORT=str(self.ports["pg"]), DB_NAME="rasa", DB_USER="rasa")
        env["DB_PASSWORD"] = self.secrets()["DB_PASSWORD"]
        return env

    def engine(self):
        import sqlalchemy as sa

        password = self.secrets()["DB_PASSWORD"]
        return sa.create_engine(f"postgresql://rasa:{password}@127.0.0.1:{self.ports['pg']}/rasa")

    def pidfile(self, port: int) -> Path:
        return self.home / "cluster" / f"rasa-{port}" / "rasa.pid"

    def remove(self) -> None:
        if not settings.get("B12_KEEP_TEST_DIR"):
            shutil.rmtree(self.home, ignore_errors=True)


def chat(base: str, message: Any, sender: Optional[str] = None, timeout: float = 60) -> Reply:
    """(status, parsed reply, seconds) for one REST message; no sender when `sender` is None."""
    payload = {"message": message} if sender is None else {"sender": sender, "message": message}
    return request(webhook(base), json.dumps(payload).encode(), timeout=timeout)


def joined(reply: Any) -> str:
    return " ".join(texts(reply))


def wait_until(check, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def read_pid(pidfile: Path) -> int:
    return int(pidfile.read_text().split()[0])


def kill9(pidfile: Path) -> int:
    pid = read_pid(pidfile)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), 10)
    return pid


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]
    except (OSError, IndexError):
        return ""


def listening_addresses(port: int) -> List[str]:
    """Local addresses with a LISTEN socket on `port` (IPv4 and IPv6), from /proc/net."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.append(_decode_address(address))
    return found


def _decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def conversation_events(engine, sender: str) -> List[Dict[str, Any]]:
    """A conversation's events, in stored order, straight from Rasa's `events` table."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
        ).fetchall()
    return [json.loads(row[0]) for row in rows]


def check_turns(events: List[Dict[str, Any]], sent: List[str], ordered: bool = True) -> None:
    """Each sent message is stored exactly once (in the order sent when `ordered`), and each is
    followed by the assistant's whole turn (actions ending with action_listen) before the next
    user message: no lost, duplicated or interleaved events."""
    user_texts = [e.get("text") for e in events if e["event"] == "user"]
    if ordered:
        assert user_texts == sent, f"stored {user_texts} != sent {sent}"
    else:
        assert sorted(user_texts) == sorted(sent), f"stored {user_texts} != sent {sent}"
    stamps = [e.get("timestamp") or 0 for e in events]
    assert stamps == sorted(stamps), "events are not in time order"
    positions = [i for i, e in enumerate(events) if e["event"] == "user"]
    for n, start in enumerate(positions):
        end = positions[n + 1] if n + 1 < len(positions) else len(events)
        actions = [e.get("name") for e in events[start:end] if e["event"] == "action"]
        assert actions and actions[-1] == "action_listen", f"turn {n} ({user_texts[n]!r}) is incomplete: {actions}"


def run_parallel(fn, args: List[Any], workers: int) -> List[Any]:
    with cf.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, args))


def logs_containing(paths: List[Path], needles: List[str]) -> List[str]:
    hits = []
    for path in paths:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for needle in needles:
                if needle in line:
                    hits.append(f"{path.name}:{number}: {needle!r}")
    return hits


def skip_unless_selected(request, marker: str) -> None:
    """Suites that boot servers on fixed ports run only when selected by name
    (`pytest -m <marker>`), never as part of a broader run such as `-m "not integration"`."""
    import pytest

    if marker not in (request.config.getoption("markexpr") or ""):
        pytest.skip(f"boots its own servers: run with -m {marker}")


def missing(reason: str) -> None:
    """Skip a test whose browser, package or ../shared is missing; in CI (CI=true) fail instead,
    so nothing is skipped silently there."""
    import pytest

    if settings.raw("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing dependency fails the run)")
    pytest.skip(reason)


def check_a_burst(base: str, sender: str, engine, count: int = 10) -> None:
    """`count` messages from one sender at once: each answered (a lock error would end in the
    safe reply), each stored once, each followed by its whole turn."""
    sent = [f"what is pernicious anemia? (message {i})" for i in range(count)]
    results = run_parallel(lambda m: chat(base, m, sender, timeout=90), sent, workers=count)
    for status, reply, _ in results:
        assert status == 200 and "parietal cells" in joined(reply), reply
        assert SAFE_REPLY not in texts(reply)
    check_turns(conversation_events(engine, sender), sent, ordered=False)
