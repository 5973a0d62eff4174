"""Escrow rules without I/O: what a release pays and what a refund may return."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexgate.kernel.errors import Conflict, ValidationFailed
from nexgate.kernel.money import Money
from nexgate.payments.domain.escrow import plan_refund, plan_release
from nexgate.payments.domain.intents import Hold, HoldStatus


def hold(held_major: int, status: HoldStatus = HoldStatus.HELD, fee_bps: int = 500) -> Hold:
    return Hold(
        id=uuid.uuid4(),
        intent_id=uuid.uuid4(),
        payer_id=uuid.uuid4(),
        payee_id=uuid.uuid4(),
        amount=Money.of(max(held_major, 1), "TZS"),
        held=Money.of(held_major, "TZS"),
        reference="r",
        status=status,
        fee_bps=fee_bps,
    )


@given(st.integers(1, 10_000_000), st.integers(0, 10_000))
def test_release_fee_plus_net_is_what_is_held_in_whole_shillings(major: int, bps: int) -> None:
    plan = plan_release(hold(major, fee_bps=bps))
    assert plan.fee + plan.net == plan.gross == Money.of(major, "TZS")
    assert plan.fee.amount % 100 == 0
    assert plan.net.amount % 100 == 0
    assert plan.fee.amount >= 0
    assert plan.net.amount >= 0


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (HoldStatus.RELEASED, "hold_already_released"),
        (HoldStatus.REFUNDED, "hold_not_held"),
        (HoldStatus.AWAITING_PAYMENT, "hold_not_held"),
        (HoldStatus.VOID, "hold_not_held"),
    ],
)
def test_only_a_held_hold_is_released_or_refunded(status: HoldStatus, code: str) -> None:
    with pytest.raises(Conflict) as release:
        plan_release(hold(100, status))
    with pytest.raises(Conflict) as refund:
        plan_refund(hold(100, status), None)
    assert release.value.code == refund.value.code == code


def test_refunds_are_positive_whole_same_currency_and_never_more_than_held() -> None:
    h = hold(1000)
    assert plan_refund(h, None) == Money.of(1000, "TZS")
    assert plan_refund(h, Money.of(1000, "TZS")) == Money.of(1000, "TZS")
    with pytest.raises(Conflict) as exceeds:
        plan_refund(h, Money.of(1001, "TZS"))
    assert exceeds.value.code == "refund_exceeds_held"
    for amount, code in (
        (Money(0, "TZS"), "invalid_amount"),
        (Money(-100, "TZS"), "invalid_amount"),
        (Money(150, "TZS"), "fractional_amount"),
        (Money.of(10, "KES"), "currency_mismatch"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            plan_refund(h, amount)
        assert refused.value.code == code


def test_the_sandbox_is_on_in_development_only_by_default_and_never_in_production() -> None:
    from nexgate.payments.adapters.sandbox.provider import sandbox_enabled

    assert sandbox_enabled(None, "development") is True
    assert sandbox_enabled(None, "test") is False
    assert sandbox_enabled(None, "production") is False
    assert sandbox_enabled(True, "test") is True
    assert sandbox_enabled(False, "development") is False
    with pytest.raises(RuntimeError, match="production"):
        sandbox_enabled(True, "production")
