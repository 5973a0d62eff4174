"""The messages of commerce and events on the real broker: each moves the money once (a
redelivery, or a second message about the same cancellation, changes nothing) and a disputed
hold stays held whatever is said."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from nexgate.contracts.commerce import OrderCancelled, OrderDelivered
from nexgate.contracts.events import BookingCancelled, EventCancelled, EventCompleted
from nexgate.kernel.clock import FixedClock
from nexgate.kernel.messaging.admin import dead_letters
from nexgate.payments import api
from nexgate.payments.adapters.sql.models import journal_entries, tables
from nexgate.payments.domain.intents import HoldStatus, IntentStatus
from nexgate.payments.domain.ledger import AccountRef

from .test_releases import COMMERCE, EVENTS, TZS, balance, due, paid, problems, split, statuses, tzs

pytestmark = pytest.mark.integration


async def handled(runtime, count: int, timeout: float = 15.0) -> None:
    """Wait until the inbox holds ``count`` messages (each consumed once, in one transaction
    with its effect)."""
    deadline = time.monotonic() + timeout
    while True:
        async with runtime.database().sessions() as session:
            seen = await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox))
        if seen == count:
            return
        assert seen < count, f"{seen} messages consumed, expected {count}"
        if time.monotonic() > deadline:
            raise AssertionError(f"{seen} of {count} messages consumed in time")
        await asyncio.sleep(0.05)


async def entries(runtime) -> int:
    async with runtime.database().sessions() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(journal_entries))


async def redeliver(runtime, publish, message, marker, count: int) -> None:
    """Send ``message`` again, then a fresh ``marker`` on the same queue: once the marker is
    consumed the redelivery before it has been handled too (one consumer, in order)."""
    await publish(message)
    await publish(marker)
    await handled(runtime, count)


def delivered(intent: api.Intent) -> OrderDelivered:
    return OrderDelivered(
        order_id=uuid.uuid4(),
        payment_intent_id=intent.id,
        buyer_id=intent.payer_id,
        seller_id=intent.holds[0].payee_id,
        delivered_at=datetime.now(UTC),
    )


async def test_order_delivered_releases_once_and_a_disputed_hold_stays(runtime, publish) -> None:
    intent = await paid(runtime, split(1000), split(2000))
    disputed, released = intent.holds
    await api.open_dispute(runtime, actor=api.Actor.user(intent.payer_id), hold_id=disputed.id)
    message = delivered(intent)
    await publish(message)
    await handled(runtime, 1)
    assert await statuses(runtime, intent) == [HoldStatus.DISPUTED, HoldStatus.RELEASED]
    assert await balance(runtime, AccountRef.wallet(released.payee_id, TZS)) == tzs(1900).amount
    assert await balance(runtime, AccountRef.escrow(disputed.id, TZS)) == tzs(1000).amount
    other = await paid(runtime, split(500))
    before = await entries(runtime)
    await redeliver(runtime, publish, message, delivered(other), 2)
    assert await entries(runtime) == before + 1  # the other order's release only
    assert await balance(runtime, AccountRef.wallet(released.payee_id, TZS)) == tzs(1900).amount
    assert await balance(runtime, AccountRef.platform_revenue(TZS)) == tzs(100 + 25).amount
    assert await statuses(runtime, intent) == [HoldStatus.DISPUTED, HoldStatus.RELEASED]
    assert await problems(runtime) == []


async def test_order_cancelled_cancels_unpaid_and_refunds_paid_once(runtime, publish) -> None:
    unpaid = await paid(runtime, split(700), pay=False)
    await publish(OrderCancelled(order_id=uuid.uuid4(), payment_intent_id=unpaid.id, paid=False))
    await handled(runtime, 1)
    got = await api.get_intent(runtime, actor=COMMERCE, intent_id=unpaid.id)
    assert got.status is IntentStatus.CANCELLED

    # Commerce thought it unpaid, but the payment went through first: the intent decides.
    intent = await paid(runtime, split(1000), split(300))
    order = uuid.uuid4()
    message = OrderCancelled(order_id=order, payment_intent_id=intent.id, paid=False, reason="buyer")
    await publish(message)
    await handled(runtime, 2)
    assert await statuses(runtime, intent) == [HoldStatus.REFUNDED, HoldStatus.REFUNDED]
    assert await balance(runtime, AccountRef.wallet(intent.payer_id, TZS)) == tzs(1300).amount
    before = await entries(runtime)

    # The same message redelivered, and a second message about the same cancellation.
    again = OrderCancelled(order_id=order, payment_intent_id=intent.id, paid=True)
    await redeliver(runtime, publish, message, again, 3)
    assert await entries(runtime) == before
    assert await balance(runtime, AccountRef.wallet(intent.payer_id, TZS)) == tzs(1300).amount
    assert await problems(runtime) == []


async def test_event_completed_releases_after_the_grace_window(runtime, publish) -> None:
    event = uuid.uuid4()
    booking = await paid(runtime, split(2000, release_key=str(event)), actor=EVENTS)
    other = await paid(runtime, split(800, release_key=str(uuid.uuid4())), actor=EVENTS)
    ended = datetime.now(UTC).replace(microsecond=0)
    message = EventCompleted(event_id=event, organizer_id=booking.holds[0].payee_id, ended_at=ended)
    await publish(message)
    await handled(runtime, 1)
    assert await due(runtime, FixedClock(ended + timedelta(hours=47))) == 0
    assert await statuses(runtime, booking, EVENTS) == [HoldStatus.HELD]

    # A later end reported again changes nothing: the first end stands.
    later = EventCompleted(
        event_id=event, organizer_id=booking.holds[0].payee_id, ended_at=ended + timedelta(days=5)
    )
    await redeliver(runtime, publish, message, later, 2)
    assert await due(runtime, FixedClock(ended + timedelta(hours=49))) == 1
    assert await statuses(runtime, booking, EVENTS) == [HoldStatus.RELEASED]
    assert await statuses(runtime, other, EVENTS) == [HoldStatus.HELD]
    assert await balance(runtime, AccountRef.wallet(booking.holds[0].payee_id, TZS)) == tzs(1900).amount
    assert await problems(runtime) == []


async def test_event_cancelled_refunds_every_booking_of_the_event_once(runtime, publish) -> None:
    event = uuid.uuid4()
    first = await paid(runtime, split(1000, release_key=str(event)), actor=EVENTS)
    second = await paid(runtime, split(2500, release_key=str(event)), actor=EVENTS)
    elsewhere = await paid(runtime, split(400, release_key=str(uuid.uuid4())), actor=EVENTS)
    disputed = second.holds[0]
    await api.open_dispute(runtime, actor=api.Actor.user(second.payer_id), hold_id=disputed.id)
    message = EventCancelled(event_id=event, organizer_id=first.holds[0].payee_id, reason="rain")
    await publish(message)
    await handled(runtime, 1)
    # A cancelled event owes everyone their money back, contested or not.
    assert await statuses(runtime, first, EVENTS) == [HoldStatus.REFUNDED]
    assert await statuses(runtime, second, EVENTS) == [HoldStatus.REFUNDED]
    assert await statuses(runtime, elsewhere, EVENTS) == [HoldStatus.HELD]
    assert await balance(runtime, AccountRef.wallet(first.payer_id, TZS)) == tzs(1000).amount
    assert await balance(runtime, AccountRef.wallet(second.payer_id, TZS)) == tzs(2500).amount
    before = await entries(runtime)

    again = EventCancelled(event_id=event, organizer_id=first.holds[0].payee_id)
    await redeliver(runtime, publish, message, again, 2)
    assert await entries(runtime) == before
    assert await balance(runtime, AccountRef.wallet(second.payer_id, TZS)) == tzs(2500).amount
    assert await problems(runtime) == []


async def test_booking_cancelled_refunds_the_booking_once(runtime, publish) -> None:
    event = uuid.uuid4()
    booking = await paid(runtime, split(1500, release_key=str(event)), actor=EVENTS)
    neighbour = await paid(runtime, split(1500, release_key=str(event)), actor=EVENTS)
    cancelled = uuid.uuid4()
    message = BookingCancelled(booking_id=cancelled, event_id=event, payment_intent_id=booking.id)
    await publish(message)
    await handled(runtime, 1)
    assert await statuses(runtime, booking, EVENTS) == [HoldStatus.REFUNDED]
    assert await statuses(runtime, neighbour, EVENTS) == [HoldStatus.HELD]
    assert await balance(runtime, AccountRef.wallet(booking.payer_id, TZS)) == tzs(1500).amount
    before = await entries(runtime)

    again = BookingCancelled(booking_id=cancelled, event_id=event, payment_intent_id=booking.id)
    await redeliver(runtime, publish, message, again, 2)
    assert await entries(runtime) == before
    assert await balance(runtime, AccountRef.wallet(booking.payer_id, TZS)) == tzs(1500).amount
    assert await problems(runtime) == []


async def test_delivery_of_an_intent_commerce_does_not_own_moves_nothing_and_is_dead_lettered(
    runtime, publish, settings
) -> None:
    booking = await paid(runtime, split(1000), actor=EVENTS)
    before = await entries(runtime)
    await publish(delivered(booking))
    queue = runtime.naming.queue("payments", "on_order_delivered")
    deadline = time.monotonic() + 15
    while not [d for d in await dead_letters(settings.rabbitmq_url, [queue]) if d.count == 1]:
        assert time.monotonic() < deadline, "not dead-lettered in time"
        await asyncio.sleep(0.05)
    [row] = await dead_letters(settings.rabbitmq_url, [queue])
    assert "HoldNotFound" in (row.last_error or "")
    assert await entries(runtime) == before
    assert await statuses(runtime, booking, EVENTS) == [HoldStatus.HELD]
    await handled(runtime, 0)  # the claim rolled back with the failure


async def test_user_registered_fills_the_account_age_replica_once(runtime, publish) -> None:
    from nexgate.contracts.auth import UserRegistered
    from nexgate.payments.adapters.sql.models import account_ages

    def registered(user: uuid.UUID, at: datetime) -> UserRegistered:
        return UserRegistered(
            user_id=user,
            display_name="Asha",
            locale="sw",
            email_verified=True,
            phone_verified=False,
            registered_via="email",
            registered_at=at,
        )

    async def ages() -> dict[uuid.UUID, datetime]:
        async with runtime.database().sessions() as session:
            rows = await session.execute(sa.select(account_ages.c.user_id, account_ages.c.registered_at))
            return {r.user_id: r.registered_at for r in rows}

    user, other = uuid.uuid4(), uuid.uuid4()
    first = registered(user, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    await publish(first)
    await handled(runtime, 1)
    assert await ages() == {user: first.registered_at}
    # The same message again, and another registration of the same account: the first stands.
    await redeliver(runtime, publish, first, registered(user, datetime.now(UTC)), 2)
    await publish(registered(other, datetime(2026, 11, 1, tzinfo=UTC)))
    await handled(runtime, 3)
    assert await ages() == {user: first.registered_at, other: datetime(2026, 11, 1, tzinfo=UTC)}
