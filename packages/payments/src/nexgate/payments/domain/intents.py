"""Payment intents, their attempts and the escrow holds they fund (pure rules)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from nexgate.kernel.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from nexgate.kernel.money import Money

PURPOSES = frozenset({"order", "booking", "group_seat", "installment", "wallet_topup"})


class IntentStatus(StrEnum):
    REQUIRES_PAYMENT = "requires_payment"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class AttemptStatus(StrEnum):
    INITIATED = "initiated"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"


FINAL_ATTEMPT = frozenset({AttemptStatus.SUCCEEDED, AttemptStatus.FAILED})


class HoldStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    HELD = "held"
    RELEASED = "released"
    REFUNDED = "refunded"
    VOID = "void"
    #: The payer contests it: never released until an admin resolves the dispute.
    DISPUTED = "disputed"


class IntentNotFound(NotFound):
    default_code = "intent_not_found"


class AttemptNotFound(NotFound):
    default_code = "attempt_not_found"


class HoldNotFound(NotFound):
    default_code = "hold_not_found"


class IntentNotPayable(Conflict):
    default_code = "intent_not_payable"


class AttemptInProgress(Conflict):
    default_code = "attempt_in_progress"


class HoldAlreadyReleased(Conflict):
    default_code = "hold_already_released"


class HoldNotHeld(Conflict):
    default_code = "hold_not_held"


class HoldDisputed(Conflict):
    default_code = "hold_disputed"


@dataclass(frozen=True, slots=True)
class Split:
    payee_id: uuid.UUID
    amount: Money
    reference: str
    #: Release when this thing (an event id) has ended, plus the grace window.
    release_key: str | None = None
    #: Release on its own once due.
    auto_release_at: datetime | None = None


@dataclass
class Hold:
    id: uuid.UUID
    intent_id: uuid.UUID
    payer_id: uuid.UUID
    payee_id: uuid.UUID
    amount: Money
    #: What escrow still holds (the amount less partial refunds) once paid.
    held: Money
    reference: str
    status: HoldStatus
    fee_bps: int
    release_key: str | None = None
    auto_release_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    id: uuid.UUID
    hold_id: uuid.UUID
    amount: Money
    #: What the hold still held after this refund.
    remaining: Money
    created_at: datetime


@dataclass
class Intent:
    id: uuid.UUID
    owner: str
    payer_id: uuid.UUID
    amount: Money
    purpose: str
    reference: str
    status: IntentStatus
    expires_at: datetime
    created_at: datetime
    holds: list[Hold] = field(default_factory=list)

    @property
    def payable(self) -> bool:
        return self.status in (IntentStatus.REQUIRES_PAYMENT, IntentStatus.PROCESSING)


@dataclass
class Attempt:
    id: uuid.UUID
    intent_id: uuid.UUID
    payer_id: uuid.UUID
    method: str
    provider: str | None
    phone: str | None
    amount: Money
    status: AttemptStatus
    created_at: datetime
    provider_ref: str | None = None
    provider_txn_id: str | None = None
    failure_reason: str | None = None
    suspicious: bool = False


def validate_intent(amount: Money, purpose: str, splits: list[Split]) -> None:
    problems: list[FieldProblem] = []
    if amount.amount <= 0:
        problems.append(FieldProblem("amount", "must be positive"))
    if purpose not in PURPOSES:
        problems.append(FieldProblem("purpose", f"must be one of {', '.join(sorted(PURPOSES))}"))
    if purpose == "wallet_topup":
        if splits:
            problems.append(FieldProblem("splits", "a top-up has no payees"))
    elif not splits:
        problems.append(FieldProblem("splits", "at least one payee"))
    for i, split in enumerate(splits):
        if split.amount.currency != amount.currency:
            problems.append(FieldProblem(f"splits[{i}].amount.currency", "must be the intent's currency"))
        elif split.amount.amount <= 0:
            problems.append(FieldProblem(f"splits[{i}].amount", "must be positive"))
    if splits and not problems and sum(s.amount.amount for s in splits) != amount.amount:
        problems.append(FieldProblem("splits", "must sum to the amount"))
    if problems:
        raise ValidationFailed("This payment intent is not valid.", code="invalid_intent", errors=problems)
