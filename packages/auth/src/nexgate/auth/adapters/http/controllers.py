"""Thin controllers: decode, call a use case, encode."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from nexgate.auth.adapters.http.schemas import (
    AccountOut,
    ChallengeOut,
    ChannelIn,
    CodeIn,
    DeletionOut,
    EmailChangeIn,
    IdentityOut,
    LinkIdentityIn,
    LinkTokenIn,
    LoginIn,
    NonceOut,
    OidcSignInIn,
    PasswordChangeIn,
    PasswordResetCompleteIn,
    PasswordResetIn,
    PhoneChangeIn,
    ReauthChallengeIn,
    ReauthIn,
    RefreshIn,
    RegistrationIn,
    RenameIn,
    RevokedOut,
    RolesIn,
    RolesOut,
    SessionOut,
    SignedInOut,
    SuspendIn,
    TokensOut,
    VerifyIn,
)
from nexgate.auth.application import admin, identifiers, lifecycle, login, oidc, passwords, registration
from nexgate.auth.application.services import AuthServices
from nexgate.auth.domain.accounts import Channel
from nexgate.kernel.http.auth import requires_principal, requires_role
from nexgate.kernel.pagination import CursorCodec, Page, validate_limit
from nexgate.kernel.security.principal import Principal

_CURSOR_TYPES = (datetime, uuid.UUID)


class ClientAddress:
    """The caller's IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

    def __init__(self, trusted_proxies: list[str]) -> None:
        self._trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    def of(self, request: Request[Any, Any, Any]) -> str:
        peer = request.client.host if request.client else "unknown"
        if not self._trusted or not self._is_trusted(peer):
            return peer
        hops = [
            h.strip() for h in ",".join(request.headers.getall("x-forwarded-for", [])).split(",") if h.strip()
        ]
        # Walk back from the nearest hop; the first address we do not trust is the client.
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer


