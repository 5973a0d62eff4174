"""Entity and message identifiers.

Every id is a UUIDv7: its leading 48 bits are a millisecond Unix timestamp, so
ids created later sort later. That keeps B-tree inserts append-only and lets
``(created_at, id)`` keyset pagination use the id as a stable tie-breaker.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import uuid_utils

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_id() -> uuid.UUID:
    """A fresh UUIDv7 as a stdlib ``uuid.UUID``.

    Converted because SQLAlchemy, asyncpg and msgspec all know the stdlib type;
    ``uuid_utils.UUID`` is a different class that they would not recognise.
    """
    return uuid.UUID(int=uuid_utils.uuid7().int)


def id_timestamp(u: uuid.UUID) -> datetime:
    """When a UUIDv7 was minted (UTC, millisecond precision)."""
    if u.version != 7:
        raise ValueError(f"not a UUIDv7 (version {u.version}): {u}")
    # Integer arithmetic instead of fromtimestamp(ms / 1000): a float would
    # round some milliseconds to the neighbouring microsecond.
    return _EPOCH + timedelta(milliseconds=u.int >> 80)
