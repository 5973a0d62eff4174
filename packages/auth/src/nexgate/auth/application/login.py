"""Password login, token refresh, and the caller's own device sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from nexgate.auth.application.common import (
    announce_lock,
    invalid_credentials,
    issue_challenge,
    limit_code_send,
    revoke_sessions,
    start_session,
    tokens_for,
)
from nexgate.auth.application.services import AuthServices, SignedIn, Tokens, hashed
from nexgate.auth.domain.accounts import Account, AccountStatus, Channel, parse_identifier
from nexgate.auth.domain.challenges import Purpose, too_many_attempts
from nexgate.auth.domain.sessions import REFRESH_GRACE, Device, RefreshToken, Session
from nexgate.auth.ports import AuthTx
from nexgate.contracts.auth import UserReactivated
from nexgate.kernel.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.security.principal import Principal


async def login(
    svc: AuthServices,
    *,
    identifier: str,
    password: str,
    device: Device,
    reactivate: bool = False,
    cancel_deletion: bool = False,
    ip: str,
) -> SignedIn:
    """401 ``invalid_credentials`` for any wrong pair; the account's state only after a right password."""
    await svc.limit("login.ip", ip, svc.policy.limits.login_per_ip)
    try:
        ident = parse_identifier(
            identifier, default_region=svc.policy.default_region, allowed_regions=svc.policy.allowed_regions
        )
    except ValidationFailed:
        await svc.hasher.dummy_verify(password)
        raise invalid_credentials() from None
    lock_key = hashed(ident.value)
    locked_s = await svc.lockout.locked_for(lock_key)
    if locked_s:
        raise too_many_attempts(locked_s)
    async with svc.uow() as tx:
        account = await tx.accounts.find(ident.channel, ident.value)
    if account is not None and account.password_hash:
        correct = await svc.hasher.verify(account.password_hash, password)
    else:
        await svc.hasher.dummy_verify(password)
        correct = False
    if account is None or not correct:
        lock_s = await svc.lockout.failed(lock_key)
        if lock_s and account is not None:
            await announce_lock(svc, account.id, lock_s)
        raise invalid_credentials()
    await svc.lockout.clear(lock_key)
    assert account.password_hash is not None
    if svc.hasher.needs_rehash(account.password_hash):
        new_hash = await svc.hasher.hash(password)
        async with svc.uow() as tx:
            await tx.accounts.set_password(account.id, new_hash)
    return await sign_in_by_state(
        svc, account, device, reactivate=reactivate, cancel_deletion=cancel_deletion, ip=ip
    )


async def sign_in_by_state(
    svc: AuthServices, account: Account, device: Device, *, reactivate: bool, cancel_deletion: bool, ip: str
) -> SignedIn:
    now = svc.clock.now()
    if account.status is AccountStatus.PENDING:
        ch = Channel.PHONE if account.phone else Channel.EMAIL
        destination = account.identifier(ch)
        assert destination is not None
        await limit_code_send(svc, destination, ip)
        async with svc.uow() as tx:
            view = await issue_challenge(
                svc,
                tx,
                purpose=Purpose.REGISTRATION,
                channel=ch,
                destination=destination,
                account_id=account.id,
                locale=account.locale,
                decoy=False,
                now=now,
            )
        raise Forbidden(
            "Verify your account with the code we sent.",
            code="verification_required",
            extra={
                "challengeId": str(view.challenge_id),
                "channel": view.channel,
                "destinationMasked": view.destination_masked,
                "expiresAt": view.expires_at.isoformat(),
            },
        )
    if account.status is AccountStatus.SUSPENDED:
        raise Forbidden("This account is suspended.", code="account_suspended")
    if account.status is AccountStatus.DEACTIVATED and not reactivate:
        raise Conflict(
            "This account is deactivated; sign in with reactivate to restore it.", code="account_deactivated"
        )
    if account.status is AccountStatus.DELETION_SCHEDULED and not cancel_deletion:
        raise Conflict(
            "This account is scheduled for deletion; sign in with cancelDeletion to keep it.",
            code="account_deletion_scheduled",
        )
    async with svc.uow() as tx:
        if account.status is AccountStatus.DEACTIVATED:
            await tx.outbox.add(UserReactivated(user_id=account.id))
        if account.status is not AccountStatus.ACTIVE:
            await tx.accounts.set_status(account.id, AccountStatus.ACTIVE)
            account.status = AccountStatus.ACTIVE
        return await start_session(svc, tx, account, device, now, alert_new_device=True)


