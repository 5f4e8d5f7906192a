"""`make shell` in a terminal (a pseudo-terminal here): rasa shell listens on 127.0.0.1 only, it
answers, and what it starts (its Rasa server, the action server) stops when the shell ends, both
on /stop and when the terminal is closed."""

import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import sqlite3
import subprocess
import termios
import threading
import time
from pathlib import Path

import pytest

from b12 import settings
from tests.harness import clean_env, ensure_free, listening_addresses, needs_model, port, port_open, wait_until

pytestmark = pytest.mark.integration

ROOT = settings.ROOT
SHELL_PORT, ACTIONS_PORT = port(5306), port(5356)
LOADED = "Bot loaded. Type a message and press enter"
DOWN = b"\x1b[B"  # the down-arrow key


def _a_login_terminal() -> None:
    """In the child: the pseudo-terminal becomes its controlling terminal, and a hang-up is not
    ignored. Run under `nohup` (as a CI job may be), every child inherits an ignored SIGHUP, and
    bash cannot trap a signal ignored on entry, so closing the terminal would stop nothing."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`make shell` with a pseudo-terminal as its controlling terminal, in a session of its own."""

    def __init__(self, home: Path):
        self.db = home / "data" / "tracker.db"
        env = clean_env(
            {
                "RUN_DIR": str(home / "run"),
                "TRACKER_DB": str(home / "data" / "tracker.db"),
                "ACTIONS_PORT": str(ACTIONS_PORT),
                "SHELL_PORT": str(SHELL_PORT),
                "VENV": str(settings.get("VENV")),
            }
        )
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "shell"],
            cwd=ROOT,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_a_login_terminal,  # noqa: PLW1509 - the terminal, like a login
        )
        os.close(slave)
        self.output = b""
        self.closing = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while not self.closing.is_set():  # never blocked in read(): close() must release the terminal
            if not select.select([self.master], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # every process let go of the terminal
                return
            if not chunk:
                return
            self.output += chunk

    def text(self) -> str:
        return self.output.decode(errors="replace")

    def wait_for(self, needle: str, seconds: float) -> bool:
        wait_until(lambda: needle in self.text() or self.process.poll() is not None, seconds)
        return needle in self.text()

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def press(self, key: bytes) -> None:
        os.write(self.master, key)
        time.sleep(0.3)

    def close(self) -> None:
        """The terminal window is closed: the pseudo-terminal hangs up."""
        self.closing.set()
        self.reader.join()
        os.close(self.master)

    def processes(self):
        """Processes still in the shell's session (make, the launcher, rasa shell, the action server)."""
        sid = self.process.pid
        left = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if os.getsid(int(proc.name)) == sid and "Z" not in (proc / "stat").read_text().split(") ")[1][:1]:
                        left.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                except (OSError, IndexError):
                    pass
        return left

    def kill_all(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def terminal(tmp_path):
    needs_model()
    ensure_free(SHELL_PORT, ACTIONS_PORT)
    made = []

    def make():
        made.append(Terminal(tmp_path))
        return made[-1]

    yield make
    for t in made:
        t.kill_all()


PA_PASSAGES = ["pa.parietal_cells", "pa.central_feature"]


def stored_votes(db: Path) -> list:
    """The `feedback` slot events in the shell's tracker store."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT data FROM events WHERE type_name = 'slot' AND action_name = 'feedback'").fetchall()
    return [json.loads(row[0])["value"] for row in rows]


def everything_stopped(t: Terminal) -> bool:
    return not t.processes() and not port_open(SHELL_PORT) and not port_open(ACTIONS_PORT)


def test_make_shell_listens_on_loopback_answers_and_stops_what_it_started_on_stop(terminal):
    t = terminal()
    assert t.wait_for(LOADED, 240), t.text()[-3000:]
    # only this machine can reach the shell's Rasa server (it was 0.0.0.0:5006)
    assert listening_addresses(SHELL_PORT) == ["127.0.0.1"], listening_addresses(SHELL_PORT)
    assert set(listening_addresses(ACTIONS_PORT)) == {"127.0.0.1"}
    t.type("what is pernicious anemia?")
    assert t.wait_for("parietal cells", 60), t.text()[-3000:]
    # "was this helpful?": the caveat's buttons are a pick list whose first choice, "Skip", is what
    # Enter picks, so going on is no vote; down once and Enter is "Yes, this helped"
    assert t.wait_for("No, this did not help", 30), t.text()[-3000:]
    assert t.text().rindex("Skip") < t.text().rindex("Yes, this helped"), t.text()[-3000:]
    t.press(DOWN)
    t.type("")
    assert t.wait_for("glad it helped", 60), t.text()[-3000:]
    assert stored_votes(t.db) == [{"topic": "pernicious_anemia", "passages": PA_PASSAGES, "helpful": True}]
    t.type("/stop")
    assert t.process.wait(timeout=60) == 0, t.text()[-3000:]
    # nothing it started outlives it (make shell used to leave Rasa and the action server running)
    stopped = wait_until(lambda: everything_stopped(t), 15)
    assert stopped, (t.processes(), port_open(SHELL_PORT), port_open(ACTIONS_PORT))


def test_closing_the_terminal_stops_the_shell_and_its_action_server(terminal):
    t = terminal()
    # the action server is up and rasa shell is loading the model: close the window now
    loading = wait_until(lambda: port_open(ACTIONS_PORT) and any("bin/rasa shell " in p for p in t.processes()), 120)
    assert loading, t.text()
    time.sleep(2)
    t.close()
    stopped = wait_until(lambda: everything_stopped(t), 30)
    assert stopped, (t.processes(), port_open(SHELL_PORT), port_open(ACTIONS_PORT))
