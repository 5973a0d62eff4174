"""The payments facade other contexts call in-process (through their own ports)."""

from __future__ import annotations

import uuid
from datetime import datetime

from nexgate.kernel.money import Money
from nexgate.kernel.runtime import Runtime
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection, escrow
from nexgate.payments.application.collection import Actor
from nexgate.payments.domain.intents import Hold, Intent, Refund, Split
from nexgate.payments.settings import PaymentsSettings

__all__ = [
    "Actor",
    "Hold",
    "Refund",
    "Split",
    "cancel_intent",
    "create_intent",
    "get_intent",
    "refund",
    "release_hold",
]


async def create_intent(
    runtime: Runtime,
    *,
    actor: Actor,
    payer_id: uuid.UUID,
    amount: Money,
    purpose: str,
    reference: str,
    splits: list[Split],
    idempotency_key: str,
    expires_at: datetime | None = None,
) -> Intent:
    settings = PaymentsSettings()
    return await collection.create_intent(
        uow=sql_unit_of_work(runtime.database().sessions),
        clock=runtime.clock,
        actor=actor,
        payer_id=payer_id,
        amount=amount,
        purpose=purpose,
        reference=reference,
        splits=splits,
        idempotency_key=idempotency_key,
        fee_bps=settings.fee_bps,
        expires_at=expires_at,
    )


async def get_intent(runtime: Runtime, *, actor: Actor, intent_id: uuid.UUID) -> Intent:
    return await collection.get_intent(
        uow=sql_unit_of_work(runtime.database().sessions), actor=actor, intent_id=intent_id
    )


async def cancel_intent(runtime: Runtime, *, actor: Actor, intent_id: uuid.UUID) -> Intent:
    return await collection.cancel_intent(
        uow=sql_unit_of_work(runtime.database().sessions),
        clock=runtime.clock,
        actor=actor,
        intent_id=intent_id,
    )


async def release_hold(runtime: Runtime, *, actor: Actor, hold_id: uuid.UUID) -> Hold:
    """Release a hold to its payee (less the fee); a second call for the same hold is a no-op.

    Only the context that created the intent (``Actor.system("<context>")``) or an admin."""
    return await escrow.release_hold(
        uow=sql_unit_of_work(runtime.database().sessions), clock=runtime.clock, actor=actor, hold_id=hold_id
    )


async def refund(
    runtime: Runtime,
    *,
    actor: Actor,
    hold_id: uuid.UUID,
    idempotency_key: str,
    amount: Money | None = None,
) -> Refund:
    """Refund ``amount`` (None: everything still held) of a hold to the payer's wallet."""
    return await escrow.refund_hold(
        uow=sql_unit_of_work(runtime.database().sessions),
        clock=runtime.clock,
        actor=actor,
        hold_id=hold_id,
        amount=amount,
        idempotency_key=idempotency_key,
    )
