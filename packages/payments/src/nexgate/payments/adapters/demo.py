"""Demo data: a buyer who tops up by (sandbox) mobile money, pays a two-shop order from the
wallet; one shop is released to, the other partly refunded. Fixed ids so the other contexts'
demo users can line up with them."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.kernel.runtime import Runtime
from nexgate.payments.adapters.sql.models import accounts
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection, escrow
from nexgate.payments.application.collection import Actor
from nexgate.payments.domain.intents import Attempt, AttemptStatus, Split
from nexgate.payments.settings import PaymentsSettings

_NS = uuid.UUID("6f1b1c2e-4b7a-4a55-9d1f-5e0c1f0a7a10")
BUYER = uuid.uuid5(_NS, "demo-buyer")
SHOPS = (uuid.uuid5(_NS, "demo-shop-1"), uuid.uuid5(_NS, "demo-shop-2"))
DEMO = Actor("system:demo", admin=True)


async def seed_demo(runtime: Runtime) -> bool:
    sessions = runtime.database().sessions
    async with sessions() as session:
        if (await session.execute(sa.select(accounts.c.id).limit(1))).first() is not None:
            return False
    uow = sql_unit_of_work(sessions)
    clock = runtime.clock
    fee_bps = PaymentsSettings().fee_bps
    topup = await collection.create_intent(
        uow=uow,
        clock=clock,
        actor=Actor.user(BUYER),
        payer_id=BUYER,
        amount=Money.of(50_000, "TZS"),
        purpose="wallet_topup",
        reference="topup:demo",
        splits=[],
        idempotency_key="demo-topup",
        fee_bps=fee_bps,
    )
    # The sandbox's confirmed collection, applied by the same code path as a real callback.
    attempt = Attempt(
        id=new_id(),
        intent_id=topup.id,
        payer_id=BUYER,
        method="mobile_money",
        provider="sandbox",
        phone="+255754123456",
        amount=topup.amount,
        status=AttemptStatus.PENDING,
        created_at=clock.now(),
    )
    async with uow() as tx:
        await tx.store.add_attempt(attempt)
        attempt.provider_ref = f"sbx_{attempt.id.hex}"
        await tx.store.update_attempt(attempt, clock.now())
    await collection._succeed(uow, clock, attempt.id, "DEMO")
    order = await collection.create_intent(
        uow=uow,
        clock=clock,
        actor=DEMO,
        payer_id=BUYER,
        amount=Money.of(30_000, "TZS"),
        purpose="order",
        reference="order:demo-1",
        splits=[
            Split(SHOPS[0], Money.of(18_000, "TZS"), "demo-1/shop-1"),
            Split(SHOPS[1], Money.of(12_000, "TZS"), "demo-1/shop-2"),
        ],
        idempotency_key="demo-order-1",
        fee_bps=fee_bps,
    )
    await collection.pay_with_wallet(uow=uow, clock=clock, actor=Actor.user(BUYER), intent_id=order.id)
    first, second = order.holds
    await escrow.release_hold(uow=uow, clock=clock, actor=DEMO, hold_id=first.id)
    await escrow.refund_hold(
        uow=uow,
        clock=clock,
        actor=DEMO,
        hold_id=second.id,
        amount=Money.of(2_000, "TZS"),
        idempotency_key="demo-refund-1",
    )
    return True
