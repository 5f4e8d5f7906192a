"""make report (reporting/): counts, grouping, scrubbing, the k threshold and the period, on a
tracker store written by Rasa's own SQLTrackerStore (tests/report_seed.py says what it holds)."""

from __future__ import annotations

import json
import random
import socket
from datetime import date, timedelta

import pytest

from reporting import build_report, write_report
from reporting.__main__ import main, period
from reporting.groups import Question, group_questions
from reporting.page import render
from reporting.scrub import scrub
from tests import report_seed as seed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed.build(tmp_path_factory.mktemp("report") / "tracker.db")


@pytest.fixture(scope="module")
def report(seeded):
    return build_report(seed.SINCE, seed.UNTIL, sqlite_file=seeded, min_senders=5)


def shown(report):
    return report["questions"]["shown"]


def test_the_counts(report):
    expected = seed.expected_counts()
    messages = report["messages"]
    assert messages["total"] == expected["total"] == 60
    assert messages["per_channel"] == {"rest": 59, "slack": expected["slack"]} == {"rest": 59, "slack": 1}
    assert [d["day"] for d in messages["per_day"]] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    assert [d["rest"] + d["slack"] for d in messages["per_day"]] == [59, 0, 1]
    assert report["answers_per_topic"] == [
        {"topic": "pernicious_anemia", "answers": 3},
        {"topic": "route:oral", "answers": 2},
    ]
    assert report["helpful_per_topic"] == [
        {"topic": "pernicious_anemia", "votes": 3, "helpful": 2, "rate": 0.667},
        {"topic": "route:oral", "votes": 1, "helpful": 0, "rate": 0.0},
    ]
    replies = {r["kind"]: (r["count"], r["share"]) for r in report["unanswered_replies"]}
    # not covered: coffee 9, tinnitus 5, ivf 4, hair 8, and the 5 flagged with an emergency category
    assert replies == {
        "fallback": (5, round(5 / 60, 4)),
        "not_covered": (31, round(31 / 60, 4)),
        "off_topic": (5, round(5 / 60, 4)),
    }
    assert report["emergencies"] == [{"category": "chest_pain", "count": 6}, {"category": "self_harm", "count": 1}]
    assert report["personal_advice"] == [
        {"kind": "dosing", "count": 5},
        {"kind": "diagnosis", "count": 2},
        {"kind": "change_treatment", "count": 0},
    ]


def test_the_groups_and_the_k_threshold(report):
    groups = shown(report)
    assert [(g["senders"], g["messages"]) for g in groups] == [(6, 9), (5, 5), (5, 5)]
    coffee, tinnitus, tummy = groups
    # 5 people sent this wording (one of them 4 times), a 6th the same with her name and number
    assert coffee["wordings"] == ["can i drink coffee with my b12 tablets"]
    assert coffee["terms"] == ["coffee", "drink", "tablets"] and coffee["reasons"] == {"not_covered": 9}
    # each in their own words: no wording is shown, only the word all five used
    assert tinnitus["wordings"] == [] and tinnitus["terms"] == ["tinnitus"]
    assert tummy["reasons"] == {"fallback": 5}
    # ivf: 4 people (k - 1); hair loss: 1 person 5 times and 3 others, 4 people
    assert report["questions"]["hidden_groups"] == 2 and report["questions"]["hidden_messages"] == 4 + 8
    text = json.dumps(report)
    assert "ivf" not in text and "hair" not in text and "patches" not in text


def test_k_senders_shows_a_group_the_same_sender_does_not(seeded):
    four = build_report(seed.SINCE, seed.UNTIL, env={"REPORT_MIN_SENDERS": "4"}, sqlite_file=seeded)
    assert four["min_senders"] == 4
    wordings = [w for g in shown(four) for w in g["wordings"]]
    assert "is b12 safe during ivf treatment" in wordings and "does b12 stop hair loss" in wordings
    hair = next(g for g in shown(four) if "does b12 stop hair loss" in g["wordings"])
    assert (hair["senders"], hair["messages"]) == (4, 8)
    six = build_report(seed.SINCE, seed.UNTIL, sqlite_file=seeded, min_senders=6)
    assert [g["senders"] for g in shown(six)] == [6] and shown(six)[0]["wordings"] == []  # 5 sent that wording


