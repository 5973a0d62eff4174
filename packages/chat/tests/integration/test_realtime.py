"""The chat WebSocket in-process (Litestar's test client) on the real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from litestar.exceptions import WebSocketDisconnect
from redis.asyncio import Redis

from nexgate.chat.adapters.realtime import SocketTickets
from nexgate.chat.adapters.sql.models import user_events
from nexgate.chat.adapters.wiring import ChatWiring
from nexgate.chat.application import chat as use_cases
from nexgate.contracts.auth import SessionRevoked

from .conftest import C, Chat, Socket, open_ws

pytestmark = pytest.mark.timeout(90)


async def ticket_for(client, headers) -> str:
    response = await client.post(f"{C}/ws-tickets", headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["expiresIn"] == 30
    return response.json()["ticket"]


async def refused(client, *, headers=None, params=None, first=None) -> tuple[int, str]:
    """Connects, optionally sends a first frame, and returns the close (code, reason)."""
    try:
        ws = await open_ws(client, headers, params)
        if first is not None:
            ws.send_json(first)
        await asyncio.to_thread(ws.receive_text, timeout=5)
    except WebSocketDisconnect as closed:
        return closed.code, closed.detail
    raise AssertionError("the socket stayed open")


async def test_message_created_reaches_members_sockets_only(user, sockets) -> None:
    alice, bob, carol = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)
    bob_socket = await sockets(bob.headers)
    alice_other_device = await sockets(alice.headers)
    carol_socket = await sockets(carol.headers)

    sent = await alice.send(conversation_id, "is the jacket still available?")
    assert sent.status_code == 201, sent.text
    for socket in (bob_socket, alice_other_device):
        frame = await socket.next()
        assert (frame["type"], frame["event"]) == ("event", "message.created")
        assert frame["data"] == {**sent.json(), "status": None}
    await carol_socket.nothing_more()
    replay = await alice.send(
        conversation_id, "is the jacket still available?", cmid=sent.json()["clientMessageId"]
    )
    assert replay.status_code == 200
    await bob_socket.nothing_more()


async def test_ws_auth_header_and_first_frame_and_query_token_rejected(
    client, user, signer, settings
) -> None:
    alice = user()
    token = alice.headers["Authorization"].removeprefix("Bearer ")

    # Native apps: the Authorization header at the handshake.
    header = Socket(await open_ws(client, alice.headers))
    assert (await header.next()) == {"type": "ready", "userId": str(alice.id), "latestUserSeq": 0}
    await header.close()
    # Browsers: a first frame with the access token, or a single-use ticket.
    first = Socket(await open_ws(client))
    first.send({"type": "auth", "accessToken": token})
    assert (await first.next())["type"] == "ready"
    await first.close()
    ticket = await ticket_for(client, alice.headers)
    by_ticket = Socket(await open_ws(client))
    by_ticket.send({"type": "auth", "ticket": ticket})
    assert (await by_ticket.next())["userId"] == str(alice.id)
    await by_ticket.close()
    assert await refused(client, first={"type": "auth", "ticket": ticket}) == (4401, "invalid_ticket")

    # The token never goes in the query string: refused even when it is valid.
    for name in ("token", "access_token", "accessToken", "ticket"):
        assert await refused(client, params={name: token}) == (4401, "query_credentials_refused")
    assert await refused(client, first={"type": "auth", "accessToken": "not-a-jwt"}) == (
        4401,
        "invalid_token",
    )
    assert await refused(client, first={"type": "ping"}) == (4401, "auth_required")
    assert (await refused(client, headers={"Authorization": "Bearer nope"}))[0] == 4401
    expired = signer.issue(
        alice.id, uuid.uuid4(), ttl=timedelta(seconds=1), now=datetime.now() - timedelta(seconds=5)
    )
    assert (await refused(client, first={"type": "auth", "accessToken": expired}))[0] == 4401
    # Issuing a ticket needs the bearer token.
    assert (await client.post(f"{C}/ws-tickets")).status_code == 401


async def test_socket_auth_timeout_closes_with_4408(fast_client) -> None:
    ws = await open_ws(fast_client)
    started = time.monotonic()
    with pytest.raises(WebSocketDisconnect) as closed:
        await asyncio.to_thread(ws.receive_text, timeout=5)
    assert (closed.value.code, closed.value.detail) == (4408, "auth_timeout")
    assert time.monotonic() - started < 4


async def test_ticket_atomic_consumption_under_race(runtime) -> None:
    tickets = SocketTickets(runtime.redis, runtime.settings.redis_prefix)
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    ticket = await tickets.issue(user_id, session_id, time.time() + 900)
    results = await asyncio.gather(*[tickets.consume(ticket) for _ in range(10)])
    assert [r[:2] for r in results if r is not None] == [(user_id, session_id)]


async def test_expired_ticket_is_refused(client, user, settings) -> None:
    ticket = await ticket_for(client, user().headers)
    redis = Redis.from_url(settings.redis_url)
    try:
        key = f"{settings.redis_prefix}chat:ws-ticket:{ticket}"
        assert 0 < await redis.ttl(key) <= 30
        await redis.pexpire(key, 1)  # what 30 seconds of waiting does
        await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    assert await refused(client, first={"type": "auth", "ticket": ticket}) == (4401, "invalid_ticket")


async def test_ws_closes_on_session_revoked_and_token_expiry(
    user, client, signer, sockets, publish_to_chat
) -> None:
    alice = user()
    revoked_session = uuid.uuid4()
    revoked = await sockets({"Authorization": f"Bearer {signer.issue(alice.id, revoked_session)}"})
    other_device = await sockets(alice.headers)

    message = SessionRevoked(user_id=alice.id, session_id=revoked_session, reason="logout")
    await publish_to_chat("auth", message)
    with pytest.raises(WebSocketDisconnect) as closed:
        await revoked.next(wait_s=15)
    assert (closed.value.code, closed.value.detail) == (4403, "session_revoked")
    # The user's other session stays open and keeps receiving.
    bob = user()
    conversation_id = await bob.accepted_with(alice)
    sent = await bob.send(conversation_id, "still here?")
    frame = await other_device.next_event("message.created")
    assert frame["data"]["id"] == sent.json()["id"]

    # A token about to expire: reauth_required at once (less than 60 s left), then 4401.
    short = signer.issue(alice.id, uuid.uuid4(), ttl=timedelta(seconds=3))
    expiring = await sockets({"Authorization": f"Bearer {short}"})
    assert (await expiring.next_of("reauth_required"))["expiresAt"]
    with pytest.raises(WebSocketDisconnect) as expired:
        await expiring.next_of("never", wait_s=8)
    assert (expired.value.code, expired.value.detail) == (4401, "token_expired")

    # A fresh auth frame extends the socket past the first token's expiry.
    extended = await sockets(
        {"Authorization": f"Bearer {signer.issue(alice.id, uuid.uuid4(), ttl=timedelta(seconds=3))}"}
    )
    await extended.next_of("reauth_required")
    extended.send({"type": "auth", "accessToken": signer.issue(alice.id, uuid.uuid4())})
    assert (await extended.next())["type"] == "reauthed"
    await asyncio.sleep(4)
    extended.send({"type": "ping"})
    assert (await extended.next_of("pong"))["type"] == "pong"
    # Someone else's token cannot take the socket over.
    extended.send({"type": "auth", "accessToken": signer.issue(uuid.uuid4(), uuid.uuid4())})
    with pytest.raises(WebSocketDisconnect) as taken:
        await extended.next_of("never")
    assert (taken.value.code, taken.value.detail) == (4401, "user_mismatch")


async def test_typing_event_expires_and_is_not_stored(user, sockets, runtime, settings) -> None:
    alice, bob, carol = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)
    alice_socket = await sockets(alice.headers)
    bob_socket = await sockets(bob.headers)
    carol_socket = await sockets(carol.headers)

    async def stored_events() -> int:
        async with runtime.database().sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(user_events))

    before = await stored_events()
    alice_socket.send({"type": "typing", "conversationId": conversation_id})
    typing = await bob_socket.next()
    assert {k: typing[k] for k in ("type", "conversationId", "userId", "state")} == {
        "type": "typing", "conversationId": conversation_id, "userId": str(alice.id), "state": "start",
    }  # fmt: skip
    expires_in = datetime.fromisoformat(typing["expiresAt"]).timestamp() - time.time()
    assert 4 < expires_in <= 6.5
    redis = Redis.from_url(settings.redis_url)
    key = f"{settings.redis_prefix}chat:typing:{conversation_id}:{alice.id}"
    try:
        assert 0 < await redis.ttl(key) <= 6
        alice_socket.send({"type": "typing", "conversationId": conversation_id})  # within 1 s: dropped
        await bob_socket.nothing_more()
        await alice_socket.nothing_more(0)  # the typist does not hear itself
        await asyncio.sleep(0.5)
        alice_socket.send({"type": "typing", "conversationId": conversation_id, "state": "stop"})
        stop = await bob_socket.next()
        assert (stop["state"], "expiresAt" in stop) == ("stop", False)
        assert await redis.exists(key) == 0
    finally:
        await redis.aclose()
    # A non-member can neither signal nor hear typing; nothing reached the event log.
    carol_socket.send({"type": "typing", "conversationId": conversation_id})
    assert (await carol_socket.next())["code"] == "conversation_not_found"
    await bob_socket.nothing_more()
    assert await stored_events() == before


async def test_reconnect_with_cursor_replays_everything_missed(user, sockets) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    first = await alice.send(conversation_id, "are you coming?")
    cursor = (await bob.get("/sync")).json()["nextCursor"]

    # Bob is offline on a bus: everything that happens is waiting in his log.
    second = (await alice.send(conversation_id, "the venue moved")).json()
    third = (await alice.send(conversation_id, "to Mlimani City", replyToMessageId=second["id"])).json()
    api = alice.client
    await api.patch(
        f"{C}/messages/{third['id']}", json={"text": "to Mlimani City mall"}, headers=alice.headers
    )
    await api.put(f"{C}/messages/{first.json()['id']}/reaction", json={"emoji": "👍"}, headers=alice.headers)
    await api.delete(f"{C}/messages/{second['id']}", headers=alice.headers)

    replayed: list = []
    since = cursor
    while True:
        page = (await bob.get("/sync", since=since, limit=2)).json()
        replayed += page["events"]
        since = page["nextCursor"]
        if not page["hasMore"]:
            break
    assert [e["type"] for e in replayed] == [
        "message.created", "message.created", "message.edited", "message.reactions_changed",
        "message.deleted",
    ]  # fmt: skip
    assert [e["userSeq"] for e in replayed] == list(range(int(cursor) + 1, int(cursor) + 6))
    assert replayed[2]["data"]["text"] == "to Mlimani City mall"
    assert replayed[4]["data"] == {"conversationId": conversation_id, "messageId": second["id"], "seq": 2}
    # Reconnecting: ready carries the same cursor, and new events continue after it.
    again = await sockets(bob.headers)
    assert (await bob.get("/sync", since=since)).json() == {
        "events": [],
        "nextCursor": since,
        "hasMore": False,
    }
    fourth = await alice.send(conversation_id, "see you there")
    frame = await again.next()
    assert (frame["userSeq"], frame["data"]["id"]) == (int(since) + 1, fourth.json()["id"])


async def test_dropped_pubsub_notice_recovered_via_heartbeat_and_sync(fast_client, bearer, runtime) -> None:
    alice_id, bob_id = uuid.uuid4(), uuid.uuid4()
    alice = Chat(fast_client, bearer(alice_id), alice_id)
    bob = Chat(fast_client, bearer(bob_id), bob_id)
    conversation_id = await alice.accepted_with(bob)
    socket = Socket(await open_ws(fast_client, bob.headers))
    ready = await socket.next()
    seen = ready["latestUserSeq"]

    # The api process crashed after its commit and before the Redis publish: nothing is announced.
    chat = ChatWiring(runtime)
    async with runtime.database().sessions() as session, session.begin():
        unit = chat.unit(session)
        lost = await use_cases.send_message(
            actor=alice_id, conversation_id=uuid.UUID(conversation_id), client_message_id="lost-notice",
            text="did you get this?", media_file_ids=[], reply_to_message_id=None, store=unit.store,
            policy=unit.policy, media=chat.media, outbox=unit.outbox, events=unit.events,
            presence=chat.presence, clock=chat.clock,
        )  # fmt: skip

    heartbeat = await socket.next_of("heartbeat", wait_s=5)
    assert heartbeat["latestUserSeq"] == seen + 1  # the client notices the gap...
    events = (await bob.get("/sync", since=seen)).json()["events"]  # ...and syncs
    assert [(e["userSeq"], e["type"], e["data"]["id"]) for e in events] == [
        (seen + 1, "message.created", str(lost.message.id))
    ]
    # A later notice also repairs the gap on the server side: missing events come first, in order.
    other = Socket(await open_ws(fast_client, bob.headers))
    await other.next()
    async with runtime.database().sessions() as session, session.begin():
        unit = chat.unit(session)
        await use_cases.send_message(
            actor=alice_id, conversation_id=uuid.UUID(conversation_id), client_message_id="lost-again",
            text="and this?", media_file_ids=[], reply_to_message_id=None, store=unit.store,
            policy=unit.policy, media=chat.media, outbox=unit.outbox, events=unit.events,
            presence=chat.presence, clock=chat.clock,
        )  # fmt: skip
    announced = await alice.send(conversation_id, "hello?")
    first, second = await other.next_of("event"), await other.next_of("event")
    assert (first["userSeq"], first["data"]["text"]) == (seen + 2, "and this?")
    assert (second["userSeq"], second["data"]["id"]) == (seen + 3, announced.json()["id"])
    await socket.close()
    await other.close()


async def test_presence_frames_reach_contacts_respecting_show_activity_and_blocks(
    user, sockets, runtime, publish_to_chat, wait_until
) -> None:
    from nexgate.chat.adapters.sql.models import blocks, privacy
    from nexgate.contracts.profiles import BlockCreated, PrivacySettingsChanged

    alice, bob, carol, dave, erin = user(), user(), user(), user(), user()
    for other in (bob, carol, dave):
        await alice.accepted_with(other)
    await publish_to_chat(
        "profiles",
        PrivacySettingsChanged(
            user_id=carol.id, is_private=False, who_can_message="everyone", who_can_mention="everyone",
            show_activity=False, version=1,
        ),
    )  # fmt: skip
    await publish_to_chat("profiles", BlockCreated(blocker_id=dave.id, blocked_id=alice.id))

    async def replicated() -> bool:
        async with runtime.database().sessions() as session:
            found = [
                await session.scalar(sa.select(sa.func.count()).select_from(t)) for t in (privacy, blocks)
            ]
        return found == [1, 1]

    await wait_until(replicated)
    watchers = {u.id: await sockets(u.headers) for u in (bob, carol, dave, erin)}

    first = await sockets(alice.headers)
    frame = await watchers[bob.id].next_of("presence")
    assert frame == {"type": "presence", "userId": str(alice.id), "online": True, "lastSeenAt": None}
    second = await sockets(alice.headers)  # already online: nobody is told again
    await second.close()  # one socket is still open: still online
    for watcher in watchers.values():  # carol hides activity, dave blocked alice, erin is a stranger
        await watcher.nothing_more(presence=True)

    await first.close()
    frame = await watchers[bob.id].next_of("presence")
    assert (frame["userId"], frame["online"]) == (str(alice.id), False)
    assert datetime.fromisoformat(frame["lastSeenAt"]) > datetime.now(UTC) - timedelta(minutes=1)
    for user_id in (carol.id, dave.id, erin.id):
        await watchers[user_id].nothing_more(presence=True)
