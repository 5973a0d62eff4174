"""Periodic jobs of the payments context (run by the worker's scheduler, once per interval
across replicas)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import structlog

from nexgate.kernel.messaging.scheduler import Job
from nexgate.kernel.runtime import Runtime
from nexgate.payments.adapters.providers import build_daraja, build_sandbox, build_selcom, build_tembo
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection, escrow, payouts, statements
from nexgate.payments.ports import ProviderRejected, ProviderUnreachable
from nexgate.payments.settings import PaymentsSettings

log = structlog.get_logger("nexgate.payments.jobs")


def payment_jobs(runtime: Runtime, settings: PaymentsSettings | None = None) -> Sequence[Job]:
    settings = settings or PaymentsSettings()
    uow = sql_unit_of_work(runtime.database().sessions)
    daraja = build_daraja(settings)
    sandbox = build_sandbox(runtime, settings)
    selcom = build_selcom(settings)
    tembo = build_tembo(settings)

    async def reconcile_collections() -> dict[str, int]:
        """Ask Daraja about STK attempts with no result past the delay; ambiguous after a while."""
        counts = await collection.reconcile_pending(
            uow=uow,
            clock=runtime.clock,
            provider=daraja,
            older_than=timedelta(seconds=settings.mpesa_reconcile_after_s),
            give_up_after=timedelta(seconds=settings.mpesa_give_up_after_s),
        )
        if counts:
            log.info("payments.collections_reconciled", provider="mpesa", **counts)
        return counts

    async def reconcile_selcom() -> dict[str, int]:
        """Selcom: ask the order status of pushes with no webhook after ~3 minutes; 111/927/999
        stay pending and become ambiguous (manual reconciliation with Selcom) after a while."""
        counts = await collection.reconcile_pending(
            uow=uow,
            clock=runtime.clock,
            provider=selcom,
            older_than=timedelta(seconds=settings.selcom_reconcile_after_s),
            give_up_after=timedelta(seconds=settings.mpesa_give_up_after_s),
        )
        if counts:
            log.info("payments.collections_reconciled", provider="selcom", **counts)
        return counts

    async def reconcile_tembo() -> dict[str, int]:
        """Tembo webhooks may take hours and are unauthenticated: ask the status of attempts
        pending past the delay; ambiguous (admin queue) after a while."""
        counts = await collection.reconcile_pending(
            uow=uow,
            clock=runtime.clock,
            provider=tembo,
            older_than=timedelta(seconds=settings.tembo_reconcile_after_s),
            give_up_after=timedelta(seconds=settings.mpesa_give_up_after_s),
        )
        if counts:
            log.info("payments.collections_reconciled", provider="tembo", **counts)
        return counts

    async def reconcile_sandbox() -> dict[str, int]:
        assert sandbox is not None
        return await collection.reconcile_pending(
            uow=uow,
            clock=runtime.clock,
            provider=sandbox,
            older_than=timedelta(seconds=settings.sandbox_delay_s * 3),
            give_up_after=timedelta(seconds=settings.mpesa_give_up_after_s),
        )

    async def reconcile_payouts() -> int:
        """B2C payouts still without a result: never resent; unacknowledged ones become
        ``ambiguous``, and Daraja's Transaction Status is asked for each (its answer comes
        back to ``/callbacks/mpesa-b2c-status`` and settles the payout once)."""
        stale = await payouts.reconcile_payouts(
            uow=uow,
            clock=runtime.clock,
            provider=daraja,
            older_than=timedelta(seconds=settings.payout_reconcile_after_s),
        )
        if stale:
            log.warning("payments.payouts_unsettled", provider="mpesa", count=len(stale))
        return len(stale)

    async def reconcile_tz_payouts() -> dict[str, int]:
        """Selcom and Tembo payouts without a final result (a lost callback, a request that
        timed out): their status APIs are asked, the request is never resent."""
        counts: dict[str, int] = {}
        for provider in (selcom, tembo):
            checked = await payouts.reconcile_payouts(
                uow=uow,
                clock=runtime.clock,
                provider=provider,
                older_than=timedelta(seconds=settings.payout_reconcile_after_s),
            )
            unsettled = sum(1 for p in checked if p.status.value not in ("succeeded", "failed"))
            if unsettled:
                log.warning("payments.payouts_unsettled", provider=provider.name, count=unsettled)
            counts[provider.name] = len(checked)
        return counts

    async def compare_tembo_statement() -> dict[str, int]:
        """Yesterday's and today's Tembo statements (collections with their fee rows, and
        disbursements) against our records; drift is logged for a person to look at."""
        today = runtime.clock.now().date()
        try:
            rows = {
                kind: await tembo.statement(kind, today - timedelta(days=1), today)
                for kind in ("collection", "disbursement")
            }
        except (ProviderUnreachable, ProviderRejected) as exc:
            log.warning("payments.tembo_statement_unavailable", error=str(exc))
            return {"rows": 0, "drift": 0}
        drift = await statements.compare_tembo_statement(
            uow=uow, collection_rows=rows["collection"], disbursement_rows=rows["disbursement"]
        )
        if drift.problems:
            log.warning("payments.tembo_statement_drift", problems=drift.problems)
        log.info("payments.tembo_statement_compared", rows=drift.rows, fees=drift.fees_major)
        return {"rows": drift.rows, "drift": len(drift.problems), "fees": drift.fees_major}

    async def release_due() -> int:
        """Holds whose ``auto_release_at`` passed, or whose release key (an event) ended more
        than the grace window ago; disputed holds are never picked."""
        released = await escrow.release_due(uow=uow, clock=runtime.clock)
        if released:
            log.info("payments.holds_released", count=released)
        return released

    jobs = [
        Job("payments.release_due_holds", settings.release_interval_s, release_due),
        Job("payments.reconcile_mpesa_collections", settings.reconcile_interval_s, reconcile_collections),
        Job("payments.reconcile_mpesa_payouts", settings.reconcile_interval_s, reconcile_payouts),
        Job("payments.reconcile_tz_payouts", settings.reconcile_interval_s, reconcile_tz_payouts),
        Job("payments.reconcile_selcom_collections", settings.reconcile_interval_s, reconcile_selcom),
        Job("payments.reconcile_tembo_collections", settings.reconcile_interval_s, reconcile_tembo),
        Job("payments.compare_tembo_statement", settings.tembo_statement_interval_s, compare_tembo_statement),
    ]
    if sandbox is not None:
        jobs.append(
            Job("payments.reconcile_sandbox_collections", settings.reconcile_interval_s, reconcile_sandbox)
        )
    return jobs
