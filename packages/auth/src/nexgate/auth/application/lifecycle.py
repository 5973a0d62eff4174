"""Recent authentication, deactivation, scheduled deletion, suspension."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from nexgate.auth.application.common import revoke_sessions
from nexgate.auth.application.services import AuthServices
from nexgate.auth.domain.accounts import AccountStatus
from nexgate.contracts.auth import (
    UserDeactivated,
    UserDeleted,
    UserDeletionScheduled,
    UserSuspended,
    UserUnsuspended,
)
from nexgate.kernel.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from nexgate.kernel.security.principal import Principal

DELETION_GRACE = timedelta(days=30)


async def reauthenticate(svc: AuthServices, *, principal: Principal, password: str) -> None:
    """Marks the calling session recently authenticated (ten minutes)."""
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id)
    if account is None or account.status is not AccountStatus.ACTIVE:
        raise NotFound("No such account.", code="account_not_found")
    if not account.password_hash or not await svc.hasher.verify(account.password_hash, password):
        raise ValidationFailed(
            "The password is not right.",
            code="invalid_password",
            errors=[FieldProblem("password", "is not right")],
        )
    await svc.reauth.mark(principal.session_id)


async def require_recent_authentication(svc: AuthServices, principal: Principal) -> None:
    if not await svc.reauth.is_recent(principal.session_id):
        raise Forbidden("Confirm your password first.", code="reauthentication_required")


async def deactivate(svc: AuthServices, *, principal: Principal) -> None:
    """The owner hides the account; every session ends. Logging in with ``reactivate`` restores it."""
    await require_recent_authentication(svc, principal)
    now = svc.clock.now()
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id, for_update=True)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise NotFound("No such account.", code="account_not_found")
        await tx.accounts.set_status(account.id, AccountStatus.DEACTIVATED)
        live = await tx.sessions.live_for_account(account.id, now)
        await revoke_sessions(svc, tx, account.id, [s.id for s in live], "account_deactivated", now)
        await tx.outbox.add(UserDeactivated(user_id=account.id))


async def schedule_deletion(svc: AuthServices, *, principal: Principal) -> datetime:
    """Deletion in 30 days; every session ends. Logging in with ``cancelDeletion`` keeps the account."""
    await require_recent_authentication(svc, principal)
    now = svc.clock.now()
    deletion_at = now + DELETION_GRACE
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id, for_update=True)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise NotFound("No such account.", code="account_not_found")
        await tx.accounts.set_status(account.id, AccountStatus.DELETION_SCHEDULED, deletion_at=deletion_at)
        live = await tx.sessions.live_for_account(account.id, now)
        await revoke_sessions(svc, tx, account.id, [s.id for s in live], "account_deletion_scheduled", now)
        await tx.outbox.add(UserDeletionScheduled(user_id=account.id, deletion_at=deletion_at))
    return deletion_at


def _staff(actor: Principal) -> None:
    if not (actor.has_role("staff") or actor.has_role("admin")):
        raise Forbidden("Only staff suspend accounts.", code="forbidden")


async def suspend(
    svc: AuthServices, *, actor: Principal, account_id: uuid.UUID, reason: str, until: datetime | None
) -> None:
    _staff(actor)
    if account_id == actor.user_id:
        raise Conflict("You cannot suspend yourself.", code="cannot_suspend_self")
    now = svc.clock.now()
    async with svc.uow() as tx:
        account = await tx.accounts.get(account_id, for_update=True)
        if account is None or account.status in (AccountStatus.DELETED, AccountStatus.PENDING):
            raise NotFound("No such account.", code="account_not_found")
        await tx.accounts.set_status(account.id, AccountStatus.SUSPENDED, suspended_until=until)
        live = await tx.sessions.live_for_account(account.id, now)
        await revoke_sessions(svc, tx, account.id, [s.id for s in live], "account_suspended", now)
        await tx.audit.record(
            actor_id=actor.user_id,
            action="suspend",
            target_id=account.id,
            details={
                "reason": reason,
                "until": until.isoformat() if until else None,
                "from": account.status.value,
            },
            now=now,
        )
        await tx.outbox.add(
            UserSuspended(user_id=account.id, reason=reason, until=until, suspended_by=actor.user_id)
        )


async def unsuspend(svc: AuthServices, *, actor: Principal, account_id: uuid.UUID) -> None:
    _staff(actor)
    now = svc.clock.now()
    async with svc.uow() as tx:
        account = await tx.accounts.get(account_id, for_update=True)
        if account is None or account.status is AccountStatus.DELETED:
            raise NotFound("No such account.", code="account_not_found")
        if account.status is not AccountStatus.SUSPENDED:
            raise Conflict("The account is not suspended.", code="not_suspended")
        await tx.accounts.set_status(account.id, AccountStatus.ACTIVE)
        await tx.audit.record(
            actor_id=actor.user_id, action="unsuspend", target_id=account.id, details={}, now=now
        )
        await tx.outbox.add(UserUnsuspended(user_id=account.id, unsuspended_by=actor.user_id))


async def erase_due_accounts(svc: AuthServices, *, batch: int = 100) -> int:
    """The deletion sweep: accounts past their 30-day grace become tombstones (``auth.user_deleted.v1``)."""
    now = svc.clock.now()
    async with svc.uow() as tx:
        due = await tx.accounts.due_for_deletion(now, batch)
        for account_id in due:
            await tx.accounts.erase(account_id, now)
            await tx.audit.record(actor_id=None, action="erase", target_id=account_id, details={}, now=now)
            await tx.outbox.add(UserDeleted(user_id=account_id))
    return len(due)


async def end_due_suspensions(svc: AuthServices, *, batch: int = 100) -> int:
    """Suspensions with an ``until`` in the past end by themselves."""
    now = svc.clock.now()
    async with svc.uow() as tx:
        due = await tx.accounts.due_for_unsuspension(now, batch)
        for account_id in due:
            await tx.accounts.set_status(account_id, AccountStatus.ACTIVE)
            await tx.audit.record(
                actor_id=None, action="unsuspend", target_id=account_id, details={"expired": True}, now=now
            )
            await tx.outbox.add(UserUnsuspended(user_id=account_id))
    return len(due)
