"""Accounts, their identifiers and the password policy."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from nexgate.kernel.errors import DomainError, FieldProblem, ValidationFailed
from nexgate.kernel.phone import normalize_phone


class AccountStatus(StrEnum):
    PENDING = "pending_verification"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    SUSPENDED = "suspended"
    DELETION_SCHEDULED = "deletion_scheduled"
    DELETED = "deleted"


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


ROLES = frozenset({"user", "staff", "admin"})
MIN_PASSWORD = 8
MAX_PASSWORD = 128
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")


@dataclass(frozen=True)
class Identifier:
    channel: Channel
    value: str

    @property
    def masked(self) -> str:
        return mask(self.channel, self.value)


def mask(channel: Channel, value: str) -> str:
    """What a screen may show of an identifier: ``+255•••••5678``, ``a•••@example.com``."""
    if channel is Channel.PHONE:
        return value[:4] + "•" * max(0, len(value) - 8) + value[-4:]
    local, _, domain = value.partition("@")
    return f"{local[:1]}•••@{domain}"


def normalize_email(raw: str, *, path: str = "email") -> str:
    email = raw.strip().lower() if isinstance(raw, str) else ""
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ValidationFailed(
            "Not an email address.", code="invalid_email", errors=[FieldProblem(path, "not an email address")]
        )
    return email


def normalize_phone_number(
    raw: str, *, default_region: str, allowed_regions: Collection[str], path: str = "phone"
) -> str:
    """E.164 mobile number through the kernel, reported with this context's error code."""
    try:
        return normalize_phone(raw, default_region=default_region, allowed_regions=allowed_regions)
    except ValidationFailed as exc:
        raise ValidationFailed(
            "Not a mobile number we can reach.",
            code="invalid_phone_number",
            errors=[FieldProblem(path, e.message) for e in exc.errors],
        ) from exc


def parse_identifier(raw: str, *, default_region: str, allowed_regions: Collection[str]) -> Identifier:
    """An email (anything with an ``@``) or a phone number, normalised."""
    text = raw.strip() if isinstance(raw, str) else ""
    if "@" in text:
        return Identifier(Channel.EMAIL, normalize_email(text, path="identifier"))
    phone = normalize_phone_number(
        text, default_region=default_region, allowed_regions=allowed_regions, path="identifier"
    )
    return Identifier(Channel.PHONE, phone)


def clean_password(
    password: str, *, identifiers: Iterable[str], common: Collection[str], path: str = "password"
) -> str:
    """The NFKC form of an acceptable password, or ``weak_password``.

    8-128 characters of any script and no character-class rules (NIST SP 800-63B); refused
    when it is a well-known password or contains the account's identifier.
    """
    clean = unicodedata.normalize("NFKC", password) if isinstance(password, str) else ""

    def weak(reason: str) -> ValidationFailed:
        return ValidationFailed(
            "Choose a stronger password.", code="weak_password", errors=[FieldProblem(path, reason)]
        )

    if not MIN_PASSWORD <= len(clean) <= MAX_PASSWORD:
        raise weak(f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    folded = clean.casefold()
    if folded in common:
        raise weak("is a commonly used password")
    for identifier in identifiers:
        for part in _identifier_parts(identifier):
            if part in folded:
                raise weak("must not contain your email or phone number")
    return clean


def _identifier_parts(identifier: str) -> list[str]:
    ident = identifier.casefold()
    if "@" in ident:
        local = ident.split("@", 1)[0]
        return [p for p in (ident, local) if len(p) >= 4]
    digits = re.sub(r"\D", "", ident)
    # The subscriber part (what people type without the country code) and the whole number.
    return [p for p in (digits, digits[-9:]) if len(p) >= 6]


@dataclass
class Account:
    id: uuid.UUID
    status: AccountStatus
    display_name: str
    locale: str
    created_at: datetime
    email: str | None = None
    phone: str | None = None
    email_verified: bool = False
    phone_verified: bool = False
    password_hash: str | None = None
    requested_username: str | None = None
    roles: frozenset[str] = field(default_factory=lambda: frozenset({"user"}))

    def identifier(self, channel: Channel) -> str | None:
        return self.email if channel is Channel.EMAIL else self.phone

    @property
    def identifiers(self) -> list[str]:
        return [v for v in (self.email, self.phone) if v]


def clean_display_name(raw: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", raw).split()) if isinstance(raw, str) else ""
    if not 1 <= len(name) <= 80:
        raise ValidationFailed(
            "A display name needs 1 to 80 characters.",
            code="validation_failed",
            errors=[FieldProblem("displayName", "must be 1 to 80 characters")],
        )
    return name


def clean_roles(roles: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(roles)
    unknown = sorted(wanted - ROLES)
    if unknown:
        raise ValidationFailed(
            "Unknown roles.",
            code="validation_failed",
            errors=[FieldProblem("roles", f"unknown roles {unknown}")],
        )
    return wanted | {"user"}


class Gone(DomainError):
    status = 410
    default_code = "gone"
    title = "Gone"
