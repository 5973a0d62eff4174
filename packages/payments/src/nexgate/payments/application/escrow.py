"""Escrow: releasing a hold to its payee (less the platform fee) and refunding it to the payer.

Who may instruct: an admin, or the context that created the intent (``system:<context>``
through the facade). Everyone else is told the hold does not exist. Each instruction locks
the hold row first, so a release racing a refund of the same hold is decided by whichever
commits first; the loser sees the new state (409). The ledger keys (``release:<hold>``,
``refund:<refund id>``) and the refund's idempotency key make replays no-ops.
"""

from __future__ import annotations

import uuid

from nexgate.contracts.payments import EscrowReleased, RefundCompleted
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments.application.collection import Actor, money_of
from nexgate.payments.domain.escrow import plan_refund, plan_release
from nexgate.payments.domain.intents import Hold, HoldNotFound, HoldStatus, Intent, Refund
from nexgate.payments.domain.ledger import AccountRef, transfer
from nexgate.payments.ports import UnitOfWork


def may_instruct(actor: Actor, intent: Intent | None) -> bool:
    """Admins, and the context that owns the intent; never the payer or the payee."""
    return intent is not None and (actor.admin or actor.name == intent.owner)


async def release_hold(*, uow: UnitOfWork, clock: Clock, actor: Actor, hold_id: uuid.UUID) -> Hold:
    """Pay what the hold still holds to the payee's wallet, less the fee to platform revenue.

    A second instruction for a released hold is a no-op that returns it.
    """
    async with uow() as tx:
        hold = await tx.store.get_hold(hold_id, lock=True)
        intent = await tx.store.get_intent(hold.intent_id) if hold else None
        if hold is None or not may_instruct(actor, intent):
            raise HoldNotFound("No such hold.")
        assert intent is not None
        if hold.status is HoldStatus.RELEASED:
            return hold
        plan = plan_release(hold)
        currency = hold.held.currency
        targets = [
            (account, amount)
            for account, amount in (
                (AccountRef.wallet(hold.payee_id, currency), plan.net),
                (AccountRef.platform_revenue(currency), plan.fee),
            )
            if amount.amount > 0
        ]
        posted = await tx.ledger.post(
            transfer(
                id=new_id(),
                kind="escrow_release",
                reference=f"hold:{hold.id}",
                idempotency_key=f"release:{hold.id}",
                source=AccountRef.escrow(hold.id, currency),
                targets=targets,
            )
        )
        if not posted:  # cannot happen under the hold lock; never move money twice
            return hold
        hold.status, hold.held = HoldStatus.RELEASED, Money.zero(currency)
        await tx.store.update_hold(hold, clock.now())
        await tx.outbox.add(
            EscrowReleased(
                hold_id=hold.id,
                intent_id=intent.id,
                reference=hold.reference,
                payee_id=hold.payee_id,
                gross=money_of(plan.gross),
                fee=money_of(plan.fee),
                net=money_of(plan.net),
            )
        )
    return hold


async def refund_hold(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    hold_id: uuid.UUID,
    amount: Money | None,
    idempotency_key: str,
) -> Refund:
    """Return ``amount`` (None: all that is still held) from escrow to the payer's wallet.

    Never more than is held; refunding the rest closes the hold. The same key returns the
    first refund; the same key with another amount is refused.
    """
    if not 1 <= len(idempotency_key) <= 255:
        raise ValidationFailed("Idempotency keys are 1 to 255 characters.", code="invalid_idempotency_key")
    async with uow() as tx:
        hold = await tx.store.get_hold(hold_id, lock=True)
        intent = await tx.store.get_intent(hold.intent_id) if hold else None
        if hold is None or not may_instruct(actor, intent):
            raise HoldNotFound("No such hold.")
        existing = await tx.store.refund_by_key(hold.id, actor.name, idempotency_key)
        if existing is not None:
            if amount is not None and amount != existing.amount:
                raise ValidationFailed(
                    "This idempotency key was used for another refund.", code="idempotency_key_reused"
                )
            return existing
        refunded = plan_refund(hold, amount)
        now = clock.now()
        refund = Refund(
            id=new_id(), hold_id=hold.id, amount=refunded, remaining=hold.held - refunded, created_at=now
        )
        await tx.ledger.post(
            transfer(
                id=new_id(),
                kind="escrow_refund",
                reference=f"hold:{hold.id}",
                idempotency_key=f"refund:{refund.id}",
                source=AccountRef.escrow(hold.id, refunded.currency),
                targets=[(AccountRef.wallet(hold.payer_id, refunded.currency), refunded)],
            )
        )
        hold.held = refund.remaining
        if hold.held.amount == 0:
            hold.status = HoldStatus.REFUNDED
        await tx.store.update_hold(hold, now)
        await tx.store.add_refund(refund, actor=actor.name, key=idempotency_key)
        await tx.outbox.add(
            RefundCompleted(
                hold_id=hold.id,
                reference=hold.reference,
                payer_id=hold.payer_id,
                amount=money_of(refunded),
                remaining_held=money_of(refund.remaining),
            )
        )
    return refund


async def get_hold(*, uow: UnitOfWork, actor: Actor, hold_id: uuid.UUID) -> Hold:
    """A hold, for its payer, its payee, the owning context or an admin."""
    async with uow() as tx:
        hold = await tx.store.get_hold(hold_id)
        intent = await tx.store.get_intent(hold.intent_id) if hold else None
    if hold is None or not (may_instruct(actor, intent) or actor.user_id in (hold.payer_id, hold.payee_id)):
        raise HoldNotFound("No such hold.")
    return hold
