"""Retention: the event log's 30 days, deleted accounts, fully cleared conversations."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from nexgate.chat.adapters.sql.models import members, messages, reactions, user_events
from nexgate.chat.adapters.wiring import ChatWiring
from nexgate.chat.bootstrap import purge_cleared_history, purge_events
from nexgate.contracts.auth import UserDeleted

pytestmark = pytest.mark.timeout(90)


async def test_expired_cursor_returns_410(user, runtime) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    for i in range(3):
        await alice.send(conversation_id, f"m{i}")
    events = (await bob.get("/sync")).json()
    assert [e["userSeq"] for e in events["events"]] == [1, 2, 3, 4]  # accepted, then three messages
    assert (await bob.get("/sync", since=4)).json()["events"] == []

    # 31 days pass for the first two events; the retention job removes them.
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(user_events)
            .where(user_events.c.user_seq <= 2)
            .values(created_at=user_events.c.created_at - timedelta(days=31))
        )
    assert await purge_events(ChatWiring(runtime)) == 4  # two events each for Alice and Bob
    for since in (0, 1):
        gone = await bob.get("/sync", since=since)
        assert (gone.status_code, gone.json()["code"]) == (410, "cursor_expired")
    kept = (await bob.get("/sync", since=2)).json()
    assert [e["userSeq"] for e in kept["events"]] == [3, 4]
    assert (kept["nextCursor"], kept["hasMore"]) == ("4", False)
    # A cursor we never issued is expired too; garbage is a 422.
    assert (await bob.get("/sync", since=99)).status_code == 410
    assert (await bob.get("/sync", since="abc")).status_code == 422
    # The retention is 30 days: recent events stay.
    assert await purge_events(ChatWiring(runtime)) == 0


async def test_account_deleted_tombstones_messages(user, runtime, publish_to_chat, wait_until) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    hers = (await alice.send(conversation_id, "my number is 0712 345 678")).json()
    his = (await bob.send(conversation_id, "thanks", replyToMessageId=hers["id"])).json()
    await alice.client.put(
        f"/api/v1/chat/messages/{his['id']}/reaction", json={"emoji": "❤"}, headers=alice.headers
    )
    await bob.client.put(
        f"/api/v1/chat/messages/{hers['id']}/reaction", json={"emoji": "👍"}, headers=bob.headers
    )
    await alice.send(conversation_id, "bye")

    deleted = UserDeleted(user_id=alice.id)
    await publish_to_chat("auth", deleted)
    await publish_to_chat("auth", deleted)  # redelivered: a no-op

    async def erased() -> bool:
        async with runtime.database().sessions() as session:
            left = await session.scalar(
                sa.select(sa.func.count()).select_from(members).where(members.c.user_id == alice.id)
            )
            return left == 0

    await wait_until(erased)
    items = (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    assert [(m["senderId"], m["text"], m["deleted"]) for m in items] == [
        (str(alice.id), None, True),
        (str(bob.id), "thanks", False),
        (str(alice.id), None, True),
    ]
    # Her reactions and the ones on her messages are gone; Bob's own message keeps its place.
    assert [m["reactions"] for m in items] == [[], [], []]
    async with runtime.database().sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(reactions)) == 0
        assert (
            await session.scalar(
                sa.select(sa.func.count()).select_from(user_events).where(user_events.c.user_id == alice.id)
            )
            == 0
        )
        texts = list(
            await session.scalars(sa.select(messages.c.text).where(messages.c.sender_id == alice.id))
        )
    assert texts == [None, None]
    # Bob's list shows the conversation with a tombstone preview; his unread count was recounted.
    conversation = (await bob.get(f"/conversations/{conversation_id}")).json()
    assert (
        conversation["otherUserId"],
        conversation["lastMessage"]["deleted"],
        conversation["unreadCount"],
    ) == (None, True, 0)
    assert (await bob.get("/sync")).json()["events"][-1]["type"] == "conversation.updated"
    # Her old token no longer reaches the conversation.
    assert (await alice.get(f"/conversations/{conversation_id}")).status_code == 404


async def test_fully_cleared_conversation_purged(user, runtime) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    for i in range(4):
        await (alice if i % 2 else bob).send(conversation_id, f"m{i}")
    chat = ChatWiring(runtime)

    async def stored() -> list[int]:
        async with runtime.database().sessions() as session:
            return list(
                await session.scalars(
                    sa.select(messages.c.seq)
                    .where(messages.c.conversation_id == uuid.UUID(conversation_id))
                    .order_by(messages.c.seq)
                )
            )

    # One member clearing hides history for them only: nothing is deleted.
    assert (
        await alice.client.delete(f"/api/v1/chat/conversations/{conversation_id}/me", headers=alice.headers)
    ).status_code == 204
    assert await purge_cleared_history(chat) == 0
    assert await stored() == [1, 2, 3, 4]
    assert [
        m["seq"] for m in (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    ] == [1, 2, 3, 4]
    await alice.send(conversation_id, "m4")
    # When both have cleared, messages below the lowest clearedBeforeSeq go for good.
    assert (
        await bob.client.delete(f"/api/v1/chat/conversations/{conversation_id}/me", headers=bob.headers)
    ).status_code == 204
    assert await purge_cleared_history(chat) == 4
    assert await stored() == [5]
    assert [
        m["seq"] for m in (await alice.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    ] == [5]
    assert (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"] == []
    # New messages keep the conversation's numbering.
    assert (await bob.send(conversation_id, "new")).json()["seq"] == 6
    assert await purge_cleared_history(chat) == 0
