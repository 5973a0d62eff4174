"""Recent authentication, deactivation, scheduled deletion, suspension."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from nexgate.auth.application.common import check_code, issue_challenge, limit_code_send, revoke_sessions
from nexgate.auth.application.passwords import check_own_password
from nexgate.auth.application.services import AuthServices, ChallengeView
from nexgate.auth.domain.accounts import Account, AccountStatus, Channel
from nexgate.auth.domain.challenges import MAX_ATTEMPTS, Purpose, challenge_expired, challenge_not_found
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


async def _active_account(svc: AuthServices, principal: Principal) -> Account:
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id)
    if account is None or account.status is not AccountStatus.ACTIVE:
        raise NotFound("No such account.", code="account_not_found")
    return account


async def reauthenticate(
    svc: AuthServices,
    *,
    principal: Principal,
    password: str | None = None,
    challenge_id: uuid.UUID | None = None,
    code: str | None = None,
    ip: str = "unknown",
) -> None:
    """Marks the calling session recently authenticated (ten minutes).

    Proof is the password, or the code of a ``reauth`` challenge sent to one of the account's
    verified identifiers (accounts that sign in only through a provider have no password; they
    may also prove it with a fresh provider token, `oidc.reauthenticate_with_provider`).
    """
    by_code = challenge_id is not None or code is not None
    if (password is None) == (not by_code) or (by_code and (challenge_id is None or code is None)):
        raise ValidationFailed(
            "Send either password, or challengeId and code.",
            errors=[FieldProblem("password", "give password, or challengeId and code")],
        )
    account = await _active_account(svc, principal)
    if password is not None:
        await check_own_password(
            svc, account, password, session_id=principal.session_id, path="password", code="invalid_password"
        )
    else:
        assert challenge_id is not None
        assert code is not None
        async with svc.uow() as tx:
            found = await tx.challenges.get(challenge_id)
        # Another account's challenge answers exactly like a missing one.
        if found is None or found.account_id != account.id:
            raise challenge_not_found()
        await check_code(svc, challenge_id=challenge_id, purpose=Purpose.REAUTH, code=code, ip=ip)
        async with svc.uow() as tx:
            if not await tx.challenges.consume(challenge_id, MAX_ATTEMPTS, svc.clock.now()):
                raise challenge_expired()
    await svc.reauth.mark(principal.session_id)


async def request_reauth_code(
    svc: AuthServices, *, principal: Principal, channel: Channel | None, ip: str
) -> ChallengeView:
    """A ``reauth`` code to a verified identifier (the phone unless ``channel`` says otherwise)."""
    account = await _active_account(svc, principal)
    verified = {Channel.PHONE: account.phone_verified, Channel.EMAIL: account.email_verified}
    chosen = channel or next((c for c in (Channel.PHONE, Channel.EMAIL) if verified[c]), None)
    destination = account.identifier(chosen) if chosen is not None else None
    if chosen is None or destination is None or not verified[chosen]:
        raise Conflict("There is no verified address to send a code to.", code="no_verified_identifier")
    await limit_code_send(svc, destination, ip)
    async with svc.uow() as tx:
        return await issue_challenge(
            svc,
            tx,
            purpose=Purpose.REAUTH,
            channel=chosen,
            destination=destination,
            account_id=account.id,
            locale=account.locale,
            decoy=False,
            now=svc.clock.now(),
        )


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
