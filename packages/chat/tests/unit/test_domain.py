"""Message body and reaction rules (pure domain)."""

from __future__ import annotations

import uuid

import pytest

from nexgate.chat.domain.model import body_hash, normalize_text, preview, validate_emoji
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
