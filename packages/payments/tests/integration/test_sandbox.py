"""The sandbox provider (all-in-one mode, no internet): results arrive over real HTTP at our
own callback routes and are confirmed by status, like a real provider's."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.domain.ledger import AccountRef
from nexgate.payments.settings import PaymentsSettings

pytestmark = pytest.mark.integration

INTENTS = "/api/v1/payments/intents"
SANDBOX = "/api/v1/payments/sandbox/attempts"


async def eventually(fetch, done, timeout: float = 5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await fetch()
        if done(value) or loop.time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def order(runtime, payer, money: Money, payee=None) -> api.Intent:
    return await api.create_intent(
        runtime,
        actor=api.Actor.system("commerce"),
        payer_id=payer,
        amount=money,
        purpose="order",
        reference=f"order-{uuid.uuid4().hex[:8]}",
        splits=[api.Split(payee or uuid.uuid4(), money, "line")],
        idempotency_key=str(uuid.uuid4()),
    )


async def pay(live, bearer, payer, intent, phone):
    response = await live.http.post(
        f"{INTENTS}/{intent.id}/attempts",
        json={"method": "mobileMoney", "phone": phone},
        headers={**bearer(payer), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()


def attempt_reader(live, bearer, payer, attempt):
    async def fetch():
        url = f"{INTENTS}/{attempt['intentId']}/attempts/{attempt['id']}"
        return (await live.http.get(url, headers=bearer(payer))).json()

    return fetch


async def balance(runtime, ref) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def test_pay_release_and_withdraw_without_internet(sandbox_live, runtime, bearer) -> None:
    live = sandbox_live
    payer, seller = uuid.uuid4(), uuid.uuid4()
    intent = await order(runtime, payer, Money.of(2000, "KES"), payee=seller)
    attempt = await pay(live, bearer, payer, intent, "0712345678")
    assert attempt["provider"] == "sandbox"
    settled = await eventually(
        attempt_reader(live, bearer, payer, attempt), lambda a: a["status"] != "pending"
    )
    assert settled["status"] == "succeeded"
    hold = (await live.http.get(f"{INTENTS}/{intent.id}", headers=bearer(payer))).json()["holds"][0]
    assert hold["status"] == "held"

    released = await live.http.post(
        f"/api/v1/payments/admin/holds/{hold['id']}/release",
        headers={**bearer(uuid.uuid4(), roles=("admin",)), "Idempotency-Key": "r"},
    )
    assert released.status_code == 200, released.text
    assert await balance(runtime, AccountRef.wallet(seller, "KES")) == 190_000

    created = await live.http.post(
        "/api/v1/payments/wallet/withdrawals",
        json={"amount": {"amount": 100_000, "currency": "KES"}, "phone": "0712000111"},
        headers={**bearer(seller), "Idempotency-Key": "w"},
    )
    assert created.status_code == 201, created.text

    async def withdrawal():
        url = f"/api/v1/payments/wallet/withdrawals/{created.json()['id']}"
        return (await live.http.get(url, headers=bearer(seller))).json()

    assert (await eventually(withdrawal, lambda w: w["status"] == "succeeded"))["status"] == "succeeded"
    assert await balance(runtime, AccountRef.wallet(seller, "KES")) == 90_000
    assert await balance(runtime, AccountRef.payouts_in_flight("KES")) == 0
    assert [kind for kind, _ in live.daraja.requests] == []  # nothing reached Daraja
    async with runtime.database().sessions() as session:
        assert await verify_ledger(session) == []


async def test_tanzanian_numbers_pay_in_the_sandbox_and_failures_fail(sandbox_live, runtime, bearer) -> None:
    live = sandbox_live
    payer = uuid.uuid4()
    ok = await pay(live, bearer, payer, await order(runtime, payer, Money.of(5000, "TZS")), "0754123456")
    cancelled = await pay(
        live, bearer, payer, await order(runtime, payer, Money.of(5000, "TZS")), "0754123032"
    )
    got_ok = await eventually(attempt_reader(live, bearer, payer, ok), lambda a: a["status"] != "pending")
    got_cancelled = await eventually(
        attempt_reader(live, bearer, payer, cancelled), lambda a: a["status"] != "pending"
    )
    assert got_ok["status"] == "succeeded"
    assert (got_cancelled["status"], got_cancelled["failureReason"]) == ("failed", "cancelled_by_payer")


async def test_the_payer_approves_or_declines_on_the_sandbox_phone(sandbox_live, runtime, bearer) -> None:
    live = sandbox_live
    payer = uuid.uuid4()
    first = await pay(live, bearer, payer, await order(runtime, payer, Money.of(300, "KES")), "0712345999")
    second = await pay(live, bearer, payer, await order(runtime, payer, Money.of(300, "KES")), "0712345999")
    await asyncio.sleep(0.2)
    assert (await attempt_reader(live, bearer, payer, first)())["status"] == "pending"
    stranger = await live.http.post(f"{SANDBOX}/{first['id']}/approve", headers=bearer(uuid.uuid4()))
    assert stranger.status_code == 404
    assert (await live.http.post(f"{SANDBOX}/{first['id']}/approve")).status_code == 401

    approved = await live.http.post(f"{SANDBOX}/{first['id']}/approve", headers=bearer(payer))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "succeeded"  # the callback went through before the answer
    again = await live.http.post(f"{SANDBOX}/{first['id']}/decline", headers=bearer(payer))
    assert (again.status_code, again.json()["code"]) == (409, "already_decided")

    declined = await live.http.post(f"{SANDBOX}/{second['id']}/decline", headers=bearer(payer))
    assert (declined.json()["status"], declined.json()["failureReason"]) == ("failed", "cancelled_by_payer")


async def test_sandbox_routes_are_absent_when_the_sandbox_is_off(client, runtime, bearer) -> None:
    from nexgate.kernel.ids import new_id
    from nexgate.payments.adapters.sql.repository import sql_unit_of_work
    from nexgate.payments.domain.intents import Attempt, AttemptStatus

    payer = uuid.uuid4()
    intent = await order(runtime, payer, Money.of(300, "KES"))
    attempt = Attempt(
        id=new_id(),
        intent_id=intent.id,
        payer_id=payer,
        method="mobile_money",
        provider="sandbox",
        phone="+254712345999",
        amount=intent.amount,
        status=AttemptStatus.PENDING,
        created_at=runtime.clock.now(),
    )
    async with sql_unit_of_work(runtime.database().sessions)() as tx:
        await tx.store.add_attempt(attempt)
        attempt.provider_ref = "SBX-C-000000000000"
        await tx.store.update_attempt(attempt, runtime.clock.now())
    # The payer's own sandbox attempt: with the sandbox off (environment "test") the route is 404.
    response = await client.post(f"{SANDBOX}/{attempt.id}/approve", headers=bearer(payer))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_a_top_up_is_credited_only_once_the_provider_confirms(sandbox_live, runtime, bearer) -> None:
    live = sandbox_live
    user = uuid.uuid4()
    created = await live.http.post(
        "/api/v1/payments/wallet/top-ups",
        json={"amount": {"amount": 50_000, "currency": "KES"}},
        headers={**bearer(user), "Idempotency-Key": "top-1"},
    )
    assert created.status_code == 201, created.text
    intent = created.json()
    assert (intent["purpose"], intent["status"], intent["holds"]) == ("wallet_topup", "requires_payment", [])
    started = await live.http.post(
        f"{INTENTS}/{intent['id']}/attempts",
        json={"method": "mobileMoney", "phone": "0712345999"},
        headers={**bearer(user), "Idempotency-Key": "pay-1"},
    )
    assert started.status_code == 201, started.text
    await asyncio.sleep(0.2)
    assert await balance(runtime, AccountRef.wallet(user, "KES")) == 0  # prompted, not confirmed
    approved = await live.http.post(f"{SANDBOX}/{started.json()['id']}/approve", headers=bearer(user))
    assert approved.json()["status"] == "succeeded"
    assert await balance(runtime, AccountRef.wallet(user, "KES")) == 50_000
    wallet = (await live.http.get("/api/v1/payments/wallet", headers=bearer(user))).json()
    assert wallet["balances"] == [{"available": {"amount": 50_000, "currency": "KES"}, "frozen": False}]
    statement = (await live.http.get("/api/v1/payments/wallet/statement", headers=bearer(user))).json()
    assert [(i["kind"], i["amount"]["amount"], i["balanceAfter"]["amount"]) for i in statement["items"]] == [
        ("collection", 50_000, 50_000)
    ]
    other = await live.http.get(f"{INTENTS}/{intent['id']}", headers=bearer(uuid.uuid4()))
    assert other.status_code == 404
    fractional = await live.http.post(
        "/api/v1/payments/wallet/top-ups",
        json={"amount": {"amount": 50_050, "currency": "KES"}},
        headers={**bearer(user), "Idempotency-Key": "top-2"},
    )
    assert (fractional.status_code, fractional.json()["code"]) == (422, "fractional_amount")


async def test_prompt_spam_is_429_per_number_and_per_payer(sandbox_live, runtime, bearer) -> None:
    live = sandbox_live
    payer = uuid.uuid4()
    settings = PaymentsSettings()
    # One number prompted until its limit; each prompt is for a new intent (999: nobody answers).
    codes = []
    for _ in range(settings.prompts_per_number + 1):
        intent = await order(runtime, payer, Money.of(100, "KES"))
        response = await live.http.post(
            f"{INTENTS}/{intent.id}/attempts",
            json={"method": "mobileMoney", "phone": "0712345999"},
            headers={**bearer(payer), "Idempotency-Key": str(uuid.uuid4())},
        )
        codes.append(response.status_code)
    assert codes == [201] * settings.prompts_per_number + [429]
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["code"] == "rate_limited"
    # The refused prompt left nothing behind: the intent is still payable, from another number.
    again = await live.http.post(
        f"{INTENTS}/{intent.id}/attempts",
        json={"method": "mobileMoney", "phone": "0722345999"},
        headers={**bearer(payer), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert again.status_code == 201, again.text
    # And the payer as a whole is capped too.
    statuses = []
    for i in range(settings.prompts_per_user):
        intent = await order(runtime, payer, Money.of(100, "KES"))
        phone = f"07{33 + i % 40:02d}345999"
        statuses.append(
            (
                await live.http.post(
                    f"{INTENTS}/{intent.id}/attempts",
                    json={"method": "mobileMoney", "phone": phone},
                    headers={**bearer(payer), "Idempotency-Key": str(uuid.uuid4())},
                )
            ).status_code
        )
    assert 429 in statuses
