import uuid
from datetime import UTC, datetime, timedelta

import pytest

from nexgate.kernel.ids import id_timestamp, new_id


def test_new_id_is_a_stdlib_uuid_version_7() -> None:
    u = new_id()
    assert type(u) is uuid.UUID
    assert u.version == 7
    assert u.variant == uuid.RFC_4122


def test_new_ids_are_unique_and_increasing() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_id_timestamp_is_the_creation_time_in_utc() -> None:
    before = datetime.now(UTC)
    ts = id_timestamp(new_id())
    after = datetime.now(UTC)
    assert ts.tzinfo is UTC
    assert ts.microsecond % 1000 == 0
    # The id carries milliseconds, so allow for truncation of `before`.
    assert before - timedelta(milliseconds=1) <= ts <= after


def test_id_timestamp_reads_the_48_bit_millisecond_prefix() -> None:
    ms = 1_700_000_000_123
    u = uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62) | 0x123)
    assert id_timestamp(u) == datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=UTC)


def test_id_timestamp_refuses_other_uuid_versions() -> None:
    with pytest.raises(ValueError, match="UUIDv7"):
        id_timestamp(uuid.uuid4())
