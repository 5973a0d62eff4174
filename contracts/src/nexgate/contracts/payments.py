"""Messages of the payments context (published through its outbox on ``nexgate.payments``)."""

from __future__ import annotations

import uuid

import msgspec

from nexgate.contracts.base import Contract


class MoneyAmount(msgspec.Struct, frozen=True, kw_only=True):
    """Integer minor units and an ISO 4217 currency (never a float)."""

    amount: int
    currency: str


class HoldFunded(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    hold_id: uuid.UUID
    payee_id: uuid.UUID
    amount: MoneyAmount
    reference: str


class PaymentSucceeded(Contract, tag="payments.payment_succeeded.v1", kw_only=True):
    """An intent was paid: its money is in escrow, one hold per payee (none for a top-up)."""

    intent_id: uuid.UUID
    purpose: str
    reference: str
    payer_id: uuid.UUID
    amount: MoneyAmount
    method: str
    provider: str | None = None
    holds: list[HoldFunded] = []


class PaymentFailed(Contract, tag="payments.payment_failed.v1", kw_only=True):
    """An attempt to pay an intent failed; the intent may be paid again when ``retryable``."""

    intent_id: uuid.UUID
    purpose: str
    reference: str
    payer_id: uuid.UUID
    #: cancelled_by_payer, insufficient_funds, timeout, rejected, expired or provider_error.
    reason: str
    retryable: bool


class PaymentCreditedToWallet(Contract, tag="payments.payment_credited_to_wallet.v1", kw_only=True):
    """Money arrived for an intent that was no longer payable: it went to the payer's wallet."""

    intent_id: uuid.UUID
    attempt_id: uuid.UUID
    payer_id: uuid.UUID
    amount: MoneyAmount


class WalletToppedUp(Contract, tag="payments.wallet_topped_up.v1", kw_only=True):
    intent_id: uuid.UUID
    user_id: uuid.UUID
    amount: MoneyAmount


class EscrowReleased(Contract, tag="payments.escrow_released.v1", kw_only=True):
    hold_id: uuid.UUID
    intent_id: uuid.UUID
    reference: str
    payee_id: uuid.UUID
    gross: MoneyAmount
    fee: MoneyAmount
    net: MoneyAmount


class RefundCompleted(Contract, tag="payments.refund_completed.v1", kw_only=True):
    hold_id: uuid.UUID
    reference: str
    payer_id: uuid.UUID
    amount: MoneyAmount
    remaining_held: MoneyAmount


class PayoutCompleted(Contract, tag="payments.payout_completed.v1", kw_only=True):
    """A withdrawal reached the user's mobile-money account."""

    payout_id: uuid.UUID
    user_id: uuid.UUID
    amount: MoneyAmount
    provider: str


class PayoutFailed(Contract, tag="payments.payout_failed.v1", kw_only=True):
    """A withdrawal failed or was refused; its amount is back in the wallet."""

    payout_id: uuid.UUID
    user_id: uuid.UUID
    amount: MoneyAmount
    provider: str
    reason: str


class PayoutInReview(Contract, tag="payments.payout_in_review.v1", kw_only=True):
    """A withdrawal waits for an admin (large, to an unverified number, or from a young wallet);
    its amount is reserved (in flight) meanwhile."""

    payout_id: uuid.UUID
    user_id: uuid.UUID
    amount: MoneyAmount
    reason: str
