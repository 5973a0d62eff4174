"""Helpers for the chat integration tests (real PostgreSQL, Redis, RabbitMQ)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from nexgate.chat.adapters.sql.models import tables
from nexgate.chat.bootstrap import context as chat_context
from nexgate.contracts import contract_for
from nexgate.kernel.runtime import Runtime

C = "/api/v1/chat"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def wait_until():
    return eventually


@pytest.fixture
def messages(runtime: Runtime):
    """``await messages(tag=None)`` -> decoded chat outbox messages in write order."""

    async def read(tag: str | None = None) -> list[Any]:
        stmt = sa.select(tables.outbox.c.tag, tables.outbox.c.payload).order_by(tables.outbox.c.id)
        if tag is not None:
            stmt = stmt.where(tables.outbox.c.tag == tag)
        async with runtime.database().sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [msgspec.json.decode(row.payload, type=contract_for(row.tag)) for row in rows]

    return read


class Chat:
    """A user's view of the chat API."""

    def __init__(self, client: Any, headers: dict[str, str], user_id: uuid.UUID) -> None:
        self.client, self.headers, self.id = client, headers, user_id

    async def open(self, other: Chat) -> Any:
        return await self.client.post(
            f"{C}/conversations", json={"participantIds": [str(other.id)]}, headers=self.headers
        )

    async def send(
        self, conversation_id: str, text: str | None = "hello", cmid: str | None = None, **extra: Any
    ) -> Any:
        body = {"clientMessageId": cmid or uuid.uuid4().hex, **extra}
        if text is not None:
            body["text"] = text
        return await self.client.post(
            f"{C}/conversations/{conversation_id}/messages", json=body, headers=self.headers
        )

    async def get(self, path: str, **params: Any) -> Any:
        return await self.client.get(f"{C}{path}", params=params, headers=self.headers)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.client.post(f"{C}{path}", json=json, headers=self.headers)

    async def accepted_with(self, other: Chat) -> str:
        """A conversation both sides accepted (self opens, other accepts)."""
        opened = await self.open(other)
        assert opened.status_code in (200, 201), opened.text
        conversation_id = opened.json()["id"]
        accepted = await other.post(f"/conversations/{conversation_id}/accept")
        assert accepted.status_code == 200, accepted.text
        return conversation_id


@pytest.fixture
def user(client, bearer):
    def make() -> Chat:
        user_id = uuid.uuid4()
        return Chat(client, bearer(user_id), user_id)

    return make


@pytest.fixture
async def worker(settings, runtime) -> AsyncIterator[Any]:
    from nexgate.worker.app import build_worker

    worker = build_worker(settings, runtime=runtime, contexts=[chat_context])
    yield worker
    await worker.stop()
