"""Identities: an account's sign-in through an OpenID provider (Google, Apple), and their errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from nexgate.kernel.errors import Conflict, NotAuthenticated, NotFound, ServiceUnavailable


@dataclass(frozen=True)
class ProviderIdentity:
    """What a verified ID token says: who the provider vouches for."""

    provider: str
    subject: str
    #: Present only when the provider says it is verified.
    email: str | None
    #: An Apple relay address: never matched to an account by email.
    private_relay: bool
    name: str | None = None


@dataclass
class Identity:
    id: uuid.UUID
    account_id: uuid.UUID
    provider: str
    subject: str
    email: str | None
    created_at: datetime
    last_used_at: datetime


@dataclass(frozen=True)
class PendingLink:
    """A provider identity waiting for the owner of the matching account to link it."""

    account_id: uuid.UUID
    provider: str
    subject: str
    email: str | None


class InvalidIdToken(NotAuthenticated):
    """401 ``invalid_id_token``; ``reason`` says which check failed."""

    default_code = "invalid_id_token"

    def __init__(self, reason: str) -> None:
        super().__init__("The identity provider's token was refused.", extra={"reason": reason})
        self.reason = reason


class IdentityProviderUnavailable(ServiceUnavailable):
    """503: discovery, JWKS or the token endpoint could not be reached; nothing is accepted unverified."""

    default_code = "identity_provider_unavailable"

    def __init__(self, provider: str) -> None:
        super().__init__(f"The identity provider {provider} cannot be reached; try again shortly.")
        self.provider = provider


def provider_not_found() -> NotFound:
    return NotFound("No such identity provider.", code="provider_not_found")


def identity_not_found() -> NotFound:
    return NotFound("No such identity.", code="identity_not_found")


def identity_already_linked() -> Conflict:
    return Conflict("This identity is linked to another account.", code="identity_already_linked")


def last_sign_in_method() -> Conflict:
    return Conflict(
        "This is your last way to sign in; set a password or link another identity first.",
        code="last_sign_in_method",
    )
