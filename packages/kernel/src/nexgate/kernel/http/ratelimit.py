"""Sliding-window rate limits in Redis, as guards or called from use cases.

A sorted set per (bucket, identity) holds the times of recent hits; a Lua
script trims, counts and adds atomically, using Redis' clock so that all api
replicas agree.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard
from redis.asyncio import Redis

from nexgate.kernel.errors import RateLimited
from nexgate.kernel.security.principal import Principal

_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RateLimiter:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SLIDING_WINDOW)

    async def hit(self, bucket: str, identity: str, *, limit: int, window_s: float) -> None:
        """Count one hit; raise `RateLimited` (with Retry-After) when over ``limit`` per window."""
        key = f"{self._prefix}rl:{bucket}:{identity}"
        wait_ms = await self._script(keys=[key], args=[int(window_s * 1000), limit, uuid.uuid4().hex])
        if int(wait_ms) > 0:
            raise RateLimited("Too many requests; slow down.", retry_after=max(1, -(-int(wait_ms) // 1000)))


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.scope.get("client")
    return client[0] if client else "unknown"


def rate_limit(bucket: str, *, limit: int, window_s: float, per: str = "principal") -> Guard:
    """Guard: at most ``limit`` requests per ``window_s`` per caller (``per="ip"`` for anonymous routes)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if per == "principal" and isinstance(user, Principal):
            identity = f"u:{user.user_id}"
        else:
            identity = f"ip:{client_ip(connection)}"
        limiter: RateLimiter = connection.app.state.rate_limiter
        await limiter.hit(bucket, identity, limit=limit, window_s=window_s)

    return guard
