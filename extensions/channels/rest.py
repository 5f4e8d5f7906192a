"""The REST channel, hardened. Listed in credentials.yml as `extensions.channels.rest.SafeRestInput:`.

Its name is still "rest", so the URL stays /webhooks/rest/webhook. Compared with Rasa's `RestInput`:

- Bad requests get a 4xx JSON answer and never reach Rasa: a Content-Type other than
  application/json -> 415 (a page on another site can make a browser post text/plain without a
  CORS preflight); a body over REST_MAX_BODY_BYTES -> 413; invalid UTF-8, malformed JSON, not a
  JSON object, a missing or non-string "message", a missing "sender" or one that is not a string
  of 1-250 characters, metadata that is not an object -> 400; a message over MAX_MESSAGE_CHARS
  (every channel's one limit) -> 413. Each answer is {"error": <code>, "message": <sentence>}.
- The sender id is the conversation's bearer secret (the widget makes a random one per visitor).
  Conversations are stored as "rest:<sender>", so no REST client can name a Slack user's.
- Limits: RATE_LIMIT messages per conversation (429 with Retry-After; shared through Redis in a
  cluster); at most MAX_PENDING_TURNS turns in progress per process, hung-up clients' included
  (503 with Retry-After beyond that).
- Never silence, never a 500: if a custom action fails (action server down, hung past
  ACTION_TIMEOUT, or crashing), if processing raises (for example a lock error), if no reply
  is ready within REST_REPLY_TIMEOUT seconds (30), or if the assistant would say nothing, the
  reply ends with SAFE_REPLY. A message still being processed when the reply times out, or
  when the client hangs up, is finished in the background and stored as usual.
- Exactly once behind a retrying load balancer: an X-Request-ID header becomes the message's
  id; the same message with an id already in the conversation is answered again from the
  tracker rather than processed twice, decided under a lock (see `_replay`).
- Privacy: while a REST message is being handled, log records have its text and sender id
  redacted (extensions/redaction.py, installed by the launcher, scripts/rasa_server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from b12 import settings
from b12.answering import SAFE_REPLY
from extensions import redaction
from extensions.channels import (
    RATE_LIMITED,
    RateLimiter,
    conversation_id,
    emergency_reply,
    refusal,
    sender_of,
    too_long,
)

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 255  # rasa.core.tracker_store.SQLTrackerStore.SQLEvent.sender_id is String(255)
CHANNEL = "rest"  # conversation ids are "rest:<sender>" (extensions/channels/__init__.py)
BUSY = "The assistant is busy right now. Please try again in a moment."
# X-Request-ID (set by the load balancer; the same on its retries) becomes the message's id.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def _refusal(status: int, code: Text, said: List[Text], retry_after: int) -> HTTPResponse:
    """A message that is not processed: the code and Retry-After for the client, and in "message"
    what `refusal()` tells the patient (the emergency message, if the message reports one)."""
    return response.json(
        {"error": code, "message": " ".join(said)}, status=status, headers={"Retry-After": str(retry_after)}
    )


class BadRequestError(Exception):
    def __init__(self, status: int, code: Text, message: Text, text: Optional[Text] = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.text = text  # the patient's message, when it was readable (too long, for example)

    def response(self) -> HTTPResponse:
        return response.json({"error": self.code, "message": self.message}, status=self.status)


def check_content_type(content_type: Optional[Text]) -> None:
    """Only JSON. A page on any website can make a visitor's browser post `text/plain` here
    without a CORS preflight; refusing every other type makes the browser ask first."""
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        raise BadRequestError(415, "unsupported_media_type", "Send the message as JSON (application/json).")


def parse_body(body: bytes) -> Tuple[Text, Text, Optional[Dict[Text, Any]], Optional[Text]]:
    """Validate a webhook body: (sender, message, metadata, input_channel) or BadRequestError."""
    max_body = settings.get("REST_MAX_BODY_BYTES")
    if len(body) > max_body:
        raise BadRequestError(413, "body_too_large", f"The request body is larger than {max_body} bytes.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError(400, "invalid_utf8", "The request body is not valid UTF-8.") from None
    try:
        payload = json.loads(text)
    except ValueError:
        raise BadRequestError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise BadRequestError(
            400, "invalid_body", 'The request body must be a JSON object: {"sender": ..., "message": ...}.'
        )

    message = payload.get("message")
    if message is None:
        raise BadRequestError(400, "missing_message", 'The field "message" is required.')
    if not isinstance(message, str):
        raise BadRequestError(400, "invalid_message", 'The field "message" must be a string.')
    if too_long(message):
        limit = settings.get("MAX_MESSAGE_CHARS")
        raise BadRequestError(413, "message_too_long", f"The message is longer than {limit} characters.", text=message)

    sender = payload.get("sender")
    if sender is None:
        # Without one, every such message would share Rasa's one "default" conversation.
        raise BadRequestError(400, "missing_sender", 'The field "sender" is required: a random id kept per visitor.')
    if (
        not isinstance(sender, str)
        or not 1 <= len(sender) <= MAX_SENDER_CHARS - len(CHANNEL) - 1
        or not sender.isprintable()  # no NUL or control characters: PostgreSQL refuses NUL
    ):
        raise BadRequestError(
            400,
            "invalid_sender",
            f'The field "sender" must be 1 to {MAX_SENDER_CHARS - len(CHANNEL) - 1} printable characters.',
        )

    for field, value in (("message", message), ("sender", sender)):
        try:
            (value or "").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
            raise BadRequestError(400, f"invalid_{field}", f'The field "{field}" is not valid Unicode text.') from None

    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequestError(400, "invalid_metadata", 'The field "metadata" must be a JSON object.')
    input_channel = payload.get("input_channel")
    if input_channel is not None and not isinstance(input_channel, str):
        raise BadRequestError(400, "invalid_input_channel", 'The field "input_channel" must be a string.')
    return sender, message, metadata, input_channel


def _for_client(message: Dict[Text, Any]) -> Dict[Text, Any]:
    """A reply as the client sent it: its own sender id, not the namespaced conversation id."""
    if isinstance(message.get("recipient_id"), str):
        return {**message, "recipient_id": sender_of(CHANNEL, message["recipient_id"])}
    return message


class SourcedOutputChannel(CollectingOutputChannel):
    """Rasa's REST rendering of a reply, plus `source` on the last part of a message that quotes
    the knowledge (b12/answering.py source_facts: the widget's Source disclosure)."""

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, text, **kwargs)
        source = kwargs.get("source")
        if isinstance(source, dict) and self.messages:
            self.messages[-1]["source"] = source


