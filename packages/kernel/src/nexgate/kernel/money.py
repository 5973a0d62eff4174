"""Money as integer minor units plus an ISO 4217 currency.

Never a float: 0.1 + 0.2 shillings must not become 0.30000000000000004, and
the wire format is ``{"amount": <int minor units>, "currency": "TZS"}``
(ARCHITECTURE.md section 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from types import MappingProxyType
from typing import Any

import msgspec

from nexgate.kernel.errors import FieldProblem, ValidationFailed

# Minor-unit exponents of the currencies we settle in. UGX, RWF and BIF have no
# minor unit in practice, so their amounts are whole francs/shillings.
CURRENCY_EXPONENTS = MappingProxyType({"TZS": 2, "KES": 2, "UGX": 0, "RWF": 0, "BIF": 0, "USD": 2})

# Money.of() refuses amounts with more integer digits than this: no real price
# is that large, and it stops "1e999999" from building a million-digit int.
_MAX_MAJOR_DIGITS = 24


class _DecodeValidationFailed(ValidationFailed, ValueError):
    """Also a ValueError so that, raised from ``__post_init__`` while decoding,
    msgspec reports it as a ``msgspec.ValidationError`` (a 400/422 at the edge)
    instead of letting it escape as an unexpected exception."""

    def __init__(self, detail: str, *, errors: Sequence[FieldProblem] = ()) -> None:
        ValidationFailed.__init__(self, detail, errors=errors)


class UnsupportedCurrency(_DecodeValidationFailed):
    default_code = "unsupported_currency"


class InvalidAmount(_DecodeValidationFailed):
    default_code = "invalid_amount"


class CurrencyMismatch(ValidationFailed):
    default_code = "currency_mismatch"


class FractionalAmount(ValidationFailed):
    default_code = "fractional_amount"


def _exponent(currency: object) -> int:
    if not isinstance(currency, str) or currency not in CURRENCY_EXPONENTS:
        raise UnsupportedCurrency(
            f"unsupported currency {currency!r}; supported: {', '.join(CURRENCY_EXPONENTS)}",
            errors=[FieldProblem("currency", "unsupported currency")],
        )
    return CURRENCY_EXPONENTS[currency]


def _is_int(value: object) -> bool:
    # bool is an int subclass; True shillings is a bug, not an amount.
    return isinstance(value, int) and not isinstance(value, bool)


class Money(msgspec.Struct, frozen=True):
    amount: int
    currency: str

    def __post_init__(self) -> None:
        # Runs on construction and on msgspec decode/convert alike.
        _exponent(self.currency)
        if not _is_int(self.amount):
            raise InvalidAmount(
                f"amount must be an integer number of minor units, got {type(self.amount).__name__}",
                errors=[FieldProblem("amount", "must be an integer")],
            )

    # -- constructors -------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def of(cls, major: str | int | Decimal, currency: str) -> Money:
        """Build from major units, e.g. ``Money.of("1500.50", "TZS")``.

        Exact or nothing: a value that needs more decimals than the currency
        has is refused rather than rounded (trailing zeros are fine).
        """
        exp = _exponent(currency)
        if isinstance(major, float | bool) or not isinstance(major, str | int | Decimal):
            raise TypeError(f"Money.of() takes str, int or Decimal, not {type(major).__name__}")
        if isinstance(major, int):
            return cls(major * 10**exp, currency)
        try:
            value = Decimal(major.strip()) if isinstance(major, str) else major
        except InvalidOperation:
            raise _invalid_amount(f"not a number: {major!r}") from None
        if not value.is_finite():
            raise _invalid_amount(f"not a finite amount: {major!r}")
        if value.is_zero():
            return cls(0, currency)
        sign, digits, dexp = value.as_tuple()
        assert isinstance(dexp, int)  # finite, checked above
        if value.adjusted() >= _MAX_MAJOR_DIGITS:
            raise _invalid_amount(f"amount too large: {major!r}")
        shift = dexp + exp
        n = int("".join(map(str, digits)))
        if shift >= 0:
            minor = n * 10**shift
        else:
            # With more fractional digits than significant digits the value
            # cannot be whole; checking first avoids a huge 10**-shift.
            if -shift > len(digits):
                raise _too_many_decimals(major, currency, exp)
            minor, rest = divmod(n, 10**-shift)
            if rest:
                raise _too_many_decimals(major, currency, exp)
        return cls(-minor if sign else minor, currency)

    # -- arithmetic -----------------------------------------------------------

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency} with {other.currency}",
                extra={"currencies": [self.currency, other.currency]},
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: object) -> Money:
        # Only whole multipliers (quantities): a float or Decimal factor would
        # need a rounding decision, which belongs in percent_of/allocate.
        if not _is_int(factor):
            return NotImplemented
        assert isinstance(factor, int)
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    # Equality stays msgspec's field-wise one: TZS 0 != KES 0 is simply False,
    # and raising there would break `in` checks and dict keys.

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount >= other.amount

    # -- splitting and fees ---------------------------------------------------

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split by integer weights so the shares add up to exactly this amount.

        Largest-remainder method: each share gets its floor, then the minor
        units left over go one each to the shares with the largest remainders
        (earlier shares win ties), so no cent is created or lost.
        """
        if not weights:
            raise ValueError("allocate() needs at least one weight")
        if any(not _is_int(w) or w < 0 for w in weights):
            raise ValueError("weights must be non-negative integers")
        total_weight = sum(weights)
        if total_weight == 0:
            raise ValueError("at least one weight must be positive")
        # Work on the magnitude so a refund (negative amount) splits as the
        # mirror image of the payment it reverses.
        magnitude = abs(self.amount)
        parts = [divmod(magnitude * w, total_weight) for w in weights]
        shares = [q for q, _ in parts]
        leftover = magnitude - sum(shares)
        by_remainder = sorted(range(len(weights)), key=lambda i: -parts[i][1])
        for i in by_remainder[:leftover]:
            shares[i] += 1
        sign = -1 if self.amount < 0 else 1
        return [Money(sign * s, self.currency) for s in shares]

    def percent_of(self, basis_points: int, rounding: str = ROUND_HALF_EVEN) -> Money:
        """``basis_points``/10000 of this amount, rounded to a minor unit (250 bp = 2.5 %)."""
        if not _is_int(basis_points):
            raise TypeError("basis_points must be an int")
        product = self.amount * basis_points
        with localcontext() as ctx:
            # Enough precision that the division by 10_000 is exact before the
            # single, explicit rounding step.
            ctx.prec = len(str(abs(product))) + 10
            exact = Decimal(product) / Decimal(10_000)
            minor = int(exact.to_integral_value(rounding=rounding))
        return Money(minor, self.currency)

    # -- boundaries -----------------------------------------------------------

    def to_major_units_whole(self) -> int:
        """Whole major units for mobile-money APIs that take whole shillings only.

        Refuses rather than truncates: silently charging 1,500 for 1,500.50
        would lose the customer's (or our) cents.
        """
        whole, cents = divmod(self.amount, 10**self.exponent)
        if cents:
            raise FractionalAmount(
                f"{self} has a fractional part and cannot be sent as whole {self.currency}",
                errors=[FieldProblem("amount", "must be a whole number of major units")],
            )
        return whole

    def __str__(self) -> str:
        exp = self.exponent
        whole, minor = divmod(abs(self.amount), 10**exp)
        sign = "-" if self.amount < 0 else ""
        text = f"{self.currency} {sign}{whole:,}"
        return f"{text}.{minor:0{exp}d}" if exp else text


def _invalid_amount(detail: str) -> InvalidAmount:
    return InvalidAmount(detail, errors=[FieldProblem("amount", detail)])


def _too_many_decimals(major: Any, currency: str, exp: int) -> InvalidAmount:
    return _invalid_amount(f"{major!s} has more than {exp} decimal places, the precision of {currency}")
