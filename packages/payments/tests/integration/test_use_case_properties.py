"""Property: random sequences of top-ups, wallet payments, releases, (partial) refunds,
disputes and payouts (succeeding or failing), driven through the real use cases, keep the
ledger whole after every step: entries balanced, balances equal to their postings, no floor
broken, closed holds at zero; every release's fee + net = gross, in whole shillings."""

from __future__ import annotations

import uuid

import msgspec
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexgate.kernel.errors import Conflict, ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments.adapters.sql.ledger import verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection, escrow, payouts
from nexgate.payments.application.collection import Actor
from nexgate.payments.domain.intents import Attempt, AttemptStatus, Split
from nexgate.payments.domain.payouts import WithdrawalLimits
from nexgate.payments.ports import PayoutAccepted, ProviderOutcome

pytestmark = pytest.mark.integration

TZS = "TZS"
USERS = [uuid.UUID(int=i + 1) for i in range(3)]
SHOP = Actor("system:commerce")
ADMIN = Actor("user:admin", uuid.UUID(int=999), admin=True)
LIMITS = WithdrawalLimits({TZS: 100}, {TZS: 10**12})


class Accepting:
    name = "mpesa"

    async def disburse(self, **_: object) -> PayoutAccepted:
        return PayoutAccepted(provider_ref=uuid.uuid4().hex)

    def parse_payout_callback(self, body):  # pragma: no cover - not reached
        raise NotImplementedError


def tzs(major: int) -> Money:
    return Money.of(major, TZS)


operation = st.one_of(
    st.tuples(st.just("topup"), st.sampled_from(USERS), st.integers(1, 5_000)),
    st.tuples(
        st.just("pay"), st.sampled_from(USERS), st.lists(st.integers(1, 2_000), min_size=1, max_size=3)
    ),
    st.tuples(st.just("release"), st.integers(0, 20), st.sampled_from([0, 500, 1_234])),
    st.tuples(st.just("refund"), st.integers(0, 20), st.one_of(st.none(), st.integers(1, 2_000))),
    st.tuples(st.just("dispute"), st.integers(0, 20)),
    st.tuples(st.just("payout"), st.sampled_from(USERS), st.integers(1, 3_000), st.booleans()),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=10))
async def test_random_use_case_sequences_keep_the_ledger_whole(runtime, ops) -> None:
    uow = sql_unit_of_work(runtime.database().sessions)
    clock = runtime.clock
    holds: list[uuid.UUID] = []
    for op in ops:
        try:
            match op:
                case ("topup", user, amount):
                    intent = await collection.create_intent(
                        uow=uow,
                        clock=clock,
                        actor=Actor.user(user),
                        payer_id=user,
                        amount=tzs(amount),
                        purpose="wallet_topup",
                        reference=str(uuid.uuid4()),
                        splits=[],
                        idempotency_key=str(uuid.uuid4()),
                        fee_bps=500,
                    )
                    attempt = Attempt(
                        id=new_id(),
                        intent_id=intent.id,
                        payer_id=user,
                        method="mobile_money",
                        provider="sandbox",
                        phone="+255754123456",
                        amount=tzs(amount),
                        status=AttemptStatus.PENDING,
                        created_at=clock.now(),
                    )
                    async with uow() as tx:
                        await tx.store.add_attempt(attempt)
                        attempt.provider_ref = attempt.id.hex
                        await tx.store.update_attempt(attempt, clock.now())
                    assert await collection._succeed(uow, clock, attempt.id, None)
                case ("pay", user, amounts):
                    intent = await collection.create_intent(
                        uow=uow,
                        clock=clock,
                        actor=SHOP,
                        payer_id=user,
                        amount=tzs(sum(amounts)),
                        purpose="order",
                        reference=str(uuid.uuid4()),
                        splits=[Split(uuid.uuid4(), tzs(a), f"l{i}") for i, a in enumerate(amounts)],
                        idempotency_key=str(uuid.uuid4()),
                        fee_bps=500,
                    )
                    await collection.pay_with_wallet(
                        uow=uow, clock=clock, actor=Actor.user(user), intent_id=intent.id
                    )
                    holds += [h.id for h in intent.holds]
                case ("release", index, bps) if holds:
                    hold_id = holds[index % len(holds)]
                    async with runtime.database().sessions() as session, session.begin():
                        await session.execute(
                            sa.text("UPDATE payments.holds SET fee_bps = :b WHERE id = :h"),
                            {"b": bps, "h": hold_id},
                        )
                    await escrow.release_hold(uow=uow, clock=clock, actor=SHOP, hold_id=hold_id)
                case ("refund", index, amount) if holds:
                    await escrow.refund_hold(
                        uow=uow,
                        clock=clock,
                        actor=ADMIN,
                        hold_id=holds[index % len(holds)],
                        amount=None if amount is None else tzs(amount),
                        idempotency_key=str(uuid.uuid4()),
                    )
                case ("dispute", index) if holds:
                    await escrow.open_dispute(
                        uow=uow, clock=clock, actor=ADMIN, hold_id=holds[index % len(holds)]
                    )
                case ("payout", user, amount, succeeds):
                    payout = await payouts.request_withdrawal(
                        uow=uow,
                        clock=clock,
                        providers={"mpesa": Accepting()},
                        result_url="x",
                        timeout_url="x",
                        user_id=user,
                        amount=tzs(amount),
                        phone="+255754123456",
                        idempotency_key=str(uuid.uuid4()),
                        limits=LIMITS,
                        routes={"TZ/vodacom": "mpesa"},
                    )
                    outcome = ProviderOutcome.SUCCEEDED if succeeds else ProviderOutcome.FAILED
                    await payouts._settle(uow, clock, payout.id, outcome)
        except (Conflict, ValidationFailed):
            pass  # business refusals (insufficient funds, disputed, released, more than held) roll back whole
        async with runtime.database().sessions() as session:
            assert await verify_ledger(session) == []
    async with runtime.database().sessions() as session:
        rows = await session.execute(
            sa.text("SELECT payload FROM payments.outbox WHERE tag = 'payments.escrow_released.v1'")
        )
        for (payload,) in rows.all():
            released = msgspec.json.decode(payload)
            gross, fee, net = (released[k]["amount"] for k in ("gross", "fee", "net"))
            assert fee + net == gross
            assert fee % 100 == 0
            assert net % 100 == 0
