"""Withdrawals from a wallet to mobile money (pure rules)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from nexgate.kernel.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from nexgate.kernel.money import Money


class PayoutStatus(StrEnum):
    #: The money left the wallet (in flight); the provider has not acknowledged yet.
    REQUESTED = "requested"
    #: The provider acknowledged; its result is awaited.
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: Refused or failed: the money went back to the wallet.
    FAILED = "failed"
    #: No answer from the provider: the money stays in flight until the result is known.
    AMBIGUOUS = "ambiguous"
    #: Reserved (in flight), waiting for an admin to approve or reject it.
    IN_REVIEW = "in_review"


FINAL_PAYOUT = frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED})


class PayoutNotFound(NotFound):
    default_code = "withdrawal_not_found"


@dataclass
class Payout:
    id: uuid.UUID
    user_id: uuid.UUID
    amount: Money
    phone: str
    provider: str
    status: PayoutStatus
    created_at: datetime
    provider_ref: str | None = None
    receipt: str | None = None
    failure_reason: str | None = None
    suspicious: bool = False

    @property
    def reference(self) -> str:
        """What the provider echoes back (Daraja OriginatorConversationID)."""
        return str(self.id)


class PayoutNotInReview(Conflict):
    default_code = "withdrawal_not_in_review"


@dataclass(frozen=True, slots=True)
class WithdrawalLimits:
    """Per currency, in minor units: the smallest and the largest single withdrawal, the most
    per day; how many per day; above which amount (or to a number never paid from, when
    ``review_unverified``) a withdrawal waits for an admin."""

    minimum: dict[str, int]
    maximum: dict[str, int]
    daily_maximum: dict[str, int] = field(default_factory=dict)
    per_day: int = 0
    review_above: dict[str, int] = field(default_factory=dict)
    review_unverified: bool = False
    #: An account younger than this many days (or whose registration payments has not heard
    #: of yet) waits for an admin; 0 turns the rule off.
    young_account_days: int = 0


def check_daily(amount: Money, limits: WithdrawalLimits, count_today: int, total_today: int) -> None:
    """``count_today``/``total_today`` include this withdrawal. 422 ``withdrawal_limit`` beyond."""
    if limits.per_day and count_today > limits.per_day:
        raise ValidationFailed(
            f"At most {limits.per_day} withdrawals a day.",
            code="withdrawal_limit",
            errors=[FieldProblem("amount", "daily withdrawal count reached")],
        )
    cap = limits.daily_maximum.get(amount.currency)
    if cap is not None and total_today > cap:
        raise ValidationFailed(
            f"At most {Money(cap, amount.currency)} a day.",
            code="withdrawal_limit",
            errors=[FieldProblem("amount", "daily withdrawal total reached")],
        )


def review_reason(
    amount: Money,
    limits: WithdrawalLimits,
    *,
    number_verified: bool,
    registered_at: datetime | None = None,
    now: datetime | None = None,
) -> str | None:
    """Why this withdrawal waits for an admin, or None. An account whose registration is
    unknown (``registered_at`` None: auth's message not consumed yet) counts as young."""
    threshold = limits.review_above.get(amount.currency)
    if threshold is not None and amount.amount > threshold:
        return "large_amount"
    if limits.review_unverified and not number_verified:
        return "unverified_number"
    if limits.young_account_days > 0 and (
        registered_at is None
        or now is None
        or now - registered_at < timedelta(days=limits.young_account_days)
    ):
        return "young_account"
    return None


def validate_withdrawal(amount: Money, limits: WithdrawalLimits) -> None:
    """Positive, whole shillings, within the limits of its currency (422 otherwise)."""
    if amount.amount <= 0:
        raise ValidationFailed(
            "Withdraw a positive amount.",
            code="invalid_amount",
            errors=[FieldProblem("amount", "must be positive")],
        )
    amount.to_major_units_whole()  # 422 fractional_amount
    low = limits.minimum.get(amount.currency)
    high = limits.maximum.get(amount.currency)
    if low is None or high is None:
        raise ValidationFailed(
            f"Withdrawals in {amount.currency} are not offered.",
            code="withdrawal_limit",
            errors=[FieldProblem("amount.currency", "withdrawals not offered in this currency")],
        )
    if not low <= amount.amount <= high:
        raise ValidationFailed(
            f"Withdrawals are between {Money(low, amount.currency)} and {Money(high, amount.currency)}.",
            code="withdrawal_limit",
            errors=[FieldProblem("amount", "outside the withdrawal limits")],
        )
