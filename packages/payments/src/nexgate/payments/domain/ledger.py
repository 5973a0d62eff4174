"""The double-entry ledger: accounts, postings and journal entries (pure rules).

A journal entry is a set of postings with signed integer minor-unit amounts that sum to
zero per currency. Money enters and leaves the platform only through provider clearing
accounts, which mirror what the provider holds for us and so may go below zero; every
other account is floored at zero (by this module, and by a CHECK in the database).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from nexgate.kernel.errors import Conflict, FieldProblem, ValidationFailed
from nexgate.kernel.money import Money


class AccountKind(StrEnum):
    WALLET = "wallet"
    ESCROW = "escrow"
    PLATFORM_REVENUE = "platform_revenue"
    PAYOUTS_IN_FLIGHT = "payouts_in_flight"
    PROVIDER_CLEARING = "provider_clearing"


class InsufficientFunds(Conflict):
    default_code = "insufficient_funds"


class WalletFrozen(Conflict):
    default_code = "wallet_frozen"


class UnbalancedEntry(ValidationFailed):
    default_code = "unbalanced_entry"


@dataclass(frozen=True, slots=True)
class AccountRef:
    """Names an account; the ledger creates it on first use."""

    kind: AccountKind
    currency: str
    owner_id: uuid.UUID | None = None
    hold_id: uuid.UUID | None = None
    provider: str | None = None

    @property
    def key(self) -> str:
        if self.kind is AccountKind.WALLET:
            return f"wallet:{self.owner_id}:{self.currency}"
        if self.kind is AccountKind.ESCROW:
            return f"escrow:{self.hold_id}"
        if self.kind is AccountKind.PROVIDER_CLEARING:
            return f"clearing:{self.provider}:{self.currency}"
        return f"{self.kind.value}:{self.currency}"

    @property
    def may_go_negative(self) -> bool:
        return self.kind is AccountKind.PROVIDER_CLEARING

    @classmethod
    def wallet(cls, owner_id: uuid.UUID, currency: str) -> AccountRef:
        return cls(AccountKind.WALLET, currency, owner_id=owner_id)

    @classmethod
    def escrow(cls, hold_id: uuid.UUID, currency: str) -> AccountRef:
        return cls(AccountKind.ESCROW, currency, hold_id=hold_id)

    @classmethod
    def clearing(cls, provider: str, currency: str) -> AccountRef:
        return cls(AccountKind.PROVIDER_CLEARING, currency, provider=provider)

    @classmethod
    def platform_revenue(cls, currency: str) -> AccountRef:
        return cls(AccountKind.PLATFORM_REVENUE, currency)

    @classmethod
    def payouts_in_flight(cls, currency: str) -> AccountRef:
        return cls(AccountKind.PAYOUTS_IN_FLIGHT, currency)


@dataclass(frozen=True, slots=True)
class Posting:
    account: AccountRef
    amount: Money


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: uuid.UUID
    kind: str
    reference: str
    idempotency_key: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if not self.idempotency_key or len(self.idempotency_key) > 200:
            raise ValidationFailed("An entry needs an idempotency key of 1 to 200 characters.")
        if len(self.postings) < 2:
            raise UnbalancedEntry("An entry needs at least two postings.")
        totals: dict[str, int] = defaultdict(int)
        for posting in self.postings:
            if posting.amount.amount == 0:
                raise ValidationFailed(
                    "A posting of zero moves nothing.",
                    code="zero_amount",
                    errors=[FieldProblem("amount", "must not be zero")],
                )
            if posting.amount.currency != posting.account.currency:
                raise UnbalancedEntry(
                    f"{posting.amount.currency} posted to a {posting.account.currency} account."
                )
            totals[posting.amount.currency] += posting.amount.amount
        unbalanced = sorted(c for c, total in totals.items() if total != 0)
        if unbalanced:
            raise UnbalancedEntry(f"Postings do not sum to zero in {', '.join(unbalanced)}.")
        if len({p.account.key for p in self.postings}) != len(self.postings):
            raise UnbalancedEntry("An account appears twice in one entry.")

    def deltas(self) -> dict[str, int]:
        return {p.account.key: p.amount.amount for p in self.postings}


def require_positive(amount: Money, field: str = "amount") -> None:
    if amount.amount <= 0:
        raise ValidationFailed(
            "Amounts must be positive.",
            code="invalid_amount",
            errors=[FieldProblem(field, "must be positive")],
        )


def transfer(
    *,
    id: uuid.UUID,
    kind: str,
    reference: str,
    idempotency_key: str,
    source: AccountRef,
    targets: list[tuple[AccountRef, Money]],
) -> JournalEntry:
    """Move money from ``source`` to one or more targets; each leg must be positive."""
    if not targets:
        raise ValidationFailed("A transfer needs a target.")
    for _, amount in targets:
        require_positive(amount)
    total = targets[0][1]
    for _, amount in targets[1:]:
        total = total + amount
    postings = (Posting(source, -total), *(Posting(account, amount) for account, amount in targets))
    return JournalEntry(
        id=id, kind=kind, reference=reference, idempotency_key=idempotency_key, postings=postings
    )


def check_floor(account: AccountRef, balance: int, delta: int) -> None:
    """Refuse a posting that would take a floored account below zero."""
    if not account.may_go_negative and balance + delta < 0:
        raise InsufficientFunds("Not enough funds for this payment.")
