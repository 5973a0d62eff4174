"""Escrow rules: what a release pays out and what a refund may return (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from nexgate.kernel.errors import Conflict, FieldProblem, ValidationFailed
from nexgate.kernel.money import Money
from nexgate.payments.domain.fees import split_fee
from nexgate.payments.domain.intents import Hold, HoldAlreadyReleased, HoldDisputed, HoldNotHeld, HoldStatus

#: Holds that still hold money: a disputed one too (only an admin releases it).
HOLDING = frozenset({HoldStatus.HELD, HoldStatus.DISPUTED})


class RefundExceedsHeld(Conflict):
    default_code = "refund_exceeds_held"


@dataclass(frozen=True, slots=True)
class Release:
    gross: Money
    fee: Money
    net: Money


def plan_release(hold: Hold, *, resolving_dispute: bool = False) -> Release:
    """What releasing ``hold`` pays: the fee (the hold's snapshotted basis points) on what is
    still held, rounded half-up to the whole shilling, and the rest to the payee. A disputed
    hold is released only by an admin resolving the dispute."""
    if hold.status is HoldStatus.RELEASED:
        raise HoldAlreadyReleased("This hold was already released.")
    if hold.status is HoldStatus.DISPUTED and not resolving_dispute:
        raise HoldDisputed("This hold is disputed: an admin resolves it first.")
    if hold.status not in HOLDING or hold.held.amount <= 0:
        raise HoldNotHeld("This hold holds no money to release.")
    fee, net = split_fee(hold.held, hold.fee_bps)
    return Release(hold.held, fee, net)


def plan_refund(hold: Hold, amount: Money | None) -> Money:
    """How much a refund of ``amount`` (None: all that is held) returns to the payer."""
    if hold.status is HoldStatus.RELEASED:
        raise HoldAlreadyReleased("This hold was already released to the payee.")
    if hold.status not in HOLDING or hold.held.amount <= 0:
        raise HoldNotHeld("This hold holds no money to refund.")
    if amount is None:
        return hold.held
    if amount.currency != hold.held.currency:
        raise ValidationFailed(
            "A refund is in the hold's currency.",
            code="currency_mismatch",
            errors=[FieldProblem("amount.currency", f"must be {hold.held.currency}")],
        )
    if amount.amount <= 0:
        raise ValidationFailed(
            "Refund a positive amount.",
            code="invalid_amount",
            errors=[FieldProblem("amount", "must be positive")],
        )
    amount.to_major_units_whole()  # whole shillings, like every other movement
    if amount > hold.held:
        raise RefundExceedsHeld(f"Only {hold.held} is still held.")
    return amount


def plan_dispute(hold: Hold) -> bool:
    """True when ``hold`` becomes disputed; False when it already is (a no-op)."""
    if hold.status is HoldStatus.DISPUTED:
        return False
    if hold.status is HoldStatus.RELEASED:
        raise HoldAlreadyReleased("This hold was already released to the payee.")
    if hold.status is not HoldStatus.HELD:
        raise HoldNotHeld("Only money held in escrow can be disputed.")
    return True
