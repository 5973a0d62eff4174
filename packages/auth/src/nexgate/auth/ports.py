"""What the auth use cases need from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from nexgate.auth.domain.accounts import Account, AccountStatus, Channel
from nexgate.auth.domain.challenges import Challenge, Purpose
from nexgate.auth.domain.identities import Identity, PendingLink, ProviderIdentity
from nexgate.auth.domain.sessions import RefreshToken, Session
from nexgate.kernel.ports import MessageOutbox


class AccountRepository(Protocol):
    async def add_if_free(self, account: Account) -> bool:
        """Insert unless a live account holds the email or phone; False when one does."""
        ...

    async def get(self, account_id: uuid.UUID, *, for_update: bool = False) -> Account | None: ...

    async def find(self, channel: Channel, value: str, *, for_update: bool = False) -> Account | None:
        """The account (not deleted) holding this identifier."""
        ...

    async def replace_pending(self, account: Account) -> None:
        """Overwrite a pending account's details (a new registration of the same identifier)."""
        ...

    async def activate(self, account_id: uuid.UUID, channel: Channel, now: datetime) -> bool:
        """pending -> active with the channel verified; False when it was not pending."""
        ...

    async def set_status(
        self,
        account_id: uuid.UUID,
        status: AccountStatus,
        *,
        deletion_at: datetime | None = None,
        suspended_until: datetime | None = None,
    ) -> None:
        """Set the status (and the dates that go with it; None clears them)."""
        ...

    async def set_password(self, account_id: uuid.UUID, password_hash: str) -> None: ...

    async def set_roles(self, account_id: uuid.UUID, roles: frozenset[str]) -> None: ...

    async def set_identifier(self, account_id: uuid.UUID, channel: Channel, value: str) -> bool:
        """Replace the email or phone (verified); False when another live account holds it."""
        ...

    async def mark_verified(self, account_id: uuid.UUID, channel: Channel, value: str) -> bool:
        """Mark the identifier verified if the account still holds ``value``; False otherwise."""
        ...

    async def due_for_deletion(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Accounts whose deletion grace has ended, locked (others skip them)."""
        ...

    async def erase(self, account_id: uuid.UUID, now: datetime) -> None:
        """Tombstone: status deleted; identifiers, password and profile fields erased; sessions gone."""
        ...

    async def due_for_unsuspension(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Suspended accounts whose ``until`` has passed, locked (others skip them)."""
        ...

    async def remove_pending(self, account_id: uuid.UUID) -> None:
        """Remove one account that was never verified (its identifier goes to a verified owner)."""
        ...

    async def delete_stale_pending(self, created_before: datetime) -> int:
        """Remove pending accounts (never verified) created before the cutoff; how many."""
        ...


class ChallengeRepository(Protocol):
    async def add(self, challenge: Challenge) -> None: ...

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None: ...

    async def supersede(self, channel: Channel, destination: str, purpose: Purpose, now: datetime) -> None:
        """End every open challenge for this destination and purpose."""
        ...

    async def count_failed_attempt(
        self, challenge_id: uuid.UUID, max_attempts: int, now: datetime
    ) -> int | None:
        """Atomically count one wrong code; the attempts so far, or None when none was left."""
        ...

    async def consume(self, challenge_id: uuid.UUID, max_attempts: int, now: datetime) -> bool:
        """Atomically mark the challenge used, if it is still open; True when this call did it."""
        ...

    async def renew_code(
        self, challenge_id: uuid.UUID, code_hash: bytes, now: datetime, expires_at: datetime
    ) -> bool:
        """A resend: new code, fresh expiry, attempts reset; False within the cooldown or when closed."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get(self, session_id: uuid.UUID, *, for_update: bool = False) -> Session | None: ...

    async def lock_for_refresh(self, token_hash: bytes) -> Session | None:
        """Lock the session of this refresh token; None when no such token."""
        ...

    async def live_for_account(
        self,
        account_id: uuid.UUID,
        now: datetime,
        *,
        after: tuple[datetime, uuid.UUID] | None = None,
        limit: int | None = None,
    ) -> Sequence[Session]:
        """Live sessions, newest first."""
        ...

    async def touch(self, session_id: uuid.UUID, now: datetime, idle_expires_at: datetime) -> None: ...

    async def device_seen_since(self, account_id: uuid.UUID, device_hash: bytes, since: datetime) -> bool:
        """Whether any session of the account used this device after ``since``."""
        ...

    async def rename(self, session_id: uuid.UUID, name: str) -> None: ...

    async def revoke(self, session_ids: Sequence[uuid.UUID], reason: str, now: datetime) -> list[uuid.UUID]:
        """Revoke those still live; returns the ids this call revoked."""
        ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def by_hash(self, token_hash: bytes) -> RefreshToken | None: ...

    async def get(self, token_id: uuid.UUID) -> RefreshToken | None: ...

    async def rotate(self, token_id: uuid.UUID, successor: RefreshToken, now: datetime) -> bool:
        """Add ``successor`` and mark an unused token rotated to it (one statement); False when it
        already was."""
        ...


class IdentityRepository(Protocol):
    async def add(self, identity: Identity) -> bool:
        """Link; False when this provider subject is already linked (to any account)."""
        ...

    async def by_subject(self, provider: str, subject: str) -> Identity | None: ...

    async def get(self, identity_id: uuid.UUID) -> Identity | None: ...

    async def for_account(self, account_id: uuid.UUID) -> list[Identity]:
        """The account's identities, oldest first."""
        ...

    async def touch(self, identity_id: uuid.UUID, now: datetime) -> None: ...

    async def remove(self, identity_id: uuid.UUID) -> None: ...


class AuditLog(Protocol):
    async def record(
        self,
        *,
        actor_id: uuid.UUID | None,
        action: str,
        target_id: uuid.UUID,
        details: dict[str, object],
        now: datetime,
    ) -> None: ...


class AuthTx(Protocol):
    """One transaction over the auth schema; commits when its block ends without an error."""

    accounts: AccountRepository
    challenges: ChallengeRepository
    sessions: SessionRepository
    refresh_tokens: RefreshTokenRepository
    identities: IdentityRepository
    audit: AuditLog
    outbox: MessageOutbox


class UnitOfWork(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[AuthTx]: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...

    async def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verify (unknown identifiers must not answer faster)."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class CodeHasher(Protocol):
    def new_code(self) -> str: ...

    def digest(self, challenge_id: uuid.UUID, code: str) -> bytes: ...

    def matches(self, challenge_id: uuid.UUID, code: str, code_hash: bytes) -> bool: ...

    def decoy_digest(self) -> bytes:
        """A digest no code matches."""
        ...


class CodeCipher(Protocol):
    def encrypt(self, code: str, challenge_id: uuid.UUID) -> tuple[str, str]:
        """(key id, ciphertext) of a code for delivery."""
        ...


class RefreshTokenMaterial(Protocol):
    def new_token(self) -> str: ...

    def successor(self, token: str) -> str:
        """The successor of a token, derived with a server secret (a grace retry gets it again)."""
        ...

    def digest(self, token: str) -> bytes: ...

    def device_hash(self, account_id: uuid.UUID, device_id: str) -> bytes: ...


class AccessTokens(Protocol):
    ttl_s: int

    def issue(self, account_id: uuid.UUID, session_id: uuid.UUID, roles: frozenset[str]) -> str: ...


class SessionRevoker(Protocol):
    async def revoke(self, session_id: uuid.UUID) -> None:
        """Deny the session's access tokens at once (the kernel checks on every request)."""
        ...


class Lockout(Protocol):
    async def locked_for(self, identifier: str) -> int:
        """Seconds left on the identifier's lock (0 = not locked)."""
        ...

    async def failed(self, identifier: str) -> int:
        """Count a failed password; seconds of the lock this started (0 = none)."""
        ...

    async def clear(self, identifier: str) -> None: ...


class RecentAuthentication(Protocol):
    async def mark(self, session_id: uuid.UUID) -> None:
        """The session proved its password just now (valid for ten minutes)."""
        ...

    async def is_recent(self, session_id: uuid.UUID) -> bool: ...


class IdentityProviders(Protocol):
    """The configured OpenID providers: server nonces, ID-token checks and the PKCE code exchange."""

    def knows(self, provider: str) -> bool: ...

    async def issue_nonce(self, provider: str) -> str:
        """A single-use nonce for ``provider`` (10 minutes)."""
        ...

    async def consume_nonce(self, provider: str, nonce: str) -> bool:
        """True once for a nonce this server issued for ``provider`` and nobody used yet."""
        ...

    async def verify(self, provider: str, id_token: str, nonce: str) -> ProviderIdentity:
        """Raises ``InvalidIdToken`` or ``IdentityProviderUnavailable``."""
        ...

    async def exchange_code(self, provider: str, code: str, code_verifier: str, redirect_uri: str) -> str:
        """The ID token the provider's token endpoint returns for an authorization code (PKCE)."""
        ...


class LinkTokens(Protocol):
    async def issue(self, link: PendingLink) -> str:
        """An opaque single-use token (10 minutes) standing for ``link``."""
        ...

    async def peek(self, token: str) -> PendingLink | None: ...

    async def take(self, token: str) -> bool:
        """Use the token up; True for the one caller that did."""
        ...


class Limiter(Protocol):
    async def hit(self, bucket: str, identity: str, *, limit: int, window_s: float) -> None: ...


__all__ = [
    "AccessTokens",
    "AccountRepository",
    "AuditLog",
    "AuthTx",
    "ChallengeRepository",
    "CodeCipher",
    "CodeHasher",
    "IdentityProviders",
    "IdentityRepository",
    "Limiter",
    "LinkTokens",
    "Lockout",
    "MessageOutbox",
    "PasswordHasher",
    "RecentAuthentication",
    "RefreshTokenMaterial",
    "RefreshTokenRepository",
    "SessionRepository",
    "SessionRevoker",
    "UnitOfWork",
]
