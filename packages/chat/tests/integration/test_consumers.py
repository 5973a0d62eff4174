"""Consumers through the real broker: the blocks replica and revoked sessions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from nexgate.chat.adapters.sql.models import blocks, revoked_sessions, tables
from nexgate.contracts.auth import SessionRevoked
from nexgate.contracts.base import Contract
from nexgate.contracts.profiles import BlockCreated, BlockRemoved
from nexgate.kernel.messaging.relay import broker_publisher


async def test_block_message_refuses_sends_typing_presence_both_ways(
    user, runtime, worker, wait_until, sockets
) -> None:
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
    alice_socket = await sockets(alice.headers)
    bob_socket = await sockets(bob.headers)
    assert (await alice.get("/presence", userIds=str(bob.id))).json()[0]["online"] is True

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
    for typist, listener in ((alice_socket, bob_socket), (bob_socket, alice_socket)):
        typist.send({"type": "typing", "conversationId": conversation_id})
        assert await typist.next() == {
            "type": "error",
            "code": "messaging_not_allowed",
            "clientMessageId": None,
        }
        await listener.nothing_more()
    for asker, other in ((alice, bob), (bob, alice)):
        presence = await asker.get("/presence", userIds=str(other.id))
        assert (presence.status_code, presence.json()["code"]) == (403, "messaging_not_allowed")
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


async def test_who_can_message_settings_enforced(user, runtime, publish_to_chat, wait_until) -> None:
    from nexgate.chat.adapters.sql.models import follows, privacy
    from nexgate.contracts.profiles import FollowCreated, FollowRemoved, PrivacySettingsChanged

    alice, bob, carol, dave = user(), user(), user(), user()

    async def rows(table: sa.Table) -> int:
        async with runtime.database().sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(table))

    def settings(
        user_id: uuid.UUID, who: str, version: int, show_activity: bool = True
    ) -> PrivacySettingsChanged:
        return PrivacySettingsChanged(
            user_id=user_id, is_private=False, who_can_message=who, who_can_mention="everyone",
            show_activity=show_activity, version=version,
        )  # fmt: skip

    # Bob only takes messages from people he follows; he follows Alice.
    await publish_to_chat("profiles", settings(bob.id, "people_i_follow", 2))
    followed = FollowCreated(
        follower_id=bob.id, followee_id=alice.id, via_request=False, created_at=datetime.now(UTC)
    )
    await publish_to_chat("profiles", followed)
    await publish_to_chat("profiles", followed)  # redelivered: a no-op
    await wait_until(lambda: _at_least(rows, privacy, 1, follows, 1))
    stranger = await carol.open(bob)
    assert (stranger.status_code, stranger.json()["code"]) == (403, "messaging_not_allowed")
    # Someone Bob follows reaches him directly: no request.
    opened = await alice.open(bob)
    assert opened.status_code == 201
    conversation_id = opened.json()["id"]
    assert (await bob.get(f"/conversations/{conversation_id}")).json()["requestState"] == "accepted"
    assert (await alice.send(conversation_id, "hi bob")).status_code == 201

    # An older settings message arriving late changes nothing (version-checked).
    await publish_to_chat("profiles", settings(bob.id, "everyone", 1))
    # Under "everyone" a stranger opens a request (Dave, to Carol, who has no settings).
    assert (await dave.open(carol)).json()["requestState"] == "accepted"
    request_id = (await dave.open(carol)).json()["id"]
    assert (await carol.get(f"/conversations/{request_id}")).json()["requestState"] == "pending"

    # "nobody": no new conversations at all, even from people Bob follows.
    await publish_to_chat("profiles", settings(bob.id, "nobody", 3))

    async def nobody() -> bool:
        async with runtime.database().sessions() as session:
            return (
                await session.scalar(sa.select(privacy.c.who_can_message).where(privacy.c.user_id == bob.id))
                == "nobody"
            )

    await wait_until(nobody)
    assert (await dave.open(bob)).json()["code"] == "messaging_not_allowed"
    assert (await carol.open(bob)).json()["code"] == "messaging_not_allowed"
    # The existing, accepted conversation goes on (history and replies stay).
    assert (await alice.send(conversation_id, "still here")).status_code == 201

    # Unfollowing under people_i_follow: Alice becomes a stranger for new conversations.
    await publish_to_chat("profiles", settings(bob.id, "people_i_follow", 4))
    await publish_to_chat(
        "profiles", FollowRemoved(follower_id=bob.id, followee_id=alice.id, reason="unfollow")
    )

    async def unfollowed() -> bool:
        return await rows(follows) == 0

    await wait_until(unfollowed)
    await wait_until(lambda: _privacy_version(runtime, bob.id, 4))
    eve = user()
    assert (await eve.open(bob)).json()["code"] == "messaging_not_allowed"


async def _equals(read: Callable[[], Awaitable[Any]], expected: Any) -> bool:
    return await read() == expected


async def _at_least(rows, *pairs) -> bool:
    for table, n in zip(pairs[::2], pairs[1::2], strict=True):
        if await rows(table) < n:
            return False
    return True


async def _privacy_version(runtime, user_id: uuid.UUID, version: int) -> bool:
    from nexgate.chat.adapters.sql.models import privacy

    async with runtime.database().sessions() as session:
        return (
            await session.scalar(sa.select(privacy.c.version).where(privacy.c.user_id == user_id)) == version
        )


async def test_profile_snapshots_in_conversation_list_are_version_checked(
    user, runtime, publish_to_chat, wait_until
) -> None:
    from nexgate.chat.adapters.sql.models import profiles
    from nexgate.contracts.profiles import AvatarRef, ProfileCreated, ProfileDeleted, ProfileUpdated

    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    assert (await alice.send(conversation_id, "hi")).status_code == 201

    async def other_of(viewer: Any) -> Any:
        items = (await viewer.get("/conversations")).json()["items"]
        return next(i for i in items if i["id"] == conversation_id)["otherParticipant"]

    # No replica row yet: the id with null fields.
    assert await other_of(alice) == {
        "userId": str(bob.id), "username": None, "displayName": None, "avatar": None, "deactivated": False,
    }  # fmt: skip

    def snapshot(kind: Any, version: int, name: str, avatar: AvatarRef | None = None) -> Any:
        return kind(
            user_id=bob.id, username=f"bob{version}", display_name=name, avatar=avatar, is_private=False,
            deactivated=False, version=version,
        )  # fmt: skip

    async def version() -> int | None:
        async with runtime.database().sessions() as session:
            return await session.scalar(sa.select(profiles.c.version).where(profiles.c.user_id == bob.id))

    async def inbox_rows() -> int:
        async with runtime.database().sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox))

    created = snapshot(ProfileCreated, 2, "Bob")
    await publish_to_chat("profiles", created)
    await wait_until(lambda: _equals(version, 2))
    await publish_to_chat("profiles", snapshot(ProfileUpdated, 1, "Stale Bob"))  # late: ignored
    avatar = AvatarRef(file_id=uuid.uuid4(), url="https://cdn.example/bob.webp", blurhash="LKO2?U%2Tw=w")
    newest = snapshot(ProfileUpdated, 3, "Bob Newest", avatar)
    await publish_to_chat("profiles", newest)
    await wait_until(lambda: _equals(version, 3))
    await wait_until(lambda: _equals(inbox_rows, 3))  # the stale one was consumed too
    expected = {
        "userId": str(bob.id), "username": "bob3", "displayName": "Bob Newest",
        "avatar": {"url": "https://cdn.example/bob.webp", "blurhash": "LKO2?U%2Tw=w"}, "deactivated": False,
    }  # fmt: skip
    assert await other_of(alice) == expected

    # Redelivery of an older snapshot (same message id) is a no-op.
    await publish_to_chat("profiles", created)
    await publish_to_chat("profiles", newest)
    await asyncio.sleep(0.5)
    assert await inbox_rows() == 3
    assert await other_of(alice) == expected
    # Bob sees Alice, who has no snapshot.
    assert (await other_of(bob))["userId"] == str(alice.id)

    await publish_to_chat("profiles", ProfileDeleted(user_id=bob.id))
    await wait_until(lambda: _equals(version, None))
    assert (await other_of(alice))["username"] is None


async def test_deactivated_user_cannot_be_messaged_until_reactivated(
    user, runtime, publish_to_chat, wait_until
) -> None:
    from nexgate.chat.adapters.sql.models import profiles
    from nexgate.contracts.auth import UserDeactivated, UserReactivated

    alice, bob, carol = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)

    async def deactivated() -> bool | None:
        async with runtime.database().sessions() as session:
            return await session.scalar(
                sa.select(profiles.c.account_deactivated).where(profiles.c.user_id == bob.id)
            )

    async def shown() -> bool:
        items = (await alice.get("/conversations", folder="inbox")).json()["items"]
        return next(i for i in items if i["id"] == conversation_id)["otherParticipant"]["deactivated"]

    assert (await alice.send(conversation_id, "before")).status_code == 201
    gone = UserDeactivated(user_id=bob.id)
    await publish_to_chat("auth", gone)
    await publish_to_chat("auth", gone)  # redelivered: a no-op
    await wait_until(lambda: _equals(deactivated, True))
    refused = await alice.send(conversation_id, "are you there?")
    assert (refused.status_code, refused.json()["code"]) == (403, "messaging_not_allowed")
    opened = await carol.open(bob)
    assert (opened.status_code, opened.json()["code"]) == (403, "messaging_not_allowed")
    assert await shown() is True
    # History stays; the deactivated user's own view is not the point here.
    texts = [
        m["text"] for m in (await alice.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    ]
    assert texts == ["before"]

    await publish_to_chat("auth", UserReactivated(user_id=bob.id))
    await wait_until(lambda: _equals(deactivated, False))
    assert await shown() is False
    assert (await alice.send(conversation_id, "welcome back")).status_code == 201
    assert (await carol.open(bob)).status_code == 201
