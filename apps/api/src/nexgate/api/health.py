"""Liveness and readiness: is the process up, and can it reach what it needs?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import sqlalchemy as sa
from faststream.rabbit import RabbitBroker
from litestar import Controller, Response, get
from litestar.di import NamedDependency

from nexgate.kernel.runtime import Runtime

_CHECK_TIMEOUT_S = 2.0


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


async def _check(probe: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(probe(), timeout=_CHECK_TIMEOUT_S)
    except Exception as exc:
        return f"down: {type(exc).__name__}"
    return "ok"


async def _broker_ping(broker: RabbitBroker) -> None:
    if not await broker.ping(timeout=_CHECK_TIMEOUT_S):
        raise ConnectionError("RabbitMQ did not answer")


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    include_in_schema = False

    @get("/live", summary="The process is up")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", summary="PostgreSQL, Redis and RabbitMQ are reachable")
    async def ready(
        self, runtime: NamedDependency[Runtime], broker: NamedDependency[RabbitBroker]
    ) -> Response[Readiness]:
        async def postgres() -> None:
            async with runtime.database().engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))

        names = ("postgres", "redis", "rabbitmq")
        results = await asyncio.gather(
            _check(postgres), _check(runtime.redis.ping), _check(lambda: _broker_ping(broker))
        )
        checks = dict(zip(names, results, strict=True))
        ok = all(result == "ok" for result in results)
        return Response(Readiness("ok" if ok else "unavailable", checks), status_code=200 if ok else 503)
