"""Steps shared by the use cases: issuing and checking codes, starting and ending sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from nexgate.auth.application.services import AuthServices, ChallengeView, SignedIn, Tokens
from nexgate.auth.domain.accounts import Account, Channel
from nexgate.auth.domain.challenges import (
    CODE_TTL,
    MAX_ATTEMPTS,
    Challenge,
    Purpose,
    challenge_not_found,
    invalid_code,
    too_many_attempts,
)
from nexgate.auth.domain.sessions import (
    MAX_LIVE_SESSIONS,
    NEW_DEVICE_AFTER,
    PENDING_ACCOUNT_TTL,
    Device,
    RefreshToken,
    Session,
    mask_ip,
)
from nexgate.auth.ports import AuthTx
from nexgate.contracts.auth import LoginLocked, NewDeviceSignedIn, OtpRequested, SessionRevoked
from nexgate.kernel.errors import NotAuthenticated
from nexgate.kernel.ids import new_id


def invalid_credentials() -> NotAuthenticated:
    return NotAuthenticated("The identifier or password is not right.", code="invalid_credentials")


async def limit_code_send(svc: AuthServices, destination: str, ip: str) -> None:
    await svc.limit("code_send.destination", destination, svc.policy.limits.code_sends_per_destination)
    await svc.limit("code_send.ip", ip, svc.policy.limits.code_sends_per_ip)


async def issue_challenge(
    svc: AuthServices,
    tx: AuthTx,
    *,
    purpose: Purpose,
    channel: Channel,
    destination: str,
    account_id: uuid.UUID | None,
    locale: str,
    decoy: bool,
    now: datetime,
) -> ChallengeView:
    """A new challenge (superseding open ones for the destination) and, unless a decoy, its OTP message."""
    challenge_id = new_id()
    code = svc.codes.new_code()
    challenge = Challenge(
        id=challenge_id,
        purpose=purpose,
        channel=channel,
        destination=destination,
        code_hash=svc.codes.decoy_digest() if decoy else svc.codes.digest(challenge_id, code),
        created_at=now,
        expires_at=now + CODE_TTL,
        last_sent_at=now,
        account_id=account_id,
        decoy=decoy,
    )
    await tx.challenges.supersede(channel, destination, purpose, now)
    await tx.challenges.add(challenge)
    if not decoy and account_id is not None:
        await tx.outbox.add(otp_message(svc, challenge, code, account_id, locale))
    return ChallengeView.of(challenge)


def otp_message(
    svc: AuthServices, challenge: Challenge, code: str, account_id: uuid.UUID, locale: str
) -> OtpRequested:
    key_id, ciphertext = svc.cipher.encrypt(code, challenge.id)
    return OtpRequested(
        user_id=account_id,
        challenge_id=challenge.id,
        purpose=challenge.purpose.value,
        channel=challenge.channel.value,
        destination=challenge.destination,
        locale=locale,
        code_ciphertext=ciphertext,
        key_id=key_id,
        expires_at=challenge.expires_at,
    )


async def check_code(
    svc: AuthServices, *, challenge_id: uuid.UUID, purpose: Purpose, code: str, ip: str
) -> Challenge:
    """The challenge if ``code`` answers it; a wrong code is counted (and committed) atomically.

    The caller consumes the challenge in its own transaction (`AuthTx.challenges.consume`),
    so two correct answers racing each other succeed once.
    """
    await svc.limit("code_check.ip", ip, svc.policy.limits.code_checks_per_ip)
    now = svc.clock.now()
    async with svc.uow() as tx:
        challenge = await tx.challenges.get(challenge_id)
    if challenge is None:
        raise challenge_not_found()
    challenge.ensure_usable(purpose, now)
    if not challenge.decoy and svc.codes.matches(challenge.id, code, challenge.code_hash):
        return challenge
    async with svc.uow() as tx:
        attempts = await tx.challenges.count_failed_attempt(challenge.id, MAX_ATTEMPTS, now)
    if attempts is None:
        raise too_many_attempts()
    raise invalid_code(MAX_ATTEMPTS - attempts)


async def start_session(
    svc: AuthServices,
    tx: AuthTx,
    account: Account,
    device: Device,
    now: datetime,
    *,
    alert_new_device: bool = False,
) -> SignedIn:
    """A new device session with its first refresh token; the oldest sessions beyond the cap end.

    With ``alert_new_device`` (sign-ins, not the sign-up itself) a device the account has not
    used for 90 days publishes ``auth.new_device_signed_in.v1``.
    """
    device_hash = svc.refresh.device_hash(account.id, device.device_id)
    unseen = alert_new_device and not await tx.sessions.device_seen_since(
        account.id, device_hash, now - NEW_DEVICE_AFTER
    )
    live = await tx.sessions.live_for_account(account.id, now)
    if len(live) >= MAX_LIVE_SESSIONS:
        oldest = sorted(live, key=lambda s: s.last_used_at)[: len(live) - MAX_LIVE_SESSIONS + 1]
        await revoke_sessions(svc, tx, account.id, [s.id for s in oldest], "session_limit", now)
    session = Session.start(
        id=new_id(),
        account_id=account.id,
        device=device,
        device_hash=device_hash,
        now=now,
    )
    await tx.sessions.add(session)
    if unseen:
        await tx.outbox.add(
            NewDeviceSignedIn(
                user_id=account.id,
                session_id=session.id,
                device_name=device.name or device.model,
                platform=device.platform,
                ip_masked=mask_ip(device.ip),
            )
        )
    raw = svc.refresh.new_token()
    await tx.refresh_tokens.add(
        RefreshToken(id=new_id(), session_id=session.id, token_hash=svc.refresh.digest(raw), created_at=now)
    )
    return SignedIn(account=account, session=session, tokens=tokens_for(svc, account, session.id, raw))


def tokens_for(svc: AuthServices, account: Account, session_id: uuid.UUID, refresh_token: str) -> Tokens:
    return Tokens(
        access_token=svc.tokens.issue(account.id, session_id, account.roles),
        refresh_token=refresh_token,
        expires_in=svc.tokens.ttl_s,
    )


async def revoke_sessions(
    svc: AuthServices,
    tx: AuthTx,
    account_id: uuid.UUID,
    session_ids: Sequence[uuid.UUID],
    reason: str,
    now: datetime,
) -> list[uuid.UUID]:
    """End sessions: in the database, in the denylist, and announced (``auth.session_revoked.v1``).

    The denylist entry is written before the commit: denying a session a moment early is
    harmless, letting a revoked one through is not.
    """
    revoked = await tx.sessions.revoke(session_ids, reason, now)
    for session_id in revoked:
        await svc.revoker.revoke(session_id)
    await tx.outbox.add(*(SessionRevoked(user_id=account_id, session_id=s, reason=reason) for s in revoked))
    return revoked


async def sweep_pending_accounts(svc: AuthServices) -> int:
    """Registrations never verified within 24 hours go (their identifiers become free)."""
    async with svc.uow() as tx:
        return await tx.accounts.delete_stale_pending(svc.clock.now() - PENDING_ACCOUNT_TTL)


async def announce_lock(svc: AuthServices, user_id: uuid.UUID, lock_s: int) -> None:
    """A password lock began on a real account: tell its owner (``auth.login_locked.v1``)."""
    async with svc.uow() as tx:
        await tx.outbox.add(
            LoginLocked(user_id=user_id, locked_until=svc.clock.now() + timedelta(seconds=lock_s))
        )
