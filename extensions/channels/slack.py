"""Slack for this assistant: Rasa's own Slack connector, configured from the environment.

credentials.yml lists `extensions.channels.slack.EnvSlackInput:` with no values. The settings come from
the environment, so no secret is ever written to a file:

    SLACK_BOT_TOKEN       the app's Bot User OAuth Token (xoxb-...)            required
    SLACK_SIGNING_SECRET  the app's Signing Secret (Basic Information page)     required
    SLACK_CHANNEL         a channel ID (C...) where the bot answers every message, not just
                          @mentions; optional
    SLACK_USE_THREADS     true (default): answer in the thread of the user's message;
                          false: answer at the top level of the conversation
    SLACK_CONVERSATION_GRANULARITY  sender (default), channel or thread: what counts as one
                          conversation (one Rasa tracker) with a user
    SLACK_API_URL         base URL of Slack's Web API (default https://slack.com/api/); only
                          tests change it, to point the client at a local stand-in

Without SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET the assistant still starts (REST works) and
/webhooks/slack/webhook answers 503 "Slack is not configured".

Everything else is Rasa's `SlackInput`: signature and timestamp verification, event parsing,
mention stripping, button clicks, threads. This module only changes:

- an @mention in SLACK_CHANNEL is answered once (Slack sends it as `message` and as
  `app_mention`; Rasa would answer both);
- conversations are stored as "slack:<id>" (extensions/channels/__init__.py): a Slack user id,
  visible to the whole workspace, can never name a REST conversation;
- retries: deduplicated on Slack's `event_id` in a table every Rasa process shares (the
  tracker store's database, `SlackEvents`). A retry of an event that was answered, or is being
  answered, is acknowledged and dropped; any other retry goes through, since for
  `connection_failed`, `http_error` or `ssl_error` the first delivery never reached the
  assistant and the retry is the only copy of the patient's message. An event whose handling
  failed, or whose process died (claimed over CLAIM_SECONDS ago), is let through again;
- a signed body that is not a JSON object gets 400, not 500; a message over MAX_MESSAGE_CHARS
  (every channel's one limit) gets a short reply asking for a shorter question, and a
  conversation over RATE_LIMIT one asking to slow down (both as on REST);
- the url_verification challenge is echoed as text/plain, the form Slack documents
  (Rasa answers with a JSON-encoded string);
- output: text is escaped and converted to Slack mrkdwn, at most 5 buttons are sent (Rasa
  drops all buttons when there are more), the legacy `as_user` argument is not sent, and
  rate-limited posts are retried so that the caveat, always the last message, is not lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from b12 import settings
from b12.answering import SAFE_REPLY
from extensions import redaction
from extensions.channels import RATE_LIMITED, RateLimiter, conversation_id, emergency_reply, refusal, too_long

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"  # b12/settings.py's default for SLACK_API_URL
REQUIRED_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
GRANULARITIES = ("sender", "channel", "thread")
MAX_BUTTONS = 5  # Slack shows at most 5 buttons in one actions block for this layout
MAX_BUTTON_TITLE = 75  # Slack's limit for a button's text
RETRY_NUM_HEADER = "x-slack-retry-num"
RETRY_REASON_HEADER = "x-slack-retry-reason"
# Every reason Slack documents for retrying an event (https://api.slack.com/apis/events-api).
SLACK_RETRY_REASONS = (
    "http_timeout",
    "too_many_redirects",
    "connection_failed",
    "ssl_error",
    "http_error",
    "unknown_error",
)
NOT_CONFIGURED = (
    "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET in the environment "
    "of the Rasa server and restart it (see docs/slack.md)."
)

TOO_LONG = "That message is too long for me. Please send a shorter question, under {limit} characters."
CLAIM_SECONDS = 120  # an event claimed this long ago and never answered: its process died

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def to_mrkdwn(text: str) -> str:
    """Text as Slack mrkdwn: `&`, `<` and `>` escaped (Slack requires it), Markdown
    **bold** as *bold* and [title](url) as <url|title>."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)
    return re.sub(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", text)


def _env_flag(env: Optional[Mapping[str, str]], name: str, default: bool) -> bool:
    value = (settings.raw(name, env) or "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    logger.warning(f"{name}={value!r} is not true or false; using {str(default).lower()}.")
    return default


class EnvSlackBot(SlackBot):
    """Rasa's Slack output channel, pointed at `api_url`, writing mrkdwn."""

    def __init__(
        self,
        token: str,
        slack_channel: str | None = None,
        thread_id: str | None = None,
        proxy: str | None = None,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = AsyncWebClient(
            token,
            base_url=api_url,
            proxy=proxy,
            retry_handlers=[AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        # `as_user` is for classic Slack apps only; a bot token posts as the bot anyway.
        kwargs.pop("as_user", None)
        await super()._post_message(channel, **kwargs)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # Rasa posts each paragraph ("\n\n") as its own message, in order.
        await super().send_text_message(recipient_id, to_mrkdwn(text), **kwargs)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        if len(buttons) > MAX_BUTTONS:
            logger.warning(
                f"Slack shows at most {MAX_BUTTONS} buttons; sending the first {MAX_BUTTONS} of {len(buttons)}."
            )
        text = to_mrkdwn(text)
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": str(b["title"])[:MAX_BUTTON_TITLE]},
                        "value": b["payload"],
                    }
                    for b in buttons[:MAX_BUTTONS]
                ],
            },
        ]
        await self._post_message(channel=self.slack_channel or recipient_id, text=text, blocks=blocks)


class SlackEvents:
    """Which Slack events were seen, answered or are being answered, shared by every Rasa process
    through the tracker store's database (a `slack_events` table next to Rasa's `events`).
    Without an SQL tracker store it falls back to this process's memory."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._table: Any = None
        self._memory: Dict[str, List[Any]] = {}  # event id -> [claimed at, answered]
        self._claims = 0

    def bind(self, tracker_store: Any) -> None:
        """Use the database of `tracker_store` (Rasa wraps it in a FailSafeTrackerStore)."""
        store = getattr(tracker_store, "_tracker_store", tracker_store)
        engine = getattr(store, "engine", None)
        if engine is None or self._engine is engine:
            return
        import sqlalchemy as sa

        table = sa.Table(
            "slack_events",
            sa.MetaData(),
            sa.Column("event_id", sa.String(255), primary_key=True),
            sa.Column("claimed_at", sa.Float, nullable=False),
            sa.Column("answered", sa.Boolean, nullable=False, default=False),
        )
        table.metadata.create_all(engine, checkfirst=True)
        self._engine, self._table = engine, table

    def claim(self, event_id: str, now: Optional[float] = None) -> bool:
        """True when this process should handle the event: new, or failed, or its claim is stale."""
        now = time.time() if now is None else now
        if self._engine is None:
            row = self._memory.get(event_id)
            if row is not None and (row[1] or row[0] > now - CLAIM_SECONDS):
                return False
            self._memory[event_id] = [now, False]
            return True
        import sqlalchemy as sa

        t = self._table
        with self._engine.begin() as conn:
            self._claims += 1
            if self._claims % 100 == 1:  # seen events are kept a day, then forgotten
                conn.execute(t.delete().where(t.c.claimed_at < now - 86400))
            try:
                with conn.begin_nested():
                    conn.execute(t.insert().values(event_id=event_id, claimed_at=now, answered=False))
                return True
            except sa.exc.IntegrityError:
                stale = sa.and_(t.c.event_id == event_id, t.c.answered.is_(False), t.c.claimed_at < now - CLAIM_SECONDS)
                return conn.execute(t.update().where(stale).values(claimed_at=now)).rowcount == 1

    def finish(self, event_id: str, answered: bool) -> None:
        """Mark the event answered, or release its claim so that Slack's next retry goes through."""
        if self._engine is None:
            self._memory[event_id] = [time.time() if answered else 0.0, answered]
            return
        t = self._table
        with self._engine.begin() as conn:
            values = {"answered": True} if answered else {"claimed_at": 0.0}
            conn.execute(t.update().where(t.c.event_id == event_id).values(**values))


def _event_id(request: Request) -> Optional[str]:
    if request.headers.get("content-type") != "application/json":
        return None
    body = request.json
    event_id = body.get("event_id") if isinstance(body, dict) else None
    return event_id if isinstance(event_id, str) and 0 < len(event_id) <= 255 else None


class RedactedSlackTurns(SlackInput):
    """Log redaction (extensions/redaction.py) for Slack messages: every log record made while
    one is handled has its text and conversation id replaced, as the REST channel does. Rasa
    answers in a task created inside `process_message`, which copies this context, so the
    answer's records (an action's failure, a database error) are redacted too; an error that
    ends that task is logged there, inside the turn (asyncio would log it later, outside any
    turn, as "Task exception was never retrieved", with the text)."""

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        sender_id: str | None,
        metadata: Dict | None,
    ) -> Any:
        async def handle(message: UserMessage) -> Any:
            try:
                return await on_new_message(message)
            except Exception:
                logger.exception("Handling a Slack message failed; sent the safe reply.")
                try:  # never silence: the safe reply, or emergency care for an emergency report
                    said = emergency_reply(text or "") or SAFE_REPLY  # SAFE_REPLY names the emergency number
                    await message.output_channel.send_text_message(message.sender_id or "", said)
                except Exception as e:  # Slack itself unreachable: nothing more can be done
                    logger.error("Could not send the safe reply to Slack (%s).", type(e).__name__)

        token = redaction.TURN.set(redaction.Turn(text or "", sender_id))
        try:
            return await super().process_message(request, handle, text, sender_id, metadata)
        finally:
            redaction.TURN.reset(token)


