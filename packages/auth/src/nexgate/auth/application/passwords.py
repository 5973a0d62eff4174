"""Password reset (by code) and change (signed in)."""

from __future__ import annotations

import uuid

from nexgate.auth.application.common import (
    announce_lock,
    check_code,
    issue_challenge,
    limit_code_send,
    revoke_sessions,
)
from nexgate.auth.application.services import AuthServices, ChallengeView, hashed
from nexgate.auth.domain.accounts import Account, AccountStatus, clean_password, parse_identifier
from nexgate.auth.domain.challenges import MAX_ATTEMPTS, Purpose, challenge_expired, too_many_attempts
from nexgate.contracts.auth import PasswordChanged
from nexgate.kernel.errors import FieldProblem, NotFound, ValidationFailed
from nexgate.kernel.security.principal import Principal

_RESETTABLE = frozenset(
    {
        AccountStatus.ACTIVE,
        AccountStatus.DEACTIVATED,
        AccountStatus.DELETION_SCHEDULED,
        AccountStatus.SUSPENDED,
    }
)


async def request_password_reset(svc: AuthServices, *, identifier: str, ip: str) -> ChallengeView:
    """A code to the identifier's owner; an unknown identifier gets the same answer (a decoy)."""
    ident = parse_identifier(
        identifier, default_region=svc.policy.default_region, allowed_regions=svc.policy.allowed_regions
    )
    await svc.limit("reset.identifier", ident.value, svc.policy.limits.resets_per_identifier)
    await limit_code_send(svc, ident.value, ip)
    now = svc.clock.now()
    async with svc.uow() as tx:
        account = await tx.accounts.find(ident.channel, ident.value)
        real = account is not None and account.status in _RESETTABLE
        return await issue_challenge(
            svc,
            tx,
            purpose=Purpose.PASSWORD_RESET,
            channel=ident.channel,
            destination=ident.value,
            account_id=account.id if real and account else None,
            locale=account.locale if account else svc.policy.default_locale,
            decoy=not real,
            now=now,
        )


async def complete_password_reset(
    svc: AuthServices, *, challenge_id: uuid.UUID, code: str, new_password: str, ip: str
) -> None:
    """Set the new password, end every session, clear the lockout. Never signs anybody in."""
    challenge = await check_code(
        svc, challenge_id=challenge_id, purpose=Purpose.PASSWORD_RESET, code=code, ip=ip
    )
    assert challenge.account_id is not None
    async with svc.uow() as tx:
        account = await tx.accounts.get(challenge.account_id)
    if account is None:
        raise challenge_expired()
    clean = clean_password(
        new_password, identifiers=account.identifiers, common=svc.policy.common_passwords, path="newPassword"
    )
    password_hash = await svc.hasher.hash(clean)
    now = svc.clock.now()
    async with svc.uow() as tx:
        if not await tx.challenges.consume(challenge.id, MAX_ATTEMPTS, now):
            raise challenge_expired()
        await tx.accounts.set_password(account.id, password_hash)
        live = await tx.sessions.live_for_account(account.id, now)
        await revoke_sessions(svc, tx, account.id, [s.id for s in live], "password_reset", now)
        await tx.outbox.add(PasswordChanged(user_id=account.id, via="reset"))
    for value in account.identifiers:
        await svc.lockout.clear(hashed(value))


async def check_own_password(
    svc: AuthServices, account: Account, password: str, *, session_id: uuid.UUID, path: str, code: str
) -> None:
    """The signed-in caller's password, or ``ValidationFailed(code)``; guesses count like login's.

    A stolen session must not become an unlimited password oracle (nor an argon2 CPU sink):
    each proof is counted per session and per account, failures feed the login lockout of
    every identifier of the account, and while one is locked even the right password is refused.
    """
    limits = svc.policy.limits
    await svc.limit("reauth.session", str(session_id), limits.reauth_per_session)
    await svc.limit("reauth.account", str(account.id), limits.reauth_per_account)
    # An account without an identifier (a provider sign-in without email) is locked by its id.
    keys = [hashed(v) for v in account.identifiers] or [hashed(f"account:{account.id}")]
    locked_s = max([await svc.lockout.locked_for(k) for k in keys])
    if locked_s:
        raise too_many_attempts(locked_s)
    if account.password_hash and await svc.hasher.verify(account.password_hash, password):
        for key in keys:
            await svc.lockout.clear(key)
        return
    lock_s = max([await svc.lockout.failed(k) for k in keys])
    if lock_s:
        await announce_lock(svc, account.id, lock_s)
    raise ValidationFailed(
        "The password is not right.", code=code, errors=[FieldProblem(path, "is not right")]
    )


async def change_password(
    svc: AuthServices, *, principal: Principal, current_password: str, new_password: str
) -> None:
    """Needs the current password; every other session of the account ends."""
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id)
    if account is None or account.status is not AccountStatus.ACTIVE:
        raise NotFound("No such account.", code="account_not_found")
    await check_own_password(
        svc,
        account,
        current_password,
        session_id=principal.session_id,
        path="currentPassword",
        code="invalid_current_password",
    )
    clean = clean_password(
        new_password, identifiers=account.identifiers, common=svc.policy.common_passwords, path="newPassword"
    )
    password_hash = await svc.hasher.hash(clean)
    now = svc.clock.now()
    async with svc.uow() as tx:
        await tx.accounts.set_password(account.id, password_hash)
        live = await tx.sessions.live_for_account(account.id, now)
        others = [s.id for s in live if s.id != principal.session_id]
        await revoke_sessions(svc, tx, account.id, others, "password_changed", now)
        await tx.outbox.add(PasswordChanged(user_id=account.id, via="change"))
