"""Chat use cases. Authorisation lives here: a non-member sees 404 for every id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from nexgate.chat.domain.model import (
    ACCEPTED,
    DECLINED,
    DELETE_WINDOW,
    EDIT_WINDOW,
    MAX_MEDIA,
    PENDING,
    REQUEST_MESSAGE_LIMIT,
    ConversationView,
    Member,
    Message,
    UnreadSummary,
    body_hash,
    normalize_text,
    preview,
    validate_emoji,
)
from nexgate.chat.ports import ChatStore, ContactPolicy, MediaGateway, MessageOutbox
from nexgate.contracts.chat import MessageRequestAccepted, MessageRetracted, MessageSent
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from nexgate.kernel.ids import new_id


def _not_found() -> NotFound:
    return NotFound("No such conversation.", code="conversation_not_found")


def _not_allowed() -> Forbidden:
    # The same answer for a block and a declined request: the sender cannot tell them apart.
    return Forbidden("You cannot message this user.", code="messaging_not_allowed")


async def _membership(store: ChatStore, conversation_id: uuid.UUID, actor: uuid.UUID) -> Member:
    member = await store.get_member(conversation_id, actor)
    if member is None:
        raise _not_found()
    return member


async def _message_for_member(store: ChatStore, message_id: uuid.UUID, actor: uuid.UUID) -> Message:
    message = await store.get_message(message_id)
    if message is None or await store.get_member(message.conversation_id, actor) is None:
        raise NotFound("No such message.", code="message_not_found")
    return message


async def _others(
    store: ChatStore, conversation_id: uuid.UUID, actor: uuid.UUID, *, lock: bool
) -> list[Member]:
    return [m for m in await store.members_of(conversation_id, lock=lock) if m.user_id != actor]


async def open_direct(
    *,
    actor: uuid.UUID,
    participant_ids: Sequence[uuid.UUID],
    store: ChatStore,
    policy: ContactPolicy,
    clock: Clock,
) -> tuple[ConversationView, bool]:
    others = {p for p in participant_ids if p != actor}
    if len(others) != 1 or len(participant_ids) != 1:
        raise ValidationFailed(
            "A direct conversation has exactly one other participant.", code="invalid_participants"
        )
    (other,) = others
    if not await policy.may_contact(actor, other):
        raise _not_allowed()
    conversation_id, created = await store.open_direct(
        new_id=new_id(), creator=actor, other=other, now=clock.now()
    )
    view = await store.view(conversation_id, actor)
    assert view is not None
    return view, created


async def get_conversation(
    *, actor: uuid.UUID, conversation_id: uuid.UUID, store: ChatStore
) -> ConversationView:
    view = await store.view(conversation_id, actor)
    if view is None:
        raise _not_found()
    return view


async def list_conversations(
    *,
    actor: uuid.UUID,
    folder: str,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    store: ChatStore,
) -> Sequence[ConversationView]:
    if folder not in ("inbox", "requests", "archived"):
        raise ValidationFailed("folder is inbox, requests or archived.", code="invalid_folder")
    return await store.list_conversations(actor, folder=folder, after=after, limit=limit)


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    created: bool


async def send_message(
    *,
    actor: uuid.UUID,
    conversation_id: uuid.UUID,
    client_message_id: str,
    text: str | None,
    media_file_ids: Sequence[uuid.UUID],
    reply_to_message_id: uuid.UUID | None,
    store: ChatStore,
    policy: ContactPolicy,
    media: MediaGateway,
    outbox: MessageOutbox,
    clock: Clock,
) -> Sent:
    await _membership(store, conversation_id, actor)
    if len(media_file_ids) > MAX_MEDIA:
        raise ValidationFailed(f"At most {MAX_MEDIA} attachments.", code="too_many_attachments")
    body = normalize_text(text or "") if not media_file_ids or text else ""
    digest = body_hash(body + "\x00" + ",".join(map(str, media_file_ids)), reply_to_message_id)

    # Lock order: the conversation row first. Every send into this conversation waits here, so
    # the replay check below sees any message a concurrent retry committed.
    conversation = await store.get_conversation(conversation_id, lock=True)
    assert conversation is not None
    existing = await store.find_by_client_id(conversation_id, actor, client_message_id)
    if existing is not None:
        if existing.body_hash != digest:
            raise ValidationFailed(
                "This clientMessageId was used for another message.", code="idempotency_mismatch"
            )
        return Sent(existing, created=False)

    members = await store.members_of(conversation_id, lock=True)  # ascending user id
    me = next(m for m in members if m.user_id == actor)
    others = [m for m in members if m.user_id != actor]
    for other in others:
        if other.request_state == DECLINED or not await policy.may_contact(actor, other.user_id):
            raise _not_allowed()
    is_request = any(o.request_state == PENDING for o in others) and me.request_state == ACCEPTED
    if is_request:
        if media_file_ids:
            raise Forbidden("Media cannot be sent in a message request.", code="media_not_allowed_in_request")
        if await store.count_sent_by(conversation_id, actor) >= REQUEST_MESSAGE_LIMIT:
            raise RateLimited(
                "Wait until the request is accepted.", retry_after=3600, code="request_limit_reached"
            )
    if reply_to_message_id is not None:
        target = await store.get_message(reply_to_message_id)
        if target is None or target.conversation_id != conversation_id or target.deleted:
            raise ValidationFailed(
                "The reply target is not in this conversation.", code="invalid_reply_target"
            )
    media_kinds = await media.attach(actor, media_file_ids) if media_file_ids else []

    now = clock.now()
    message_id = new_id()
    seq = await store.next_seq(conversation_id, message_id, now)
    message = Message(
        id=message_id,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=actor,
        client_message_id=client_message_id,
        body_hash=digest,
        text=body,
        reply_to_message_id=reply_to_message_id,
        created_at=now,
    )
    await store.add_message(message)
    await store.message_added(conversation_id, actor, seq)
    if me.request_state == PENDING:
        # Replying to a request accepts it.
        await store.set_request_state(conversation_id, actor, ACCEPTED)
        await outbox.add(
            MessageRequestAccepted(
                conversation_id=conversation_id, requester_id=others[0].user_id, recipient_id=actor
            )
        )
    first_of_request = is_request and seq == 1
    notify = [o.user_id for o in others if not o.muted(now) and (not is_request or first_of_request)]
    await outbox.add(
        MessageSent(
            message_id=message_id,
            conversation_id=conversation_id,
            sender_id=actor,
            recipient_ids=[o.user_id for o in others],
            notify_user_ids=notify,
            is_request=is_request,
            kind=conversation.kind,
            preview_text=preview(body),
            media_kinds=media_kinds,
            sent_at=now,
        )
    )
    return Sent(message, created=True)


async def list_messages(
    *,
    actor: uuid.UUID,
    conversation_id: uuid.UUID,
    before: int | None,
    after: int | None,
    limit: int,
    store: ChatStore,
) -> Sequence[Message]:
    member = await _membership(store, conversation_id, actor)
    if before is not None and after is not None:
        raise ValidationFailed("Give before or after, not both.", code="invalid_range")
    return await store.list_messages(
        conversation_id,
        viewer_id=actor,
        before=before,
        after=after,
        not_before=member.cleared_before_seq,
        limit=limit,
    )


async def mark_read(
    *, actor: uuid.UUID, conversation_id: uuid.UUID, up_to_seq: int, store: ChatStore
) -> Member:
    await _membership(store, conversation_id, actor)
    if up_to_seq < 0:
        raise ValidationFailed("upToSeq is not negative.", code="invalid_seq")
    conversation = await store.get_conversation(conversation_id, lock=True)
    assert conversation is not None
    await store.mark_read(conversation_id, actor, min(up_to_seq, conversation.last_seq))
    member = await store.get_member(conversation_id, actor)
    assert member is not None
    return member


async def respond_to_request(
    *, actor: uuid.UUID, conversation_id: uuid.UUID, accept: bool, store: ChatStore, outbox: MessageOutbox
) -> ConversationView:
    member = await _membership(store, conversation_id, actor)
    if member.request_state == ACCEPTED:
        others = await _others(store, conversation_id, actor, lock=False)
        if any(o.request_state != ACCEPTED for o in others):
            raise Forbidden("Only the request's recipient answers it.", code="not_request_recipient")
        if not accept:
            raise Conflict("The conversation is already accepted.", code="already_accepted")
        return await get_conversation(actor=actor, conversation_id=conversation_id, store=store)
    state = ACCEPTED if accept else DECLINED
    if member.request_state != state:
        await store.get_conversation(conversation_id, lock=True)
        await store.set_request_state(conversation_id, actor, state)
        if accept:
            requester = (await _others(store, conversation_id, actor, lock=False))[0].user_id
            await outbox.add(
                MessageRequestAccepted(
                    conversation_id=conversation_id, requester_id=requester, recipient_id=actor
                )
            )
    return await get_conversation(actor=actor, conversation_id=conversation_id, store=store)


async def update_my_settings(
    *, actor: uuid.UUID, conversation_id: uuid.UUID, changes: dict[str, object], store: ChatStore
) -> ConversationView:
    await _membership(store, conversation_id, actor)
    if changes:
        await store.update_member(conversation_id, actor, changes)
    return await get_conversation(actor=actor, conversation_id=conversation_id, store=store)


async def clear_for_me(*, actor: uuid.UUID, conversation_id: uuid.UUID, store: ChatStore) -> None:
    """ "Delete chat for me": hide history up to now; the conversation returns with a new message."""
    await _membership(store, conversation_id, actor)
    conversation = await store.get_conversation(conversation_id, lock=True)
    assert conversation is not None
    await store.mark_read(conversation_id, actor, conversation.last_seq)
    await store.update_member(conversation_id, actor, {"cleared_before_seq": conversation.last_seq})


async def edit_message(
    *, actor: uuid.UUID, message_id: uuid.UUID, text: str, store: ChatStore, clock: Clock
) -> Message:
    message = await _message_for_member(store, message_id, actor)
    if message.sender_id != actor:
        raise Forbidden("Only the sender edits a message.", code="not_message_sender")
    if message.deleted:
        raise Conflict("The message was deleted.", code="message_deleted")
    now = clock.now()
    if now - message.created_at > EDIT_WINDOW:
        raise Conflict("Messages can be edited for 15 minutes.", code="edit_window_closed")
    await store.edit_message(message_id, normalize_text(text), now)
    edited = await store.get_message(message_id)
    assert edited is not None
    return edited


async def delete_for_everyone(
    *, actor: uuid.UUID, message_id: uuid.UUID, store: ChatStore, outbox: MessageOutbox, clock: Clock
) -> None:
    message = await _message_for_member(store, message_id, actor)
    if message.sender_id != actor:
        raise Forbidden("Only the sender deletes a message for everyone.", code="not_message_sender")
    if message.deleted:
        return
    now = clock.now()
    if now - message.created_at > DELETE_WINDOW:
        raise Conflict("Messages can be deleted for everyone for 24 hours.", code="delete_window_closed")
    await store.get_conversation(message.conversation_id, lock=True)
    others = await _others(store, message.conversation_id, actor, lock=True)
    await store.tombstone(message_id, now)
    for other in others:
        await store.recount_unread(message.conversation_id, other.user_id)
    await outbox.add(
        MessageRetracted(
            message_id=message_id,
            conversation_id=message.conversation_id,
            recipient_ids=[o.user_id for o in others],
        )
    )


async def delete_for_me(*, actor: uuid.UUID, message_id: uuid.UUID, store: ChatStore, clock: Clock) -> None:
    """Hide one message for the caller only (any member, any message, no time limit)."""
    await _message_for_member(store, message_id, actor)
    await store.hide_message(message_id, actor, clock.now())


async def react(
    *,
    actor: uuid.UUID,
    message_id: uuid.UUID,
    emoji: str | None,
    store: ChatStore,
    policy: ContactPolicy,
    clock: Clock,
) -> Message:
    message = await _message_for_member(store, message_id, actor)
    if emoji is None:
        await store.remove_reaction(message_id, actor)
    else:
        emoji = validate_emoji(emoji)
        if message.deleted:
            raise Conflict("The message was deleted.", code="message_deleted")
        for other in await _others(store, message.conversation_id, actor, lock=False):
            if not await policy.may_contact(actor, other.user_id):
                raise _not_allowed()
        await store.set_reaction(message_id, actor, emoji, clock.now())
    reacted = await store.get_message(message_id)
    assert reacted is not None
    return reacted


async def unread(*, actor: uuid.UUID, store: ChatStore) -> UnreadSummary:
    return await store.unread_summary(actor)
