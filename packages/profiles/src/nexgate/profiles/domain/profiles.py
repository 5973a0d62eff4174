"""Profile rules: usernames, display names, bios and avatars. Pure Python."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import phonenumbers

from nexgate.kernel.errors import Conflict, FieldProblem, ValidationFailed

MIN_USERNAME, MAX_USERNAME = 3, 30
MAX_DISPLAY_NAME = 50
MAX_BIO = 160
MAX_LOCATION_LABEL = 60
MAX_LINKS, MAX_LINK_URL, MAX_LINK_TITLE = 5, 200, 50
#: A username may change once per this period; the old one is held as long for its owner.
USERNAME_COOLDOWN = timedelta(days=14)
USERNAME_HOLD = timedelta(days=14)
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


def next_username_change(changed_at: datetime | None) -> datetime | None:
    return changed_at + USERNAME_COOLDOWN if changed_at is not None else None


def check_username_cooldown(changed_at: datetime | None, now: datetime) -> None:
    """A username changes at most once per 14 days (409 ``username_change_too_soon``)."""
    allowed_at = next_username_change(changed_at)
    if allowed_at is not None and now < allowed_at:
        raise Conflict(
            "You changed your username recently.",
            code="username_change_too_soon",
            extra={"nextChangeAt": allowed_at.isoformat()},
        )


def username_suggestions(wanted: str, count: int = 3) -> list[str]:
    """Valid variants of ``wanted`` (free ones are picked by the caller): suffixes and digits."""
    stem = re.sub(r"[^a-z0-9_]", "", wanted.lower()).lstrip("0123456789_")[:24] or "user"
    if len(stem) < MIN_USERNAME - 1:
        stem = f"{stem}user"
    found = [f"{stem}_{secrets.randbelow(10**i):0{i}d}" for i in (2, 3, 4)]
    found += [generated_username(stem, digits=4 + i // 3) for i in range(count * 3)]
    return [n for n in dict.fromkeys(found) if username_problem(n) is None]


@dataclass(frozen=True)
class Link:
    url: str
    title: str | None = None


def _invalid_link(index: int, why: str) -> ValidationFailed:
    return ValidationFailed(
        f"Link {index + 1}: {why}",
        code="invalid_link",
        errors=[FieldProblem(f"links[{index}]", why)],
    )


def validate_links(links: Sequence[Link]) -> tuple[Link, ...]:
    """At most 5 http(s) links of at most 200 characters, no userinfo. Never fetched."""
    if len(links) > MAX_LINKS:
        raise ValidationFailed(
            "At most 5 links.", code="invalid_link", errors=[FieldProblem("links", "at most 5 links")]
        )
    clean = []
    for i, link in enumerate(links):
        url = link.url.strip()
        if len(url) > MAX_LINK_URL:
            raise _invalid_link(i, "must be at most 200 characters")
        if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
            raise _invalid_link(i, "must not contain spaces or control characters")
        try:
            parts = urlsplit(url)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            raise _invalid_link(i, "is not a valid URL") from None
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or not port_ok:
            raise _invalid_link(i, "must be an http or https URL")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise _invalid_link(i, "must not carry a user name or password")
        title = unicodedata.normalize("NFC", link.title).strip() if link.title else None
        if title is not None and (len(title) > MAX_LINK_TITLE or _has_control(title)):
            raise _invalid_link(i, "title must be at most 50 printable characters")
        clean.append(Link(url=url, title=title or None))
    return tuple(clean)


def validate_location(label: str, country_code: str | None) -> tuple[str, str | None]:
    """A free-text label (at most 60 characters) and an ISO 3166-1 alpha-2 country code."""
    text = unicodedata.normalize("NFC", label).strip()
    if not 1 <= len(text) <= MAX_LOCATION_LABEL or _has_control(text):
        raise ValidationFailed(
            "A location label needs 1 to 60 printable characters.",
            code="invalid_location",
            errors=[FieldProblem("location.label", "must be 1 to 60 printable characters")],
        )
    code = country_code.upper() if country_code else None
    if code is not None and code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationFailed(
            "Unknown country code.",
            code="invalid_location",
            errors=[FieldProblem("location.countryCode", "must be an ISO 3166-1 alpha-2 code")],
        )
    return text, code


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
    trust_score: int = 0
    trust_level: str = "new"
    username_changed_at: datetime | None = None
    location_label: str | None = None
    location_country: str | None = None
    links: tuple[Link, ...] = ()
    avatar_url: str | None = None
    avatar_blurhash: str | None = None
    avatar_pending_file_id: uuid.UUID | None = None

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


@dataclass(frozen=True)
class MessagePermission:
    """How a sender may reach a recipient in chat: directly, only as a request, or not at all."""

    allowed: bool
    needs_request: bool


def message_permission(audience: str, *, recipient_follows_sender: bool) -> MessagePermission:
    """``whoCanMessage``: people the recipient follows always get through directly; with
    ``everyone`` the others land in message requests; ``nobody`` shuts everyone else out."""
    if recipient_follows_sender:
        return MessagePermission(allowed=audience != "nobody", needs_request=False)
    if audience == "everyone":
        return MessagePermission(allowed=True, needs_request=True)
    return MessagePermission(allowed=False, needs_request=False)


def mention_allowed(audience: str, *, target_follows_author: bool) -> bool:
    """``whoCanMention``: everyone, only people the target follows, or nobody."""
    return audience == "everyone" or (audience == "people_i_follow" and target_follows_author)
