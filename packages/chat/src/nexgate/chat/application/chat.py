"""Chat use cases. Authorisation lives here: a non-member sees 404 for every id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from nexgate.chat.domain.model import (
    ACCEPTED,
    DECLINED,
    DELETE_WINDOW,
    EDIT_WINDOW,
    MAX_MEDIA,
    PENDING,
    REQUEST_MESSAGE_LIMIT,
    STRANGER_DAILY_LIMIT,
    ConversationView,
    MediaItem,
    Member,
    Message,
    UnreadSummary,
    body_hash,
    delivery_status,
    normalize_text,
    preview,
    validate_emoji,
)
from nexgate.chat.ports import ChatStore, ContactPolicy, EventLog, MediaGateway, MessageOutbox, Presence
from nexgate.contracts.chat import MessageRequestAccepted, MessageRetracted, MessageSent
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import Conflict, DomainError, Forbidden, NotFound, RateLimited, ValidationFailed
from nexgate.kernel.ids import new_id

# Event types of the per-user log (the socket's ``event`` frames and ``GET /sync``).
MESSAGE_CREATED = "message.created"
MESSAGE_EDITED = "message.edited"
MESSAGE_DELETED = "message.deleted"
MESSAGE_HIDDEN = "message.hidden"
REACTIONS_CHANGED = "message.reactions_changed"
MEDIA_UPDATED = "message.media_updated"
RECEIPT_DELIVERED = "receipt.delivered"
RECEIPT_READ = "receipt.read"
REQUEST_ACCEPTED = "request.accepted"
CONVERSATION_UPDATED = "conversation.updated"


class CursorExpired(DomainError):
    status = 410
    default_code = "cursor_expired"
    title = "Cursor expired"


class Limiter(Protocol):
    async def hit(self, bucket: str, identity: str, *, limit: int, window_s: float) -> None: ...


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


async def _lock_members(store: ChatStore, conversation_id: uuid.UUID) -> list[Member]:
    """The fixed lock order: the conversation row, then its members by ascending user id."""
    conversation = await store.get_conversation(conversation_id, lock=True)
    if conversation is None:
        raise _not_found()
    return list(await store.members_of(conversation_id, lock=True))


def _ids(members: Sequence[Member]) -> list[uuid.UUID]:
    return [m.user_id for m in members]


async def open_direct(
    *,
    actor: uuid.UUID,
    participant_ids: Sequence[uuid.UUID],
    store: ChatStore,
    policy: ContactPolicy,
    limiter: Limiter,
    clock: Clock,
) -> tuple[ConversationView, bool]:
    others = {p for p in participant_ids if p != actor}
    if len(others) != 1 or len(participant_ids) != 1:
        raise ValidationFailed(
            "A direct conversation has exactly one other participant.", code="invalid_participants"
        )
    (other,) = others
    admission = await policy.admission(actor, other)
    if not admission.allowed:
        raise _not_allowed()
    existing = await store.direct_between(actor, other)
    if existing is None and admission.needs_request:
        await limiter.hit("chat.strangers", str(actor), limit=STRANGER_DAILY_LIMIT, window_s=86400)
    conversation_id, created = await store.open_direct(
        new_id=new_id(),
        creator=actor,
        other=other,
        other_state=PENDING if admission.needs_request else ACCEPTED,
        now=clock.now(),
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
    #: The sender's userSeq of the ``message.created`` event (0 for a replay).
    user_seq: int = 0


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
    events: EventLog,
    presence: Presence,
    clock: Clock,
) -> Sent:
    await _membership(store, conversation_id, actor)
    if not 1 <= len(client_message_id) <= 64:
        raise ValidationFailed("clientMessageId holds 1 to 64 characters.", code="validation_failed")
    if len(media_file_ids) > MAX_MEDIA:
        raise ValidationFailed(f"At most {MAX_MEDIA} attachments.", code="too_many_attachments")
    if len(set(media_file_ids)) != len(media_file_ids):
        raise ValidationFailed("An attachment is listed twice.", code="invalid_attachment")
    body = normalize_text(text or "") if not media_file_ids or text else ""
    digest = body_hash(body + "\x00" + ",".join(map(str, media_file_ids)), reply_to_message_id)

    # Lock order: the conversation row first. Every send into this conversation waits here, so
    # the replay check below sees any message a concurrent retry committed.
    members = await _lock_members(store, conversation_id)
    existing = await store.find_by_client_id(actor, client_message_id)
    if existing is not None:
        if existing.body_hash != digest or existing.conversation_id != conversation_id:
            raise ValidationFailed(
                "This clientMessageId was used for another message.", code="idempotency_mismatch"
            )
        return Sent(existing, created=False)

    me = next(m for m in members if m.user_id == actor)
    others = [m for m in members if m.user_id != actor]
    for other in others:
        if other.request_state == DECLINED or not await policy.may_contact(actor, other.user_id):
            raise _not_allowed()
    is_request = any(o.request_state == PENDING for o in others) and me.request_state == ACCEPTED
    if is_request:
        for other in others:  # the recipient may have tightened whoCanMessage since
            if not (await policy.admission(actor, other.user_id)).allowed:
                raise _not_allowed()
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
    message_id = new_id()
    attached = await media.attach(actor, media_file_ids, message_id) if media_file_ids else []

    now = clock.now()
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
        media=tuple(attached),
    )
    await store.add_message(message)
    if attached:
        await store.add_media(message_id, attached)
    await store.message_added(conversation_id, actor, seq)
    user_seqs = await events.append(_ids(members), MESSAGE_CREATED, message)
    if me.request_state == PENDING:
        # Replying to a request accepts it.
        await store.set_request_state(conversation_id, actor, ACCEPTED)
        await events.append(
            _ids(members), REQUEST_ACCEPTED, {"conversationId": conversation_id, "userId": actor}
        )
        await outbox.add(
            MessageRequestAccepted(
                conversation_id=conversation_id, requester_id=others[0].user_id, recipient_id=actor
            )
        )
    first_of_request = is_request and seq == 1
    online = await presence.online([o.user_id for o in others])
    notify = [
        o.user_id
        for o in others
        if not o.muted(now) and o.user_id not in online and (not is_request or first_of_request)
    ]
    await outbox.add(
        MessageSent(
            message_id=message_id,
            conversation_id=conversation_id,
            sender_id=actor,
            recipient_ids=[o.user_id for o in others],
            notify_user_ids=notify,
            is_request=is_request,
            kind=conversation_kind(members),
            preview_text=preview(body),
            media_kinds=[m.kind for m in attached],
            sent_at=now,
        )
    )
    return Sent(message, created=True, user_seq=user_seqs[actor])


def conversation_kind(members: Sequence[Member]) -> str:
    return "direct" if len(members) == 2 else "group"


@dataclass(frozen=True, slots=True)
class MessageList:
    messages: list[Message]
    #: Delivery state of the caller's own messages (sent, delivered, read).
    statuses: dict[uuid.UUID, str]


async def read_visible(store: ChatStore, members: Sequence[Member]) -> bool:
    """Read state crosses only between members who all share it, and never across a request."""
    if any(m.request_state != ACCEPTED for m in members):
        return False
    settings = await store.read_receipts(_ids(members))
    return all(settings.values())


async def statuses_of(
    store: ChatStore, actor: uuid.UUID, messages: Sequence[Message]
) -> dict[uuid.UUID, str]:
    mine = [m for m in messages if m.sender_id == actor and not m.deleted]
    if not mine:
        return {}
    members = await store.members_of(mine[0].conversation_id)
    others = [m for m in members if m.user_id != actor]
    visible = await read_visible(store, members)
    return {m.id: delivery_status(m, others, visible) for m in mine}


async def list_messages(
    *,
    actor: uuid.UUID,
    conversation_id: uuid.UUID,
    before: int | None,
    after: int | None,
    limit: int,
    store: ChatStore,
) -> MessageList:
    member = await _membership(store, conversation_id, actor)
    if before is not None and after is not None:
        raise ValidationFailed("Give before or after, not both.", code="invalid_range")
    found = list(
        await store.list_messages(
            conversation_id,
            viewer_id=actor,
            before=before,
            after=after,
            not_before=member.cleared_before_seq,
            limit=limit,
        )
    )
    return MessageList(found, await statuses_of(store, actor, found))


async def mark_read(
    *, actor: uuid.UUID, conversation_id: uuid.UUID, up_to_seq: int, store: ChatStore, events: EventLog
) -> Member:
    await _membership(store, conversation_id, actor)
    if up_to_seq < 0:
        raise ValidationFailed("upToSeq is not negative.", code="invalid_seq")
    conversation = await store.get_conversation(conversation_id, lock=True)
    assert conversation is not None
    members = list(await store.members_of(conversation_id, lock=True))
    before = next(m for m in members if m.user_id == actor)
    await store.mark_read(conversation_id, actor, min(up_to_seq, conversation.last_seq))
    member = await store.get_member(conversation_id, actor)
    assert member is not None
    if member.last_read_seq > before.last_read_seq:
        # The reader's own devices always learn it (unread counts); the others only when
        # everyone shares read receipts.
        audience = _ids(members) if await read_visible(store, members) else [actor]
        await events.append(
            audience,
            RECEIPT_READ,
            {"conversationId": conversation_id, "userId": actor, "upToSeq": member.last_read_seq},
        )
    return member


async def mark_delivered(
    *, actor: uuid.UUID, up_to_user_seq: int, store: ChatStore, events: EventLog
) -> None:
    """A device received the user's events up to ``up_to_user_seq``: their messages are delivered."""
    if up_to_user_seq < 0:
        raise ValidationFailed("upToUserSeq is not negative.", code="invalid_seq")
    reached = await events.delivered_up_to(actor, up_to_user_seq)
    for conversation_id in sorted(reached):
        members = list(await store.members_of(conversation_id))
        if not any(m.user_id == actor for m in members):
            continue
        if not await store.mark_delivered(conversation_id, actor, reached[conversation_id]):
            continue  # a later receipt already moved it: never backwards
        if any(m.request_state != ACCEPTED for m in members):
            continue  # nothing crosses a request
        await events.append(
            _ids(members),
            RECEIPT_DELIVERED,
            {"conversationId": conversation_id, "userId": actor, "upToSeq": reached[conversation_id]},
        )


