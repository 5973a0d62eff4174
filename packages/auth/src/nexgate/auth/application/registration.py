"""Registration by phone or email, verified with a one-time code."""

from __future__ import annotations

import uuid

from nexgate.auth.application.common import (
    check_code,
    issue_challenge,
    limit_code_send,
    otp_message,
    start_session,
)
from nexgate.auth.application.services import AuthServices, ChallengeView, SignedIn
from nexgate.auth.domain.accounts import (
    Account,
    AccountStatus,
    Channel,
    Identifier,
    clean_display_name,
    clean_password,
    normalize_email,
    normalize_phone_number,
)
from nexgate.auth.domain.challenges import (
    CODE_TTL,
    MAX_ATTEMPTS,
    Purpose,
    challenge_expired,
    challenge_not_found,
)
from nexgate.auth.domain.sessions import Device
from nexgate.contracts.auth import RegistrationAttemptedForExistingAccount, UserRegistered
from nexgate.kernel.errors import FieldProblem, RateLimited, ValidationFailed
from nexgate.kernel.ids import new_id


def registration_identifier(svc: AuthServices, email: str | None, phone: str | None) -> Identifier:
    if (email is None) == (phone is None):
        raise ValidationFailed(
            "Register with exactly one of an email or a phone number.",
            errors=[
                FieldProblem("phone" if email is None else "email", "give exactly one of email or phone")
            ],
        )
    if email is not None:
        return Identifier(Channel.EMAIL, normalize_email(email))
    assert phone is not None
    return Identifier(
        Channel.PHONE,
        normalize_phone_number(
            phone, default_region=svc.policy.default_region, allowed_regions=svc.policy.allowed_regions
        ),
    )


async def register(
    svc: AuthServices,
    *,
    email: str | None,
    phone: str | None,
    password: str,
    display_name: str,
    username: str | None,
    locale: str | None,
    ip: str,
) -> ChallengeView:
    """Start a registration. The answer is the same whether or not the identifier is taken.

    - free identifier: a pending account and a code sent to it;
    - pending account on it: that account is replaced (its owner never verified), new code;
    - verified owner: a decoy challenge that never succeeds, and a notice to the owner.
    """
    await svc.limit("register.ip", ip, svc.policy.limits.registrations_per_ip)
    ident = registration_identifier(svc, email, phone)
    name = clean_display_name(display_name)
    clean = clean_password(password, identifiers=[ident.value], common=svc.policy.common_passwords)
    await limit_code_send(svc, ident.value, ip)
    password_hash = await svc.hasher.hash(clean)
    now = svc.clock.now()
    account = Account(
        id=new_id(),
        status=AccountStatus.PENDING,
        display_name=name,
        locale=(locale or svc.policy.default_locale)[:16],
        created_at=now,
        email=ident.value if ident.channel is Channel.EMAIL else None,
        phone=ident.value if ident.channel is Channel.PHONE else None,
        password_hash=password_hash,
        requested_username=username,
    )
    for _ in range(3):  # a concurrent registration of the same identifier may win the insert
        async with svc.uow() as tx:
            existing = await tx.accounts.find(ident.channel, ident.value, for_update=True)
            if existing is None:
                if not await tx.accounts.add_if_free(account):
                    continue
                owner, decoy = account, False
            elif existing.status is AccountStatus.PENDING:
                account.id = existing.id
                await tx.accounts.replace_pending(account)
                owner, decoy = account, False
            else:
                owner, decoy = existing, True
                await tx.outbox.add(
                    RegistrationAttemptedForExistingAccount(
                        user_id=existing.id,
                        channel=ident.channel.value,
                        destination=ident.value,
                        locale=existing.locale,
                    )
                )
            return await issue_challenge(
                svc,
                tx,
                purpose=Purpose.REGISTRATION,
                channel=ident.channel,
                destination=ident.value,
                account_id=owner.id,
                locale=owner.locale,
                decoy=decoy,
                now=now,
            )
    raise RuntimeError("registration kept racing with another one")  # pragma: no cover


async def verify_registration(
    svc: AuthServices, *, challenge_id: uuid.UUID, code: str, device: Device, ip: str
) -> SignedIn:
    """The right code activates the account and signs the device in, with ``auth.user_registered.v1``."""
    challenge = await check_code(
        svc, challenge_id=challenge_id, purpose=Purpose.REGISTRATION, code=code, ip=ip
    )
    assert challenge.account_id is not None
    now = svc.clock.now()
    async with svc.uow() as tx:
        if not await tx.challenges.consume(challenge.id, MAX_ATTEMPTS, now):
            raise challenge_expired()
        if not await tx.accounts.activate(challenge.account_id, challenge.channel, now):
            raise challenge_expired()
        account = await tx.accounts.get(challenge.account_id)
        assert account is not None
        signed_in = await start_session(svc, tx, account, device, now)
        await tx.outbox.add(
            UserRegistered(
                user_id=account.id,
                display_name=account.display_name,
                requested_username=account.requested_username,
                locale=account.locale,
                email=account.email,
                phone=account.phone,
                email_verified=account.email_verified,
                phone_verified=account.phone_verified,
                registered_via=challenge.channel.value,
                registered_at=now,
            )
        )
    return signed_in


async def resend(svc: AuthServices, *, challenge_id: uuid.UUID, ip: str) -> ChallengeView:
    """A new code for an open challenge: 60 s apart, at most 5 sends per destination per hour."""
    now = svc.clock.now()
    async with svc.uow() as tx:
        challenge = await tx.challenges.get(challenge_id)
    if challenge is None:
        raise challenge_not_found()
    if (
        challenge.consumed_at is not None
        or challenge.superseded_at is not None
        or now >= challenge.expires_at
    ):
        raise challenge_expired()
    wait = int((challenge.resend_available_at - now).total_seconds())
    if wait > 0:
        raise RateLimited("Wait before asking for another code.", retry_after=wait)
    await limit_code_send(svc, challenge.destination, ip)
    code = svc.codes.new_code()
    digest = svc.codes.decoy_digest() if challenge.decoy else svc.codes.digest(challenge.id, code)
    async with svc.uow() as tx:
        if not await tx.challenges.renew_code(challenge.id, digest, now, now + CODE_TTL):
            raise RateLimited("Wait before asking for another code.", retry_after=60)
        challenge.last_sent_at, challenge.expires_at, challenge.attempts = now, now + CODE_TTL, 0
        if not challenge.decoy and challenge.account_id is not None:
            account = await tx.accounts.get(challenge.account_id)
            locale = account.locale if account else svc.policy.default_locale
            await tx.outbox.add(otp_message(svc, challenge, code, challenge.account_id, locale))
    return ChallengeView.of(challenge)
