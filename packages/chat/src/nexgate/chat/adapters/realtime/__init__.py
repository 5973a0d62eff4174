"""Realtime delivery over Redis: socket tickets, per-user pub/sub channels, typing limits.

Nothing here is stored for long: tickets live 30 s, typing is never stored, events are
fire-and-forget (a client that missed one catches up with ``GET .../messages?after=``).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

TICKET_TTL_S = 30
TYPING_WINDOW_S = 3


class SocketTickets:
    """Short-lived single-use tickets: browsers cannot set Authorization on a websocket."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int = TICKET_TTL_S) -> None:
        self._redis, self._prefix, self._ttl_s = redis, prefix, ttl_s

    def _key(self, ticket: str) -> str:
        return f"{self._prefix}chat:ws-ticket:{ticket}"

    async def issue(self, user_id: uuid.UUID, session_id: uuid.UUID) -> str:
        ticket = secrets.token_urlsafe(32)
        await self._redis.set(self._key(ticket), f"{user_id}:{session_id}", ex=self._ttl_s)
        return ticket

    async def consume(self, ticket: str) -> tuple[uuid.UUID, uuid.UUID] | None:
        """The (user id, session id) the ticket was issued for; None if unknown, expired or used."""
        if not ticket or len(ticket) > 128:
            return None
        raw = await self._redis.getdel(self._key(ticket))  # atomic: a ticket opens one socket
        if raw is None:
            return None
        user, session = (raw.decode() if isinstance(raw, bytes) else str(raw)).split(":")
        return uuid.UUID(user), uuid.UUID(session)


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

    async def session_revoked(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """Control message: the user's sockets opened with this session close with 4401."""
        await self.publish([user_id], {"type": "session.revoked", "sessionId": str(session_id)})

    async def subscribe(self, user_id: uuid.UUID) -> PubSub:
        """A subscription confirmed by Redis: events published after this returns arrive."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=False)
        await pubsub.subscribe(self.channel(user_id))
        confirmed = await pubsub.get_message(timeout=5.0)
        if confirmed is None or confirmed.get("type") != "subscribe":
            await pubsub.aclose()
            raise ConnectionError("Redis did not confirm the subscription")
        return pubsub

    async def may_signal_typing(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
        """At most one typing signal per user and conversation per window."""
        key = f"{self._prefix}chat:typing:{user_id}:{conversation_id}"
        return bool(await self._redis.set(key, b"1", nx=True, ex=TYPING_WINDOW_S))
