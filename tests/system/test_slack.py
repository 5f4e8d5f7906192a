"""The Slack channel (extensions/channels/slack.py).

Unit tests check the settings read from the environment and the output formatting. The live
tests boot the real action and Rasa servers (ports 5305 and 5355) with SLACK_* set and
SLACK_API_URL pointing at a local stand-in for Slack's Web API, send events signed exactly as
Slack signs them, and read what the assistant posted to chat.postMessage. A last boot without
the SLACK_* variables checks that the assistant still starts and the REST channel works.

    .venv/bin/python -m pytest tests/system/test_slack.py -m slack
"""

import asyncio
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, List

import pytest

from b12 import settings
from extensions.channels.slack import (
    MAX_BUTTONS,
    SLACK_RETRY_REASONS,
    EnvSlackBot,
)
from tests.harness import (
    CAVEAT,
    SLACK_SECRET,
    SLACK_TOKEN,
    Stack,
    chat,
    conversation_events,
    ensure_free,
    needs_model,
    new_sender,
    port,
    texts,
)

pytestmark = pytest.mark.slack
live = pytest.mark.integration  # servers or a local stand-in: `make integration` runs these

ROOT = settings.ROOT
RASA_PORT, ACTIONS_PORT = port(5305), port(5355)
URL = f"http://127.0.0.1:{RASA_PORT}"
SLACK_WEBHOOK = f"{URL}/webhooks/slack/webhook"
REST_WEBHOOK = f"{URL}/webhooks/rest/webhook"
BOT_USER = "UBOT"
SLACK_CHANNEL = "CBOT"  # the one channel where the bot answers every message


# --- the assistant, booted with or without the SLACK_* variables --------------------------


class Assistant:
    """Two stacks on the same ports (tests/harness.py): one with the SLACK_* variables, one without."""

    def __init__(self, slack_api_url: str) -> None:
        slack_env = {
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "SLACK_CHANNEL": SLACK_CHANNEL,
            "SLACK_API_URL": slack_api_url,
        }
        self.stacks = {True: Stack(RASA_PORT, ACTIONS_PORT, env=slack_env), False: Stack(RASA_PORT, ACTIONS_PORT)}
        self.slack: bool | None = None  # which boot is running: with Slack env, without, none

    def ensure(self, slack: bool) -> None:
        if self.slack is slack:
            return
        self.stop()
        ensure_free(RASA_PORT, ACTIONS_PORT)
        self.stacks[slack].start()
        self.slack = slack

    def stop(self) -> None:
        for stack in self.stacks.values():
            stack.stop()
        self.slack = None

    def remove(self) -> None:
        for stack in self.stacks.values():
            stack.remove()

    def log(self, slack: bool) -> str:
        return self.stacks[slack].log("rasa")


@pytest.fixture(scope="module")
def assistant(slack_api):
    needs_model()
    booted = Assistant(slack_api.url)
    yield booted
    booted.stop()
    booted.remove()


@pytest.fixture
def with_slack(assistant, slack_api):
    assistant.ensure(slack=True)
    return slack_api


@pytest.fixture
def without_slack(assistant):
    assistant.ensure(slack=False)
    return assistant


# --- requests as Slack sends them ---------------------------------------------------------


