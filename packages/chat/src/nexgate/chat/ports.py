"""What the application layer needs from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from nexgate.chat.domain.model import (
    Conversation,
    ConversationView,
    Member,
    Message,
    UnreadSummary,
)
from nexgate.kernel.ports import MessageOutbox


class ChatStore(Protocol):
    """Lane B repository. Locks are taken in one order: conversation row, then members by user id."""

    async def open_direct(
        self, *, new_id: uuid.UUID, creator: uuid.UUID, other: uuid.UUID, now: datetime
    ) -> tuple[uuid.UUID, bool]: ...

    async def get_conversation(
        self, conversation_id: uuid.UUID, *, lock: bool = False
    ) -> Conversation | None: ...

    async def get_member(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> Member | None: ...

    async def members_of(self, conversation_id: uuid.UUID, *, lock: bool = False) -> Sequence[Member]: ...

    async def find_by_client_id(
        self, conversation_id: uuid.UUID, sender_id: uuid.UUID, client_message_id: str
    ) -> Message | None: ...

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


class ContactPolicy(Protocol):
    """May ``sender`` reach ``recipient``? (Blocks in either direction refuse.)"""

    async def may_contact(self, sender: uuid.UUID, recipient: uuid.UUID) -> bool: ...


class MediaGateway(Protocol):
    """Attaches files (purpose ``chat_attachment``) owned by the sender; returns their kinds."""

    async def attach(self, owner_id: uuid.UUID, file_ids: Sequence[uuid.UUID]) -> list[str]: ...


__all__ = ["ChatStore", "ContactPolicy", "MediaGateway", "MessageOutbox"]
