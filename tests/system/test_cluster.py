"""Scale-out: scripts/cluster.sh starts nginx :5500 in front of two Rasa processes :5501/:5502
that share a PostgreSQL tracker store (:5433) and a Redis lock store (:6380), with one action
server :5551, all on 127.0.0.1. Booted here in a temporary RUN_DIR and removed afterwards.
Run: pytest -m cluster   (installs postgresql, redis-server and nginx with apt-get if missing)
"""

from __future__ import annotations

import os
import signal
import stat
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
    Cluster,
    chat,
    check_a_burst,
    check_turns,
    conversation_events,
    ensure_free,
    joined,
    kill9,
    logs_containing,
    needs_model,
    new_sender,
    port,
    port_open,
    request,
    restarted,
    run_parallel,
    texts,
)

pytestmark = pytest.mark.cluster


NGINX, RASA_A, RASA_B, ACTIONS, PG, REDIS = (port(p) for p in (5500, 5501, 5502, 5551, 5433, 6380))
LB = f"http://127.0.0.1:{NGINX}"
A, B = f"http://127.0.0.1:{RASA_A}", f"http://127.0.0.1:{RASA_B}"
PYTHON = sys.executable
SENDERS: list = []

# (message, what the reply must contain): every turn after the first needs the conversation's
# memory (slots), so a turn answered without the stored conversation fails.
SCRIPT = [
    ("what is pernicious anemia?", "parietal cells"),
    ("how is it treated?", "standard of care"),
    ("is that for life?", "lifelong"),
    ("hello", "automated helper"),
    ("what is pernicious anemia?", "parietal cells"),
    ("how is it treated?", "standard of care"),
]


def sender(tag: str) -> str:
    s = new_sender(tag)
    SENDERS.append(s)
    return s


@pytest.fixture(scope="module")
def cluster():
    ensure_free(NGINX, RASA_A, RASA_B, ACTIONS, PG, REDIS)
    needs_model()
    c = Cluster(NGINX, [RASA_A, RASA_B], ACTIONS, PG, REDIS)
    try:
        started = c.run("start", check=False)
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        yield c
    finally:
        c.run("stop", check=False)
        c.remove()
        leftover = [p for p in c.all_ports() if port_open(p)]
        assert not leftover, f"still listening after stop: {leftover}"
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
        assert not [line for line in ps if str(c.home) in line], "a process is left after stop"


def test_everything_listens_on_loopback_only(cluster):
    from tests.harness import listening_addresses

    for number in (NGINX, RASA_A, RASA_B, ACTIONS, PG, REDIS):
        deadline = time.monotonic() + 15  # a socket can be between accept loops for a moment under load
        addresses = listening_addresses(number)
        while not addresses and time.monotonic() < deadline:
            time.sleep(0.5)
            addresses = listening_addresses(number)
        assert addresses and all(a in ("127.0.0.1", "::1") for a in addresses), (number, addresses)


def test_one_conversation_alternating_between_the_two_processes(cluster):
    s = sender("alternate")
    for n, (message, expected) in enumerate(SCRIPT):
        base = (A, B)[n % 2]
        status, reply, _ = chat(base, message, s)
        assert status == 200 and expected in joined(reply), (base, message, reply)
    # and through nginx, which spreads the same conversation over both
    for message, expected in SCRIPT[:3]:
        status, reply, _ = chat(LB, message, s)
        assert status == 200 and expected in joined(reply), (message, reply)
    check_turns(conversation_events(cluster.engine(), s), [m for m, _ in SCRIPT] + [m for m, _ in SCRIPT[:3]])


def test_no_secret_is_written_outside_secrets_env(cluster):
    secrets = cluster.secrets()
    assert stat.S_IMODE((cluster.home / "cluster" / "secrets.env").stat().st_mode) == 0o600
    for path in (cluster.home / "cluster").rglob("endpoints.yml"):
        text = path.read_text()
        assert "${DB_PASSWORD}" in text and "${REDIS_PASSWORD}" in text
        assert secrets["DB_PASSWORD"] not in text and secrets["REDIS_PASSWORD"] not in text


def test_ten_concurrent_messages_from_one_sender_across_both_processes(cluster):
    check_a_burst(LB, sender("burst"), cluster.engine())