def signature(body: bytes, timestamp: str, secret: str = SLACK_SECRET) -> str:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def send(
    body: bytes,
    content_type: str = "application/json",
    signed: bool = True,
    age: float = 0,
    secret: str = SLACK_SECRET,
    extra: Dict[str, str] | None = None,
):
    headers = {"Content-Type": content_type, **(extra or {})}
    if signed:
        timestamp = str(int(time.time() - age))
        headers.update(
            {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature(body, timestamp, secret)}
        )
    request = urllib.request.Request(SLACK_WEBHOOK, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read().decode(), dict(reply.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace"), dict(e.headers)


def message_event(text: str, channel: str, user: str, thread_ts: str | None = None, **event: Any) -> bytes:
    """An Events API event_callback for a message, as Slack posts it."""
    inner = {
        "type": "message",
        "channel_type": "im",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": f"{time.time():.6f}",
        **event,
    }
    inner = {k: v for k, v in inner.items() if v is not None}  # e.g. channel_type=None: none sent
    if thread_ts:
        inner["thread_ts"] = thread_ts
    inner.setdefault("event_ts", inner["ts"])
    return json.dumps(
        {
            "token": "unused",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
            "event": inner,
        }
    ).encode()


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8].upper()


# --- the channel's output, sent to the stand-in --------------------------------------------


@live
def test_buttons_are_mrkdwn_blocks_and_at_most_five(slack_api):
    bot = EnvSlackBot(SLACK_TOKEN, "DBUTTONS", None, None, slack_api.url)
    buttons = [{"title": f"Topic {i}", "payload": f"/topic_{i}"} for i in range(7)]
    asyncio.run(bot.send_text_with_buttons("ignored", "Pick **one** of these:", buttons))
    (post,) = slack_api.posts("DBUTTONS")
    section, actions = post["blocks"]
    assert section["text"] == {"type": "mrkdwn", "text": "Pick *one* of these:"}
    assert [b["value"] for b in actions["elements"]] == [f"/topic_{i}" for i in range(MAX_BUTTONS)]
    assert "as_user" not in post
    assert slack_api.calls_to("DBUTTONS")[0]["authorization"] == f"Bearer {SLACK_TOKEN}"


# --- live: the booted assistant on Slack ----------------------------------------------------


@live
def test_a_signed_question_is_answered_in_its_thread_with_the_caveat_last(with_slack):
    channel, user = unique("D"), unique("U")
    body = message_event("what is pernicious anemia?", channel, user)
    status, _, _ = send(body)
    assert status == 200
    posts = with_slack.wait_for_answer(channel)
    assert len(posts) >= 3, texts(posts)
    assert any("parietal cells" in p["text"] for p in posts)
    assert posts[-1]["text"].startswith(CAVEAT), texts(posts)
    assert sum(CAVEAT in p["text"] for p in posts) == 1
    user_ts = json.loads(body)["event"]["ts"]  # SLACK_USE_THREADS: a thread under the question
    assert {p.get("thread_ts") for p in posts} == {user_ts}
    assert all("as_user" not in p for p in posts)
    assert all(c["authorization"] == f"Bearer {SLACK_TOKEN}" for c in with_slack.calls_to(channel))


@live
def test_a_question_inside_a_thread_is_answered_in_that_thread(with_slack):
    channel, user, thread = unique("D"), unique("U"), "1700000000.000100"
    assert send(message_event("how is b12 deficiency treated?", channel, user, thread_ts=thread))[0] == 200
    posts = with_slack.wait_for_answer(channel)
    assert {p.get("thread_ts") for p in posts} == {thread}


@live
def test_mentions_are_answered_and_other_channel_chatter_is_not(with_slack):
    channel, user = unique("C"), unique("U")
    chatter = message_event("what is pernicious anemia?", channel, user, channel_type="channel")
    assert send(chatter)[0] == 200
    mention = message_event(
        f"<@{BOT_USER}> what is pernicious anemia?", channel, user, type="app_mention", channel_type=None
    )
    assert send(mention)[0] == 200
    posts = with_slack.wait_for_answer(channel)
    assert any("parietal cells" in p["text"] for p in posts)
    assert sum(CAVEAT in p["text"] for p in posts) == 1  # the chatter got no answer

    # In SLACK_CHANNEL every message is answered; an @mention there arrives twice (as a
    # message and as an app_mention) and is answered once.
    user, text = unique("U"), f"<@{BOT_USER}> what is pernicious anemia?"
    as_message = message_event(text, SLACK_CHANNEL, user, channel_type="channel")
    as_mention = json.loads(as_message)
    as_mention["event"]["type"] = "app_mention"
    del as_mention["event"]["channel_type"]  # Slack sends none with app_mention
    assert send(json.dumps(as_mention).encode())[0] == 200
    assert send(as_message)[0] == 200
    assert send(message_event("thanks", SLACK_CHANNEL, user, channel_type="channel"))[0] == 200
    posts = with_slack.wait_for(SLACK_CHANNEL, lambda ps: any("welcome" in p["text"] for p in ps))
    assert any("parietal cells" in p["text"] for p in posts)
    assert sum(CAVEAT in p["text"] for p in posts) == 1, texts(posts)


@live
@pytest.mark.parametrize(
    "how",
    [
        {"signed": False},
        {"secret": "not-the-signing-secret"},
        {"age": 6 * 60},  # a replay: Slack's timestamps older than 5 minutes are refused
    ],
    ids=["unsigned", "wrong-secret", "six-minutes-old"],
)
def test_requests_not_from_slack_are_refused(with_slack, how):
    channel = unique("D")
    status, text, _ = send(message_event("what is pernicious anemia?", channel, unique("U")), **how)
    assert status == 400 and "X-Slack-Signature" in text
    with_slack.assert_nothing_posted(channel)


@live
def test_retries_of_an_answered_event_get_no_second_answer(with_slack):
    channel, user = unique("D"), unique("U")
    body = message_event("what is pernicious anemia?", channel, user)
    assert send(body)[0] == 200
    answer = with_slack.wait_for_answer(channel)

    # Rasa's default drops only http_timeout retries; every reason, and none, must be dropped.
    for retry, reason in enumerate([*SLACK_RETRY_REASONS, None], start=1):
        extra = {"X-Slack-Retry-Num": str(min(retry, 3))}
        if reason:
            extra["X-Slack-Retry-Reason"] = reason
        status, _, headers = send(body, extra=extra)
        assert 200 <= status < 300 and headers.get("X-Slack-No-Retry") == "1", (reason, status)

    # Messages of one conversation are handled in order: once this later one is answered,
    # any answer to a retry would have been posted before it.
    assert send(message_event("thanks", channel, user))[0] == 200
    posts = with_slack.wait_for(channel, lambda ps: any("welcome" in p["text"] for p in ps))
    assert posts[: len(answer)] == answer
    assert [p["text"] for p in posts[len(answer) :] if "welcome" not in p["text"]] == []


@live
def test_the_url_verification_challenge_is_echoed(with_slack):
    body = json.dumps({"token": "unused", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd", "type": "url_verification"})
    status, text, headers = send(body.encode())
    assert (status, text) == (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd")
    assert headers["content-type"].startswith("text/plain")
    assert send(body.encode(), signed=False)[0] == 400


def click(channel: str, user: str, thread_ts: str, value: str) -> int:
    """A block_actions payload, form-encoded, as Slack posts a button click."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": channel},
        "message": {"ts": "1.1", "thread_ts": thread_ts},
        "actions": [{"type": "button", "value": value, "action_id": "a1", "block_id": "b1"}],
    }
    form = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return send(form, content_type="application/x-www-form-urlencoded")[0]


@live
def test_greeting_buttons_and_a_button_click(with_slack):
    channel, user = unique("D"), unique("U")
    assert send(message_event("hello", channel, user))[0] == 200
    (greeting,) = with_slack.wait_for(channel, lambda ps: any(p.get("blocks") for p in ps))
    section, actions = greeting["blocks"]
    assert section["text"]["type"] == "mrkdwn" and "vitamin B12" in section["text"]["text"]
    assert 1 <= len(actions["elements"]) <= MAX_BUTTONS
    button = next(b for b in actions["elements"] if b["value"] == "/ask_pernicious_anemia")

    assert click(channel, user, greeting["thread_ts"], button["value"]) == 200
    posts = with_slack.wait_for_answer(channel)
    assert any("parietal cells" in p.get("text", "") for p in posts)
    assert posts[-1]["text"].startswith(CAVEAT)


@live
def test_was_this_helpful_buttons_ride_on_the_caveat_and_a_click_is_stored(with_slack, assistant):
    channel, user = unique("D"), unique("U")
    assert send(message_event("what is pernicious anemia?", channel, user))[0] == 200
    posts = with_slack.wait_for_answer(channel)
    caveat = posts[-1]
    assert caveat["text"].startswith(CAVEAT)  # still the last message, with the buttons on it
    section, actions = caveat["blocks"]
    assert section["text"]["text"].startswith(CAVEAT)
    titles = [b["text"]["text"] for b in actions["elements"]]
    assert titles == ["Yes, this helped", "No, this did not help"]
    no = actions["elements"][1]["value"]
    assert no.startswith("/rate_answer") and "pernicious_anemia|" in no

    assert click(channel, user, caveat["thread_ts"], no) == 200
    posts = with_slack.wait_for(channel, lambda ps: any("sorry that did not help" in p.get("text", "") for p in ps))
    sorry = next(p for p in posts if "sorry that did not help" in p.get("text", ""))
    assert "healthcare provider" in sorry["text"] and sorry.get("blocks"), "a no offers the topics"
    engine = assistant.stacks[True].engine()
    stored = [e["value"] for e in conversation_events(engine, user, channel="slack") if e.get("name") == "feedback"]
    assert stored == [
        {"topic": "pernicious_anemia", "passages": ["pa.parietal_cells", "pa.central_feature"], "helpful": False}
    ]

    assert click(channel, user, caveat["thread_ts"], no) == 200  # clicked twice: counted once
    with_slack.wait_for(channel, lambda ps: any("already told me" in p.get("text", "") for p in ps))
    stored = [e for e in conversation_events(engine, user, channel="slack") if e.get("name") == "feedback"]
    assert len(stored) == 1


@live
def test_rest_still_works_next_to_slack(with_slack):
    assert "parietal cells" in " ".join(rest("what is pernicious anemia?"))


@live
def test_the_slack_run_logged_no_traceback(with_slack, assistant):
    assert send(b"{not json")[0] == 400  # signed but malformed: refused, not a crash
    log = assistant.log(slack=True)
    assert "Slack channel on /webhooks/slack/webhook" in log
    assert "Traceback" not in log, log[log.index("Traceback") :][:3000]


@live
def test_without_slack_env_the_assistant_starts_and_rest_works(without_slack):
    assert "parietal cells" in " ".join(rest("what is pernicious anemia?"))
    status, text, _ = send(message_event("what is pernicious anemia?", unique("D"), unique("U")))
    assert status == 503 and "Slack is not configured" in text
    with urllib.request.urlopen(URL + "/", timeout=5) as reply:
        assert reply.status == 200
    log = without_slack.log(slack=False)
    assert "Slack channel disabled: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET not set" in log
    assert "Traceback" not in log


def rest(message: str) -> List[str]:
    return texts(chat(URL, message, new_sender("slack-rest"), timeout=30))


@live
def test_a_retry_whose_first_delivery_never_arrived_is_answered(with_slack):
    """connection_failed, http_error, ssl_error: the first delivery never reached the assistant
    (a restart, a 503 from the proxy), so the retry is the only copy of the patient's message."""
    for reason in ("connection_failed", "http_error", "ssl_error"):
        channel = unique("D")
        body = message_event("what is pernicious anemia?", channel, unique("U"))
        status, _, _ = send(body, extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": reason})
        assert status == 200, reason
        posts = with_slack.wait_for_answer(channel)
        assert "parietal cells" in " ".join(texts(posts)) and posts[-1]["text"].startswith(CAVEAT), reason


@live
def test_a_signed_body_that_is_not_an_object_gets_400(with_slack):
    for body in (b"[]", b'"text"', b"42"):
        status, text, _ = send(body)
        assert status == 400 and "JSON object" in text, body


@live
def test_a_message_over_the_limit_gets_a_short_reply_and_is_not_processed(with_slack):
    channel = unique("D")
    assert send(message_event("b12 " * 2600, channel, unique("U")))[0] == 200
    posts = with_slack.wait_for(channel, lambda ps: len(ps) >= 2)
    assert posts[0]["text"].startswith("That message is too long for me.") and "911" in posts[1]["text"]


@live
def test_a_slack_user_id_never_names_a_rest_conversation(with_slack, assistant):
    """A Slack user id is visible to the whole workspace: a web client that sends it as its REST
    sender gets a conversation of its own, not the Slack user's."""
    channel, user = unique("D"), unique("U")
    assert send(message_event("my mum has pernicious anaemia, what is it?", channel, user))[0] == 200
    with_slack.wait_for_answer(channel)
    reply = " ".join(texts(chat(URL, "how is it treated?", user, timeout=30)))
    # with the Slack user's context this would be the pernicious-anemia treatment ("lifelong")
    assert "lifelong" not in reply and "oral supplements might be sufficient" in reply, reply
    engine = assistant.stacks[True].engine()
    slack_turns = [e["text"] for e in conversation_events(engine, user, channel="slack") if e["event"] == "user"]
    rest_turns = [e["text"] for e in conversation_events(engine, user, channel="rest") if e["event"] == "user"]
    assert (slack_turns, rest_turns) == (["my mum has pernicious anaemia, what is it?"], ["how is it treated?"])
