"""Changing the account's email or phone: a code to the new address, a notice to the old one."""

from __future__ import annotations

import uuid

from nexgate.auth.application.common import check_code, issue_challenge, limit_code_send
from nexgate.auth.application.lifecycle import require_recent_authentication
from nexgate.auth.application.services import AuthServices, ChallengeView
from nexgate.auth.domain.accounts import (
    Account,
    AccountStatus,
    Channel,
    mask,
    normalize_email,
    normalize_phone_number,
)
from nexgate.auth.domain.challenges import MAX_ATTEMPTS, Purpose, challenge_expired, challenge_not_found
from nexgate.contracts.auth import IdentifierChanged, IdentifierVerified
from nexgate.kernel.errors import Conflict, NotFound
from nexgate.kernel.security.principal import Principal

_PURPOSE = {Channel.EMAIL: Purpose.CHANGE_EMAIL, Channel.PHONE: Purpose.CHANGE_PHONE}
_VERIFY = {Channel.EMAIL: Purpose.VERIFY_EMAIL, Channel.PHONE: Purpose.VERIFY_PHONE}


def _normalise(svc: AuthServices, channel: Channel, raw: str) -> str:
    if channel is Channel.EMAIL:
        return normalize_email(raw)
    return normalize_phone_number(
        raw, default_region=svc.policy.default_region, allowed_regions=svc.policy.allowed_regions
    )


async def request_change(
    svc: AuthServices, *, principal: Principal, channel: Channel, new_value: str, ip: str
) -> ChallengeView:
    """A code to the new address. An address another account holds gets a decoy (no enumeration)."""
    await require_recent_authentication(svc, principal)
    value = _normalise(svc, channel, new_value)
    await limit_code_send(svc, value, ip)
    now = svc.clock.now()
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise NotFound("No such account.", code="account_not_found")
        if account.identifier(channel) == value:
            raise Conflict("That is already your address.", code="identifier_unchanged")
        holder = await tx.accounts.find(channel, value)
        return await issue_challenge(
            svc,
            tx,
            purpose=_PURPOSE[channel],
            channel=channel,
            destination=value,
            account_id=account.id,
            locale=account.locale,
            decoy=holder is not None,
            now=now,
        )


async def confirm_change(
    svc: AuthServices, *, principal: Principal, channel: Channel, challenge_id: uuid.UUID, code: str, ip: str
) -> Account:
    async with svc.uow() as tx:
        found = await tx.challenges.get(challenge_id)
    # Another account's challenge answers exactly like a missing one.
    if found is None or found.account_id != principal.user_id:
        raise challenge_not_found()
    challenge = await check_code(svc, challenge_id=challenge_id, purpose=_PURPOSE[channel], code=code, ip=ip)
    now = svc.clock.now()
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id, for_update=True)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise NotFound("No such account.", code="account_not_found")
        if not await tx.challenges.consume(challenge.id, MAX_ATTEMPTS, now):
            raise challenge_expired()
        previous = account.identifier(channel)
        if not await tx.accounts.set_identifier(account.id, channel, challenge.destination):
            raise Conflict("Another account took this address meanwhile.", code="identifier_taken")
        await tx.outbox.add(
            IdentifierChanged(
                user_id=account.id,
                kind=channel.value,
                new_value=challenge.destination,
                previous_value_masked=mask(channel, previous) if previous else None,
                previous_value=previous,
                verified=True,
            )
        )
        updated = await tx.accounts.get(account.id)
    assert updated is not None
    return updated


async def request_verification(
    svc: AuthServices, *, principal: Principal, channel: Channel, ip: str
) -> ChallengeView:
    """A code to an identifier the account already has but has not verified."""
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id)
    if account is None or account.status is not AccountStatus.ACTIVE:
        raise NotFound("No such account.", code="account_not_found")
    value = account.identifier(channel)
    if value is None:
        raise Conflict("The account has no such address; add one instead.", code="identifier_missing")
    if account.email_verified if channel is Channel.EMAIL else account.phone_verified:
        raise Conflict("This address is already verified.", code="identifier_already_verified")
    await limit_code_send(svc, value, ip)
    async with svc.uow() as tx:
        return await issue_challenge(
            svc,
            tx,
            purpose=_VERIFY[channel],
            channel=channel,
            destination=value,
            account_id=account.id,
            locale=account.locale,
            decoy=False,
            now=svc.clock.now(),
        )


async def confirm_verification(
    svc: AuthServices, *, principal: Principal, challenge_id: uuid.UUID, code: str, ip: str
) -> Account:
    async with svc.uow() as tx:
        found = await tx.challenges.get(challenge_id)
    if found is None or found.account_id != principal.user_id or found.purpose not in _VERIFY.values():
        raise challenge_not_found()
    challenge = await check_code(svc, challenge_id=challenge_id, purpose=found.purpose, code=code, ip=ip)
    now = svc.clock.now()
    async with svc.uow() as tx:
        if not await tx.challenges.consume(challenge.id, MAX_ATTEMPTS, now):
            raise challenge_expired()
        # The address may have changed since the code was sent: then the code proves nothing.
        if not await tx.accounts.mark_verified(principal.user_id, challenge.channel, challenge.destination):
            raise challenge_expired()
        await tx.outbox.add(
            IdentifierVerified(user_id=principal.user_id, kind=challenge.channel.value, verified_at=now)
        )
        account = await tx.accounts.get(principal.user_id)
    assert account is not None
    return account
