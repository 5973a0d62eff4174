"""The reconciliation jobs on the ContextSpec, run through the kernel scheduler against the
fake Daraja: a collection with no callback is settled by STK query; an unsettled payout is
reported and never resent."""

from __future__ import annotations

import uuid

import pytest

from nexgate.kernel.messaging.scheduler import Scheduler
from nexgate.kernel.money import Money
from nexgate.payments import api
from nexgate.payments.bootstrap import context

pytestmark = pytest.mark.integration

KES = "KES"


def jobs_by_name(runtime) -> dict:
    return {job.name: job for job in context.jobs(runtime)}


async def test_the_collection_job_settles_an_attempt_whose_callback_never_came(
    live, runtime, bearer, monkeypatch
) -> None:
    monkeypatch.setenv("NEXGATE_PAYMENTS_MPESA_RECONCILE_AFTER_S", "0")
    payer = uuid.uuid4()
    intent = await api.create_intent(
        runtime,
        actor=api.Actor.system("commerce"),
        payer_id=payer,
        amount=Money.of(800, KES),
        purpose="order",
        reference="order-jobs",
        splits=[api.Split(uuid.uuid4(), Money.of(800, KES), "line")],
        idempotency_key="jobs",
    )
    started = await live.http.post(
        f"/api/v1/payments/intents/{intent.id}/attempts",
        json={"method": "mobileMoney", "phone": "0712345999"},
        headers={**bearer(payer), "Idempotency-Key": "a"},
    )
    assert started.status_code == 201, started.text
    await live.daraja.settle()
    assert (
        await api.get_intent(runtime, actor=api.Actor.user(payer), intent_id=intent.id)
    ).status == "processing"

    jobs = jobs_by_name(runtime)
    assert set(jobs) == {
        "payments.reconcile_mpesa_collections",
        "payments.reconcile_mpesa_payouts",
        "payments.reconcile_selcom_collections",
        "payments.reconcile_tembo_collections",
        "payments.compare_tembo_statement",
        "payments.reconcile_tz_payouts",
        "payments.release_due_holds",
    }
    scheduler = Scheduler(list(jobs.values()), runtime.redis, key_prefix=runtime.settings.redis_prefix)
    job = jobs["payments.reconcile_mpesa_collections"]
    assert await scheduler.run_due(job) is True
    assert (
        await api.get_intent(runtime, actor=api.Actor.user(payer), intent_id=intent.id)
    ).status == "succeeded"
    # Once per interval across replicas.
    assert await scheduler.run_due(job) is False


async def test_the_payout_job_reports_unsettled_payouts_and_resends_nothing(
    live, runtime, bearer, monkeypatch
) -> None:
    from nexgate.kernel.ids import new_id
    from nexgate.payments.adapters.sql.ledger import SqlLedger
    from nexgate.payments.domain.ledger import AccountRef, transfer

    monkeypatch.setenv("NEXGATE_PAYMENTS_PAYOUT_RECONCILE_AFTER_S", "0")
    user = uuid.uuid4()
    async with runtime.database().sessions() as session, session.begin():
        await SqlLedger(session).post(
            transfer(
                id=new_id(),
                kind="test_topup",
                reference="t",
                idempotency_key="t",
                source=AccountRef.clearing("mpesa", KES),
                targets=[(AccountRef.wallet(user, KES), Money.of(100, KES))],
            )
        )
    created = await live.http.post(
        "/api/v1/payments/wallet/withdrawals",
        json={"amount": {"amount": 5_000, "currency": KES}, "phone": "0712345999"},
        headers={**bearer(user), "Idempotency-Key": "w"},
    )
    assert created.status_code == 201, created.text
    await live.daraja.settle()
    job = jobs_by_name(runtime)["payments.reconcile_mpesa_payouts"]
    assert await job.run() == 1
    assert [kind for kind, _ in live.daraja.requests].count("b2c") == 1