def test_one_sender_asking_many_times_counts_once():
    one = [Question("rest:x", "why is my tongue sore", "not_covered")] * 10
    assert group_questions(one, 2) == ([], 1, 10)
    five = one + [Question(f"rest:{i}", "why is my tongue sore?", "not_covered") for i in range(4)]
    (group,), hidden, _ = group_questions(five, 5)
    assert (group.senders, group.messages, group.wordings, hidden) == (5, 14, ["why is my tongue sore"], 0)


def test_the_grouping_does_not_depend_on_the_order_of_rows():
    questions = [
        Question(f"s{i % 7}", text, "not_covered")
        for i, text in enumerate(
            [
                "b12 and tinnitus",
                "will b12 help my tinnitus",
                "can i drink coffee",
                "coffee and b12?",
                "tinnitus b12 link",
            ]
            * 3
        )
    ]
    first = group_questions(questions, 2)
    for seed_ in range(5):
        random.Random(seed_).shuffle(questions)
        assert group_questions(questions, 2) == first


def test_the_period_filters_by_day(seeded):
    late = build_report(seed.SINCE, seed.LATE_DAY, sqlite_file=seeded, min_senders=5)
    assert late["messages"]["total"] == 60 + seed.expected_counts()["late"] == 65
    assert len(late["messages"]["per_day"]) == 11
    assert "can b12 patches replace injections" in [w for g in shown(late) for w in g["wordings"]]
    only_late = build_report(seed.LATE_DAY, seed.LATE_DAY, sqlite_file=seeded, min_senders=5)
    assert only_late["messages"]["total"] == 5 and only_late["answers_per_topic"] == []
    before = build_report(date(2026, 1, 1), date(2026, 11, 9), sqlite_file=seeded, min_senders=5)
    assert before["messages"]["total"] == 0 and shown(before) == []
    assert period(None, None, today=date(2026, 12, 1)) == (date(2026, 11, 2), date(2026, 12, 1))  # the last 30 days


def test_nothing_private_reaches_the_page_or_the_json(report, tmp_path):
    html_path, json_path = write_report(report, tmp_path)
    for text in (html_path.read_text(), json_path.read_text()):
        lowered = text.lower()
        assert seed.SENDER_TAG not in text and "rest:p" not in text and "slack:p" not in text  # no sender id
        for secret in seed.FAKE_NAMES + seed.FAKE_CONTACTS + ("555", "0132", "example.com", "leeds"):
            assert secret.lower() not in lowered, secret
        # emergency, personal-advice and off-topic texts never appear, not even scrubbed
        for words in (
            "crushing",
            "chest pain is back",
            "end it all",
            "how much b12 should i take",
            "pernicious anaemia, ",
            "weather",
        ):
            assert words not in lowered, words
    page = html_path.read_text()
    assert "<script" not in page and "&lt;script&gt;alert(&lt;NUMBER&gt;)&lt;/script&gt;" in page
    assert "://" not in page and "src=" not in page and "href" not in page  # nothing fetched: no CDN, no URL
    assert '<svg id="chart-days" role="img"' in page and '<desc id="chart-days-d">2026-11-10: 59; 2026-11-11: 0' in page
    assert "<caption>Question groups asked by at least 5 people</caption>" in page


def test_every_text_from_the_database_is_escaped():
    report = {
        "period": {"since": "2026-11-10", "until": "2026-11-10", "days": 1},
        "min_senders": 5,
        "messages": {
            "total": 1,
            "channels": ["<b>x"],
            "per_channel": {"<b>x": 1},
            "per_day": [{"day": "2026-11-10", "<b>x": 1}],
        },
        "answers_per_topic": [{"topic": "<img src=x onerror=alert(1)>", "answers": 1}],
        "helpful_per_topic": [{"topic": '"><svg onload=alert(1)>', "votes": 1, "helpful": 1, "rate": 1.0}],
        "unanswered_replies": [],
        "emergencies": [{"category": "</table><script>", "count": 1}],
        "personal_advice": [],
        "questions": {
            "considered": 5,
            "hidden_groups": 0,
            "hidden_messages": 0,
            "shown": [
                {"rank": 1, "senders": 5, "messages": 5, "wordings": ["<i>q</i>"], "terms": ["<u>"], "reasons": {}}
            ],
        },
    }
    page = render(report)
    for raw in ("<b>x", "<img", "<svg onload", "<script", "</table><script", "<i>q", "<u>"):
        assert raw not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;i&gt;q&lt;/i&gt;" in page


