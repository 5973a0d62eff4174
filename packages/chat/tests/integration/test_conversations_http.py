"""Conversations, requests, receipts and unread counts over HTTP on the real services."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from nexgate.chat.adapters.sql.models import members


async def test_open_direct_conversation_is_idempotent_and_unique_per_pair(user) -> None:
    alice, bob = user(), user()
    first = await alice.open(bob)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["otherUserId"], body["requestState"], body["lastSeq"]) == (str(bob.id), "accepted", 0)
    again = await alice.open(bob)
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    reverse = await bob.open(alice)
    assert (reverse.status_code, reverse.json()["id"]) == (200, body["id"])
    assert reverse.json()["requestState"] == "pending"

    myself = await alice.client.post(
        "/api/v1/chat/conversations", json={"participantIds": [str(alice.id)]}, headers=alice.headers
    )
    assert (myself.status_code, myself.json()["code"]) == (422, "invalid_participants")
    unknown = await alice.client.post(
        "/api/v1/chat/conversations", json={"participantIds": [str(bob.id)], "x": 1}, headers=alice.headers
    )
    assert unknown.status_code in (400, 422)
    anonymous = await alice.client.post("/api/v1/chat/conversations", json={"participantIds": [str(bob.id)]})
    assert anonymous.status_code == 401


async def test_non_member_gets_404_for_every_conversation_and_message_route(user, sockets) -> None:
    alice, bob, mallory = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)
    sent = (await alice.send(conversation_id, "private")).json()
    c, m = f"/conversations/{conversation_id}", f"/messages/{sent['id']}"
    for response in [
        await mallory.get(c),
        await mallory.get(f"{c}/messages"),
        await mallory.send(conversation_id, "let me in"),
        await mallory.post(f"{c}/read", {"upToSeq": 1}),
        await mallory.post(f"{c}/accept"),
        await mallory.post(f"{c}/decline"),
        await mallory.client.patch(f"/api/v1/chat{c}/me", json={"archived": True}, headers=mallory.headers),
        await mallory.client.delete(f"/api/v1/chat{c}/me", headers=mallory.headers),
        await mallory.client.patch(f"/api/v1/chat{m}", json={"text": "x"}, headers=mallory.headers),
        await mallory.client.delete(f"/api/v1/chat{m}", headers=mallory.headers),
        await mallory.client.put(f"/api/v1/chat{m}/reaction", json={"emoji": "👍"}, headers=mallory.headers),
        await mallory.client.delete(f"/api/v1/chat{m}/reaction", headers=mallory.headers),
        await mallory.client.delete(f"/api/v1/chat{m}?scope=me", headers=mallory.headers),
        await mallory.get(f"{m}/media/{uuid.uuid4()}"),
        await mallory.get("/presence", userIds=str(alice.id)),
        await mallory.get(f"/conversations/{uuid.uuid4()}"),
    ]:
        assert response.status_code == 404, response.text
    # The socket's send, read and typing frames answer the same way.
    socket = await sockets(mallory.headers)
    for frame in (
        {"type": "send", "conversationId": conversation_id, "clientMessageId": "x", "text": "let me in"},
        {"type": "read", "conversationId": conversation_id, "upToSeq": 1},
        {"type": "typing", "conversationId": conversation_id},
    ):
        socket.send(frame)
        answer = await socket.next()
        assert (answer["type"], answer["code"]) == ("error", "conversation_not_found"), answer
    # Nothing leaked into the conversation.
    assert [x["text"] for x in (await bob.get(f"{c}/messages")).json()["items"]] == ["private"]


async def test_stranger_message_becomes_request_with_limits(user, messages) -> None:
    alice, bob = user(), user()
    conversation_id = (await alice.open(bob)).json()["id"]
    # An opened conversation without messages shows in no folder.
    assert (await bob.get("/conversations", folder="requests")).json()["items"] == []
    for i in range(3):
        assert (await alice.send(conversation_id, f"hi {i}")).status_code == 201
    over = await alice.send(conversation_id, "hi again")
    assert (over.status_code, over.json()["code"]) == (429, "request_limit_reached")
    media = await alice.send(conversation_id, None, mediaFileIds=[str(uuid.uuid4())])
    assert (media.status_code, media.json()["code"]) == (403, "media_not_allowed_in_request")

    requests = (await bob.get("/conversations", folder="requests")).json()["items"]
    assert [(r["id"], r["requestState"], r["unreadCount"]) for r in requests] == [
        (conversation_id, "pending", 3)
    ]
    assert (await bob.get("/conversations")).json()["items"] == []
    assert (await bob.get("/unread")).json() == {
        "unreadConversations": 0,
        "unreadMessages": 0,
        "pendingRequests": 1,
    }

    sent = await messages("chat.message_sent.v1")
    assert [m.is_request for m in sent] == [True, True, True]
    # A request notifies only on its first message; no message text beyond an 80-char preview.
    assert [m.notify_user_ids for m in sent] == [[bob.id], [], []]
    assert (sent[0].recipient_ids, sent[0].preview_text) == ([bob.id], "hi 0")

    mine = await alice.post(f"/conversations/{conversation_id}/accept")
    assert (mine.status_code, mine.json()["code"]) == (403, "not_request_recipient")
    accepted = await bob.post(f"/conversations/{conversation_id}/accept")
    assert (accepted.status_code, accepted.json()["requestState"]) == (200, "accepted")
    assert (await alice.send(conversation_id, "thanks")).status_code == 201
    assert [c["id"] for c in (await bob.get("/conversations")).json()["items"]] == [conversation_id]
    (event,) = await messages("chat.message_request_accepted.v1")
    assert (event.requester_id, event.recipient_id) == (alice.id, bob.id)
    last = (await messages("chat.message_sent.v1"))[-1]
    assert (last.is_request, last.notify_user_ids) == (False, [bob.id])


async def test_reply_accepts_request(user, messages) -> None:
    alice, bob = user(), user()
    conversation_id = (await alice.open(bob)).json()["id"]
    await alice.send(conversation_id, "hello?")
    assert (await bob.send(conversation_id, "yes")).status_code == 201
    assert (await bob.get(f"/conversations/{conversation_id}")).json()["requestState"] == "accepted"
    assert len(await messages("chat.message_request_accepted.v1")) == 1
    for _ in range(4):
        assert (await alice.send(conversation_id, "more")).status_code == 201


async def test_accept_and_silent_decline(user) -> None:
    alice, bob = user(), user()
    conversation_id = (await alice.open(bob)).json()["id"]
    await alice.send(conversation_id, "buy my stuff")
    declined = await bob.post(f"/conversations/{conversation_id}/decline")
    assert (declined.status_code, declined.json()["requestState"]) == (200, "declined")
    for folder in ("inbox", "requests", "archived"):
        assert (await bob.get("/conversations", folder=folder)).json()["items"] == []
    assert (await bob.get("/unread")).json()["pendingRequests"] == 0
    refused = await alice.send(conversation_id, "hello??")
    assert (refused.status_code, refused.json()["code"]) == (403, "messaging_not_allowed")
    # The sender's own view does not reveal the decline.
    assert (await alice.get(f"/conversations/{conversation_id}")).json()["requestState"] == "accepted"
    # The recipient may change their mind.
    assert (await bob.post(f"/conversations/{conversation_id}/accept")).json()["requestState"] == "accepted"
    assert (await alice.send(conversation_id, "hello!")).status_code == 201


async def test_unread_counts_and_conversation_order_by_activity(user, runtime) -> None:
    alice, bob, carol = user(), user(), user()
    with_bob = await alice.accepted_with(bob)
    with_carol = await alice.accepted_with(carol)
    for i in range(3):
        await bob.send(with_bob, f"b{i}")
    await carol.send(with_carol, "c0")
    assert [c["id"] for c in (await alice.get("/conversations")).json()["items"]] == [with_carol, with_bob]
    await bob.send(with_bob, "b3")
    items = (await alice.get("/conversations")).json()["items"]
    assert [(c["id"], c["unreadCount"], c["lastMessage"]["text"]) for c in items] == [
        (with_bob, 4, "b3"),
        (with_carol, 1, "c0"),
    ]
    assert (await alice.get("/unread")).json() == {
        "unreadConversations": 2,
        "unreadMessages": 5,
        "pendingRequests": 0,
    }
    first = await alice.get("/conversations", limit=1)
    second = await alice.get("/conversations", limit=1, cursor=first.json()["nextCursor"])
    assert [c["id"] for c in first.json()["items"] + second.json()["items"]] == [with_bob, with_carol]
    assert second.json()["nextCursor"] is None

    assert (await alice.post(f"/conversations/{with_bob}/read", {"upToSeq": 2})).json() == {
        "lastReadSeq": 2,
        "unreadCount": 2,
    }
    # Never backwards; a marker past the end is capped at the last seq.
    assert (await alice.post(f"/conversations/{with_bob}/read", {"upToSeq": 1})).json()["lastReadSeq"] == 2
    assert (await alice.post(f"/conversations/{with_bob}/read", {"upToSeq": 99})).json() == {
        "lastReadSeq": 4,
        "unreadCount": 0,
    }
    # The sender's own messages are never unread for them.
    assert (await bob.get(f"/conversations/{with_bob}")).json()["unreadCount"] == 0
    async with runtime.database().sessions() as session:
        stored = await session.scalar(
            sa.select(members.c.last_read_seq).where(
                members.c.conversation_id == uuid.UUID(with_bob), members.c.user_id == alice.id
            )
        )
    assert stored == 4


async def test_member_settings_archive_mute_pin(user, messages) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    await alice.send(conversation_id, "hi")
    patched = await bob.client.patch(
        f"/api/v1/chat/conversations/{conversation_id}/me",
        json={"archived": True, "pinned": True, "mutedUntil": "2999-01-01T00:00:00Z"},
        headers=bob.headers,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["archived"], patched.json()["pinned"], patched.json()["muted"]) == (
        True,
        True,
        True,
    )
    assert (await bob.get("/conversations")).json()["items"] == []
    assert [c["id"] for c in (await bob.get("/conversations", folder="archived")).json()["items"]] == [
        conversation_id
    ]
    await alice.send(conversation_id, "are you there")
    # Muted: the message is published but nobody is to be alerted.
    assert (await messages("chat.message_sent.v1"))[-1].notify_user_ids == []
    assert (await bob.get("/conversations", folder="nope")).status_code == 422


async def test_delete_chat_for_me_hides_history_until_a_new_message(user) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    for text in ("one", "two"):
        await alice.send(conversation_id, text)
    cleared = await bob.client.delete(f"/api/v1/chat/conversations/{conversation_id}/me", headers=bob.headers)
    assert cleared.status_code == 204
    assert (await bob.get("/conversations")).json()["items"] == []
    assert (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"] == []
    assert (await bob.get("/unread")).json()["unreadMessages"] == 0
    # Only for the caller.
    assert len((await alice.get(f"/conversations/{conversation_id}/messages")).json()["items"]) == 2
    await alice.send(conversation_id, "three")
    (item,) = (await bob.get("/conversations")).json()["items"]
    assert (item["id"], item["unreadCount"], item["lastMessage"]["text"]) == (conversation_id, 1, "three")
    assert [
        m["text"] for m in (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    ] == ["three"]


async def test_new_requests_to_strangers_are_limited_per_day(user) -> None:
    spammer = user()
    for _ in range(50):
        assert (await spammer.open(user())).status_code == 201
    refused = await spammer.open(user())
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0


async def test_conversation_preview_skips_messages_hidden_for_me(user) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    sent = {}
    for sender, text in ((alice, "one"), (bob, "two"), (alice, "three")):
        response = await sender.send(conversation_id, text)
        assert response.status_code == 201, response.text
        sent[text] = response.json()["id"]

    async def preview(viewer) -> dict | None:
        listed = (await viewer.get("/conversations")).json()["items"]
        item = next(i for i in listed if i["id"] == conversation_id)
        single = (await viewer.get(f"/conversations/{conversation_id}")).json()
        assert single["lastMessage"] == item["lastMessage"]
        return item["lastMessage"]

    async def hide(viewer, text: str) -> None:
        url = f"/api/v1/chat/messages/{sent[text]}"
        assert (
            await viewer.client.delete(url, params={"scope": "me"}, headers=viewer.headers)
        ).status_code == 204

    await hide(bob, "three")
    assert (await preview(bob))["text"] == "two"
    assert (await preview(alice))["text"] == "three"  # only the caller's view changes
    await hide(bob, "two")
    assert (await preview(bob))["id"] == sent["one"]
    deleted = await alice.client.delete(
        f"/api/v1/chat/messages/{sent['one']}", params={"scope": "everyone"}, headers=alice.headers
    )
    assert deleted.status_code == 204, deleted.text
    tombstone = await preview(bob)
    assert (tombstone["id"], tombstone["deleted"], tombstone["text"]) == (sent["one"], True, None)
    await hide(bob, "one")
    assert await preview(bob) is None
    assert (await preview(alice))["text"] == "three"
