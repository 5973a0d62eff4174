"""Messages of the events context (exchange ``nexgate.events``).

The producer context is not built yet: these Structs are the shape it will publish, written
down by their first consumer (profiles' trust score, issue 5).
"""

from __future__ import annotations

import uuid

from nexgate.contracts.base import Contract


class ReviewReceived(Contract, tag="events.review_received.v1", kw_only=True):
    """An attendee rated an event's organiser (1 to 5)."""

    review_id: uuid.UUID
    event_id: uuid.UUID
    organizer_id: uuid.UUID
    reviewer_id: uuid.UUID
    rating: int
