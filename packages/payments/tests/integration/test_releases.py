"""What releases a hold, and what never does: an order delivered (once, however often it is
said), a due `auto_release_at`, the end of an event plus the grace window; a disputed hold
stays until an admin decides. Cancellations land the payer's money in the wallet in either
order of events."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from nexgate.kernel.clock import FixedClock
from nexgate.kernel.errors import Conflict, NotFound
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import escrow
from nexgate.payments.domain.intents import HoldStatus, IntentStatus
from nexgate.payments.domain.ledger import AccountRef, transfer

pytestmark = pytest.mark.integration

TZS = "TZS"
COMMERCE = api.Actor.system("commerce")
EVENTS = api.Actor.system("events")
ADMIN = api.Actor.user(uuid.uuid4(), admin=True)


def tzs(major: int) -> Money:
    return Money.of(major, TZS)


async def fund(runtime, user: uuid.UUID, major: int) -> None:
    entry = transfer(
        id=new_id(),
        kind="test_topup",
        reference="test",
        idempotency_key=str(uuid.uuid4()),
        source=AccountRef.clearing("sandbox", TZS),
        targets=[(AccountRef.wallet(user, TZS), tzs(major))],
    )
    async with runtime.database().sessions() as session, session.begin():
        assert await SqlLedger(session).post(entry)


async def paid(runtime, *splits: api.Split, actor=COMMERCE, pay: bool = True) -> api.Intent:
    payer = uuid.uuid4()
    total = sum(s.amount.amount for s in splits)
    await fund(runtime, payer, total // 100)
    intent = await api.create_intent(
        runtime,
        actor=actor,
        payer_id=payer,
        amount=Money(total, TZS),
        purpose="order" if actor is COMMERCE else "booking",
        reference=f"ref-{uuid.uuid4().hex[:10]}",
        splits=list(splits),
        idempotency_key=str(uuid.uuid4()),
    )
    if pay:
        await api.pay_with_wallet(runtime, actor=api.Actor.user(payer), intent_id=intent.id)
    return await api.get_intent(runtime, actor=actor, intent_id=intent.id)


def split(major: int, **extra) -> api.Split:
    return api.Split(uuid.uuid4(), tzs(major), f"line-{uuid.uuid4().hex[:6]}", **extra)


async def balance(runtime, ref: AccountRef) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def statuses(runtime, intent: api.Intent, actor=COMMERCE) -> list[HoldStatus]:
    got = await api.get_intent(runtime, actor=actor, intent_id=intent.id)
    return [h.status for h in got.holds]


async def problems(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        return await verify_ledger(session)


def due(runtime, clock):
    return escrow.release_due(uow=sql_unit_of_work(runtime.database().sessions), clock=clock)


async def test_delivered_releases_every_hold_with_the_right_fee_once_when_redelivered(runtime) -> None:
    intent = await paid(runtime, split(1010), split(2000))
    for _ in range(3):  # the message redelivered: no second payout
        await api.release_intent(runtime, actor=COMMERCE, intent_id=intent.id)
    assert await statuses(runtime, intent) == [HoldStatus.RELEASED, HoldStatus.RELEASED]
    first, second = intent.holds
    assert await balance(runtime, AccountRef.wallet(first.payee_id, TZS)) == tzs(959).amount
    assert await balance(runtime, AccountRef.wallet(second.payee_id, TZS)) == tzs(1900).amount
    assert await balance(runtime, AccountRef.platform_revenue(TZS)) == tzs(51 + 100).amount
    with pytest.raises(NotFound):
        await api.release_intent(runtime, actor=EVENTS, intent_id=intent.id)
    assert await problems(runtime) == []


async def test_disputed_holds_stay_until_an_admin_decides(runtime) -> None:
    now = runtime.clock.now()
    intent = await paid(runtime, split(1000, auto_release_at=now - timedelta(minutes=1)), split(500))
    disputed, other = intent.holds
    payer = api.Actor.user(intent.payer_id)
    assert (await api.open_dispute(runtime, actor=payer, hold_id=disputed.id)).status is HoldStatus.DISPUTED
    assert (await api.open_dispute(runtime, actor=payer, hold_id=disputed.id)).status is HoldStatus.DISPUTED
    with pytest.raises(NotFound):  # the payee cannot, nor a stranger
        await api.open_dispute(runtime, actor=api.Actor.user(disputed.payee_id), hold_id=disputed.id)
    # No trigger releases it: delivery, the owning context, the due date.
    await api.release_intent(runtime, actor=COMMERCE, intent_id=intent.id)
    with pytest.raises(Conflict) as refused:
        await api.release_hold(runtime, actor=COMMERCE, hold_id=disputed.id)
    assert refused.value.code == "hold_disputed"
    assert await due(runtime, FixedClock(now + timedelta(days=30))) == 0
    assert await statuses(runtime, intent) == [HoldStatus.DISPUTED, HoldStatus.RELEASED]
    assert await balance(runtime, AccountRef.escrow(disputed.id, TZS)) == tzs(1000).amount
    # An admin resolves it: here for the payee.
    released = await api.release_hold(runtime, actor=ADMIN, hold_id=disputed.id)
    assert released.status is HoldStatus.RELEASED
    assert await balance(runtime, AccountRef.wallet(disputed.payee_id, TZS)) == tzs(950).amount
    assert other.status is HoldStatus.HELD  # the snapshot before delivery
    assert await problems(runtime) == []


async def test_an_admin_resolves_a_dispute_for_the_payer_with_a_refund(runtime) -> None:
    intent = await paid(runtime, split(1000))
    hold = intent.holds[0]
    await api.open_dispute(runtime, actor=api.Actor.user(intent.payer_id), hold_id=hold.id)
    await api.refund(runtime, actor=ADMIN, hold_id=hold.id, idempotency_key="r1")
    assert await statuses(runtime, intent) == [HoldStatus.REFUNDED]
    assert await balance(runtime, AccountRef.wallet(intent.payer_id, TZS)) == tzs(1000).amount
    assert await problems(runtime) == []


async def test_a_due_auto_release_at_releases_and_a_later_one_waits(runtime) -> None:
    now = runtime.clock.now()
    intent = await paid(
        runtime,
        split(1000, auto_release_at=now + timedelta(hours=1)),
        split(700, auto_release_at=now + timedelta(days=3)),
    )
    assert await due(runtime, FixedClock(now)) == 0
    assert await due(runtime, FixedClock(now + timedelta(hours=2))) == 1
    assert await statuses(runtime, intent) == [HoldStatus.RELEASED, HoldStatus.HELD]
    assert await due(runtime, FixedClock(now + timedelta(hours=2))) == 0
    assert await due(runtime, FixedClock(now + timedelta(days=4))) == 1
    assert await statuses(runtime, intent) == [HoldStatus.RELEASED, HoldStatus.RELEASED]
    assert await problems(runtime) == []


async def test_event_end_releases_after_the_grace_window(runtime) -> None:
    event = f"event-{uuid.uuid4().hex[:8]}"
    booking = await paid(runtime, split(3000, release_key=event), actor=EVENTS)
    unrelated = await paid(runtime, split(3000, release_key="another-event"), actor=EVENTS)
    # Commerce saying the key ended does not touch the events context's holds.
    ended = runtime.clock.now()
    await api.event_ended(runtime, actor=COMMERCE, release_key=event, ended_at=ended - timedelta(days=9))
    assert await due(runtime, FixedClock(ended)) == 0
    at = await api.event_ended(runtime, actor=EVENTS, release_key=event, ended_at=ended)
    assert at == ended + timedelta(hours=48)
    # Said again later (a redelivered message): the first end stands.
    again = await api.event_ended(
        runtime, actor=EVENTS, release_key=event, ended_at=ended + timedelta(days=1)
    )
    assert again == at
    assert await due(runtime, FixedClock(ended + timedelta(hours=47))) == 0
    assert await statuses(runtime, booking, EVENTS) == [HoldStatus.HELD]
    assert await due(runtime, FixedClock(ended + timedelta(hours=48, seconds=1))) == 1
    assert await statuses(runtime, booking, EVENTS) == [HoldStatus.RELEASED]
    assert await statuses(runtime, unrelated, EVENTS) == [HoldStatus.HELD]
    payee = booking.holds[0].payee_id
    assert await balance(runtime, AccountRef.wallet(payee, TZS)) == tzs(2850).amount
    assert await problems(runtime) == []


async def test_event_cancelled_refunds_every_hold_with_its_key(runtime) -> None:
    event = f"event-{uuid.uuid4().hex[:8]}"
    first = await paid(runtime, split(1000, release_key=event), actor=EVENTS)
    second = await paid(runtime, split(2000, release_key=event), actor=EVENTS)
    assert (
        await api.refund_release_key(runtime, actor=EVENTS, release_key=event, idempotency_key="cancel") == 2
    )
    assert (
        await api.refund_release_key(runtime, actor=EVENTS, release_key=event, idempotency_key="cancel") == 0
    )
    for intent, amount in ((first, 1000), (second, 2000)):
        assert await statuses(runtime, intent, EVENTS) == [HoldStatus.REFUNDED]
        assert await balance(runtime, AccountRef.wallet(intent.payer_id, TZS)) == tzs(amount).amount
    assert await problems(runtime) == []


async def test_cancelled_orders_end_in_the_wallet_in_either_order(runtime) -> None:
    # Paid, then cancelled: refunded to the wallet, once.
    intent = await paid(runtime, split(1200), split(800))
    for _ in range(2):
        cancelled = await api.cancel_or_refund_intent(
            runtime, actor=COMMERCE, intent_id=intent.id, idempotency_key="order-cancelled"
        )
    assert [h.status for h in cancelled.holds] == [HoldStatus.REFUNDED, HoldStatus.REFUNDED]
    assert await balance(runtime, AccountRef.wallet(intent.payer_id, TZS)) == tzs(2000).amount
    # Cancelled before it was paid: the intent is cancelled, a payment is refused.
    unpaid = await paid(runtime, split(500), pay=False)
    got = await api.cancel_or_refund_intent(
        runtime, actor=COMMERCE, intent_id=unpaid.id, idempotency_key="c2"
    )
    assert got.status is IntentStatus.CANCELLED
    with pytest.raises(Conflict):
        await api.pay_with_wallet(runtime, actor=api.Actor.user(unpaid.payer_id), intent_id=unpaid.id)
    assert await balance(runtime, AccountRef.wallet(unpaid.payer_id, TZS)) == tzs(500).amount
    assert await problems(runtime) == []
