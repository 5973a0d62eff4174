"""The platform fee on an escrow release."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from nexgate.kernel.money import Money


def split_fee(gross: Money, basis_points: int) -> tuple[Money, Money]:
    """(fee, net) for ``gross``: the fee in basis points rounded half-up to the whole
    major unit (shilling), the net the rest; both whole when ``gross`` is."""
    if not 0 <= basis_points <= 10_000:
        raise ValueError("basis points must be within 0..10000")
    unit = 10**gross.exponent
    exact = Decimal(gross.amount) * basis_points / Decimal(10_000) / unit
    fee_major = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
    fee = Money(min(fee_major * unit, gross.amount), gross.currency)
    return fee, gross - fee
