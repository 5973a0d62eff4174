"""Thin controllers: decode, call a use case, encode."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import (
    Conflict,
    FieldProblem,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from nexgate.kernel.http.auth import requires_principal, requires_role
from nexgate.kernel.http.ratelimit import RateLimiter
from nexgate.kernel.money import CURRENCY_EXPONENTS, Money
from nexgate.kernel.pagination import CursorCodec, Page, validate_limit
from nexgate.kernel.security.principal import Principal
from nexgate.payments.adapters.http.schemas import (
    AttemptIn,
    AttemptOut,
    FreezeOut,
    HoldDetailOut,
    IntentOut,
    RefundIn,
    RefundOut,
    StatementLineOut,
    TopUpIn,
    TransactionOut,
    WalletBalanceOut,
    WalletOut,
    WithdrawalIn,
    WithdrawalOut,
)
from nexgate.payments.adapters.sandbox.provider import SandboxProvider
from nexgate.payments.adapters.selcom.provider import SelcomProvider
from nexgate.payments.adapters.sql.ledger import SqlLedger
from nexgate.payments.application import collection, escrow, payouts, wallets
from nexgate.payments.application.collection import Actor
from nexgate.payments.domain.intents import AttemptNotFound, HoldStatus
from nexgate.payments.domain.payouts import WithdrawalLimits
from nexgate.payments.ports import (
    MobileMoneyProvider,
    PayoutProvider,
    StatusByCallbackPayoutProvider,
    UnitOfWork,
)
from nexgate.payments.settings import PaymentsSettings

MAX_CALLBACK_BYTES = 64 * 1024


@dataclass
class PaymentsService:
    """What the controllers need, built once by the plugin."""

    settings: PaymentsSettings
    uow: UnitOfWork
    providers: dict[str, MobileMoneyProvider]
    sessions: object
    payout_providers: dict[str, PayoutProvider]
    sandbox: SandboxProvider | None = None

    @property
    def route_override(self) -> str | None:
        """With the sandbox on, it takes every mobile-money number."""
        return None if self.sandbox is None else self.sandbox.name

    def callback_url(self, provider: str) -> str:
        base = self.settings.callback_base_url.rstrip("/")
        return f"{base}/api/v1/payments/callbacks/{provider}/{self.settings.callback_token}"

    def payout_result_url(self, provider: str) -> str:
        """Where a provider posts payout results: Daraja's own path, else ``<provider>-payout``."""
        return self.callback_url("mpesa-b2c" if provider == "mpesa" else f"{provider}-payout")

    def payout_timeout_url(self, provider: str) -> str:
        return self.callback_url("mpesa-b2c-timeout" if provider == "mpesa" else f"{provider}-payout")

    @property
    def withdrawal_limits(self) -> WithdrawalLimits:
        s = self.settings
        return WithdrawalLimits(
            s.withdrawal_minimum,
            s.withdrawal_maximum,
            daily_maximum=s.withdrawal_daily_maximum,
            per_day=s.withdrawals_per_day,
            review_above=s.withdrawal_review_above,
            review_unverified=s.withdrawal_review_unverified,
            young_account_days=s.young_account_days,
        )


def actor_of(principal: Principal) -> Actor:
    return Actor.user(principal.user_id, admin=principal.has_role("admin"))


def idempotency_key_of(request: Request) -> str:
    """The Idempotency-Key header, which every money-moving POST requires."""
    key = request.headers.get("idempotency-key", "")
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(
            "This request needs an Idempotency-Key header of 1 to 255 characters.",
            code="idempotency_key_required",
            errors=[FieldProblem("Idempotency-Key", "required, 1 to 255 characters")],
        )
    return key


