"""What the application layer needs from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from nexgate.chat.domain.model import (
    Admission,
    Conversation,
    ConversationView,
    MediaItem,
    Member,
    Message,
    UnreadSummary,
)
from nexgate.kernel.ports import MessageOutbox


class ChatStore(Protocol):
    """Lane B repository. Locks are taken in one order: conversation row, then members by user id."""

    async def direct_between(self, a: uuid.UUID, b: uuid.UUID) -> uuid.UUID | None: ...

    async def open_direct(
        self, *, new_id: uuid.UUID, creator: uuid.UUID, other: uuid.UUID, other_state: str, now: datetime
    ) -> tuple[uuid.UUID, bool]: ...

    async def get_conversation(
        self, conversation_id: uuid.UUID, *, lock: bool = False
    ) -> Conversation | None: ...

    async def get_member(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> Member | None: ...

    async def members_of(self, conversation_id: uuid.UUID, *, lock: bool = False) -> Sequence[Member]: ...

    async def find_by_client_id(self, sender_id: uuid.UUID, client_message_id: str) -> Message | None: ...

    async def get_message(self, message_id: uuid.UUID) -> Message | None: ...

    async def count_sent_by(self, conversation_id: uuid.UUID, sender_id: uuid.UUID) -> int: ...

    async def next_seq(self, conversation_id: uuid.UUID, message_id: uuid.UUID, now: datetime) -> int: ...

    async def add_message(self, message: Message) -> None: ...

    async def message_added(self, conversation_id: uuid.UUID, sender_id: uuid.UUID, seq: int) -> None: ...

    async def mark_read(self, conversation_id: uuid.UUID, user_id: uuid.UUID, up_to_seq: int) -> None: ...

    async def recount_unread(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> None: ...

    async def set_request_state(self, conversation_id: uuid.UUID, user_id: uuid.UUID, state: str) -> None: ...

    async def update_member(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, changes: dict[str, object]
    ) -> None: ...

    async def edit_message(self, message_id: uuid.UUID, text: str, now: datetime) -> None: ...

    async def tombstone(self, message_id: uuid.UUID, now: datetime) -> None: ...

    async def set_reaction(
        self, message_id: uuid.UUID, user_id: uuid.UUID, emoji: str, now: datetime
    ) -> None: ...

    async def remove_reaction(self, message_id: uuid.UUID, user_id: uuid.UUID) -> None: ...

    async def list_conversations(
        self,
        user_id: uuid.UUID,
        *,
        folder: str,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[ConversationView]: ...

    async def view(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> ConversationView | None: ...

    async def hide_message(self, message_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> None: ...

    async def list_messages(
        self,
        conversation_id: uuid.UUID,
        *,
        viewer_id: uuid.UUID,
        before: int | None,
        after: int | None,
        not_before: int,
        limit: int,
    ) -> Sequence[Message]: ...

    async def unread_summary(self, user_id: uuid.UUID) -> UnreadSummary: ...

    async def shared_with(self, user_id: uuid.UUID, others: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of ``others`` who share a conversation with ``user_id``."""
        ...

    async def contacts_of(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        """Everyone who shares a conversation with ``user_id``."""
        ...

    async def add_media(self, message_id: uuid.UUID, media: Sequence[MediaItem]) -> None: ...

    async def remove_media(self, message_id: uuid.UUID) -> list[uuid.UUID]: ...

    async def media_ready(self, file_id: uuid.UUID, item: MediaItem) -> list[uuid.UUID]:
        """Updates the snapshot of ``file_id`` in every message; returns those message ids."""
        ...

    async def media_status(self, file_id: uuid.UUID, status: str) -> list[uuid.UUID]: ...

    async def mark_delivered(self, conversation_id: uuid.UUID, user_id: uuid.UUID, up_to_seq: int) -> bool:
        """Moves the delivered marker forward only; True if it moved."""
        ...

    async def read_receipts(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bool]: ...

    async def set_read_receipts(self, user_id: uuid.UUID, enabled: bool) -> None: ...


class EventLog(Protocol):
    """The per-user event log: each append takes the users' cursor rows in ascending user id.

    ``appended`` holds what this unit of work wrote, to announce after the commit.
    """

    appended: list[tuple[uuid.UUID, int, str, object]]

    async def append(
        self, user_ids: Sequence[uuid.UUID], type: str, data: object
    ) -> dict[uuid.UUID, int]: ...

    async def delivered_up_to(self, user_id: uuid.UUID, up_to_user_seq: int) -> dict[uuid.UUID, int]:
        """Moves the user's delivered cursor forward; returns conversation -> highest seq newly delivered."""
        ...


class Presence(Protocol):
    async def online(self, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]: ...


class ContactPolicy(Protocol):
    """May ``sender`` reach ``recipient``? (Blocks in either direction refuse.)"""

    async def may_contact(self, sender: uuid.UUID, recipient: uuid.UUID) -> bool: ...

    async def admission(self, sender: uuid.UUID, recipient: uuid.UUID) -> Admission:
        """Blocks, then the recipient's whoCanMessage and whether they follow the sender."""
        ...

    async def shows_activity(self, user_id: uuid.UUID) -> bool: ...


class MediaGateway(Protocol):
    """Files with purpose ``chat_attachment``: attach (owner checked), detach, signed URLs."""

    async def attach(
        self, owner_id: uuid.UUID, file_ids: Sequence[uuid.UUID], message_id: uuid.UUID
    ) -> list[MediaItem]:
        """Raises ValidationFailed ``invalid_attachment`` for a missing, foreign or failed file."""
        ...

    async def detach(self, file_ids: Sequence[uuid.UUID], message_id: uuid.UUID) -> None: ...

    async def signed_url(self, file_id: uuid.UUID, variant: str) -> str: ...


__all__ = ["ChatStore", "ContactPolicy", "EventLog", "MediaGateway", "MessageOutbox", "Presence"]
