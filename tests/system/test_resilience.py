"""Resilience, privacy and security of one Rasa server and its action server, booted here by
scripts/serve.sh on ports 5405/5455 with a throwaway SQLite tracker store.

The tests run in file order against one stack: faults are injected (action server stopped or
hung, Rasa killed with SIGKILL and started again by its supervisor) and the last test reads every
log line written.
Run: pytest -m resilience
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.harness import (
    PII_FRAGMENTS,
    PII_MESSAGE,
    ROOT,
    SAFE_REPLY,
    SLACK_SECRET,
    SLACK_TOKEN,
    booted,
    chat,
    check_a_burst,
    check_turns,
    clean_env,
    conversation_events,
    joined,
    kill9,
    listening_addresses,
    new_sender,
    port,
    port_open,
    read_pid,
    request,
    restarted,
    texts,
    wait_until,
)

pytestmark = pytest.mark.resilience


RASA_PORT, ACTIONS_PORT, REDIS_PORT = port(5405), port(5455), port(6391)
BASE = f"http://127.0.0.1:{RASA_PORT}"
PYTHON = sys.executable
API_TOKEN = "test-token-" + os.urandom(8).hex()
SENDERS: list = []  # every sender id used: none may appear in a log
# A message with an apostrophe: repr() escapes it, so an SQL error's parameters carried it past
# a redaction that looked only for the typed and JSON forms.
APOSTROPHE = "my son's b12 is low, his name is Quillon Vantreight"
TEXT_FRAGMENTS = ["Quillon", "Vantreight"]  # none may appear in a log either


@pytest.fixture(scope="module")
def stack(slack_api):
    slack_env = {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_URL": slack_api.url}
    with booted(RASA_PORT, ACTIONS_PORT, env=slack_env) as s:
        yield s


def sender(tag: str) -> str:
    s = new_sender(tag)
    SENDERS.append(s)
    return s


def test_installed_rasa_is_at_least_3_6_21():
    import rasa
    from packaging.version import Version

    assert Version(rasa.__version__) >= Version("3.6.21"), rasa.__version__


def test_action_server_listens_on_loopback_only(stack):
    addresses = listening_addresses(ACTIONS_PORT)
    assert addresses, "nothing listens on the action server's port"
    assert all(a in ("127.0.0.1", "::1") for a in addresses), addresses
    # and the launcher refuses a wildcard address unless explicitly allowed
    env = clean_env()
    refused = subprocess.run(
        [PYTHON, "scripts/action_server.py", "--host", "0.0.0.0", "--port", str(ACTIONS_PORT + 1)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "refusing" in refused.stderr


def test_http_api_is_off_by_default(stack):
    for path in ("/conversations/someone/tracker", "/status", "/model"):
        status, body, _ = request(BASE + path, timeout=10)
        assert status in (404, 405), (path, status)
        assert isinstance(body, dict), f"{path}: not a JSON error: {body!r}"[:200]
    status, _, _ = request(BASE + "/conversations/someone/tracker/events", b"[]", timeout=10)
    assert status in (404, 405)


BAD_BODIES = {
    "malformed JSON": (b'{"sender": "x", "message": ', 400),
    "missing message": (b'{"sender": "x"}', 400),
    "null message": (b'{"sender": "x", "message": null}', 400),
    "number message": (b'{"sender": "x", "message": 42}', 400),
    "list message": (b'{"sender": "x", "message": ["hi"]}', 400),
    "not an object": (b'["hi"]', 400),
    "empty body": (b"", 400),
    "invalid UTF-8": (b'{"sender": "x", "message": "caf\xe9 \xff"}', 400),
    "lone surrogate": (b'{"sender": "x", "message": "\\ud800"}', 400),
    "number sender": (b'{"sender": 7, "message": "hi"}', 400),
    "over-long sender": (json.dumps({"sender": "s" * 256, "message": "hi"}).encode(), 400),
    "metadata not an object": (b'{"sender": "x", "message": "hi", "metadata": 3}', 400),
    "1 MB body": (json.dumps({"sender": "x", "message": "a" * (1024 * 1024)}).encode(), 413),
    "10,001 characters": (json.dumps({"sender": "x", "message": "b" * 10001}).encode(), 413),
}


@pytest.mark.parametrize("case", list(BAD_BODIES), ids=list(BAD_BODIES))
def test_bad_requests_get_a_4xx_json_error_and_the_server_keeps_serving(stack, case):
    body, expected = BAD_BODIES[case]
    status, reply, elapsed = request(f"{BASE}/webhooks/rest/webhook", body, timeout=30)
    assert status == expected, (case, status, reply)
    assert isinstance(reply, dict) and reply.get("message"), f"not a clear JSON error: {reply!r}"[:300]
    status, reply, _ = chat(BASE, "what is pernicious anemia?", sender("after-bad"))
    assert status == 200 and "parietal cells" in joined(reply)


def test_a_body_over_sanics_own_limit_is_refused_before_it_is_read(stack):
    """5 MB declared: Sanic (SANIC_REQUEST_MAX_SIZE, 4 MiB) answers 413 in JSON from the
    headers alone, without reading or buffering the body."""
    import socket

    with socket.create_connection(("127.0.0.1", RASA_PORT), timeout=10) as conn:
        conn.sendall(
            b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5242880\r\n\r\n" + b'{"message": "' + b"a" * 1000
        )
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < 10:
            chunk = conn.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head[:100]
    assert json.loads(body.decode().strip() or "null").get("message"), body[:200]
    status, reply, _ = chat(BASE, "what is pernicious anemia?", sender("after-5mb"))
    assert status == 200 and "parietal cells" in joined(reply)


def test_a_10000_character_message_gets_a_normal_reply(stack):
    message = ("what is pernicious anemia? " * 400)[:10000]
    assert len(message) == 10000
    status, reply, _ = chat(BASE, message, sender("long"))
    assert status == 200 and texts(reply)
    assert SAFE_REPLY not in texts(reply)
    status, reply, _ = chat(BASE, "维" * 10000, sender("long-cjk"))  # 10,000 characters, 30 KB of UTF-8
    assert status == 200 and texts(reply) and SAFE_REPLY not in texts(reply)


def test_personal_data_in_a_message_is_answered_normally(stack):
    status, reply, _ = chat(BASE, PII_MESSAGE, sender("pii"))
    assert status == 200 and texts(reply) and SAFE_REPLY not in texts(reply)


def test_ten_concurrent_messages_from_one_sender_are_all_processed_in_order(stack):
    check_a_burst(BASE, sender("burst"), stack.engine())
    log = (stack.run_dir / "rasa.log").read_text(errors="replace")
    assert "LockError" not in log and "Could not acquire lock" not in log


def test_a_retried_message_is_answered_again_not_processed_twice(stack):
    """A load balancer's retry carries the same X-Request-ID (nginx in scripts/cluster.sh)."""
    s = sender("retry")
    body = json.dumps({"sender": s, "message": "what is pernicious anemia?"}).encode()
    headers = {"X-Request-ID": "retry-" + os.urandom(8).hex()}
    first = request(f"{BASE}/webhooks/rest/webhook", body, headers=headers)
    second = request(f"{BASE}/webhooks/rest/webhook", body, headers=headers)
    assert first[0] == second[0] == 200 and "parietal cells" in joined(first[1])
    assert second[1] == first[1]
    check_turns(conversation_events(stack.engine(), s), ["what is pernicious anemia?"])
    # without the header (or with another id) the same text is a new message
    assert chat(BASE, "what is pernicious anemia?", s)[0] == 200
    check_turns(conversation_events(stack.engine(), s), ["what is pernicious anemia?"] * 2)