class Pending:
    """How many turns this process is working on, hung-up clients' included (MAX_PENDING_TURNS)."""

    count = 0

    @classmethod
    def full(cls) -> bool:
        return cls.count >= settings.get("MAX_PENDING_TURNS")

    @classmethod
    def track(cls, task: "asyncio.Future[Any]") -> None:
        cls.count += 1
        task.add_done_callback(lambda _: setattr(cls, "count", cls.count - 1))


async def _close_quietly(held: contextlib.AsyncExitStack) -> None:
    """Release what a turn held; a lock store that fails here must not fail the reply."""
    try:
        await held.aclose()
    except Exception as e:  # noqa: BLE001 - the lock expires by itself
        logger.error("Could not release a conversation lock (%s).", type(e).__name__)


def _consume_result(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("A message finished processing after its reply was sent, with an error: %r", task.exception())


class SafeRestInput(RestInput):
    """Rasa's REST channel with input validation and a safe reply instead of silence."""

    def __init__(self) -> None:
        super().__init__()
        self.limiter = RateLimiter()
        # The launcher installs it; a plain `rasa run` builds this channel too, and the hook is
        # also how a failed custom action is noticed (and answered with SAFE_REPLY).
        redaction.install()

    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _process(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        sender: Optional[Text],
        text: Text,
        metadata: Optional[Dict[Text, Any]],
        input_channel: Text,
        message_id: Optional[Text] = None,
        on_task: Optional[Callable[["asyncio.Future[Any]"], None]] = None,
    ) -> List[Dict[Text, Any]]:
        """Handle one message; return what to send back, ending with SAFE_REPLY on any failure.
        `on_task` is given the processing task as soon as it exists."""
        collector = SourcedOutputChannel()
        message = UserMessage(
            text, collector, sender, input_channel=input_channel, metadata=metadata, message_id=message_id
        )
        turn = redaction.Turn(text, message.sender_id)
        token = redaction.TURN.set(turn)
        failed = False
        reply_timeout = settings.get("REST_REPLY_TIMEOUT")
        try:
            task = asyncio.ensure_future(on_new_message(message))  # copies the context: sees `turn`
            Pending.track(task)
            if on_task is not None:
                on_task(task)
            try:
                await asyncio.wait_for(asyncio.shield(task), reply_timeout)
            except asyncio.TimeoutError:
                failed = True
                task.add_done_callback(_consume_result)
                logger.error("No reply within %ss; sent the safe reply. Processing goes on.", reply_timeout)
            except asyncio.CancelledError:
                task.add_done_callback(_consume_result)  # the client hung up; finish the turn anyway
                raise
            except Exception:
                failed = True
                logger.exception("Processing a message failed; sent the safe reply.")
            messages = list(collector.messages)
            if failed or turn.action_failed or not messages:
                messages.append({"recipient_id": message.sender_id, "text": SAFE_REPLY})
            return [_for_client(m) for m in messages]
        finally:
            redaction.TURN.reset(token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        module = inspect.getmodule(self)
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", module.__name__ if module else None)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            from extensions.fixes import STORE_FAILURES

            return response.json({"status": "ok", "store_failures": dict(STORE_FAILURES), "pending": Pending.count})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                check_content_type(request.headers.get("content-type"))
                sender, text, metadata, _ = parse_body(request.body or b"")  # its input_channel is ignored
            except BadRequestError as bad:
                logger.info("Rejected a webhook request: %s", bad.code)
                urgent = emergency_reply(bad.text) if bad.text else None
                if urgent is not None:  # too long, but it reports an emergency: care first
                    return response.json([{"text": urgent}])
                return bad.response()
            channel = self.name()  # a client's "input_channel" never names another channel
            conversation = conversation_id(CHANNEL, sender)

            wait = self.limiter.retry_after(conversation)
            over = (429, "rate_limited", RATE_LIMITED, wait) if wait is not None else None
            if over is not None:
                logger.info("Rate limited a conversation for %ss.", wait)
            if over is None and Pending.full():
                logger.error("Refused a message: %d turns are already in progress.", Pending.count)
                over = (503, "busy", BUSY, 5)
            if over is not None:
                urgent = emergency_reply(text)
                if urgent is not None:  # not processed, but someone reporting an emergency gets care first
                    logger.info("Answered an emergency report that was over a limit, without processing it.")
                    return response.json([{"recipient_id": sender, "text": urgent}])
                status, code, message, retry_after = over
                return _refusal(status, code, refusal(text, message), retry_after)

            message_id = request.headers.get("x-request-id")
            if message_id is not None and not REQUEST_ID.fullmatch(message_id):
                message_id = None
            held = contextlib.AsyncExitStack()
            try:
                await held.enter_async_context(self._replay_lock(request, conversation, message_id))
            except Exception as e:  # the lock store (Redis) is down: never a 500
                logger.error("The conversation lock is unavailable (%s); sent the safe reply.", type(e).__name__)
                return response.json([{"recipient_id": sender, "text": emergency_reply(text) or SAFE_REPLY}])
            handed_over = False
            try:
                if message_id:
                    events = await self._events(request, conversation)  # one read for both questions
                    replay = await self._replay(events, conversation, message_id, text)
                    if replay is not None:
                        return response.json(replay)
                    if any(isinstance(e, UserUttered) and e.message_id == message_id for e in events):
                        message_id = None  # the id names another message: this one is new

                def release_when_done(task: "asyncio.Future[Any]") -> None:
                    # The lock is held until the turn ends, even past a reply timeout or a client
                    # that hung up: a retry of the same message waits for it, then is replayed.
                    nonlocal handed_over
                    handed_over = True
                    task.add_done_callback(lambda _: asyncio.ensure_future(_close_quietly(held)))

                messages = await self._process(
                    on_new_message, conversation, text, metadata, channel, message_id, release_when_done
                )
            finally:
                if not handed_over:
                    await _close_quietly(held)
            if self._wants_stream(request):

                async def stream(resp: Any) -> None:
                    for m in messages:
                        await resp.write(json.dumps(m) + "\n")

                return response.stream(stream, content_type="text/event-stream")
            return response.json(messages)

        return webhook

    @staticmethod
    async def _events(request: Request, conversation: Text) -> List[Any]:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return []
        try:
            tracker = await agent.tracker_store.retrieve(conversation)
        except Exception:
            return []
        return list(tracker.events) if tracker is not None else []

    @staticmethod
    def _replay_lock(request: Request, conversation: Text, message_id: Optional[Text]) -> Any:
        """The replay is decided, and the message processed, under a lock of the conversation's
        own (Rasa's lock store: across processes when it is Redis), so a duplicate that arrives
        while the first attempt is still running waits for it and is then replayed. Its key is
        not the conversation's, which Rasa's processor takes inside."""
        agent = getattr(request.app.ctx, "agent", None)
        if not message_id or agent is None or getattr(agent, "lock_store", None) is None:
            return contextlib.nullcontext()
        return agent.lock_store.lock(f"replay:{conversation}")

    @staticmethod
    async def _replay(
        events: List[Any], conversation: Text, message_id: Text, text: Text
    ) -> Optional[List[Dict[Text, Any]]]:
        """The replies already given to this message of this conversation, or None if it is new.

        A load balancer retries a message on another Rasa process when the first one dies
        with it (nginx in scripts/cluster.sh: `proxy_next_upstream error non_idempotent`,
        same X-Request-ID). If the dead process had already stored that turn, the turn is
        answered again from the tracker instead of being processed (and stored) twice. The
        message must be the same: a client that reuses an id for a new message gets it answered."""
        asked = [
            i
            for i, e in enumerate(events)
            if isinstance(e, UserUttered) and e.message_id == message_id and e.text == text
        ]
        if not asked:
            return None
        collector = SourcedOutputChannel()  # Rasa's own rendering of a bot message
        for event in events[asked[0] + 1 :]:
            if isinstance(event, UserUttered):
                break
            if isinstance(event, BotUttered):
                source = (event.metadata or {}).get("source")
                extra = {"source": source} if source else {}
                await collector.send_response(conversation, {"text": event.text, **(event.data or {}), **extra})
        logger.info("A retried message was already answered; replayed %d replies.", len(collector.messages))
        return [_for_client(m) for m in collector.messages or [{"recipient_id": conversation, "text": SAFE_REPLY}]]

    @staticmethod
    def _wants_stream(request: Request) -> bool:
        return str(request.args.get("stream", "false")).lower() == "true"
