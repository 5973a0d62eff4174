import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.pagination import MAX_CURSOR_LENGTH, CursorCodec, Page, validate_limit

SECRET = "test-cursor-secret-0123456789"
codec = CursorCodec(SECRET)

aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5))]),
)
cursor_values = st.one_of(
    st.text(max_size=40).map(lambda s: (str, s)),
    st.integers(min_value=-(2**63), max_value=2**64 - 1).map(lambda i: (int, i)),
    st.uuids().map(lambda u: (uuid.UUID, u)),
    aware_datetimes.map(lambda d: (datetime, d)),
)


def _invalid(cursor: str, types: list[type]) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as exc:
        codec.decode(cursor, types)
    err = exc.value
    assert err.code == "invalid_cursor"
    assert [p.path for p in err.errors] == ["cursor"]
    return err


@given(pairs=st.lists(cursor_values, min_size=1, max_size=4))
def test_round_trip_of_every_supported_type(pairs: list[tuple[type, object]]) -> None:
    types = [t for t, _ in pairs]
    values = [v for _, v in pairs]
    cursor = codec.encode(values)  # type: ignore[arg-type]
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert all(c.isalnum() or c in "-_" for c in cursor)
    decoded = codec.decode(cursor, types)
    assert decoded == tuple(values)
    assert [type(v) for v in decoded] == [type(v) for v in values]


def test_decoded_datetimes_are_aware_and_the_same_instant() -> None:
    eat = datetime(2026, 11, 25, 18, 30, 0, 123456, tzinfo=timezone(timedelta(hours=3)))
    (got,) = codec.decode(codec.encode([eat]), [datetime])
    assert got == eat
    assert got.utcoffset() is not None


@given(
    values=st.tuples(aware_datetimes, st.uuids()),
    position=st.integers(min_value=0),
    replacement=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.~ "),
)
def test_any_changed_character_is_rejected(
    values: tuple[datetime, uuid.UUID], position: int, replacement: str
) -> None:
    cursor = codec.encode(list(values))
    i = position % len(cursor)
    if cursor[i] == replacement:
        return
    tampered = cursor[:i] + replacement + cursor[i + 1 :]
    _invalid(tampered, [datetime, uuid.UUID])


def test_truncated_or_extended_cursors_are_rejected() -> None:
    cursor = codec.encode(["2026-11-25", 42])
    for bad in (cursor[:-1], cursor[:-4], cursor + "A", cursor + "AAAA", cursor[4:], ""):
        _invalid(bad, [str, int])


def test_cursor_signed_with_another_secret_is_rejected() -> None:
    other = CursorCodec("another-secret-of-enough-length")
    cursor = other.encode([uuid.UUID(int=1)])
    assert "signature" in _invalid(cursor, [uuid.UUID]).detail


def test_forged_cursor_is_rejected() -> None:
    import base64

    payload = msgspec.msgpack.encode([0])
    forged = base64.urlsafe_b64encode(payload + b"\x00" * 16).rstrip(b"=").decode()
    _invalid(forged, [int])


@pytest.mark.parametrize(
    ("values", "types"),
    [
        ([1, 2], [int]),  # wrong arity
        ([1], [int, int]),
        (["not-a-uuid"], [uuid.UUID]),
        (["x"], [int]),
        ([1], [str]),
        ([1], [datetime]),
    ],
)
def test_well_signed_cursor_of_the_wrong_shape_is_rejected(values: list[object], types: list[type]) -> None:
    cursor = codec.encode(values)  # type: ignore[arg-type]
    _invalid(cursor, types)


def test_too_long_cursor_is_rejected_before_any_work() -> None:
    assert "too long" in _invalid("A" * (MAX_CURSOR_LENGTH + 1), [str]).detail


def test_encode_refuses_unsupported_values() -> None:
    with pytest.raises(TypeError):
        codec.encode([1.5])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        codec.encode([True])
    with pytest.raises(ValueError, match="timezone-aware"):
        codec.encode([datetime(2026, 1, 1)])
    with pytest.raises(ValueError, match="too long"):
        codec.encode(["x" * 600])


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        CursorCodec("short")
    assert CursorCodec(b"\x00" * 16).decode(CursorCodec(b"\x00" * 16).encode([7]), [int]) == (7,)


# -- limit ---------------------------------------------------------------------


def test_limit_defaults_and_passes_through() -> None:
    assert validate_limit(None) == 20
    assert validate_limit(None, default=50) == 50
    assert validate_limit(1) == 1
    assert validate_limit(100) == 100
    assert validate_limit(30, maximum=30) == 30


@pytest.mark.parametrize(("limit", "maximum"), [(0, 100), (-1, 100), (101, 100), (31, 30), (True, 100)])
def test_limit_out_of_range_is_rejected(limit: int, maximum: int) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_limit(limit, maximum=maximum)
    assert exc.value.code == "invalid_limit"
    assert [p.path for p in exc.value.errors] == ["limit"]


# -- Page ----------------------------------------------------------------------


@dataclass
class Row:
    created_at: datetime
    id: uuid.UUID


def _rows(n: int) -> list[Row]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [Row(start - timedelta(minutes=i), uuid.UUID(int=i + 1)) for i in range(n)]


def _key(row: Row) -> tuple[datetime, uuid.UUID]:
    return (row.created_at, row.id)


def test_page_with_a_probe_row_has_a_cursor_at_the_last_returned_row() -> None:
    rows = _rows(4)  # limit + 1 fetched
    page = Page.from_rows(rows, 3, _key, codec)
    assert page.items == rows[:3]
    assert page.next_cursor is not None
    assert codec.decode(page.next_cursor, [datetime, uuid.UUID]) == _key(rows[2])


@pytest.mark.parametrize("n", [0, 2, 3])
def test_last_page_has_no_cursor(n: int) -> None:
    rows = _rows(n)
    page = Page.from_rows(rows, 3, _key, codec)
    assert page.items == rows
    assert page.next_cursor is None


def test_page_serialises_next_cursor_in_camel_case() -> None:
    assert msgspec.json.encode(Page(items=[1, 2], next_cursor="abc")) == b'{"items":[1,2],"nextCursor":"abc"}'
    assert msgspec.json.encode(Page(items=[])) == b'{"items":[],"nextCursor":null}'
    decoded = msgspec.json.decode(b'{"items":[1],"nextCursor":"c"}', type=Page[int])
    assert decoded == Page(items=[1], next_cursor="c")
