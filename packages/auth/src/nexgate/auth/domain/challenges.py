"""One-time-code challenges: purpose-bound, short-lived, attempt-limited, single use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from nexgate.auth.domain.accounts import Channel, Gone, mask
from nexgate.kernel.errors import NotFound, RateLimited, ValidationFailed


class Purpose(StrEnum):
    REGISTRATION = "registration"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name
    VERIFY_EMAIL = "verify_email"
    VERIFY_PHONE = "verify_phone"
    CHANGE_EMAIL = "change_email"
    CHANGE_PHONE = "change_phone"
    REAUTH = "reauth"


CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RESEND_COOLDOWN = timedelta(seconds=60)


@dataclass
class Challenge:
    id: uuid.UUID
    purpose: Purpose
    channel: Channel
    destination: str
    code_hash: bytes
    created_at: datetime
    expires_at: datetime
    last_sent_at: datetime
    account_id: uuid.UUID | None = None
    #: A decoy never succeeds: it answers exactly like a real one for identifiers we must not reveal.
    decoy: bool = False
    attempts: int = 0
    consumed_at: datetime | None = None
    superseded_at: datetime | None = None

    @property
    def destination_masked(self) -> str:
        return mask(self.channel, self.destination)

    @property
    def resend_available_at(self) -> datetime:
        return self.last_sent_at + RESEND_COOLDOWN

    def ensure_usable(self, purpose: Purpose, now: datetime) -> None:
        """Raise what a client must see for a challenge it cannot answer any more."""
        if self.purpose is not purpose:
            raise challenge_not_found()
        if self.consumed_at is not None or self.superseded_at is not None or now >= self.expires_at:
            raise challenge_expired()
        if self.attempts >= MAX_ATTEMPTS:
            raise too_many_attempts()


def challenge_not_found() -> NotFound:
    return NotFound("No such challenge.", code="challenge_not_found")


def challenge_expired() -> Gone:
    return Gone("This code has expired or was already used; request a new one.", code="challenge_expired")


def too_many_attempts(retry_after: int = 600) -> RateLimited:
    return RateLimited("Too many attempts.", retry_after=retry_after, code="too_many_attempts")


def invalid_code(attempts_remaining: int) -> ValidationFailed:
    return ValidationFailed(
        "That code is not right.", code="invalid_code", extra={"attemptsRemaining": attempts_remaining}
    )
