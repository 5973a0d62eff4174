"""Messages of the auth context (exchange ``nexgate.auth``). Auth consumes none.

Every message carries ``userId``; consumers never log these payloads (they hold
identifiers). One-time codes travel only as AES-256-GCM ciphertext (``codeCiphertext``),
readable by the holder of the delivery key named by ``keyId`` (notifications).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from nexgate.contracts.base import Contract


class UserRegistered(Contract, tag="auth.user_registered.v1", kw_only=True):
    """An account was verified and activated: profiles builds a profile from it."""

    user_id: uuid.UUID
    display_name: str
    locale: str
    email_verified: bool
    phone_verified: bool
    registered_via: str
    registered_at: datetime
    requested_username: str | None = None
    email: str | None = None
    phone: str | None = None


class OtpRequested(Contract, tag="auth.otp_requested.v1", kw_only=True):
    """A one-time code must be delivered; the code is AES-256-GCM encrypted (nonce || ciphertext, base64url).

    The associated data is ``challengeId`` (its canonical string form), so a ciphertext
    cannot be replayed under another challenge.
    """

    user_id: uuid.UUID
    challenge_id: uuid.UUID
    purpose: str
    channel: str
    destination: str
    locale: str
    code_ciphertext: str
    key_id: str
    expires_at: datetime


class RegistrationAttemptedForExistingAccount(
    Contract, tag="auth.registration_attempted_for_existing_account.v1", kw_only=True
):
    """Someone tried to register an identifier that a verified account owns: tell the owner."""

    user_id: uuid.UUID
    channel: str
    destination: str
    locale: str


class SessionRevoked(Contract, tag="auth.session_revoked.v1", kw_only=True):
    """A device session ended early (logout, reuse of a refresh token, password reset ...)."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    reason: str


class PasswordChanged(Contract, tag="auth.password_changed.v1", kw_only=True):
    """The account's password changed (``via``: ``reset`` or ``change``)."""

    user_id: uuid.UUID
    via: str


class LoginLocked(Contract, tag="auth.login_locked.v1", kw_only=True):
    """Password login for the account is locked after repeated failures."""

    user_id: uuid.UUID
    locked_until: datetime


class RolesChanged(Contract, tag="auth.roles_changed.v1", kw_only=True):
    """An administrator changed the account's global roles."""

    user_id: uuid.UUID
    roles: list[str]
    changed_by: uuid.UUID | None = None


class UserDeactivated(Contract, tag="auth.user_deactivated.v1", kw_only=True):
    """The owner deactivated the account; every session ended. Hide the user's content."""

    user_id: uuid.UUID


class UserReactivated(Contract, tag="auth.user_reactivated.v1", kw_only=True):
    """A deactivated account signed in again with ``reactivate``."""

    user_id: uuid.UUID


class UserDeletionScheduled(Contract, tag="auth.user_deletion_scheduled.v1", kw_only=True):
    """The owner asked for deletion; it happens at ``deletionAt`` unless they sign in to cancel."""

    user_id: uuid.UUID
    deletion_at: datetime


class UserSuspended(Contract, tag="auth.user_suspended.v1", kw_only=True):
    """Staff suspended the account; every session ended."""

    user_id: uuid.UUID
    reason: str
    until: datetime | None = None
    suspended_by: uuid.UUID | None = None


class UserUnsuspended(Contract, tag="auth.user_unsuspended.v1", kw_only=True):
    """Staff lifted a suspension."""

    user_id: uuid.UUID
    unsuspended_by: uuid.UUID | None = None


class NewDeviceSignedIn(Contract, tag="auth.new_device_signed_in.v1", kw_only=True):
    """A device not seen on the account for 90 days signed in: tell the owner."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    device_name: str | None
    platform: str
    ip_masked: str


class IdentifierChanged(Contract, tag="auth.identifier_changed.v1", kw_only=True):
    """The account's email or phone changed; the previous address is told (masked here)."""

    user_id: uuid.UUID
    kind: str
    new_value: str
    previous_value_masked: str | None
    verified: bool
    #: The previous address, so notifications can warn its owner; never log it.
    previous_value: str | None = None


class IdentifierVerified(Contract, tag="auth.identifier_verified.v1", kw_only=True):
    """An email or phone the account already had is now verified (profiles updates trust)."""

    user_id: uuid.UUID
    kind: str
    verified_at: datetime


class UserDeleted(Contract, tag="auth.user_deleted.v1", kw_only=True):
    """The deletion grace ended: the account is erased (its id stays as a tombstone).

    Every context erases or anonymises its own data about ``userId``.
    """

    user_id: uuid.UUID
