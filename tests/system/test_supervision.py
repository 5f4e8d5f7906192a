"""Supervision: under scripts/serve.sh (make run) the action server, the Rasa server and the demo
page run under supervisord, so a server that dies is started again without anyone's help.
Booted here on ports 5805/5855/5806 (plus B12_TEST_PORT_OFFSET) with a throwaway SQLite store.
Run: pytest -m resilience
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import (
    ROOT,
    SAFE_REPLY,
    Stack,
    booted,
    chat,
    check_turns,
    conversation_events,
    joined,
    new_sender,
    port,
    port_open,
    restarted,
    texts,
    wait_until,
)

pytestmark = pytest.mark.resilience

RASA_PORT, ACTIONS_PORT, WEB_PORT, SPARE_PORT = port(5805), port(5855), port(5806), port(5856)
BASE = f"http://127.0.0.1:{RASA_PORT}"
HEALTH = {
    "actions": f"http://127.0.0.1:{ACTIONS_PORT}/health",
    "rasa": f"{BASE}/",
    "web": f"http://127.0.0.1:{WEB_PORT}/",
}
SCRIPTS = {"actions": "scripts/action_server.py", "rasa": "scripts/rasa_server.py", "web": "scripts/web_server.py"}
# how long each may take to be back: the action server and the page start in seconds, Rasa loads its model
BACK_WITHIN = {"actions": 30, "rasa": 180, "web": 20}


@pytest.fixture(scope="module")
def stack():
    with booted(RASA_PORT, ACTIONS_PORT, web_port=WEB_PORT) as s:
        yield s


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def supervisord_log(stack: Stack) -> str:
    return (stack.run_dir / "supervisord.log").read_text(errors="replace")


def test_the_supervisor_is_reached_only_through_a_private_socket(stack):
    sock = stack.run_dir / "supervisor.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o700
    conf = (stack.run_dir / "supervisord.conf").read_text()
    assert "[unix_http_server]" in conf and "inet_http_server" not in conf
    supervisord = int((stack.run_dir / "supervisord.pid").read_text())
    assert "supervisord" in cmdline(supervisord)
    inodes = {os.readlink(f"/proc/{supervisord}/fd/{fd}") for fd in os.listdir(f"/proc/{supervisord}/fd")}
    tcp = [
        line.split()[9] for t in ("/proc/net/tcp", "/proc/net/tcp6") for line in Path(t).read_text().splitlines()[1:]
    ]
    assert not [i for i in tcp if f"socket:[{i}]" in inodes], "supervisord has a TCP socket"
    status = stack.serve("status").stdout
    states = {line.split()[0]: line.split()[1] for line in status.splitlines() if line.split()[0] in SCRIPTS}
    # a server counts as started once it has run its startsecs (Rasa: RASA_STARTSECS): it may still be STARTING
    assert all(states[name] in ("STARTING", "RUNNING") for name in SCRIPTS), status
    assert "actions: up" in status and "rasa: up" in status


@pytest.mark.parametrize("name", ["actions", "rasa", "web"])
def test_a_server_killed_with_kill_9_is_started_again_and_the_next_question_is_answered(stack, name):
    s = new_sender(f"kill-{name}")
    status, reply, _ = chat(BASE, "what is pernicious anemia?", s)
    assert status == 200 and "parietal cells" in joined(reply), reply
    old = stack.pid(name)
    assert old and SCRIPTS[name] in cmdline(old)
    pid_file = stack.run_dir / f"{name}.pid"
    assert int(pid_file.read_text()) == old
    os.kill(old, signal.SIGKILL)
    seconds = restarted(lambda: stack.pid(name), old, HEALTH[name], BACK_WITHIN[name])
    print(f"{name}: answering again {seconds:.1f}s after kill -9")
    new = stack.pid(name)
    assert SCRIPTS[name] in cmdline(new)
    assert int(pid_file.read_text()) == new, "the pid file still names the killed process"
    assert f"exited: {name} (terminated by SIGKILL; not expected)" in supervisord_log(stack)
    # the next health question is answered, in the same conversation
    status, reply, _ = chat(BASE, "how is it treated?", s)
    assert status == 200 and "standard of care" in joined(reply) and SAFE_REPLY not in texts(reply), reply
    check_turns(conversation_events(stack.engine(), s), ["what is pernicious anemia?", "how is it treated?"])


def test_a_server_that_cannot_start_again_is_reported_not_retried_forever(stack):
    """The action server is killed and its port taken, so each start fails: supervisord retries
    a few times, then leaves it FATAL, which `serve.sh status` shows; Rasa meanwhile gives the
    safe reply. Once the port is free, `serve.sh start` brings it back."""
    old = stack.pid("actions")
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    os.kill(old, signal.SIGKILL)
    try:
        assert wait_until(lambda: not port_open(ACTIONS_PORT), 10)
        blocker.bind(("127.0.0.1", ACTIONS_PORT))
        blocker.listen(1)
        assert wait_until(lambda: "FATAL" in stack.serve("status").stdout, 90), stack.serve("status").stdout
        spawned = supervisord_log(stack).count("spawned: 'actions'")
        time.sleep(6)
        assert supervisord_log(stack).count("spawned: 'actions'") == spawned, "still restarting"
        assert "gave up: actions entered FATAL state" in supervisord_log(stack)
        status, reply, elapsed = chat(BASE, "what is pernicious anemia?", new_sender("fatal"), timeout=20)
        assert status == 200 and texts(reply)[-1] == SAFE_REPLY, reply
    finally:
        blocker.close()
    started = stack.serve("start")
    assert "The assistant is up" in started.stdout
    assert stack.pid("actions") not in (None, old)
    status, reply, _ = chat(BASE, "what is pernicious anemia?", new_sender("after-fatal"))
    assert status == 200 and "parietal cells" in joined(reply), reply


def test_serve_start_fails_clearly_when_a_server_cannot_start():
    """A second stack whose action server port is taken: `start-actions` fails at once with the
    log's last lines, and the server is left stopped (not restarting) under its supervisord."""
    other = Stack(SPARE_PORT + 1, SPARE_PORT)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", SPARE_PORT))
    blocker.listen(1)
    try:
        done = other.serve("start-actions", check=False)
        assert done.returncode != 0, done.stdout + done.stderr
        assert "The actions stopped while starting. Last log lines" in done.stderr, done.stderr
        assert "address already in use" in done.stderr.lower(), done.stderr[-1500:]
        assert "STOPPED" in other.serve("status").stdout and other.pid("actions") is None
    finally:
        blocker.close()
        other.stop()
        assert not (other.run_dir / "supervisor.sock").exists()
        other.remove()


def test_stop_leaves_no_process_behind(stack):
    supervisord = int((stack.run_dir / "supervisord.pid").read_text())
    pids = [supervisord] + [stack.pid(name) for name in ("actions", "rasa", "web")]
    assert all(pids), pids
    stack.stop()
    assert wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), 10), pids
    assert not [p for p in (RASA_PORT, ACTIONS_PORT, WEB_PORT) if port_open(p)]
    assert not (stack.run_dir / "supervisor.sock").exists()
    assert not list(stack.run_dir.glob("*.pid"))
    leftover = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(stack.run_dir) not in leftover, [line for line in leftover.splitlines() if str(stack.run_dir) in line]
    assert ROOT.exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-m", "resilience", "-v"]))
