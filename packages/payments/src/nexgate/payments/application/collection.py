"""Collecting money: intents, attempts, provider callbacks and their confirmation.

Money moves only once the provider's own status API confirms a result; a callback on its
own is a hint. The confirmed effect (ledger entry, state changes, outbox message and the
provider-transaction dedupe row) commits in one transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from nexgate.contracts.payments import (
    HoldFunded,
    MoneyAmount,
    PaymentCreditedToWallet,
    PaymentFailed,
    PaymentSucceeded,
    WalletToppedUp,
)
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import Conflict, FieldProblem, ValidationFailed
from nexgate.kernel.ids import new_id
from nexgate.kernel.money import Money
from nexgate.kernel.phone import normalize_phone
from nexgate.payments.domain.intents import (
    FINAL_ATTEMPT,
    Attempt,
    AttemptInProgress,
    AttemptNotFound,
    AttemptStatus,
    Hold,
    HoldStatus,
    Intent,
    IntentNotFound,
    IntentNotPayable,
    IntentStatus,
    Split,
    validate_intent,
)
from nexgate.payments.domain.ledger import AccountRef, transfer
from nexgate.payments.domain.methods import PaymentMethodNotFound, operator_of, refuse_card_number
from nexgate.payments.ports import (
    CollectionCallback,
    CollectionStatus,
    MobileMoneyProvider,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnreachable,
    Tx,
    UnitOfWork,
)

#: Which provider serves which (region, operator) unless settings say otherwise
#: (``NEXGATE_PAYMENTS_ROUTES``): Kenyan Safaricom through Daraja, Tanzanian Vodacom (M-Pesa
#: TZ) through Selcom, Airtel, Tigo/Yas and Halotel through Tembo.
DEFAULT_ROUTES = {
    "KE/safaricom": "mpesa",
    "TZ/vodacom": "selcom",
    "TZ/airtel": "tembo",
    "TZ/tigo": "tembo",
    "TZ/halotel": "tembo",
}
_CURRENCY_OF_REGION = {"KE": "KES", "TZ": "TZS"}


def money_of(m: Money) -> MoneyAmount:
    return MoneyAmount(amount=m.amount, currency=m.currency)


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (``user_id``) or another context (``system:<context>``)."""

    name: str
    user_id: uuid.UUID | None = None
    admin: bool = False

    @classmethod
    def user(cls, user_id: uuid.UUID, *, admin: bool = False) -> Actor:
        return cls(f"user:{user_id}", user_id, admin)

    @classmethod
    def system(cls, context: str) -> Actor:
        return cls(f"system:{context}")


def _can_see(actor: Actor, intent: Intent) -> bool:
    return actor.admin or actor.name == intent.owner or actor.user_id == intent.payer_id


async def create_intent(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    payer_id: uuid.UUID,
    amount: Money,
    purpose: str,
    reference: str,
    splits: list[Split],
    idempotency_key: str,
    fee_bps: int,
    expires_at: datetime | None = None,
    ttl: timedelta = timedelta(hours=1),
) -> Intent:
    if not 1 <= len(idempotency_key) <= 255:
        raise ValidationFailed("Idempotency keys are 1 to 255 characters.", code="invalid_idempotency_key")
    validate_intent(amount, purpose, splits)
    request_hash = hashlib.sha256(
        msgspec.json.encode(
            [
                str(payer_id),
                amount,
                purpose,
                reference,
                [[str(s.payee_id), s.amount, s.reference, s.release_key, s.auto_release_at] for s in splits],
            ]
        )
    ).hexdigest()
    now = clock.now()
    async with uow() as tx:
        existing = await tx.store.intent_by_key(actor.name, idempotency_key)
        if existing is not None:
            intent, stored_hash = existing
            if stored_hash != request_hash:
                raise ValidationFailed(
                    "This idempotency key was used for a different intent.", code="idempotency_key_reused"
                )
            return intent
        intent_id = new_id()
        intent = Intent(
            id=intent_id,
            owner=actor.name,
            payer_id=payer_id,
            amount=amount,
            purpose=purpose,
            reference=reference,
            status=IntentStatus.REQUIRES_PAYMENT,
            expires_at=expires_at or now + ttl,
            created_at=now,
            holds=[
                Hold(
                    id=new_id(),
                    intent_id=intent_id,
                    payer_id=payer_id,
                    payee_id=s.payee_id,
                    amount=s.amount,
                    held=Money.zero(s.amount.currency),
                    reference=s.reference,
                    status=HoldStatus.AWAITING_PAYMENT,
                    fee_bps=fee_bps,
                    release_key=s.release_key,
                    auto_release_at=s.auto_release_at,
                    created_at=now,
                )
                for s in splits
            ],
        )
        await tx.store.add_intent(intent, key=idempotency_key, request_hash=request_hash)
    return intent


