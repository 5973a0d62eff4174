"""Withdrawals: wallet → payouts in flight at request, then the provider's result settles
in flight → clearing (success) or returns it to the wallet (failure).

The request's transaction creates the payout row and the ledger entry together, so an
unfunded or frozen wallet leaves no row; the provider is called only after that commits.
Nothing is ever sent twice: a timeout leaves the payout ``ambiguous`` (money in flight)
until the provider's result arrives, under our reference, or an admin settles it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from nexgate.contracts.payments import PayoutCompleted, PayoutFailed, PayoutInReview
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import FieldProblem, ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.kernel.phone import normalize_phone
from nexgate.payments.application.collection import money_of, route
from nexgate.payments.domain.ledger import AccountRef, transfer
from nexgate.payments.domain.methods import refuse_card_number
from nexgate.payments.domain.payouts import (
    FINAL_PAYOUT,
    Payout,
    PayoutNotFound,
    PayoutNotInReview,
    PayoutStatus,
    WithdrawalLimits,
    check_daily,
    review_reason,
    validate_withdrawal,
)
from nexgate.payments.ports import (
    PayoutCallback,
    PayoutProvider,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnreachable,
    QueryablePayoutProvider,
    StatusByCallbackPayoutProvider,
    UnitOfWork,
)

_REASONS = {
    "1": "provider_insufficient_funds",
    "2001": "provider_rejected",
    "8006": "provider_rejected",
    "INSUFFICIENT_FUNDS": "provider_insufficient_funds",
    "PAYMENT_REJECTED": "provider_rejected",
}

#: A callback URL, or one per provider (each provider's results arrive on its own path).
CallbackUrl = str | Callable[[str], str]


def _asks_status(provider: PayoutProvider) -> bool:
    """Whether a result callback is only a hint to ask the status API (Tembo, Selcom)."""
    return isinstance(provider, QueryablePayoutProvider) and not isinstance(
        provider, StatusByCallbackPayoutProvider
    )


def _url(url: CallbackUrl, provider: str) -> str:
    return url if isinstance(url, str) else url(provider)


async def request_withdrawal(
    *,
    uow: UnitOfWork,
    clock: Clock,
    providers: dict[str, PayoutProvider],
    result_url: CallbackUrl,
    timeout_url: CallbackUrl,
    user_id: uuid.UUID,
    amount: Money,
    phone: str,
    idempotency_key: str,
    limits: WithdrawalLimits,
    route_override: str | None = None,
    routes: dict[str, str] | None = None,
) -> Payout:
    if not 1 <= len(idempotency_key) <= 255:
        raise ValidationFailed("Idempotency keys are 1 to 255 characters.", code="invalid_idempotency_key")
    refuse_card_number(phone)
    validate_withdrawal(amount, limits)
    region = {"KES": "KE", "TZS": "TZ"}.get(amount.currency, "TZ")
    e164 = normalize_phone(phone, default_region=region, allowed_regions=("TZ", "KE"))
    provider_name = route(e164, amount.currency, override=route_override, routes=routes)
    if provider_name not in providers:  # a provider configured without payouts
        raise ValidationFailed(
            "Withdrawals to this operator are not supported yet.",
            code="operator_not_supported",
            errors=[FieldProblem("phone", "operator not supported for withdrawals")],
        )
    async with uow() as tx:
        existing = await tx.payouts.by_key(user_id, idempotency_key)
        if existing is not None:
            if (existing.amount, existing.phone) != (amount, e164):
                raise ValidationFailed(
                    "This idempotency key was used for another withdrawal.", code="idempotency_key_reused"
                )
            return existing
        payout = Payout(
            id=new_id(),
            user_id=user_id,
            amount=amount,
            phone=e164,
            provider=provider_name,
            status=PayoutStatus.REQUESTED,
            created_at=clock.now(),
        )
        await tx.payouts.add(payout, key=idempotency_key)
        # 409 insufficient_funds / wallet_frozen roll the row back with it.
        await tx.ledger.post(
            transfer(
                id=new_id(),
                kind="payout",
                reference=f"payout:{payout.id}",
                idempotency_key=f"payout:{payout.id}",
                source=AccountRef.wallet(user_id, amount.currency),
                targets=[(AccountRef.payouts_in_flight(amount.currency), amount)],
            )
        )
        # Counted under the wallet's row lock (taken by the post above), so two concurrent
        # requests of one user cannot both slip under the daily limits.
        now = clock.now()
        count, total = await tx.payouts.day_totals(
            user_id, amount.currency, now.replace(hour=0, minute=0, second=0, microsecond=0)
        )
        check_daily(amount, limits, count, total)
        reason = review_reason(
            amount,
            limits,
            number_verified=await tx.payouts.number_verified(user_id, e164),
            registered_at=await tx.payouts.registered_at(user_id),
            now=now,
        )
        if reason is not None:
            payout.status = PayoutStatus.IN_REVIEW
            await tx.payouts.update(payout, now)
            await tx.outbox.add(
                PayoutInReview(payout_id=payout.id, user_id=user_id, amount=money_of(amount), reason=reason)
            )
            return payout
    return await _disburse(uow, clock, providers, payout, result_url=result_url, timeout_url=timeout_url)


async def _disburse(
    uow: UnitOfWork,
    clock: Clock,
    providers: dict[str, PayoutProvider],
    payout: Payout,
    *,
    result_url: CallbackUrl,
    timeout_url: CallbackUrl,
) -> Payout:
    """Call the provider once for a payout whose money is in flight."""
    try:
        accepted = await providers[payout.provider].disburse(
            reference=payout.reference,
            msisdn_e164=payout.phone,
            amount=payout.amount,
            result_url=_url(result_url, payout.provider),
            timeout_url=_url(timeout_url, payout.provider),
        )
    except ProviderRejected as exc:
        return await _settle(
            uow, clock, payout.id, ProviderOutcome.FAILED, reason="provider_rejected", detail=exc.code
        )
    except ProviderUnreachable:
        async with uow() as tx:
            locked = await tx.payouts.get(payout.id, lock=True)
            assert locked is not None
            if locked.status is PayoutStatus.REQUESTED:
                locked.status = PayoutStatus.AMBIGUOUS
                await tx.payouts.update(locked, clock.now())
            return locked
    async with uow() as tx:
        locked = await tx.payouts.get(payout.id, lock=True)
        assert locked is not None
        locked.provider_ref = locked.provider_ref or accepted.provider_ref
        if locked.status in (PayoutStatus.REQUESTED, PayoutStatus.AMBIGUOUS):
            locked.status = PayoutStatus.PENDING
        await tx.payouts.update(locked, clock.now())
        return locked


async def review_withdrawal(
    *,
    uow: UnitOfWork,
    clock: Clock,
    providers: dict[str, PayoutProvider],
    result_url: CallbackUrl,
    timeout_url: CallbackUrl,
    payout_id: uuid.UUID,
    approve: bool,
) -> Payout:
    """An admin decides a withdrawal in review: approved, it goes to the provider (once: the
    status moves under the row lock first); rejected, its money returns to the wallet."""
    async with uow() as tx:
        payout = await tx.payouts.get(payout_id, lock=True)
        if payout is None:
            raise PayoutNotFound("No such withdrawal.")
        if payout.status is not PayoutStatus.IN_REVIEW:
            raise PayoutNotInReview("This withdrawal is not waiting for review.")
        if approve:
            payout.status = PayoutStatus.REQUESTED
            await tx.payouts.update(payout, clock.now())
    if not approve:
        return await _settle(uow, clock, payout_id, ProviderOutcome.FAILED, reason="rejected")
    return await _disburse(uow, clock, providers, payout, result_url=result_url, timeout_url=timeout_url)


async def withdrawals_in_review(
    *, uow: UnitOfWork, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Payout]:
    async with uow() as tx:
        return await tx.payouts.by_status(PayoutStatus.IN_REVIEW.value, after=after, limit=limit)


async def _settle(
    uow: UnitOfWork,
    clock: Clock,
    payout_id: uuid.UUID,
    outcome: ProviderOutcome,
    *,
    reason: str = "",
    detail: str = "",
    receipt: str | None = None,
    provider_ref: str | None = None,
) -> Payout:
    """Apply a final result once: success moves in flight → clearing, failure returns the
    money to the wallet. A result for a payout already final changes nothing."""
    async with uow() as tx:
        payout = await tx.payouts.get(payout_id, lock=True)
        if payout is None:
            raise PayoutNotFound("No such withdrawal.")
        if payout.status in FINAL_PAYOUT:
            return payout
        currency = payout.amount.currency
        in_flight = AccountRef.payouts_in_flight(currency)
        now = clock.now()
        payout.provider_ref = payout.provider_ref or provider_ref
        if outcome is ProviderOutcome.SUCCEEDED:
            await tx.ledger.post(
                transfer(
                    id=new_id(),
                    kind="payout_settled",
                    reference=f"payout:{payout.id}",
                    idempotency_key=f"payout:{payout.id}:settled",
                    source=in_flight,
                    targets=[(AccountRef.clearing(payout.provider, currency), payout.amount)],
                )
            )
            payout.status, payout.receipt = PayoutStatus.SUCCEEDED, receipt
            await tx.outbox.add(
                PayoutCompleted(
                    payout_id=payout.id,
                    user_id=payout.user_id,
                    amount=money_of(payout.amount),
                    provider=payout.provider,
                )
            )
        else:
            # Frozen wallets still receive their own money back (the ledger only blocks debits).
            await tx.ledger.post(
                transfer(
                    id=new_id(),
                    kind="payout_reversed",
                    reference=f"payout:{payout.id}",
                    idempotency_key=f"payout:{payout.id}:reversed",
                    source=in_flight,
                    targets=[(AccountRef.wallet(payout.user_id, currency), payout.amount)],
                )
            )
            payout.status, payout.failure_reason = PayoutStatus.FAILED, reason or "provider_failed"
            await tx.outbox.add(
                PayoutFailed(
                    payout_id=payout.id,
                    user_id=payout.user_id,
                    amount=money_of(payout.amount),
                    provider=payout.provider,
                    reason=payout.failure_reason,
                )
            )
        await tx.payouts.update(payout, now)
        return payout


async def handle_payout_result(
    *, uow: UnitOfWork, clock: Clock, provider: PayoutProvider, body: object, authentic: bool = True
) -> str:
    """Store a payout result, check it against our payout, then apply it once.

    Returns (and stores on the callback row) ``unknown``, ``final``, ``mismatch``,
    ``bad_signature``, ``pending``, ``succeeded`` or ``failed``. A result whose conversation id
    or amount differ from ours, or whose signature is wrong (``authentic=False``, Selcom),
    flags the payout ``suspicious`` and moves nothing. A provider with a status API
    (``QueryablePayoutProvider``) is asked: its callback only tells us when to ask.
    """
    from nexgate.payments.application.collection import _redact

    parsed: PayoutCallback = provider.parse_payout_callback(body)
    async with uow() as tx:
        callback_id = await tx.store.record_callback(
            provider=provider.name, kind="payout", body=_redact(body), provider_ref=parsed.provider_ref
        )
    if authentic:
        outcome = await _process_result(uow, clock, parsed, provider)
    else:
        outcome = "bad_signature"
        await _flag(uow, clock, parsed.reference)
    async with uow() as tx:
        await tx.store.set_callback_outcome(callback_id, outcome)
    return outcome


def _payout_id(reference: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None


async def _flag(uow: UnitOfWork, clock: Clock, reference: str) -> None:
    payout_id = _payout_id(reference)
    if payout_id is None:
        return
    async with uow() as tx:
        payout = await tx.payouts.get(payout_id, lock=True)
        if payout is not None and payout.status not in FINAL_PAYOUT:
            payout.suspicious = True
            await tx.payouts.update(payout, clock.now())


async def _process_result(
    uow: UnitOfWork, clock: Clock, parsed: PayoutCallback, provider: PayoutProvider
) -> str:
    payout_id = _payout_id(parsed.reference)
    if payout_id is None:
        return "unknown"
    async with uow() as tx:
        payout = await tx.payouts.get(payout_id, lock=True)
        if payout is None:
            return "unknown"
        if payout.status in FINAL_PAYOUT:
            return "final"
        wrong_conversation = payout.provider_ref is not None and payout.provider_ref != parsed.provider_ref
        # A provider with a status API is asked (its callbacks carry no amount); the answer's
        # amount is checked in resolve_payout.
        wrong_amount = (
            not _asks_status(provider)
            and parsed.outcome is ProviderOutcome.SUCCEEDED
            and parsed.amount_major != payout.amount.to_major_units_whole()
        )
        if wrong_conversation or wrong_amount:
            payout.suspicious = True
            await tx.payouts.update(payout, clock.now())
            return "mismatch"
    if _asks_status(provider):
        assert isinstance(provider, QueryablePayoutProvider)
        resolved = await resolve_payout(uow=uow, clock=clock, provider=provider, payout_id=payout_id)
        return resolved.status.value
    settled = await _settle(
        uow,
        clock,
        payout_id,
        parsed.outcome,
        reason=_REASONS.get(parsed.code, "provider_failed"),
        receipt=parsed.receipt,
        provider_ref=parsed.provider_ref,
    )
    return settled.status.value


async def handle_payout_status(
    *, uow: UnitOfWork, clock: Clock, provider: StatusByCallbackPayoutProvider, body: object
) -> str:
    """The answer to a status query sent by ``resolve_payout`` (Daraja's Transaction Status
    result): stored, then applied once if final. It is about the payout our reference names;
    a success must carry the payout's amount, else the payout is flagged and nothing moves. An
    answer that is not final (the query failed, the payout is not found yet) changes nothing."""
    from nexgate.payments.application.collection import _redact

    parsed = provider.parse_payout_status(body)
    async with uow() as tx:
        callback_id = await tx.store.record_callback(
            provider=provider.name, kind="payout_status", body=_redact(body), provider_ref=parsed.provider_ref
        )
    outcome = await _apply_status(uow, clock, parsed)
    async with uow() as tx:
        await tx.store.set_callback_outcome(callback_id, outcome)
    return outcome


async def _apply_status(uow: UnitOfWork, clock: Clock, parsed: PayoutCallback) -> str:
    payout_id = _payout_id(parsed.reference)
    async with uow() as tx:
        payout = None if payout_id is None else await tx.payouts.get(payout_id)
    if payout is None:
        return "unknown"
    if payout.status in FINAL_PAYOUT:
        return "final"
    if payout.status is PayoutStatus.IN_REVIEW or parsed.outcome is ProviderOutcome.PENDING:
        return "pending"
    if (
        parsed.outcome is ProviderOutcome.SUCCEEDED
        and parsed.amount_major != payout.amount.to_major_units_whole()
    ):
        await _flag(uow, clock, parsed.reference)
        return "mismatch"
    settled = await _settle(
        uow,
        clock,
        payout.id,
        parsed.outcome,
        reason=_REASONS.get(parsed.code, "provider_failed"),
        receipt=parsed.receipt,
    )
    return settled.status.value


async def record_registration(*, uow: UnitOfWork, user_id: uuid.UUID, registered_at: datetime) -> None:
    """Remember when an account was registered (auth's ``user_registered``), for the young
    account review rule; the first one stands."""
    async with uow() as tx:
        await tx.payouts.record_registration(user_id, registered_at)


async def get_withdrawal(*, uow: UnitOfWork, user_id: uuid.UUID, payout_id: uuid.UUID) -> Payout:
    async with uow() as tx:
        payout = await tx.payouts.get(payout_id)
    if payout is None or payout.user_id != user_id:
        raise PayoutNotFound("No such withdrawal.")
    return payout


async def list_withdrawals(
    *, uow: UnitOfWork, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Payout]:
    async with uow() as tx:
        return await tx.payouts.of_user(user_id, after=after, limit=limit)


async def stale_payouts(
    *, uow: UnitOfWork, clock: Clock, provider: str, older_than: timedelta
) -> list[Payout]:
    """Payouts with no final result after ``older_than``: requested ones never reached the
    provider's acknowledgement and become ``ambiguous`` for the admin queue (never resent)."""
    async with uow() as tx:
        found = await tx.payouts.unsettled(provider, clock.now() - older_than, 100)
        for payout in found:
            if payout.status is PayoutStatus.REQUESTED:
                payout.status = PayoutStatus.AMBIGUOUS
                await tx.payouts.update(payout, clock.now())
    return found


async def resolve_payout(
    *, uow: UnitOfWork, clock: Clock, provider: QueryablePayoutProvider, payout_id: uuid.UUID
) -> Payout:
    """Ask the provider what became of one payout and apply a final answer once (the same
    entries as a result: in flight → clearing, or back to the wallet). The request itself is
    never sent again: a payout whose request timed out is found under our reference."""
    async with uow() as tx:
        payout = await tx.payouts.get(payout_id)
    if payout is None:
        raise PayoutNotFound("No such withdrawal.")
    if payout.status in FINAL_PAYOUT or payout.status is PayoutStatus.IN_REVIEW:
        return payout
    try:
        status = await provider.query_payout(payout.reference, payout.provider_ref)
    except (ProviderUnreachable, ProviderRejected):
        return payout  # asked again by the next reconciliation
    if status.outcome is ProviderOutcome.PENDING:
        return payout
    if (
        status.outcome is ProviderOutcome.SUCCEEDED
        and status.amount_major is not None
        and status.amount_major != payout.amount.to_major_units_whole()
    ):
        await _flag(uow, clock, payout.reference)
        return payout
    return await _settle(
        uow,
        clock,
        payout_id,
        status.outcome,
        reason=_REASONS.get(status.code, "provider_failed"),
    )


async def reconcile_payouts(
    *, uow: UnitOfWork, clock: Clock, provider: QueryablePayoutProvider, older_than: timedelta
) -> list[Payout]:
    """Payouts of a provider with a status API still unsettled after ``older_than``
    (timed out, or their callback lost): each is asked for, never resent."""
    stale = await stale_payouts(uow=uow, clock=clock, provider=provider.name, older_than=older_than)
    return [
        await resolve_payout(uow=uow, clock=clock, provider=provider, payout_id=p.id)
        for p in stale
        if p.status is not PayoutStatus.IN_REVIEW
    ]
