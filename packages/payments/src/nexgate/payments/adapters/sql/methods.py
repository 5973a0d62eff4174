"""Payment-method rows on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.payments.adapters.sql.models import payment_methods
from nexgate.payments.domain.methods import PaymentMethod


def _method(row: sa.Row) -> PaymentMethod:
    return PaymentMethod(
        id=row.id,
        user_id=row.user_id,
        phone=row.phone,
        region=row.region,
        operator=row.operator,
        operator_override=row.operator_override,
        label=row.label,
        is_default=row.is_default,
        verified=row.verified,
        created_at=row.created_at,
    )


class SqlMethodStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, method: PaymentMethod) -> bool:
        """False when the user has this number already (nothing written)."""
        created = await self._session.execute(
            pg.insert(payment_methods)
            .values(
                id=method.id,
                user_id=method.user_id,
                phone=method.phone,
                region=method.region,
                operator=method.operator,
                operator_override=method.operator_override,
                label=method.label,
                is_default=method.is_default,
                verified=method.verified,
                created_at=method.created_at,
                updated_at=method.created_at,
            )
            .on_conflict_do_nothing(constraint="uq_payment_methods_phone")
            .returning(payment_methods.c.id)
        )
        return created.first() is not None

    async def of_user(self, user_id: uuid.UUID, *, lock: bool = False) -> list[PaymentMethod]:
        stmt = (
            sa.select(payment_methods)
            .where(payment_methods.c.user_id == user_id)
            .order_by(payment_methods.c.created_at.desc(), payment_methods.c.id.desc())
        )
        rows = await self._session.execute(stmt.with_for_update() if lock else stmt)
        return [_method(r) for r in rows.all()]

    async def get(self, method_id: uuid.UUID) -> PaymentMethod | None:
        row = (
            await self._session.execute(sa.select(payment_methods).where(payment_methods.c.id == method_id))
        ).first()
        return _method(row) if row else None

    async def update(self, method: PaymentMethod, now: datetime) -> None:
        await self._session.execute(
            sa.update(payment_methods)
            .where(payment_methods.c.id == method.id)
            .values(
                operator_override=method.operator_override,
                label=method.label,
                is_default=method.is_default,
                updated_at=now,
            )
        )

    async def clear_default(self, user_id: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            sa.update(payment_methods)
            .where(payment_methods.c.user_id == user_id, payment_methods.c.is_default)
            .values(is_default=False, updated_at=now)
        )

    async def delete(self, method_id: uuid.UUID) -> None:
        await self._session.execute(sa.delete(payment_methods).where(payment_methods.c.id == method_id))

    async def mark_verified(self, user_id: uuid.UUID, phone: str, now: datetime) -> None:
        await self._session.execute(
            sa.update(payment_methods)
            .where(
                payment_methods.c.user_id == user_id,
                payment_methods.c.phone == phone,
                ~payment_methods.c.verified,
            )
            .values(verified=True, updated_at=now)
        )
