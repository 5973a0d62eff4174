"""What every auth use case receives: its ports and the policy values read from settings."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from nexgate.auth.domain.accounts import Account
from nexgate.auth.domain.challenges import Challenge
from nexgate.auth.domain.sessions import Session
from nexgate.auth.ports import (
    AccessTokens,
    CodeCipher,
    CodeHasher,
    IdentityProviders,
    Limiter,
    LinkTokens,
    Lockout,
    PasswordHasher,
    RecentAuthentication,
    RefreshTokenMaterial,
    SessionRevoker,
    UnitOfWork,
)
from nexgate.kernel.clock import Clock


@dataclass(frozen=True)
class Limits:
    """(count, window in seconds) per rate-limited action."""

    login_per_ip: tuple[int, int] = (20, 60)
    registrations_per_ip: tuple[int, int] = (10, 3600)
    code_sends_per_destination: tuple[int, int] = (5, 3600)
    code_sends_per_ip: tuple[int, int] = (20, 3600)
    code_checks_per_ip: tuple[int, int] = (30, 60)
    resets_per_identifier: tuple[int, int] = (3, 3600)
    refresh_per_session: tuple[int, int] = (30, 60)
    #: Password (and provider) proofs of a signed-in caller: reauthentication and password change.
    reauth_per_session: tuple[int, int] = (20, 900)
    reauth_per_account: tuple[int, int] = (40, 3600)


@dataclass(frozen=True)
class Policy:
    default_region: str = "TZ"
    allowed_regions: tuple[str, ...] = ("TZ", "KE", "UG", "RW", "BI")
    common_passwords: frozenset[str] = frozenset()
    limits: Limits = field(default_factory=Limits)
    default_locale: str = "sw"


@dataclass(frozen=True)
class AuthServices:
    uow: UnitOfWork
    clock: Clock
    hasher: PasswordHasher
    codes: CodeHasher
    cipher: CodeCipher
    refresh: RefreshTokenMaterial
    tokens: AccessTokens
    revoker: SessionRevoker
    limiter: Limiter
    lockout: Lockout
    reauth: RecentAuthentication
    policy: Policy = field(default_factory=Policy)
    #: OpenID Connect; None when no provider is configured (the routes answer 404).
    providers: IdentityProviders | None = None
    link_tokens: LinkTokens | None = None

    async def limit(self, name: str, identity: str, rule: tuple[int, int]) -> None:
        """Count one hit of a rate-limited action; the identity is hashed before it reaches Redis."""
        await self.limiter.hit(f"auth.{name}", hashed(identity), limit=rule[0], window_s=rule[1])


def hashed(value: str) -> str:
    """A stable, non-reversible key for an identifier or address (Redis keys never hold PII)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ChallengeView:
    challenge_id: uuid.UUID
    channel: str
    destination_masked: str
    expires_at: datetime
    resend_available_at: datetime

    @classmethod
    def of(cls, challenge: Challenge) -> ChallengeView:
        return cls(
            challenge_id=challenge.id,
            channel=challenge.channel.value,
            destination_masked=challenge.destination_masked,
            expires_at=challenge.expires_at,
            resend_available_at=challenge.resend_available_at,
        )


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class SignedIn:
    account: Account
    session: Session
    tokens: Tokens
