"""What the payments use cases need from the outside world."""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from nexgate.kernel.money import Money
from nexgate.kernel.ports import MessageOutbox
from nexgate.payments.domain.intents import Attempt, Hold, Intent
from nexgate.payments.domain.ledger import JournalEntry


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


@dataclass(frozen=True, slots=True)
class CollectionCallback:
    """A provider's asynchronous result, parsed but NOT trusted."""

    provider_ref: str
    outcome: ProviderOutcome
    code: str
    amount_major: int | None = None
    receipt: str | None = None
    msisdn: str | None = None


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
        self, *, reference: str, msisdn_e164: str, amount: Money, callback_url: str, description: str
    ) -> str:
        """Start a collection prompt on the payer's phone; returns the provider's reference."""
        ...

    async def query_collection(self, provider_ref: str) -> CollectionStatus: ...

    def parse_collection_callback(self, body: object) -> CollectionCallback: ...


__all__ = [
    "CollectionCallback",
    "CollectionStatus",
    "MessageOutbox",
    "MobileMoneyProvider",
    "ProviderOutcome",
    "ProviderRejected",
    "ProviderUnreachable",
]


# -- persistence ----------------------------------------------------------------------------


class Ledger(Protocol):
    async def post(self, entry: JournalEntry) -> bool: ...


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
    async def claim_provider_txn(
        self, provider: str, txn_id: str, attempt_id: _uuid.UUID, entry_id: _uuid.UUID
    ) -> bool: ...
    async def get_hold(self, hold_id: _uuid.UUID, *, lock: bool = False) -> Hold | None: ...
    async def update_hold(self, hold: Hold, now: datetime) -> None: ...
    async def record_callback(
        self, *, provider: str, kind: str, body: object, provider_ref: str | None
    ) -> _uuid.UUID: ...
    async def set_callback_outcome(self, callback_id: _uuid.UUID, outcome: str) -> None: ...


class Tx(Protocol):
    store: PaymentsStore
    ledger: Ledger
    outbox: MessageOutbox


#: Opens one transaction; it commits when the block exits normally and rolls back otherwise.
UnitOfWork = Callable[[], AbstractAsyncContextManager[Tx]]