def test_action_server_down_gives_the_safe_reply_within_2_seconds(stack):
    s = sender("actions-down")
    status, reply, _ = chat(BASE, "what is pernicious anemia?", s)
    assert "parietal cells" in joined(reply)
    # stopped through its supervisor: killed, it would be started again within seconds
    # (tests/system/test_supervision.py)
    stack.stop_one("actions")
    assert not port_open(ACTIONS_PORT)
    try:
        # each needs the action server (a health answer); the middle one carries personal data
        for message in ("how is it treated?", f"{PII_MESSAGE}. is b12 safe?", "what about pills?"):
            status, reply, elapsed = chat(BASE, message, s, timeout=10)
            assert status == 200, reply
            assert texts(reply) and texts(reply)[-1] == SAFE_REPLY, reply
            assert elapsed < 2.0, f"{elapsed:.2f}s"
        # what needs no action server still works: an emergency goes to emergency care
        status, reply, elapsed = chat(BASE, "I have crushing chest pain and can't breathe", sender("emergency"))
        assert status == 200 and "911" in joined(reply) and elapsed < 2.0
    finally:
        stack.keep_logs()
        stack.serve("start")  # starts only the action server: Rasa still runs
    # the conversation survives the action server's restart
    status, reply, _ = chat(BASE, "how is it treated?", s)
    assert status == 200 and "standard of care" in joined(reply)


