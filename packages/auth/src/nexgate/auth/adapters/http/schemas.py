"""What the auth API accepts and returns: explicit Structs, camelCase, unknown fields refused."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from nexgate.auth.application.oidc import ProviderProof
from nexgate.auth.application.services import ChallengeView, SignedIn, Tokens
from nexgate.auth.domain.accounts import Account
from nexgate.auth.domain.identities import Identity
from nexgate.auth.domain.sessions import Device, Session
from nexgate.kernel.errors import FieldProblem, ValidationFailed

_Str = Annotated[str, msgspec.Meta(max_length=200)]
_Password = Annotated[str, msgspec.Meta(max_length=1024)]
_Code = Annotated[str, msgspec.Meta(max_length=16)]


class DeviceIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    device_id: Annotated[str, msgspec.Meta(min_length=8, max_length=200)]
    platform: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    name: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    model: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    os_version: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    app_version: Annotated[str, msgspec.Meta(max_length=40)] | None = None

    def to_device(self, *, user_agent: str | None, ip: str) -> Device:
        return Device(
            device_id=self.device_id,
            platform=self.platform,
            name=self.name,
            model=self.model,
            os_version=self.os_version,
            app_version=self.app_version,
            user_agent=(user_agent or "")[:300] or None,
            ip=ip,
        )


class RegistrationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    password: _Password
    display_name: Annotated[str, msgspec.Meta(max_length=200)]
    email: _Str | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    username: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    locale: Annotated[str, msgspec.Meta(max_length=16)] | None = None


class VerifyIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    code: _Code
    device: DeviceIn


class LoginIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    identifier: _Str
    password: _Password
    device: DeviceIn
    reactivate: bool = False
    cancel_deletion: bool = False


class RefreshIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(max_length=200)]


class RenameIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


class PasswordResetIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    identifier: _Str


class PasswordResetCompleteIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    code: _Code
    new_password: _Password


class PasswordChangeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    current_password: _Password
    new_password: _Password


class RolesIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    roles: Annotated[list[Annotated[str, msgspec.Meta(max_length=16)]], msgspec.Meta(max_length=10)]


class ChallengeOut(msgspec.Struct, rename="camel"):
    challenge_id: uuid.UUID
    channel: str
    destination_masked: str
    expires_at: datetime
    resend_available_at: datetime

    @classmethod
    def of(cls, view: ChallengeView) -> ChallengeOut:
        return cls(
            challenge_id=view.challenge_id,
            channel=view.channel,
            destination_masked=view.destination_masked,
            expires_at=view.expires_at,
            resend_available_at=view.resend_available_at,
        )


class AccountOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    status: str
    display_name: str
    locale: str
    email: str | None
    email_verified: bool
    phone: str | None
    phone_verified: bool
    roles: list[str]
    has_password: bool
    identities: list[IdentityOut]
    created_at: datetime

    @classmethod
    def of(cls, account: Account, identities: Sequence[Identity] = ()) -> AccountOut:
        return cls(
            id=account.id,
            status=account.status.value,
            display_name=account.display_name,
            locale=account.locale,
            email=account.email,
            email_verified=account.email_verified,
            phone=account.phone,
            phone_verified=account.phone_verified,
            roles=sorted(account.roles),
            has_password=account.password_hash is not None,
            identities=[IdentityOut.of(i) for i in identities],
            created_at=account.created_at,
        )


class SessionOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    name: str | None
    platform: str
    model: str | None
    os_version: str | None
    app_version: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool

    @classmethod
    def of(cls, session: Session, current_id: uuid.UUID | None = None) -> SessionOut:
        return cls(
            id=session.id,
            name=session.name,
            platform=session.platform,
            model=session.model,
            os_version=session.os_version,
            app_version=session.app_version,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=min(session.idle_expires_at, session.absolute_expires_at),
            current=session.id == current_id,
        )


class TokensOut(msgspec.Struct, rename="camel"):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret

    @classmethod
    def of(cls, tokens: Tokens) -> TokensOut:
        return cls(
            access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in
        )


class SignedInOut(msgspec.Struct, rename="camel"):
    account: AccountOut
    session: SessionOut
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret

    @classmethod
    def of(cls, signed: SignedIn) -> SignedInOut:
        return cls(
            account=AccountOut.of(signed.account),
            session=SessionOut.of(signed.session, signed.session.id),
            access_token=signed.tokens.access_token,
            refresh_token=signed.tokens.refresh_token,
            expires_in=signed.tokens.expires_in,
        )


class RevokedOut(msgspec.Struct, rename="camel"):
    revoked_count: int


class RolesOut(msgspec.Struct, rename="camel"):
    account_id: uuid.UUID
    roles: list[str]


class ChannelIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    channel: Literal["email", "phone"]


class ReauthChallengeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """The channel the code goes to; default the verified phone, else the verified email."""

    channel: Literal["email", "phone"] | None = None


_Token = Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]
_Short = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
_Verifier = Annotated[str, msgspec.Meta(min_length=43, max_length=128)]
_ProviderName = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class ReauthIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """``password``; or ``challengeId`` and ``code`` of a ``reauth`` challenge; or a fresh proof of a
    linked provider identity: ``provider``, ``nonce`` and ``idToken`` (or ``code``, ``codeVerifier``
    and ``redirectUri``: with ``provider``, ``code`` is the authorization code)."""

    password: _Password | None = None
    challenge_id: uuid.UUID | None = None
    code: _Short | None = None
    provider: _ProviderName | None = None
    nonce: _Short | None = None
    id_token: _Token | None = None
    code_verifier: _Verifier | None = None
    redirect_uri: _Short | None = None

    def proof(self) -> ProviderProof | None:
        """The provider proof when ``provider`` is given; a mix of the ways is refused."""
        if self.provider is None:
            if any(v is not None for v in (self.nonce, self.id_token, self.code_verifier, self.redirect_uri)):
                raise ValidationFailed(
                    "A provider token needs provider.", errors=[FieldProblem("provider", "is required")]
                )
            return None
        if self.password is not None or self.challenge_id is not None or self.nonce is None:
            raise ValidationFailed(
                "With provider, send nonce and the provider's proof only.",
                errors=[FieldProblem("nonce", "give nonce with provider, and no password or challengeId")],
            )
        return ProviderProof(
            self.provider, self.nonce, self.id_token, self.code, self.code_verifier, self.redirect_uri
        )


class OidcSignInIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """``idToken`` (native SDKs), or ``code`` + ``codeVerifier`` + ``redirectUri`` (PKCE)."""

    nonce: _Short
    device: DeviceIn
    id_token: _Token | None = None
    code: _Short | None = None
    code_verifier: _Verifier | None = None
    redirect_uri: _Short | None = None
    given_name: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    family_name: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    reactivate: bool = False
    cancel_deletion: bool = False

    def proof(self, provider: str) -> ProviderProof:
        return ProviderProof(
            provider, self.nonce, self.id_token, self.code, self.code_verifier, self.redirect_uri
        )


class LinkIdentityIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    provider: _ProviderName
    nonce: _Short
    id_token: _Token | None = None
    code: _Short | None = None
    code_verifier: _Verifier | None = None
    redirect_uri: _Short | None = None

    def proof(self) -> ProviderProof:
        return ProviderProof(
            self.provider, self.nonce, self.id_token, self.code, self.code_verifier, self.redirect_uri
        )


class LinkTokenIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    link_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class NonceOut(msgspec.Struct, rename="camel"):
    nonce: str
    expires_in: int


class IdentityOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    provider: str
    email: str | None
    created_at: datetime
    last_used_at: datetime

    @classmethod
    def of(cls, identity: Identity) -> IdentityOut:
        return cls(
            id=identity.id,
            provider=identity.provider,
            email=identity.email,
            created_at=identity.created_at,
            last_used_at=identity.last_used_at,
        )


class SuspendIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    until: datetime | None = None


class DeletionOut(msgspec.Struct, rename="camel"):
    deletion_at: datetime


class EmailChangeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    email: _Str


class PhoneChangeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=40)]


class CodeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    code: _Code
