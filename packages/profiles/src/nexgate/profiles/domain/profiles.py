"""Profile rules: usernames, display names, bios and avatars. Pure Python."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from nexgate.kernel.errors import FieldProblem, ValidationFailed

MIN_USERNAME, MAX_USERNAME = 3, 30
MAX_DISPLAY_NAME = 50
MAX_BIO = 160
_USERNAME = re.compile(r"^[a-z][a-z0-9_.]*$")

#: System, brand and route words nobody may take as a username.
RESERVED_USERNAMES = frozenset(
    {
        "about", "account", "accounts", "admin", "administrator", "api", "app", "auth", "billing",
        "blocks", "by-username", "contact", "dashboard", "explore", "feed", "files", "follow",
        "followers", "following", "help", "home", "login", "logout", "me", "messages", "mod",
        "moderator", "mutes", "nexgate", "notifications", "official", "payments", "privacy",
        "profile", "profiles", "register", "root", "search", "security", "settings", "signin",
        "signup", "staff", "support", "system", "terms", "trust", "username", "usernames", "www",
    }
)  # fmt: skip


def username_problem(candidate: str) -> str | None:
    """Why ``candidate`` (already lower-cased) is not a valid username, or None if it is."""
    if not MIN_USERNAME <= len(candidate) <= MAX_USERNAME:
        return "length"
    if not _USERNAME.match(candidate):
        return "characters" if candidate[:1].isalpha() or not candidate else "must_start_with_letter"
    if candidate.endswith(".") or ".." in candidate:
        return "periods"
    if candidate in RESERVED_USERNAMES:
        return "reserved"
    return None


def normalize_username(raw: str) -> str:
    """Usernames compare case-insensitively and are stored lower-case."""
    return raw.strip().lower()


def validate_username(raw: str) -> str:
    name = normalize_username(raw)
    reason = username_problem(name)
    if reason is not None:
        raise ValidationFailed(
            "That username is not allowed.",
            code="invalid_username",
            errors=[FieldProblem("username", reason)],
            extra={"reason": reason},
        )
    return name


def slug_base(display_name: str) -> str:
    """An ASCII slug of a display name: the stem of generated usernames (digits are appended)."""
    ascii_text = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "", ascii_text)
    slug = slug.lstrip("0123456789")
    if len(slug) < MIN_USERNAME - 1:
        slug = "user"
    return slug[:20]


def generated_username(display_name: str, digits: int = 4) -> str:
    """``slug + digits``: never reserved (reserved words carry no digits), always valid."""
    number = secrets.randbelow(10**digits)
    return f"{slug_base(display_name)}{number:0{digits}d}"


#: Who may message or mention a user.
AUDIENCES = ("everyone", "people_i_follow", "nobody")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in text)


def validate_display_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw).strip()
    if not 1 <= len(name) <= MAX_DISPLAY_NAME or _has_control(name):
        raise ValidationFailed(
            "A display name needs 1 to 50 characters and no control characters.",
            code="invalid_display_name",
            errors=[FieldProblem("displayName", "must be 1 to 50 printable characters")],
        )
    return name


def safe_display_name(raw: str, fallback: str) -> str:
    """The display name from a registration message, or ``fallback`` when it breaks the rules."""
    try:
        return validate_display_name(raw)
    except ValidationFailed:
        return fallback


def validate_bio(raw: str) -> str:
    bio = unicodedata.normalize("NFC", raw).strip()
    if len(bio) > MAX_BIO or any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in bio):
        raise ValidationFailed(
            "A bio holds at most 160 characters.",
            code="invalid_bio",
            errors=[FieldProblem("bio", "must be at most 160 printable characters")],
        )
    return bio


@dataclass(frozen=True)
class Profile:
    user_id: uuid.UUID
    username: str
    display_name: str
    bio: str
    avatar_file_id: uuid.UUID | None
    is_private: bool
    who_can_message: str
    who_can_mention: str
    show_activity: bool
    deactivated: bool
    email_verified: bool
    phone_verified: bool
    followers_count: int
    following_count: int
    version: int
    joined_at: datetime
    updated_at: datetime

    @classmethod
    def new(
        cls,
        *,
        user_id: uuid.UUID,
        username: str,
        display_name: str,
        joined_at: datetime,
        email_verified: bool = False,
        phone_verified: bool = False,
    ) -> Profile:
        return cls(
            user_id=user_id,
            username=username,
            display_name=display_name,
            bio="",
            avatar_file_id=None,
            is_private=False,
            who_can_message="everyone",
            who_can_mention="everyone",
            show_activity=True,
            deactivated=False,
            email_verified=email_verified,
            phone_verified=phone_verified,
            followers_count=0,
            following_count=0,
            version=1,
            joined_at=joined_at,
            updated_at=joined_at,
        )

    def edited(self, **changes: object) -> Profile:
        return replace(self, **changes)  # type: ignore[arg-type]
