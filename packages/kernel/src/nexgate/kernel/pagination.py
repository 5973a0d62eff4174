"""Keyset (cursor) pagination: ``?cursor=&limit=`` in, ``nextCursor`` out.

The cursor carries the sort key of the last row a client saw. It is signed,
not encrypted: clients must treat it as opaque, and the MAC stops them from
forging keys that would walk an index in ways the endpoint never offered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

from nexgate.kernel.errors import FieldProblem, ValidationFailed

T = TypeVar("T")
CursorValue = str | int | uuid.UUID | datetime

MAX_CURSOR_LENGTH = 512
_MAC_BYTES = 16
_MIN_SECRET_BYTES = 16
# Domain separation: the same secret may sign other things (sessions,
# webhooks); a MAC over a cursor must never verify as one of those.
_MAC_CONTEXT = b"nexgate.cursor.v1\x00"
_SUPPORTED_TYPES: tuple[type, ...] = (str, int, uuid.UUID, datetime)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _invalid_cursor(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_cursor", errors=[FieldProblem("cursor", message)])


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CursorCodec:
    """Encodes sort keys into tamper-proof opaque cursors and back."""

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(key) < _MIN_SECRET_BYTES:
            raise ValueError(f"cursor secret must be at least {_MIN_SECRET_BYTES} bytes")
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, _MAC_CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, values: Sequence[CursorValue]) -> str:
        for value in values:
            if isinstance(value, bool) or not isinstance(value, _SUPPORTED_TYPES):
                raise TypeError(f"unsupported cursor value type: {type(value).__name__}")
            # A naive datetime would round-trip naive and then compare wrongly
            # (or fail) against timestamptz columns.
            if isinstance(value, datetime) and value.utcoffset() is None:
                raise ValueError("cursor datetimes must be timezone-aware")
        try:
            payload = msgspec.msgpack.encode(list(values))
        except OverflowError as exc:
            raise ValueError(f"cursor value out of range: {exc}") from exc
        cursor = _b64encode(payload + self._mac(payload))
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("cursor values are too long to encode")
        return cursor

    def decode(self, cursor: str, types: Sequence[type]) -> tuple[Any, ...]:
        """Verify and decode a cursor whose values must have exactly ``types``."""
        for tp in types:
            if tp not in _SUPPORTED_TYPES:
                raise TypeError(f"unsupported cursor value type: {tp!r}")
        if not isinstance(cursor, str) or not cursor:
            raise _invalid_cursor("cursor is empty")
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise _invalid_cursor("cursor is too long")
        if not _BASE64URL.fullmatch(cursor):
            raise _invalid_cursor("cursor is not valid base64url")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise _invalid_cursor("cursor is not valid base64url") from None
        # Base64 has spare bits in its last character, so several strings
        # decode to the same bytes; accept only the one we would have produced.
        if _b64encode(raw) != cursor:
            raise _invalid_cursor("cursor is not valid base64url")
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise _invalid_cursor("cursor signature does not match")
        try:
            values: tuple[Any, ...] = msgspec.msgpack.decode(payload, type=tuple[tuple(types)])  # type: ignore[misc]
        except msgspec.DecodeError:
            # Well signed but the wrong shape: a cursor from another endpoint
            # or from before a change to this endpoint's sort key.
            raise _invalid_cursor("cursor does not fit this list") from None
        return values


def validate_limit(limit: int | None, *, default: int = 20, maximum: int = 100) -> int:
    """The page size to use: ``default`` when absent, else 1..``maximum``."""
    if limit is None:
        return default
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        message = f"limit must be between 1 and {maximum}"
        raise ValidationFailed(message, code="invalid_limit", errors=[FieldProblem("limit", message)])
    return limit


class Page(msgspec.Struct, Generic[T], rename="camel"):
    """One page of a list response; ``nextCursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[T],
        limit: int,
        key: Callable[[T], Sequence[CursorValue]],
        codec: CursorCodec,
    ) -> Page[T]:
        """Build a page from ``limit + 1`` fetched rows.

        The extra row is only a probe that another page exists; it is not
        returned, and the cursor points at the last row that is.
        """
        items = list(rows[:limit])
        has_more = len(rows) > limit and bool(items)
        return cls(items=items, next_cursor=codec.encode(key(items[-1])) if has_more else None)