async def get_intent(*, uow: UnitOfWork, actor: Actor, intent_id: uuid.UUID) -> Intent:
    async with uow() as tx:
        intent = await tx.store.get_intent(intent_id)
    if intent is None or not _can_see(actor, intent):
        raise IntentNotFound("No such payment intent.")
    return intent


async def get_attempt(
    *, uow: UnitOfWork, actor: Actor, intent_id: uuid.UUID, attempt_id: uuid.UUID
) -> Attempt:
    async with uow() as tx:
        intent = await tx.store.get_intent(intent_id)
        attempt = await tx.store.get_attempt(attempt_id)
    if intent is None or attempt is None or attempt.intent_id != intent_id or not _can_see(actor, intent):
        raise AttemptNotFound("No such payment attempt.")
    return attempt


def route(
    phone_e164: str,
    currency: str,
    *,
    override: str | None = None,
    operator: str | None = None,
    routes: dict[str, str] | None = None,
) -> str:
    """The provider for a number and currency. ``operator`` is the payer's override of the
    prefix table; ``override`` (the sandbox) takes every number whose country matches."""
    region, derived = operator_of(phone_e164)
    if _CURRENCY_OF_REGION.get(region) != currency:
        raise ValidationFailed(
            f"A number from this country cannot pay in {currency}.",
            code="method_currency_mismatch",
            errors=[FieldProblem("phone", "country does not match the currency")],
        )
    if override is not None:
        return override
    provider = (DEFAULT_ROUTES if routes is None else routes).get(f"{region}/{operator or derived}")
    if provider is None:
        raise ValidationFailed(
            "This mobile-money operator is not supported yet.",
            code="operator_not_supported",
            errors=[FieldProblem("phone", "operator not supported")],
        )
    return provider


