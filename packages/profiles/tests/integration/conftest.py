"""Helpers for the profiles integration tests (real PostgreSQL, Redis, RabbitMQ)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from nexgate.contracts import Contract, contract_for
from nexgate.kernel.clock import FixedClock
from nexgate.kernel.messaging.relay import broker_publisher
from nexgate.kernel.runtime import Runtime, build_runtime
from nexgate.profiles.adapters.sql.models import follows, profiles, tables
from nexgate.profiles.bootstrap import context as profiles_context


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def outbox_messages(runtime: Runtime, tag: str | None = None) -> list[Any]:
    """Decoded outbox messages in write order (optionally of one tag)."""
    stmt = sa.select(tables.outbox.c.tag, tables.outbox.c.payload).order_by(tables.outbox.c.id)
    if tag is not None:
        stmt = stmt.where(tables.outbox.c.tag == tag)
    async with runtime.database().sessions() as session:
        rows = (await session.execute(stmt)).all()
    return [msgspec.json.decode(row.payload, type=contract_for(row.tag)) for row in rows]


async def recount(runtime: Runtime) -> list[tuple[uuid.UUID, int, int, int, int]]:
    """Each profile's stored counters next to a fresh count of its edges; equal pairs = no drift."""
    async with runtime.database().sessions() as session:
        followers = (
            sa.select(sa.func.count()).where(follows.c.followee_id == profiles.c.user_id).scalar_subquery()
        )
        following = (
            sa.select(sa.func.count()).where(follows.c.follower_id == profiles.c.user_id).scalar_subquery()
        )
        stmt = sa.select(
            profiles.c.user_id, profiles.c.followers_count, followers, profiles.c.following_count, following
        )
        return [tuple(row) for row in (await session.execute(stmt)).all()]  # type: ignore[misc]


@pytest.fixture
def messages(runtime):
    """``await messages(tag=None)`` -> decoded outbox messages of this test's database."""
    return lambda tag=None: outbox_messages(runtime, tag)


@pytest.fixture
def counters(runtime):
    """``await counters()`` -> (user, stored followers, counted, stored following, counted) rows."""
    return lambda: recount(runtime)


@pytest.fixture
def wait_until():
    return eventually


@pytest.fixture
def user(client, bearer):
    """``await user()`` -> (user id, auth headers) of a user whose profile exists (first GET /me)."""

    async def make(private: bool = False) -> tuple[uuid.UUID, dict[str, str]]:
        user_id = uuid.uuid4()
        headers = bearer(user_id)
        response = await client.get("/api/v1/profiles/me", headers=headers)
        assert response.status_code == 200, response.text
        if private:
            done = await client.patch(
                "/api/v1/profiles/me/settings/privacy", json={"isPrivate": True}, headers=headers
            )
            assert done.status_code == 200, done.text
        return user_id, headers

    return make


@pytest.fixture
async def worker(settings, runtime) -> AsyncIterator[Any]:
    """A worker hosting the profiles context; the test starts it when it wants one."""
    from nexgate.worker.app import build_worker

    worker = build_worker(settings, runtime=runtime, contexts=[profiles_context])
    yield worker
    await worker.stop()


@pytest.fixture
async def publish(worker, runtime) -> Callable[[Contract], Awaitable[None]]:
    """Start the profiles worker on the real broker; ``await publish(message)`` sends a contract
    to its producer's exchange, as that producer's relay would."""
    await worker.broker.start()
    await worker.start_background()
    send = broker_publisher(worker.broker, runtime.naming)

    async def publish_one(message: Contract) -> None:
        await send(
            context=message.publisher_context(),
            tag=message.tag(),
            message_id=str(message.id),
            body=msgspec.json.encode(message),
        )

    return publish_one


@pytest.fixture
async def inbox_count(runtime) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        async with runtime.database().sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox))

    return count


@pytest.fixture
async def timed_client(settings, contexts) -> AsyncIterator[tuple[Any, FixedClock]]:
    """(client, clock): the profiles api on a clock the test moves."""
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app

    clock = FixedClock(datetime(2026, 6, 1, 9, tzinfo=UTC))
    app = create_app(settings, runtime=build_runtime(settings, clock=clock), contexts=[contexts["profiles"]])
    async with AsyncTestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, clock
