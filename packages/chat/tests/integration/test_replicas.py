"""Two real api processes (granian) over one PostgreSQL and Redis, driven by real sockets."""

from __future__ import annotations

import uuid

import httpx
import pytest

from nexgate.chat.adapters.wiring import ChatWiring
from nexgate.chat.application import chat as use_cases
from nexgate.chat.testing.replicas import api_replicas
from nexgate.chat.testing.wsclient import Closed, WsClient

from .conftest import C

pytestmark = pytest.mark.timeout(120)


async def socket_on(replica, headers: dict[str, str], **options) -> tuple[WsClient, dict]:
    ws = await WsClient.connect("127.0.0.1", replica.port, f"{C}/ws", headers=headers, **options)
    ready = await ws.receive_json()
    assert ready["type"] == "ready", ready
    return ws, ready


async def test_message_reaches_recipient_socket_on_other_replica(settings, bearer) -> None:
    alice_id, bob_id = uuid.uuid4(), uuid.uuid4()
    alice, bob = bearer(alice_id), bearer(bob_id)
    async with api_replicas(settings) as (a, b), httpx.AsyncClient() as http:
        opened = await http.post(
            f"{a.base_url}{C}/conversations", json={"participantIds": [str(bob_id)]}, headers=alice
        )
        conversation_id = opened.json()["id"]
        assert (
            await http.post(f"{b.base_url}{C}/conversations/{conversation_id}/accept", headers=bob)
        ).status_code == 200
        bob_socket, _ = await socket_on(b, bob)
        alice_socket, _ = await socket_on(a, alice)
        try:
            # Sent over the socket on replica A, received on replica B: both are stored events.
            await alice_socket.send_json(
                {"type": "send", "conversationId": conversation_id, "clientMessageId": "c1", "text": "from A"}
            )
            frames = [await alice_socket.receive_json(), await alice_socket.receive_json()]
            ack = next(f for f in frames if f["type"] == "ack")
            event = await bob_socket.receive_json()
            while event["type"] != "event" or event["event"] != "message.created":
                event = await bob_socket.receive_json()
            assert (event["data"]["id"], event["data"]["text"]) == (ack["messageId"], "from A")
            # And the other way, over HTTP on B to a socket on A.
            sent = await http.post(
                f"{b.base_url}{C}/conversations/{conversation_id}/messages",
                json={"clientMessageId": "c2", "text": "from B"},
                headers=bob,
            )
            echo = await alice_socket.receive_json()
            while echo["type"] != "event" or echo["event"] != "message.created":
                echo = await alice_socket.receive_json()
            assert echo["data"]["id"] == sent.json()["id"]
            # Query-string credentials are refused by the real server too.
            token = alice["Authorization"].removeprefix("Bearer ")
            ws = await WsClient.connect("127.0.0.1", a.port, f"{C}/ws?access_token={token}")
            with pytest.raises(Closed) as closed:
                await ws.receive_json()
            assert (closed.value.code, closed.value.reason) == (4401, "query_credentials_refused")
        finally:
            await alice_socket.close()
            await bob_socket.close()


async def read_until_closed(ws: WsClient, received: list[str]) -> None:
    while True:
        frame = await ws.receive_json(wait_s=30)
        if frame["type"] == "event" and frame["event"] == "message.created":
            received.append(frame["data"]["id"])


async def test_slow_socket_closed_without_losing_events(settings, bearer, runtime) -> None:
    alice_id, bob_id = uuid.uuid4(), uuid.uuid4()
    alice, bob = bearer(alice_id), bearer(bob_id)
    chat = ChatWiring(runtime)
    replicas = api_replicas(settings, count=1, extra_env={"NEXGATE_CHAT_SOCKET_QUEUE": "8"})
    async with replicas as (replica,), httpx.AsyncClient(base_url=replica.base_url) as http:
        opened = await http.post(f"{C}/conversations", json={"participantIds": [str(bob_id)]}, headers=alice)
        conversation_id = uuid.UUID(opened.json()["id"])
        await http.post(f"{C}/conversations/{conversation_id}/accept", headers=bob)
        # Bob's phone stops reading: a tiny kernel buffer, and nothing read from it.
        slow, ready = await socket_on(replica, bob, receive_buffer=4096)
        cursor = ready["latestUserSeq"]

        # Alice sends ~4 MB of messages (16 KB each), every one committed, then announced.
        sent: list[str] = []
        for i in range(250):
            async with runtime.database().sessions() as session:
                async with session.begin():
                    unit = chat.unit(session)
                    result = await use_cases.send_message(
                        actor=alice_id, conversation_id=conversation_id, client_message_id=f"m{i}",
                        text="😀" * 4000, media_file_ids=[], reply_to_message_id=None, store=unit.store,
                        policy=unit.policy, media=chat.media, outbox=unit.outbox, events=unit.events,
                        presence=chat.presence, clock=chat.clock,
                    )  # fmt: skip
                await chat.bus.publish_events(unit.events.appended)
            sent.append(str(result.message.id))

        # Reading now: what the server wrote before giving up arrives in order, then the close.
        received: list[str] = []
        with pytest.raises(Closed) as closed:
            await read_until_closed(slow, received)
        # 1013 "try again later"; when the close frame itself cannot get through the full
        # buffers, the server drops the connection and the client sees 1006.
        assert closed.value.code in (1013, 1006)
        assert len(received) < len(sent)
        assert received == sent[: len(received)]
        # Nothing was lost: the client resumes by sync from its cursor.
        replayed: list[str] = []
        since = cursor
        while True:
            page = (await http.get(f"{C}/sync", params={"since": since}, headers=bob)).json()
            replayed += [e["data"]["id"] for e in page["events"] if e["type"] == "message.created"]
            since = page["nextCursor"]
            if not page["hasMore"]:
                break
        assert replayed == sent
