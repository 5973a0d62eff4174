"""Withdrawal rows on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.kernel.money import Money
from nexgate.kernel.sql.keyset import keyset_after
from nexgate.payments.adapters.sql.models import account_ages, attempts, payment_methods, payouts
from nexgate.payments.domain.payouts import Payout, PayoutStatus


def _payout(row: sa.Row) -> Payout:
    return Payout(
        id=row.id,
        user_id=row.user_id,
        amount=Money(row.amount, row.currency),
        phone=row.phone,
        provider=row.provider,
        status=PayoutStatus(row.status),
        created_at=row.created_at,
        provider_ref=row.provider_ref,
        receipt=row.receipt,
        failure_reason=row.failure_reason,
        suspicious=row.suspicious,
    )


class SqlPayoutStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, payout: Payout, *, key: str) -> None:
        await self._session.execute(
            sa.insert(payouts).values(
                id=payout.id,
                user_id=payout.user_id,
                amount=payout.amount.amount,
                currency=payout.amount.currency,
                phone=payout.phone,
                provider=payout.provider,
                status=payout.status.value,
                idempotency_key=key,
                created_at=payout.created_at,
                updated_at=payout.created_at,
            )
        )

    async def by_key(self, user_id: uuid.UUID, key: str) -> Payout | None:
        row = (
            await self._session.execute(
                sa.select(payouts).where(payouts.c.user_id == user_id, payouts.c.idempotency_key == key)
            )
        ).first()
        return _payout(row) if row else None

    async def get(self, payout_id: uuid.UUID, *, lock: bool = False) -> Payout | None:
        stmt = sa.select(payouts).where(payouts.c.id == payout_id)
        row = (await self._session.execute(stmt.with_for_update() if lock else stmt)).first()
        return _payout(row) if row else None

    async def update(self, payout: Payout, now: datetime) -> None:
        await self._session.execute(
            sa.update(payouts)
            .where(payouts.c.id == payout.id)
            .values(
                status=payout.status.value,
                provider_ref=payout.provider_ref,
                receipt=payout.receipt,
                failure_reason=payout.failure_reason,
                suspicious=payout.suspicious,
                updated_at=now,
            )
        )

    async def of_user(
        self, user_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Payout]:
        stmt = keyset_after(
            sa.select(payouts).where(payouts.c.user_id == user_id),
            [payouts.c.created_at, payouts.c.id],
            after,
            limit=limit,
        )
        return [_payout(r) for r in (await self._session.execute(stmt)).all()]

    async def unsettled(self, provider: str, before: datetime, limit: int) -> list[Payout]:
        """Payouts without a final result, older than ``before`` (for reconciliation)."""
        stmt = (
            sa.select(payouts)
            .where(
                payouts.c.provider == provider,
                payouts.c.status.in_(
                    [PayoutStatus.REQUESTED.value, PayoutStatus.PENDING.value, PayoutStatus.AMBIGUOUS.value]
                ),
                payouts.c.created_at < before,
            )
            .order_by(payouts.c.created_at)
            .limit(limit)
        )
        return [_payout(r) for r in (await self._session.execute(stmt)).all()]

    async def day_totals(self, user_id: uuid.UUID, currency: str, since: datetime) -> tuple[int, int]:
        """(count, sum) of the user's withdrawals in ``currency`` since ``since``, refused ones excepted."""
        row = (
            await self._session.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(payouts.c.amount), 0)).where(
                    payouts.c.user_id == user_id,
                    payouts.c.currency == currency,
                    payouts.c.created_at >= since,
                    payouts.c.status != PayoutStatus.FAILED.value,
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    async def by_status(
        self, status: str, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Payout]:
        stmt = keyset_after(
            sa.select(payouts).where(payouts.c.status == status),
            [payouts.c.created_at, payouts.c.id],
            after,
            descending=False,
            limit=limit,
        )
        return [_payout(r) for r in (await self._session.execute(stmt)).all()]

    async def registered_at(self, user_id: uuid.UUID) -> datetime | None:
        found = await self._session.execute(
            sa.select(account_ages.c.registered_at).where(account_ages.c.user_id == user_id)
        )
        return found.scalar()

    async def record_registration(self, user_id: uuid.UUID, registered_at: datetime) -> None:
        await self._session.execute(
            pg_insert(account_ages)
            .values(user_id=user_id, registered_at=registered_at)
            .on_conflict_do_nothing(index_elements=[account_ages.c.user_id])
        )

    async def number_verified(self, user_id: uuid.UUID, phone: str) -> bool:
        """The user has received a confirmed collection from this number (or saved it as a
        method that was verified that way)."""
        found = await self._session.execute(
            sa.select(
                sa.exists().where(
                    attempts.c.payer_id == user_id,
                    attempts.c.phone == phone,
                    attempts.c.status == "succeeded",
                )
                | sa.exists().where(
                    payment_methods.c.user_id == user_id,
                    payment_methods.c.phone == phone,
                    payment_methods.c.verified,
                )
            )
        )
        return bool(found.scalar())
