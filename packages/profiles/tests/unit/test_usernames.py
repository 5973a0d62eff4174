"""Username, display-name and bio rules (pure domain)."""

from __future__ import annotations

import pytest

from nexgate.kernel.errors import ValidationFailed
from nexgate.profiles.domain.profiles import (
    RESERVED_USERNAMES,
    generated_username,
    slug_base,
    username_problem,
    validate_bio,
    validate_display_name,
    validate_username,
)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ab", "length"),
        ("a" * 31, "length"),
        ("1abc", "must_start_with_letter"),
        ("_abc", "must_start_with_letter"),
        ("ab-c", "characters"),
        ("abç", "characters"),
        ("ab c", "characters"),
        ("abc.", "periods"),
        ("a..bc", "periods"),
        ("admin", "reserved"),
        ("me", "length"),
        ("nexgate", "reserved"),
        ("settings", "reserved"),
    ],
)
def test_invalid_usernames_carry_a_reason(raw: str, reason: str) -> None:
    assert username_problem(raw) == reason
    with pytest.raises(ValidationFailed) as caught:
        validate_username(raw)
    assert caught.value.code == "invalid_username"
    assert caught.value.extra == {"reason": reason}


def test_usernames_are_stored_lower_case() -> None:
    assert validate_username("  Amina.Shop_2 ") == "amina.shop_2"
    assert validate_username("SUPPORT".lower() + "er") == "supporter"
    with pytest.raises(ValidationFailed):
        validate_username("Support")  # reserved whatever the case


@pytest.mark.parametrize(
    ("display", "stem"),
    [
        ("Amina Juma", "aminajuma"),
        ("Ñandú Café", "nanducafe"),
        ("名前", "user"),
        ("42", "user"),
        ("7Up Store", "upstore"),
    ],
)
def test_generated_usernames_are_ascii_slugs_plus_digits(display: str, stem: str) -> None:
    assert slug_base(display) == stem
    for _ in range(50):
        name = generated_username(display)
        assert name.startswith(stem)
        assert name[len(stem) :].isdigit()
        assert username_problem(name) is None
        assert name not in RESERVED_USERNAMES


def test_display_name_nfc_length_and_control_characters() -> None:
    decomposed = "Jose\u0301"
    assert validate_display_name(f"  {decomposed} ") == "Jos\u00e9"
    assert validate_display_name("x" * 50) == "x" * 50
    for bad in ("", "   ", "x" * 51, "bad\u0000name", "zero\u200bwidth", "tab\there"):
        with pytest.raises(ValidationFailed) as caught:
            validate_display_name(bad)
        assert caught.value.code == "invalid_display_name"


def test_bio_limit() -> None:
    assert validate_bio("b" * 160) == "b" * 160
    with pytest.raises(ValidationFailed):
        validate_bio("b" * 161)
