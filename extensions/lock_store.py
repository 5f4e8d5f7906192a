"""Rasa's RedisLockStore with atomic ticket operations, for more than one Rasa process.

endpoints.yml (extensions/endpoints.py writes it when REDIS_HOST is set):

    lock_store:
      type: extensions.lock_store.AtomicRedisLockStore
      url: <redis host>
      port: 6379
      db: 1
      password: ${REDIS_PASSWORD}

Why: Rasa 3.6's RedisLockStore changes a conversation's ticket lock with a plain GET, then a
SET (`issue_ticket`, `finish_serving`, `update_lock`) and deletes it after a separate check
(`cleanup`). Two Rasa processes receiving messages of one conversation at the same moment can
both read the same lock, both take the same ticket number, and then process the conversation
at the same time; SQLTrackerStore.save then stores only part of their events (it appends the
events past the count already stored). Measured with 10 simultaneous messages of one sender
through nginx to two processes: 2 of the 10 turns were missing from the tracker.

This subclass does each of those read-modify-write steps in one Redis transaction
(WATCH/MULTI/EXEC, retried on conflict) and deletes a lock in the same transaction that
removes its last ticket. Keys, key prefix, the stored JSON and the ticket order are Rasa's own.
Three further changes:
- the message being served renews its ticket every third of the lock lifetime while its turn
  runs, so a turn longer than TICKET_LOCK_LIFETIME (a slow action server, a reply that times
  out at 30 s and goes on in the background) never lets the next message of the same
  conversation run alongside it; only a dead process's lock expires;
- a waiting message renews its own ticket at each poll, so the lock lifetime
  (TICKET_LOCK_LIFETIME) bounds the processing of one message, not the time spent queueing;
  only the tickets of dead processes expire (Rasa lets a queued ticket expire with the lock
  of a killed process, and that message then fails with a LockError);
- the queue is polled every LOCK_POLL_SECONDS (0.2) rather than every second.
Each lock key also gets an expiry a minute past its last ticket's, so a lock left by a killed
process does not stay in Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from b12 import settings

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 200
# How often a waiting message checks whether its turn has come (Rasa polls once a second).


class AtomicRedisLockStore(RedisLockStore):
    """RedisLockStore whose ticket changes are atomic across processes."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # created from endpoints.yml by its module path
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self._lifetimes: dict = {}  # (conversation id, ticket) -> lock lifetime, for waiting tickets

    @asynccontextmanager
    async def lock(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncIterator[TicketLock]:
        """Rasa's lock, with the served ticket kept alive until the turn ends."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            lock = await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
            keeper = asyncio.ensure_future(self._keep_alive(conversation_id, ticket, lock_lifetime))
            try:
                yield lock
            finally:
                keeper.cancel()
        finally:
            self.cleanup(conversation_id, ticket)

    async def _keep_alive(self, conversation_id: Text, ticket: int, lifetime: float) -> None:
        """Renew the served ticket every third of its lifetime, for at most LOCK_MAX_HOLD_SECONDS:
        a turn stuck for good must not hold its conversation for good."""
        until = time.monotonic() + settings.get("LOCK_MAX_HOLD_SECONDS")
        while True:
            await asyncio.sleep(max(0.05, lifetime / 3))
            if time.monotonic() > until:
                logger.error("A turn held its conversation's lock past LOCK_MAX_HOLD_SECONDS; no longer renewed.")
                return
            try:
                if not self._renew(conversation_id, ticket, lifetime):
                    logger.error("A served lock ticket was gone before its turn ended.")
                    return
            except Exception as e:  # noqa: BLE001 - Redis down: the next renewal tries again
                logger.error("Could not renew a lock ticket (%s).", type(e).__name__)

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        """Rasa's loop, except that a ticket which is waiting stays alive while it waits.

        In Rasa a ticket's lifetime runs from when it is issued, waiting included, so a message
        queued behind a lock left by a killed process can expire together with that lock and
        fail with a LockError. Here each poll renews the waiting ticket (only a live process
        polls), so only tickets of dead processes expire, one lifetime after their last poll.
        The queue is also polled every LOCK_POLL_SECONDS rather than every second."""
        lifetime = self._lifetimes.get((conversation_id, ticket), LOCK_LIFETIME)
        poll = min(wait_time_in_seconds, settings.get("LOCK_POLL_SECONDS"))
        give_up = time.monotonic() + settings.get("LOCK_MAX_WAIT_SECONDS")
        while True:
            if time.monotonic() > give_up:  # the turn ahead is stuck: this message fails (safe reply)
                break
            lock = self.get_lock(conversation_id)
            if not lock:
                break
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(poll)
            if not self._renew(conversation_id, ticket, lifetime):
                break
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")

    def _renew(self, conversation_id: Text, ticket_number: int, lifetime: float) -> bool:
        """Drop expired tickets and extend this waiting ticket; False if it is gone."""

        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], bool]:
            if not lock:
                return lock, False
            lock.remove_expired_tickets()
            for ticket in lock.tickets:
                if ticket.number == ticket_number:
                    ticket.expires = time.time() + lifetime
                    return lock, True
            return lock, False

        return self._transact(conversation_id, change)

    def _transact(self, conversation_id: Text, change: Callable[[Optional[TicketLock]], Tuple[Any, Any]]) -> Any:
        """Apply `change(lock) -> (lock, result)` to the stored lock atomically; return result.

        A lock with no tickets left is deleted in the same transaction."""
        import redis

        key = self.key_prefix + conversation_id
        reconnects = 0
        with self.red.pipeline() as pipe:
            for _ in range(MAX_ATTEMPTS):
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    lock, result = change(lock)
                    pipe.multi()
                    if lock is None or not lock.tickets:
                        pipe.delete(key)
                    else:
                        last_expiry = max(ticket.expires for ticket in lock.tickets)
                        pipe.set(key, lock.dumps(), ex=max(1, math.ceil(last_expiry - time.time())) + 60)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another process changed this lock: read it again
                except (redis.ConnectionError, redis.TimeoutError):
                    # A pooled connection that died with a Redis restart fails once; the pool
                    # then drops it. Retry on a fresh connection before giving up.
                    pipe.reset()
                    reconnects += 1
                    if reconnects > 2:
                        raise
        raise LockError(f"Too much contention on the lock of conversation '{conversation_id}'.")

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)  # also drops expired tickets

        try:
            number = self._transact(conversation_id, change)
        except LockError:
            raise
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e
        self._lifetimes[(conversation_id, number)] = lock_lifetime
        return number

    def update_lock(self, conversation_id: Text) -> None:
        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_expired_tickets()
            return lock, None

        self._transact(conversation_id, change)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._transact(conversation_id, change)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        # finish_serving deletes the lock in the same transaction when no one else waits
        self._lifetimes.pop((conversation_id, ticket_number), None)
        self.finish_serving(conversation_id, ticket_number)
