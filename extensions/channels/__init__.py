"""The input channels Rasa loads by module path (credentials.yml), and what every channel shares:
conversation ids namespaced by channel, one message-length limit, and per-sender rate limits."""

from __future__ import annotations

import logging
import math
import time
from typing import Any, List, Optional, Text

from b12 import settings

logger = logging.getLogger(__name__)


RATE_LIMITED = "You are sending messages very fast. Please wait a moment, then try again."


def conversation_id(channel: Text, sender: Text) -> Text:
    """The tracker store's key for `sender` on `channel`. A Slack user id is visible to the whole
    workspace, so it must never name a REST conversation: ids are namespaced by channel."""
    return f"{channel}:{sender}"


def sender_of(channel: Text, conversation: Text) -> Text:
    """The channel's own sender id back from a conversation id."""
    prefix = f"{channel}:"
    return conversation[len(prefix) :] if conversation.startswith(prefix) else conversation


def emergency_reply(text: Text) -> Optional[Text]:
    """The emergency message when `text` reports an emergency, else None: the one matcher
    (b12/safety.py), which is cheap and needs no model, so a channel can ask it even for a
    message it will not process."""
    from b12.crisis import crisis_lines
    from b12.safety import emergency_category

    category = emergency_category(text[: settings.get("MAX_MESSAGE_CHARS")])
    return crisis_lines().reply(category) if category is not None else None


def refusal(text: Text, message: Text) -> List[Text]:
    """What a channel says when it will not process a message (too fast, too long, too busy,
    the assistant failing): someone reporting an emergency still gets the emergency message,
    and nothing else; anyone else gets `message` and the line on what to do in an emergency."""
    from b12.crisis import crisis_lines

    urgent = emergency_reply(text)
    return [urgent] if urgent is not None else [message, crisis_lines().if_now(None)]


def check_rate_limit() -> None:
    """RATE_LIMIT is readable (the launcher calls it; a typo must not switch the limit off)."""
    from limits import parse

    try:
        parse(settings.get("RATE_LIMIT"))
    except ValueError:
        raise settings.SettingError(
            f"RATE_LIMIT={settings.raw('RATE_LIMIT')!r}: expected a rate such as 30/minute"
        ) from None


def too_long(text: Text) -> bool:
    """One message-length limit for every channel (MAX_MESSAGE_CHARS)."""
    return len(text) > settings.get("MAX_MESSAGE_CHARS")


class _MemoryWindows:
    """Fixed windows counted in this process, without threads: a window starts at a key's
    first message; expired ones are dropped whenever the table has doubled since the last
    sweep, so invented ids cannot pile up (each sweep is linear in the table, amortised O(1))."""

    def __init__(self) -> None:
        self._windows: dict = {}  # key -> [window end, count]
        self._sweep_at = 1024

    def hit(self, key: Text, amount: int, seconds: float, now: float) -> Optional[int]:
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            window = self._windows[key] = [now + seconds, 0]
        window[1] += 1
        if len(self._windows) >= self._sweep_at:
            self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
            self._sweep_at = max(1024, 2 * len(self._windows))
        return None if window[1] <= amount else max(1, math.ceil(window[0] - now))


class RateLimiter:
    """Per-conversation limit on messages (RATE_LIMIT, e.g. "30/minute", parsed by the `limits`
    library): fixed windows counted in this process's memory, or with `limits` in Redis when
    REDIS_HOST is set, so that every Rasa process counts the same messages (with socket timeouts:
    a Redis that hangs never holds up the event loop for long). An unreachable Redis lets the
    message through (a limit must never stop an emergency report) and is logged. The launcher
    refuses a RATE_LIMIT it cannot read."""

    def __init__(self) -> None:
        self._limiter: Any = None
        self._item: Any = None
        self._memory: Optional[_MemoryWindows] = None

    def _setup(self) -> None:
        from limits import parse, storage, strategies

        self._item = parse(settings.get("RATE_LIMIT"))
        host = settings.raw("REDIS_HOST")
        if not host:
            self._memory = _MemoryWindows()
            return
        url = f"redis://{host}:{settings.get('REDIS_PORT')}/{settings.get('REDIS_DB')}"
        options = {"socket_timeout": 2, "socket_connect_timeout": 2}
        if settings.raw("REDIS_PASSWORD"):
            options["password"] = settings.raw("REDIS_PASSWORD")  # never in the URL: any character works
        self._limiter = strategies.FixedWindowRateLimiter(storage.RedisStorage(url, **options))

    def retry_after(self, key: Text) -> Optional[int]:
        """None when a message for `key` may go ahead (and counts it); else seconds to wait."""
        try:
            if self._item is None:
                self._setup()
            if self._memory is not None:
                return self._memory.hit(key, self._item.amount, self._item.get_expiry(), time.time())
            if self._limiter.hit(self._item, "msg", key):
                return None
            reset, _ = self._limiter.get_window_stats(self._item, "msg", key)
            return max(1, math.ceil(reset - time.time()))
        except Exception as e:  # noqa: BLE001 - see the class docstring
            logger.error("The rate limiter failed (%s); the message goes ahead.", type(e).__name__)
            return None
