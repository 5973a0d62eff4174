"""Processing progress in Redis: written by the worker, read by ``GET /files/{id}``."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

TTL_S = 3600


class RedisProgress:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, file_id: uuid.UUID) -> str:
        return f"{self._prefix}files:progress:{file_id}"

    async def set(self, file_id: uuid.UUID, fraction: float) -> None:
        await self._redis.set(self._key(file_id), f"{max(0.0, min(1.0, fraction)):.3f}", ex=TTL_S)

    async def get(self, file_id: uuid.UUID) -> float | None:
        raw = await self._redis.get(self._key(file_id))
        return float(raw) if raw is not None else None

    async def clear(self, file_id: uuid.UUID) -> None:
        await self._redis.delete(self._key(file_id))
