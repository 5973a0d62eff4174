"""Liveness, readiness and degraded modes of the composed api, each dependency taken away in turn.

Every app here is built by `create_app` from its own settings (so with its own
Runtime) and run inside `AsyncTestClient`, whose context runs the lifespan:
startup, and shutdown that closes the broker, engines and Redis client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from nexgate.api.asgi import create_app
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE
from nexgate.skeleton.adapters.sql.models import tables
from nexgate.skeleton.bootstrap import context as skeleton

NOTES = "/api/v1/skeleton/notes"
PG_DOWN = "postgresql+asyncpg://postgres@127.0.0.1:1/x"
REDIS_DOWN = "redis://127.0.0.1:1/0"
RABBITMQ_DOWN = "amqp://guest:guest@127.0.0.1:1/"


@asynccontextmanager
async def serving(settings: Any, **update: Any) -> AsyncIterator[AsyncTestClient]:
    app = create_app(settings.model_copy(update=update), contexts=[skeleton])
    async with AsyncTestClient(app) as client:
        yield client


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert "Traceback" not in response.text
    return body


async def test_live_is_200(client) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("update", "down"),
    [
        ({"database_url": PG_DOWN}, "postgres"),
        ({"redis_url": REDIS_DOWN}, "redis"),
        ({"rabbitmq_url": RABBITMQ_DOWN}, "rabbitmq"),
    ],
)
async def test_ready_is_503_naming_what_is_down(settings, update, down) -> None:
    async with serving(settings, **update) as client:
        assert (await client.get("/health/live")).status_code == 200
        started = time.monotonic()
        response = await client.get("/health/ready")
        assert time.monotonic() - started < 5
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["checks"]) == {"postgres", "redis", "rabbitmq"}
    assert body["checks"][down].startswith("down: ")
    up = {"postgres", "redis"} - {down}
    assert {name: body["checks"][name] for name in up} == dict.fromkeys(up, "ok")


async def test_ready_is_200_when_everything_is_up(settings, runtime) -> None:
    # `runtime` deletes this test's queues and exchanges afterwards.
    async with serving(settings, embedded_worker=True) as client:
        deadline = time.monotonic() + 10
        while True:
            response = await client.get("/health/ready")
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok", "rabbitmq": "ok"}}


async def test_without_rabbitmq_notes_are_written_and_buffered(settings, runtime, bearer) -> None:
    started = time.monotonic()
    async with serving(settings, embedded_worker=True, rabbitmq_url=RABBITMQ_DOWN) as client:
        assert time.monotonic() - started < 5  # the worker retries in the background
        created = await client.post(NOTES, json={"text": "while the broker is down"}, headers=bearer())
        assert created.status_code == 201, created.text
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["rabbitmq"].startswith("down: ")
        await asyncio.sleep(0.5)  # a few relay poll intervals, had the relay been running
    assert time.monotonic() - started < 15  # and shutting down does not wait for the broker

    async with runtime.database().sessions() as session:
        rows = (await session.execute(sa.select(tables.outbox.c.tag, tables.outbox.c.published_at))).all()
    assert len(rows) == 1
    assert rows[0].published_at is None


async def test_without_postgresql_a_write_is_a_quick_503(settings, bearer, client) -> None:
    me = bearer()
    async with serving(settings, database_url=PG_DOWN) as down:
        started = time.monotonic()
        response = await down.post(NOTES, json={"text": "hi"}, headers={**me, "Idempotency-Key": "pg-down"})
        assert time.monotonic() - started < 6
        problem = assert_problem(response, 503, "service_unavailable")
        assert response.headers["retry-after"] == "5"
        assert problem["requestId"] == response.headers["x-request-id"]
        listed = await down.get(NOTES, headers=me)
        assert_problem(listed, 503, "service_unavailable")

    # A 503 does not use up the Idempotency-Key: once PostgreSQL is back the retry is done.
    retried = await client.post(NOTES, json={"text": "hi"}, headers={**me, "Idempotency-Key": "pg-down"})
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers


async def test_without_redis_an_authenticated_request_is_503(settings, bearer) -> None:
    async with serving(settings, redis_url=REDIS_DOWN) as client:
        started = time.monotonic()
        response = await client.get(NOTES, headers=bearer())
        assert time.monotonic() - started < 5
    assert_problem(response, 503, "service_unavailable")