async def respond_to_request(
    *,
    actor: uuid.UUID,
    conversation_id: uuid.UUID,
    accept: bool,
    store: ChatStore,
    outbox: MessageOutbox,
    events: EventLog,
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
        members = await _lock_members(store, conversation_id)
        await store.set_request_state(conversation_id, actor, state)
        if accept:
            requester = next(m.user_id for m in members if m.user_id != actor)
            await events.append(
                _ids(members), REQUEST_ACCEPTED, {"conversationId": conversation_id, "userId": actor}
            )
            await outbox.add(
                MessageRequestAccepted(
                    conversation_id=conversation_id, requester_id=requester, recipient_id=actor
                )
            )
        else:  # the sender is not told
            await events.append([actor], CONVERSATION_UPDATED, {"conversationId": conversation_id})
    return await get_conversation(actor=actor, conversation_id=conversation_id, store=store)


async def update_my_settings(
    *,
    actor: uuid.UUID,
    conversation_id: uuid.UUID,
    changes: dict[str, object],
    store: ChatStore,
    events: EventLog,
) -> ConversationView:
    await _membership(store, conversation_id, actor)
    if changes:
        await store.update_member(conversation_id, actor, changes)
        await events.append([actor], CONVERSATION_UPDATED, {"conversationId": conversation_id})
    return await get_conversation(actor=actor, conversation_id=conversation_id, store=store)


async def clear_for_me(
    *, actor: uuid.UUID, conversation_id: uuid.UUID, store: ChatStore, events: EventLog
) -> None:
    """ "Delete chat for me": hide history up to now; the conversation returns with a new message."""
    await _membership(store, conversation_id, actor)
    conversation = await store.get_conversation(conversation_id, lock=True)
    assert conversation is not None
    await store.mark_read(conversation_id, actor, conversation.last_seq)
    await store.update_member(conversation_id, actor, {"cleared_before_seq": conversation.last_seq})
    await events.append(
        [actor],
        CONVERSATION_UPDATED,
        {"conversationId": conversation_id, "clearedBeforeSeq": conversation.last_seq},
    )


async def edit_message(
    *, actor: uuid.UUID, message_id: uuid.UUID, text: str, store: ChatStore, events: EventLog, clock: Clock
) -> Message:
    message = await _message_for_member(store, message_id, actor)
    if message.sender_id != actor:
        raise Forbidden("Only the sender edits a message.", code="not_message_sender")
    if message.deleted:
        raise Conflict("The message was deleted.", code="message_deleted")
    now = clock.now()
    if now - message.created_at > EDIT_WINDOW:
        raise Conflict("Messages can be edited for 15 minutes.", code="edit_window_closed")
    normalized = normalize_text(text)
    members = await _lock_members(store, message.conversation_id)
    await store.edit_message(message_id, normalized, now)
    edited = await store.get_message(message_id)
    assert edited is not None
    await events.append(_ids(members), MESSAGE_EDITED, edited)
    return edited


async def delete_for_everyone(
    *,
    actor: uuid.UUID,
    message_id: uuid.UUID,
    store: ChatStore,
    outbox: MessageOutbox,
    events: EventLog,
    media: MediaGateway,
    clock: Clock,
) -> None:
    message = await _message_for_member(store, message_id, actor)
    if message.sender_id != actor:
        raise Forbidden("Only the sender deletes a message for everyone.", code="not_message_sender")
    if message.deleted:
        return
    now = clock.now()
    if now - message.created_at > DELETE_WINDOW:
        raise Conflict("Messages can be deleted for everyone for 24 hours.", code="delete_window_closed")
    members = await _lock_members(store, message.conversation_id)
    others = [m for m in members if m.user_id != actor]
    await store.tombstone(message_id, now)
    detached = await store.remove_media(message_id)
    for other in others:
        await store.recount_unread(message.conversation_id, other.user_id)
    await events.append(
        _ids(members),
        MESSAGE_DELETED,
        {"conversationId": message.conversation_id, "messageId": message_id, "seq": message.seq},
    )
    await outbox.add(
        MessageRetracted(
            message_id=message_id,
            conversation_id=message.conversation_id,
            recipient_ids=[o.user_id for o in others],
        )
    )
    if detached:
        await media.detach(detached, message_id)


async def delete_for_me(
    *, actor: uuid.UUID, message_id: uuid.UUID, store: ChatStore, events: EventLog, clock: Clock
) -> None:
    """Hide one message for the caller only (any member, any message, no time limit)."""
    message = await _message_for_member(store, message_id, actor)
    await store.hide_message(message_id, actor, clock.now())
    await events.append(
        [actor], MESSAGE_HIDDEN, {"conversationId": message.conversation_id, "messageId": message_id}
    )


async def react(
    *,
    actor: uuid.UUID,
    message_id: uuid.UUID,
    emoji: str | None,
    store: ChatStore,
    policy: ContactPolicy,
    events: EventLog,
    clock: Clock,
) -> Message:
    message = await _message_for_member(store, message_id, actor)
    if emoji is not None:
        emoji = validate_emoji(emoji)
        if message.deleted:
            raise Conflict("The message was deleted.", code="message_deleted")
        for other in await _others(store, message.conversation_id, actor, lock=False):
            if not await policy.may_contact(actor, other.user_id):
                raise _not_allowed()
    members = await _lock_members(store, message.conversation_id)
    if emoji is None:
        await store.remove_reaction(message_id, actor)
    else:
        await store.set_reaction(message_id, actor, emoji, clock.now())
    reacted = await store.get_message(message_id)
    assert reacted is not None
    if reacted.reactions != message.reactions:
        await events.append(_ids(members), REACTIONS_CHANGED, reacted)
    return reacted


async def media_ready(*, file_id: uuid.UUID, item: MediaItem, store: ChatStore, events: EventLog) -> None:
    """files said an attachment finished processing: its messages carry the new snapshot."""
    for message_id in await store.media_ready(file_id, item):
        message = await store.get_message(message_id)
        if message is None or message.deleted:
            continue
        members = await _lock_members(store, message.conversation_id)
        updated = await store.get_message(message_id)
        await events.append(_ids(members), MEDIA_UPDATED, updated)


async def media_status(*, file_id: uuid.UUID, status: str, store: ChatStore, events: EventLog) -> None:
    """An attachment failed or was removed in files: its messages say so."""
    for message_id in await store.media_status(file_id, status):
        message = await store.get_message(message_id)
        if message is None or message.deleted:
            continue
        members = await _lock_members(store, message.conversation_id)
        await events.append(_ids(members), MEDIA_UPDATED, await store.get_message(message_id))


async def unread(*, actor: uuid.UUID, store: ChatStore) -> UnreadSummary:
    return await store.unread_summary(actor)


async def check_cursor(*, latest: int, since: int, first_seq: int | None) -> None:
    """410 when events after ``since`` were purged (or the cursor is not one we issued)."""
    if since < 0 or since > latest:
        raise CursorExpired("Reload conversations and recent messages.", code="cursor_expired")
    if since < latest and first_seq != since + 1:
        raise CursorExpired("Reload conversations and recent messages.", code="cursor_expired")


async def attachment(
    *, actor: uuid.UUID, message_id: uuid.UUID, file_id: uuid.UUID, store: ChatStore
) -> MediaItem:
    """An attachment of a visible message, for a member only (else 404)."""
    message = await _message_for_member(store, message_id, actor)
    item = next((m for m in message.media if m.file_id == file_id), None)
    if item is None or message.deleted:
        raise NotFound("No such attachment.", code="attachment_not_found")
    if item.status != "ready":
        raise Conflict("The attachment is still processing.", code="media_processing")
    return item


async def presence_visible(
    *, actor: uuid.UUID, user_ids: Sequence[uuid.UUID], store: ChatStore, policy: ContactPolicy
) -> list[uuid.UUID]:
    """Whose presence the caller may see: people they share a conversation with.

    A block either way refuses (403, as for messages); ``showActivity: false`` on either side
    hides presence both ways (the answer is then "offline, never seen").
    """
    shared = await store.shared_with(actor, user_ids)
    if set(user_ids) - shared:
        raise NotFound("No conversation with some of these users.", code="user_not_found")
    for user_id in user_ids:
        if not await policy.may_contact(actor, user_id):
            raise _not_allowed()
    if not await policy.shows_activity(actor):
        return []
    return [u for u in user_ids if await policy.shows_activity(u)]


async def presence_audience(*, actor: uuid.UUID, store: ChatStore, policy: ContactPolicy) -> list[uuid.UUID]:
    """Who is told when ``actor`` comes online or goes offline: exactly those who could see it
    with ``GET /presence`` (a shared conversation, no block, showActivity on both sides)."""
    if not await policy.shows_activity(actor):
        return []
    return [
        u
        for u in sorted(await store.contacts_of(actor))
        if await policy.may_contact(actor, u) and await policy.shows_activity(u)
    ]