async def start_mobile_money_attempt(
    *,
    uow: UnitOfWork,
    clock: Clock,
    providers: dict[str, MobileMoneyProvider],
    callback_url: str | Callable[[str], str],
    actor: Actor,
    intent_id: uuid.UUID,
    phone: str | None = None,
    method_id: uuid.UUID | None = None,
    route_override: str | None = None,
    routes: dict[str, str] | None = None,
    before_prompt: Callable[[str], Awaitable[None]] | None = None,
) -> Attempt:
    """Prompt the payer's phone (a number, or one of the payer's saved methods). Nothing
    reaches the ledger here: only a confirmed result does. ``before_prompt(e164)`` may refuse
    (a rate limit per number) before anything is written or sent."""
    refuse_card_number(phone)
    async with uow() as tx:
        intent = await tx.store.get_intent(intent_id, lock=True)
        if intent is None or actor.user_id != intent.payer_id:
            raise IntentNotFound("No such payment intent.")
        operator = None
        if method_id is not None:
            method = await tx.methods.get(method_id)
            if method is None or method.user_id != intent.payer_id:
                raise PaymentMethodNotFound("No such payment method.")
            e164, operator = method.phone, method.operator_override
        else:
            # Local forms ("0712...") are read in the country of the intent's currency.
            region = {"KES": "KE", "TZS": "TZ"}.get(intent.amount.currency, "TZ")
            e164 = normalize_phone(phone or "", default_region=region, allowed_regions=("TZ", "KE"))
        provider_name = route(
            e164, intent.amount.currency, override=route_override, operator=operator, routes=routes
        )
        intent.amount.to_major_units_whole()  # 422 fractional_amount before any call
        if before_prompt is not None:
            await before_prompt(e164)
        if not intent.payable or intent.expires_at <= clock.now():
            raise IntentNotPayable("This payment intent can no longer be paid.")
        if await tx.store.live_attempt(intent_id) is not None:
            raise AttemptInProgress("A payment prompt is already waiting on the phone.")
        attempt = Attempt(
            id=new_id(),
            intent_id=intent_id,
            payer_id=intent.payer_id,
            method="mobile_money",
            provider=provider_name,
            phone=e164,
            amount=intent.amount,
            status=AttemptStatus.INITIATED,
            created_at=clock.now(),
        )
        await tx.store.add_attempt(attempt)
        await tx.store.set_intent_status(intent_id, IntentStatus.PROCESSING.value, clock.now())
    provider = providers[provider_name]
    try:
        ref = await provider.collect(
            reference=attempt.id.hex[-12:],
            msisdn_e164=e164,
            amount=attempt.amount,
            callback_url=callback_url(provider_name) if callable(callback_url) else callback_url,
            description="Nexgate",
            operator=operator,
        )
    except ProviderRejected as exc:
        await _fail(uow, clock, attempt.id, "provider_error", detail=str(exc))
        raise Conflict(f"The provider refused the payment: {exc}", code="provider_rejected") from None
    except ProviderUnreachable:
        # The prompt may or may not have gone out: never resend blindly.
        async with uow() as tx:
            attempt.status = AttemptStatus.AMBIGUOUS
            attempt.failure_reason = "provider_unreachable"
            await tx.store.update_attempt(attempt, clock.now())
        return attempt
    async with uow() as tx:
        attempt.status = AttemptStatus.PENDING
        attempt.provider_ref = ref
        await tx.store.update_attempt(attempt, clock.now())
    return attempt


async def _fail(
    uow: UnitOfWork, clock: Clock, attempt_id: uuid.UUID, reason: str, *, detail: str = ""
) -> None:
    async with uow() as tx:
        attempt = await tx.store.get_attempt(attempt_id, lock=True)
        if attempt is None or attempt.status in FINAL_ATTEMPT:
            return
        intent = await tx.store.get_intent(attempt.intent_id, lock=True)
        assert intent is not None
        attempt.status = AttemptStatus.FAILED
        attempt.failure_reason = reason
        await tx.store.update_attempt(attempt, clock.now())
        if intent.status is IntentStatus.PROCESSING:
            await tx.store.set_intent_status(intent.id, IntentStatus.REQUIRES_PAYMENT.value, clock.now())
        await tx.outbox.add(
            PaymentFailed(
                intent_id=intent.id,
                purpose=intent.purpose,
                reference=intent.reference,
                payer_id=intent.payer_id,
                reason=reason,
                retryable=True,
            )
        )


