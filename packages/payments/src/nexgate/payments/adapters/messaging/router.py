"""Consumers of the payments context: what commerce and events say about the orders, bookings
and events behind intents they created.

Each runs the escrow use case inside the consumer's transaction (``session_unit_of_work``), so
the inbox claim and the money moved commit together: a redelivered message is skipped by the
inbox, and a message that fails is retried whole. Refund keys derive from the cancelled thing,
not the message, so two messages about one cancellation refund once.
"""

from __future__ import annotations

from datetime import timedelta

from faststream.rabbit import RabbitRouter
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.contracts.auth import UserRegistered
from nexgate.contracts.commerce import OrderCancelled, OrderDelivered
from nexgate.contracts.events import BookingCancelled, EventCancelled, EventCompleted
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.runtime import Runtime
from nexgate.payments.adapters.sql.models import tables
from nexgate.payments.adapters.sql.repository import session_unit_of_work
from nexgate.payments.application import escrow, payouts
from nexgate.payments.application.collection import Actor
from nexgate.payments.settings import PaymentsSettings

COMMERCE = Actor.system("commerce")
EVENTS = Actor.system("events")


def build_router(runtime: Runtime, settings: PaymentsSettings | None = None) -> RabbitRouter:
    settings = settings or PaymentsSettings()
    grace = timedelta(seconds=settings.event_grace_s)
    router = RabbitRouter()
    wiring = runtime.consumer_wiring("payments", tables)
    clock = runtime.clock

    @consumer(router, wiring)
    async def on_user_registered(message: UserRegistered, session: AsyncSession) -> None:
        """Remember when the account was registered: a withdrawal from a young account waits
        for an admin (``YOUNG_ACCOUNT_DAYS``)."""
        await payouts.record_registration(
            uow=session_unit_of_work(session), user_id=message.user_id, registered_at=message.registered_at
        )

    @consumer(router, wiring)
    async def on_order_delivered(message: OrderDelivered, session: AsyncSession) -> None:
        """Release every hold of the order's intent to its payee (less the fee); disputed holds
        wait for an admin, released ones are no-ops."""
        await escrow.release_intent(
            uow=session_unit_of_work(session),
            clock=clock,
            actor=COMMERCE,
            intent_id=message.payment_intent_id,
        )

    @consumer(router, wiring)
    async def on_order_cancelled(message: OrderCancelled, session: AsyncSession) -> None:
        """Cancel the order's intent if it is still unpaid, else refund what its holds still hold
        to the buyer's wallet. The intent's state decides, not ``paid``: a payment confirmed after
        commerce cancelled still ends in the wallet."""
        await escrow.cancel_or_refund_intent(
            uow=session_unit_of_work(session),
            clock=clock,
            actor=COMMERCE,
            intent_id=message.payment_intent_id,
            idempotency_key=f"order_cancelled:{message.order_id}",
        )

    @consumer(router, wiring)
    async def on_event_completed(message: EventCompleted, session: AsyncSession) -> None:
        """The holds keyed by the event become releasable after the grace window (the release
        job pays them); the first end reported stands."""
        await escrow.release_key_ended(
            uow=session_unit_of_work(session),
            clock=clock,
            actor=EVENTS,
            release_key=str(message.event_id),
            ended_at=message.ended_at,
            grace=grace,
        )

    @consumer(router, wiring)
    async def on_event_cancelled(message: EventCancelled, session: AsyncSession) -> None:
        """Refund every hold keyed by the event that still holds money to its payer."""
        await escrow.refund_release_key(
            uow=session_unit_of_work(session),
            clock=clock,
            actor=EVENTS,
            release_key=str(message.event_id),
            idempotency_key=f"event_cancelled:{message.event_id}",
        )

    @consumer(router, wiring)
    async def on_booking_cancelled(message: BookingCancelled, session: AsyncSession) -> None:
        """Cancel the booking's intent if unpaid, else refund it to the attendee's wallet."""
        await escrow.cancel_or_refund_intent(
            uow=session_unit_of_work(session),
            clock=clock,
            actor=EVENTS,
            intent_id=message.payment_intent_id,
            idempotency_key=f"booking_cancelled:{message.booking_id}",
        )

    return router
