"""Sending, idempotent retries, catch-up, edits, deletes and reactions over HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from nexgate.chat.adapters.sql.models import messages as messages_table


async def test_client_message_id_makes_send_idempotent_over_http_and_ws(user, sockets) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    first = await alice.send(conversation_id, "is this still available in size 42?", cmid="c-1")
    assert first.status_code == 201, first.text
    retry = await alice.send(conversation_id, "is this still available in size 42?", cmid="c-1")
    assert retry.status_code == 200
    assert retry.json() == first.json()
    other = await alice.send(conversation_id, "something else", cmid="c-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_mismatch")
    # The same client id from the other member is a different message.
    assert (await bob.send(conversation_id, "yes", cmid="c-1")).status_code == 201
    items = (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    assert [(m["seq"], m["text"]) for m in items] == [(1, "is this still available in size 42?"), (2, "yes")]
    assert (await bob.get(f"/conversations/{conversation_id}")).json()["unreadCount"] == 0
    assert (await alice.get(f"/conversations/{conversation_id}")).json()["unreadCount"] == 1

    # Over the socket: an ack with the stored seq; a retry (socket or HTTP) is the same message.
    socket = await sockets(alice.headers)
    frame = {
        "type": "send",
        "conversationId": conversation_id,
        "clientMessageId": "ws-1",
        "text": "on my way",
    }
    socket.send(frame)
    first, second = await socket.next(), await socket.next()
    # The ack, and this device's echo of its own send as an event (in either order).
    ack, echo = (first, second) if first["type"] == "ack" else (second, first)
    assert (ack["clientMessageId"], ack["seq"], ack["created"]) == ("ws-1", 3, True)
    assert (echo["userSeq"], echo["data"]["id"]) == (ack["userSeq"], ack["messageId"])
    socket.send(frame)
    again = await socket.next_of("ack")
    assert (again["messageId"], again["seq"], again["created"]) == (ack["messageId"], 3, False)
    over_http = await alice.send(conversation_id, "on my way", cmid="ws-1")
    assert (over_http.status_code, over_http.json()["id"]) == (200, ack["messageId"])
    socket.send({**frame, "text": "changed my mind"})
    mismatch = await socket.next_of("error")
    assert (mismatch["code"], mismatch["clientMessageId"]) == ("idempotency_mismatch", "ws-1")
    # A clientMessageId is unique per sender, across conversations too.
    carol = user()
    elsewhere = await alice.accepted_with(carol)
    reused = await alice.send(elsewhere, "on my way", cmid="ws-1")
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_mismatch")
    items = (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    assert [m["seq"] for m in items] == [1, 2, 3]


async def test_message_body_rules(user) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)

    async def code(text: str | None, **extra: object) -> str:
        response = await alice.send(conversation_id, text, **extra)
        assert response.status_code >= 400
        return response.json()["code"]

    assert await code("") == "invalid_message_body"
    assert await code("   \n ") == "invalid_message_body"
    assert await code("x" * 4001) == "invalid_message_body"
    assert await code("bell\x07") == "invalid_message_body"
    assert await code("tab\tseparated") == "invalid_message_body"
    assert await code(None) == "invalid_message_body"
    assert await code("hi", mediaFileIds=[str(uuid.uuid4()) for _ in range(11)]) == "too_many_attachments"
    media = await alice.send(conversation_id, "look", mediaFileIds=[str(uuid.uuid4())])
    assert (media.status_code, media.json()["code"]) == (422, "invalid_attachment")
    assert (await alice.send(conversation_id, "hi", cmid="x" * 65)).status_code == 422
    unknown = await alice.send(conversation_id, "hi", color="red")
    assert unknown.status_code in (400, 422)

    ok = await alice.send(conversation_id, "line one\nCafe\u0301 " + "y" * 3986)
    assert ok.status_code == 201, ok.text
    assert ok.json()["text"].startswith("line one\nCafé ")
    assert len(ok.json()["text"]) == 4000
    # Nothing refused consumed a seq.
    assert ok.json()["seq"] == 1


async def test_replies_must_target_the_same_conversation(user) -> None:
    alice, bob, carol = user(), user(), user()
    with_bob = await alice.accepted_with(bob)
    with_carol = await alice.accepted_with(carol)
    elsewhere = (await carol.send(with_carol, "secret")).json()
    original = (await bob.send(with_bob, "size 42?")).json()
    bad = await alice.send(with_bob, "yes", replyToMessageId=elsewhere["id"])
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_reply_target")
    missing = await alice.send(with_bob, "yes", replyToMessageId=str(uuid.uuid4()))
    assert missing.json()["code"] == "invalid_reply_target"
    reply = await alice.send(with_bob, "yes", replyToMessageId=original["id"])
    assert (reply.status_code, reply.json()["replyToMessageId"]) == (201, original["id"])


async def test_reconnect_catch_up_returns_every_message_after_a_seq_once_in_order(user) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    for i in range(1, 8):
        sender = alice if i % 2 else bob
        assert (await sender.send(conversation_id, f"m{i}")).status_code == 201
    path = f"/conversations/{conversation_id}/messages"

    seen: list[int] = []
    after = 3
    while True:
        page = (await bob.get(path, after=after, limit=2)).json()
        seen += [m["seq"] for m in page["items"]]
        if not page["hasMore"]:
            break
        after = page["items"][-1]["seq"]
    assert seen == [4, 5, 6, 7]
    older = (await bob.get(path, before=5, limit=3)).json()
    assert ([m["seq"] for m in older["items"]], older["hasMore"]) == ([2, 3, 4], True)
    latest = (await bob.get(path, limit=2)).json()
    assert [m["text"] for m in latest["items"]] == ["m6", "m7"]
    assert (await bob.get(path, after=7)).json() == {"items": [], "hasMore": False}
    assert (await bob.get(path, after=1, before=3)).status_code == 422


async def test_edit_window_and_delete_for_everyone_window(user, runtime, messages) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    sent = (await alice.send(conversation_id, "teh price")).json()
    old = (await alice.send(conversation_id, "old news")).json()
    api = alice.client

    async def age(message_id: str, delta: timedelta) -> None:
        async with runtime.database().sessions() as session, session.begin():
            await session.execute(
                sa.update(messages_table)
                .where(messages_table.c.id == uuid.UUID(message_id))
                .values(created_at=messages_table.c.created_at - delta)
            )

    not_mine = await api.patch(f"/api/v1/chat/messages/{sent['id']}", json={"text": "x"}, headers=bob.headers)
    assert (not_mine.status_code, not_mine.json()["code"]) == (403, "not_message_sender")
    edited = await api.patch(
        f"/api/v1/chat/messages/{sent['id']}", json={"text": "the price"}, headers=alice.headers
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["text"], edited.json()["edited"], edited.json()["seq"]) == ("the price", True, 1)
    await age(sent["id"], timedelta(minutes=16))
    late = await api.patch(f"/api/v1/chat/messages/{sent['id']}", json={"text": "thé"}, headers=alice.headers)
    assert (late.status_code, late.json()["code"]) == (409, "edit_window_closed")

    theirs = await api.delete(f"/api/v1/chat/messages/{sent['id']}", headers=bob.headers)
    assert (theirs.status_code, theirs.json()["code"]) == (403, "not_message_sender")
    assert (await api.delete(f"/api/v1/chat/messages/{sent['id']}", headers=alice.headers)).status_code == 204
    await age(old["id"], timedelta(hours=25))
    closed = await api.delete(f"/api/v1/chat/messages/{old['id']}", headers=alice.headers)
    assert (closed.status_code, closed.json()["code"]) == (409, "delete_window_closed")

    items = (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    assert [(m["seq"], m["text"], m["deleted"]) for m in items] == [(1, None, True), (2, "old news", False)]
    gone = await api.patch(f"/api/v1/chat/messages/{sent['id']}", json={"text": "x"}, headers=alice.headers)
    assert (gone.status_code, gone.json()["code"]) == (409, "message_deleted")
    # The deleted message no longer counts as unread, and notifications is told.
    assert (await bob.get(f"/conversations/{conversation_id}")).json()["unreadCount"] == 1
    (retracted,) = await messages("chat.message_retracted.v1")
    assert (retracted.message_id, retracted.recipient_ids) == (uuid.UUID(sent["id"]), [bob.id])
    async with runtime.database().sessions() as session:
        stored = await session.scalar(
            sa.select(messages_table.c.text).where(messages_table.c.id == uuid.UUID(sent["id"]))
        )
    assert stored is None


async def test_reaction_one_per_user_replaced(user) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    message = (await alice.send(conversation_id, "sold!")).json()
    url = f"/api/v1/chat/messages/{message['id']}/reaction"
    api = alice.client
    for emoji in ("👍", "👍", "🎉"):
        response = await api.put(url, json={"emoji": emoji}, headers=bob.headers)
        assert response.status_code == 200, response.text
    await api.put(url, json={"emoji": "❤️"}, headers=alice.headers)
    got = (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"][0]["reactions"]
    assert sorted((r["userId"], r["emoji"]) for r in got) == sorted(
        [(str(bob.id), "🎉"), (str(alice.id), "❤️")]
    )
    for bad in ("", "ok", "👍 👍", "x" * 40):
        refused = await api.put(url, json={"emoji": bad}, headers=bob.headers)
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_reaction"), bad
    assert (await api.delete(url, headers=bob.headers)).status_code == 204
    assert (await api.delete(url, headers=bob.headers)).status_code == 204
    got = (await bob.get(f"/conversations/{conversation_id}/messages")).json()["items"][0]["reactions"]
    assert [(r["userId"], r["emoji"]) for r in got] == [(str(alice.id), "❤️")]


async def test_sends_are_rate_limited_per_user(user) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    for i in range(20):
        assert (await alice.send(conversation_id, f"spam {i}")).status_code == 201
    limited = await alice.send(conversation_id, "one more")
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    # Another user is not affected.
    assert (await bob.send(conversation_id, "hi")).status_code == 201


async def test_delete_for_me_hides_only_for_caller(user) -> None:
    alice, bob, mallory = user(), user(), user()
    conversation_id = await alice.accepted_with(bob)
    first = (await alice.send(conversation_id, "one")).json()
    await bob.send(conversation_id, "two")
    url = f"/api/v1/chat/messages/{first['id']}"
    api = alice.client
    assert (await api.delete(url, params={"scope": "me"}, headers=mallory.headers)).status_code == 404
    assert (await api.delete(url, params={"scope": "bogus"}, headers=bob.headers)).status_code == 422
    # A member may hide someone else's message, twice without harm.
    for _ in range(2):
        assert (await api.delete(url, params={"scope": "me"}, headers=bob.headers)).status_code == 204
    path = f"/conversations/{conversation_id}/messages"
    assert [m["text"] for m in (await bob.get(path)).json()["items"]] == ["two"]
    assert [m["text"] for m in (await alice.get(path)).json()["items"]] == ["one", "two"]


async def test_member_gets_403_editing_others_messages(user) -> None:
    alice, bob = user(), user()
    conversation_id = await alice.accepted_with(bob)
    sent = (await alice.send(conversation_id, "mine")).json()
    path = f"/api/v1/chat/messages/{sent['id']}"
    api = bob.client
    edit = await api.patch(path, json={"text": "yours now"}, headers=bob.headers)
    assert (edit.status_code, edit.json()["code"]) == (403, "not_message_sender")
    for scope in ("everyone", None):
        removed = await api.delete(path, params={"scope": scope} if scope else None, headers=bob.headers)
        assert (removed.status_code, removed.json()["code"]) == (403, "not_message_sender")
    message = (await alice.get(f"/conversations/{conversation_id}/messages")).json()["items"][0]
    assert (message["text"], message["edited"], message["deleted"]) == ("mine", False, False)
    # Hiding it for himself is his to do.
    assert (await api.delete(path, params={"scope": "me"}, headers=bob.headers)).status_code == 204