def test_a_hung_action_server_gives_the_safe_reply_after_action_timeout(stack):
    pid = read_pid(stack.run_dir / "actions.pid")
    s = sender("actions-hung")
    os.kill(pid, signal.SIGSTOP)
    try:
        status, reply, elapsed = chat(BASE, "what is pernicious anemia?", s, timeout=30)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert status == 200 and texts(reply)[-1] == SAFE_REPLY
    assert elapsed < 5 + 4, f"{elapsed:.1f}s (ACTION_TIMEOUT is 5 s)"
    status, reply, _ = chat(BASE, "what is pernicious anemia?", s)
    assert "parietal cells" in joined(reply)


def test_conversation_survives_kill_9_and_restart_and_the_api_needs_the_token(stack):
    s = sender("restart")
    status, reply, _ = chat(BASE, "what is pernicious anemia?", s)
    assert "parietal cells" in joined(reply)

    # a message in flight when Rasa is killed: its turn is stored whole or not at all
    def send_in_flight():
        try:
            chat(BASE, "is that for life?", s, timeout=20)
        except OSError:
            pass  # the connection dies with the server

    in_flight = threading.Thread(target=send_in_flight)
    in_flight.start()
    time.sleep(0.05)
    old = stack.pid("rasa")
    kill9(stack.run_dir / "rasa.pid")
    in_flight.join(25)
    # supervisord starts Rasa again by itself; the next message is answered from the stored conversation
    restarted(lambda: stack.pid("rasa"), old, f"{BASE}/", 240)
    assert "exited: rasa (terminated by SIGKILL" in (stack.run_dir / "supervisord.log").read_text()

    status, reply, _ = chat(BASE, "how is it treated?", s)
    assert status == 200 and "standard of care" in joined(reply), reply
    events = conversation_events(stack.engine(), s)
    stored = [e["text"] for e in events if e["event"] == "user"]
    # the in-flight message is stored whole or not at all; everything else exactly once
    assert stored in (
        ["what is pernicious anemia?", "how is it treated?"],
        ["what is pernicious anemia?", "is that for life?", "how is it treated?"],
    ), stored
    check_turns(events, stored)

    # the HTTP API is never opened without a token: serve.sh refuses to start
    stack.keep_logs()
    stack.stop()
    assert not port_open(RASA_PORT)
    refused = stack.serve("start", check=False, ENABLE_API="1")
    assert refused.returncode != 0 and "RASA_API_TOKEN" in refused.stderr
    assert not port_open(RASA_PORT)

    stack.serve("start", ENABLE_API="1", RASA_API_TOKEN=API_TOKEN)
    status, reply, _ = chat(BASE, "is that for life?", s)
    assert status == 200 and "lifelong" in joined(reply), reply

    tracker_url = f"{BASE}/conversations/rest:{s}/tracker"
    assert request(tracker_url, timeout=10)[0] == 401
    assert request(tracker_url, headers={"Authorization": "Bearer wrong"}, timeout=10)[0] == 401
    assert request(f"{tracker_url}?token=wrong", timeout=10)[0] == 401
    status, tracker, _ = request(f"{tracker_url}?token={API_TOKEN}", timeout=10)
    assert status == 200 and tracker["sender_id"] == f"rest:{s}"
    # the token is not on the command line (ps, /proc/PID/cmdline)
    cmdline = Path(f"/proc/{read_pid(stack.run_dir / 'rasa.pid')}/cmdline").read_bytes()
    assert API_TOKEN.encode() not in cmdline and b"--enable-api" in cmdline


