"""`PaymentsStore` and the unit of work on PostgreSQL."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.kernel.sql.keyset import keyset_after
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.payments.adapters.sql.ledger import SqlLedger
from nexgate.payments.adapters.sql.methods import SqlMethodStore
from nexgate.payments.adapters.sql.models import (
    attempts,
    callbacks,
    holds,
    intents,
    provider_transactions,
    refunds,
    release_keys,
    tables,
)
from nexgate.payments.adapters.sql.payouts import SqlPayoutStore
from nexgate.payments.domain.intents import (
    Attempt,
    AttemptStatus,
    Hold,
    HoldStatus,
    Intent,
    IntentStatus,
    Refund,
)


def _hold(row: sa.Row) -> Hold:
    return Hold(
        id=row.id,
        intent_id=row.intent_id,
        payer_id=row.payer_id,
        payee_id=row.payee_id,
        amount=Money(row.amount, row.currency),
        held=Money(row.held, row.currency),
        reference=row.reference,
        status=HoldStatus(row.status),
        fee_bps=row.fee_bps,
        release_key=row.release_key,
        auto_release_at=row.auto_release_at,
        created_at=row.created_at,
    )


def _attempt(row: sa.Row) -> Attempt:
    return Attempt(
        id=row.id,
        intent_id=row.intent_id,
        payer_id=row.payer_id,
        method=row.method,
        provider=row.provider,
        phone=row.phone,
        amount=Money(row.amount, row.currency),
        status=AttemptStatus(row.status),
        created_at=row.created_at,
        provider_ref=row.provider_ref,
        provider_txn_id=row.provider_txn_id,
        failure_reason=row.failure_reason,
        suspicious=row.suspicious,
    )


class SqlPaymentsStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _intent(self, row: sa.Row) -> Intent:
        found = await self._session.execute(
            sa.select(holds).where(holds.c.intent_id == row.id).order_by(holds.c.id)
        )
        return Intent(
            id=row.id,
            owner=row.owner,
            payer_id=row.payer_id,
            amount=Money(row.amount, row.currency),
            purpose=row.purpose,
            reference=row.reference,
            status=IntentStatus(row.status),
            expires_at=row.expires_at,
            created_at=row.created_at,
            holds=[_hold(h) for h in found.all()],
        )

    async def intent_by_key(self, owner: str, key: str) -> tuple[Intent, str] | None:
        row = (
            await self._session.execute(
                sa.select(intents).where(intents.c.owner == owner, intents.c.idempotency_key == key)
            )
        ).first()
        return (await self._intent(row), row.request_hash) if row else None

    async def add_intent(self, intent: Intent, *, key: str, request_hash: str) -> None:
        await self._session.execute(
            sa.insert(intents).values(
                id=intent.id,
                owner=intent.owner,
                payer_id=intent.payer_id,
                amount=intent.amount.amount,
                currency=intent.amount.currency,
                purpose=intent.purpose,
                reference=intent.reference,
                status=intent.status.value,
                idempotency_key=key,
                request_hash=request_hash,
                expires_at=intent.expires_at,
                created_at=intent.created_at,
                updated_at=intent.created_at,
            )
        )
        if intent.holds:
            await self._session.execute(
                sa.insert(holds),
                [
                    {
                        "id": h.id,
                        "intent_id": intent.id,
                        "payer_id": h.payer_id,
                        "payee_id": h.payee_id,
                        "amount": h.amount.amount,
                        "held": h.held.amount,
                        "currency": h.amount.currency,
                        "reference": h.reference,
                        "status": h.status.value,
                        "fee_bps": h.fee_bps,
                        "release_key": h.release_key,
                        "auto_release_at": h.auto_release_at,
                        "created_at": intent.created_at,
                        "updated_at": intent.created_at,
                    }
                    for h in intent.holds
                ],
            )

    async def get_intent(self, intent_id: uuid.UUID, *, lock: bool = False) -> Intent | None:
        stmt = sa.select(intents).where(intents.c.id == intent_id)
        row = (await self._session.execute(stmt.with_for_update() if lock else stmt)).first()
        return await self._intent(row) if row else None

    async def set_intent_status(self, intent_id: uuid.UUID, status: str, now: datetime) -> None:
        await self._session.execute(
            sa.update(intents).where(intents.c.id == intent_id).values(status=status, updated_at=now)
        )

    async def add_attempt(self, attempt: Attempt) -> None:
        await self._session.execute(
            sa.insert(attempts).values(
                id=attempt.id,
                intent_id=attempt.intent_id,
                payer_id=attempt.payer_id,
                method=attempt.method,
                provider=attempt.provider,
                phone=attempt.phone,
                amount=attempt.amount.amount,
                currency=attempt.amount.currency,
                status=attempt.status.value,
                created_at=attempt.created_at,
                updated_at=attempt.created_at,
            )
        )

    async def get_attempt(self, attempt_id: uuid.UUID, *, lock: bool = False) -> Attempt | None:
        stmt = sa.select(attempts).where(attempts.c.id == attempt_id)
        row = (await self._session.execute(stmt.with_for_update() if lock else stmt)).first()
        return _attempt(row) if row else None

    async def attempt_by_provider_ref(self, provider: str, ref: str) -> Attempt | None:
        row = (
            await self._session.execute(
                sa.select(attempts).where(attempts.c.provider == provider, attempts.c.provider_ref == ref)
            )
        ).first()
        return _attempt(row) if row else None

    async def live_attempt(self, intent_id: uuid.UUID) -> Attempt | None:
        row = (
            await self._session.execute(
                sa.select(attempts).where(
                    attempts.c.intent_id == intent_id,
                    attempts.c.status.in_([AttemptStatus.INITIATED.value, AttemptStatus.PENDING.value]),
                )
            )
        ).first()
        return _attempt(row) if row else None

    async def update_attempt(self, attempt: Attempt, now: datetime) -> None:
        await self._session.execute(
            sa.update(attempts)
            .where(attempts.c.id == attempt.id)
            .values(
                status=attempt.status.value,
                provider_ref=attempt.provider_ref,
                provider_txn_id=attempt.provider_txn_id,
                failure_reason=attempt.failure_reason,
                suspicious=attempt.suspicious,
                updated_at=now,
            )
        )

    async def pending_attempts(self, provider: str, before: datetime, limit: int) -> list[Attempt]:
        rows = await self._session.execute(
            sa.select(attempts)
            .where(
                attempts.c.provider == provider,
                attempts.c.status == AttemptStatus.PENDING.value,
                attempts.c.created_at < before,
            )
            .order_by(attempts.c.created_at)
            .limit(limit)
        )
        return [_attempt(r) for r in rows.all()]

    async def attempts_by_status(
        self, status: str, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Attempt]:
        stmt = keyset_after(
            sa.select(attempts).where(attempts.c.status == status),
            [attempts.c.created_at, attempts.c.id],
            None if after is None else list(after),
            descending=False,
            limit=limit,
        )
        return [_attempt(r) for r in (await self._session.execute(stmt)).all()]

    async def claim_provider_txn(
        self, provider: str, txn_id: str, attempt_id: uuid.UUID, entry_id: uuid.UUID
    ) -> bool:
        result = await self._session.execute(
            pg.insert(provider_transactions)
            .values(provider=provider, provider_txn_id=txn_id, attempt_id=attempt_id, entry_id=entry_id)
            .on_conflict_do_nothing()
            .returning(provider_transactions.c.provider_txn_id)
        )
        return result.first() is not None

    async def get_hold(self, hold_id: uuid.UUID, *, lock: bool = False) -> Hold | None:
        stmt = sa.select(holds).where(holds.c.id == hold_id)
        row = (await self._session.execute(stmt.with_for_update() if lock else stmt)).first()
        return _hold(row) if row else None

    async def update_hold(self, hold: Hold, now: datetime) -> None:
        await self._session.execute(
            sa.update(holds)
            .where(holds.c.id == hold.id)
            .values(status=hold.status.value, held=hold.held.amount, updated_at=now)
        )

    async def add_release_key(self, owner: str, release_key: str, release_after: datetime) -> datetime:
        """Record when the owner's holds with ``release_key`` become releasable; the first
        word stands (a redelivered "event ended" does not push it back)."""
        await self._session.execute(
            pg.insert(release_keys)
            .values(owner=owner, release_key=release_key, release_after=release_after)
            .on_conflict_do_nothing()
        )
        return (
            await self._session.execute(
                sa.select(release_keys.c.release_after).where(
                    release_keys.c.owner == owner, release_keys.c.release_key == release_key
                )
            )
        ).scalar_one()

    async def holds_with_key(self, owner: str, release_key: str) -> list[Hold]:
        rows = await self._session.execute(
            sa.select(holds)
            .join(intents, intents.c.id == holds.c.intent_id)
            .where(holds.c.release_key == release_key, intents.c.owner == owner)
            .order_by(holds.c.id)
        )
        return [_hold(r) for r in rows.all()]

    async def due_holds(self, now: datetime, limit: int) -> list[uuid.UUID]:
        ended = (
            sa.select(holds.c.id)
            .join(intents, intents.c.id == holds.c.intent_id)
            .join(
                release_keys,
                sa.and_(
                    release_keys.c.owner == intents.c.owner,
                    release_keys.c.release_key == holds.c.release_key,
                ),
            )
            .where(holds.c.status == HoldStatus.HELD.value, release_keys.c.release_after <= now)
        )
        timed = sa.select(holds.c.id).where(
            holds.c.status == HoldStatus.HELD.value,
            holds.c.auto_release_at.is_not(None),
            holds.c.auto_release_at <= now,
        )
        rows = await self._session.execute(sa.union(ended, timed).limit(limit))
        return [r[0] for r in rows.all()]

    async def stale_holds(
        self, before: datetime, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Hold]:
        stmt = sa.select(holds).where(
            holds.c.status.in_([HoldStatus.HELD.value, HoldStatus.DISPUTED.value]),
            holds.c.created_at < before,
        )
        stmt = keyset_after(
            stmt,
            [holds.c.created_at, holds.c.id],
            None if after is None else list(after),
            descending=False,
            limit=limit,
        )
        return [_hold(r) for r in (await self._session.execute(stmt)).all()]

    async def holds_of(
        self,
        user_id: uuid.UUID,
        *,
        role: str,
        status: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Hold]:
        column = holds.c.payer_id if role == "payer" else holds.c.payee_id
        stmt = sa.select(holds).where(column == user_id)
        if status is not None:
            stmt = stmt.where(holds.c.status == status)
        stmt = keyset_after(
            stmt, [holds.c.created_at, holds.c.id], None if after is None else list(after), limit=limit
        )
        return [_hold(r) for r in (await self._session.execute(stmt)).all()]

    async def refund_by_key(self, hold_id: uuid.UUID, actor: str, key: str) -> Refund | None:
        row = (
            await self._session.execute(
                sa.select(refunds).where(
                    refunds.c.hold_id == hold_id, refunds.c.actor == actor, refunds.c.idempotency_key == key
                )
            )
        ).first()
        if row is None:
            return None
        return Refund(
            id=row.id,
            hold_id=row.hold_id,
            amount=Money(row.amount, row.currency),
            remaining=Money(row.remaining, row.currency),
            created_at=row.created_at,
        )

    async def add_refund(self, refund: Refund, *, actor: str, key: str) -> None:
        await self._session.execute(
            sa.insert(refunds).values(
                id=refund.id,
                hold_id=refund.hold_id,
                actor=actor,
                idempotency_key=key,
                amount=refund.amount.amount,
                currency=refund.amount.currency,
                remaining=refund.remaining.amount,
                created_at=refund.created_at,
            )
        )

    async def record_callback(
        self, *, provider: str, kind: str, body: object, provider_ref: str | None
    ) -> uuid.UUID:
        callback_id = new_id()
        await self._session.execute(
            sa.insert(callbacks).values(
                id=callback_id, provider=provider, kind=kind, body=body, provider_ref=provider_ref
            )
        )
        return callback_id

    async def set_callback_outcome(self, callback_id: uuid.UUID, outcome: str) -> None:
        await self._session.execute(
            sa.update(callbacks).where(callbacks.c.id == callback_id).values(outcome=outcome)
        )


@dataclass
class SqlTx:
    session: AsyncSession
    store: SqlPaymentsStore
    ledger: SqlLedger
    outbox: SqlOutbox
    payouts: SqlPayoutStore
    methods: SqlMethodStore

    @classmethod
    def of(cls, session: AsyncSession) -> SqlTx:
        return cls(
            session,
            SqlPaymentsStore(session),
            SqlLedger(session),
            SqlOutbox(session, tables),
            SqlPayoutStore(session),
            SqlMethodStore(session),
        )


def sql_unit_of_work(sessions: async_sessionmaker[AsyncSession]):
    @contextlib.asynccontextmanager
    async def open_tx() -> AsyncIterator[SqlTx]:
        async with sessions() as session, session.begin():
            yield SqlTx.of(session)

    return open_tx


def session_unit_of_work(session: AsyncSession):
    """Units of work inside a transaction the caller owns (a consumer's, with its inbox claim):
    each is a savepoint, so a step that fails leaves the others, and everything commits with
    the claim or not at all."""

    @contextlib.asynccontextmanager
    async def open_tx() -> AsyncIterator[SqlTx]:
        async with session.begin_nested():
            yield SqlTx.of(session)

    return open_tx
