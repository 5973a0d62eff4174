"""The payments facade other contexts call in-process (through their own ports)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from nexgate.kernel.money import Money
from nexgate.kernel.runtime import Runtime
from nexgate.payments.adapters.sql.repository import sql_unit_of_work
from nexgate.payments.application import collection, escrow
from nexgate.payments.application.collection import Actor
from nexgate.payments.domain.intents import Attempt, Hold, Intent, Refund, Split
from nexgate.payments.settings import PaymentsSettings

__all__ = [
    "Actor",
    "Attempt",
    "Hold",
    "Refund",
    "Split",
    "cancel_intent",
    "cancel_or_refund_intent",
    "create_intent",
    "event_ended",
    "get_intent",
    "open_dispute",
    "pay_with_wallet",
    "refund",
    "refund_release_key",
    "release_hold",
    "release_intent",
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


def _uow(runtime: Runtime):
    return sql_unit_of_work(runtime.database().sessions)


async def pay_with_wallet(runtime: Runtime, *, actor: Actor, intent_id: uuid.UUID) -> Attempt:
    """Pay an intent from the payer's own wallet (``actor`` is the payer)."""
    return await collection.pay_with_wallet(
        uow=_uow(runtime), clock=runtime.clock, actor=actor, intent_id=intent_id
    )


async def open_dispute(runtime: Runtime, *, actor: Actor, hold_id: uuid.UUID) -> Hold:
    """The payer, the owning context or an admin contests a hold: no trigger releases it until
    an admin releases or refunds it."""
    return await escrow.open_dispute(uow=_uow(runtime), clock=runtime.clock, actor=actor, hold_id=hold_id)


async def release_intent(runtime: Runtime, *, actor: Actor, intent_id: uuid.UUID) -> list[Hold]:
    """Release every hold of an intent (what ``commerce.order_delivered.v1`` asks); disputed
    holds stay, released ones are no-ops."""
    return await escrow.release_intent(
        uow=_uow(runtime), clock=runtime.clock, actor=actor, intent_id=intent_id
    )


async def cancel_or_refund_intent(
    runtime: Runtime, *, actor: Actor, intent_id: uuid.UUID, idempotency_key: str
) -> Intent:
    """An order or booking was cancelled (``commerce.order_cancelled.v1``,
    ``events.booking_cancelled.v1``): cancel if unpaid, else refund every hold to the payer's wallet."""
    return await escrow.cancel_or_refund_intent(
        uow=_uow(runtime),
        clock=runtime.clock,
        actor=actor,
        intent_id=intent_id,
        idempotency_key=idempotency_key,
    )


async def event_ended(
    runtime: Runtime, *, actor: Actor, release_key: str, ended_at: datetime, grace: timedelta | None = None
) -> datetime:
    """The thing behind ``release_key`` ended (``events.event_completed.v1``): the actor's holds
    carrying that key are released by the scheduler after the grace window
    (``NEXGATE_PAYMENTS_EVENT_GRACE_S``, 48 h). Returns when they become releasable."""
    grace = grace if grace is not None else timedelta(seconds=PaymentsSettings().event_grace_s)
    return await escrow.release_key_ended(
        uow=_uow(runtime),
        clock=runtime.clock,
        actor=actor,
        release_key=release_key,
        ended_at=ended_at,
        grace=grace,
    )


async def refund_release_key(
    runtime: Runtime, *, actor: Actor, release_key: str, idempotency_key: str
) -> int:
    """The thing behind ``release_key`` was cancelled (``events.event_cancelled.v1``): refund
    every hold carrying it to its payer. Returns how many holds were refunded."""
    return await escrow.refund_release_key(
        uow=_uow(runtime),
        clock=runtime.clock,
        actor=actor,
        release_key=release_key,
        idempotency_key=idempotency_key,
    )