class IntentController(Controller):
    path = "/api/v1/payments/intents"
    tags = ["payments"]
    guards = [requires_principal]

    @get("/{intent_id:uuid}", summary="Read a payment intent (payer or admin)")
    async def read(
        self,
        intent_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> IntentOut:
        intent = await collection.get_intent(uow=payments.uow, actor=actor_of(principal), intent_id=intent_id)
        return IntentOut.of(intent)

    @post("/{intent_id:uuid}/attempts", opt={"idempotent": True}, summary="Pay an intent (prompts the phone)")
    async def start_attempt(
        self,
        intent_id: FromPath[uuid.UUID],
        data: JSONBody[AttemptIn],
        request: Request,
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> AttemptOut:
        if data.method == "wallet":
            if data.phone is not None or data.payment_method_id is not None:
                raise ValidationFailed(
                    "A wallet payment takes no phone or payment method.",
                    code="invalid_attempt",
                    errors=[FieldProblem("method", "wallet takes no phone or paymentMethodId")],
                )
            attempt = await collection.pay_with_wallet(
                uow=payments.uow, clock=clock, actor=actor_of(principal), intent_id=intent_id
            )
            return AttemptOut.of(attempt)
        if data.method != "mobileMoney":
            raise ValidationFailed(
                "Pay with mobileMoney or wallet.",
                code="unsupported_method",
                errors=[FieldProblem("method", "must be mobileMoney or wallet")],
            )
        if (data.phone is None) == (data.payment_method_id is None):
            raise ValidationFailed(
                "Give either a phone or a paymentMethodId.",
                code="invalid_attempt",
                errors=[FieldProblem("phone", "either phone or paymentMethodId")],
            )
        limiter: RateLimiter = request.app.state.rate_limiter
        window = payments.settings.prompt_window_s
        await limiter.hit(
            "payments.prompts",
            f"u:{principal.user_id}",
            limit=payments.settings.prompts_per_user,
            window_s=window,
        )

        async def per_number(e164: str) -> None:
            await limiter.hit(
                "payments.prompts", f"n:{e164}", limit=payments.settings.prompts_per_number, window_s=window
            )

        attempt = await collection.start_mobile_money_attempt(
            uow=payments.uow,
            clock=clock,
            providers=payments.providers,
            callback_url=payments.callback_url,
            actor=actor_of(principal),
            intent_id=intent_id,
            phone=data.phone,
            method_id=data.payment_method_id,
            route_override=payments.route_override,
            routes=payments.settings.routes,
            before_prompt=per_number,
        )
        return AttemptOut.of(attempt)

    @get("/{intent_id:uuid}/attempts/{attempt_id:uuid}", summary="Read a payment attempt")
    async def read_attempt(
        self,
        intent_id: FromPath[uuid.UUID],
        attempt_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> AttemptOut:
        attempt = await collection.get_attempt(
            uow=payments.uow, actor=actor_of(principal), intent_id=intent_id, attempt_id=attempt_id
        )
        return AttemptOut.of(attempt)


class WalletController(Controller):
    path = "/api/v1/payments/wallet"
    tags = ["payments"]
    guards = [requires_principal]

    @get("/", summary="My wallet balances per currency")
    async def read(
        self, principal: NamedDependency[Principal], payments: NamedDependency[PaymentsService]
    ) -> WalletOut:
        async with payments.uow() as tx:
            rows = await SqlLedger(tx.session).wallets_of(principal.user_id)  # type: ignore[attr-defined]
        return WalletOut([WalletBalanceOut(Money(r.balance, r.currency), r.frozen) for r in rows])

    @post("/top-ups", opt={"idempotent": True}, summary="Top up my wallet: a wallet_topup intent to pay")
    async def top_up(
        self,
        data: JSONBody[TopUpIn],
        request: Request,
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> IntentOut:
        """Creates the intent only; the wallet is credited once a collection for it is confirmed."""
        key = idempotency_key_of(request)
        data.amount.to_major_units_whole()  # mobile money moves whole shillings only
        intent = await collection.create_intent(
            uow=payments.uow,
            clock=clock,
            actor=actor_of(principal),
            payer_id=principal.user_id,
            amount=data.amount,
            purpose="wallet_topup",
            reference=f"topup:{key}",
            splits=[],
            idempotency_key=key,
            fee_bps=payments.settings.fee_bps,
            ttl=timedelta(seconds=payments.settings.intent_ttl_s),
        )
        return IntentOut.of(intent)

    @get("/statement", summary="My wallet statement, newest first (cursor pages; from/to filter by time)")
    async def statement(
        self,
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
        currency: FromQuery[str | None] = None,
        from_: Annotated[datetime | None, QueryParameter(name="from")] = None,
        to: FromQuery[datetime | None] = None,
    ) -> Page[StatementLineOut]:
        size = validate_limit(limit)
        if currency is not None and currency not in CURRENCY_EXPONENTS:
            raise ValidationFailed(
                "Unknown currency.",
                code="unsupported_currency",
                errors=[FieldProblem("currency", "not a supported currency")],
            )
        after = cursors.decode(cursor, (int,))[0] if cursor else None
        async with payments.uow() as tx:
            lines = await SqlLedger(tx.session).wallet_statement(  # type: ignore[attr-defined]
                principal.user_id, currency=currency, after=after, limit=size, since=from_, until=to
            )
        page = Page.from_rows(lines, size, key=lambda line: (line.posting_id,), codec=cursors)
        return Page(
            items=[
                StatementLineOut(line.entry_id, line.kind, line.amount, line.balance_after, line.created_at)
                for line in page.items
            ],
            next_cursor=page.next_cursor,
        )

    @post("/freeze", status_code=200, summary="Freeze my wallet (e.g. a lost phone); I can unfreeze it")
    async def freeze(
        self, principal: NamedDependency[Principal], payments: NamedDependency[PaymentsService]
    ) -> FreezeOut:
        actor = Actor.user(principal.user_id)  # as the owner, even for an admin
        by = await wallets.freeze(uow=payments.uow, actor=actor, user_id=principal.user_id)
        return FreezeOut(principal.user_id, True, by)

    @post("/unfreeze", status_code=200, summary="Unfreeze my wallet (not when an admin froze it: 403)")
    async def unfreeze(
        self, principal: NamedDependency[Principal], payments: NamedDependency[PaymentsService]
    ) -> FreezeOut:
        actor = Actor.user(principal.user_id)
        await wallets.unfreeze(uow=payments.uow, actor=actor, user_id=principal.user_id)
        return FreezeOut(principal.user_id, False, None)


class TransactionController(Controller):
    path = "/api/v1/payments/transactions"
    tags = ["payments"]
    guards = [requires_principal]

    @get("/{entry_id:uuid}", summary="One ledger entry of my wallet (owner only)")
    async def read(
        self,
        entry_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> TransactionOut:
        async with payments.uow() as tx:
            entry = await SqlLedger(tx.session).entry_for_owner(entry_id, principal.user_id)  # type: ignore[attr-defined]
        if entry is None:
            raise NotFound("No such transaction.", code="transaction_not_found")
        return TransactionOut(
            entry.id,
            entry.kind,
            entry.created_at,
            [
                StatementLineOut(line.entry_id, line.kind, line.amount, line.balance_after, line.created_at)
                for line in entry.lines
            ],
        )


_WITHDRAWAL_CURSOR = (datetime, uuid.UUID)


class WithdrawalController(Controller):
    path = "/api/v1/payments/wallet/withdrawals"
    tags = ["payments"]
    guards = [requires_principal]

    @post("/", opt={"idempotent": True}, summary="Withdraw from my wallet to mobile money")
    async def create(
        self,
        data: JSONBody[WithdrawalIn],
        request: Request,
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> WithdrawalOut:
        key = idempotency_key_of(request)
        limiter: RateLimiter = request.app.state.rate_limiter
        await limiter.hit(
            "payments.withdrawals",
            f"u:{principal.user_id}",
            limit=payments.settings.withdrawals_per_hour,
            window_s=3600,
        )
        payout = await payouts.request_withdrawal(
            uow=payments.uow,
            clock=clock,
            providers=payments.payout_providers,
            result_url=payments.payout_result_url,
            timeout_url=payments.payout_timeout_url,
            user_id=principal.user_id,
            amount=data.amount,
            phone=data.phone,
            idempotency_key=key,
            limits=payments.withdrawal_limits,
            route_override=payments.route_override,
            routes=payments.settings.routes,
        )
        return WithdrawalOut.of(payout)

    @get("/", summary="My withdrawals, newest first (cursor pages)")
    async def list_mine(
        self,
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[WithdrawalOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, _WITHDRAWAL_CURSOR) if cursor else None
        found = await payouts.list_withdrawals(
            uow=payments.uow,
            user_id=principal.user_id,
            after=after,  # type: ignore[arg-type]
            limit=size,
        )
        page = Page.from_rows(found, size, key=lambda p: (p.created_at, p.id), codec=cursors)
        return Page(items=[WithdrawalOut.of(p) for p in page.items], next_cursor=page.next_cursor)

    @get("/{payout_id:uuid}", summary="One of my withdrawals")
    async def read(
        self,
        payout_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> WithdrawalOut:
        payout = await payouts.get_withdrawal(
            uow=payments.uow, user_id=principal.user_id, payout_id=payout_id
        )
        return WithdrawalOut.of(payout)


class HoldController(Controller):
    path = "/api/v1/payments/holds"
    tags = ["payments"]
    guards = [requires_principal]

    @get("/", summary="My escrow holds as payer or payee, newest first (cursor pages)")
    async def list_mine(
        self,
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        cursors: NamedDependency[CursorCodec],
        role: FromQuery[str] = "payer",
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[HoldDetailOut]:
        size = validate_limit(limit)
        if role not in ("payer", "payee"):
            raise ValidationFailed(
                "role is payer or payee.",
                code="invalid_query",
                errors=[FieldProblem("role", "payer or payee")],
            )
        if status is not None and status not in {s.value for s in HoldStatus}:
            raise ValidationFailed(
                "Unknown hold status.",
                code="invalid_query",
                errors=[FieldProblem("status", "unknown status")],
            )
        after = cursors.decode(cursor, _WITHDRAWAL_CURSOR) if cursor else None
        found = await escrow.list_holds(
            uow=payments.uow,
            actor=actor_of(principal),
            role=role,
            status=status,
            after=after,  # type: ignore[arg-type]
            limit=size,
        )
        page = Page.from_rows(found, size, key=lambda h: (h.created_at, h.id), codec=cursors)
        return Page(items=[HoldDetailOut.of(h) for h in page.items], next_cursor=page.next_cursor)

    @post(
        "/{hold_id:uuid}/dispute",
        status_code=200,
        summary="Dispute a hold (payer): it is not released until an admin resolves it",
    )
    async def dispute(
        self,
        hold_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> HoldDetailOut:
        hold = await escrow.open_dispute(
            uow=payments.uow, clock=clock, actor=actor_of(principal), hold_id=hold_id
        )
        return HoldDetailOut.of(hold)

    @get("/{hold_id:uuid}", summary="Read an escrow hold (payer, payee or admin)")
    async def read(
        self,
        hold_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> HoldDetailOut:
        hold = await escrow.get_hold(uow=payments.uow, actor=actor_of(principal), hold_id=hold_id)
        return HoldDetailOut.of(hold)


class AdminHoldController(Controller):
    """Admins release or refund any hold (the owning contexts do it through the facade)."""

    path = "/api/v1/payments/admin/holds"
    tags = ["payments", "admin"]
    guards = [requires_principal, requires_role("admin")]

    @get("/", summary="The admin queue: holds unreleased after max_hold_days, oldest first (cursor pages)")
    async def queue(
        self,
        payments: NamedDependency[PaymentsService],
        cursors: NamedDependency[CursorCodec],
        clock: NamedDependency[Clock],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[HoldDetailOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, _WITHDRAWAL_CURSOR) if cursor else None
        found = await escrow.stale_holds(
            uow=payments.uow,
            clock=clock,
            max_age=timedelta(days=payments.settings.max_hold_days),
            after=after,  # type: ignore[arg-type]
            limit=size,
        )
        page = Page.from_rows(found, size, key=lambda h: (h.created_at, h.id), codec=cursors)
        return Page(items=[HoldDetailOut.of(h) for h in page.items], next_cursor=page.next_cursor)

    @post(
        "/{hold_id:uuid}/release",
        status_code=200,
        opt={"idempotent": True},
        summary="Release a hold to its payee, less the platform fee (admin)",
    )
    async def release(
        self,
        hold_id: FromPath[uuid.UUID],
        request: Request,
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> HoldDetailOut:
        idempotency_key_of(request)
        hold = await escrow.release_hold(
            uow=payments.uow, clock=clock, actor=actor_of(principal), hold_id=hold_id
        )
        return HoldDetailOut.of(hold)

    @post(
        "/{hold_id:uuid}/refunds",
        opt={"idempotent": True},
        summary="Refund all or part of what a hold holds to the payer's wallet (admin)",
    )
    async def refund(
        self,
        hold_id: FromPath[uuid.UUID],
        data: JSONBody[RefundIn],
        request: Request,
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> RefundOut:
        refund = await escrow.refund_hold(
            uow=payments.uow,
            clock=clock,
            actor=actor_of(principal),
            hold_id=hold_id,
            amount=data.amount,
            idempotency_key=idempotency_key_of(request),
        )
        return RefundOut.of(refund)


_DARAJA_ACK: dict[str, object] = {"ResultCode": 0, "ResultDesc": "Accepted"}
_SELCOM_ACK: dict[str, object] = {
    "reference": "",
    "resultcode": "000",
    "result": "SUCCESS",
    "message": "Accepted",
    "data": [],
}


class CallbackController(Controller):
    """Provider callbacks: no JWT; a secret path token, then confirmation with the provider.
    One path per provider and kind: ``mpesa``, ``mpesa-b2c``, ``mpesa-b2c-status``,
    ``mpesa-b2c-timeout``,
    ``selcom``, ``selcom-payout``, ``tembo``, ``tembo-payout``, ``sandbox``,
    ``sandbox-payout``; anything else is 404."""

    path = "/api/v1/payments/callbacks"
    tags = ["payments"]

    @post(
        "/{provider:str}/{token:str}",
        status_code=200,
        # Selcom signs its webhooks with a `SELCOM` Authorization header: not ours to parse.
        opt={"foreign_authorization": True},
        summary="A provider's result (acknowledged in the provider's own shape)",
    )
    async def receive(
        self,
        provider: FromPath[str],
        token: FromPath[str],
        request: Request,
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> dict[str, object]:
        body = await _callback_body(token, request, payments)
        uow = payments.uow
        if provider in ("mpesa", "tembo"):
            await collection.handle_collection_callback(
                uow=uow, clock=clock, provider=payments.providers[provider], body=body
            )
            return _DARAJA_ACK if provider == "mpesa" else {"received": True}
        if provider == "selcom":
            selcom = payments.providers.get("selcom")
            if not isinstance(selcom, SelcomProvider):
                raise NotFound("Not found.")
            authentic = selcom.verify_callback(dict(request.headers), body, clock.now())
            await collection.handle_collection_callback(
                uow=uow, clock=clock, provider=selcom, body=body, authentic=authentic
            )
            return _SELCOM_ACK
        if provider in ("tembo-payout", "selcom-payout"):
            name = provider.removesuffix("-payout")
            payer = payments.payout_providers.get(name)
            if payer is None:
                raise NotFound("Not found.")
            # Selcom's signature is checked exactly as for its collection webhooks.
            authentic = not isinstance(payer, SelcomProvider) or payer.verify_callback(
                dict(request.headers), body, clock.now(), required=("transid", "payment_status")
            )
            await payouts.handle_payout_result(
                uow=uow, clock=clock, provider=payer, body=body, authentic=authentic
            )
            return _SELCOM_ACK if name == "selcom" else {"received": True}
        if provider == "mpesa-b2c":
            await payouts.handle_payout_result(
                uow=uow, clock=clock, provider=payments.payout_providers["mpesa"], body=body
            )
            return _DARAJA_ACK
        if provider == "mpesa-b2c-status":
            daraja = payments.payout_providers.get("mpesa")
            if not isinstance(daraja, StatusByCallbackPayoutProvider):
                raise NotFound("Not found.")
            await payouts.handle_payout_status(uow=uow, clock=clock, provider=daraja, body=body)
            return _DARAJA_ACK
        if provider == "mpesa-b2c-timeout":
            # Recorded only: the payout stays unsettled (money in flight) until its result.
            async with uow() as tx:
                await tx.store.record_callback(
                    provider="mpesa", kind="payout_timeout", body=body, provider_ref=None
                )
            return _DARAJA_ACK
        if provider in ("sandbox", "sandbox-payout") and payments.sandbox is not None:
            if provider == "sandbox":
                await collection.handle_collection_callback(
                    uow=uow, clock=clock, provider=payments.sandbox, body=body
                )
            else:
                await payouts.handle_payout_result(uow=uow, clock=clock, provider=payments.sandbox, body=body)
            return {"received": True}
        raise NotFound("Not found.")


class SandboxController(Controller):
    """Stand-ins for the payer's phone while the sandbox provider is on (404 otherwise)."""

    path = "/api/v1/payments/sandbox/attempts"
    tags = ["payments", "sandbox"]
    guards = [requires_principal]

    async def _decide(
        self, attempt_id: uuid.UUID, principal: Principal, payments: PaymentsService, approve: bool
    ) -> AttemptOut:
        if payments.sandbox is None:
            raise NotFound("Not found.")
        async with payments.uow() as tx:
            attempt = await tx.store.get_attempt(attempt_id)
        if attempt is None or (attempt.payer_id != principal.user_id and not principal.has_role("admin")):
            raise AttemptNotFound("No such payment attempt.")
        if attempt.provider != payments.sandbox.name or attempt.provider_ref is None:
            raise Conflict("This attempt is not waiting on the sandbox.", code="not_a_sandbox_attempt")
        if not await payments.sandbox.decide(attempt.provider_ref, approve=approve):
            raise Conflict("The sandbox already answered for this attempt.", code="already_decided")
        async with payments.uow() as tx:
            latest = await tx.store.get_attempt(attempt_id)
        assert latest is not None
        return AttemptOut.of(latest)

    @post("/{attempt_id:uuid}/approve", status_code=200, summary="Sandbox: approve the prompt")
    async def approve(
        self,
        attempt_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> AttemptOut:
        return await self._decide(attempt_id, principal, payments, approve=True)

    @post("/{attempt_id:uuid}/decline", status_code=200, summary="Sandbox: decline the prompt")
    async def decline(
        self,
        attempt_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
    ) -> AttemptOut:
        return await self._decide(attempt_id, principal, payments, approve=False)


async def _callback_body(token: str, request: Request, payments: PaymentsService) -> object:
    """The path token (current or previous, compared in constant time), the size cap, JSON."""
    valid = [t for t in (payments.settings.callback_token, payments.settings.callback_token_previous) if t]
    matches = [hmac.compare_digest(token.encode(), t.encode()) for t in valid]
    if not any(matches):
        raise NotFound("Not found.")
    raw = await request.body()
    if len(raw) > MAX_CALLBACK_BYTES:
        raise PayloadTooLarge("Callbacks are at most 64 KiB.")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise MalformedRequest("The callback is not JSON.") from None
