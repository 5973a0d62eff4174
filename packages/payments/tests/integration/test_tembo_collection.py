"""Tembo Plus collection against the fake Tembo (real HTTP both ways): the channel follows the
operator, the unauthenticated webhook is only a hint confirmed by the status call, and every
scenario of peers.md 2.4 credits at most once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.adapters.providers import build_tembo
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection
from nexgate.payments.domain.ledger import AccountRef
from nexgate.payments.settings import PaymentsSettings

pytestmark = pytest.mark.integration

TZS = "TZS"
INTENTS = "/api/v1/payments/intents"
CLEARING = AccountRef.clearing("tembo", TZS)


async def intent_for(runtime, payer, major: str = "15000") -> api.Intent:
    money = Money.of(major, TZS)
    return await api.create_intent(
        runtime,
        actor=api.Actor.system("commerce"),
        payer_id=payer,
        amount=money,
        purpose="order",
        reference=f"order-{uuid.uuid4().hex[:8]}",
        splits=[api.Split(uuid.uuid4(), money, "line")],
        idempotency_key=str(uuid.uuid4()),
    )


async def pay(live, bearer, payer, intent, **body):
    return await live.http.post(
        f"{INTENTS}/{intent.id}/attempts",
        json={"method": "mobileMoney", **body},
        headers={**bearer(payer), "Idempotency-Key": str(uuid.uuid4())},
    )


async def attempt_of(live, bearer, payer, attempt) -> dict:
    url = f"{INTENTS}/{attempt['intentId']}/attempts/{attempt['id']}"
    return (await live.http.get(url, headers=bearer(payer))).json()


async def balance(runtime, ref) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def outcomes(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        rows = await session.execute(
            sa.text("SELECT outcome FROM payments.callbacks WHERE provider = 'tembo' ORDER BY received_at")
        )
        return list(rows.scalars())


async def problems(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        return await verify_ledger(session)


async def test_an_accepted_collection_is_confirmed_by_status_and_credits_escrow_once(
    live, runtime, bearer
) -> None:
    payer = uuid.uuid4()
    intent = await intent_for(runtime, payer)
    response = await pay(live, bearer, payer, intent, phone="0784 123 456")
    assert response.status_code == 201, response.text
    attempt = response.json()
    assert (attempt["provider"], attempt["status"]) == ("tembo", "pending")
    await live.tembo.settle()
    assert (await attempt_of(live, bearer, payer, attempt))["status"] == "succeeded"
    assert await balance(runtime, AccountRef.escrow(intent.holds[0].id, TZS)) == 1_500_000
    assert await balance(runtime, CLEARING) == -1_500_000
    [(_, sent)] = [r for r in live.tembo.requests if r[0] == "collection"]
    assert sent["channel"] == "TZ-AIRTEL-C2B"
    assert (sent["msisdn"], sent["amount"]) == ("255784123456", 15000)
    assert sent["transactionRef"] == uuid.UUID(attempt["id"]).hex[-12:]
    assert [kind for kind, _ in live.tembo.requests].count("status") == 1
    assert await outcomes(runtime) == ["credited"]
    assert await problems(runtime) == []


async def test_rejected_duplicated_and_immediately_refused(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    rejected = (await pay(live, bearer, payer, await intent_for(runtime, payer), phone="0714123032")).json()
    twice_intent = await intent_for(runtime, payer)
    twice = (await pay(live, bearer, payer, twice_intent, phone="0624123222")).json()
    assert twice["provider"] == "tembo"
    await live.tembo.settle()
    got = await attempt_of(live, bearer, payer, rejected)
    assert (got["status"], got["failureReason"]) == ("failed", "rejected")
    assert (await attempt_of(live, bearer, payer, twice))["status"] == "succeeded"
    assert sorted(await outcomes(runtime)) == ["credited", "failed", "final"]
    assert await balance(runtime, AccountRef.escrow(twice_intent.holds[0].id, TZS)) == 1_500_000
    # INSUFFICIENT_FUNDS at once: refused, nothing pending, nothing moved.
    broke = await pay(live, bearer, payer, await intent_for(runtime, payer), phone="0784123001")
    assert (broke.status_code, broke.json()["code"]) == (409, "provider_rejected")
    assert await balance(runtime, CLEARING) == -1_500_000
    assert await problems(runtime) == []


async def test_no_webhook_is_settled_by_reconciliation(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await intent_for(runtime, payer)
    attempt = (await pay(live, bearer, payer, intent, phone="0654123999")).json()
    await live.tembo.settle()
    provider = build_tembo(PaymentsSettings())
    uow = sql_unit_of_work(runtime.database().sessions)
    later = dict(older_than=timedelta(seconds=-1), give_up_after=timedelta(hours=1))
    assert await collection.reconcile_pending(uow=uow, clock=runtime.clock, provider=provider, **later) == {
        "unconfirmed": 1
    }
    live.tembo.complete(uuid.UUID(attempt["id"]).hex[-12:])
    assert await collection.reconcile_pending(uow=uow, clock=runtime.clock, provider=provider, **later) == {
        "credited": 1
    }
    assert (await attempt_of(live, bearer, payer, attempt))["status"] == "succeeded"
    assert await balance(runtime, AccountRef.escrow(intent.holds[0].id, TZS)) == 1_500_000
    assert await problems(runtime) == []


async def test_forged_webhooks_credit_nothing(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await intent_for(runtime, payer)
    attempt = (await pay(live, bearer, payer, intent, phone="0654123999")).json()
    await live.tembo.settle()
    # Unknown reference: recorded, ignored. A known one the status call does not confirm: nothing.
    await live.tembo.forge_webhook(live.tembo_callback, ref="nobody000000")
    await live.tembo.forge_webhook(live.tembo_callback, ref=uuid.UUID(attempt["id"]).hex[-12:])
    assert await outcomes(runtime) == ["unknown", "unconfirmed"]
    assert (await attempt_of(live, bearer, payer, attempt))["status"] == "pending"
    assert await balance(runtime, CLEARING) == 0
    assert await balance(runtime, AccountRef.escrow(intent.holds[0].id, TZS)) == 0


async def test_a_channel_that_does_not_match_the_number_is_refused_by_tembo(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    me = bearer(payer)
    # The payer says this Airtel-prefix number is Tigo now; Tembo disagrees: nothing is charged.
    method = await live.http.post(
        "/api/v1/payments/methods", json={"phone": "0784123456", "operator": "tigo"}, headers=me
    )
    assert method.status_code == 201, method.text
    intent = await intent_for(runtime, payer)
    response = await pay(live, bearer, payer, intent, paymentMethodId=method.json()["id"])
    assert (response.status_code, response.json()["code"]) == (409, "provider_rejected")
    [(_, sent)] = [r for r in live.tembo.requests if r[0] == "collection"]
    assert sent["channel"] == "TZ-TIGO-C2B"
    assert live.tembo.collections == {}
    got = await api.get_intent(runtime, actor=api.Actor.user(payer), intent_id=intent.id)
    assert got.status == "requires_payment"
    assert await balance(runtime, CLEARING) == 0


async def test_a_fractional_amount_is_refused_before_any_call(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    response = await pay(live, bearer, payer, await intent_for(runtime, payer, "150.50"), phone="0784123456")
    assert (response.status_code, response.json()["code"]) == (422, "fractional_amount")
    assert live.tembo.requests == []
