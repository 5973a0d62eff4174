"""Messages of the chat context (exchange ``nexgate.chat``).

No message body travels here beyond ``previewText`` (at most 80 characters) for notifications.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from nexgate.contracts.base import Contract


class MessageSent(Contract, tag="chat.message_sent.v1", kw_only=True):
    """A message was stored; notifications alerts ``notifyUserIds`` (recipients not muted)."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    recipient_ids: list[uuid.UUID]
    notify_user_ids: list[uuid.UUID]
    is_request: bool
    kind: str
    preview_text: str
    media_kinds: list[str] = []
    sent_at: datetime


class MessageRequestAccepted(Contract, tag="chat.message_request_accepted.v1", kw_only=True):
    conversation_id: uuid.UUID
    requester_id: uuid.UUID
    recipient_id: uuid.UUID


class MessageRetracted(Contract, tag="chat.message_retracted.v1", kw_only=True):
    """A message was deleted for everyone: notifications removes its in-app entries."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    recipient_ids: list[uuid.UUID]
