"""Message body and reaction rules (pure domain)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from nexgate.chat.domain.model import (
    Member,
    Message,
    body_hash,
    delivery_status,
    normalize_text,
    preview,
    validate_emoji,
)
from nexgate.kernel.errors import ValidationFailed


def test_text_is_nfc_and_keeps_newlines() -> None:
    assert normalize_text("Cafe\u0301\nkaribu") == "Caf\u00e9\nkaribu"
    assert len(normalize_text("x" * 4000)) == 4000


@pytest.mark.parametrize("text", ["", "  ", "\n", "x" * 4001, "a\x00b", "tab\there", "cr\r\n", "\u0085"])
def test_text_refused(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize_text(text)
    assert caught.value.code == "invalid_message_body"


def test_body_hash_distinguishes_text_and_reply() -> None:
    reply = uuid.uuid4()
    assert body_hash("a", None) == body_hash("a", None)
    assert body_hash("a", None) != body_hash("b", None)
    assert body_hash("a", None) != body_hash("a", reply)


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👩‍👩‍👧", "🇹🇿", "👍🏾"])
def test_emoji_accepted(emoji: str) -> None:
    assert validate_emoji(emoji) == emoji


@pytest.mark.parametrize("emoji", ["", "a", "1", "👍 ", "\n", "🎉" * 9])
def test_emoji_refused(emoji: str) -> None:
    with pytest.raises(ValidationFailed):
        validate_emoji(emoji)


def test_preview_is_at_most_80_characters() -> None:
    assert preview("x" * 200) == "x" * 80
    assert preview(None) == ""


def _member(read: int, delivered: int) -> Member:
    return Member(
        conversation_id=uuid.uuid4(), user_id=uuid.uuid4(), request_state="accepted", last_read_seq=read,
        last_delivered_seq=delivered, cleared_before_seq=0, unread_count=0, muted_until=None, archived=False,
        pinned=False,
    )  # fmt: skip


def test_delivery_status_follows_the_other_members_markers() -> None:
    message = Message(
        id=uuid.uuid4(), conversation_id=uuid.uuid4(), seq=5, sender_id=uuid.uuid4(), client_message_id="c",
        body_hash="h", text="hi", reply_to_message_id=None, created_at=datetime.now(UTC),
    )  # fmt: skip
    assert delivery_status(message, [_member(0, 4)], read_visible=True) == "sent"
    assert delivery_status(message, [_member(4, 5)], read_visible=True) == "delivered"
    assert delivery_status(message, [_member(5, 5)], read_visible=True) == "read"
    # With read receipts off on either side, read stays "delivered".
    assert delivery_status(message, [_member(5, 5)], read_visible=False) == "delivered"
