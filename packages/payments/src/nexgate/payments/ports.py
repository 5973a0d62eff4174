"""What the payments use cases need from the outside world."""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from nexgate.kernel.money import Money
from nexgate.kernel.ports import MessageOutbox
from nexgate.payments.domain.intents import Attempt, Hold, Intent, Refund
from nexgate.payments.domain.ledger import JournalEntry
from nexgate.payments.domain.methods import PaymentMethod
from nexgate.payments.domain.payouts import Payout


class ProviderOutcome(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CollectionStatus:
    """What the provider's own status API says about one collection."""

    outcome: ProviderOutcome
    code: str = ""
    description: str = ""
    #: Our reason when failed: cancelled_by_payer, insufficient_funds, timeout, rejected.
    reason: str = ""
    #: The amount the provider says was paid, when its status API tells (whole major units).
    amount_major: int | None = None


@dataclass(frozen=True, slots=True)
class CollectionCallback:
    """A provider's asynchronous result, parsed but NOT trusted."""

    provider_ref: str
    outcome: ProviderOutcome
    code: str
    amount_major: int | None = None
    receipt: str | None = None
    msisdn: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutAccepted:
    """The provider took a payout request; the result comes later (callback or status)."""

    #: The provider's id (Daraja ConversationID).
    provider_ref: str


@dataclass(frozen=True, slots=True)
class PayoutCallback:
    """A provider's asynchronous payout result, parsed but NOT trusted."""

    #: Our reference (Daraja OriginatorConversationID: the payout id).
    reference: str
    provider_ref: str
    outcome: ProviderOutcome
    code: str
    amount_major: int | None = None
    receipt: str | None = None


class ProviderRejected(Exception):
    """The provider refused the request synchronously (validation, auth, limits)."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class ProviderUnreachable(Exception):
    """No answer (timeout, connection refused, 5xx): the outcome is unknown."""


class MobileMoneyProvider(Protocol):
    name: str

    async def collect(
        self,
        *,
        reference: str,
        msisdn_e164: str,
        amount: Money,
        callback_url: str,
        description: str,
        operator: str | None = None,
    ) -> str:
        """Start a collection prompt on the payer's phone; returns the provider's reference.
        ``operator`` is the payer's override of the prefix table (Tembo picks its channel by it)."""
        ...

    async def query_collection(self, provider_ref: str) -> CollectionStatus: ...

    def parse_collection_callback(self, body: object) -> CollectionCallback: ...


class PayoutProvider(Protocol):
    name: str

    async def disburse(
        self, *, reference: str, msisdn_e164: str, amount: Money, result_url: str, timeout_url: str
    ) -> PayoutAccepted:
        """Send money to a mobile-money number; ``reference`` is our id for the request."""
        ...

    def parse_payout_callback(self, body: object) -> PayoutCallback: ...


@runtime_checkable
class QueryablePayoutProvider(PayoutProvider, Protocol):
    """A payout provider whose status API answers at once (Tembo, Selcom): its callbacks are
    only hints, and a request that timed out is resolved by asking, never by resending."""

    async def query_payout(self, reference: str, provider_ref: str | None) -> CollectionStatus: ...


@runtime_checkable
class StatusByCallbackPayoutProvider(QueryablePayoutProvider, Protocol):
    """A payout provider whose status query is only acknowledged (Daraja's Transaction
    Status): ``query_payout`` answers ``PENDING`` and the answer arrives as a callback, read by
    ``parse_payout_status``. Its payout results carry the amount and are applied as they come."""

    def parse_payout_status(self, body: object) -> PayoutCallback: ...


__all__ = [
    "CollectionCallback",
    "CollectionStatus",
    "MessageOutbox",
    "MobileMoneyProvider",
    "PayoutAccepted",
    "PayoutCallback",
    "PayoutProvider",
    "ProviderOutcome",
    "ProviderRejected",
    "ProviderUnreachable",
    "QueryablePayoutProvider",
    "StatusByCallbackPayoutProvider",
]


# -- persistence ----------------------------------------------------------------------------


class Ledger(Protocol):
    async def post(self, entry: JournalEntry) -> bool: ...
    async def freeze_state(self, owner_id: _uuid.UUID) -> str | None: ...
    async def set_frozen(self, owner_id: _uuid.UUID, currencies: Sequence[str], by: str | None) -> None: ...


class PaymentsStore(Protocol):
    async def intent_by_key(self, owner: str, key: str) -> tuple[Intent, str] | None: ...
    async def add_intent(self, intent: Intent, *, key: str, request_hash: str) -> None: ...
    async def get_intent(self, intent_id: _uuid.UUID, *, lock: bool = False) -> Intent | None: ...
    async def set_intent_status(self, intent_id: _uuid.UUID, status: str, now: datetime) -> None: ...
    async def add_attempt(self, attempt: Attempt) -> None: ...
    async def get_attempt(self, attempt_id: _uuid.UUID, *, lock: bool = False) -> Attempt | None: ...
    async def attempt_by_provider_ref(self, provider: str, ref: str) -> Attempt | None: ...
    async def live_attempt(self, intent_id: _uuid.UUID) -> Attempt | None: ...
    async def update_attempt(self, attempt: Attempt, now: datetime) -> None: ...
    async def pending_attempts(self, provider: str, before: datetime, limit: int) -> list[Attempt]: ...
    async def attempts_by_status(
        self, status: str, *, after: tuple[datetime, _uuid.UUID] | None, limit: int
    ) -> list[Attempt]: ...
    async def claim_provider_txn(
        self, provider: str, txn_id: str, attempt_id: _uuid.UUID, entry_id: _uuid.UUID
    ) -> bool: ...
    async def get_hold(self, hold_id: _uuid.UUID, *, lock: bool = False) -> Hold | None: ...
    async def update_hold(self, hold: Hold, now: datetime) -> None: ...
    async def add_release_key(self, owner: str, release_key: str, release_after: datetime) -> datetime: ...
    async def holds_with_key(self, owner: str, release_key: str) -> list[Hold]: ...
    async def due_holds(self, now: datetime, limit: int) -> list[_uuid.UUID]: ...
    async def stale_holds(
        self, before: datetime, *, after: tuple[datetime, _uuid.UUID] | None, limit: int
    ) -> list[Hold]: ...
    async def holds_of(
        self,
        user_id: _uuid.UUID,
        *,
        role: str,
        status: str | None,
        after: tuple[datetime, _uuid.UUID] | None,
        limit: int,
    ) -> list[Hold]: ...
    async def refund_by_key(self, hold_id: _uuid.UUID, actor: str, key: str) -> Refund | None: ...
    async def add_refund(self, refund: Refund, *, actor: str, key: str) -> None: ...
    async def record_callback(
        self, *, provider: str, kind: str, body: object, provider_ref: str | None
    ) -> _uuid.UUID: ...
    async def set_callback_outcome(self, callback_id: _uuid.UUID, outcome: str) -> None: ...


class PayoutStore(Protocol):
    async def add(self, payout: Payout, *, key: str) -> None: ...
    async def by_key(self, user_id: _uuid.UUID, key: str) -> Payout | None: ...
    async def get(self, payout_id: _uuid.UUID, *, lock: bool = False) -> Payout | None: ...
    async def update(self, payout: Payout, now: datetime) -> None: ...
    async def of_user(
        self, user_id: _uuid.UUID, *, after: tuple[datetime, _uuid.UUID] | None, limit: int
    ) -> list[Payout]: ...
    async def unsettled(self, provider: str, before: datetime, limit: int) -> list[Payout]: ...
    async def day_totals(self, user_id: _uuid.UUID, currency: str, since: datetime) -> tuple[int, int]: ...
    async def by_status(
        self, status: str, *, after: tuple[datetime, _uuid.UUID] | None, limit: int
    ) -> list[Payout]: ...
    async def number_verified(self, user_id: _uuid.UUID, phone: str) -> bool: ...
    async def registered_at(self, user_id: _uuid.UUID) -> datetime | None: ...
    async def record_registration(self, user_id: _uuid.UUID, registered_at: datetime) -> None: ...


class MethodStore(Protocol):
    async def add(self, method: PaymentMethod) -> bool: ...
    async def of_user(self, user_id: _uuid.UUID, *, lock: bool = False) -> list[PaymentMethod]: ...
    async def get(self, method_id: _uuid.UUID) -> PaymentMethod | None: ...
    async def update(self, method: PaymentMethod, now: datetime) -> None: ...
    async def clear_default(self, user_id: _uuid.UUID, now: datetime) -> None: ...
    async def delete(self, method_id: _uuid.UUID) -> None: ...
    async def mark_verified(self, user_id: _uuid.UUID, phone: str, now: datetime) -> None: ...


class Tx(Protocol):
    store: PaymentsStore
    ledger: Ledger
    outbox: MessageOutbox
    payouts: PayoutStore
    methods: MethodStore


#: Opens one transaction; it commits when the block exits normally and rolls back otherwise.
UnitOfWork = Callable[[], AbstractAsyncContextManager[Tx]]