async def _succeed(uow: UnitOfWork, clock: Clock, attempt_id: uuid.UUID, receipt: str | None) -> bool:
    """Apply a confirmed collection exactly once; False if it had already taken effect."""
    async with uow() as tx:
        attempt = await tx.store.get_attempt(attempt_id, lock=True)
        if attempt is None or attempt.status in FINAL_ATTEMPT or attempt.provider_ref is None:
            return False
        assert attempt.provider is not None
        entry_id = new_id()
        if not await tx.store.claim_provider_txn(
            attempt.provider, attempt.provider_ref, attempt.id, entry_id
        ):
            return False
        intent = await tx.store.get_intent(attempt.intent_id, lock=True)
        assert intent is not None
        clearing = AccountRef.clearing(attempt.provider, attempt.amount.currency)
        now = clock.now()
        attempt.status = AttemptStatus.SUCCEEDED
        attempt.provider_txn_id = receipt
        if not intent.payable:
            # Paid after a cancel, expiry or another success: the money is the payer's, in the wallet.
            targets = [(AccountRef.wallet(intent.payer_id, attempt.amount.currency), attempt.amount)]
            attempt.failure_reason = "credited_to_wallet"
            message: list = [
                PaymentCreditedToWallet(
                    intent_id=intent.id,
                    attempt_id=attempt.id,
                    payer_id=intent.payer_id,
                    amount=money_of(attempt.amount),
                )
            ]
        elif intent.purpose == "wallet_topup":
            targets = [(AccountRef.wallet(intent.payer_id, intent.amount.currency), intent.amount)]
            message = [
                WalletToppedUp(intent_id=intent.id, user_id=intent.payer_id, amount=money_of(intent.amount))
            ]
        else:
            targets = [(AccountRef.escrow(h.id, h.amount.currency), h.amount) for h in intent.holds]
            message = [_payment_succeeded(intent, "mobile_money", attempt.provider)]
            await _fund_holds(tx, intent, now)
        if intent.payable:
            await tx.store.set_intent_status(intent.id, IntentStatus.SUCCEEDED.value, now)
            if intent.purpose == "wallet_topup":
                message.append(
                    PaymentSucceeded(
                        intent_id=intent.id,
                        purpose=intent.purpose,
                        reference=intent.reference,
                        payer_id=intent.payer_id,
                        amount=money_of(intent.amount),
                        method="mobile_money",
                        provider=attempt.provider,
                    )
                )
        if attempt.phone is not None:
            await tx.methods.mark_verified(intent.payer_id, attempt.phone, now)
        # A late success keeps the one-succeeded-attempt index free for the real one.
        if attempt.failure_reason == "credited_to_wallet" and intent.status is IntentStatus.SUCCEEDED:
            attempt.status = AttemptStatus.FAILED
        await tx.store.update_attempt(attempt, now)
        await tx.outbox.add(*message)
        # Last: every collection of a provider and currency locks the same clearing row,
        # so it is held only from here to the commit.
        await tx.ledger.post(
            transfer(
                id=entry_id,
                kind="collection",
                reference=f"attempt:{attempt.id}",
                idempotency_key=f"collection:{attempt.id}",
                source=clearing,
                targets=targets,
            )
        )
    return True


def _payment_succeeded(intent: Intent, method: str, provider: str | None) -> PaymentSucceeded:
    return PaymentSucceeded(
        intent_id=intent.id,
        purpose=intent.purpose,
        reference=intent.reference,
        payer_id=intent.payer_id,
        amount=money_of(intent.amount),
        method=method,
        provider=provider,
        holds=[
            HoldFunded(hold_id=h.id, payee_id=h.payee_id, amount=money_of(h.amount), reference=h.reference)
            for h in intent.holds
        ],
    )


async def _fund_holds(tx: Tx, intent: Intent, now: datetime) -> None:
    for hold in intent.holds:
        hold.status, hold.held = HoldStatus.HELD, hold.amount
        await tx.store.update_hold(hold, now)


async def pay_with_wallet(*, uow: UnitOfWork, clock: Clock, actor: Actor, intent_id: uuid.UUID) -> Attempt:
    """Pay an intent from the payer's wallet in one transaction: the intent row is locked
    first (two attempts on one intent: the second finds it paid), then the ledger locks the
    wallet and refuses to take it below zero (409 ``insufficient_funds``)."""
    now = clock.now()
    async with uow() as tx:
        intent = await tx.store.get_intent(intent_id, lock=True)
        if intent is None or actor.user_id != intent.payer_id:
            raise IntentNotFound("No such payment intent.")
        if intent.purpose == "wallet_topup":
            raise ValidationFailed(
                "A top-up is paid with mobile money.",
                code="unsupported_method",
                errors=[FieldProblem("method", "must be mobileMoney for a top-up")],
            )
        if not intent.payable or intent.expires_at <= now:
            raise IntentNotPayable("This payment intent can no longer be paid.")
        if await tx.store.live_attempt(intent_id) is not None:
            raise AttemptInProgress("A payment prompt is already waiting on the phone.")
        attempt = Attempt(
            id=new_id(),
            intent_id=intent.id,
            payer_id=intent.payer_id,
            method="wallet",
            provider=None,
            phone=None,
            amount=intent.amount,
            status=AttemptStatus.SUCCEEDED,
            created_at=now,
        )
        await tx.store.add_attempt(attempt)
        await tx.ledger.post(
            transfer(
                id=new_id(),
                kind="wallet_payment",
                reference=f"attempt:{attempt.id}",
                idempotency_key=f"wallet_payment:{attempt.id}",
                source=AccountRef.wallet(intent.payer_id, intent.amount.currency),
                targets=[(AccountRef.escrow(h.id, h.amount.currency), h.amount) for h in intent.holds],
            )
        )
        await _fund_holds(tx, intent, now)
        await tx.store.set_intent_status(intent.id, IntentStatus.SUCCEEDED.value, now)
        await tx.outbox.add(_payment_succeeded(intent, "wallet", None))
    return attempt


