"""What the payments API accepts and returns: camelCase, unknown fields refused, integer money."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from nexgate.kernel.money import Money
from nexgate.payments.domain.intents import Attempt, Hold, Intent, Refund
from nexgate.payments.domain.methods import PaymentMethod
from nexgate.payments.domain.methods import mask as mask_number
from nexgate.payments.domain.payouts import Payout


class AttemptIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    #: ``wallet`` or ``mobileMoney`` (with a ``paymentMethodId`` or a ``phone``).
    method: str
    phone: str | None = None
    payment_method_id: uuid.UUID | None = None


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
    return None if phone is None else mask_number(phone)


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


class RefundIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    #: Omitted: refund everything the hold still holds.
    amount: Money | None = None


class RefundOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    hold_id: uuid.UUID
    amount: Money
    remaining_held: Money
    created_at: datetime

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        return cls(refund.id, refund.hold_id, refund.amount, refund.remaining, refund.created_at)


class HoldDetailOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    intent_id: uuid.UUID
    payer_id: uuid.UUID
    payee_id: uuid.UUID
    amount: Money
    held: Money
    reference: str
    status: str
    fee_bps: int
    release_key: str | None
    auto_release_at: datetime | None

    @classmethod
    def of(cls, hold: Hold) -> HoldDetailOut:
        return cls(
            hold.id,
            hold.intent_id,
            hold.payer_id,
            hold.payee_id,
            hold.amount,
            hold.held,
            hold.reference,
            hold.status.value,
            hold.fee_bps,
            hold.release_key,
            hold.auto_release_at,
        )


class StatementLineOut(msgspec.Struct, rename="camel"):
    """One movement of the caller's wallet: signed amount (credit > 0) and the balance after it."""

    entry_id: uuid.UUID
    kind: str
    amount: Money
    balance_after: Money
    created_at: datetime


class WithdrawalIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    amount: Money
    phone: str


class WithdrawalOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    amount: Money
    phone: str
    provider: str
    status: str
    failure_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, payout: Payout) -> WithdrawalOut:
        return cls(
            payout.id,
            payout.amount,
            mask(payout.phone) or "",
            payout.provider,
            payout.status.value,
            payout.failure_reason,
            payout.created_at,
        )


class TopUpIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    amount: Money


class MethodIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A mobile-money number in any usual form (``0712…``, ``712…``, ``255712…``, ``+255 712…``).
    Card numbers are refused (422 ``card_numbers_not_accepted``)."""

    phone: str
    #: Override of the operator the number's prefix says (a ported number).
    operator: str | None = None
    label: str | None = None
    is_default: bool = False


class MethodPatch(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    #: null: back to the operator of the prefix table.
    operator: str | msgspec.UnsetType | None = msgspec.UNSET
    label: str | msgspec.UnsetType | None = msgspec.UNSET
    is_default: bool | None = None


class MethodOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    #: All but the last three digits masked.
    phone: str
    country: str
    operator: str | None
    operator_override: str | None
    label: str | None
    is_default: bool
    verified: bool
    created_at: datetime

    @classmethod
    def of(cls, m: PaymentMethod) -> MethodOut:
        return cls(
            m.id,
            mask_number(m.phone),
            m.region,
            m.effective_operator,
            m.operator_override,
            m.label,
            m.is_default,
            m.verified,
            m.created_at,
        )


class TransactionOut(msgspec.Struct, rename="camel"):
    """One ledger entry as the caller sees it: its movements of the caller's wallets."""

    id: uuid.UUID
    kind: str
    created_at: datetime
    lines: list[StatementLineOut]


class FreezeOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    frozen: bool
    frozen_by: str | None


class ResolveAttemptIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """What the admin found at the provider for an ambiguous attempt."""

    outcome: str
    receipt: str | None = None


class AdminAttemptOut(msgspec.Struct, rename="camel"):
    attempt: AttemptOut
    provider_ref: str | None
    suspicious: bool
