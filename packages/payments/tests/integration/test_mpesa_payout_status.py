"""M-Pesa B2C payouts resolved by Daraja's Transaction Status query (peers.md 2.1): a request
that timed out, or whose result never came, is asked about under our OriginatorConversationID
(``payouts.reconcile_payouts``, the path Tembo and Selcom use) and never resent. Daraja only
acknowledges the query; its answer arrives at ``/callbacks/mpesa-b2c-status/{token}`` over real
HTTP and settles the payout once. ``verify_ledger`` holds after each test."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from nexgate.kernel.money import Money
from nexgate.payments.adapters.mpesa.daraja import DarajaProvider
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import payouts
from nexgate.payments.domain.ledger import AccountRef
from nexgate.payments.domain.payouts import PayoutStatus, WithdrawalLimits

from .conftest import CALLBACK_TOKEN
from .test_withdrawals import CLEARING, IN_FLIGHT, KES, balance, fund, kes, messages, problems, read, withdraw

pytestmark = pytest.mark.integration


def status_url(live) -> str:
    return f"{live.base_url}/api/v1/payments/callbacks/mpesa-b2c-status/{CALLBACK_TOKEN}"


def daraja(live, *, timeout_s: float = 5.0) -> DarajaProvider:
    """The adapter as the app builds it (optionally giving up sooner)."""
    fake = live.daraja
    return DarajaProvider(
        base_url=live.daraja_url,
        consumer_key=fake.consumer_key,
        consumer_secret=fake.consumer_secret,
        shortcode=fake.shortcode,
        passkey=fake.passkey,
        timeout_s=timeout_s,
        b2c_shortcode=fake.b2c_shortcode,
        initiator_name=fake.initiator_name,
        initiator_password=fake.initiator_password,
        certificate_pem=fake.certificate_pem,
        status_result_url=status_url(live),
    )


def sent(live, kind: str) -> int:
    return [k for k, _ in live.daraja.requests].count(kind)


async def status_outcomes(runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT outcome FROM payments.callbacks WHERE kind = 'payout_status' ORDER BY received_at"
            )
        )
        return list(rows.scalars().all())


async def reconcile(live, runtime, provider: DarajaProvider | None = None):
    found = await payouts.reconcile_payouts(
        uow=sql_unit_of_work(runtime.database().sessions),
        clock=runtime.clock,
        provider=provider or daraja(live),
        older_than=timedelta(0),
    )
    await live.daraja.settle()
    return found


async def test_mpesa_payout_request_timeout_is_resolved_by_status_query_without_a_second_payout(
    live, runtime, bearer
) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    fake = live.daraja
    impatient = daraja(live, timeout_s=0.3)
    payout = await payouts.request_withdrawal(
        uow=sql_unit_of_work(runtime.database().sessions),
        clock=runtime.clock,
        providers={"mpesa": impatient},
        result_url=live.b2c_result,
        timeout_url=live.b2c_result,
        user_id=user,
        amount=Money.of(250, KES),
        phone="0712345505",  # the ack comes too late and no result is ever posted
        idempotency_key="timeout",
        limits=WithdrawalLimits({KES: 1000}, {KES: 10_000_000}),
    )
    assert payout.status is PayoutStatus.AMBIGUOUS
    await asyncio.sleep(fake.slow_ack_s)
    await fake.settle()
    assert (await read(live, bearer, user, payout.id))["status"] == "ambiguous"
    assert await balance(runtime, IN_FLIGHT) == 25_000
    [asked] = await reconcile(live, runtime, impatient)
    assert asked.id == payout.id  # the query is only acknowledged: the answer comes by callback
    got = await read(live, bearer, user, payout.id)
    assert got["status"] == "succeeded"
    [query] = [body for kind, body in fake.requests if kind == "transaction_status"]
    assert (query["OriginalConversationID"], query["CommandID"]) == (str(payout.id), "TransactionStatusQuery")
    assert await status_outcomes(runtime) == ["succeeded"]
    # Nothing unsettled any more: a second run asks nothing, and nothing was ever resent.
    assert await reconcile(live, runtime, impatient) == []
    assert (sent(live, "b2c"), sent(live, "transaction_status")) == (1, 1)
    assert await balance(runtime, AccountRef.wallet(user, KES)) == 25_000
    assert await balance(runtime, IN_FLIGHT) == 0
    assert await balance(runtime, CLEARING) == -50_000 + 25_000
    assert len(await messages(runtime, "payments.payout_completed.v1")) == 1
    assert await problems(runtime) == []


async def test_mpesa_lost_result_of_a_failed_payout_is_resolved_by_status_and_returns_the_money(
    live, runtime, bearer
) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    created = (await withdraw(live, bearer, user, {"amount": kes(200), "phone": "0712345001"})).json()
    await live.daraja.settle()
    assert (await read(live, bearer, user, created["id"]))["status"] == "failed"  # its result came
    # Now one whose result is lost: the fake made it (success) but never posted the result.
    lost = (await withdraw(live, bearer, user, {"amount": kes(100), "phone": "0712345999"})).json()
    await live.daraja.settle()
    assert (await read(live, bearer, user, lost["id"]))["status"] == "pending"
    # Make the lost one a failure on the provider's side: the status answer must return the money.
    live.daraja.payouts[lost["id"]].result_code = 1
    [asked] = await reconcile(live, runtime)
    assert str(asked.id) == lost["id"]
    got = await read(live, bearer, user, lost["id"])
    assert (got["status"], got["failureReason"]) == ("failed", "provider_failed")
    assert await balance(runtime, AccountRef.wallet(user, KES)) == 50_000
    assert await balance(runtime, IN_FLIGHT) == 0
    assert len(await messages(runtime, "payments.payout_failed.v1")) == 2
    assert await messages(runtime, "payments.payout_completed.v1") == []
    assert sent(live, "b2c") == 2
    assert await problems(runtime) == []


async def test_mpesa_duplicate_status_results_settle_once(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    created = (await withdraw(live, bearer, user, {"amount": kes(100), "phone": "0712345999"})).json()
    await live.daraja.settle()
    provider = daraja(live)
    uow = sql_unit_of_work(runtime.database().sessions)
    # Two queries at once (two workers): two answers, one settlement.
    await asyncio.gather(
        *(
            payouts.resolve_payout(
                uow=uow, clock=runtime.clock, provider=provider, payout_id=uuid.UUID(created["id"])
            )
            for _ in range(2)
        )
    )
    await live.daraja.settle()
    assert (await read(live, bearer, user, created["id"]))["status"] == "succeeded"
    # The second answer finds it final (or, arriving at the same moment, waits for the row
    # lock and finds nothing left to do): either way it is settled once.
    assert sorted(await status_outcomes(runtime)) in (["final", "succeeded"], ["succeeded", "succeeded"])
    assert sent(live, "b2c") == 1
    assert await balance(runtime, CLEARING) == -50_000 + 10_000
    assert await balance(runtime, IN_FLIGHT) == 0
    assert len(await messages(runtime, "payments.payout_completed.v1")) == 1
    assert await problems(runtime) == []


async def test_mpesa_status_answer_not_final_or_forged_moves_nothing(live, runtime, bearer) -> None:
    user = uuid.uuid4()
    await fund(runtime, user, 500)
    created = (await withdraw(live, bearer, user, {"amount": kes(100), "phone": "0712345999"})).json()
    await live.daraja.settle()
    # Daraja does not know it yet: "no transaction" is not a failure.
    live.daraja.payouts[created["id"]].result_code = None
    await reconcile(live, runtime)
    assert (await read(live, bearer, user, created["id"]))["status"] == "pending"
    # A status answer with another amount flags the payout and moves nothing.
    forged = await live.daraja.forge_status_result(
        status_url(live), originator_id=created["id"], amount=99_999
    )
    assert forged.status_code == 200
    wrong_token = await live.http.post(
        f"{live.base_url}/api/v1/payments/callbacks/mpesa-b2c-status/wrong", json={}
    )
    assert wrong_token.status_code == 404
    assert await status_outcomes(runtime) == ["pending", "mismatch"]
    assert (await read(live, bearer, user, created["id"]))["status"] == "pending"
    assert await balance(runtime, IN_FLIGHT) == 10_000
    assert await balance(runtime, AccountRef.wallet(user, KES)) == 40_000
    assert await messages(runtime, "payments.payout_completed.v1") == []
    assert await problems(runtime) == []