@pytest.mark.parametrize(
    "text, scrubbed",
    [
        (
            "I'm Maria Lopez, call 415-555-0132 about my 1000 mcg shot on March 3",
            "I'm <NAME>, call <PHONE> about my <AMOUNT> shot on <DATE>",
        ),
        ("hi, my name is john smith, email john.smith@example.com", "hi, my name is <NAME>, email <EMAIL>"),
        (
            "My daughter Priya takes 500mcg daily since 03/04/2024, ok?",
            "My daughter <NAME> takes <AMOUNT> daily since <DATE>, ok?",
        ),
        ("Dr Okafor said 180 pg/ml. Is Hashimoto's linked?", "Dr <NAME> said <AMOUNT>. Is Hashimoto's linked?"),
        ("call +44 20 7946 0958 or (212) 555-0199", "call <PHONE> or <PHONE>"),
        ("I am 45 years old, room 12, see www.example.org/x", "I am <AMOUNT> old, room <NUMBER>, see <URL>"),
        ("can B12 and b-12 help? thanks, Grete", "can B12 and b-12 help? thanks, <NAME>"),
        ("Margaret Okafor here. what is pernicious anemia", "<NAME> here. what is pernicious anemia"),
        ("seen on 2026-11-03 and 3rd of June 2025", "seen on <DATE> and <DATE>"),
        ("Priya here. Tobi asking: is B12 ok for kids?", "<NAME> here. <NAME> asking: is B12 ok for kids?"),
        ("Why is my B12 low? What does Crohn's do?", "Why is my B12 low? What does Crohn's do?"),  # nothing to scrub
    ],
)
def test_scrubbing(text, scrubbed):
    assert scrub(text) == scrubbed


def test_scrubbing_is_linear_in_the_message():
    import time

    for text in ("1" * 20000, "a@" * 10000, "Ab " * 10000, "3/" * 10000, "<" * 20000, "a" + "!" * 20000 + "b"):
        started = time.perf_counter()
        scrub(text)
        assert time.perf_counter() - started < 2.0


