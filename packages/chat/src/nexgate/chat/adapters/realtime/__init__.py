"""Realtime delivery over Redis: socket tickets, per-user pub/sub channels, typing, presence.

Nothing here is durable: tickets live 30 s, typing keys 6 s, presence 60 s. Notices are
fire-and-forget; the per-user event log in PostgreSQL is the truth (``userSeq`` gaps + sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

TICKET_TTL_S = 30
TYPING_TTL_S = 6
TYPING_LIMIT_MS = 1000
PRESENCE_TTL_S = 60


class SocketTickets:
    """Short-lived single-use tickets: browsers cannot set Authorization on a websocket."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int = TICKET_TTL_S) -> None:
        self._redis, self._prefix, self._ttl_s = redis, prefix, ttl_s

    def _key(self, ticket: str) -> str:
        return f"{self._prefix}chat:ws-ticket:{ticket}"

    async def issue(self, user_id: uuid.UUID, session_id: uuid.UUID, expires_at: float) -> str:
        """``expires_at``: the issuing token's expiry, which the socket inherits."""
        ticket = secrets.token_urlsafe(32)
        await self._redis.set(self._key(ticket), f"{user_id}:{session_id}:{expires_at}", ex=self._ttl_s)
        return ticket

    async def consume(self, ticket: str) -> tuple[uuid.UUID, uuid.UUID, float] | None:
        """(user id, session id, token expiry) of the ticket; None if unknown, expired or used."""
        if not ticket or len(ticket) > 128:
            return None
        raw = await self._redis.getdel(self._key(ticket))  # atomic: a ticket opens one socket
        if raw is None:
            return None
        user, session, expires_at = (raw.decode() if isinstance(raw, bytes) else str(raw)).split(":")
        return uuid.UUID(user), uuid.UUID(session), float(expires_at)


class RealtimeBus:
    """One Redis pub/sub channel per user; every api replica's sockets listen on theirs."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis, self._prefix = redis, prefix

    def channel(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}chat:user:{user_id}"

    async def publish(self, user_ids: Iterable[uuid.UUID], event: dict[str, Any]) -> None:
        payload = msgspec.json.encode(event)
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in dict.fromkeys(user_ids):
                pipe.publish(self.channel(user_id), payload)
            await pipe.execute()

    async def publish_events(self, appended: Iterable[tuple[uuid.UUID, int, str, object]]) -> None:
        """After the commit: one notice per (user, event), carrying the event itself."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, user_seq, type_, data in appended:
                frame = {"type": "event", "userSeq": user_seq, "event": type_, "data": data}
                pipe.publish(self.channel(user_id), msgspec.json.encode(frame))
            await pipe.execute()

    async def session_revoked(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """Control message: the user's sockets opened with this session close with 4401."""
        await self.publish([user_id], {"type": "session.revoked", "sessionId": str(session_id)})

    async def typing(self, user_id: uuid.UUID, conversation_id: uuid.UUID, *, start: bool) -> bool:
        """Sets (6 s TTL) or clears ``chat:typing:<conversation>:<user>``; False when over 1/s."""
        limit = f"{self._prefix}chat:typing-limit:{conversation_id}:{user_id}"
        if not await self._redis.set(limit, b"1", nx=True, px=TYPING_LIMIT_MS):
            return False
        key = f"{self._prefix}chat:typing:{conversation_id}:{user_id}"
        if start:
            await self._redis.set(key, b"1", ex=TYPING_TTL_S)
        else:
            await self._redis.delete(key)
        return True


class RealtimeHub:
    """One pub/sub connection per api process, subscribed to the users with local sockets.

    ``join`` returns once Redis confirmed the channel, so a notice published afterwards
    reaches the socket; the last local socket of a user unsubscribes the channel.
    """

    def __init__(self, bus: RealtimeBus, redis: Redis) -> None:
        self._bus, self._redis = bus, redis
        self._listeners: dict[str, set[Callable[[bytes], None]]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None

    async def join(self, user_id: uuid.UUID, deliver: Callable[[bytes], None]) -> None:
        channel = self._bus.channel(user_id)
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
            listeners = self._listeners.setdefault(channel, set())
            listeners.add(deliver)
            if len(listeners) > 1:
                return
            confirmed = self._confirmed[channel] = asyncio.Event()
            await self._pubsub.subscribe(channel)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(self._pubsub))
        try:
            await asyncio.wait_for(confirmed.wait(), 5.0)
        except TimeoutError:
            await self.leave(user_id, deliver)
            raise ConnectionError("Redis did not confirm the subscription") from None

    async def leave(self, user_id: uuid.UUID, deliver: Callable[[bytes], None]) -> None:
        channel = self._bus.channel(user_id)
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            listeners = self._listeners.get(channel, set())
            listeners.discard(deliver)
            if not listeners and channel in self._listeners:
                del self._listeners[channel]
                self._confirmed.pop(channel, None)
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self._pubsub.unsubscribe(channel), 2.0)

    async def aclose(self) -> None:
        """On app shutdown; bounded, so a stuck Redis connection cannot hold the process."""
        reader, pubsub = self._reader, self._pubsub
        self._reader = self._pubsub = None
        self._listeners.clear()
        if reader is not None:
            reader.cancel()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), 2.0)

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except Exception:  # a dropped connection: redis-py reconnects and resubscribes
                await asyncio.sleep(0.2)
                continue
            if message is None:
                continue
            channel = (
                message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            )
            if message["type"] == "subscribe":
                if (event := self._confirmed.get(channel)) is not None:
                    event.set()
            elif message["type"] == "message":
                for deliver in list(self._listeners.get(channel, ())):
                    deliver(message["data"])


class RedisPresence:
    """Online = at least one live socket: a sorted set per user of socket id -> expiry (ms)."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int = PRESENCE_TTL_S) -> None:
        self._redis, self._prefix, self._ttl_s = redis, prefix, ttl_s

    def _sockets(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}chat:sockets:{user_id}"

    def _seen(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}chat:last-seen:{user_id}"

    async def touch(self, user_id: uuid.UUID, socket_id: str) -> None:
        """A socket's heartbeat: it counts as online for the next TTL."""
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._sockets(user_id), {socket_id: (now + self._ttl_s) * 1000})
            pipe.zremrangebyscore(self._sockets(user_id), 0, now * 1000)
            pipe.expire(self._sockets(user_id), self._ttl_s)
            pipe.set(self._seen(user_id), str(now), ex=90 * 86400)
            await pipe.execute()

    async def gone(self, user_id: uuid.UUID, socket_id: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._sockets(user_id), socket_id)
            pipe.set(self._seen(user_id), str(time.time()), ex=90 * 86400)
            await pipe.execute()

    async def online(self, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not user_ids:
            return set()
        now_ms = time.time() * 1000
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zcount(self._sockets(user_id), now_ms, "+inf")
            counts = await pipe.execute()
        return {u for u, n in zip(user_ids, counts, strict=True) if n}

    async def last_seen(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime | None]:
        values = await self._redis.mget([self._seen(u) for u in user_ids]) if user_ids else []
        return {
            u: datetime.fromtimestamp(float(v), UTC) if v is not None else None
            for u, v in zip(user_ids, values, strict=True)
        }
