from decimal import ROUND_HALF_UP, Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.money import (
    CURRENCY_EXPONENTS,
    CurrencyMismatch,
    FractionalAmount,
    Money,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def money(draw: st.DrawFn, currency: str | None = None) -> Money:
    return Money(draw(amounts), currency or draw(currencies))


@st.composite
def two_currencies(draw: st.DrawFn) -> tuple[str, str]:
    a = draw(currencies)
    b = draw(currencies.filter(lambda c: c != a))
    return a, b


# -- construction and validation ---------------------------------------------


@pytest.mark.parametrize("currency", ["EUR", "tzs", "", "TZSX"])
def test_unsupported_currency_is_refused(currency: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        Money(100, currency)
    assert exc.value.code == "unsupported_currency"


@pytest.mark.parametrize("amount", [True, 1.5, "100", Decimal(1)])
def test_amount_must_be_an_int(amount: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        Money(amount, "TZS")  # type: ignore[arg-type]
    assert exc.value.code == "invalid_amount"


def test_zero() -> None:
    assert Money.zero("KES") == Money(0, "KES")


@pytest.mark.parametrize(
    ("major", "currency", "amount"),
    [
        ("1500", "TZS", 150_000),
        ("1500.5", "TZS", 150_050),
        ("1500.50", "TZS", 150_050),
        ("1500.500", "TZS", 150_050),
        ("-0.01", "KES", -1),
        (Decimal("12.34"), "USD", 1234),
        (1500, "UGX", 1500),
        (7, "TZS", 700),
        ("1e3", "RWF", 1000),
        ("  2500 ", "BIF", 2500),
        ("0.00", "TZS", 0),
    ],
)
def test_of_builds_exact_minor_units(major: str | int | Decimal, currency: str, amount: int) -> None:
    assert Money.of(major, currency) == Money(amount, currency)


@pytest.mark.parametrize(
    ("major", "currency"),
    [("1500.505", "TZS"), ("0.001", "USD"), ("1500.5", "UGX"), ("1e-30", "TZS"), (Decimal("0.1"), "RWF")],
)
def test_of_refuses_more_decimals_than_the_currency_has(major: str | Decimal, currency: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        Money.of(major, currency)
    assert exc.value.code == "invalid_amount"


@pytest.mark.parametrize("major", ["abc", "1,500", "NaN", "Infinity", "", "1e40"])
def test_of_refuses_non_numbers(major: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        Money.of(major, "TZS")
    assert exc.value.code == "invalid_amount"


@pytest.mark.parametrize("major", [1500.0, 0.1, True])
def test_of_refuses_floats_and_bools(major: object) -> None:
    with pytest.raises(TypeError):
        Money.of(major, "TZS")  # type: ignore[arg-type]


@given(amount=amounts, currency=currencies)
def test_of_round_trips_through_the_major_unit_string(amount: int, currency: str) -> None:
    m = Money(amount, currency)
    exp = CURRENCY_EXPONENTS[currency]
    major = Decimal(amount).scaleb(-exp)
    assert Money.of(str(major), currency) == m
    assert Money.of(major, currency) == m


# -- arithmetic ---------------------------------------------------------------


@given(data=st.data(), currency=currencies)
def test_add_then_subtract_is_identity(data: st.DataObject, currency: str) -> None:
    a = data.draw(money(currency))
    b = data.draw(money(currency))
    assert a + b - b == a
    assert (a + b).amount == a.amount + b.amount
    assert (-a).amount == -a.amount
    assert -(a * -1) == a
    assert a + (-a) == Money.zero(currency)


@given(m=money(), factor=st.integers(min_value=-1000, max_value=1000))
def test_multiply_by_int(m: Money, factor: int) -> None:
    assert m * factor == Money(m.amount * factor, m.currency)
    assert factor * m == m * factor


@pytest.mark.parametrize("factor", [1.5, True, Decimal(2), Money(1, "TZS")])
def test_multiply_by_anything_but_int_is_a_type_error(factor: object) -> None:
    with pytest.raises(TypeError):
        Money(100, "TZS") * factor  # type: ignore[operator]


@given(pair=two_currencies(), x=amounts, y=amounts)
def test_mixing_currencies_always_raises(pair: tuple[str, str], x: int, y: int) -> None:
    a, b = Money(x, pair[0]), Money(y, pair[1])
    for op in (
        lambda: a + b,
        lambda: a - b,
        lambda: a < b,
        lambda: a <= b,
        lambda: a > b,
        lambda: a >= b,
    ):
        with pytest.raises(CurrencyMismatch) as exc:
            op()
        assert exc.value.code == "currency_mismatch"
        assert isinstance(exc.value, ValidationFailed)
    assert a != b


@given(data=st.data(), currency=currencies)
def test_comparisons_follow_the_amount(data: st.DataObject, currency: str) -> None:
    a = data.draw(money(currency))
    b = data.draw(money(currency))
    assert (a < b) == (a.amount < b.amount)
    assert (a <= b) == (a.amount <= b.amount)
    assert (a > b) == (a.amount > b.amount)
    assert (a >= b) == (a.amount >= b.amount)
    assert max(a, b).amount == max(a.amount, b.amount)


def test_money_is_hashable_and_immutable() -> None:
    m = Money(100, "TZS")
    assert {m, Money(100, "TZS")} == {m}
    with pytest.raises(AttributeError):
        m.amount = 5  # type: ignore[misc]


# -- allocate and fees ----------------------------------------------------------


@given(m=money(), n=st.integers(min_value=1, max_value=50))
def test_allocate_equal_weights_sums_to_total_and_differs_by_at_most_one(m: Money, n: int) -> None:
    shares = m.allocate([1] * n)
    assert len(shares) == n
    assert sum(s.amount for s in shares) == m.amount
    assert {s.currency for s in shares} == {m.currency}
    assert max(s.amount for s in shares) - min(s.amount for s in shares) <= 1


@given(m=money(), weights=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=20))
def test_allocate_is_within_one_minor_unit_of_the_exact_share(m: Money, weights: list[int]) -> None:
    total = sum(weights)
    if total == 0:
        with pytest.raises(ValueError, match="positive"):
            m.allocate(weights)
        return
    shares = m.allocate(weights)
    assert sum(s.amount for s in shares) == m.amount
    for share, w in zip(shares, weights, strict=True):
        # |share - amount * w / total| < 1, in integers.
        assert abs(share.amount * total - m.amount * w) < total
        if w == 0:
            assert share.amount == 0


def test_allocate_gives_leftover_to_largest_remainders_then_earliest() -> None:
    assert [s.amount for s in Money(100, "TZS").allocate([1, 1, 1])] == [34, 33, 33]
    assert [s.amount for s in Money(5, "UGX").allocate([3, 7])] == [2, 3]
    assert [s.amount for s in Money(10, "UGX").allocate([1, 2])] == [3, 7]
    assert [s.amount for s in Money(-100, "TZS").allocate([1, 1, 1])] == [-34, -33, -33]


@pytest.mark.parametrize("weights", [[], [-1, 2], [True, 1]])
def test_allocate_refuses_bad_weights(weights: list[int]) -> None:
    with pytest.raises(ValueError, match="weight"):
        Money(100, "TZS").allocate(weights)


@pytest.mark.parametrize(
    ("amount", "bp", "expected"),
    [
        (150_000, 250, 3750),  # 2.5 % of TZS 1,500.00
        (10_000, 1, 1),  # exactly 1.00 minor unit
        (5_000, 1, 0),  # 0.5 -> 0 (half to even)
        (15_000, 1, 2),  # 1.5 -> 2 (half to even)
        (25_000, 1, 2),  # 2.5 -> 2 (half to even)
        (-25_000, 1, -2),
        (333, 10_000, 333),
    ],
)
def test_percent_of_rounds_half_even(amount: int, bp: int, expected: int) -> None:
    assert Money(amount, "TZS").percent_of(bp) == Money(expected, "TZS")


def test_percent_of_accepts_another_rounding() -> None:
    assert Money(25_000, "TZS").percent_of(1, rounding=ROUND_HALF_UP) == Money(3, "TZS")


@given(amount=st.integers(min_value=-(10**30), max_value=10**30), bp=st.integers(0, 10_000))
def test_percent_of_is_exact_even_for_huge_amounts(amount: int, bp: int) -> None:
    got = Money(amount, "TZS").percent_of(bp).amount
    # Within half a minor unit of the exact value.
    assert abs(got * 10_000 - amount * bp) * 2 <= 10_000


# -- boundaries and display -------------------------------------------------------


def test_to_major_units_whole() -> None:
    assert Money(150_000, "TZS").to_major_units_whole() == 1500
    assert Money(1500, "UGX").to_major_units_whole() == 1500
    assert Money(-10_000, "KES").to_major_units_whole() == -100


@pytest.mark.parametrize("amount", [150_050, 1, -150])
def test_to_major_units_whole_refuses_cents(amount: int) -> None:
    with pytest.raises(FractionalAmount) as exc:
        Money(amount, "TZS").to_major_units_whole()
    assert exc.value.code == "fractional_amount"
    assert isinstance(exc.value, ValidationFailed)


@pytest.mark.parametrize(
    ("m", "text"),
    [
        (Money(150_000, "TZS"), "TZS 1,500.00"),
        (Money(150_005, "KES"), "KES 1,500.05"),
        (Money(-1, "USD"), "USD -0.01"),
        (Money(1_234_567, "UGX"), "UGX 1,234,567"),
        (Money(0, "RWF"), "RWF 0"),
    ],
)
def test_str(m: Money, text: str) -> None:
    assert str(m) == text


# -- wire format -------------------------------------------------------------------


def test_json_shape() -> None:
    assert msgspec.json.encode(Money(150_000, "TZS")) == b'{"amount":150000,"currency":"TZS"}'


@given(m=money())
def test_json_round_trip(m: Money) -> None:
    assert msgspec.json.decode(msgspec.json.encode(m), type=Money) == m


@pytest.mark.parametrize(
    "payload",
    [
        b'{"amount":100,"currency":"EUR"}',
        b'{"amount":100,"currency":"tzs"}',
        b'{"amount":1.5,"currency":"TZS"}',
        b'{"amount":true,"currency":"TZS"}',
        b'{"amount":"100","currency":"TZS"}',
        b'{"currency":"TZS"}',
    ],
)
def test_invalid_json_is_a_validation_error(payload: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(payload, type=Money)
