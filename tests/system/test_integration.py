"""Integration: boot the real action server and Rasa server on localhost (tests/harness.py) and
talk to them over the REST channel, as the web page, Slack and the judge do."""

import concurrent.futures as cf
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from b12 import settings
from b12.knowledge import get_knowledge
from evaluation import own_words
from evaluation.common import HELDOUT, write_report
from evaluation.judge import Judge, category, run_case
from tests.harness import SAFE_REPLY, booted, chat, conversation_events, missing, new_sender, port, request, texts

pytestmark = pytest.mark.integration

SHARED_EVAL = settings.ROOT.parent / "shared" / "eval"
RASA_PORT, ACTIONS_PORT = port(5105), port(5155)
URL = f"http://127.0.0.1:{RASA_PORT}"
WEBHOOK = f"{URL}/webhooks/rest/webhook"


@pytest.fixture(scope="session", autouse=True)
def servers():
    with booted(RASA_PORT, ACTIONS_PORT) as stack:
        yield stack


def post(message, sender=None):
    status, reply, _ = chat(URL, message, sender or uuid.uuid4().hex, timeout=30)
    return status, reply


CAVEAT = re.compile(r"talk with your doctor or healthcare provider", re.I)


def test_a_topic_answer_quotes_the_source_and_ends_with_the_caveat():
    status, reply = post("what is pernicious anemia?")
    assert status == 200
    messages = texts(reply)
    assert "parietal cells" in " ".join(messages)
    assert CAVEAT.search(messages[-1])


def test_an_answer_asks_once_if_it_helped_stores_the_vote_and_says_where_it_is_from(servers):
    kb = get_knowledge()
    sender = new_sender("loop")
    status, reply = post("what is pernicious anemia?", sender)
    assert status == 200 and CAVEAT.search(reply[-1]["text"])  # the caveat is still last
    buttons = reply[-1]["buttons"]
    assert [b["title"] for b in buttons] == ["Yes, this helped", "No, this did not help"]
    (quoted,) = [m for m in reply if "source" in m]  # the Source disclosure's facts, once: on the
    assert reply.index(quoted) == len(reply) - 2  # last passage (REST sends a paragraph a message)
    assert "parietal cells" in " ".join(texts(reply))
    assert quoted["source"]["sections"] == ["Autoimmune Conditions that Affect B12 Absorption"]
    assert quoted["source"]["url"] == kb.source_url
    assert quoted["source"]["reviewed_on"] == kb.review.reviewed_on.isoformat()

    status, reply = post(buttons[0]["payload"], sender)
    assert status == 200 and texts(reply) == ["Thank you for telling me. I am glad it helped."]
    votes = [e["value"] for e in conversation_events(servers.engine(), sender) if e.get("name") == "feedback"]
    assert votes == [
        {"topic": "pernicious_anemia", "passages": ["pa.parietal_cells", "pa.central_feature"], "helpful": True}
    ]

    status, reply = post("where is that from?", sender)
    said = " ".join(texts(reply))
    assert kb.source_title in said and '"Autoimmune Conditions that Affect B12 Absorption"' in said
    assert f"{kb.review.reviewed_on:%B} {kb.review.reviewed_on.day}, {kb.review.reviewed_on.year}" in said
    assert kb.source_url in said and CAVEAT.search(reply[-1]["text"])

    status, reply = post("what is pernicious anemia?", sender)  # the same answer: not asked again
    assert "parietal cells" in " ".join(texts(reply)) and not reply[-1].get("buttons")
    status, reply = post(buttons[1]["payload"], sender)  # a second vote on it is not counted
    assert texts(reply) == ["Thank you. You already told me about that answer."]
    votes = [e for e in conversation_events(servers.engine(), sender) if e.get("name") == "feedback"]
    assert len(votes) == 1


@pytest.mark.parametrize(
    "turns",
    [
        [
            ("what is pernicious anaemia", "parietal cells"),
            ("how is it treated?", "standard of care"),
            ("is that for life?", "lifelong"),
        ],
        [
            ("tell me about b12 jabs", "injection"),
            ("any side effects?", "Minor side effects possible"),
            ("what about pills?", "excess is excreted"),
        ],
    ],
    ids=["condition", "route"],
)
def test_follow_ups_resolve_in_one_conversation(turns):
    sender = uuid.uuid4().hex
    for message, expected in turns:
        _, reply = post(message, sender)
        assert expected.lower() in " ".join(texts(reply)).lower(), (message, texts(reply))
        assert CAVEAT.search(texts(reply)[-1])


