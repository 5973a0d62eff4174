"""Conversations, members and messages, and the rules on a message body."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nexgate.kernel.errors import ValidationFailed

MAX_TEXT = 4000
MAX_MEDIA = 10
PREVIEW_LENGTH = 80
EDIT_WINDOW = timedelta(minutes=15)
DELETE_WINDOW = timedelta(hours=24)
# A sender may send this many messages before the recipient accepts the request.
REQUEST_MESSAGE_LIMIT = 3

ACCEPTED, PENDING, DECLINED = "accepted", "pending", "declined"
# Per-message delivery state, as its sender sees it.
SENT, DELIVERED, READ = "sent", "delivered", "read"
# whoCanMessage (profiles' privacy settings).
EVERYONE, PEOPLE_I_FOLLOW, NOBODY = "everyone", "people_i_follow", "nobody"
# New conversations that open a request (strangers), per user and day.
STRANGER_DAILY_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Admission:
    """How a sender may reach a recipient: directly, only by request, or not at all."""

    allowed: bool
    needs_request: bool


@dataclass(frozen=True, slots=True)
class Conversation:
    id: uuid.UUID
    kind: str
    created_by: uuid.UUID
    last_seq: int
    last_activity_at: datetime


@dataclass(frozen=True, slots=True)
class Member:
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    request_state: str
    last_read_seq: int
    last_delivered_seq: int
    cleared_before_seq: int
    unread_count: int
    muted_until: datetime | None
    archived: bool
    pinned: bool

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now


@dataclass(frozen=True, slots=True)
class Reaction:
    user_id: uuid.UUID
    emoji: str


@dataclass(frozen=True, slots=True)
class MediaItem:
    """An attachment's snapshot; ``status`` is ``processing`` until files says it is ready."""

    file_id: uuid.UUID
    kind: str
    status: str
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    blurhash: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    client_message_id: str
    body_hash: str
    text: str | None
    reply_to_message_id: uuid.UUID | None
    created_at: datetime
    edited_at: datetime | None = None
    deleted_for_everyone_at: datetime | None = None
    reactions: tuple[Reaction, ...] = field(default=())
    media: tuple[MediaItem, ...] = field(default=())

    @property
    def deleted(self) -> bool:
        return self.deleted_for_everyone_at is not None


@dataclass(frozen=True, slots=True)
class Participant:
    """The other member as the profiles replica knows them (names are None until a snapshot)."""

    user_id: uuid.UUID
    username: str | None = None
    display_name: str | None = None
    avatar_url: str | None = None
    avatar_blurhash: str | None = None
    deactivated: bool = False


@dataclass(frozen=True, slots=True)
class ConversationView:
    """One row of a user's conversation list."""

    conversation: Conversation
    me: Member
    other_user_id: uuid.UUID | None
    last_message: Message | None
    other: Member | None = None
    other_profile: Participant | None = None


@dataclass(frozen=True, slots=True)
class UnreadSummary:
    unread_conversations: int
    unread_messages: int
    pending_requests: int


def normalize_text(text: str) -> str:
    """NFC, 1..4000 characters, no control characters except a newline."""
    text = unicodedata.normalize("NFC", text)
    if not text.strip() or len(text) > MAX_TEXT:
        raise ValidationFailed(f"A message holds 1 to {MAX_TEXT} characters.", code="invalid_message_body")
    for char in text:
        if char != "\n" and unicodedata.category(char) in ("Cc", "Cs"):
            raise ValidationFailed("A message may not hold control characters.", code="invalid_message_body")
    return text


def body_hash(text: str, reply_to: uuid.UUID | None) -> str:
    digest = hashlib.sha256()
    digest.update(text.encode())
    digest.update(b"\x00")
    digest.update(str(reply_to or "").encode())
    return digest.hexdigest()


def validate_emoji(emoji: str) -> str:
    """One emoji: at most 32 bytes, no letters, digits, spaces or control characters.

    This approximates "one grapheme": no grapheme segmenter is installed.
    """
    emoji = unicodedata.normalize("NFC", emoji)
    if not emoji or len(emoji.encode()) > 32:
        raise ValidationFailed("A reaction is one emoji.", code="invalid_reaction")
    for char in emoji:
        category = unicodedata.category(char)
        if category[0] in ("L", "N", "Z", "C") and char != "\u200d":
            raise ValidationFailed("A reaction is one emoji.", code="invalid_reaction")
    return emoji


def preview(text: str | None) -> str:
    return (text or "")[:PREVIEW_LENGTH]


def delivery_status(message: Message, others: list[Member], read_visible: bool) -> str:
    """``read`` once every other member's read marker passed it (if read state is visible)."""
    if others and read_visible and all(o.last_read_seq >= message.seq for o in others):
        return READ
    if others and all(o.last_delivered_seq >= message.seq for o in others):
        return DELIVERED
    return SENT