def test_forget_and_retention_work_on_postgresql(cluster):
    import sqlalchemy as sa

    gone, old, keep = sender("forget"), sender("old"), sender("keep")
    for s in (gone, old, keep):
        assert chat(LB, "what is pernicious anemia?", s)[0] == 200
    engine = cluster.engine()
    env = cluster.db_env()
    done = subprocess.run(
        [PYTHON, "scripts/forget.py", f"rest:{gone}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "Deleted" in done.stdout, done.stdout + done.stderr
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE events SET timestamp = timestamp - 40 * 86400 WHERE sender_id = :s"), {"s": f"rest:{old}"}
        )
    purge = subprocess.run(
        [PYTHON, "scripts/retention.py"],
        cwd=ROOT,
        env=dict(env, RETENTION_DAYS="30"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert purge.returncode == 0 and "Deleted" in purge.stdout, purge.stdout + purge.stderr
    assert conversation_events(engine, gone) == [] and conversation_events(engine, old) == []
    assert conversation_events(engine, keep)


def test_redis_down_gives_the_safe_reply_and_recovers_when_it_is_back(cluster):
    s = sender("redis")
    assert "parietal cells" in joined(chat(LB, "what is pernicious anemia?", s)[1])
    kill9(cluster.home / "redis" / "redis.pid")
    try:
        for _ in range(2):  # both Rasa processes
            status, reply, elapsed = chat(LB, "how is it treated?", s, timeout=30)
            assert status == 200 and texts(reply)[-1] == SAFE_REPLY and elapsed < 2, (status, reply, elapsed)
    finally:
        cluster.run("start")  # starts what is missing: Redis
    for _ in range(2):  # the first message on each process after the restart already works
        status, reply, _ = chat(LB, "how is it treated?", s)
        assert status == 200 and "standard of care" in joined(reply), reply


def test_postgres_restart_loses_no_later_turn(cluster):
    """While PostgreSQL is down Rasa answers from memory (FailSafeTrackerStore; those turns are
    not stored). Once it is back, the first turn on each process is stored: pool_pre_ping
    (extensions/fixes.py) replaces the pooled connections that died with the server."""
    pg_ctl = [str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))][-1:]
    assert pg_ctl, "no pg_ctl"
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = str(cluster.home / "pg" / "data")
    subprocess.run(
        as_pg + [pg_ctl[0], "-D", data, "-m", "fast", "-w", "stop"], check=True, capture_output=True, timeout=60
    )
    try:
        status, reply, _ = chat(LB, "what is pernicious anemia?", sender("pg-down"), timeout=30)
        assert status == 200 and texts(reply), reply  # never silence, never a 500
    finally:
        cluster.run("start")  # starts what is missing: PostgreSQL
    s = sender("pg-back")
    sent = [f"what is pernicious anemia? ({i})" for i in range(4)]  # two on each process
    for message in sent:
        status, reply, _ = chat(LB, message, s)
        assert status == 200 and "parietal cells" in joined(reply)
    check_turns(conversation_events(cluster.engine(), s), sent)


def test_killing_one_rasa_process_mid_load_loses_no_event(cluster):
    """Six conversations through nginx. With their second messages in progress on both
    processes (the action server is paused for a second, so each holds its conversation's
    lock), Rasa on :5501 gets SIGKILL. nginx retries those messages on :5502, where they wait
    for the dead process's locks to expire (TICKET_LOCK_LIFETIME, 20 s in cluster.sh). Every
    message gets its real answer, and every conversation is stored whole, in order, once. The
    killed process is started again by its supervisord and answers as well."""
    conversations = [sender(f"load{i}") for i in range(6)]
    results: dict = {s: [] for s in conversations}
    first_turns_done = threading.Barrier(len(conversations) + 1, timeout=120)

    def converse(s: str) -> None:
        for n, (message, expected) in enumerate(SCRIPT):
            if n == 1:
                first_turns_done.wait()
            status, reply, elapsed = chat(LB, message, s, timeout=120)
            results[s].append((message, expected, status, reply, elapsed))
            time.sleep(0.2)

    threads = [threading.Thread(target=converse, args=(s,)) for s in conversations]
    for t in threads:
        t.start()
    actions_pid = cluster.pid("actions")
    killed = cluster.pid("rasa", RASA_A)
    assert killed and int(cluster.pidfile(RASA_A).read_text()) == killed
    first_turns_done.wait()
    os.kill(actions_pid, signal.SIGSTOP)  # the second messages now hold their locks
    try:
        time.sleep(1.5)
        kill9(cluster.pidfile(RASA_A))
    finally:
        os.kill(actions_pid, signal.SIGCONT)
    for t in threads:
        t.join(240)
    assert not any(t.is_alive() for t in threads), "a conversation did not finish"
    # its supervisord starts the killed process again (scripts/serve.sh), as in production
    seconds = restarted(lambda: cluster.pid("rasa", RASA_A), killed, f"{A}/", 240)
    assert int(cluster.pidfile(RASA_A).read_text()) == cluster.pid("rasa", RASA_A)
    nginx_log = (cluster.home / "nginx" / "error.log").read_text()
    assert f'upstream: "http://127.0.0.1:{RASA_A}' in nginx_log, "no message was in progress on the killed process"

    engine = cluster.engine()
    for s in conversations:
        for message, expected, status, reply, _ in results[s]:
            assert status == 200, (s, message, status, reply)
            assert expected in joined(reply) and SAFE_REPLY not in texts(reply), (s, message, reply)
        check_turns(conversation_events(engine, s), [m for m, _ in SCRIPT])
    slowest = max(r[4] for rows in results.values() for r in rows)
    logs = " ".join(p.read_text(errors="replace") for p in (cluster.home / "cluster").glob("rasa-*/rasa.log"))
    print(
        f"slowest reply {slowest:.1f}s; retried turns answered from the tracker: {logs.count('replayed')}; "
        f"the killed process answered again after {seconds:.1f}s"
    )

    # both keep answering, the restarted one too, conversations that were on the dead process included
    for n, s in enumerate(conversations[:4]):
        status, reply, _ = chat((A, B)[n % 2], "is that for life?", s)
        assert status == 200 and "lifelong" in joined(reply), reply
        check_turns(conversation_events(engine, s), [m for m, _ in SCRIPT] + ["is that for life?"])


def test_the_shared_action_server_killed_with_kill_9_comes_back(cluster):
    s = sender("actions-kill")
    assert "parietal cells" in joined(chat(LB, "what is pernicious anemia?", s)[1])
    old = cluster.pid("actions")
    os.kill(old, signal.SIGKILL)
    restarted(lambda: cluster.pid("actions"), old, f"http://127.0.0.1:{ACTIONS}/health", 30)
    for base in (A, B):  # the next question on each process is answered
        status, reply, _ = chat(base, "how is it treated?", s)
        assert status == 200 and "standard of care" in joined(reply) and SAFE_REPLY not in texts(reply), reply


def test_logs_carry_no_message_text_and_no_sender_id(cluster):
    assert chat(LB, PII_MESSAGE, sender("pii"))[0] == 200
    assert chat(B, PII_MESSAGE, sender("pii"))[0] == 200
    files = [p for p in cluster.home.rglob("*") if p.is_file() and (p.suffix == ".log" or p.parent.name == "log")]
    assert any(p.name == "rasa.log" for p in files) and any(p.name == "actions.log" for p in files)
    hits = logs_containing(files, PII_FRAGMENTS + SENDERS)
    assert not hits, hits[:20]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-m", "cluster", "-v"]))


def test_a_turn_longer_than_the_lock_lifetime_keeps_its_lock(cluster):
    """The served ticket is renewed while its turn runs: a message of the same conversation that
    arrives after the lifetime has passed still waits, instead of running alongside."""
    import asyncio

    from extensions.lock_store import AtomicRedisLockStore

    store = AtomicRedisLockStore(host="127.0.0.1", port=REDIS, db=1, password=cluster.secrets()["REDIS_PASSWORD"])
    conversation = sender("long-turn")

    async def scenario() -> bool:
        async with store.lock(conversation, lock_lifetime=1.0):
            await asyncio.sleep(3.5)  # three and a half lifetimes
            later = store.issue_ticket(conversation, 1.0)
            waits = store.get_lock(conversation).is_locked(later)
            store.cleanup(conversation, later)
            return waits

    assert asyncio.run(scenario()), "the first turn's lock expired while it ran"
    assert store.get_lock(conversation) is None  # and nothing is left behind


def test_a_client_sending_too_fast_is_slowed_by_nginx(cluster):
    """nginx limits each client address (limit_req: 20 a second, bursts of 40) before any
    Rasa process works; the Rasa processes limit each conversation as well."""
    replies = run_parallel(lambda _: request(f"{LB}/webhooks/rest/", timeout=30), list(range(120)), workers=30)
    statuses = [r.status for r in replies]
    limited = [r for r in replies if r.status == 429]
    assert statuses.count(200) >= 40 and limited, statuses
    assert limited[0].body["error"] == "rate_limited"
    time.sleep(3)  # the allowance refills before the next test
    assert request(f"{LB}/webhooks/rest/", timeout=30).status == 200