def test_the_report_fetches_nothing(seeded, monkeypatch):
    """No download at run time (phonenumbers' metadata ships in the package): any connection fails."""

    def refuse(*args, **kwargs):
        raise AssertionError("the report tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert build_report(seed.SINCE, seed.UNTIL, sqlite_file=seeded, min_senders=5)["messages"]["total"] == 60
    assert scrub("ring me on 020 7946 0958 or +1 415 555 0132") == "ring me on <PHONE> or <PHONE>"


def test_bad_input_gets_a_clear_message_and_loses_nothing(seeded, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--tracker-db", str(seeded), "--since", "2026-11-10", "--until", "2026-11-12", "--out", str(out)]) == 0
    before = (out / "content.html").read_text()
    assert "Report 2026-11-10 to 2026-11-12: 60 messages, 3 question groups shown, 2 hidden" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        main(["--since", "2026-02-30", "--out", str(out)])
    assert bad.value.code == 2 and "'2026-02-30' is not a date: expected YYYY-MM-DD" in capsys.readouterr().err
    assert main(["--since", "2026-11-12", "--until", "2026-11-10", "--out", str(out)]) == 2
    assert "--since 2026-11-12 is after --until 2026-11-10" in capsys.readouterr().err
    assert main(["--tracker-db", str(tmp_path / "none.db"), "--out", str(out)]) == 2
    assert f"No tracker store database at {tmp_path / 'none.db'}" in capsys.readouterr().err
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("not a database")
    assert main(["--tracker-db", str(not_a_db), "--since", "2026-11-10", "--out", str(out)]) == 2
    assert "Cannot read the tracker store (SQLite" in capsys.readouterr().err
    assert (out / "content.html").read_text() == before and sorted(p.name for p in out.iterdir()) == [
        "content.html",
        "content.json",
    ]
    assert not_a_db.read_text() == "not a database"


def test_the_database_comes_from_the_settings(seeded, monkeypatch):
    from reporting import store

    monkeypatch.delenv("DB_HOST", raising=False)
    assert build_report(seed.SINCE, seed.UNTIL, env={"TRACKER_DB": str(seeded)})["messages"]["total"] == 60
    made = store.engine({"DB_HOST": "db.internal", "DB_USER": "report", "DB_PASSWORD": "s3cret", "DB_NAME": "rasa"})
    assert (made.url.host, made.url.username, made.url.database, made.url.port) == (
        "db.internal",
        "report",
        "rasa",
        5432,
    )
    assert "s3cret" not in store.describe_engine(made) and "s3cret" not in repr(made.url)
    assert store.describe({"DB_HOST": "db.internal"}) == "PostgreSQL rasa@db.internal:5432/rasa"


def test_sqlite_is_opened_read_only(seeded):
    import sqlalchemy as sa

    from reporting import store

    made = store.engine(sqlite_file=seeded)
    with made.connect() as conn, pytest.raises(sa.exc.OperationalError, match="readonly"):
        conn.execute(sa.text("DELETE FROM events"))
    made.dispose()


def test_the_report_imports_nothing_from_rasa():
    import subprocess
    import sys

    from b12 import settings

    code = (
        "import sys, reporting.__main__, reporting.bench, reporting.figures, reporting.page\n"
        "from reporting.groups import Question, group_questions\n"
        "group_questions([Question(str(i), reporting.scrub.scrub('Hi, I am Maria, 415-555-0132'), 'x')"
        " for i in range(3)], 2)\n"
        "print('rasa' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=settings.ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_bench_database_is_laid_out_as_rasas(tmp_path):
    """reporting/bench.py writes Rasa's own `events` table (same columns), read by the same report."""
    import sqlite3

    from rasa.core.tracker_store import SQLTrackerStore

    from reporting import bench

    db = tmp_path / "bench.db"
    rows = bench.make_database(db, 40)
    with sqlite3.connect(db) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == rows > 40 * 4
    assert columns == [c.name for c in SQLTrackerStore.SQLEvent.__table__.columns]
    again = tmp_path / "again.db"
    bench.make_database(again, 40)  # seeded: the same conversations every run
    with sqlite3.connect(db) as a, sqlite3.connect(again) as b:
        query = "SELECT sender_id, type_name, timestamp, data FROM events ORDER BY id"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
    report = build_report(bench.UNTIL - timedelta(days=29), bench.UNTIL, sqlite_file=db)
    assert report["messages"]["total"] > 40 and report["answers_per_topic"]


def _web_server():
    import importlib.util

    from b12 import settings

    spec = importlib.util.spec_from_file_location("web_server", settings.ROOT / "scripts" / "web_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def staff_server(report, tmp_path):
    """The demo page server with the staff report on, on a free port, stopped at the end."""
    import threading
    from http.server import ThreadingHTTPServer

    web_server = _web_server()
    html_path, _ = write_report(report, tmp_path)

    def start(token):
        made = web_server.handler("http://localhost:5005", staff_token=token, staff_report=html_path)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), made)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    servers: list = []
    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _get(url, headers=None):
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_the_staff_url_needs_the_token(staff_server):
    base = staff_server("t0k3n-" + "x" * 30)
    status, headers, body = _get(base + "/staff/report", {"Authorization": "Bearer t0k3n-" + "x" * 30})
    assert status == 200 and "<h1>What patients asked: content report</h1>" in body
    assert headers["Cache-Control"] == "no-store" and "style-src 'unsafe-inline'" in headers["Content-Security-Policy"]
    assert "script-src" not in headers["Content-Security-Policy"]
    for sent in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer t0k3n-" + "x" * 29},
        {"Authorization": "t0k3n-" + "x" * 30},
    ):
        status, headers, body = _get(base + "/staff/report", sent)
        assert status == 401 and "Refused" in body and "What patients asked" not in body, sent
    status, _, body = _get(base + "/staff/report?token=t0k3n-" + "x" * 30)  # never in a URL
    assert status == 401 and "What patients asked" not in body


def test_without_a_token_the_staff_url_is_off(staff_server):
    for token in (None, ""):
        status, _, body = _get(staff_server(token) + "/staff/report", {"Authorization": "Bearer "})
        assert status == 404 and "What patients asked" not in body
    assert _web_server().staff_allowed("Bearer abc", "abc") and not _web_server().staff_allowed(None, "abc")


def test_a_new_session_copying_the_slots_forward_counts_no_new_answer_or_vote(tmp_path):
    """carry_over_slots_to_new_session: Rasa's session start sets every slot again, last_answer and
    feedback included. Those copies are not answers or votes."""
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    answer = {"topic": "pernicious_anemia", "passages": ["pa.parietal_cells"], "kind": "education"}
    vote = {"topic": "pernicious_anemia", "passages": ["pa.parietal_cells"], "helpful": True}
    t0 = seed._ts(seed.SINCE, 0)
    tracker = DialogueStateTracker("rest:restarted", Domain.empty().slots)
    parse = {"intent": {"name": "ask_pernicious_anemia"}, "entities": [], "message_kind": "education"}
    tracker.update(UserUttered("what is pa?", parse["intent"], [], parse, timestamp=t0))
    tracker.update(SlotSet("last_answer", answer, timestamp=t0 + 1))
    tracker.update(SlotSet("feedback", vote, timestamp=t0 + 2))
    for restart in (1, 2):  # what ActionSessionStart writes, twice
        at = t0 + 100 * restart
        tracker.update(ActionExecuted("action_session_start", timestamp=at))
        tracker.update(SessionStarted(timestamp=at + 0.1))
        tracker.update(SlotSet("last_answer", answer, timestamp=at + 0.2))
        tracker.update(SlotSet("feedback", vote, timestamp=at + 0.3))
        tracker.update(ActionExecuted("action_listen", timestamp=at + 0.4))
    tracker.update(SlotSet("feedback", vote, timestamp=t0 + 500))  # a replayed vote: counted once
    db = tmp_path / "restart.db"
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db))
    asyncio.run(store.save(tracker))
    store.engine.dispose()
    got = build_report(seed.SINCE, seed.UNTIL, sqlite_file=db, min_senders=5)
    assert got["answers_per_topic"] == [{"topic": "pernicious_anemia", "answers": 1}]
    assert got["helpful_per_topic"] == [{"topic": "pernicious_anemia", "votes": 1, "helpful": 1, "rate": 1.0}]


