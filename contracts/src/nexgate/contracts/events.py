"""Messages of the events context (exchange ``nexgate.events``).

The producer context is not built yet: these Structs are the shape it will publish, written
down by their first consumers (profiles' trust score, issue 5; payments' escrow, issue 7).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from nexgate.contracts.base import Contract


class ReviewReceived(Contract, tag="events.review_received.v1", kw_only=True):
    """An attendee rated an event's organiser (1 to 5)."""

    review_id: uuid.UUID
    event_id: uuid.UUID
    organizer_id: uuid.UUID
    reviewer_id: uuid.UUID
    rating: int


class EventCompleted(Contract, tag="events.event_completed.v1", kw_only=True):
    """An event has ended: the holds keyed by its id are released after a grace window."""

    event_id: uuid.UUID
    organizer_id: uuid.UUID
    ended_at: datetime


class EventCancelled(Contract, tag="events.event_cancelled.v1", kw_only=True):
    """An event was cancelled: every hold keyed by its id is refunded to its payer."""

    event_id: uuid.UUID
    organizer_id: uuid.UUID
    reason: str | None = None


class BookingCancelled(Contract, tag="events.booking_cancelled.v1", kw_only=True):
    """A booking was cancelled: its payment intent is cancelled if unpaid, else refunded."""

    booking_id: uuid.UUID
    event_id: uuid.UUID
    payment_intent_id: uuid.UUID
