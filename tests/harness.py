"""The one test harness: every system suite boots its servers through it (`booted`, `Stack`,
`Cluster`, from evaluation/stack.py, on ports moved by `port()`), and it holds the helpers the
suites share: HTTP, waiting, process control, reading conversations from the tracker store."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import signal
import socket
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

from b12 import settings
from b12.answering import SAFE_REPLY
from evaluation.common import Reply, request, texts, webhook
from evaluation.stack import MODEL, Cluster, Stack, clean_env, port, read_pid, supervised_pid

__all__ = [
    "MODEL",
    "SAFE_REPLY",
    "Cluster",
    "Stack",
    "chat",
    "clean_env",
    "port",
    "read_pid",
    "request",
    "supervised_pid",
    "texts",
]

ROOT = settings.ROOT


def _caveat_start() -> str:
    """The first sentence of the provider caveat, from domain.yml (its one source)."""
    import yaml

    text = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]["utter_caveat"][0]["text"]
    return text.split(".")[0] + "."


CAVEAT = _caveat_start()
# The fake personal data that must never reach a log line.
PII_MESSAGE = "my name is Zebulon Quartermaine, call me on 07700 900123"
PII_FRAGMENTS = ["Zebulon", "Quartermaine", "07700 900123", "07700", "900123"]


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


def kill9(pidfile: Path) -> int:
    pid = read_pid(pidfile)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), 10)
    return pid


def restarted(pid_of, old_pid: int, url: str, timeout: float) -> float:
    """Seconds until a killed server is running again as a new process (`pid_of()`, asked of
    its supervisord) and `url` answers; fails the test after `timeout`."""
    import urllib.request

    start = time.monotonic()

    def answers() -> bool:
        pid = pid_of()
        if pid in (None, old_pid):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    assert wait_until(answers, timeout, interval=0.2), f"not running again within {timeout}s: {url}"
    return time.monotonic() - start


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


def conversation_events(engine, sender: str, channel: str = "rest") -> List[Dict[str, Any]]:
    """The events of `sender`'s conversation on `channel`, in stored order, straight from Rasa's
    `events` table (where it is "<channel>:<sender>")."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": f"{channel}:{sender}"}
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

    if marker not in (request.config.getoption("markexpr") or ""):
        missing(f"boots its own servers: run with -m {marker}")


def missing(reason: str) -> None:
    """Skip a test whose browser, package or ../shared is missing; in CI (CI=true) fail instead,
    so nothing is skipped silently there."""
    import pytest

    if settings.raw("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing dependency fails the run)")
    pytest.skip(reason)


# Debian's chromium and chromium-driver (make system-deps installs them)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def needs_a_browser() -> None:
    """Call when a browser test runs (not at collection): with CI=true a missing browser fails."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if absent:
        missing(f"browser tests need Debian's chromium and chromium-driver ({', '.join(absent)} missing)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing("browser tests need selenium: .venv/bin/pip install selenium")


def chromium(profile: Path, width: int = 1100, height: int = 800, extra: tuple = ()) -> Any:
    """A fresh headless Chromium with its own profile folder, fetching nothing by itself."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
        *extra,
    ):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def check_a_burst(base: str, sender: str, engine, count: int = 10) -> None:
    """`count` messages from one sender at once: each answered (a lock error would end in the
    safe reply), each stored once, each followed by its whole turn."""
    sent = [f"what is pernicious anemia? (message {i})" for i in range(count)]
    results = run_parallel(lambda m: chat(base, m, sender, timeout=90), sent, workers=count)
    for status, reply, _ in results:
        assert status == 200 and "parietal cells" in joined(reply), reply
        assert SAFE_REPLY not in texts(reply)
    check_turns(conversation_events(engine, sender), sent, ordered=False)


# ---- Slack ----------------------------------------------------------------------------------
SLACK_TOKEN = "xoxb-test"
SLACK_SECRET = "test-signing-secret"
SLACK_WAIT = 20.0  # seconds: the most any answer may take to reach the stand-in


class SlackApiStandIn:
    """http.server in a thread. Records every POST; answers like chat.postMessage does."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or b"{}")
                else:
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
                with stand_in.lock:
                    stand_in.calls.append(
                        {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
                    )
                answer = json.dumps({"ok": True, "ts": "1.1", "channel": "C1"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts(self, channel: str | None = None) -> List[Dict[str, Any]]:
        """chat.postMessage calls (their bodies), in arrival order, optionally for one channel."""
        with self.lock:
            calls = list(self.calls)
        return [
            c["body"]
            for c in calls
            if c["path"] == "/api/chat.postMessage" and (channel is None or c["body"].get("channel") == channel)
        ]

    def calls_to(self, channel: str) -> List[Dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["body"].get("channel") == channel]

    def wait_for(self, channel: str, done: Callable[[List[Dict[str, Any]]], bool], timeout: float = SLACK_WAIT):
        """Poll (bounded) until `done(posts to channel)`; fail with what arrived."""
        import pytest

        deadline = time.monotonic() + timeout
        while True:
            posts = self.posts(channel)
            if done(posts):
                return posts
            if time.monotonic() > deadline:
                pytest.fail(f"no complete answer in {channel} within {timeout}s; posts: {texts(posts)}")
            time.sleep(0.1)

    def wait_for_answer(self, channel: str, timeout: float = SLACK_WAIT) -> List[Dict[str, Any]]:
        """The posts to `channel` once the caveat (always the last message) arrived."""
        return self.wait_for(channel, lambda posts: any(CAVEAT in p.get("text", "") for p in posts), timeout)

    def assert_nothing_posted(self, channel: str, grace: float = 2.0) -> None:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            assert not self.posts(channel), f"unexpected posts in {channel}: {texts(self.posts(channel))}"
            time.sleep(0.1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
