"""The chat WebSocket on the real Redis and PostgreSQL: tickets, fan-out, typing, revocation."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient, WebSocketTestSession
from redis.asyncio import Redis

from nexgate.chat.adapters.realtime import SocketTickets
from nexgate.chat.adapters.sql.repository import SqlContactPolicy
from nexgate.contracts.auth import SessionRevoked
from nexgate.kernel.messaging.relay import broker_publisher
from nexgate.kernel.security.revocation import SessionDenylist

C = "/api/v1/chat"


async def ticket_for(client: Any, headers: dict[str, str]) -> str:
    response = await client.post(f"{C}/ws-tickets", headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["expiresIn"] == 30
    return response.json()["ticket"]


async def connect(client: Any, ticket: str) -> WebSocketTestSession:
    session = await client.websocket_connect(f"{C}/ws", params={"ticket": ticket})
    return await asyncio.to_thread(session.__enter__)


async def receive(ws: WebSocketTestSession, timeout: float = 5.0) -> Any:
    return msgspec.json.decode(await asyncio.to_thread(ws.receive_text, timeout=timeout))


async def nothing_more(ws: WebSocketTestSession, wait: float = 0.7) -> None:
    """No frame arrives within ``wait`` seconds."""
    await asyncio.sleep(wait)
    assert ws.send_queue.empty(), ws.send_queue.get()


class Socket:
    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws

    async def next(self, timeout: float = 5.0) -> Any:
        return await receive(self.ws, timeout)

    async def close(self) -> None:
        await asyncio.to_thread(self.ws.__exit__, None, None, None)


@pytest.fixture
async def sockets(client: Any) -> AsyncIterator[Any]:
    opened: list[Socket] = []

    async def open_for(headers: dict[str, str], on: Any = None) -> Socket:
        target = on or client
        socket = Socket(await connect(target, await ticket_for(target, headers)))
        opened.append(socket)
        ready = await socket.next()
        assert ready["type"] == "ready"
        return socket

    yield open_for
    for socket in opened:
        with contextlib.suppress(Exception):  # already closed by the server
            await socket.close()


async def test_message_created_reaches_members_sockets_only(user, sockets) -> None:
    alice, bob, carol = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)
    bob_socket = await sockets(bob.headers)
    alice_other_device = await sockets(alice.headers)
    carol_socket = await sockets(carol.headers)

    sent = await alice.send(conversation_id, "is the jacket still available?")
    assert sent.status_code == 201, sent.text
    for socket in (bob_socket, alice_other_device):
        event = await socket.next()
        assert event == {"type": "message.created", "data": sent.json()}
    # A non-member never hears about the conversation.
    await nothing_more(carol_socket.ws)
    # An idempotent replay is not a new message: no second event.
    replay = await alice.send(
        conversation_id, "is the jacket still available?", cmid=sent.json()["clientMessageId"]
    )
    assert replay.status_code == 200
    await nothing_more(bob_socket.ws)


async def test_ticket_is_single_use_and_required(client, user, sockets) -> None:
    alice = user()
    ticket = await ticket_for(client, alice.headers)
    first = await connect(client, ticket)
    assert (await receive(first))["type"] == "ready"
    await asyncio.to_thread(first.__exit__, None, None, None)
    with pytest.raises(WebSocketDisconnect) as reused:
        await connect(client, ticket)
    assert reused.value.code == 4401
    for bad in ("", "not-a-ticket"):
        with pytest.raises(WebSocketDisconnect) as refused:
            await connect(client, bad)
        assert refused.value.code == 4401
    # Issuing a ticket needs the bearer token.
    assert (await client.post(f"{C}/ws-tickets")).status_code == 401


async def test_ticket_atomic_consumption_under_race(runtime) -> None:
    tickets = SocketTickets(runtime.redis, runtime.settings.redis_prefix)
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    ticket = await tickets.issue(user_id, session_id)
    results = await asyncio.gather(*[tickets.consume(ticket) for _ in range(10)])
    assert [r for r in results if r is not None] == [(user_id, session_id)]


async def test_expired_ticket_is_refused(client, user, settings) -> None:
    alice = user()
    ticket = await ticket_for(client, alice.headers)
    redis = Redis.from_url(settings.redis_url)
    try:
        key = f"{settings.redis_prefix}chat:ws-ticket:{ticket}"
        assert 0 < await redis.ttl(key) <= 30
        await redis.pexpire(key, 1)  # what 30 seconds of waiting does
        await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    with pytest.raises(WebSocketDisconnect) as refused:
        await connect(client, ticket)
    assert refused.value.code == 4401


async def test_ticket_of_a_revoked_session_is_refused(client, user, settings, signer) -> None:
    alice = user()
    session_id = uuid.uuid4()
    headers = {"Authorization": f"Bearer {signer.issue(alice.id, session_id)}"}
    ticket = await ticket_for(client, headers)
    redis = Redis.from_url(settings.redis_url)
    try:
        await SessionDenylist(redis, settings.redis_prefix).revoke(session_id, 60)
    finally:
        await redis.aclose()
    with pytest.raises(WebSocketDisconnect) as refused:
        await connect(client, ticket)
    assert (refused.value.code, refused.value.detail) == (4401, "session_revoked")


async def test_message_reaches_recipient_socket_on_other_replica(settings, contexts, user, sockets) -> None:
    from nexgate.api.asgi import create_app

    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    other_app = create_app(settings, contexts=list(contexts.values()))
    async with AsyncTestClient(other_app, raise_server_exceptions=False) as replica_b:
        bob_socket = await sockets(bob.headers, on=replica_b)
        sent = await alice.send(conversation_id, "sent through replica A")
        assert sent.status_code == 201, sent.text
        assert await bob_socket.next() == {"type": "message.created", "data": sent.json()}
        await bob_socket.close()


async def test_typing_reaches_the_other_member_only_and_is_rate_limited(user, sockets) -> None:
    alice, bob, carol = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)
    alice_socket = await sockets(alice.headers)
    bob_socket = await sockets(bob.headers)
    carol_socket = await sockets(carol.headers)

    alice_socket.ws.send_json({"type": "typing", "conversationId": conversation_id})
    assert await bob_socket.next() == {
        "type": "typing",
        "conversationId": conversation_id,
        "userId": str(alice.id),
    }
    alice_socket.ws.send_json({"type": "typing", "conversationId": conversation_id})  # within 3 s: dropped
    await nothing_more(bob_socket.ws)
    await nothing_more(alice_socket.ws, 0)  # the typist does not hear itself
    # A non-member cannot signal typing into the conversation, nor hears it.
    carol_socket.ws.send_json({"type": "typing", "conversationId": conversation_id})
    assert await carol_socket.next() == {"type": "error", "code": "conversation_not_found"}
    await nothing_more(bob_socket.ws)
    await nothing_more(carol_socket.ws, 0)
    carol_socket.ws.send_text("not json")
    assert await carol_socket.next() == {"type": "error", "code": "invalid_frame"}


async def test_revoked_session_closes_its_sockets_with_4401(
    user, client, signer, runtime, worker, sockets
) -> None:
    await worker.broker.start()
    await worker.start_background()
    publish = broker_publisher(worker.broker, runtime.naming)
    alice = user()
    revoked_session = uuid.uuid4()
    revoked = await sockets({"Authorization": f"Bearer {signer.issue(alice.id, revoked_session)}"})
    other_device = await sockets(alice.headers)

    message = SessionRevoked(user_id=alice.id, session_id=revoked_session, reason="logout")
    await publish(
        context="auth", tag=message.tag(), message_id=str(message.id), body=msgspec.json.encode(message)
    )
    with pytest.raises(WebSocketDisconnect) as closed:
        await revoked.next(timeout=15)
    assert (closed.value.code, closed.value.detail) == (4401, "session_revoked")
    # The user's other session stays open and keeps receiving.
    bob = user()
    conversation_id = await bob.accepted_with(alice)
    sent = await bob.send(conversation_id, "still here?")
    assert await other_device.next() == {"type": "message.created", "data": sent.json()}


async def test_block_refuses_typing_both_ways(user, sockets, runtime) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    alice_socket = await sockets(alice.headers)
    bob_socket = await sockets(bob.headers)
    async with runtime.database().sessions() as session, session.begin():
        await SqlContactPolicy(session).block(bob.id, alice.id, runtime.clock.now())
    for typist, listener in ((alice_socket, bob_socket), (bob_socket, alice_socket)):
        typist.ws.send_json({"type": "typing", "conversationId": conversation_id})
        assert await typist.next() == {"type": "error", "code": "messaging_not_allowed"}
        await nothing_more(listener.ws)
