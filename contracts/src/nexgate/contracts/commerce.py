"""Messages of the commerce context (exchange ``nexgate.commerce``).

The producer context is not built yet: these Structs are the shape it will publish, written
down by their first consumers (profiles' trust score, issue 5; payments' escrow, issue 7) so
that consumers can be built and tested against the real broker today.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from nexgate.contracts.base import Contract


class OrderCompleted(Contract, tag="commerce.order_completed.v1", kw_only=True):
    """An order was delivered and accepted (only completed orders count for trust)."""

    order_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    completed_at: datetime
    shop_id: uuid.UUID | None = None


class ReviewReceived(Contract, tag="commerce.review_received.v1", kw_only=True):
    """A buyer rated a seller (1 to 5) after a completed order."""

    review_id: uuid.UUID
    seller_id: uuid.UUID
    buyer_id: uuid.UUID
    rating: int
    order_id: uuid.UUID | None = None


class OrderDelivered(Contract, tag="commerce.order_delivered.v1", kw_only=True):
    """The buyer received an order: the escrow holds of its payment intent are released."""

    order_id: uuid.UUID
    payment_intent_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    delivered_at: datetime


class OrderCancelled(Contract, tag="commerce.order_cancelled.v1", kw_only=True):
    """An order was cancelled: its payment intent is cancelled if unpaid, else refunded to the
    buyer's wallet (``paid`` is what commerce knew when it cancelled)."""

    order_id: uuid.UUID
    payment_intent_id: uuid.UUID
    paid: bool
    reason: str | None = None
