"""What the API accepts and returns: explicit Structs, camelCase, unknown fields refused."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from nexgate.chat.domain.model import (
    ConversationView,
    MediaItem,
    Member,
    Message,
    Participant,
    UnreadSummary,
    preview,
)


class OpenConversationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    participant_ids: list[uuid.UUID]


class SendIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    client_message_id: str = msgspec.field()
    text: str | None = None
    media_file_ids: list[uuid.UUID] = []
    reply_to_message_id: uuid.UUID | None = None


class EditIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    text: str


class ReadIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    up_to_seq: int


class ReactionIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    emoji: str


class MemberSettingsIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    archived: bool | None = None
    muted_until: datetime | msgspec.UnsetType | None = msgspec.UNSET
    pinned: bool | None = None

    def changes(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.archived is not None:
            found["archived"] = self.archived
        if self.pinned is not None:
            found["pinned"] = self.pinned
        if self.muted_until is not msgspec.UNSET:
            found["muted_until"] = self.muted_until
        return found


class DeliveredIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    up_to_user_seq: int


class SettingsIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    read_receipts: bool | None = None


class SettingsOut(msgspec.Struct, rename="camel"):
    read_receipts: bool


class EventOut(msgspec.Struct, rename="camel"):
    user_seq: int
    type: str
    data: dict[str, object]
    created_at: datetime


class SyncOut(msgspec.Struct, rename="camel"):
    events: list[EventOut]
    next_cursor: str
    has_more: bool


class PresenceOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    online: bool
    last_seen_at: datetime | None


class MediaOut(msgspec.Struct, rename="camel"):
    file_id: uuid.UUID
    kind: str
    status: str
    mime_type: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    blurhash: str | None

    @classmethod
    def of(cls, m: MediaItem) -> MediaOut:
        return cls(
            file_id=m.file_id, kind=m.kind, status=m.status, mime_type=m.mime_type, width=m.width,
            height=m.height, duration_ms=m.duration_ms, blurhash=m.blurhash,
        )  # fmt: skip


class ReactionOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    emoji: str


class MessageOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    client_message_id: str
    text: str | None
    reply_to_message_id: uuid.UUID | None
    created_at: datetime
    edited: bool
    edited_at: datetime | None
    deleted: bool
    reactions: list[ReactionOut]
    media: list[MediaOut]
    #: For the caller's own messages: sent, delivered or read (read only when both share receipts).
    status: str | None = None

    @classmethod
    def of(cls, m: Message, status: str | None = None) -> MessageOut:
        return cls(
            id=m.id, conversation_id=m.conversation_id, seq=m.seq, sender_id=m.sender_id,
            client_message_id=m.client_message_id, text=m.text, reply_to_message_id=m.reply_to_message_id,
            created_at=m.created_at, edited=m.edited_at is not None, edited_at=m.edited_at, deleted=m.deleted,
            reactions=[ReactionOut(user_id=r.user_id, emoji=r.emoji) for r in m.reactions],
            media=[MediaOut.of(x) for x in m.media], status=status,
        )  # fmt: skip


def event_payload(data: object) -> object:
    """What an event carries in the log, on the socket and in sync: camelCase JSON builtins."""
    if isinstance(data, Message):
        return msgspec.to_builtins(MessageOut.of(data))
    return msgspec.to_builtins(data)


class PreviewOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    text: str | None
    deleted: bool
    created_at: datetime


class AvatarOut(msgspec.Struct, rename="camel"):
    url: str | None
    blurhash: str | None


class ParticipantOut(msgspec.Struct, rename="camel"):
    """The other member's snapshot from the profiles replica (null names until one arrives)."""

    user_id: uuid.UUID
    username: str | None
    display_name: str | None
    avatar: AvatarOut | None
    deactivated: bool

    @classmethod
    def of(cls, p: Participant) -> ParticipantOut:
        avatar = None
        if p.avatar_url is not None or p.avatar_blurhash is not None:
            avatar = AvatarOut(url=p.avatar_url, blurhash=p.avatar_blurhash)
        return cls(
            user_id=p.user_id, username=p.username, display_name=p.display_name, avatar=avatar,
            deactivated=p.deactivated,
        )  # fmt: skip


class ConversationOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    kind: str
    other_user_id: uuid.UUID | None
    other_participant: ParticipantOut | None
    request_state: str
    unread_count: int
    last_read_seq: int
    last_seq: int
    #: The other member's markers; ``otherLastReadSeq`` is null unless both share read receipts.
    other_last_delivered_seq: int | None
    other_last_read_seq: int | None
    muted: bool
    muted_until: datetime | None
    archived: bool
    pinned: bool
    last_activity_at: datetime
    last_message: PreviewOut | None

    @classmethod
    def of(cls, v: ConversationView, now: datetime, read_visible: bool = False) -> ConversationOut:
        me: Member = v.me
        last = v.last_message
        last_out = None
        if last is not None:
            last_out = PreviewOut(
                id=last.id,
                seq=last.seq,
                sender_id=last.sender_id,
                text=None if last.deleted else preview(last.text),
                deleted=last.deleted,
                created_at=last.created_at,
            )
        return cls(
            id=v.conversation.id, kind=v.conversation.kind, other_user_id=v.other_user_id,
            other_participant=ParticipantOut.of(v.other_profile) if v.other_profile else None,
            request_state=me.request_state, unread_count=me.unread_count, last_read_seq=me.last_read_seq,
            last_seq=v.conversation.last_seq, muted=me.muted(now),
            other_last_delivered_seq=v.other.last_delivered_seq if v.other else None,
            other_last_read_seq=v.other.last_read_seq if v.other and read_visible else None,
            muted_until=me.muted_until,
            archived=me.archived, pinned=me.pinned, last_activity_at=v.conversation.last_activity_at,
            last_message=last_out,
        )  # fmt: skip


class MessagePage(msgspec.Struct, rename="camel"):
    items: list[MessageOut]
    has_more: bool


class UnreadOut(msgspec.Struct, rename="camel"):
    unread_conversations: int
    unread_messages: int
    pending_requests: int

    @classmethod
    def of(cls, s: UnreadSummary) -> UnreadOut:
        return cls(
            unread_conversations=s.unread_conversations,
            unread_messages=s.unread_messages,
            pending_requests=s.pending_requests,
        )
