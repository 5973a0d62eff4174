"""Consumers through the real broker: the blocks replica and revoked sessions."""

from __future__ import annotations

import uuid

import msgspec
import sqlalchemy as sa

from nexgate.chat.adapters.sql.models import blocks, revoked_sessions, tables
from nexgate.contracts.auth import SessionRevoked
from nexgate.contracts.base import Contract
from nexgate.contracts.profiles import BlockCreated, BlockRemoved
from nexgate.kernel.messaging.relay import broker_publisher


async def test_block_message_refuses_sends_and_reactions_both_ways(user, runtime, worker, wait_until) -> None:
    await worker.broker.start()
    await worker.start_background()
    publish = broker_publisher(worker.broker, runtime.naming)

    async def send(context: str, message: Contract) -> None:
        await publish(
            context=context, tag=message.tag(), message_id=str(message.id), body=msgspec.json.encode(message)
        )

    async def count(table: sa.Table) -> int:
        async with runtime.database().sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(table))

    alice, bob, carol = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)
    message = (await bob.send(conversation_id, "hi")).json()

    blocked = BlockCreated(blocker_id=bob.id, blocked_id=alice.id)
    await send("profiles", blocked)
    await send("profiles", blocked)  # redelivered: a no-op
    await wait_until(lambda: count(blocks))
    for actor in (alice, bob):
        refused = await actor.send(conversation_id, "still there?")
        assert (refused.status_code, refused.json()["code"]) == (403, "messaging_not_allowed")
    reaction = await alice.client.put(
        f"/api/v1/chat/messages/{message['id']}/reaction", json={"emoji": "👍"}, headers=alice.headers
    )
    assert (reaction.status_code, reaction.json()["code"]) == (403, "messaging_not_allowed")
    assert (await alice.open(bob)).json()["code"] == "messaging_not_allowed"
    # History stays visible; other people are unaffected.
    assert [
        m["text"] for m in (await alice.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    ] == ["hi"]
    assert (await carol.open(alice)).status_code == 201

    await send("profiles", BlockRemoved(blocker_id=bob.id, blocked_id=alice.id))

    async def unblocked() -> bool:
        return await count(blocks) == 0

    await wait_until(unblocked)
    assert (await alice.send(conversation_id, "hello again")).status_code == 201

    revoked = SessionRevoked(user_id=alice.id, session_id=uuid.uuid4(), reason="logout")
    await send("auth", revoked)
    await send("auth", revoked)

    async def recorded() -> bool:
        async with runtime.database().sessions() as session:
            inbox = await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox))
        return await count(revoked_sessions) == 1 and inbox == 3

    await wait_until(recorded)
    async with runtime.database().sessions() as session:
        row = (await session.execute(sa.select(revoked_sessions))).one()
    assert (row.session_id, row.user_id, row.reason) == (revoked.session_id, alice.id, "logout")
