"""What the payments API accepts and returns: camelCase, unknown fields refused, integer money."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from nexgate.kernel.money import Money
from nexgate.payments.domain.intents import Attempt, Hold, Intent


class AttemptIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    method: str
    phone: str


class HoldOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    payee_id: uuid.UUID
    amount: Money
    held: Money
    reference: str
    status: str

    @classmethod
    def of(cls, hold: Hold) -> HoldOut:
        return cls(hold.id, hold.payee_id, hold.amount, hold.held, hold.reference, hold.status.value)


class IntentOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    payer_id: uuid.UUID
    amount: Money
    purpose: str
    reference: str
    status: str
    expires_at: datetime
    created_at: datetime
    holds: list[HoldOut]

    @classmethod
    def of(cls, intent: Intent) -> IntentOut:
        return cls(
            intent.id,
            intent.payer_id,
            intent.amount,
            intent.purpose,
            intent.reference,
            intent.status.value,
            intent.expires_at,
            intent.created_at,
            [HoldOut.of(h) for h in intent.holds],
        )


def mask(phone: str | None) -> str | None:
    return None if phone is None else "*" * (len(phone) - 3) + phone[-3:]


class AttemptOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    intent_id: uuid.UUID
    method: str
    provider: str | None
    phone: str | None
    amount: Money
    status: str
    failure_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            attempt.id,
            attempt.intent_id,
            attempt.method,
            attempt.provider,
            mask(attempt.phone),
            attempt.amount,
            attempt.status.value,
            attempt.failure_reason,
            attempt.created_at,
        )


class WalletBalanceOut(msgspec.Struct, rename="camel"):
    available: Money
    frozen: bool


class WalletOut(msgspec.Struct, rename="camel"):
    balances: list[WalletBalanceOut]