async def _apply(
    uow: UnitOfWork, clock: Clock, attempt: Attempt, status: CollectionStatus, receipt: str | None
) -> str:
    if status.outcome is ProviderOutcome.SUCCEEDED:
        if status.amount_major is not None and status.amount_major != attempt.amount.to_major_units_whole():
            await _flag(uow, clock, attempt.id)
            return "mismatch"
        return "credited" if await _succeed(uow, clock, attempt.id, receipt) else "duplicate"
    if status.outcome is ProviderOutcome.FAILED:
        await _fail(uow, clock, attempt.id, status.reason or "rejected")
        return "failed"
    return "unconfirmed"


async def _flag(uow: UnitOfWork, clock: Clock, attempt_id: uuid.UUID) -> None:
    async with uow() as tx:
        attempt = await tx.store.get_attempt(attempt_id, lock=True)
        if attempt is not None:
            attempt.suspicious = True
            await tx.store.update_attempt(attempt, clock.now())


def _redact(body: object) -> object:
    """The callback as stored: phone numbers cut to their last three digits."""
    if isinstance(body, dict):
        return {
            k: (
                "*" * 9 + str(v)[-3:]
                if k in ("PhoneNumber", "msisdn", "phone") and v is not None
                else _redact(v)
            )
            for k, v in body.items()
        }
    if isinstance(body, list):
        if len(body) > 0 and all(isinstance(i, dict) and "Name" in i for i in body):
            return [
                {**i, "Value": "*" * 9 + str(i.get("Value"))[-3:]} if i.get("Name") == "PhoneNumber" else i
                for i in body
            ]
        return [_redact(i) for i in body]
    return body


async def handle_collection_callback(
    *, uow: UnitOfWork, clock: Clock, provider: MobileMoneyProvider, body: object, authentic: bool = True
) -> str:
    """Store the callback, then confirm it with the provider before any money moves.

    Returns what became of it (stored on the callback row): ``unknown``, ``final``,
    ``mismatch``, ``unconfirmed``, ``credited``, ``duplicate`` or ``failed``.
    """
    parsed: CollectionCallback = provider.parse_collection_callback(body)
    async with uow() as tx:
        callback_id = await tx.store.record_callback(
            provider=provider.name, kind="collection", body=_redact(body), provider_ref=parsed.provider_ref
        )
    if not authentic:
        # A signature that does not verify: kept for the record, the attempt flagged, nothing moved.
        async with uow() as tx:
            attempt = await tx.store.attempt_by_provider_ref(provider.name, parsed.provider_ref)
        if attempt is not None:
            await _flag(uow, clock, attempt.id)
        outcome = "bad_signature"
    else:
        outcome = await _process(uow, clock, provider, parsed)
    async with uow() as tx:
        await tx.store.set_callback_outcome(callback_id, outcome)
    return outcome


async def _process(
    uow: UnitOfWork, clock: Clock, provider: MobileMoneyProvider, parsed: CollectionCallback
) -> str:
    async with uow() as tx:
        attempt = await tx.store.attempt_by_provider_ref(provider.name, parsed.provider_ref)
    if attempt is None:
        return "unknown"
    if attempt.status in FINAL_ATTEMPT:
        return "final"
    if parsed.outcome is ProviderOutcome.SUCCEEDED:
        expected_msisdn = (attempt.phone or "").removeprefix("+")
        # Providers whose callbacks carry no amount (Selcom) are checked on the status instead.
        amount_checked = parsed.amount_major is not None or getattr(provider, "callbacks_carry_amount", True)
        if (amount_checked and parsed.amount_major != attempt.amount.to_major_units_whole()) or (
            parsed.msisdn is not None and parsed.msisdn != expected_msisdn
        ):
            await _flag(uow, clock, attempt.id)
            return "mismatch"
    try:
        status = await provider.query_collection(parsed.provider_ref)
    except (ProviderUnreachable, ProviderRejected):
        return "unconfirmed"  # reconciliation asks again later
    if parsed.outcome is ProviderOutcome.SUCCEEDED and status.outcome is ProviderOutcome.FAILED:
        await _flag(uow, clock, attempt.id)
    return await _apply(
        uow, clock, attempt, status, parsed.receipt if status.outcome is ProviderOutcome.SUCCEEDED else None
    )


