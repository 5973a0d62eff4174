"""Helpers for the chat integration tests (real PostgreSQL, Redis, RabbitMQ)."""

from __future__ import annotations

import asyncio
import contextlib
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


async def receive(ws: Any, wait_s: float = 5.0) -> Any:
    return msgspec.json.decode(await asyncio.to_thread(ws.receive_text, timeout=wait_s))


class Socket:
    """An in-process socket (Litestar's test client)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def next(self, wait_s: float = 5.0, presence: bool = False) -> Any:
        """The next frame; ``presence`` frames (contacts coming and going) are skipped unless asked for."""
        deadline = time.monotonic() + wait_s
        while True:
            frame = await receive(self.ws, max(0.1, deadline - time.monotonic()))
            if presence or frame.get("type") != "presence":
                return frame

    async def next_of(self, kind: str, wait_s: float = 5.0) -> Any:
        """The next frame of ``kind`` (heartbeats and others in between are skipped)."""
        deadline = time.monotonic() + wait_s
        while True:
            frame = await self.next(max(0.1, deadline - time.monotonic()), presence=kind == "presence")
            if frame["type"] == kind:
                return frame

    async def next_event(self, event: str, wait_s: float = 5.0) -> Any:
        deadline = time.monotonic() + wait_s
        while True:
            frame = await self.next_of("event", max(0.1, deadline - time.monotonic()))
            if frame["event"] == event:
                return frame

    def send(self, frame: Any) -> None:
        self.ws.send_json(frame)

    async def nothing_more(self, wait_s: float = 0.7, presence: bool = False) -> None:
        await asyncio.sleep(wait_s)
        while not self.ws.send_queue.empty():
            message = self.ws.send_queue.get()
            text = message.get("text") if isinstance(message, dict) else None
            skipped = (
                not presence and text is not None and msgspec.json.decode(text).get("type") == "presence"
            )
            assert skipped, message

    async def close(self) -> None:
        await asyncio.to_thread(self.ws.__exit__, None, None, None)


async def open_ws(client: Any, headers: dict[str, str] | None = None, params: Any = None) -> Any:
    session = await client.websocket_connect(f"{C}/ws", headers=headers or {}, params=params)
    return await asyncio.to_thread(session.__enter__)


@pytest.fixture
async def sockets(client: Any) -> AsyncIterator[Any]:
    """``await sockets(headers, on=client)`` -> a ready `Socket` authenticated by header."""
    opened: list[Socket] = []

    async def open_for(headers: dict[str, str], on: Any = None) -> Socket:
        socket = Socket(await open_ws(on or client, headers))
        opened.append(socket)
        ready = await socket.next()
        assert ready["type"] == "ready", ready
        return socket

    yield open_for
    for socket in opened:
        with contextlib.suppress(Exception):  # already closed by the server
            await socket.close()


def event_frames(frames: list[Any], kind: str | None = None) -> list[Any]:
    return [f for f in frames if f["type"] == "event" and (kind is None or f["event"] == kind)]


@pytest.fixture
def publish_to_chat(runtime: Runtime, worker: Any) -> Callable[..., Awaitable[None]]:
    """``await publish_to_chat(context, message)``: a contract through the real broker to the
    chat's consumers (started on first use)."""
    from nexgate.kernel.messaging.relay import broker_publisher

    started = False

    async def publish(context: str, message: Any) -> None:
        nonlocal started
        if not started:
            # Consumers only: no outbox relay or scheduled jobs running beside the test.
            await worker.broker.start()
            await runtime.topology.declare(worker.broker)
            started = True
        publisher = broker_publisher(worker.broker, runtime.naming)
        await publisher(
            context=context, tag=message.tag(), message_id=str(message.id), body=msgspec.json.encode(message)
        )

    return publish


@pytest.fixture
async def fast_client(settings: Any, contexts: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The api with 1 s heartbeats and a 1 s socket auth timeout."""
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app

    monkeypatch.setenv("NEXGATE_CHAT_HEARTBEAT_S", "1")
    monkeypatch.setenv("NEXGATE_CHAT_AUTH_TIMEOUT_S", "1")
    app = create_app(settings, contexts=list(contexts.values()))
    async with AsyncTestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
