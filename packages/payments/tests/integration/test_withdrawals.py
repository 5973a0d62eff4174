"""Withdrawals end to end: the api on uvicorn, M-Pesa B2C against the fake Daraja, results
over real HTTP. The amount leaves the wallet at request; the result settles it once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import msgspec
import pytest
import sqlalchemy as sa

from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments.adapters.mpesa.daraja import DarajaProvider
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import payouts
from nexgate.payments.domain.ledger import AccountRef, transfer
from nexgate.payments.domain.payouts import PayoutStatus, WithdrawalLimits

pytestmark = pytest.mark.integration

KES = "KES"
WITHDRAWALS = "/api/v1/payments/wallet/withdrawals"
IN_FLIGHT = AccountRef.payouts_in_flight(KES)
CLEARING = AccountRef.clearing("mpesa", KES)


def kes(major: int) -> dict:
    return {"amount": major * 100, "currency": KES}


async def fund(runtime, user: uuid.UUID, major: int) -> None:
    entry = transfer(
        id=new_id(),
        kind="test_topup",
        reference="test",
        idempotency_key=str(uuid.uuid4()),
        source=CLEARING,
        targets=[(AccountRef.wallet(user, KES), Money.of(major, KES))],
    )
    async with runtime.database().sessions() as session, session.begin():
        assert await SqlLedger(session).post(entry)


async def balance(runtime, ref) -> int:
    async with runtime.database().sessions() as session:
        return (await SqlLedger(session).balance(ref)).amount


async def problems(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        return await verify_ledger(session)


async def messages(runtime, tag: str) -> list[dict]:
    async with runtime.database().sessions() as session:
        rows = await session.execute(
            sa.text("SELECT payload FROM payments.outbox WHERE tag = :tag ORDER BY created_at, id"),
            {"tag": tag},
        )
        return [msgspec.json.decode(r[0]) for r in rows.all()]


async def withdraw(live, bearer, user, body, key: str | None = None):
    return await live.http.post(
        WITHDRAWALS, json=body, headers={**bearer(user), "Idempotency-Key": key or str(uuid.uuid4())}
    )


async def read(live, bearer, user, payout_id):
    return (await live.http.get(f"{WITHDRAWALS}/{payout_id}", headers=bearer(user))).json()


async def test_a_withdrawal_reserves_then_settles_to_clearing_once(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 5000)
    response = await withdraw(live, bearer, user, {"amount": kes(1000), "phone": "0712 345 678"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] in ("pending", "succeeded")
    assert created["phone"] == "**********678"
    # Reserved with the request: the wallet is down before any result.
    assert await balance(runtime, AccountRef.wallet(user, KES)) == 400_000
    await live.daraja.settle()
    got = await read(live, bearer, user, created["id"])
    assert (got["status"], got["failureReason"]) == ("succeeded", None)
    assert await balance(runtime, IN_FLIGHT) == 0
    assert await balance(runtime, CLEARING) == -400_000
    [b2c] = [body for kind, body in live.daraja.requests if kind == "b2c"]
    assert (b2c["Amount"], b2c["PartyB"], b2c["OriginatorConversationID"]) == (
        1000,
        "254712345678",
        created["id"],
    )
    assert "fake-initiator-password" not in b2c["SecurityCredential"]
    [done] = await messages(runtime, "payments.payout_completed.v1")
    assert (done["payoutId"], done["amount"]["amount"]) == (created["id"], 100_000)
    assert await problems(runtime) == []


async def test_a_failed_payout_returns_the_money(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    created = (await withdraw(live, bearer, user, {"amount": kes(200), "phone": "+254712345001"})).json()
    await live.daraja.settle()
    got = await read(live, bearer, user, created["id"])
    assert (got["status"], got["failureReason"]) == ("failed", "provider_insufficient_funds")
    assert await balance(runtime, AccountRef.wallet(user, KES)) == 50_000
    assert await balance(runtime, IN_FLIGHT) == 0
    [failed] = await messages(runtime, "payments.payout_failed.v1")
    assert failed["reason"] == "provider_insufficient_funds"
    assert await problems(runtime) == []


async def test_a_duplicated_result_settles_once(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    created = (await withdraw(live, bearer, user, {"amount": kes(300), "phone": "0712345222"})).json()
    await live.daraja.settle()
    assert live.daraja.payouts_to("+254712345222")[0].results_sent == 2
    assert (await read(live, bearer, user, created["id"]))["status"] == "succeeded"
    assert await balance(runtime, CLEARING) == -50_000 + 30_000
    assert len(await messages(runtime, "payments.payout_completed.v1")) == 1
    assert await problems(runtime) == []


async def test_no_result_keeps_the_money_in_flight_and_is_found_by_reconciliation(
    live, runtime, bearer
) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    created = (await withdraw(live, bearer, user, {"amount": kes(100), "phone": "0712345999"})).json()
    await live.daraja.settle()
    assert (await read(live, bearer, user, created["id"]))["status"] == "pending"
    assert await balance(runtime, IN_FLIGHT) == 10_000
    stale = await payouts.stale_payouts(
        uow=sql_unit_of_work(runtime.database().sessions),
        clock=runtime.clock,
        provider="mpesa",
        older_than=timedelta(0),
    )
    assert [str(p.id) for p in stale] == [created["id"]]
    assert await problems(runtime) == []


async def test_a_request_timeout_is_never_resent_and_its_result_settles_it(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    fake = live.daraja
    impatient = DarajaProvider(
        base_url=live.daraja_url,
        consumer_key=fake.consumer_key,
        consumer_secret=fake.consumer_secret,
        shortcode=fake.shortcode,
        passkey=fake.passkey,
        timeout_s=0.3,
        b2c_shortcode=fake.b2c_shortcode,
        initiator_name=fake.initiator_name,
        initiator_password=fake.initiator_password,
        certificate_pem=fake.certificate_pem,
    )
    uow = sql_unit_of_work(runtime.database().sessions)
    payout = await payouts.request_withdrawal(
        uow=uow,
        clock=runtime.clock,
        providers={"mpesa": impatient},
        result_url=live.b2c_result,
        timeout_url=live.b2c_result,
        user_id=user,
        amount=Money.of(250, KES),
        phone="0712345504",
        idempotency_key="timeout",
        limits=WithdrawalLimits({"KES": 1000}, {"KES": 10_000_000}),
    )
    # The ack never came in time: unknown (or already settled by a quick result), never failed.
    assert payout.status in (PayoutStatus.AMBIGUOUS, PayoutStatus.SUCCEEDED)
    await asyncio.sleep(fake.slow_ack_s)
    await fake.settle()
    got = await read(live, bearer, user, payout.id)
    assert got["status"] == "succeeded"
    assert [kind for kind, _ in fake.requests].count("b2c") == 1
    assert await balance(runtime, AccountRef.wallet(user, KES)) == 25_000
    assert await balance(runtime, IN_FLIGHT) == 0
    assert await problems(runtime) == []


async def test_unfunded_frozen_and_out_of_limit_withdrawals_are_refused(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 100)
    poor = await withdraw(live, bearer, user, {"amount": kes(101), "phone": "0712345678"})
    assert (poor.status_code, poor.json()["code"]) == (409, "insufficient_funds")
    for body, code in (
        ({"amount": kes(9), "phone": "0712345678"}, "withdrawal_limit"),
        ({"amount": kes(150_001), "phone": "0712345678"}, "withdrawal_limit"),
        ({"amount": {"amount": 1050, "currency": KES}, "phone": "0712345678"}, "fractional_amount"),
        ({"amount": kes(0), "phone": "0712345678"}, "invalid_amount"),
        ({"amount": kes(50), "phone": "+255712345678"}, "method_currency_mismatch"),
        (
            # TTCL: no provider pays out to it.
            {"amount": {"amount": 5_000_000, "currency": "TZS"}, "phone": "+255732345678"},
            "operator_not_supported",
        ),
    ):
        response = await withdraw(live, bearer, user, body)
        assert (response.status_code, response.json()["code"]) == (422, code), body
    for body in (
        {"amount": kes(50), "phone": "0712345678", "status": "succeeded"},
        {"amount": 50, "phone": "0712"},
    ):
        assert (await withdraw(live, bearer, user, body)).status_code == 422
    no_key = await live.http.post(
        WITHDRAWALS, json={"amount": kes(50), "phone": "0712345678"}, headers=bearer(user)
    )
    assert (no_key.status_code, no_key.json()["code"]) == (422, "idempotency_key_required")
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.text("UPDATE payments.accounts SET frozen = true WHERE owner_id = :u"), {"u": user}
        )
    frozen = await withdraw(live, bearer, user, {"amount": kes(50), "phone": "0712345678"})
    assert (frozen.status_code, frozen.json()["code"]) == (409, "wallet_frozen")
    assert [kind for kind, _ in live.daraja.requests if kind == "b2c"] == []
    assert await balance(runtime, AccountRef.wallet(user, KES)) == 10_000
    listed = (await live.http.get(WITHDRAWALS, headers=bearer(user))).json()
    assert listed == {"items": [], "nextCursor": None}


async def test_one_key_sent_twice_at_once_pays_out_once(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 1000)
    body = {"amount": kes(400), "phone": "0712345678"}
    first, second = await asyncio.gather(
        withdraw(live, bearer, user, body, key="same"), withdraw(live, bearer, user, body, key="same")
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses in ([201, 201], [201, 409]), (first.text, second.text)
    replay = await withdraw(live, bearer, user, body, key="same")
    assert replay.status_code == 201
    assert replay.json()["id"] in (first.json().get("id"), second.json().get("id"))
    await live.daraja.settle()
    assert len(live.daraja.payouts_to("+254712345678")) == 1
    assert await balance(runtime, AccountRef.wallet(user, KES)) == 60_000
    assert await problems(runtime) == []


async def test_withdrawals_are_rate_limited_per_user(live, bearer) -> None:
    user = uuid.uuid4()
    for _ in range(10):
        response = await withdraw(live, bearer, user, {"amount": kes(1), "phone": "0712345678"})
        assert response.status_code == 422
    limited = await withdraw(live, bearer, user, {"amount": kes(1), "phone": "0712345678"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    # Another user is not affected.
    other = await withdraw(live, bearer, uuid.uuid4(), {"amount": kes(1), "phone": "0712345678"})
    assert other.status_code == 422


async def test_withdrawals_are_the_owners_only_and_paged(live, runtime, bearer) -> None:
    user, stranger = uuid.uuid4(), uuid.uuid4()
    await fund(runtime, user, 1000)
    ids = [
        (await withdraw(live, bearer, user, {"amount": kes(10 + i), "phone": "0712345678"})).json()["id"]
        for i in range(3)
    ]
    await live.daraja.settle()
    assert (await live.http.get(f"{WITHDRAWALS}/{ids[0]}", headers=bearer(stranger))).status_code == 404
    assert (await live.http.get(f"{WITHDRAWALS}/{ids[0]}")).status_code == 401
    assert (await live.http.get(WITHDRAWALS, headers=bearer(stranger))).json()["items"] == []
    page1 = (await live.http.get(WITHDRAWALS, params={"limit": 2}, headers=bearer(user))).json()
    page2 = (
        await live.http.get(
            WITHDRAWALS, params={"limit": 2, "cursor": page1["nextCursor"]}, headers=bearer(user)
        )
    ).json()
    assert [w["id"] for w in page1["items"] + page2["items"]] == list(reversed(ids))
    assert page2["nextCursor"] is None


async def test_forged_or_mismatched_results_move_nothing(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    created = (await withdraw(live, bearer, user, {"amount": kes(100), "phone": "0712345999"})).json()
    await live.daraja.settle()
    # Our reference but another conversation and amount: flagged, nothing settled.
    forged = await live.daraja.forge_payout_result(live.b2c_result, originator_id=created["id"], amount=100)
    assert forged.status_code == 200
    assert forged.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    unknown = await live.daraja.forge_payout_result(
        live.b2c_result, originator_id=str(uuid.uuid4()), amount=100
    )
    assert unknown.status_code == 200
    assert (await read(live, bearer, user, created["id"]))["status"] == "pending"
    assert await balance(runtime, IN_FLIGHT) == 10_000
    async with runtime.database().sessions() as session:
        flagged = (
            await session.execute(
                sa.text("SELECT suspicious FROM payments.payouts WHERE id = :id"), {"id": created["id"]}
            )
        ).scalar()
        outcomes = (
            (
                await session.execute(
                    sa.text(
                        "SELECT outcome FROM payments.callbacks WHERE kind = 'payout' ORDER BY received_at"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert flagged is True
    assert outcomes == ["mismatch", "unknown"]
    wrong_token = await live.http.post(
        f"{live.base_url}/api/v1/payments/callbacks/mpesa-b2c/wrong", json={"Result": {}}
    )
    assert wrong_token.status_code == 404
    malformed = await live.http.post(live.b2c_result, content=b"{not json")
    assert malformed.status_code == 400
    assert await problems(runtime) == []