async def reconcile_pending(
    *,
    uow: UnitOfWork,
    clock: Clock,
    provider: MobileMoneyProvider,
    older_than: timedelta,
    give_up_after: timedelta,
) -> dict[str, int]:
    """Ask the provider about attempts still pending past ``older_than``; those pending past
    ``give_up_after`` become ``ambiguous`` for the admin queue."""
    counts: dict[str, int] = {}
    async with uow() as tx:
        pending = await tx.store.pending_attempts(provider.name, clock.now() - older_than, 100)
    for attempt in pending:
        assert attempt.provider_ref is not None
        try:
            status = await provider.query_collection(attempt.provider_ref)
        except (ProviderUnreachable, ProviderRejected):
            status = CollectionStatus(ProviderOutcome.PENDING)
        outcome = await _apply(uow, clock, attempt, status, None)
        if outcome == "unconfirmed" and attempt.created_at <= clock.now() - give_up_after:
            async with uow() as tx:
                locked = await tx.store.get_attempt(attempt.id, lock=True)
                if locked is not None and locked.status is AttemptStatus.PENDING:
                    locked.status = AttemptStatus.AMBIGUOUS
                    await tx.store.update_attempt(locked, clock.now())
                    outcome = "ambiguous"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


async def cancel_intent(*, uow: UnitOfWork, clock: Clock, actor: Actor, intent_id: uuid.UUID) -> Intent:
    """Cancel an unpaid intent (its owner only). Money that still arrives goes to the wallet."""
    async with uow() as tx:
        intent = await tx.store.get_intent(intent_id, lock=True)
        if intent is None or (actor.name != intent.owner and not actor.admin):
            raise IntentNotFound("No such payment intent.")
        if not intent.payable:
            raise IntentNotPayable("Only an unpaid intent can be cancelled.")
        await tx.store.set_intent_status(intent.id, IntentStatus.CANCELLED.value, clock.now())
        for hold in intent.holds:
            hold.status = HoldStatus.VOID
            await tx.store.update_hold(hold, clock.now())
        intent.status = IntentStatus.CANCELLED
    return intent


async def resolve_ambiguous(
    *, uow: UnitOfWork, clock: Clock, attempt_id: uuid.UUID, succeeded: bool, receipt: str | None
) -> Attempt:
    """An admin settles an attempt nobody could confirm (after checking the provider's portal):
    a success is applied exactly like a confirmed one (dedupe row, ledger key), a failure frees
    the intent for another attempt."""
    async with uow() as tx:
        attempt = await tx.store.get_attempt(attempt_id, lock=True)
        if attempt is None:
            raise AttemptNotFound("No such payment attempt.")
        if attempt.status is not AttemptStatus.AMBIGUOUS:
            raise Conflict("Only an ambiguous attempt is resolved by hand.", code="attempt_not_ambiguous")
        if attempt.provider_ref is None:  # the prompt's answer never came: our id stands in
            attempt.provider_ref = f"manual-{attempt.id.hex}"
            await tx.store.update_attempt(attempt, clock.now())
    if succeeded:
        await _succeed(uow, clock, attempt_id, receipt)
    else:
        await _fail(uow, clock, attempt_id, "rejected")
    async with uow() as tx:
        found = await tx.store.get_attempt(attempt_id)
    assert found is not None
    return found


async def attempts_in_status(
    *, uow: UnitOfWork, status: str, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Attempt]:
    async with uow() as tx:
        return await tx.store.attempts_by_status(status, after=after, limit=limit)
