"""Sign-in with an OpenID provider (Google and Apple style) and the account's linked identities.

Outcomes of a sign-in: the identity is linked (200), no account matches (201, a new account
without a password), or the provider's verified email belongs to an account (409
``account_link_required``): accounts are never merged silently. Apple relay addresses never
match by email.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from nexgate.auth.application.common import start_session
from nexgate.auth.application.lifecycle import require_recent_authentication
from nexgate.auth.application.login import sign_in_by_state
from nexgate.auth.application.services import AuthServices, SignedIn
from nexgate.auth.domain.accounts import Account, AccountStatus, Channel, clean_display_name, mask
from nexgate.auth.domain.identities import (
    Identity,
    InvalidIdToken,
    PendingLink,
    ProviderIdentity,
    identity_already_linked,
    identity_not_found,
    last_sign_in_method,
    provider_not_found,
)
from nexgate.auth.domain.sessions import Device
from nexgate.auth.ports import IdentityProviders, LinkTokens
from nexgate.contracts.auth import UserRegistered
from nexgate.kernel.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.security.principal import Principal


class _Raced(Exception):
    """Another sign-in of the same subject won the insert: roll back and look again."""


def _providers(svc: AuthServices, provider: str) -> IdentityProviders:
    if svc.providers is None or not svc.providers.knows(provider):
        raise provider_not_found()
    return svc.providers


def _links(svc: AuthServices) -> LinkTokens:
    assert svc.link_tokens is not None, "link tokens are wired with the providers"
    return svc.link_tokens


async def issue_nonce(svc: AuthServices, *, provider: str, ip: str) -> str:
    providers = _providers(svc, provider)
    await svc.limit("oidc_nonce.ip", ip, svc.policy.limits.login_per_ip)
    return await providers.issue_nonce(provider)


@dataclass(frozen=True)
class ProviderProof:
    """What a client sends to prove a provider identity: an ID token, or a code with its PKCE verifier."""

    provider: str
    nonce: str
    id_token: str | None = None
    code: str | None = None
    code_verifier: str | None = None
    redirect_uri: str | None = None


async def verified_identity(svc: AuthServices, proof: ProviderProof) -> ProviderIdentity:
    """The provider identity an ID token (or an authorization code, with PKCE) proves.

    The server nonce is used up first, so a replayed token fails even if the rest checks out.
    """
    providers = _providers(svc, proof.provider)
    code_parts = (proof.code, proof.code_verifier, proof.redirect_uri)
    by_code = any(p is not None for p in code_parts)
    if (proof.id_token is not None) == by_code or not (proof.id_token is not None or all(code_parts)):
        raise ValidationFailed(
            "Send either idToken, or code with codeVerifier and redirectUri.",
            errors=[FieldProblem("idToken", "give idToken or code, codeVerifier and redirectUri")],
        )
    if not await providers.consume_nonce(proof.provider, proof.nonce):
        raise InvalidIdToken("nonce_unknown")
    id_token = proof.id_token
    if id_token is None:
        assert proof.code is not None
        assert proof.code_verifier is not None
        assert proof.redirect_uri is not None
        id_token = await providers.exchange_code(
            proof.provider, proof.code, proof.code_verifier, proof.redirect_uri
        )
    return await providers.verify(proof.provider, id_token, proof.nonce)


def _display_name(identity: ProviderIdentity, given: str | None, family: str | None) -> str:
    parts = " ".join(p.strip() for p in (given, family) if p and p.strip())
    local = identity.email.split("@", 1)[0] if identity.email and not identity.private_relay else None
    return clean_display_name((parts or identity.name or local or "Nexgate user")[:80])


async def sign_in_with_provider(
    svc: AuthServices,
    *,
    proof: ProviderProof,
    device: Device,
    given_name: str | None,
    family_name: str | None,
    reactivate: bool,
    cancel_deletion: bool,
    ip: str,
) -> tuple[SignedIn, bool]:
    """`sign_in` with the identity a proof gives; the address's budget is spent before verifying,
    so a flood of bad tokens (each a JWKS lookup, maybe a code exchange) is limited too."""
    await svc.limit("login.ip", ip, svc.policy.limits.login_per_ip)
    identity = await verified_identity(svc, proof)
    return await sign_in(
        svc,
        identity=identity,
        device=device,
        given_name=given_name,
        family_name=family_name,
        reactivate=reactivate,
        cancel_deletion=cancel_deletion,
        ip=ip,
    )


async def sign_in(
    svc: AuthServices,
    *,
    identity: ProviderIdentity,
    device: Device,
    given_name: str | None,
    family_name: str | None,
    reactivate: bool,
    cancel_deletion: bool,
    ip: str,
) -> tuple[SignedIn, bool]:
    """Sign in with a verified provider identity; (signed in, whether the account is new)."""
    for _ in range(3):
        now = svc.clock.now()
        try:
            async with svc.uow() as tx:
                # The email first, the subject second: each statement sees what is committed when
                # it starts, so a racing first sign-in of this subject that created the email's
                # account is seen through its identity (committed with the account).
                holder = (
                    await tx.accounts.find(Channel.EMAIL, identity.email)
                    if identity.email and not identity.private_relay
                    else None
                )
                linked = await tx.identities.by_subject(identity.provider, identity.subject)
                if linked is not None:
                    await tx.identities.touch(linked.id, now)
                    account = await tx.accounts.get(linked.account_id)
                    assert account is not None
                    break
                if holder is not None and holder.status is AccountStatus.PENDING:
                    # An unverified sign-up never blocks the address's verified owner.
                    await tx.accounts.remove_pending(holder.id)
                elif holder is not None:
                    account = holder
                    break
                account = Account(
                    id=new_id(),
                    status=AccountStatus.ACTIVE,
                    display_name=_display_name(identity, given_name, family_name),
                    locale=svc.policy.default_locale,
                    created_at=now,
                    email=identity.email,
                    email_verified=identity.email is not None,
                )
                if not await tx.accounts.add_if_free(account):
                    if not identity.private_relay:
                        raise _Raced  # someone registered this email meanwhile: it now matches
                    # A relay address somebody registered by hand: the new account goes without it.
                    account.email, account.email_verified = None, False
                    if not await tx.accounts.add_if_free(account):
                        raise _Raced
                if not await tx.identities.add(
                    Identity(
                        id=new_id(),
                        account_id=account.id,
                        provider=identity.provider,
                        subject=identity.subject,
                        email=identity.email,
                        created_at=now,
                        last_used_at=now,
                    )
                ):
                    raise _Raced
                signed = await start_session(svc, tx, account, device, now)
                await tx.outbox.add(
                    UserRegistered(
                        user_id=account.id,
                        display_name=account.display_name,
                        locale=account.locale,
                        email=account.email,
                        email_verified=account.email_verified,
                        phone_verified=False,
                        registered_via=identity.provider,
                        registered_at=now,
                    )
                )
                return signed, True
        except _Raced:
            continue
    else:  # pragma: no cover - three lost races in a row
        raise Conflict("Another sign-in is in progress; try again.", code="sign_in_conflict")
    if linked is None:
        assert identity.email is not None
        token = await _links(svc).issue(
            PendingLink(
                account_id=account.id,
                provider=identity.provider,
                subject=identity.subject,
                email=identity.email,
            )
        )
        raise Conflict(
            "An account already uses this email: sign in to it and link this identity.",
            code="account_link_required",
            extra={"linkToken": token, "emailMasked": mask(Channel.EMAIL, identity.email)},
        )
    signed = await sign_in_by_state(
        svc, account, device, reactivate=reactivate, cancel_deletion=cancel_deletion, ip=ip
    )
    return signed, False


async def list_identities(svc: AuthServices, *, account_id: uuid.UUID) -> list[Identity]:
    async with svc.uow() as tx:
        return await tx.identities.for_account(account_id)


async def _link(svc: AuthServices, principal: Principal, link: PendingLink) -> tuple[Identity, bool]:
    now = svc.clock.now()
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id, for_update=True)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise NotFound("No such account.", code="account_not_found")
        existing = await tx.identities.by_subject(link.provider, link.subject)
        if existing is not None:
            if existing.account_id != account.id:
                raise identity_already_linked()
            return existing, False
        identity = Identity(
            id=new_id(),
            account_id=account.id,
            provider=link.provider,
            subject=link.subject,
            email=link.email,
            created_at=now,
            last_used_at=now,
        )
        if not await tx.identities.add(identity):
            raise identity_already_linked()
        await tx.audit.record(
            actor_id=account.id,
            action="identity_linked",
            target_id=account.id,
            details={"provider": link.provider, "identityId": str(identity.id)},
            now=now,
        )
        return identity, True


async def link_identity(
    svc: AuthServices, *, principal: Principal, proof: ProviderProof
) -> tuple[Identity, bool]:
    """Link a provider identity to the caller; (identity, whether it is new).

    Reauthentication is checked before the token, so a refused call does not use the nonce up.
    """
    await require_recent_authentication(svc, principal)
    identity = await verified_identity(svc, proof)
    return await _link(
        svc,
        principal,
        PendingLink(principal.user_id, identity.provider, identity.subject, identity.email),
    )


async def reauthenticate_with_provider(
    svc: AuthServices, *, principal: Principal, proof: ProviderProof
) -> None:
    """Recent authentication by a fresh token of a provider identity already linked to the caller.

    The way back in for accounts with neither a password nor a verified address (a provider
    sign-in without email): without it they could never delete, deactivate, link or unlink.
    """
    await svc.limit("reauth.session", str(principal.session_id), svc.policy.limits.reauth_per_session)
    identity = await verified_identity(svc, proof)
    async with svc.uow() as tx:
        account = await tx.accounts.get(principal.user_id)
        linked = await tx.identities.by_subject(identity.provider, identity.subject)
    if account is None or account.status is not AccountStatus.ACTIVE:
        raise NotFound("No such account.", code="account_not_found")
    if linked is None or linked.account_id != account.id:
        raise Forbidden("This provider identity is not linked to your account.", code="identity_not_linked")
    await svc.reauth.mark(principal.session_id)


async def link_with_token(svc: AuthServices, *, principal: Principal, link_token: str) -> Identity:
    """Finish an ``account_link_required`` sign-in: the owner, signed in, links the identity."""
    await require_recent_authentication(svc, principal)
    links = _links(svc)
    link = await links.peek(link_token)
    # Another account's link token answers exactly like a missing one.
    if link is None or link.account_id != principal.user_id or not await links.take(link_token):
        raise NotFound("No such link token; sign in with the provider again.", code="link_token_not_found")
    identity, _ = await _link(svc, principal, link)
    return identity


async def unlink(svc: AuthServices, *, principal: Principal, identity_id: uuid.UUID) -> None:
    """Unlink one identity, unless it is the last way in (no password and no other identity)."""
    await require_recent_authentication(svc, principal)
    now = svc.clock.now()
    async with svc.uow() as tx:
        # The account row lock serialises two unlinks racing for the last identities.
        account = await tx.accounts.get(principal.user_id, for_update=True)
        identity = await tx.identities.get(identity_id)
        if account is None or identity is None or identity.account_id != account.id:
            raise identity_not_found()
        others = [i for i in await tx.identities.for_account(account.id) if i.id != identity.id]
        if account.password_hash is None and not others:
            raise last_sign_in_method()
        await tx.identities.remove(identity.id)
        await tx.audit.record(
            actor_id=account.id,
            action="identity_unlinked",
            target_id=account.id,
            details={"provider": identity.provider, "identityId": str(identity.id)},
            now=now,
        )