class RegistrationController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/registrations", status_code=HTTP_202_ACCEPTED, summary="Register with a phone number or an email")
    async def register(
        self,
        data: JSONBody[RegistrationIn],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> ChallengeOut:
        view = await registration.register(
            auth_services,
            email=data.email,
            phone=data.phone,
            password=data.password,
            display_name=data.display_name,
            username=data.username,
            locale=data.locale,
            ip=client_ip,
        )
        return ChallengeOut.of(view)

    @post("/registrations/{challenge_id:uuid}/verify", summary="Verify a registration with its code")
    async def verify(
        self,
        challenge_id: FromPath[uuid.UUID],
        data: JSONBody[VerifyIn],
        request: Request[Any, Any, Any],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> SignedInOut:
        signed = await registration.verify_registration(
            auth_services,
            challenge_id=challenge_id,
            code=data.code,
            device=data.device.to_device(user_agent=request.headers.get("user-agent"), ip=client_ip),
            ip=client_ip,
        )
        return SignedInOut.of(signed)

    @post("/challenges/{challenge_id:uuid}/resend", status_code=HTTP_202_ACCEPTED, summary="Send a new code")
    async def resend(
        self,
        challenge_id: FromPath[uuid.UUID],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> ChallengeOut:
        return ChallengeOut.of(
            await registration.resend(auth_services, challenge_id=challenge_id, ip=client_ip)
        )


class LoginController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", status_code=HTTP_200_OK, summary="Sign in with an email or phone and a password")
    async def login(
        self,
        data: JSONBody[LoginIn],
        request: Request[Any, Any, Any],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> SignedInOut:
        signed = await login.login(
            auth_services,
            identifier=data.identifier,
            password=data.password,
            device=data.device.to_device(user_agent=request.headers.get("user-agent"), ip=client_ip),
            reactivate=data.reactivate,
            cancel_deletion=data.cancel_deletion,
            ip=client_ip,
        )
        return SignedInOut.of(signed)

    @post("/tokens/refresh", status_code=HTTP_200_OK, summary="Rotate a refresh token (send X-Device-Id)")
    async def refresh(
        self,
        data: JSONBody[RefreshIn],
        request: Request[Any, Any, Any],
        auth_services: NamedDependency[AuthServices],
    ) -> TokensOut:
        tokens = await login.refresh(
            auth_services, refresh_token=data.refresh_token, device_id=request.headers.get("x-device-id")
        )
        return TokensOut.of(tokens)

    @post("/password-resets", status_code=HTTP_202_ACCEPTED, summary="Ask for a password-reset code")
    async def request_reset(
        self,
        data: JSONBody[PasswordResetIn],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> ChallengeOut:
        view = await passwords.request_password_reset(auth_services, identifier=data.identifier, ip=client_ip)
        return ChallengeOut.of(view)

    @post(
        "/password-resets/{challenge_id:uuid}/complete",
        status_code=HTTP_204_NO_CONTENT,
        summary="Set a new password with a reset code (signs every device out)",
    )
    async def complete_reset(
        self,
        challenge_id: FromPath[uuid.UUID],
        data: JSONBody[PasswordResetCompleteIn],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> None:
        await passwords.complete_password_reset(
            auth_services,
            challenge_id=challenge_id,
            code=data.code,
            new_password=data.new_password,
            ip=client_ip,
        )


class MeController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]
    guards = [requires_principal]

    @get("/me", summary="My account: identifiers, verification state, roles and status")
    async def me(
        self, principal: NamedDependency[Principal], auth_services: NamedDependency[AuthServices]
    ) -> AccountOut:
        account = await login.me(auth_services, principal=principal)
        linked = await oidc.list_identities(auth_services, account_id=account.id)
        return AccountOut.of(account, linked)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="Sign this device out")
    async def logout(
        self, principal: NamedDependency[Principal], auth_services: NamedDependency[AuthServices]
    ) -> None:
        await login.logout(auth_services, principal=principal)

    @post(
        "/me/password",
        status_code=HTTP_204_NO_CONTENT,
        summary="Change my password (signs other devices out)",
    )
    async def change_password(
        self,
        data: JSONBody[PasswordChangeIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> None:
        await passwords.change_password(
            auth_services,
            principal=principal,
            current_password=data.current_password,
            new_password=data.new_password,
        )

    @post(
        "/me/reauthenticate",
        status_code=HTTP_204_NO_CONTENT,
        summary="Prove it is me (password, a reauth code, or a linked provider's token): "
        "sensitive changes open for 10 minutes",
    )
    async def reauthenticate(
        self,
        data: JSONBody[ReauthIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> None:
        proof = data.proof()
        if proof is not None:
            await oidc.reauthenticate_with_provider(auth_services, principal=principal, proof=proof)
            return
        await lifecycle.reauthenticate(
            auth_services,
            principal=principal,
            password=data.password,
            challenge_id=data.challenge_id,
            code=data.code,
            ip=client_ip,
        )

    @post(
        "/me/reauthenticate/challenges",
        status_code=HTTP_202_ACCEPTED,
        summary="Send a reauthentication code to my verified phone or email",
    )
    async def reauth_challenge(
        self,
        data: JSONBody[ReauthChallengeIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> ChallengeOut:
        channel = Channel(data.channel) if data.channel else None
        view = await lifecycle.request_reauth_code(
            auth_services, principal=principal, channel=channel, ip=client_ip
        )
        return ChallengeOut.of(view)

    @post(
        "/me/verifications",
        status_code=HTTP_202_ACCEPTED,
        summary="Verify an email or phone my account already has: a code goes to it",
    )
    async def request_verification(
        self,
        data: JSONBody[ChannelIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> ChallengeOut:
        view = await identifiers.request_verification(
            auth_services, principal=principal, channel=Channel(data.channel), ip=client_ip
        )
        return ChallengeOut.of(view)

    @post(
        "/me/verifications/{challenge_id:uuid}/verify",
        status_code=HTTP_200_OK,
        summary="Confirm an address with its code",
    )
    async def confirm_verification(
        self,
        challenge_id: FromPath[uuid.UUID],
        data: JSONBody[CodeIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> AccountOut:
        account = await identifiers.confirm_verification(
            auth_services, principal=principal, challenge_id=challenge_id, code=data.code, ip=client_ip
        )
        return AccountOut.of(account)

    @post(
        "/me/deactivate",
        status_code=HTTP_204_NO_CONTENT,
        summary="Deactivate my account (needs reauthentication)",
    )
    async def deactivate(
        self, principal: NamedDependency[Principal], auth_services: NamedDependency[AuthServices]
    ) -> None:
        await lifecycle.deactivate(auth_services, principal=principal)

    @delete(
        "/me", status_code=HTTP_202_ACCEPTED, summary="Delete my account in 30 days (needs reauthentication)"
    )
    async def schedule_deletion(
        self, principal: NamedDependency[Principal], auth_services: NamedDependency[AuthServices]
    ) -> DeletionOut:
        return DeletionOut(deletion_at=await lifecycle.schedule_deletion(auth_services, principal=principal))

    @post(
        "/me/email", status_code=HTTP_202_ACCEPTED, summary="Change my email: a code goes to the new address"
    )
    async def change_email(
        self,
        data: JSONBody[EmailChangeIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> ChallengeOut:
        view = await identifiers.request_change(
            auth_services, principal=principal, channel=Channel.EMAIL, new_value=data.email, ip=client_ip
        )
        return ChallengeOut.of(view)

    @post("/me/email/{challenge_id:uuid}/verify", status_code=HTTP_200_OK, summary="Confirm my new email")
    async def confirm_email(
        self,
        challenge_id: FromPath[uuid.UUID],
        data: JSONBody[CodeIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> AccountOut:
        account = await identifiers.confirm_change(
            auth_services,
            principal=principal,
            channel=Channel.EMAIL,
            challenge_id=challenge_id,
            code=data.code,
            ip=client_ip,
        )
        return AccountOut.of(account)

    @post(
        "/me/phone", status_code=HTTP_202_ACCEPTED, summary="Change my phone: a code goes to the new number"
    )
    async def change_phone(
        self,
        data: JSONBody[PhoneChangeIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> ChallengeOut:
        view = await identifiers.request_change(
            auth_services, principal=principal, channel=Channel.PHONE, new_value=data.phone, ip=client_ip
        )
        return ChallengeOut.of(view)

    @post("/me/phone/{challenge_id:uuid}/verify", status_code=HTTP_200_OK, summary="Confirm my new phone")
    async def confirm_phone(
        self,
        challenge_id: FromPath[uuid.UUID],
        data: JSONBody[CodeIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> AccountOut:
        account = await identifiers.confirm_change(
            auth_services,
            principal=principal,
            channel=Channel.PHONE,
            challenge_id=challenge_id,
            code=data.code,
            ip=client_ip,
        )
        return AccountOut.of(account)

    @get("/sessions", summary="My signed-in devices, newest first")
    async def sessions(
        self,
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[SessionOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, _CURSOR_TYPES) if cursor else None
        found = await login.list_sessions(auth_services, principal=principal, after=after, limit=size)  # type: ignore[arg-type]
        page = Page.from_rows(found, size, key=lambda s: (s.created_at, s.id), codec=cursors)
        return Page(
            items=[SessionOut.of(s, principal.session_id) for s in page.items], next_cursor=page.next_cursor
        )

    @patch("/sessions/{session_id:uuid}", summary="Rename one of my sessions")
    async def rename(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[RenameIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> SessionOut:
        session = await login.rename_session(
            auth_services, principal=principal, session_id=session_id, name=data.name
        )
        return SessionOut.of(session, principal.session_id)

    @delete(
        "/sessions/{session_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Sign one of my devices out"
    )
    async def delete_session(
        self,
        session_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> None:
        await login.delete_session(auth_services, principal=principal, session_id=session_id)

    @post("/sessions/revoke-others", status_code=HTTP_200_OK, summary="Sign out every device but this one")
    async def revoke_others(
        self, principal: NamedDependency[Principal], auth_services: NamedDependency[AuthServices]
    ) -> RevokedOut:
        return RevokedOut(revoked_count=await login.revoke_others(auth_services, principal=principal))


_Provider = Annotated[str, Parameter(max_length=32, pattern=r"^[a-z0-9_-]+$")]


class OidcController(Controller):
    path = "/api/v1/auth/oauth"
    tags = ["auth"]

    @post(
        "/{provider:str}/nonces",
        status_code=HTTP_201_CREATED,
        summary="A single-use nonce (10 minutes) to put in the provider's sign-in request",
    )
    async def nonce(
        self,
        provider: FromPath[_Provider],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> NonceOut:
        return NonceOut(
            nonce=await oidc.issue_nonce(auth_services, provider=provider, ip=client_ip), expires_in=600
        )

    @post(
        "/{provider:str}/sign-in",
        summary="Sign in with an OpenID provider: 200 linked, 201 new account, 409 account_link_required",
        responses={201: ResponseSpec(SignedInOut, description="A new account (no password) was created")},
    )
    async def sign_in(
        self,
        provider: FromPath[_Provider],
        data: JSONBody[OidcSignInIn],
        request: Request[Any, Any, Any],
        auth_services: NamedDependency[AuthServices],
        client_ip: NamedDependency[str],
    ) -> Response[SignedInOut]:
        signed, created = await oidc.sign_in_with_provider(
            auth_services,
            proof=data.proof(provider),
            device=data.device.to_device(user_agent=request.headers.get("user-agent"), ip=client_ip),
            given_name=data.given_name,
            family_name=data.family_name,
            reactivate=data.reactivate,
            cancel_deletion=data.cancel_deletion,
            ip=client_ip,
        )
        return Response(SignedInOut.of(signed), status_code=HTTP_201_CREATED if created else HTTP_200_OK)


class IdentitiesController(Controller):
    path = "/api/v1/auth/me/identities"
    tags = ["auth"]
    guards = [requires_principal]

    @get("", summary="Identities (Google, Apple...) linked to my account")
    async def list_identities(
        self, principal: NamedDependency[Principal], auth_services: NamedDependency[AuthServices]
    ) -> list[IdentityOut]:
        found = await oidc.list_identities(auth_services, account_id=principal.user_id)
        return [IdentityOut.of(i) for i in found]

    @post(
        "",
        summary="Link a provider identity to my account (needs reauthentication); 200 if already mine",
        responses={201: ResponseSpec(IdentityOut, description="Linked")},
    )
    async def link(
        self,
        data: JSONBody[LinkIdentityIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> Response[IdentityOut]:
        identity, created = await oidc.link_identity(auth_services, principal=principal, proof=data.proof())
        return Response(IdentityOut.of(identity), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @post(
        "/link",
        status_code=HTTP_201_CREATED,
        summary="Link the identity of an account_link_required sign-in (needs reauthentication)",
    )
    async def link_with_token(
        self,
        data: JSONBody[LinkTokenIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> IdentityOut:
        identity = await oidc.link_with_token(auth_services, principal=principal, link_token=data.link_token)
        return IdentityOut.of(identity)

    @delete(
        "/{identity_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Unlink an identity (needs reauthentication; not the last way to sign in)",
    )
    async def unlink(
        self,
        identity_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> None:
        await oidc.unlink(auth_services, principal=principal, identity_id=identity_id)


class AdminController(Controller):
    path = "/api/v1/auth/admin"
    tags = ["auth"]
    guards = [requires_role("admin")]

    @put("/accounts/{account_id:uuid}/roles", summary="Set an account's global roles (admin; audited)")
    async def set_roles(
        self,
        account_id: FromPath[uuid.UUID],
        data: JSONBody[RolesIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> RolesOut:
        roles = await admin.set_roles(auth_services, actor=principal, account_id=account_id, roles=data.roles)
        return RolesOut(account_id=account_id, roles=sorted(roles))


class StaffController(Controller):
    path = "/api/v1/auth/admin"
    tags = ["auth"]
    guards = [requires_role("staff", "admin")]

    @post(
        "/accounts/{account_id:uuid}/suspend",
        status_code=HTTP_204_NO_CONTENT,
        summary="Suspend (staff; audited)",
    )
    async def suspend(
        self,
        account_id: FromPath[uuid.UUID],
        data: JSONBody[SuspendIn],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> None:
        await lifecycle.suspend(
            auth_services, actor=principal, account_id=account_id, reason=data.reason, until=data.until
        )

    @post(
        "/accounts/{account_id:uuid}/unsuspend",
        status_code=HTTP_204_NO_CONTENT,
        summary="Lift a suspension (staff)",
    )
    async def unsuspend(
        self,
        account_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        auth_services: NamedDependency[AuthServices],
    ) -> None:
        await lifecycle.unsuspend(auth_services, actor=principal, account_id=account_id)


class JwksController(Controller):
    path = "/.well-known"
    tags = ["auth"]

    @get(
        "/jwks.json",
        summary="Public keys that verify access tokens",
        cache_control=CacheControlHeader(max_age=300),
    )
    async def jwks(self, auth_jwks: NamedDependency[dict[str, Any]]) -> Response[dict[str, Any]]:
        return Response(auth_jwks)
