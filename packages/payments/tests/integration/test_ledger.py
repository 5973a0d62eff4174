"""The ledger on the real PostgreSQL: races, idempotency, database guards, invariants."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError

from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.models import accounts
from nexgate.payments.domain.fees import split_fee
from nexgate.payments.domain.ledger import AccountRef, InsufficientFunds, transfer

pytestmark = pytest.mark.integration


def tzs(major: int) -> Money:
    return Money.of(major, "TZS")


async def post(runtime, source, targets, key=None) -> bool:
    entry = transfer(
        id=new_id(),
        kind="test",
        reference="test",
        idempotency_key=key or str(uuid.uuid4()),
        source=source,
        targets=targets,
    )
    async with runtime.database().sessions() as session, session.begin():
        return await SqlLedger(session).post(entry)


async def balance(runtime, ref) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def problems(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        return await verify_ledger(session)


CLEARING = AccountRef.clearing("mpesa", "TZS")


async def test_100_concurrent_payments_on_10000_exactly_10_succeed(runtime) -> None:
    payer = uuid.uuid4()
    wallet = AccountRef.wallet(payer, "TZS")
    assert await post(runtime, CLEARING, [(wallet, tzs(10_000))])

    async def pay() -> bool:
        try:
            return await post(runtime, wallet, [(AccountRef.escrow(uuid.uuid4(), "TZS"), tzs(1_000))])
        except InsufficientFunds:
            return False

    results = await asyncio.gather(*(pay() for _ in range(100)))
    assert results.count(True) == 10
    assert await balance(runtime, wallet) == 0
    assert await problems(runtime) == []


async def test_one_idempotency_key_posted_concurrently_moves_money_once(runtime) -> None:
    wallet = AccountRef.wallet(uuid.uuid4(), "TZS")
    results = await asyncio.gather(
        *(post(runtime, CLEARING, [(wallet, tzs(500))], key="topup:same") for _ in range(20))
    )
    assert results.count(True) == 1
    assert await balance(runtime, wallet) == tzs(500).amount
    assert await problems(runtime) == []


async def test_opposite_transfers_neither_deadlock_nor_lose_updates(runtime) -> None:
    a, b = AccountRef.wallet(uuid.uuid4(), "TZS"), AccountRef.wallet(uuid.uuid4(), "TZS")
    await post(runtime, CLEARING, [(a, tzs(1_000)), (b, tzs(1_000))])
    moves = [post(runtime, a, [(b, tzs(1))]) for _ in range(40)] + [
        post(runtime, b, [(a, tzs(1))]) for _ in range(40)
    ]
    assert all(await asyncio.gather(*moves))
    assert await balance(runtime, a) == await balance(runtime, b) == tzs(1_000).amount
    assert await problems(runtime) == []


async def test_overdraft_is_refused_and_leaves_nothing(runtime) -> None:
    wallet = AccountRef.wallet(uuid.uuid4(), "TZS")
    await post(runtime, CLEARING, [(wallet, tzs(100))])
    with pytest.raises(InsufficientFunds):
        await post(runtime, wallet, [(AccountRef.platform_revenue("TZS"), tzs(101))], key="too-much")
    assert await balance(runtime, wallet) == tzs(100).amount
    # The key was not burnt: the refused entry rolled back whole.
    assert await post(runtime, wallet, [(AccountRef.platform_revenue("TZS"), tzs(100))], key="too-much")


async def _raw_entry(session, entry_id, rows) -> None:
    await session.execute(
        sa.text(
            "INSERT INTO payments.journal_entries (id, kind, reference, idempotency_key) "
            "VALUES (:id, 'raw', 'raw', :key)"
        ),
        {"id": entry_id, "key": str(entry_id)},
    )
    for account_id, amount in rows:
        await session.execute(
            sa.text(
                "INSERT INTO payments.postings (entry_id, account_id, amount, currency, balance_after) "
                "VALUES (:e, :a, :amount, 'TZS', 0)"
            ),
            {"e": entry_id, "a": account_id, "amount": amount},
        )


async def _account_ids(runtime, *refs) -> list[int]:
    async with runtime.database().sessions() as session, session.begin():
        ids = await SqlLedger(session)._ensure_accounts(list(refs))
    return [ids[ref.key] for ref in refs]


@pytest.mark.parametrize("amounts", [[500, -400], [500], [500, -500, 1]])
async def test_the_database_refuses_an_unbalanced_entry_at_commit(runtime, amounts) -> None:
    refs = [AccountRef.clearing(f"p{i}", "TZS") for i in range(len(amounts))]
    ids = await _account_ids(runtime, *refs)
    async with runtime.database().sessions() as session:
        await _raw_entry(session, uuid.uuid4(), list(zip(ids, amounts, strict=True)))
        with pytest.raises(IntegrityError, match="journal entry"):
            await session.commit()
    async with runtime.database().sessions() as session:
        assert (await session.execute(sa.text("SELECT count(*) FROM payments.postings"))).scalar() == 0


async def test_the_database_refuses_edits_and_deletes_of_the_ledger(runtime) -> None:
    wallet = AccountRef.wallet(uuid.uuid4(), "TZS")
    await post(runtime, CLEARING, [(wallet, tzs(100))])
    for statement in (
        "UPDATE payments.postings SET amount = amount * 2",
        "DELETE FROM payments.postings",
        "UPDATE payments.journal_entries SET kind = 'edited'",
        "DELETE FROM payments.journal_entries",
    ):
        async with runtime.database().sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(sa.text(statement))
    assert await balance(runtime, wallet) == tzs(100).amount


async def test_the_database_floors_every_account_but_clearing(runtime) -> None:
    wallet = AccountRef.wallet(uuid.uuid4(), "TZS")
    await post(runtime, CLEARING, [(wallet, tzs(100))])
    async with runtime.database().sessions() as session:
        with pytest.raises(IntegrityError, match="ck_accounts_floor"):
            await session.execute(sa.update(accounts).where(accounts.c.key == wallet.key).values(balance=-1))
    assert await balance(runtime, CLEARING) == -tzs(100).amount


# -- property: any sequence of ledger moves keeps every invariant --------------------------

USERS = [uuid.UUID(int=i + 1) for i in range(3)]
HOLDS = [uuid.UUID(int=100 + i) for i in range(4)]

operation = st.one_of(
    st.tuples(st.just("topup"), st.sampled_from(USERS), st.integers(1, 5_000)),
    st.tuples(st.just("pay"), st.sampled_from(USERS), st.sampled_from(HOLDS), st.integers(1, 3_000)),
    st.tuples(st.just("release"), st.sampled_from(HOLDS), st.sampled_from(USERS), st.integers(0, 1_000)),
    st.tuples(st.just("refund"), st.sampled_from(HOLDS), st.sampled_from(USERS), st.integers(1, 3_000)),
    st.tuples(st.just("payout"), st.sampled_from(USERS), st.integers(1, 3_000), st.booleans()),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=12))
async def test_random_sequences_keep_the_ledger_balanced(runtime, ops) -> None:
    for op in ops:
        try:
            match op:
                case ("topup", user, amount):
                    await post(runtime, CLEARING, [(AccountRef.wallet(user, "TZS"), tzs(amount))])
                case ("pay", user, hold, amount):
                    await post(
                        runtime,
                        AccountRef.wallet(user, "TZS"),
                        [(AccountRef.escrow(hold, "TZS"), tzs(amount))],
                    )
                case ("release", hold, payee, bps):
                    escrow = AccountRef.escrow(hold, "TZS")
                    gross = Money(await balance(runtime, escrow), "TZS")
                    fee, net = split_fee(gross, bps)
                    assert fee + net == gross
                    assert fee.amount % 100 == 0
                    assert net.amount % 100 == 0
                    legs = [(AccountRef.wallet(payee, "TZS"), net), (AccountRef.platform_revenue("TZS"), fee)]
                    legs = [leg for leg in legs if leg[1].amount > 0]
                    if legs:
                        await post(runtime, escrow, legs)
                case ("refund", hold, payer, amount):
                    await post(
                        runtime,
                        AccountRef.escrow(hold, "TZS"),
                        [(AccountRef.wallet(payer, "TZS"), tzs(amount))],
                    )
                case ("payout", user, amount, succeeds):
                    in_flight = AccountRef.payouts_in_flight("TZS")
                    await post(runtime, AccountRef.wallet(user, "TZS"), [(in_flight, tzs(amount))])
                    back = CLEARING if succeeds else AccountRef.wallet(user, "TZS")
                    await post(runtime, in_flight, [(back, tzs(amount))])
        except InsufficientFunds:
            pass
        assert await problems(runtime) == []
