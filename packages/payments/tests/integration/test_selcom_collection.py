"""Collecting with Selcom (Tanzanian Vodacom numbers, TZS) against the fake Selcom gateway:
signed requests, the 111 ack, a signed webhook over real HTTP, confirmed by order status."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection
from nexgate.payments.domain.ledger import AccountRef

pytestmark = pytest.mark.integration

TZS = "TZS"
INTENTS = "/api/v1/payments/intents"


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


async def pay(live, bearer, payer, intent, phone):
    return await live.http.post(
        f"{INTENTS}/{intent.id}/attempts",
        json={"method": "mobileMoney", "phone": phone},
        headers={**bearer(payer), "Idempotency-Key": str(uuid.uuid4())},
    )


async def attempt_of(live, bearer, payer, attempt) -> dict:
    url = f"{INTENTS}/{attempt['intentId']}/attempts/{attempt['id']}"
    return (await live.http.get(url, headers=bearer(payer))).json()


async def balance(runtime, ref) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def column(runtime, sql: str, **params) -> list:
    async with runtime.database().sessions() as session:
        return list((await session.execute(sa.text(sql), params)).scalars().all())


async def test_a_signed_completed_webhook_confirmed_by_status_credits_escrow_once(
    live, runtime, bearer
) -> None:
    payer = uuid.uuid4()
    intent = await intent_for(runtime, payer)
    response = await pay(live, bearer, payer, intent, "0754 123 456")
    assert response.status_code == 201, response.text
    attempt = response.json()
    assert (attempt["provider"], attempt["status"]) == ("selcom", "pending")
    await live.selcom.settle()
    assert (await attempt_of(live, bearer, payer, attempt))["status"] == "succeeded"
    assert await balance(runtime, AccountRef.escrow(intent.holds[0].id, TZS)) == 1_500_000
    assert await balance(runtime, AccountRef.clearing("selcom", TZS)) == -1_500_000
    kinds = [kind for kind, _ in live.selcom.requests]
    assert kinds == ["create-order-minimal", "wallet-payment", "order-status"]
    order = live.selcom.requests[0][1]
    assert (order["amount"], order["currency"], order["buyer_phone"]) == (15000, TZS, "255754123456")
    assert await column(runtime, "SELECT outcome FROM payments.callbacks") == ["credited"]
    async with runtime.database().sessions() as session:
        assert await verify_ledger(session) == []


async def test_a_duplicated_webhook_credits_once_and_a_rejection_fails(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    twice = (await pay(live, bearer, payer, await intent_for(runtime, payer), "0754123222")).json()
    rejected = (await pay(live, bearer, payer, await intent_for(runtime, payer), "0754123032")).json()
    await live.selcom.settle()
    assert (await attempt_of(live, bearer, payer, twice))["status"] == "succeeded"
    got = await attempt_of(live, bearer, payer, rejected)
    assert (got["status"], got["failureReason"]) == ("failed", "rejected")
    assert await balance(runtime, AccountRef.clearing("selcom", TZS)) == -1_500_000
    assert sorted(await column(runtime, "SELECT outcome FROM payments.callbacks")) == [
        "credited",
        "failed",
        "final",
    ]


async def test_a_webhook_with_a_bad_digest_moves_nothing_and_flags_the_attempt(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    attempt = (await pay(live, bearer, payer, await intent_for(runtime, payer), "0754123999")).json()
    await live.selcom.settle()
    order_id = live.selcom.requests[0][1]["order_id"]
    forged = await live.selcom.forge_webhook(live.selcom_callback, order_id=order_id)
    assert forged.status_code == 200
    assert forged.json()["resultcode"] == "000"
    assert (await attempt_of(live, bearer, payer, attempt))["status"] == "pending"
    assert await balance(runtime, AccountRef.clearing("selcom", TZS)) == 0
    assert await column(runtime, "SELECT outcome FROM payments.callbacks") == ["bad_signature"]
    assert await column(runtime, "SELECT suspicious FROM payments.attempts") == [True]
    assert [kind for kind, _ in live.selcom.requests].count("order-status") == 0
    # Only routes marked for a foreign Authorization scheme accept one; elsewhere it is a 401.
    elsewhere = await live.http.get("/api/v1/payments/wallet", headers={"Authorization": "SELCOM a2V5"})
    assert elsewhere.status_code == 401


async def test_an_ambiguous_999_status_is_never_a_failure(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    attempt = (await pay(live, bearer, payer, await intent_for(runtime, payer), "0754123999")).json()
    await live.selcom.settle()
    uow = sql_unit_of_work(runtime.database().sessions)
    counts = await collection.reconcile_pending(
        uow=uow,
        clock=runtime.clock,
        provider=live.app_provider("selcom"),
        older_than=timedelta(0),
        give_up_after=timedelta(hours=1),
    )
    assert counts == {"unconfirmed": 1}
    assert (await attempt_of(live, bearer, payer, attempt))["status"] == "pending"
    # Past the give-up delay it goes to the admin queue as ambiguous, still not failed.
    counts = await collection.reconcile_pending(
        uow=uow,
        clock=runtime.clock,
        provider=live.app_provider("selcom"),
        older_than=timedelta(0),
        give_up_after=timedelta(0),
    )
    assert counts == {"ambiguous": 1}
    assert (await attempt_of(live, bearer, payer, attempt))["status"] == "ambiguous"


async def test_selcom_refuses_fractions_and_unsupported_operators_before_any_call(
    live, runtime, bearer
) -> None:
    payer = uuid.uuid4()
    fractional = await pay(live, bearer, payer, await intent_for(runtime, payer, "1500.50"), "0754123456")
    assert (fractional.status_code, fractional.json()["code"]) == (422, "fractional_amount")
    ttcl = await pay(live, bearer, payer, await intent_for(runtime, payer), "0734123456")
    assert (ttcl.status_code, ttcl.json()["code"]) == (422, "operator_not_supported")
    assert live.selcom.requests == []
