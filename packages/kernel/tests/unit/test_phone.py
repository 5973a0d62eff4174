import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.phone import normalize_phone, phone_region


@pytest.mark.parametrize("raw", ["0712 345 678", "712345678", "255712345678", "+255-712-345-678"])
def test_tanzanian_forms_normalise_to_one_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+255712345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0712345678", "+254712345678"),
        ("0110123456", "+254110123456"),  # the newer 01xx Safaricom/Airtel ranges
        ("+254712345678", "+254712345678"),
        ("254712345678", "+254712345678"),
    ],
)
def test_kenyan_numbers_with_kenyan_default(raw: str, expected: str) -> None:
    assert normalize_phone(raw, default_region="KE") == expected
    assert phone_region(expected) == "KE"


@pytest.mark.parametrize(
    ("raw", "expected", "region"),
    [
        ("+254712345678", "+254712345678", "KE"),
        ("254712345678", "+254712345678", "KE"),  # no "+", not the default region's code
        ("+256 772 123456", "+256772123456", "UG"),
        ("256772123456", "+256772123456", "UG"),
        ("+250788123456", "+250788123456", "RW"),
        ("+257 79 123 456", "+25779123456", "BI"),
        ("00255712345678", "+255712345678", "TZ"),
    ],
)
def test_other_east_african_numbers_with_tanzanian_default(raw: str, expected: str, region: str) -> None:
    assert normalize_phone(raw) == expected
    assert phone_region(expected) == region


def _rejected(raw: str, **kwargs: object) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as exc:
        normalize_phone(raw, **kwargs)  # type: ignore[arg-type]
    err = exc.value
    assert err.code == "invalid_phone"
    assert [p.path for p in err.errors] == ["phone"]
    return err


@pytest.mark.parametrize("raw", ["0222 123 456", "+255222123456", "+254202012345"])
def test_landlines_are_rejected_when_a_mobile_is_required(raw: str) -> None:
    assert "mobile" in _rejected(raw).detail
    assert normalize_phone(raw, require_mobile=False).startswith("+25")


@pytest.mark.parametrize("raw", ["+14155552671", "+447911123456", "+27821234567"])
def test_numbers_from_regions_not_allowed_are_rejected(raw: str) -> None:
    assert "not accepted" in _rejected(raw).detail


def test_allowed_regions_narrow_the_accepted_set() -> None:
    assert normalize_phone("+254712345678", allowed_regions=["KE"]) == "+254712345678"
    _rejected("+255712345678", allowed_regions=["KE"])
    _rejected("0712345678", default_region="TZ", allowed_regions=["ke"])


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "hello",
        "call 0712345678",
        "0712345678 ext 5",
        "07ABCDEFGH",
        "0712",
        "071234567890123",
        "+255 612",
        "0642345678",  # 064 is not an assigned Tanzanian range
        "++255712345678",
        "+" + "7" * 40,
    ],
)
def test_garbage_and_invalid_numbers_are_rejected(raw: str) -> None:
    _rejected(raw)


def test_non_string_is_rejected() -> None:
    _rejected(712345678)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["0712345678", "+255", "+999712345678", "nonsense"])
def test_phone_region_refuses_non_e164(bad: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        phone_region(bad)
    assert exc.value.code == "invalid_phone"


# libphonenumber's Tanzanian mobile ranges are 6[0-35-9]x and 7xx; 064 is unassigned.
tz_prefixes = st.sampled_from([p for p in range(61, 80) if p != 64])
subscriber = st.integers(min_value=0, max_value=9_999_999).map(lambda n: f"{n:07d}")


@given(prefix=tz_prefixes, rest=subscriber)
def test_every_written_form_of_a_tz_mobile_normalises_identically(prefix: int, rest: str) -> None:
    national = f"{prefix}{rest}"
    expected = f"+255{national}"
    forms = [
        f"0{national}",
        national,
        expected,
        f"255{national}",
        f"0{national[:2]} {national[2:5]} {national[5:]}",
        f"+255 {national[:3]} {national[3:6]} {national[6:]}",
        f"+255-{national[:3]}-{national[3:6]}-{national[6:]}",
    ]
    assert {normalize_phone(f) for f in forms} == {expected}
    assert phone_region(expected) == "TZ"
