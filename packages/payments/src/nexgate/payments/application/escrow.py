"""Escrow: releasing a hold to its payee (less the platform fee) and refunding it to the payer.

Who may instruct: an admin, or the context that created the intent (``system:<context>``
through the facade). Everyone else is told the hold does not exist. Each instruction locks
the hold row first, so a release racing a refund of the same hold is decided by whichever
commits first; the loser sees the new state (409). The ledger keys (``release:<hold>``,
``refund:<refund id>``) and the refund's idempotency key make replays no-ops.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from nexgate.contracts.payments import EscrowReleased, RefundCompleted
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.payments.application.collection import Actor, money_of
from nexgate.payments.domain.escrow import HOLDING, plan_dispute, plan_refund, plan_release
from nexgate.payments.domain.intents import Hold, HoldDisputed, HoldNotFound, HoldStatus, Intent, Refund
from nexgate.payments.domain.ledger import AccountRef, transfer
from nexgate.payments.ports import UnitOfWork


def may_instruct(actor: Actor, intent: Intent | None) -> bool:
    """Admins, and the context that owns the intent; never the payer or the payee."""
    return intent is not None and (actor.admin or actor.name == intent.owner)


#: The scheduler's own instructions (due ``auto_release_at``, an ended ``release_key``).
SCHEDULER = Actor("system:payments", admin=True)


async def release_hold(*, uow: UnitOfWork, clock: Clock, actor: Actor, hold_id: uuid.UUID) -> Hold:
    """Pay what the hold still holds to the payee's wallet, less the fee to platform revenue.

    A second instruction for a released hold is a no-op that returns it. A disputed hold is
    released only by an admin (which resolves the dispute); anyone else gets 409.
    """
    async with uow() as tx:
        hold = await tx.store.get_hold(hold_id, lock=True)
        intent = await tx.store.get_intent(hold.intent_id) if hold else None
        if hold is None or not may_instruct(actor, intent):
            raise HoldNotFound("No such hold.")
        assert intent is not None
        if hold.status is HoldStatus.RELEASED:
            return hold
        plan = plan_release(hold, resolving_dispute=actor.admin and actor is not SCHEDULER)
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


async def open_dispute(*, uow: UnitOfWork, clock: Clock, actor: Actor, hold_id: uuid.UUID) -> Hold:
    """The payer (or the owning context, or an admin) contests a hold: it is then never
    released, by any trigger, until an admin releases or refunds it. Twice is a no-op."""
    async with uow() as tx:
        hold = await tx.store.get_hold(hold_id, lock=True)
        intent = await tx.store.get_intent(hold.intent_id) if hold else None
        if hold is None or not (may_instruct(actor, intent) or actor.user_id == hold.payer_id):
            raise HoldNotFound("No such hold.")
        if plan_dispute(hold):
            hold.status = HoldStatus.DISPUTED
            await tx.store.update_hold(hold, clock.now())
    return hold


async def release_intent(*, uow: UnitOfWork, clock: Clock, actor: Actor, intent_id: uuid.UUID) -> list[Hold]:
    """Release every hold of an intent (an order delivered). Disputed holds stay held; released
    ones are no-ops, so a redelivered instruction changes nothing."""
    async with uow() as tx:
        intent = await tx.store.get_intent(intent_id)
    if intent is None or not may_instruct(actor, intent):
        raise HoldNotFound("No such payment intent.")
    done = []
    for hold in intent.holds:
        if hold.status in (HoldStatus.HELD, HoldStatus.RELEASED):
            try:
                done.append(await release_hold(uow=uow, clock=clock, actor=actor, hold_id=hold.id))
            except HoldDisputed:
                continue  # disputed meanwhile: it waits for an admin
    return done


async def cancel_or_refund_intent(
    *, uow: UnitOfWork, clock: Clock, actor: Actor, intent_id: uuid.UUID, idempotency_key: str
) -> Intent:
    """An order or booking was cancelled: cancel the intent if unpaid (money that still arrives
    goes to the wallet), else refund what each hold still holds to the payer's wallet. In either
    order of events the buyer's money ends in the wallet, once."""
    from nexgate.payments.application.collection import cancel_intent
    from nexgate.payments.domain.intents import IntentNotPayable

    async with uow() as tx:
        intent = await tx.store.get_intent(intent_id)
    if intent is None or not may_instruct(actor, intent):
        raise HoldNotFound("No such payment intent.")
    if intent.payable:
        try:
            return await cancel_intent(uow=uow, clock=clock, actor=actor, intent_id=intent_id)
        except IntentNotPayable:
            pass  # paid meanwhile: refund below
    async with uow() as tx:
        intent = await tx.store.get_intent(intent_id)
    assert intent is not None
    for hold in intent.holds:
        if hold.status in HOLDING:
            await refund_hold(
                uow=uow,
                clock=clock,
                actor=actor,
                hold_id=hold.id,
                amount=None,
                idempotency_key=f"{idempotency_key}:{hold.id}",
            )
    async with uow() as tx:
        found = await tx.store.get_intent(intent_id)
    assert found is not None
    return found


async def release_key_ended(
    *, uow: UnitOfWork, clock: Clock, actor: Actor, release_key: str, ended_at: datetime, grace: timedelta
) -> datetime:
    """The thing behind ``release_key`` (an event) ended at ``ended_at``: the actor's holds with
    that key become releasable after the grace window (by `release_due`). Returns when."""
    release_after = ended_at + grace
    async with uow() as tx:
        return await tx.store.add_release_key(actor.name, release_key, release_after)


async def refund_release_key(
    *, uow: UnitOfWork, clock: Clock, actor: Actor, release_key: str, idempotency_key: str
) -> int:
    """The thing behind ``release_key`` was cancelled: refund every hold of the actor's intents
    carrying it that still holds money. Returns how many holds were refunded."""
    async with uow() as tx:
        found = await tx.store.holds_with_key(actor.name, release_key)
    count = 0
    for hold in found:
        if hold.status in HOLDING:
            await refund_hold(
                uow=uow,
                clock=clock,
                actor=actor,
                hold_id=hold.id,
                amount=None,
                idempotency_key=f"{idempotency_key}:{hold.id}",
            )
            count += 1
    return count


async def release_due(*, uow: UnitOfWork, clock: Clock, limit: int = 200) -> int:
    """Release holds whose ``auto_release_at`` passed or whose release key ended more than the
    grace window ago. Disputed holds are never picked; a hold released meanwhile is a no-op."""
    async with uow() as tx:
        due = await tx.store.due_holds(clock.now(), limit)
    released = 0
    for hold_id in due:
        try:
            await release_hold(uow=uow, clock=clock, actor=SCHEDULER, hold_id=hold_id)
            released += 1
        except (HoldDisputed, HoldNotFound):
            continue
    return released


async def list_holds(
    *,
    uow: UnitOfWork,
    actor: Actor,
    role: str,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Hold]:
    """The caller's holds as payer or payee, newest first."""
    assert actor.user_id is not None
    async with uow() as tx:
        return await tx.store.holds_of(actor.user_id, role=role, status=status, after=after, limit=limit)


async def stale_holds(
    *, uow: UnitOfWork, clock: Clock, max_age: timedelta, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Hold]:
    """The admin queue: holds still holding money ``max_age`` after they were created, oldest
    first (disputed ones included). Nothing releases them on its own."""
    async with uow() as tx:
        return await tx.store.stale_holds(clock.now() - max_age, after=after, limit=limit)
