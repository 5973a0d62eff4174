"""Revoked device sessions: a Redis denylist checked on every authenticated request.

Access tokens are stateless for 15 minutes; logout and "log out other devices" must take
effect at once, so the session id goes on this list for at least the access-token lifetime
(after which every token of the session has expired anyway and the key can lapse).
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis


class SessionDenylist:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, session_id: uuid.UUID) -> str:
        return f"{self._prefix}revoked-session:{session_id}"

    async def revoke(self, session_id: uuid.UUID, ttl_s: int) -> None:
        """Deny the session for ``ttl_s`` seconds (use at least the access-token lifetime)."""
        if ttl_s < 1:
            raise ValueError("ttl_s must be at least one second")
        await self._redis.set(self.key(session_id), b"1", ex=ttl_s)

    async def is_revoked(self, session_id: uuid.UUID) -> bool:
        return bool(await self._redis.exists(self.key(session_id)))
