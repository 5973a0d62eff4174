"""Paying an intent from the wallet (`method: wallet`): one transaction, the intent row and the
wallet locked, never below zero, one charge however the request is repeated or raced."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from nexgate.kernel.errors import Conflict
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.domain.intents import HoldStatus, IntentStatus
from nexgate.payments.domain.ledger import AccountRef, transfer

pytestmark = pytest.mark.integration

TZS = "TZS"
COMMERCE = api.Actor.system("commerce")


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


async def order(runtime, payer: uuid.UUID, *amounts: int) -> api.Intent:
    return await api.create_intent(
        runtime,
        actor=COMMERCE,
        payer_id=payer,
        amount=tzs(sum(amounts)),
        purpose="order",
        reference=f"order-{uuid.uuid4().hex[:10]}",
        splits=[api.Split(uuid.uuid4(), tzs(a), f"line-{i}") for i, a in enumerate(amounts)],
        idempotency_key=str(uuid.uuid4()),
    )


async def balance(runtime, ref: AccountRef) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def count(runtime, sql: str, **params) -> int:
    async with runtime.database().sessions() as session:
        return (await session.execute(sa.text(sql), params)).scalar_one()


async def problems(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        return await verify_ledger(session)


async def test_100_concurrent_wallet_payments_of_1000_on_10000_exactly_10_succeed(runtime) -> None:
    payer = uuid.uuid4()
    await fund(runtime, payer, 10_000)
    intents = [await order(runtime, payer, 1_000) for _ in range(100)]

    async def pay(intent: api.Intent) -> str:
        try:
            await api.pay_with_wallet(runtime, actor=api.Actor.user(payer), intent_id=intent.id)
            return "paid"
        except Conflict as exc:
            return exc.code

    results = await asyncio.gather(*(pay(i) for i in intents))
    assert results.count("paid") == 10
    assert results.count("insufficient_funds") == 90
    assert await balance(runtime, AccountRef.wallet(payer, TZS)) == 0
    paid = [i for i, r in zip(intents, results, strict=True) if r == "paid"]
    for intent in paid:
        got = await api.get_intent(runtime, actor=COMMERCE, intent_id=intent.id)
        assert got.status is IntentStatus.SUCCEEDED
        assert got.holds[0].status is HoldStatus.HELD
        assert await balance(runtime, AccountRef.escrow(got.holds[0].id, TZS)) == tzs(1_000).amount
    # The 90 refused payments rolled back whole: no attempt, no message.
    assert await count(runtime, "SELECT count(*) FROM payments.attempts") == 10
    assert (
        await count(
            runtime, "SELECT count(*) FROM payments.outbox WHERE tag = 'payments.payment_succeeded.v1'"
        )
        == 10
    )
    assert await problems(runtime) == []


async def test_a_rolled_back_wallet_payment_publishes_nothing(runtime) -> None:
    payer = uuid.uuid4()
    await fund(runtime, payer, 500)
    intent = await order(runtime, payer, 1_000)
    with pytest.raises(Conflict) as refused:
        await api.pay_with_wallet(runtime, actor=api.Actor.user(payer), intent_id=intent.id)
    assert refused.value.code == "insufficient_funds"
    assert await count(runtime, "SELECT count(*) FROM payments.outbox") == 0
    assert await count(runtime, "SELECT count(*) FROM payments.attempts") == 0
    got = await api.get_intent(runtime, actor=COMMERCE, intent_id=intent.id)
    assert got.status is IntentStatus.REQUIRES_PAYMENT
    assert await balance(runtime, AccountRef.wallet(payer, TZS)) == tzs(500).amount


async def test_a_multi_payee_wallet_payment_funds_one_hold_per_split(runtime) -> None:
    payer = uuid.uuid4()
    await fund(runtime, payer, 5_000)
    intent = await order(runtime, payer, 1_200, 800, 500)
    attempt = await api.pay_with_wallet(runtime, actor=api.Actor.user(payer), intent_id=intent.id)
    assert attempt.method == "wallet"
    got = await api.get_intent(runtime, actor=COMMERCE, intent_id=intent.id)
    assert [await balance(runtime, AccountRef.escrow(h.id, TZS)) for h in got.holds] == [
        tzs(a).amount for a in (1_200, 800, 500)
    ]
    assert await balance(runtime, AccountRef.wallet(payer, TZS)) == tzs(2_500).amount
    # Paying again: the intent is paid.
    with pytest.raises(Conflict) as again:
        await api.pay_with_wallet(runtime, actor=api.Actor.user(payer), intent_id=intent.id)
    assert again.value.code == "intent_not_payable"


async def pay_over_http(live, bearer, payer, intent_id, key: str):
    return await live.http.post(
        f"/api/v1/payments/intents/{intent_id}/attempts",
        json={"method": "wallet"},
        headers={**bearer(payer), "Idempotency-Key": key},
    )


async def test_two_parallel_wallet_attempts_charge_once(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    await fund(runtime, payer, 10_000)
    intent = await order(runtime, payer, 1_000)
    responses = await asyncio.gather(
        *(pay_over_http(live, bearer, payer, intent.id, f"k-{i}") for i in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, [r.text for r in responses]
    assert all(r.json()["code"] == "intent_not_payable" for r in responses if r.status_code != 201)
    assert await balance(runtime, AccountRef.wallet(payer, TZS)) == tzs(9_000).amount
    assert await problems(runtime) == []


async def test_one_idempotency_key_sent_twice_at_once_charges_once(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    await fund(runtime, payer, 10_000)
    intent = await order(runtime, payer, 1_000)
    first, second = await asyncio.gather(
        pay_over_http(live, bearer, payer, intent.id, "same-key"),
        pay_over_http(live, bearer, payer, intent.id, "same-key"),
    )
    codes = sorted([first.status_code, second.status_code])
    # Either the twin waited and replayed the first answer, or it was told the first still runs.
    assert codes in ([201, 201], [201, 409]), (first.text, second.text)
    replay = await pay_over_http(live, bearer, payer, intent.id, "same-key")
    assert replay.status_code == 201
    assert replay.headers.get("idempotent-replayed") == "true"
    assert await balance(runtime, AccountRef.wallet(payer, TZS)) == tzs(9_000).amount
    assert await count(runtime, "SELECT count(*) FROM payments.attempts") == 1


async def test_wallet_attempt_bodies_and_other_payers(live, runtime, bearer) -> None:
    payer, stranger = uuid.uuid4(), uuid.uuid4()
    await fund(runtime, stranger, 10_000)
    intent = await order(runtime, payer, 1_000)
    # Someone else's intent: 404, and their wallet is not touched.
    other = await pay_over_http(live, bearer, stranger, intent.id, "s1")
    assert other.status_code == 404
    bad = await live.http.post(
        f"/api/v1/payments/intents/{intent.id}/attempts",
        json={"method": "wallet", "phone": "0754123456"},
        headers={**bearer(payer), "Idempotency-Key": "b1"},
    )
    assert bad.status_code == 422
    unknown = await live.http.post(
        f"/api/v1/payments/intents/{intent.id}/attempts",
        json={"method": "wallet", "balance": 1},
        headers={**bearer(payer), "Idempotency-Key": "b2"},
    )
    assert unknown.status_code in (400, 422)
    broke = await pay_over_http(live, bearer, payer, intent.id, "p1")
    assert broke.status_code == 409
    assert broke.json()["code"] == "insufficient_funds"
    assert await balance(runtime, AccountRef.wallet(stranger, TZS)) == tzs(10_000).amount
