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
- retries: every Slack retry (X-Slack-Retry-Num) is acknowledged and dropped, whatever its
  reason; Rasa's default drops only `http_timeout` retries and answers the others again.
  Rasa acknowledges an event before it answers, so a retry means Slack did not see that
  acknowledgement in time, not that the message went unanswered;
- the url_verification challenge is echoed as text/plain, the form Slack documents
  (Rasa answers with a JSON-encoded string);
- output: text is escaped and converted to Slack mrkdwn, at most 5 buttons are sent (Rasa
  drops all buttons when there are more), the legacy `as_user` argument is not sent, and
  rate-limited posts are retried so that the caveat, always the last message, is not lost.
"""

from __future__ import annotations

import logging
import os
import re
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Mapping

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

from extensions import redaction

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
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

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def to_mrkdwn(text: str) -> str:
    """Text as Slack mrkdwn: `&`, `<` and `>` escaped (Slack requires it), Markdown
    **bold** as *bold* and [title](url) as <url|title>."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)
    return re.sub(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", text)


def _env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
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
                logger.exception("Handling a Slack message failed.")

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
        return cls.from_env(os.environ)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InputChannel:
        """The Slack channel, or a stand-in answering 503 when the required variables are unset."""
        missing = [name for name in REQUIRED_ENV if not env.get(name, "").strip()]
        if missing:
            logger.warning(f"Slack channel disabled: {', '.join(missing)} not set. The other channels work.")
            return SlackNotConfigured(missing)
        granularity = env.get("SLACK_CONVERSATION_GRANULARITY", "").strip().lower() or "sender"
        if granularity not in GRANULARITIES:
            logger.warning(
                f"SLACK_CONVERSATION_GRANULARITY={granularity!r} is not one of {GRANULARITIES}; using sender."
            )
            granularity = "sender"
        channel = cls(
            slack_token=env["SLACK_BOT_TOKEN"].strip(),
            slack_channel=env.get("SLACK_CHANNEL", "").strip() or None,
            slack_retry_reason_header=RETRY_REASON_HEADER,
            slack_retry_number_header=RETRY_NUM_HEADER,
            errors_ignore_retry=list(SLACK_RETRY_REASONS),
            use_threads=_env_flag(env, "SLACK_USE_THREADS", True),
            slack_signing_secret=env["SLACK_SIGNING_SECRET"].strip(),
            conversation_granularity=granularity,
            api_url=env.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL,
        )
        logger.info(
            f"Slack channel on /webhooks/slack/webhook (threads: {channel.use_threads}, "
            f"conversation per {granularity}, answers every message in: {channel.slack_channel or 'no channel'})."
        )
        return channel

    def __init__(self, *args: Any, api_url: str = DEFAULT_API_URL, **kwargs: Any) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        super().__init__(*args, **kwargs)

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        sender_id: str | None,
        metadata: Dict | None,
    ) -> Any:
        """Rasa drops the retries whose reason is in `errors_ignore_retry` (here: every
        documented reason). A retry with a missing or new reason is dropped the same way."""
        retry_count = request.headers.get(self.retry_num_header)
        retry_reason = request.headers.get(self.retry_reason_header)
        if retry_count and retry_reason not in self.errors_ignore_retry:
            logger.warning(f"Ignoring retry #{retry_count} from Slack (reason: {retry_reason}).")
            return response.text("", status=HTTPStatus.CREATED, headers={"X-Slack-No-Retry": "1"})
        return await super().process_message(request, on_new_message, text, sender_id, metadata)

    def _is_supported_channel(self, slack_event: Dict, metadata: Dict) -> bool:
        # In SLACK_CHANNEL every message arrives as a `message` event, so an @mention there,
        # which Slack also sends as `app_mention`, would be answered twice: skip the mention.
        if self.slack_channel and self._is_app_mention(slack_event) and metadata["out_channel"] == self.slack_channel:
            return False
        return super()._is_supported_channel(slack_event, metadata)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = super().blueprint(on_new_message)

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
