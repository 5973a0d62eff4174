"""Time as a port, so domain rules about deadlines and expiry are testable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def _as_utc(dt: datetime) -> datetime:
    # A naive datetime is ambiguous (server local time? UTC?), so refuse it
    # rather than guess; comparisons with aware datetimes would raise anyway.
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("FixedClock needs a timezone-aware datetime")
    return dt.astimezone(UTC)


class FixedClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = _as_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward (or back, with a negative delta) and return the new time."""
        self._now += delta
        return self._now

    def set(self, dt: datetime) -> None:
        self._now = _as_utc(dt)
