"""`/api/v1/payments/admin/...`: wallet freezes, the withdrawal review queue and the
ambiguous-attempt queue (admins only: 403 for everyone else). Hold release and refund live
with `AdminHoldController`."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import FieldProblem, ValidationFailed
from nexgate.kernel.http.auth import requires_principal, requires_role
from nexgate.kernel.pagination import CursorCodec, Page, validate_limit
from nexgate.kernel.security.principal import Principal
from nexgate.payments.adapters.http.controllers import PaymentsService, actor_of, idempotency_key_of
from nexgate.payments.adapters.http.schemas import (
    AdminAttemptOut,
    AttemptOut,
    FreezeOut,
    ResolveAttemptIn,
    WithdrawalOut,
)
from nexgate.payments.application import collection, payouts, wallets
from nexgate.payments.domain.intents import Attempt

_CURSOR = (datetime, uuid.UUID)
_ADMIN_GUARDS = [requires_principal, requires_role("admin")]


class AdminWalletController(Controller):
    path = "/api/v1/payments/admin/wallets"
    tags = ["payments", "admin"]
    guards = _ADMIN_GUARDS

    @post(
        "/{user_id:uuid}/freeze", status_code=200, summary="Freeze a user's wallets (only an admin unfreezes)"
    )
    async def freeze(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> FreezeOut:
        by = await wallets.freeze(uow=payments.uow, actor=actor_of(principal), user_id=user_id)
        return FreezeOut(user_id, True, by)

    @post("/{user_id:uuid}/unfreeze", status_code=200, summary="Unfreeze a user's wallets")
    async def unfreeze(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> FreezeOut:
        await wallets.unfreeze(uow=payments.uow, actor=actor_of(principal), user_id=user_id)
        return FreezeOut(user_id, False, None)


class AdminWithdrawalController(Controller):
    path = "/api/v1/payments/admin/withdrawals"
    tags = ["payments", "admin"]
    guards = _ADMIN_GUARDS

    @get("/", summary="Withdrawals waiting for review, oldest first (cursor pages)")
    async def queue(
        self,
        payments: NamedDependency[PaymentsService],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[WithdrawalOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, _CURSOR) if cursor else None
        found = await payouts.withdrawals_in_review(uow=payments.uow, after=after, limit=size)  # type: ignore[arg-type]
        page = Page.from_rows(found, size, key=lambda p: (p.created_at, p.id), codec=cursors)
        return Page(items=[WithdrawalOut.of(p) for p in page.items], next_cursor=page.next_cursor)

    async def _decide(
        self, payout_id: uuid.UUID, request: Request, payments: PaymentsService, clock: Clock, approve: bool
    ) -> WithdrawalOut:
        idempotency_key_of(request)
        payout = await payouts.review_withdrawal(
            uow=payments.uow,
            clock=clock,
            providers=payments.payout_providers,
            result_url=payments.payout_result_url,
            timeout_url=payments.payout_timeout_url,
            payout_id=payout_id,
            approve=approve,
        )
        return WithdrawalOut.of(payout)

    @post(
        "/{payout_id:uuid}/approve",
        status_code=200,
        opt={"idempotent": True},
        summary="Approve a withdrawal in review: it is paid out",
    )
    async def approve(
        self,
        payout_id: FromPath[uuid.UUID],
        request: Request,
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> WithdrawalOut:
        return await self._decide(payout_id, request, payments, clock, approve=True)

    @post(
        "/{payout_id:uuid}/reject",
        status_code=200,
        opt={"idempotent": True},
        summary="Reject a withdrawal in review: its money returns to the wallet",
    )
    async def reject(
        self,
        payout_id: FromPath[uuid.UUID],
        request: Request,
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> WithdrawalOut:
        return await self._decide(payout_id, request, payments, clock, approve=False)


def _admin_attempt(attempt: Attempt) -> AdminAttemptOut:
    return AdminAttemptOut(AttemptOut.of(attempt), attempt.provider_ref, attempt.suspicious)


class AdminAttemptController(Controller):
    path = "/api/v1/payments/admin/attempts"
    tags = ["payments", "admin"]
    guards = _ADMIN_GUARDS

    @get("/", summary="Attempts in a status (default: ambiguous), oldest first (cursor pages)")
    async def queue(
        self,
        payments: NamedDependency[PaymentsService],
        cursors: NamedDependency[CursorCodec],
        status: FromQuery[str] = "ambiguous",
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[AdminAttemptOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, _CURSOR) if cursor else None
        found = await collection.attempts_in_status(uow=payments.uow, status=status, after=after, limit=size)  # type: ignore[arg-type]
        page = Page.from_rows(found, size, key=lambda a: (a.created_at, a.id), codec=cursors)
        return Page(items=[_admin_attempt(a) for a in page.items], next_cursor=page.next_cursor)

    @post(
        "/{attempt_id:uuid}/resolve",
        status_code=200,
        opt={"idempotent": True},
        summary="Settle an ambiguous attempt after checking the provider",
    )
    async def resolve(
        self,
        attempt_id: FromPath[uuid.UUID],
        data: JSONBody[ResolveAttemptIn],
        request: Request,
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> AdminAttemptOut:
        idempotency_key_of(request)
        if data.outcome not in ("succeeded", "failed"):
            raise ValidationFailed(
                "outcome is succeeded or failed.",
                code="invalid_outcome",
                errors=[FieldProblem("outcome", "succeeded or failed")],
            )
        attempt = await collection.resolve_ambiguous(
            uow=payments.uow,
            clock=clock,
            attempt_id=attempt_id,
            succeeded=data.outcome == "succeeded",
            receipt=data.receipt,
        )
        return _admin_attempt(attempt)
