"""Password-login lockout and session revocation on Redis."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from nexgate.kernel.security.revocation import SessionDenylist
from nexgate.kernel.security.tokens import ACCESS_TOKEN_TTL

# Count a failure; at the threshold, start a lock that doubles with each repeat (up to a cap).
_FAILED = """
local fails = redis.call('INCR', KEYS[1])
if fails == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if fails < tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
local level = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[5])
local lock = math.min(tonumber(ARGV[3]) * 2 ^ (level - 1), tonumber(ARGV[4]))
redis.call('SET', KEYS[2], '1', 'EX', lock)
return lock
"""


class RedisLockout:
    """``threshold`` failed passwords within ``window_s`` lock the identifier (keys are hashes)."""

    def __init__(
        self, redis: Redis, prefix: str, *, threshold: int, window_s: int, base_lock_s: int, max_lock_s: int
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}auth:lockout:"
        self._args = [threshold, window_s, base_lock_s, max_lock_s, max_lock_s * 2]
        self._script = redis.register_script(_FAILED)

    def _keys(self, identifier: str) -> list[str]:
        return [
            f"{self._prefix}fails:{identifier}",
            f"{self._prefix}lock:{identifier}",
            f"{self._prefix}level:{identifier}",
        ]

    async def locked_for(self, identifier: str) -> int:
        ttl = await self._redis.ttl(self._keys(identifier)[1])
        return max(0, int(ttl))

    async def failed(self, identifier: str) -> int:
        return int(await self._script(keys=self._keys(identifier), args=self._args))

    async def clear(self, identifier: str) -> None:
        await self._redis.delete(*self._keys(identifier))


class DenylistRevoker:
    """Writes revoked sessions to the kernel's denylist for a token lifetime plus leeway."""

    def __init__(self, denylist: SessionDenylist, leeway_s: int = 60) -> None:
        self._denylist = denylist
        self._ttl = int(ACCESS_TOKEN_TTL.total_seconds()) + leeway_s

    async def revoke(self, session_id: uuid.UUID) -> None:
        await self._denylist.revoke(session_id, self._ttl)


class RedisRecentAuthentication:
    """Sessions that proved their password in the last ``window_s`` seconds."""

    def __init__(self, redis: Redis, prefix: str, window_s: int = 600) -> None:
        self._redis = redis
        self._prefix = f"{prefix}auth:reauth:"
        self._window_s = window_s

    async def mark(self, session_id: uuid.UUID) -> None:
        await self._redis.set(f"{self._prefix}{session_id}", b"1", ex=self._window_s)

    async def is_recent(self, session_id: uuid.UUID) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}{session_id}"))
