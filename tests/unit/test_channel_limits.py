"""What every input channel shares (extensions/channels/__init__.py), the REST channel's request
checks, and Slack's event store, without servers."""

import pytest
import sqlalchemy as sa

from extensions.channels import RATE_LIMITED, RateLimiter, conversation_id, refusal, sender_of, too_long
from extensions.channels.rest import BadRequestError, check_content_type, parse_body
from extensions.channels.slack import CLAIM_SECONDS, SlackEvents


def test_conversations_are_namespaced_by_channel():
    assert conversation_id("rest", "U123") == "rest:U123" != conversation_id("slack", "U123")
    assert sender_of("rest", "rest:U123") == "U123" and sender_of("rest", "slack:U123") == "slack:U123"


@pytest.mark.parametrize(
    "content_type", [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_only_json_is_accepted(content_type):
    """A page on another site can make a browser post these without a CORS preflight."""
    with pytest.raises(BadRequestError) as refused:
        check_content_type(content_type)
    assert refused.value.status == 415 and refused.value.code == "unsupported_media_type"


def test_json_with_a_charset_is_accepted():
    check_content_type("application/json")
    check_content_type("Application/JSON; charset=utf-8")


def test_a_message_without_a_sender_is_refused():
    with pytest.raises(BadRequestError) as refused:
        parse_body(b'{"message": "what is pernicious anemia?"}')
    assert (refused.value.status, refused.value.code) == (400, "missing_sender")
    assert parse_body(b'{"sender": "abc", "message": "hi"}') == ("abc", "hi", None, None)


def test_one_length_limit_for_every_channel(monkeypatch):
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "20")
    assert not too_long("x" * 20) and too_long("x" * 21)
    with pytest.raises(BadRequestError) as refused:
        parse_body(b'{"sender": "abc", "message": "' + b"x" * 21 + b'"}')
    assert refused.value.status == 413 and "20 characters" in refused.value.message


def test_the_rate_limit_counts_each_conversation_apart(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "3/minute")
    monkeypatch.delenv("REDIS_HOST", raising=False)
    limiter = RateLimiter()
    assert [limiter.retry_after("rest:a") for _ in range(3)] == [None, None, None]
    wait = limiter.retry_after("rest:a")
    assert wait is not None and 1 <= wait <= 60
    assert limiter.retry_after("rest:b") is None  # another conversation is not slowed


def test_a_broken_rate_limit_lets_the_message_through(monkeypatch, caplog):
    monkeypatch.setenv("RATE_LIMIT", "not a limit")
    assert RateLimiter().retry_after("rest:a") is None  # an emergency report is never stopped by it
    assert "rate limiter failed" in caplog.text


@pytest.fixture(params=["memory", "sqlite"])
def events(request, tmp_path):
    store = SlackEvents()
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
        store.bind(type("Store", (), {"engine": engine})())
        assert sa.inspect(engine).has_table("slack_events")
    return store


def test_an_event_is_handled_once_and_again_only_when_it_was_not_answered(events):
    assert events.claim("Ev1", now=1000.0)  # the first delivery
    assert not events.claim("Ev1", now=1001.0)  # a retry while it is being answered
    events.finish("Ev1", answered=True)
    assert not events.claim("Ev1", now=1002.0 + CLAIM_SECONDS)  # a retry after the answer
    assert events.claim("Ev2", now=1000.0)
    events.finish("Ev2", answered=False)  # handling failed: Slack's retry is the only copy
    assert events.claim("Ev2", now=1003.0)


def test_a_claim_left_by_a_dead_process_expires(events):
    assert events.claim("Ev3", now=1000.0)
    assert not events.claim("Ev3", now=1000.0 + CLAIM_SECONDS - 1)
    assert events.claim("Ev3", now=1000.0 + CLAIM_SECONDS + 1)
    assert not events.claim("Ev3", now=1000.0 + CLAIM_SECONDS + 2)  # and only one takes it over


def test_two_stores_on_one_database_share_what_they_saw(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    one, two = SlackEvents(), SlackEvents()
    for store in (one, two):
        store.bind(type("Store", (), {"engine": engine})())
    assert one.claim("Ev4", now=1000.0)
    assert not two.claim("Ev4", now=1001.0)  # the other Rasa process drops the retry


def test_a_refused_message_that_reports_an_emergency_still_gets_emergency_care():
    from b12.crisis import crisis_lines

    said = refusal("my tongue is swelling and i cant breathe", RATE_LIMITED)
    assert said == [crisis_lines().reply("allergic_reaction")] and "911" in said[0]
    ordinary = refusal("what is pernicious anemia?", RATE_LIMITED)
    assert ordinary == [RATE_LIMITED, crisis_lines().if_now(None)]


def test_memory_windows_forget_expired_ids_so_invented_ids_cannot_pile_up():
    from extensions.channels import _MemoryWindows

    windows = _MemoryWindows()
    for i in range(5000):
        assert windows.hit(f"rest:old{i}", 30, 60, now=1000.0) is None
    for i in range(5000):  # every earlier window has ended: a sweep drops them
        assert windows.hit(f"rest:new{i}", 30, 60, now=2000.0) is None
    assert len(windows._windows) <= 5000 and not any(k.startswith("rest:old") for k in windows._windows)
    for _ in range(30):
        windows.hit("rest:busy", 30, 60, now=2000.0)
    assert windows.hit("rest:busy", 30, 60, now=2010.0) == 50  # seconds until its window ends
    assert windows.hit("rest:busy", 30, 60, now=2061.0) is None  # a new window