def test_an_emergency_goes_to_emergency_care_first_and_nothing_else():
    _, reply = post("my tongue is swelling after the injection and i cant breathe")
    messages = texts(reply)
    assert "emergency" in messages[0].lower() and "911" in messages[0]
    assert len(messages) == 1


def test_help_offers_buttons():
    _, reply = post("help")
    assert reply[0]["buttons"] and len(reply[0]["buttons"]) <= 5


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   \n\t ",
        "b12 " * 2500,
        "😀🙏💉",
        "维生素B12是什么",
        "ما هو فيتامين ب12",
        "<script>alert('x')</script>",
        "<img src=x onerror=alert(1)>",
        "<b onmouseover=alert(1)>hello</b>",
    ],
    ids=["empty", "whitespace", "10k-chars", "emoji", "chinese", "arabic", "script", "img", "b-tag"],
)
def test_bad_input_gets_a_safe_reply_and_markup_is_never_echoed(message):
    status, reply = post(message)
    assert status == 200
    messages = texts(reply)
    assert messages, "no reply"
    assert SAFE_REPLY not in messages, "the assistant failed on it (the safe reply stands in for an answer)"
    whole = " ".join(messages).lower()
    assert "<script" not in whole and "onerror" not in whole and "onmouseover" not in whole


def _run_cases(path: Path, report_name: str):
    judge = Judge(json.loads((HELDOUT / "topics.json").read_text()))
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    tag = uuid.uuid4().hex[:8]
    with cf.ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda c: run_case(WEBHOOK, c, 30, tag), cases))
    rows = []
    for case, messages, _, error in done:
        if error:
            rows.append({"case": case, "pass": False, "caveat": False, "health": [], "why": [error], "reply": []})
            continue
        ok, caveat, health, why = judge.judge_case(case, messages)
        rows.append({"case": case, "pass": ok, "caveat": caveat, "health": health, "why": why, "reply": messages})
    write_report(report_name, {"rows": rows})
    return rows


def test_held_out_patient_questions():
    rows = _run_cases(HELDOUT / "cases.jsonl", "heldout")
    assert len(rows) >= 150
    passed = sum(r["pass"] for r in rows)
    emergencies = [r for r in rows if r["case"]["expect"] == "emergency"]
    health = [r for r in rows if r["health"]]
    failures = "\n".join(f"{r['case']['turns'][-1]!r}: {'; '.join(r['why'])}" for r in rows if not r["pass"])
    print(
        f"\nheld-out: {passed}/{len(rows)} answered right; {sum(r['pass'] for r in emergencies)}/{len(emergencies)} "
        f"emergencies; caveat last on {sum(r['caveat'] for r in health)}/{len(health)} health replies"
    )
    assert all(r["pass"] for r in emergencies), failures
    assert all(r["caveat"] for r in health), failures
    assert passed / len(rows) >= 0.95, failures
    assert {category(r["case"]) for r in rows} == {"answers", "conversation", "safety"}


