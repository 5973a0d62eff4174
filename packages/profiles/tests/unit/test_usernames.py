"""Username, display-name and bio rules (pure domain)."""

from __future__ import annotations

import pytest

from nexgate.kernel.errors import ValidationFailed
from nexgate.profiles.domain.profiles import (
    RESERVED_USERNAMES,
    Link,
    generated_username,
    mention_allowed,
    message_permission,
    slug_base,
    username_problem,
    validate_bio,
    validate_display_name,
    validate_links,
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


def test_links_rules() -> None:
    ok = validate_links([Link("  https://Duka.example/a?b=1#c ", " Shop "), Link("http://x.example:8080")])
    assert ok == (Link("https://Duka.example/a?b=1#c", "Shop"), Link("http://x.example:8080", None))
    for bad in (
        "javascript:alert(1)",
        "https://u:p@x.example",
        "https://u@x.example",
        "mailto:a@b.example",
        "https://x.example/" + "a" * 190,
        "//x.example",
        "https://x.example:0",
        "https://x.example:99999",
    ):
        with pytest.raises(ValidationFailed) as caught:
            validate_links([Link(bad)])
        assert caught.value.code == "invalid_link", bad
    with pytest.raises(ValidationFailed):
        validate_links([Link(f"https://{i}.example") for i in range(6)])


def test_who_can_message_and_mention() -> None:
    table = {
        ("everyone", True): (True, False),
        ("everyone", False): (True, True),
        ("people_i_follow", True): (True, False),
        ("people_i_follow", False): (False, False),
        ("nobody", True): (False, False),
        ("nobody", False): (False, False),
    }
    for (audience, follows), expected in table.items():
        got = message_permission(audience, recipient_follows_sender=follows)
        assert (got.allowed, got.needs_request) == expected, audience
    assert [mention_allowed(a, target_follows_author=f) for a in ("everyone", "people_i_follow", "nobody")
            for f in (True, False)] == [True, True, True, False, False, False]  # fmt: skip