def test_forget_deletes_one_conversation(stack):
    keep, gone = sender("keep"), sender("forget")
    for s in (keep, gone):
        chat(BASE, "what is pernicious anemia?", s)
    engine = stack.engine()
    env = stack.env()
    dry = subprocess.run(
        [PYTHON, "scripts/forget.py", f"rest:{gone}", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0 and conversation_events(engine, gone)
    done = subprocess.run(
        [PYTHON, "scripts/forget.py", f"rest:{gone}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "Deleted" in done.stdout, done.stdout + done.stderr
    assert conversation_events(engine, gone) == []
    assert conversation_events(engine, keep)
    # the running server holds no copy: the sender starts afresh, so a follow-up no longer resolves
    status, tracker, _ = request(f"{BASE}/conversations/rest:{gone}/tracker?token={API_TOKEN}", timeout=10)
    assert status == 200 and not [e for e in tracker["events"] if e["event"] == "user"]
    again = subprocess.run(
        [PYTHON, "scripts/forget.py", f"rest:{gone}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and "No conversation" in again.stdout


def test_retention_deletes_conversations_older_than_retention_days(stack):
    import sqlalchemy as sa

    old, recent = sender("old"), sender("recent")
    for s in (old, recent):
        chat(BASE, "what is pernicious anemia?", s)
    engine = stack.engine()
    forty_days = 40 * 86400
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE events SET timestamp = timestamp - :d WHERE sender_id = :s"),
            {"d": forty_days, "s": f"rest:{old}"},
        )
    env = stack.env(RETENTION_DAYS="30")
    dry = subprocess.run(
        [PYTHON, "scripts/retention.py", "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0 and "Would delete 1 " in dry.stdout, dry.stdout + dry.stderr
    assert conversation_events(engine, old)
    run = subprocess.run(
        [PYTHON, "scripts/retention.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and "Deleted 1 " in run.stdout, run.stdout + run.stderr
    assert conversation_events(engine, old) == []
    assert conversation_events(engine, recent)
    # a 50-day retention keeps a 40-day-old conversation
    chat(BASE, "hello", old)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE events SET timestamp = timestamp - :d WHERE sender_id = :s"),
            {"d": forty_days, "s": f"rest:{old}"},
        )
    kept = subprocess.run(
        [PYTHON, "scripts/retention.py", "--days", "50"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert kept.returncode == 0 and conversation_events(engine, old)


def slack_message(text: str, user: str, channel: str) -> int:
    """A signed Slack message event to the assistant; the HTTP status."""
    import urllib.request

    from tests.system.test_slack import message_event, signature

    body = message_event(text, channel, user)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(body, timestamp),
    }
    with urllib.request.urlopen(
        urllib.request.Request(f"{BASE}/webhooks/slack/webhook", body, headers, method="POST"), timeout=30
    ) as reply:
        return reply.status


def test_a_database_error_logs_no_text_over_rest_or_slack(stack, slack_api):
    """The database refuses to store a REST and a Slack message (a trigger aborts the insert),
    and Rasa logs the SQL error. Its parameters (the event's JSON, printed with repr, the
    apostrophe escaped) once carried the text; the Slack turn had no redaction at all. The last
    test reads every log line for the text and both sender ids."""
    import sqlite3

    rest_sender = sender("db-error")
    slack_user, slack_channel = "U" + os.urandom(5).hex().upper(), "D" + os.urandom(5).hex().upper()
    SENDERS.append(slack_user)
    with sqlite3.connect(stack.db) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_text BEFORE INSERT ON events WHEN NEW.data LIKE '%Vantreight%' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
    try:
        status, reply, _ = chat(BASE, APOSTROPHE, rest_sender)
        assert status == 200 and texts(reply)
        assert slack_message(APOSTROPHE, slack_user, slack_channel) == 200
        slack_api.wait_for_answer(slack_channel, timeout=40)
        # each failure is logged by its type only (extensions/fixes.py), never with the SQL error's text
        assert wait_until(lambda: stack.log().count("could not save a conversation") >= 2, 20), stack.log()[-3000:]
    finally:
        with sqlite3.connect(stack.db) as conn:
            conn.execute("DROP TRIGGER refuse_text")
    log = stack.log()
    assert "IntegrityError" in log and "refused by the test" not in log and "INSERT INTO events" not in log
    assert not [f for f in TEXT_FRAGMENTS + ["son\\'s", rest_sender, slack_user] if f in log]
    assert conversation_events(stack.engine(), rest_sender) == []  # that turn was not stored
    status, reply, _ = chat(BASE, "what is pernicious anemia?", rest_sender)  # the next one is
    assert status == 200 and "parietal cells" in joined(reply)
    assert [e["text"] for e in conversation_events(stack.engine(), rest_sender) if e["event"] == "user"] == [
        "what is pernicious anemia?"
    ]


def test_a_turn_running_while_its_conversation_is_forgotten_does_not_bring_it_back(stack):
    """A message is in progress (the action server is stopped, so its turn waits) when
    scripts/forget.py deletes its conversation. Rasa's own save would then store the whole
    forgotten history again (it appends what lies past the stored count, now 0)."""
    s = sender("forget-race")
    status, reply, _ = chat(BASE, APOSTROPHE, s)
    assert status == 200 and conversation_events(stack.engine(), s)
    ready = subprocess.Popen(  # forget, imported and waiting for the go (its imports take seconds)
        [
            PYTHON,
            "-c",
            "import sys; sys.path[0] = 'scripts'; import forget; print('ready', flush=True); "
            "sys.stdin.readline(); sys.exit(forget.main(['--', sys.argv[1]]))",
            f"rest:{s}",
        ],  # fmt: skip
        cwd=ROOT,
        env=stack.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert ready.stdout.readline().strip() == "ready", ready.stderr.read()
    pid = read_pid(stack.run_dir / "actions.pid")
    os.kill(pid, signal.SIGSTOP)
    results = {}
    try:
        turn = threading.Thread(target=lambda: results.update(reply=chat(BASE, "how is it treated?", s, timeout=60)))
        turn.start()
        time.sleep(1.5)  # the turn has read the conversation and waits for the action server
        out, err = ready.communicate("go\n", timeout=60)
        assert ready.returncode == 0 and "Deleted" in out, out + err
        assert conversation_events(stack.engine(), s) == []
    finally:
        os.kill(pid, signal.SIGCONT)
    turn.join(60)
    assert results["reply"][0] == 200  # the user still got an answer
    assert wait_until(lambda: "deleted while it ran" in stack.log(), 10), stack.log()[-2000:]
    assert conversation_events(stack.engine(), s) == [], "the forgotten conversation was written back"
    status, reply, _ = chat(BASE, "what is pernicious anemia?", s)  # the sender starts afresh
    assert status == 200 and "parietal cells" in joined(reply)
    check_turns(conversation_events(stack.engine(), s), ["what is pernicious anemia?"])


@pytest.fixture()
def redis_server(tmp_path):
    import shutil

    from tests.harness import missing

    if shutil.which("redis-server") is None:
        missing("redis-server is not installed (Debian package redis-server)")
    server = subprocess.Popen(
        ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: port_open(REDIS_PORT), 10)
        yield REDIS_PORT
    finally:
        server.terminate()
        server.wait(10)


def test_forget_waits_for_the_conversation_lock_in_redis(stack, redis_server):
    """With a shared lock store (REDIS_HOST), forget takes the conversation's lock as Rasa does
    for each message: it waits while a message of that conversation holds it."""
    from extensions.lock_store import AtomicRedisLockStore

    s = sender("forget-lock")
    chat(BASE, "what is pernicious anemia?", s)
    locks = AtomicRedisLockStore(host="127.0.0.1", port=redis_server, db=1)
    ticket = locks.issue_ticket(f"rest:{s}", 60)  # a message of that conversation is being processed
    env = stack.env(REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_server))
    waiting = subprocess.Popen(
        [PYTHON, "scripts/forget.py", "--", f"rest:{s}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(8)  # its imports, then the wait
        assert waiting.poll() is None, waiting.communicate()
        assert conversation_events(stack.engine(), s)
        assert len(locks.get_lock(f"rest:{s}").tickets) == 2  # its ticket queues behind
    finally:
        locks.finish_serving(f"rest:{s}", ticket)
        locks.cleanup(f"rest:{s}", ticket)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and "Deleted" in out, out + err
    assert conversation_events(stack.engine(), s) == []
    assert locks.get_lock(f"rest:{s}") is None  # and it released its ticket


def test_quick_soak_has_no_errors(stack):
    report_file = stack.home / "soak.json"
    run = subprocess.run(
        [
            PYTHON,
            "-m",
            "evaluation.soak",
            "--quick",
            "--url",
            BASE,
            "--rate",
            "3",
            "--workers",
            "3",
            "--json",
            str(report_file),
            "--pidfile",
            str(stack.run_dir / "rasa.pid"),
            "--pidfile",
            str(stack.run_dir / "actions.pid"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report_file.exists(), run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(report_file.read_text())
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert report["errors"] == 0 and report["requests"] >= 40
    assert set(report["memory"]) == {"rasa", "actions"}
    for name, memory in report["memory"].items():
        assert not memory["died"] and memory["rss_growth_mb"] is not None, (name, memory)
    print(json.dumps(report, indent=1))


def test_logs_carry_no_message_text_and_no_sender_id(stack):
    """Last: every log line written by both servers during all of the above."""
    files = stack.log_files()
    assert any(f.name.endswith("rasa.log") for f in files) and any(f.name.endswith("actions.log") for f in files)
    assert sum(f.stat().st_size for f in files) > 0
    from tests.harness import logs_containing

    hits = logs_containing(files, PII_FRAGMENTS + TEXT_FRAGMENTS + SENDERS + [API_TOKEN])
    assert not hits, hits[:20]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-m", "resilience", "-v"]))


def test_a_database_failure_is_never_hidden(stack):
    """With the conversations table gone, Rasa would answer from a new, empty conversation and
    then save nothing. Here the turn ends with the safe reply, the failure is counted (and
    reported by `GET /webhooks/rest/`), and once the table is back every turn is stored again."""
    import sqlalchemy as sa

    engine = stack.engine()
    before = request(f"{BASE}/webhooks/rest/", timeout=10).body["store_failures"]
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE events RENAME TO events_away"))
    try:
        s = sender("db-down")
        status, reply, _ = chat(BASE, "my son's b12 is low, what is pernicious anemia?", s)
        assert status == 200 and texts(reply)[-1] == SAFE_REPLY
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE events_away RENAME TO events"))
    after = request(f"{BASE}/webhooks/rest/", timeout=10).body["store_failures"]
    assert after["retrieve"] + after["save"] > before["retrieve"] + before["save"]
    status, reply, _ = chat(BASE, "what is pernicious anemia?", s)
    assert status == 200 and "parietal cells" in joined(reply)
    check_turns(conversation_events(engine, s), ["what is pernicious anemia?"])
    logs = " ".join(path.read_text(errors="replace") for path in stack.log_files())
    assert "could not retrieve a conversation" in logs and "my son" not in logs


def test_a_retry_after_the_client_hung_up_waits_for_the_first_attempt(stack):
    """The first attempt's client gives up while its turn still runs (the action server is
    paused); the retry with the same X-Request-ID waits for that turn under the replay lock and
    is then answered from it: the message is processed once."""
    s, request_id = sender("hangup"), "req-" + os.urandom(8).hex()
    body = json.dumps({"sender": s, "message": "what is pernicious anemia?"}).encode()
    headers = {"Content-Type": "application/json", "X-Request-ID": request_id}
    pid = read_pid(stack.run_dir / "actions.pid")
    os.kill(pid, signal.SIGSTOP)  # the turn now waits ACTION_TIMEOUT (5 s) for its action
    try:
        try:
            request(f"{BASE}/webhooks/rest/webhook", body, "POST", headers, timeout=1)
        except OSError:
            pass  # the client hung up; the turn goes on
        time.sleep(0.5)
        retry = request(f"{BASE}/webhooks/rest/webhook", body, "POST", headers, timeout=60)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert retry.status == 200 and texts(retry), retry
    users = [e for e in conversation_events(stack.engine(), s) if e["event"] == "user"]
    assert len(users) == 1, f"the message was processed {len(users)} times"