def test_one_slack_user_in_many_threads_is_one_person_for_the_threshold():
    from reporting.figures import build
    from reporting.store import Event

    parse = {"intent": {"name": "ask_not_covered"}, "message_kind": "not_covered"}
    t0 = seed._ts(seed.SINCE, 0)
    events = [
        Event(f"slack:U07ABC_D01_{t0 + i}", "user", t0 + i, "ask_not_covered",
              {"text": "can maria take b12 with her chemo", "parse_data": parse})
        for i in range(5)
    ]  # fmt: skip
    assert build(events, seed.SINCE, seed.UNTIL, 5)["questions"]["shown"] == []
    events += [
        Event(f"slack:U{i}X_D01_{t0}", "user", t0 + 10 + i, "ask_not_covered",
              {"text": "can maria take b12 with her chemo", "parse_data": parse})
        for i in range(4)
    ]  # fmt: skip
    (group,) = build(events, seed.SINCE, seed.UNTIL, 5)["questions"]["shown"]
    assert group["senders"] == 5


@pytest.mark.parametrize(
    "text, scrubbed",
    [
        ("call 0176-1234-5678", "call <NUMBER>"),
        ("card 4111-1111-1111-1111 ok", "card <NUMBER> ok"),
        ("ph: 91-98765-43210", "ph: <NUMBER>"),
        ("is b12 500 enough", "is b12 <NUMBER> enough"),
        ("B-12 at 200", "B-12 at <NUMBER>"),
    ],
)
def test_no_digit_group_of_a_number_survives(text, scrubbed):
    assert scrub(text) == scrubbed