async def refresh(svc: AuthServices, *, refresh_token: str, device_id: str | None) -> Tokens:
    """Rotate a refresh token: exactly once under concurrency, a 30 s grace retry, reuse revokes."""
    now = svc.clock.now()
    digest = svc.refresh.digest(refresh_token)
    failure: NotAuthenticated | None = None
    async with svc.uow() as tx:
        # The session row lock serialises refreshes, logouts and revocations of one session.
        session = await tx.sessions.lock_for_refresh(digest)
        if session is None:
            raise NotAuthenticated("Unknown refresh token.", code="invalid_refresh_token")
        if not session.is_live(now):
            raise NotAuthenticated("The session has been signed out.", code="session_revoked")
        await svc.limit("refresh.session", str(session.id), svc.policy.limits.refresh_per_session)
        # Read under the lock: a concurrent refresh may have rotated it since.
        token = await tx.refresh_tokens.by_hash(digest)
        account = await tx.accounts.get(session.account_id)
        assert token is not None  # tokens go only with their (now locked) session
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise NotAuthenticated("The session has been signed out.", code="session_revoked")
        if device_id is None or svc.refresh.device_hash(account.id, device_id) != session.device_hash:
            await revoke_sessions(svc, tx, account.id, [session.id], "device_mismatch", now)
            failure = NotAuthenticated(
                "This refresh token belongs to another device.", code="device_mismatch"
            )
        elif token.rotated_at is None:
            successor = svc.refresh.successor(refresh_token)
            new = RefreshToken(
                id=new_id(), session_id=session.id, token_hash=svc.refresh.digest(successor), created_at=now
            )
            await tx.refresh_tokens.rotate(token.id, new, now)
            await tx.sessions.touch(session.id, now, session.touched(now))
            return tokens_for(svc, account, session.id, successor)
        else:
            next_token = await tx.refresh_tokens.get(token.successor_id) if token.successor_id else None
            if (
                next_token is not None
                and next_token.rotated_at is None
                and now - token.rotated_at <= REFRESH_GRACE
            ):
                return tokens_for(svc, account, session.id, svc.refresh.successor(refresh_token))
            await revoke_sessions(svc, tx, account.id, [session.id], "refresh_token_reused", now)
            failure = NotAuthenticated(
                "This refresh token was already used; the session is signed out.", code="refresh_token_reused"
            )
    raise failure


async def logout(svc: AuthServices, *, principal: Principal) -> None:
    async with svc.uow() as tx:
        await revoke_sessions(svc, tx, principal.user_id, [principal.session_id], "logout", svc.clock.now())


async def list_sessions(
    svc: AuthServices, *, principal: Principal, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> Sequence[Session]:
    async with svc.uow() as tx:
        return await tx.sessions.live_for_account(
            principal.user_id, svc.clock.now(), after=after, limit=limit
        )


async def _own_live_session(
    svc: AuthServices, tx: AuthTx, principal: Principal, session_id: uuid.UUID
) -> Session:
    session = await tx.sessions.get(session_id, for_update=True)
    # Another account's session answers exactly like a missing one.
    if session is None or session.account_id != principal.user_id or not session.is_live(svc.clock.now()):
        raise NotFound("No such session.", code="session_not_found")
    return session


async def rename_session(
    svc: AuthServices, *, principal: Principal, session_id: uuid.UUID, name: str
) -> Session:
    clean = " ".join(name.split())[:80]
    if not clean:
        raise ValidationFailed("A session name needs 1 to 80 characters.", code="validation_failed")
    async with svc.uow() as tx:
        session = await _own_live_session(svc, tx, principal, session_id)
        await tx.sessions.rename(session.id, clean)
        session.name = clean
        return session


async def delete_session(svc: AuthServices, *, principal: Principal, session_id: uuid.UUID) -> None:
    async with svc.uow() as tx:
        session = await _own_live_session(svc, tx, principal, session_id)
        await revoke_sessions(
            svc, tx, principal.user_id, [session.id], "signed_out_remotely", svc.clock.now()
        )


async def revoke_others(svc: AuthServices, *, principal: Principal) -> int:
    now = svc.clock.now()
    async with svc.uow() as tx:
        live = await tx.sessions.live_for_account(principal.user_id, now)
        others = [s.id for s in live if s.id != principal.session_id]
        return len(await revoke_sessions(svc, tx, principal.user_id, others, "signed_out_remotely", now))


async def me(svc: AuthServices, *, principal: Principal) -> Account:
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id)
    if account is None or account.status is AccountStatus.DELETED:
        raise NotFound("No such account.", code="account_not_found")
    return account
