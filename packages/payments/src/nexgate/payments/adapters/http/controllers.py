"""Thin controllers: decode, call a use case, encode."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import FieldProblem, MalformedRequest, NotFound, PayloadTooLarge, ValidationFailed
from nexgate.kernel.http.auth import requires_principal
from nexgate.kernel.money import Money
from nexgate.kernel.security.principal import Principal
from nexgate.payments.adapters.http.schemas import (
    AttemptIn,
    AttemptOut,
    IntentOut,
    WalletBalanceOut,
    WalletOut,
)
from nexgate.payments.adapters.sql.ledger import SqlLedger
from nexgate.payments.application import collection
from nexgate.payments.application.collection import Actor
from nexgate.payments.ports import MobileMoneyProvider, UnitOfWork
from nexgate.payments.settings import PaymentsSettings

MAX_CALLBACK_BYTES = 64 * 1024


@dataclass
class PaymentsService:
    """What the controllers need, built once by the plugin."""

    settings: PaymentsSettings
    uow: UnitOfWork
    providers: dict[str, MobileMoneyProvider]
    sessions: object

    def callback_url(self, provider: str) -> str:
        base = self.settings.callback_base_url.rstrip("/")
        return f"{base}/api/v1/payments/callbacks/{provider}/{self.settings.callback_token}"


def actor_of(principal: Principal) -> Actor:
    return Actor.user(principal.user_id, admin=principal.has_role("admin"))


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
        principal: NamedDependency[Principal],
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> AttemptOut:
        if data.method != "mobileMoney":
            raise ValidationFailed(
                "Only mobileMoney is supported here.",
                code="unsupported_method",
                errors=[FieldProblem("method", "must be mobileMoney")],
            )
        attempt = await collection.start_mobile_money_attempt(
            uow=payments.uow,
            clock=clock,
            providers=payments.providers,
            callback_url=payments.callback_url("mpesa"),
            actor=actor_of(principal),
            intent_id=intent_id,
            phone=data.phone,
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


class CallbackController(Controller):
    """Provider callbacks: no JWT; a secret path token, then confirmation with the provider."""

    path = "/api/v1/payments/callbacks"
    tags = ["payments"]

    @post("/mpesa/{token:str}", status_code=200, summary="M-Pesa Daraja STK callback")
    async def mpesa(
        self,
        token: FromPath[str],
        request: Request,
        payments: NamedDependency[PaymentsService],
        clock: NamedDependency[Clock],
    ) -> dict[str, object]:
        valid = [
            t for t in (payments.settings.callback_token, payments.settings.callback_token_previous) if t
        ]
        matches = [hmac.compare_digest(token.encode(), t.encode()) for t in valid]
        if not any(matches):
            raise NotFound("Not found.")
        raw = await request.body()
        if len(raw) > MAX_CALLBACK_BYTES:
            raise PayloadTooLarge("Callbacks are at most 64 KiB.")
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise MalformedRequest("The callback is not JSON.") from None
        await collection.handle_collection_callback(
            uow=payments.uow, clock=clock, provider=payments.providers["mpesa"], body=body
        )
        return {"ResultCode": 0, "ResultDesc": "Accepted"}
