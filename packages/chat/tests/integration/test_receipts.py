"""Delivered and read state, the readReceipts setting, presence and who gets notified."""

from __future__ import annotations

import uuid

import pytest

from .conftest import C

pytestmark = pytest.mark.timeout(90)


async def statuses(chat, conversation_id: str) -> list[str | None]:
    items = (await chat.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    return [m["status"] for m in items]


async def test_delivery_and_read_state_progress_and_never_regress(user, sockets) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    alice_socket = await sockets(alice.headers)
    bob_socket = await sockets(bob.headers)
    sent = [(await alice.send(conversation_id, f"m{i}")).json() for i in (1, 2)]
    assert [m["status"] for m in sent] == ["sent", "sent"]
    bob_events = [await bob_socket.next_event("message.created") for _ in sent]
    assert await statuses(alice, conversation_id) == ["sent", "sent"]
    # Bob sees no status on Alice's messages (only senders do).
    assert await statuses(bob, conversation_id) == [None, None]

    # Bob's phone acknowledges the first event: message 1 is delivered.
    bob_socket.send({"type": "delivered", "upToUserSeq": bob_events[0]["userSeq"]})
    receipt = await alice_socket.next_event("receipt.delivered")
    assert receipt["data"] == {"conversationId": conversation_id, "userId": str(bob.id), "upToSeq": 1}
    assert await statuses(alice, conversation_id) == ["delivered", "sent"]
    # Over HTTP, up to the second: both delivered.
    assert (await bob.post("/delivered", {"upToUserSeq": bob_events[1]["userSeq"]})).status_code == 204
    assert (await alice_socket.next_event("receipt.delivered"))["data"]["upToSeq"] == 2
    assert await statuses(alice, conversation_id) == ["delivered", "delivered"]
    # A late (lower) receipt changes nothing and announces nothing.
    bob_socket.send({"type": "delivered", "upToUserSeq": bob_events[0]["userSeq"]})
    await alice_socket.nothing_more()
    assert await statuses(alice, conversation_id) == ["delivered", "delivered"]

    # Reading message 1: read, and the read marker never moves back.
    read = await bob.post(f"/conversations/{conversation_id}/read", {"upToSeq": 1})
    assert read.json() == {"lastReadSeq": 1, "unreadCount": 1}
    assert (await alice_socket.next_event("receipt.read"))["data"]["upToSeq"] == 1
    assert await statuses(alice, conversation_id) == ["read", "delivered"]
    bob_socket.send({"type": "read", "conversationId": conversation_id, "upToSeq": 0})
    older = await bob.post(f"/conversations/{conversation_id}/read", {"upToSeq": 0})
    assert older.json() == {"lastReadSeq": 1, "unreadCount": 1}
    assert await statuses(alice, conversation_id) == ["read", "delivered"]
    conversation = (await alice.get(f"/conversations/{conversation_id}")).json()
    assert (conversation["otherLastDeliveredSeq"], conversation["otherLastReadSeq"]) == (2, 1)
    # Reading past the end is capped at the last message; reading implies delivery.
    assert (await bob.post(f"/conversations/{conversation_id}/read", {"upToSeq": 99})).json()[
        "lastReadSeq"
    ] == 2
    assert await statuses(alice, conversation_id) == ["read", "read"]


async def test_read_receipts_off_is_private_and_reciprocal(user, sockets) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    assert (await bob.get("/settings")).json() == {"readReceipts": True}
    off = await bob.client.patch(f"{C}/settings", json={"readReceipts": False}, headers=bob.headers)
    assert off.json() == {"readReceipts": False}
    bad = await bob.client.patch(f"{C}/settings", json={"readReceipt": False}, headers=bob.headers)
    assert bad.status_code in (400, 422)
    alice_socket = await sockets(alice.headers)
    bob_socket = await sockets(bob.headers)

    await alice.send(conversation_id, "did you see it?")
    await alice_socket.next_event("message.created")
    await bob_socket.next_event("message.created")
    # Bob reads: his own devices learn it (unread counts work), Alice learns nothing.
    read = await bob.post(f"/conversations/{conversation_id}/read", {"upToSeq": 1})
    assert read.json()["unreadCount"] == 0
    assert (await bob_socket.next_event("receipt.read"))["data"]["userId"] == str(bob.id)
    await alice_socket.nothing_more()
    assert await statuses(alice, conversation_id) == ["delivered"]
    assert (await alice.get(f"/conversations/{conversation_id}")).json()["otherLastReadSeq"] is None
    await bob.send(conversation_id, "yes")
    await alice_socket.next_event("message.created")
    await bob_socket.next_event("message.created")
    # Reciprocal: Alice keeps receipts on, yet Bob sees no read state from her.
    await alice.post(f"/conversations/{conversation_id}/read", {"upToSeq": 2})
    await bob_socket.nothing_more()
    assert await statuses(bob, conversation_id) == [None, "delivered"]
    assert (await bob.get(f"/conversations/{conversation_id}")).json()["otherLastReadSeq"] is None
    assert (await bob.get("/unread")).json()["unreadMessages"] == 0

    # Back on: read state shows both ways.
    await bob.client.patch(f"{C}/settings", json={"readReceipts": True}, headers=bob.headers)
    assert await statuses(alice, conversation_id) == ["read", None]
    assert await statuses(bob, conversation_id) == [None, "read"]


async def test_offline_recipient_listed_in_notify_user_ids_online_not(
    user, sockets, messages, settings
) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    bob_socket = await sockets(bob.headers)
    online = await alice.send(conversation_id, "you there?")
    await bob_socket.close()
    offline = await alice.send(conversation_id, "call me when you land")
    sent = {m.message_id: m for m in await messages("chat.message_sent.v1")}
    assert sent[uuid.UUID(offline.json()["id"])].notify_user_ids == [bob.id]
    assert sent[uuid.UUID(online.json()["id"])].notify_user_ids == []
    # Muted: not notified even while offline.
    until = "2099-01-01T00:00:00Z"
    await bob.client.patch(
        f"{C}/conversations/{conversation_id}/me", json={"mutedUntil": until}, headers=bob.headers
    )
    muted = await alice.send(conversation_id, "ping")
    sent = {m.message_id: m for m in await messages("chat.message_sent.v1")}
    assert sent[uuid.UUID(muted.json()["id"])].notify_user_ids == []
    # Presence, as the other member sees it.
    seen = (await alice.get("/presence", userIds=str(bob.id))).json()
    assert seen[0]["online"] is False
    assert seen[0]["lastSeenAt"] is not None
