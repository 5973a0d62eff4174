"""Pure rules: identifiers, passwords, challenges and sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from nexgate.auth.domain.accounts import (
    Channel,
    Gone,
    clean_display_name,
    clean_password,
    clean_roles,
    mask,
    normalize_email,
    parse_identifier,
)
from nexgate.auth.domain.challenges import Challenge, Purpose
from nexgate.auth.domain.sessions import Device, Session
from nexgate.kernel.errors import NotFound, RateLimited, ValidationFailed

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REGIONS = ("TZ", "KE", "UG", "RW", "BI")
FULL_WIDTH = "\uff48\uff41\uff42\uff41\uff52\uff49 yako rafiki"  # "habari" in full-width letters


def test_email_is_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Amina.Juma@Example.COM ") == "amina.juma@example.com"
    for bad in ["", "amina", "amina@", "@example.com", "a b@example.com", "a@b"]:
        with pytest.raises(ValidationFailed) as caught:
            normalize_email(bad)
        assert caught.value.code == "invalid_email"


def test_identifier_is_an_email_or_a_mobile_number() -> None:
    phone = parse_identifier("0712 345 678", default_region="TZ", allowed_regions=REGIONS)
    assert phone.value == "+255712345678"
    assert phone.channel is Channel.PHONE
    email = parse_identifier("A@Example.com", default_region="TZ", allowed_regions=REGIONS)
    assert email.channel is Channel.EMAIL
    with pytest.raises(ValidationFailed) as caught:
        parse_identifier("+255 22 212 3456", default_region="TZ", allowed_regions=REGIONS)
    assert caught.value.code == "invalid_phone_number"
    assert caught.value.errors[0].path == "identifier"


def test_masks_show_only_the_ends() -> None:
    assert mask(Channel.PHONE, "+255712345678") == "+255•••••5678"
    assert mask(Channel.EMAIL, "amina@example.com") == "a•••@example.com"


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("1234567", False),
        ("x" * 129, False),
        ("x" * 128, True),
        ("PASSWORD123", False),
        ("habari yako rafiki", True),
        (FULL_WIDTH, True),  # full-width letters are folded by NFKC
        ("amina2026!!", False),  # contains the email's local part
        ("call+255712345678", False),
        ("my number 712345678", False),
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    identifiers = ["amina@example.com", "+255712345678"]
    if ok:
        assert clean_password(password, identifiers=identifiers, common={"password123"})
    else:
        with pytest.raises(ValidationFailed) as caught:
            clean_password(password, identifiers=identifiers, common={"password123"})
        assert caught.value.code == "weak_password"


def test_nfkc_is_what_gets_hashed() -> None:
    assert clean_password(FULL_WIDTH, identifiers=[], common=set()) == "habari yako rafiki"


def test_display_name_and_roles() -> None:
    assert clean_display_name("  Amina   Juma ") == "Amina Juma"
    with pytest.raises(ValidationFailed):
        clean_display_name("   ")
    assert clean_roles(["staff"]) == {"staff", "user"}
    with pytest.raises(ValidationFailed):
        clean_roles(["root"])


def challenge(**changes: object) -> Challenge:
    base = Challenge(
        id=uuid.uuid4(),
        purpose=Purpose.REGISTRATION,
        channel=Channel.PHONE,
        destination="+255712345678",
        code_hash=b"\0" * 32,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=10),
        last_sent_at=NOW,
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_challenge_usability() -> None:
    challenge().ensure_usable(Purpose.REGISTRATION, NOW)
    with pytest.raises(NotFound):
        challenge().ensure_usable(Purpose.PASSWORD_RESET, NOW)
    with pytest.raises(Gone):
        challenge().ensure_usable(Purpose.REGISTRATION, NOW + timedelta(minutes=10))
    with pytest.raises(Gone):
        challenge(consumed_at=NOW).ensure_usable(Purpose.REGISTRATION, NOW)
    with pytest.raises(Gone):
        challenge(superseded_at=NOW).ensure_usable(Purpose.REGISTRATION, NOW)
    with pytest.raises(RateLimited) as caught:
        challenge(attempts=5).ensure_usable(Purpose.REGISTRATION, NOW)
    assert caught.value.code == "too_many_attempts"
    assert challenge().resend_available_at == NOW + timedelta(seconds=60)


def test_session_lifetimes() -> None:
    session = Session.start(
        id=uuid.uuid4(), account_id=uuid.uuid4(), device=Device("d" * 8, "ios"), device_hash=b"h", now=NOW
    )
    assert session.is_live(NOW + timedelta(days=59))
    assert not session.is_live(NOW + timedelta(days=60))
    assert session.touched(NOW + timedelta(days=59)) == NOW + timedelta(days=119)
    # Use keeps it alive, but never past a year.
    assert session.touched(NOW + timedelta(days=340)) == NOW + timedelta(days=365)
    session.revoked_at = NOW
    assert not session.is_live(NOW)


def test_ip_masking() -> None:
    from nexgate.auth.domain.sessions import mask_ip

    assert mask_ip("196.41.12.7") == "196.41.x.x"
    assert mask_ip("2c0f:fe38:2000::1") == "2c0f:fe38:x"
    assert mask_ip(None) == mask_ip("testclient") == "unknown"
