"""Tanzanian withdrawals end to end: Tembo Plus (Airtel, Tigo/Yas, Halotel) and Selcom
(Vodacom) payouts against their fakes, the api on uvicorn, results over real HTTP through
``/callbacks/{provider}-payout/{token}``. A callback is only a hint (Tembo's is unauthenticated,
Selcom's signature is checked): the status API decides, and after a request timeout it is asked,
never resent. ``verify_ledger`` holds after each test."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import msgspec
import pytest
import sqlalchemy as sa

from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments.adapters.selcom.provider import SelcomProvider
from nexgate.payments.adapters.sql.ledger import SqlLedger, verify_ledger
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.adapters.tembo.provider import TemboProvider
from nexgate.payments.application import payouts
from nexgate.payments.domain.ledger import AccountRef, transfer
from nexgate.payments.domain.payouts import PayoutStatus, WithdrawalLimits

pytestmark = pytest.mark.integration

TZS = "TZS"
WITHDRAWALS = "/api/v1/payments/wallet/withdrawals"
IN_FLIGHT = AccountRef.payouts_in_flight(TZS)
FUNDING = AccountRef.clearing("mpesa", TZS)


@dataclass(frozen=True)
class Case:
    provider: str
    #: A national number without its last three digits (the fake's scenario suffix).
    prefix: str

    def phone(self, suffix: str) -> str:
        return f"{self.prefix}{suffix}"

    def fake(self, live):
        return live.tembo if self.provider == "tembo" else live.selcom

    def impatient(self, live):
        """The adapter as the app builds it, but giving up after 0.3 s."""
        if self.provider == "tembo":
            return TemboProvider(
                base_url=live.tembo_url,
                account_id=live.tembo.account_id,
                secret_key=live.tembo.secret_key,
                payout_account_no=live.tembo.payout_account,
                timeout_s=0.3,
            )
        return SelcomProvider(
            base_url=live.selcom_url,
            api_key=live.selcom.api_key,
            api_secret=live.selcom.api_secret,
            vendor=live.selcom.vendor,
            pin=live.selcom.pin,
            timeout_s=0.3,
        )

    async def forge(self, live, reference: str):
        url = live.payout_callback(self.provider)
        if self.provider == "tembo":
            await live.tembo.forge_webhook(url, ref=reference)
        else:
            response = await live.selcom.forge_payout_webhook(url, transid=reference)
            assert response.status_code == 200


TEMBO = Case("tembo", "0682345")  # Airtel
SELCOM = Case("selcom", "0752345")  # Vodacom
CASES = [pytest.param(TEMBO, id="tembo"), pytest.param(SELCOM, id="selcom")]


def tzs(major: int) -> dict:
    return {"amount": major * 100, "currency": TZS}


async def fund(runtime, user: uuid.UUID, major: int) -> None:
    entry = transfer(
        id=new_id(),
        kind="test_topup",
        reference="test",
        idempotency_key=str(uuid.uuid4()),
        source=FUNDING,
        targets=[(AccountRef.wallet(user, TZS), Money.of(major, TZS))],
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


async def callback_outcomes(runtime, provider: str) -> list[str]:
    async with runtime.database().sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT outcome FROM payments.callbacks WHERE kind = 'payout' AND provider = :p"
                " ORDER BY received_at"
            ),
            {"p": provider},
        )
        return list(rows.scalars().all())


async def suspicious(runtime, payout_id: str) -> bool:
    async with runtime.database().sessions() as session:
        return bool(
            (
                await session.execute(
                    sa.text("SELECT suspicious FROM payments.payouts WHERE id = :id"), {"id": payout_id}
                )
            ).scalar()
        )


async def withdraw(live, bearer, user, amount_major: int, phone: str) -> dict:
    response = await live.http.post(
        WITHDRAWALS,
        json={"amount": tzs(amount_major), "phone": phone},
        headers={**bearer(user), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def read(live, bearer, user, payout_id) -> dict:
    return (await live.http.get(f"{WITHDRAWALS}/{payout_id}", headers=bearer(user))).json()


@pytest.mark.parametrize("case", CASES)
async def test_tz_payout_succeeds_and_settles_to_the_providers_clearing(
    case: Case, live, runtime, bearer
) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 50_000)
    created = await withdraw(live, bearer, user, 20_000, case.phone("678"))
    assert created["provider"] == case.provider  # routed by operator
    assert await balance(runtime, AccountRef.wallet(user, TZS)) == 3_000_000
    fake = case.fake(live)
    await fake.settle()
    got = await read(live, bearer, user, created["id"])
    assert (got["status"], got["failureReason"]) == ("succeeded", None)
    [sent] = fake.payout_requests()
    if case.provider == "tembo":
        assert (sent["serviceCode"], sent["msisdn"], sent["amount"], sent["transactionRef"]) == (
            "TZ-AIRTEL-B2C",
            "255682345678",
            20_000,
            created["id"],
        )
    else:
        assert (sent["utilitycode"], sent["utilityref"], sent["amount"], sent["transid"]) == (
            "VMCASHIN",
            "255752345678",
            20_000,
            created["id"],
        )
    assert await balance(runtime, IN_FLIGHT) == 0
    assert await balance(runtime, AccountRef.clearing(case.provider, TZS)) == 2_000_000
    [done] = await messages(runtime, "payments.payout_completed.v1")
    assert (done["payoutId"], done["provider"]) == (created["id"], case.provider)
    assert await callback_outcomes(runtime, case.provider) == ["succeeded"]
    assert await problems(runtime) == []


@pytest.mark.parametrize("case", CASES)
async def test_tz_payout_failure_returns_the_money(case: Case, live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 50_000)
    created = await withdraw(live, bearer, user, 20_000, case.phone("032"))
    await case.fake(live).settle()
    got = await read(live, bearer, user, created["id"])
    assert got["status"] == "failed"
    assert got["failureReason"] in ("provider_rejected", "provider_failed")
    assert await balance(runtime, AccountRef.wallet(user, TZS)) == 5_000_000
    assert await balance(runtime, IN_FLIGHT) == 0
    assert await balance(runtime, AccountRef.clearing(case.provider, TZS)) == 0
    [failed] = await messages(runtime, "payments.payout_failed.v1")
    assert failed["payoutId"] == created["id"]
    assert await messages(runtime, "payments.payout_completed.v1") == []
    assert await problems(runtime) == []


@pytest.mark.parametrize("case", CASES)
async def test_tz_payout_request_timeout_is_resolved_by_status_without_a_second_payout(
    case: Case, live, runtime, bearer
) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 50_000)
    fake = case.fake(live)
    impatient = case.impatient(live)
    uow = sql_unit_of_work(runtime.database().sessions)
    payout = await payouts.request_withdrawal(
        uow=uow,
        clock=runtime.clock,
        providers={case.provider: impatient},
        result_url=live.payout_callback,
        timeout_url=live.payout_callback,
        user_id=user,
        amount=Money.of(15_000, TZS),
        phone=case.phone("504"),
        idempotency_key="timeout",
        limits=WithdrawalLimits({TZS: 100_000}, {TZS: 300_000_000}),
    )
    # No answer in time: unknown, the money stays in flight, never failed.
    assert payout.status is PayoutStatus.AMBIGUOUS
    assert await balance(runtime, IN_FLIGHT) == 1_500_000
    await asyncio.sleep(fake.slow_ack_s)
    await fake.settle()
    # The fake made the payout but sends no callback: only the status call can tell.
    assert (await read(live, bearer, user, payout.id))["status"] == "ambiguous"
    [resolved] = await payouts.reconcile_payouts(
        uow=uow, clock=runtime.clock, provider=impatient, older_than=timedelta(0)
    )
    assert (resolved.id, resolved.status) == (payout.id, PayoutStatus.SUCCEEDED)
    # A second reconciliation finds nothing unsettled and asks nothing, sends nothing.
    assert (
        await payouts.reconcile_payouts(
            uow=uow, clock=runtime.clock, provider=impatient, older_than=timedelta(0)
        )
        == []
    )
    got = await read(live, bearer, user, payout.id)
    assert got["status"] == "succeeded"
    assert len(fake.payout_requests()) == 1
    assert await balance(runtime, AccountRef.wallet(user, TZS)) == 3_500_000
    assert await balance(runtime, IN_FLIGHT) == 0
    assert await balance(runtime, AccountRef.clearing(case.provider, TZS)) == 1_500_000
    assert len(await messages(runtime, "payments.payout_completed.v1")) == 1
    assert await problems(runtime) == []


@pytest.mark.parametrize("case", CASES)
async def test_tz_payout_duplicate_callback_settles_once(case: Case, live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 50_000)
    created = await withdraw(live, bearer, user, 10_000, case.phone("222"))
    fake = case.fake(live)
    await fake.settle()
    sent = fake.payouts if case.provider == "tembo" else fake.cashins
    assert sent[created["id"]].webhooks_sent == 2
    assert (await read(live, bearer, user, created["id"]))["status"] == "succeeded"
    assert await balance(runtime, AccountRef.clearing(case.provider, TZS)) == 1_000_000
    assert await balance(runtime, AccountRef.wallet(user, TZS)) == 4_000_000
    assert len(await messages(runtime, "payments.payout_completed.v1")) == 1
    assert sorted(await callback_outcomes(runtime, case.provider)) == ["final", "succeeded"]
    assert await problems(runtime) == []


@pytest.mark.parametrize("case", CASES)
async def test_tz_payout_forged_callback_changes_nothing(case: Case, live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 50_000)
    # 999: the provider never calls back; the payout is still pending on our side.
    created = await withdraw(live, bearer, user, 10_000, case.phone("999"))
    await case.fake(live).settle()
    assert (await read(live, bearer, user, created["id"]))["status"] == "pending"
    await case.forge(live, created["id"])  # our reference, but not from the provider
    await case.forge(live, str(uuid.uuid4()))  # a reference we never sent
    got = await read(live, bearer, user, created["id"])
    assert got["status"] == "pending"
    assert await suspicious(runtime, created["id"]) is True
    assert await balance(runtime, IN_FLIGHT) == 1_000_000
    assert await balance(runtime, AccountRef.wallet(user, TZS)) == 4_000_000
    assert await balance(runtime, AccountRef.clearing(case.provider, TZS)) == 0
    assert await messages(runtime, "payments.payout_completed.v1") == []
    expected = ["mismatch", "unknown"] if case.provider == "tembo" else ["bad_signature", "bad_signature"]
    assert await callback_outcomes(runtime, case.provider) == expected
    wrong_token = await live.http.post(
        f"{live.base_url}/api/v1/payments/callbacks/{case.provider}-payout/wrong", json={}
    )
    assert wrong_token.status_code == 404
    assert await problems(runtime) == []


async def test_tembo_statement_comparison_matches_the_ledger_and_reports_drift(live, runtime, bearer) -> None:
    """The daily job: Tembo's disbursement and collection statements (fee rows included)
    against our records; what matches is quiet, what does not is reported."""
    from nexgate.payments.adapters.jobs import payment_jobs
    from nexgate.payments.testing.fake_tembo import Collection

    user = uuid.uuid4()
    await fund(runtime, user, 50_000)
    paid = await withdraw(live, bearer, user, 20_000, TEMBO.phone("678"))
    await live.tembo.settle()
    [job] = [j for j in payment_jobs(runtime) if j.name == "payments.compare_tembo_statement"]
    assert await job.run() == {"rows": 1, "drift": 0, "fees": 0}
    # Tembo reports a collection we never made (with its fee row) and another payout amount.
    live.tembo.collections["ABCDEF123456"] = Collection(
        "ABCDEF123456", "T1", "255682345000", 10_000, "", status="PAYMENT_ACCEPTED"
    )
    live.tembo.payouts[paid["id"]].amount = 20_001
    result = await job.run()
    assert result == {"rows": 3, "drift": 2, "fees": 150}
    assert [kind for kind, _ in live.tembo.requests].count("disbursement_statement") == 2
    assert await problems(runtime) == []  # reported, never corrected by the job
