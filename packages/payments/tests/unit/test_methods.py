"""The payment-method domain: phone forms, the operator prefix table, card numbers, masking."""

from __future__ import annotations

import pytest

from nexgate.kernel.errors import ValidationFailed
from nexgate.payments.application.collection import route
from nexgate.payments.application.methods import parse_mobile_number
from nexgate.payments.domain.methods import (
    CardNumbersNotAccepted,
    luhn_valid,
    mask,
    operator_of,
    refuse_card_number,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("0754123456", "TZ", "+255754123456"),
        ("754123456", "TZ", "+255754123456"),
        ("255754123456", "TZ", "+255754123456"),
        ("+255 754 123 456", "TZ", "+255754123456"),
        ("0712345678", "KE", "+254712345678"),
        ("712345678", "KE", "+254712345678"),
        ("254712345678", "TZ", "+254712345678"),
        ("+254 712 345 678", "TZ", "+254712345678"),
        ("0110123456", "KE", "+254110123456"),
    ],
)
def test_phone_forms_are_stored_as_e164(raw: str, region: str, e164: str) -> None:
    assert parse_mobile_number(raw, default_region=region) == e164


@pytest.mark.parametrize("raw", ["", "12", "0754", "not a phone", "+44 7700 900123", "0222123456"])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_mobile_number(raw)
    assert refused.value.code == "invalid_phone"


@pytest.mark.parametrize(
    ("e164", "operator"),
    [
        ("+255754123456", "vodacom"),
        ("+255764123456", "vodacom"),
        ("+255784123456", "airtel"),
        ("+255684123456", "airtel"),
        ("+255714123456", "tigo"),
        ("+255654123456", "tigo"),
        ("+255624123456", "halotel"),
        ("+254712345678", "safaricom"),
        ("+254110123456", "safaricom"),
        ("+254757123456", "safaricom"),
        ("+254750123456", "airtel"),
        ("+254733123456", "airtel"),
        ("+254100123456", "airtel"),
        ("+254771123456", "telkom"),
    ],
)
def test_the_operator_comes_from_the_longest_prefix(e164: str, operator: str) -> None:
    assert operator_of(e164)[1] == operator


def test_routing_follows_the_operator_and_the_payers_override() -> None:
    assert route("+255754123456", "TZS") == "selcom"
    assert route("+254712345678", "KES") == "mpesa"
    assert route("+255784123456", "TZS") == "tembo"  # Airtel
    with pytest.raises(ValidationFailed) as unsupported:
        route("+255734123456", "TZS")  # TTCL
    assert unsupported.value.code == "operator_not_supported"
    # A ported Airtel number that is Vodacom now: the payer's override decides.
    assert route("+255784123456", "TZS", operator="vodacom") == "selcom"
    with pytest.raises(ValidationFailed) as mismatch:
        route("+255754123456", "KES")
    assert mismatch.value.code == "method_currency_mismatch"
    # Routing comes from settings: another table, another provider.
    assert route("+255754123456", "TZS", routes={"TZ/vodacom": "tembo"}) == "tembo"
    with pytest.raises(ValidationFailed):
        route("+255784123456", "TZS", routes={"TZ/vodacom": "selcom"})


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",
        "378282246310005",  # 15 digits (Amex)
        "4222222222222",  # 13 digits
        "6011000990139424",
        "3530111333300000",
        "6212345678901265",
        "7992739871300000000",  # 19 digits
    ],
)
def test_card_numbers_are_refused_without_echoing_them(card: str) -> None:
    digits = "".join(c for c in card if c.isdigit())
    assert luhn_valid(digits), card
    with pytest.raises(CardNumbersNotAccepted) as refused:
        refuse_card_number(card)
    problem = refused.value
    assert problem.code == "card_numbers_not_accepted"
    assert digits not in str(problem.detail)
    assert card not in repr(problem.__dict__)


@pytest.mark.parametrize(
    "value",
    ["4111111111111112", "411111111111", "41111111111111111111", "+255754123456", "0712345678"],
)
def test_non_cards_pass_the_card_check(value: str) -> None:
    refuse_card_number(value)


def test_masking_keeps_the_last_three_digits() -> None:
    assert mask("+255754123456") == "**********456"