@pytest.mark.parametrize("sample", ["sample_cases.jsonl", "sample_own_words.jsonl"])
def test_public_sample_passes_in_full(sample):
    judge = SHARED_EVAL / "judge.py"
    if not judge.exists():
        missing("../shared/eval is absent: the public sample cannot be judged here")
    result = subprocess.run(
        [sys.executable, str(judge), "--url", URL, "--cases", str(SHARED_EVAL / sample), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr


def test_patients_own_words_meet_the_safety_targets():
    """The held-out own-words sets (written by helpers who never saw data/): every emergency
    report reaches emergency care, at most 2% of alarming-sounding questions get an alarm
    instead of an answer, and the rest stays at its measured level. The count part prints
    figures only; its texts are never shown."""
    # Floors at the measured level (targets in the closing note are not all met yet):
    # part -> (emergency recall, most false alarms, all right)
    floors = {"look": (0.99, 0.02, 0.94), "count": (0.94, 0.04, 0.92)}
    for part, (recall, alarms, floor) in floors.items():
        cases = own_words.load(part)
        result = own_words.score(own_words.judge(), cases, own_words.ask_all(URL, cases))
        t = result["targets"]
        print(f"\nown words ({part}):", {k: f"{v['hits']}/{v['of']}" for k, v in t.items()})
        failures = sorted(result["failures"], key=lambda f: f["kind"] != "emergency")  # emergencies first
        shown = [f"{f['id']} {f['turns'][-1]!r}: {f['why']}" for f in failures] if part == "look" else []
        assert t["emergency_recall"]["rate"] >= recall, shown
        assert t["false_alarms"]["hits"] <= alarms * t["false_alarms"]["of"], shown
        assert t["all"]["rate"] >= floor, shown


def test_only_json_is_processed():
    """A page on any website can make a visitor's browser post text/plain here with no CORS
    preflight: it is refused, and nothing is processed."""
    body = json.dumps({"sender": new_sender("type"), "message": "what is pernicious anemia?"}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, reply, _ = request(WEBHOOK, body, "POST", {"Content-Type": content_type}, timeout=30)
        assert status == 415 and reply["error"] == "unsupported_media_type", content_type


def test_a_message_without_a_sender_is_refused(servers):
    status, reply, _ = chat(URL, "what is pernicious anemia?", sender=None, timeout=30)
    assert status == 400 and reply["error"] == "missing_sender"
    assert conversation_events(servers.engine(), "default") == []


def test_conversations_are_stored_per_channel(servers):
    sender = new_sender("ns")
    status, reply, _ = chat(URL, "what is pernicious anemia?", sender, timeout=30)
    assert status == 200 and reply[-1]["recipient_id"] == sender  # the client's own id comes back
    assert conversation_events(servers.engine(), sender, channel="rest")
    assert conversation_events(servers.engine(), sender, channel="slack") == []


def test_one_conversation_sending_too_fast_is_slowed_and_no_other(servers):
    fast = new_sender("fast")
    statuses = [chat(URL, "hi", fast, timeout=30) for _ in range(32)]
    assert [s for s, _, _ in statuses[:30]] == [200] * 30
    status, reply, _ = statuses[-1]
    assert status == 429 and reply["error"] == "rate_limited" and "wait a moment" in reply["message"]
    assert "911" in reply["message"]  # what to do if it is an emergency
    status, reply, _ = chat(URL, "my tongue is swelling and i cant breathe", fast, timeout=30)
    assert status == 200 and texts(reply)[0].startswith("This may be an emergency")  # care first, even now
    assert len(texts(reply)) == 1 and "911" in texts(reply)[0]
    status, reply, _ = chat(URL, "i cant breathe my throat is closing " + "please " * 2000, new_sender("long"))
    assert status == 200 and texts(reply)[0].startswith("This may be an emergency")  # too long, still care
    assert chat(URL, "hi", new_sender("calm"), timeout=30).status == 200


def _with_id(text, sender, request_id):
    body = json.dumps({"sender": sender, "message": text}).encode()
    headers = {"Content-Type": "application/json", "X-Request-ID": request_id}
    return request(WEBHOOK, body, "POST", headers, timeout=60)


def test_a_retried_message_is_answered_once_even_while_the_first_is_running(servers):
    sender, request_id = new_sender("replay"), "req-" + uuid.uuid4().hex
    with cf.ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: _with_id("what is pernicious anemia?", sender, request_id), range(2))
    assert first.status == second.status == 200
    assert texts(first) == texts(second) and "parietal cells" in " ".join(texts(first))
    users = [e for e in conversation_events(servers.engine(), sender) if e["event"] == "user"]
    assert len(users) == 1, "the duplicate was processed twice"


def test_a_reused_request_id_never_replays_an_old_answer_to_a_new_message(servers):
    sender, request_id = new_sender("reuse"), "req-" + uuid.uuid4().hex
    assert "parietal cells" in " ".join(texts(_with_id("what is pernicious anemia?", sender, request_id)))
    urgent = texts(_with_id("my tongue is swelling and i cant breathe", sender, request_id))
    assert "911" in urgent[0], urgent
    users = [e["text"] for e in conversation_events(servers.engine(), sender) if e["event"] == "user"]
    assert users == ["what is pernicious anemia?", "my tongue is swelling and i cant breathe"]
