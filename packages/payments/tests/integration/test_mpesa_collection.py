"""Collecting with M-Pesa Daraja end to end: the api on uvicorn, the fake Daraja on another
port, callbacks over real HTTP, and every result confirmed by STK query before money moves."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE
from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.adapters.mpesa.daraja import DarajaProvider
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection
from nexgate.payments.domain.ledger import AccountRef

pytestmark = pytest.mark.integration

KES = "KES"
INTENTS = "/api/v1/payments/intents"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["code"] == code
    return response.json()


async def new_intent(runtime, payer, *, amount="1500", purpose="order", payees=1) -> api.Intent:
    money = Money.of(amount, KES)
    shares = money.allocate([1] * payees) if purpose != "wallet_topup" else []
    return await api.create_intent(
        runtime,
        actor=api.Actor.system("commerce"),
        payer_id=payer,
        amount=money,
        purpose=purpose,
        reference=f"order-{uuid.uuid4().hex[:8]}",
        splits=[api.Split(uuid.uuid4(), share, f"line-{i}") for i, share in enumerate(shares)],
        idempotency_key=str(uuid.uuid4()),
    )


async def pay(live, bearer, intent, payer, phone: str, key: str | None = None):
    return await live.http.post(
        f"{INTENTS}/{intent.id}/attempts",
        json={"method": "mobileMoney", "phone": phone},
        headers={**bearer(payer), "Idempotency-Key": key or str(uuid.uuid4())},
    )


async def scalar(runtime, sql: str, **params):
    async with runtime.database().sessions() as session:
        return (await session.execute(sa.text(sql), params)).scalar()


async def ledger_problems(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        return await verify_ledger(session)


async def balance(runtime, ref) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def outbox_tags(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        rows = await session.execute(sa.text("SELECT tag FROM payments.outbox ORDER BY created_at, id"))
        return [r[0] for r in rows.all()]


async def test_confirmed_stk_payment_lands_in_escrow_once(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer, payees=2)
    response = await pay(live, bearer, intent, payer, "0712 345 678")
    assert response.status_code == 201, response.text
    attempt = response.json()
    assert attempt["status"] == "pending"
    assert attempt["phone"] == "**********678"
    push = live.daraja.push_for("+254712345678")
    assert push.amount == 1500
    assert len(push.account_reference) == 12
    await live.daraja.settle()

    read = (await live.http.get(f"{INTENTS}/{intent.id}", headers=bearer(payer))).json()
    assert read["status"] == "succeeded"
    assert [h["status"] for h in read["holds"]] == ["held", "held"]
    assert sum(h["held"]["amount"] for h in read["holds"]) == 150_000
    for hold in intent.holds:
        assert await balance(runtime, AccountRef.escrow(hold.id, KES)) == hold.amount.amount
    assert await balance(runtime, AccountRef.clearing("mpesa", KES)) == -150_000
    # Confirmed by STK query before crediting.
    assert [kind for kind, _ in live.daraja.requests] == ["stkpush", "stkquery"]
    assert await outbox_tags(runtime) == ["payments.payment_succeeded.v1"]
    assert await ledger_problems(runtime) == []
    stored = await scalar(runtime, "SELECT body::text FROM payments.callbacks")
    assert "712345678" not in stored
    assert "*********678" in stored
    status = (
        await live.http.get(f"{INTENTS}/{intent.id}/attempts/{attempt['id']}", headers=bearer(payer))
    ).json()
    assert status["status"] == "succeeded"


async def test_payer_cancels_on_the_phone(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    attempt = (await pay(live, bearer, intent, payer, "+254712345032")).json()
    await live.daraja.settle()
    got = (
        await live.http.get(f"{INTENTS}/{intent.id}/attempts/{attempt['id']}", headers=bearer(payer))
    ).json()
    assert (got["status"], got["failureReason"]) == ("failed", "cancelled_by_payer")
    assert (await live.http.get(f"{INTENTS}/{intent.id}", headers=bearer(payer))).json()[
        "status"
    ] == "requires_payment"
    assert await scalar(runtime, "SELECT count(*) FROM payments.journal_entries") == 0
    assert await outbox_tags(runtime) == ["payments.payment_failed.v1"]
    # The payer may try again once the first prompt is final.
    assert (await pay(live, bearer, intent, payer, "+254712345678")).status_code == 201


async def test_a_duplicated_callback_credits_once(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    await pay(live, bearer, intent, payer, "+254712345222")
    await live.daraja.settle()
    assert live.daraja.push_for("+254712345222").callbacks_sent == 2
    assert await scalar(runtime, "SELECT count(*) FROM payments.journal_entries") == 1
    outcomes = await scalar(
        runtime, "SELECT string_agg(outcome, ',' ORDER BY received_at) FROM payments.callbacks"
    )
    assert outcomes == "credited,final"
    assert await balance(runtime, AccountRef.escrow(intent.holds[0].id, KES)) == 150_000


async def test_no_callback_is_settled_by_reconciliation(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer, purpose="wallet_topup")
    await pay(live, bearer, intent, payer, "+254712345999")
    await live.daraja.settle()
    wallet = AccountRef.wallet(payer, KES)
    # A top-up is not credited before the provider confirms it.
    assert await balance(runtime, wallet) == 0
    provider = DarajaProvider(
        base_url=live.daraja_url,
        consumer_key=live.daraja.consumer_key,
        consumer_secret=live.daraja.consumer_secret,
        shortcode=live.daraja.shortcode,
        passkey=live.daraja.passkey,
    )
    uow = sql_unit_of_work(runtime.database().sessions)
    counts = await collection.reconcile_pending(
        uow=uow,
        clock=runtime.clock,
        provider=provider,
        older_than=timedelta(0),
        give_up_after=timedelta(hours=1),
    )
    assert counts == {"credited": 1}
    assert await balance(runtime, wallet) == 150_000
    wallet_view = (await live.http.get("/api/v1/payments/wallet", headers=bearer(payer))).json()
    assert wallet_view == {"balances": [{"available": {"amount": 150_000, "currency": KES}, "frozen": False}]}
    assert await outbox_tags(runtime) == ["payments.wallet_topped_up.v1", "payments.payment_succeeded.v1"]
    # Asking again changes nothing.
    again = await collection.reconcile_pending(
        uow=uow,
        clock=runtime.clock,
        provider=provider,
        older_than=timedelta(0),
        give_up_after=timedelta(hours=1),
    )
    assert again == {}
    assert await ledger_problems(runtime) == []


async def test_forged_callbacks_credit_nothing(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    live.daraja.callback_delay_s = 60  # the payer has not answered yet
    await pay(live, bearer, intent, payer, "+254712345678")
    push = live.daraja.push_for("+254712345678")

    unknown = await live.daraja.forge_callback(
        live.mpesa_callback, checkout_id="ws_CO_unknown", amount=1500, msisdn="254712345678"
    )
    wrong_amount = await live.daraja.forge_callback(
        live.mpesa_callback, checkout_id=push.checkout_id, amount=15, msisdn="254712345678"
    )
    right_amount = await live.daraja.forge_callback(
        live.mpesa_callback, checkout_id=push.checkout_id, amount=1500, msisdn="254712345678"
    )
    # Acknowledged in Daraja's shape, so the sender learns nothing.
    for response in (unknown, wrong_amount, right_amount):
        assert response.status_code == 200
        assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    outcomes = await scalar(
        runtime, "SELECT string_agg(outcome, ',' ORDER BY received_at) FROM payments.callbacks"
    )
    assert outcomes == "unknown,mismatch,unconfirmed"
    assert await scalar(runtime, "SELECT count(*) FROM payments.journal_entries") == 0
    assert await scalar(runtime, "SELECT suspicious FROM payments.attempts") is True
    assert (await live.http.get(f"{INTENTS}/{intent.id}", headers=bearer(payer))).json()[
        "status"
    ] == "processing"
    assert await outbox_tags(runtime) == []


async def test_an_expired_daraja_token_is_renewed_once(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    live.daraja.callback_delay_s = 0.3
    await pay(live, bearer, intent, payer, "+254712345678")
    assert live.daraja.tokens_issued == 1
    live.daraja.expire_tokens()
    await live.daraja.settle()
    assert live.daraja.tokens_issued == 2
    assert (await live.http.get(f"{INTENTS}/{intent.id}", headers=bearer(payer))).json()[
        "status"
    ] == "succeeded"


async def test_a_fractional_amount_is_refused_before_any_call(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer, amount="1500.50")
    assert_problem(await pay(live, bearer, intent, payer, "+254712345678"), 422, "fractional_amount")
    assert live.daraja.requests == []
    assert await scalar(runtime, "SELECT count(*) FROM payments.attempts") == 0


async def test_a_provider_error_leaves_no_ledger_entry(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    live.daraja.passkey = "rotated-at-the-provider"  # our Password no longer matches
    assert_problem(await pay(live, bearer, intent, payer, "+254712345678"), 409, "provider_rejected")
    assert (
        await scalar(runtime, "SELECT status || ':' || failure_reason FROM payments.attempts")
        == "failed:provider_error"
    )
    assert await scalar(runtime, "SELECT count(*) FROM payments.journal_entries") == 0
    assert (await live.http.get(f"{INTENTS}/{intent.id}", headers=bearer(payer))).json()[
        "status"
    ] == "requires_payment"


async def test_two_parallel_attempts_prompt_once(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    live.daraja.callback_delay_s = 60
    responses = await asyncio.gather(*(pay(live, bearer, intent, payer, "+254712345678") for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"attempt_in_progress"}
    assert len(live.daraja.pushes) == 1


async def test_one_idempotency_key_sent_twice_at_once_prompts_once(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    live.daraja.callback_delay_s = 60
    first, second = await asyncio.gather(
        *(pay(live, bearer, intent, payer, "+254712345678", key="k1") for _ in range(2))
    )
    assert sorted([first.status_code, second.status_code]) in ([201, 201], [201, 409])
    assert len(live.daraja.pushes) == 1
    replay = await pay(live, bearer, intent, payer, "+254712345678", key="k1")
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"


async def test_late_success_after_cancel_lands_in_the_wallet(live, runtime, bearer) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    live.daraja.callback_delay_s = 0.5
    await pay(live, bearer, intent, payer, "+254712345678")
    await api.cancel_intent(runtime, actor=api.Actor.system("commerce"), intent_id=intent.id)
    await live.daraja.settle()
    assert await balance(runtime, AccountRef.wallet(payer, KES)) == 150_000
    assert await balance(runtime, AccountRef.escrow(intent.holds[0].id, KES)) == 0
    assert await outbox_tags(runtime) == ["payments.payment_credited_to_wallet.v1"]
    assert await ledger_problems(runtime) == []


async def test_another_user_gets_404_and_anonymous_401(live, runtime, bearer) -> None:
    payer, stranger = uuid.uuid4(), uuid.uuid4()
    intent = await new_intent(runtime, payer)
    live.daraja.callback_delay_s = 60
    attempt = (await pay(live, bearer, intent, payer, "+254712345678")).json()
    assert_problem(
        await live.http.get(f"{INTENTS}/{intent.id}", headers=bearer(stranger)), 404, "intent_not_found"
    )
    assert_problem(
        await live.http.get(f"{INTENTS}/{uuid.uuid4()}", headers=bearer(payer)), 404, "intent_not_found"
    )
    assert_problem(
        await live.http.get(f"{INTENTS}/{intent.id}/attempts/{attempt['id']}", headers=bearer(stranger)),
        404,
        "attempt_not_found",
    )
    assert_problem(await pay(live, bearer, intent, stranger, "+254712345678"), 404, "intent_not_found")
    assert (await live.http.get(f"{INTENTS}/{intent.id}")).status_code == 401
    assert (await live.http.get("/api/v1/payments/wallet")).status_code == 401
    admin = await live.http.get(f"{INTENTS}/{intent.id}", headers=bearer(uuid.uuid4(), roles=("admin",)))
    assert admin.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code", "path"),
    [
        ({"method": "mobileMoney", "phone": "12"}, 422, "invalid_phone", "phone"),
        ({"method": "card", "phone": "+254712345678"}, 422, "unsupported_method", "method"),
        ({"method": "mobileMoney", "phone": "+255712345678"}, 422, "method_currency_mismatch", "phone"),
        (
            {"method": "mobileMoney", "phone": "+254712345678", "amount": 5},
            422,
            "validation_failed",
            "amount",
        ),
        ({"method": "mobileMoney"}, 422, "invalid_attempt", "phone"),
    ],
)
async def test_bad_attempt_bodies_are_problems(live, runtime, bearer, body, status, code, path) -> None:
    payer = uuid.uuid4()
    intent = await new_intent(runtime, payer)
    response = await live.http.post(
        f"{INTENTS}/{intent.id}/attempts", json=body, headers={**bearer(payer), "Idempotency-Key": "x"}
    )
    problem = assert_problem(response, status, code)
    assert [e["path"] for e in problem.get("errors", [])] == [path]
    assert live.daraja.requests == []


async def test_callback_edge_cases(live, runtime) -> None:
    wrong = await live.http.post("/api/v1/payments/callbacks/mpesa/not-the-token", json={"Body": {}})
    assert_problem(wrong, 404, "not_found")
    assert await scalar(runtime, "SELECT count(*) FROM payments.callbacks") == 0
    malformed = await live.http.post(live.mpesa_callback.removeprefix(live.base_url), content=b"{not json")
    assert_problem(malformed, 400, "malformed_request")
    not_stk = await live.http.post(live.mpesa_callback.removeprefix(live.base_url), json={"Body": {}})
    assert_problem(not_stk, 400, "malformed_request")
    huge = await live.http.post(
        live.mpesa_callback.removeprefix(live.base_url), content=b'{"x": "' + b"a" * 70_000 + b'"}'
    )
    assert_problem(huge, 413, "payload_too_large")
    assert await scalar(runtime, "SELECT count(*) FROM payments.callbacks") == 0