class EnvSlackInput(RedactedSlackTurns):
    """Rasa's SlackInput, configured from SLACK_* environment variables."""

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> InputChannel:
        if credentials:
            logger.warning(
                "extensions.channels.slack.EnvSlackInput reads its settings from SLACK_* environment variables; "
                f"the values under it in credentials.yml are ignored: {sorted(credentials)}."
            )
        return cls.from_env(None)

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> InputChannel:
        """The Slack channel, or a stand-in answering 503 when the required variables are unset."""
        missing = [name for name in REQUIRED_ENV if not settings.raw(name, env)]
        if missing:
            logger.warning(f"Slack channel disabled: {', '.join(missing)} not set. The other channels work.")
            return SlackNotConfigured(missing)
        granularity = (settings.raw("SLACK_CONVERSATION_GRANULARITY", env) or "sender").lower()
        if granularity not in GRANULARITIES:
            logger.warning(
                f"SLACK_CONVERSATION_GRANULARITY={granularity!r} is not one of {GRANULARITIES}; using sender."
            )
            granularity = "sender"
        channel = cls(
            slack_token=settings.raw("SLACK_BOT_TOKEN", env),
            slack_channel=settings.raw("SLACK_CHANNEL", env),
            slack_retry_reason_header=RETRY_REASON_HEADER,
            slack_retry_number_header=RETRY_NUM_HEADER,
            use_threads=_env_flag(env, "SLACK_USE_THREADS", True),
            slack_signing_secret=settings.raw("SLACK_SIGNING_SECRET", env),
            conversation_granularity=granularity,
            api_url=settings.raw("SLACK_API_URL", env),
        )
        logger.info(
            f"Slack channel on /webhooks/slack/webhook (threads: {channel.use_threads}, "
            f"conversation per {granularity}, answers every message in: {channel.slack_channel or 'no channel'})."
        )
        return channel

    def __init__(self, *args: Any, api_url: str = DEFAULT_API_URL, **kwargs: Any) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.events = SlackEvents()
        self.limiter = RateLimiter()
        super().__init__(*args, **kwargs)
        # Rasa would drop retries by their reason (it turns an empty list into http_timeout);
        # here none is dropped for its reason: SlackEvents decides by the event id.
        self.errors_ignore_retry: List[str] = []

    def _get_conversation_id(self, sender_id: str | None, channel_id: str | None, thread_id: str | None) -> str | None:
        conversation = super()._get_conversation_id(sender_id, channel_id, thread_id)
        return conversation_id("slack", conversation) if conversation else conversation

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        sender_id: str | None,
        metadata: Dict | None,
    ) -> Any:
        """Each event is handled once (see the module docstring): a retry is dropped only when its
        event was answered or is being answered. Interactive payloads (button clicks) carry no
        event id and are handled as they come."""
        no_retry = response.text("", status=HTTPStatus.OK, headers={"X-Slack-No-Retry": "1"})
        event_id = _event_id(request)
        if event_id is not None:
            agent = getattr(request.app.ctx, "agent", None)
            try:
                self.events.bind(getattr(agent, "tracker_store", None))
                new = self.events.claim(event_id)
            except Exception as e:  # the database is down: handle it (a duplicate beats silence)
                logger.error("Could not record a Slack event (%s); handling it anyway.", type(e).__name__)
                event_id, new = None, True
            if not new:
                logger.info(
                    "Dropped Slack retry #%s (%s): its event was already answered or is being answered.",
                    request.headers.get(self.retry_num_header),
                    request.headers.get(self.retry_reason_header),
                )
                return no_retry
        refused = None
        if too_long(text):
            refused = TOO_LONG.format(limit=settings.get("MAX_MESSAGE_CHARS"))
        elif sender_id and self.limiter.retry_after(sender_id) is not None:  # RATE_LIMIT, as on REST
            refused = RATE_LIMITED
        if refused is not None:  # acknowledged now; the reply goes out after (Slack waits 3 s at most)
            out = self.get_output_channel((metadata or {}).get("out_channel"), (metadata or {}).get("thread_id"))
            self._post_later(out, sender_id or "", refusal(text, refused), event_id)
            return no_retry
        if event_id is None:
            return await super().process_message(request, on_new_message, text, sender_id, metadata)

        async def handle(message: UserMessage) -> Any:
            try:
                result = await on_new_message(message)
            except BaseException:
                self.events.finish(event_id, answered=False)
                raise
            self.events.finish(event_id, answered=True)
            return result

        return await super().process_message(request, handle, text, sender_id, metadata)

    def _post_later(self, out: OutputChannel, recipient: str, lines: List[str], event_id: Optional[str]) -> None:
        async def post() -> None:
            try:
                for line in lines:
                    await out.send_text_message(recipient, line)
            except Exception as e:
                logger.error("Could not post a reply to Slack (%s).", type(e).__name__)
            if event_id is not None:
                self.events.finish(event_id, answered=True)

        task = asyncio.ensure_future(post())
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)

    def _is_supported_channel(self, slack_event: Dict, metadata: Dict) -> bool:
        # In SLACK_CHANNEL every message arrives as a `message` event, so an @mention there,
        # which Slack also sends as `app_mention`, would be answered twice: skip the mention.
        if self.slack_channel and self._is_app_mention(slack_event) and metadata["out_channel"] == self.slack_channel:
            return False
        return super()._is_supported_channel(slack_event, metadata)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = super().blueprint(on_new_message)

        @slack_webhook.on_request
        async def only_json_objects(request: Request) -> HTTPResponse | None:
            # Rasa reads a signed JSON body with `.get`: a list or a string raised a 500.
            if request.method != "POST" or request.headers.get("content-type") != "application/json":
                return None
            try:
                body = request.json
            except Exception:  # not JSON at all: Sanic's own 400
                return response.text("The request body is not valid JSON.", status=HTTPStatus.BAD_REQUEST)
            if not isinstance(body, dict) and self.is_request_from_slack_authentic(request):
                return response.text("The event must be a JSON object.", status=HTTPStatus.BAD_REQUEST)
            return None

        @slack_webhook.on_response
        async def challenge_as_plain_text(request: Request, reply: HTTPResponse) -> HTTPResponse | None:
            # Runs after Rasa verified the signature and answered 200 to a url_verification.
            if request.method != "POST" or reply.status != HTTPStatus.OK:
                return None
            if request.headers.get("content-type") != "application/json":
                return None
            event = request.json
            if isinstance(event, dict) and event.get("type") == "url_verification":
                return response.text(str(event.get("challenge", "")))
            return None

        return slack_webhook

    def get_output_channel(self, channel: str | None = None, thread_id: str | None = None) -> OutputChannel:
        return EnvSlackBot(self.slack_token, channel or self.slack_channel, thread_id, self.proxy, self.api_url)


class SlackNotConfigured(InputChannel):
    """Takes Slack's place when SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is unset: the
    assistant starts, and the Slack webhook says clearly that Slack is not configured."""

    def __init__(self, missing: List[str]) -> None:
        self.missing = list(missing)

    @classmethod
    def name(cls) -> str:
        return "slack"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = Blueprint("slack_webhook")
        detail = f"{NOT_CONFIGURED} Missing: {', '.join(self.missing)}."

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json(
                {"status": "not configured", "missing": self.missing}, status=HTTPStatus.SERVICE_UNAVAILABLE
            )

        @slack_webhook.route("/webhook", methods=["GET", "POST"])
        async def webhook(_: Request) -> HTTPResponse:
            return response.text(detail, status=HTTPStatus.SERVICE_UNAVAILABLE)

        return slack_webhook
