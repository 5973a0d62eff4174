"""Selcom (Tanzania, TZS): Checkout order + wallet push (USSD) collection, order status and a
signed webhook (peers.md 2.2). ``111``/``927`` (in progress) and ``999`` (ambiguous) are never
failures: the attempt stays pending and the order status is asked again.

Payouts go through the wallet cash-in (``POST /walletcashin/process``, signed fields vendor,
pin, utilitycode, utilityref, transid, amount, msisdn as in Selcom's Authentication.md). The
path, the utility codes, the ``webhook`` field (base64, as for checkout orders) and the query
``GET /walletcashin/query?transid=`` are assumptions to confirm at onboarding: peers.md 2.2
says they are not fully public. ``transid`` is our payout id, so a query after a timeout finds
the request and nothing is sent twice."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import httpx

from nexgate.kernel.errors import MalformedRequest
from nexgate.kernel.money import Money
from nexgate.payments.adapters.replies import json_object
from nexgate.payments.adapters.selcom import signing
from nexgate.payments.adapters.tls import tls_context
from nexgate.payments.domain.methods import operator_of
from nexgate.payments.ports import (
    CollectionCallback,
    CollectionStatus,
    PayoutAccepted,
    PayoutCallback,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnreachable,
)

PENDING_CODES = frozenset({"111", "927", "999"})
WEBHOOK_FIELDS = ("transid", "order_id", "reference", "result", "resultcode", "payment_status")
PAYOUT_WEBHOOK_FIELDS = ("transid", "reference", "result", "resultcode", "payment_status")
#: Wallet cash-in utility codes per operator (to confirm with Selcom at onboarding).
CASHIN_CODES = {"vodacom": "VMCASHIN", "airtel": "AMCASHIN", "tigo": "TPCASHIN", "halotel": "HPCASHIN"}
_FAILED_STATUSES = frozenset({"CANCELLED", "CANCELED", "REJECTED", "FAILED", "USERCANCELED", "EXPIRED"})


class SelcomProvider:
    name = "selcom"
    #: The webhook carries no amount: the order status (which does) is checked instead.
    callbacks_carry_amount = False

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        api_secret: str,
        vendor: str,
        pin: str = "",
        timeout_s: float = 15.0,
        tolerance_s: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._secret = api_secret
        self._vendor = vendor
        self._pin = pin
        self._timeout = timeout_s
        self._tolerance = timedelta(seconds=tolerance_s)
        self._transport = transport

    async def _call(self, method: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        headers = signing.sign(self._api_key, self._secret, payload)
        try:
            async with httpx.AsyncClient(
                base_url=self._base_url,
                timeout=self._timeout,
                transport=self._transport,
                verify=tls_context(),
            ) as client:
                if method == "GET":
                    response = await client.get(path, params=payload, headers=headers)
                else:
                    response = await client.post(path, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnreachable(f"selcom {path}: {type(exc).__name__}") from None
        body = json_object(response, f"selcom {path}")
        return body

    async def collect(
        self,
        *,
        reference: str,
        msisdn_e164: str,
        amount: Money,
        callback_url: str,
        description: str,
        operator: str | None = None,
    ) -> str:
        whole = amount.to_major_units_whole()
        msisdn = msisdn_e164.removeprefix("+")
        order = await self._call(
            "POST",
            "/checkout/create-order-minimal",
            {
                "vendor": self._vendor,
                "order_id": reference,
                "buyer_email": "payments@nexgate.invalid",
                "buyer_name": "Nexgate customer",
                "buyer_phone": msisdn,
                "amount": whole,
                "currency": amount.currency,
                "webhook": base64.b64encode(callback_url.encode()).decode(),
                "no_of_items": 1,
                "merchant_remarks": description[:40],
            },
        )
        if str(order.get("resultcode")) != "000":
            raise ProviderRejected(
                str(order.get("message") or "order refused"), code=str(order.get("resultcode"))
            )
        push = await self._call(
            "POST",
            "/checkout/wallet-payment",
            {"transid": reference, "order_id": reference, "msisdn": msisdn},
        )
        code = str(push.get("resultcode"))
        if code != "000" and code not in PENDING_CODES:
            raise ProviderRejected(str(push.get("message") or "push refused"), code=code)
        return reference

    async def query_collection(self, provider_ref: str) -> CollectionStatus:
        return _status_of(await self._call("GET", "/checkout/order-status", {"order_id": provider_ref}))

    def verify_callback(
        self,
        headers: dict[str, str],
        body: object,
        now: datetime,
        required: tuple[str, ...] = ("order_id", "payment_status"),
    ) -> bool:
        """Collections' webhooks must sign ``order_id``, payouts' ``transid`` (with the status)."""
        return isinstance(body, dict) and signing.verify(
            headers,
            body,
            api_key=self._api_key,
            secret=self._secret,
            now=now,
            tolerance=self._tolerance,
            required=required,
        )

    def parse_collection_callback(self, body: object) -> CollectionCallback:
        if not isinstance(body, dict) or not isinstance(body.get("order_id"), str) or not body["order_id"]:
            raise MalformedRequest("Not a Selcom webhook.")
        outcome, code = _webhook_outcome(body)
        return CollectionCallback(
            provider_ref=body["order_id"],
            outcome=outcome,
            code=code,
            receipt=str(body["reference"]) if body.get("reference") else None,
        )

    # -- payouts (wallet cash-in) --------------------------------------------------------------

    async def disburse(
        self, *, reference: str, msisdn_e164: str, amount: Money, result_url: str, timeout_url: str
    ) -> PayoutAccepted:
        utility = CASHIN_CODES.get(operator_of(msisdn_e164)[1] or "")
        if utility is None or not msisdn_e164.startswith("+255"):
            raise ProviderRejected("Selcom does not pay out to this operator.", code="utilitycode")
        msisdn = msisdn_e164.removeprefix("+")
        body = await self._call(
            "POST",
            "/walletcashin/process",
            {
                "vendor": self._vendor,
                "pin": self._pin,
                "utilitycode": utility,
                "utilityref": msisdn,
                "transid": reference,
                "amount": amount.to_major_units_whole(),
                "msisdn": msisdn,
                "webhook": base64.b64encode(result_url.encode()).decode(),
            },
        )
        code = str(body.get("resultcode"))
        if code == "999":
            # AMBIGOUS: never a failure, never resent; the query settles it.
            raise ProviderUnreachable("selcom cash-in answered 999 (ambiguous)")
        if code != "000" and code not in PENDING_CODES:
            raise ProviderRejected(str(body.get("message") or "cash-in refused"), code=code)
        return PayoutAccepted(provider_ref=reference)

    async def query_payout(self, reference: str, provider_ref: str | None) -> CollectionStatus:
        return _status_of(await self._call("GET", "/walletcashin/query", {"transid": reference}))

    def parse_payout_callback(self, body: object) -> PayoutCallback:
        if not isinstance(body, dict) or not isinstance(body.get("transid"), str) or not body["transid"]:
            raise MalformedRequest("Not a Selcom payout webhook.")
        outcome, code = _webhook_outcome(body)
        return PayoutCallback(
            reference=body["transid"],
            provider_ref=body["transid"],
            outcome=outcome,
            code=code,
            receipt=str(body["reference"]) if body.get("reference") else None,
        )


def _webhook_outcome(body: dict[str, Any]) -> tuple[ProviderOutcome, str]:
    """The documented sample spells ``resulcode``: both spellings are read."""
    code = str(body.get("resultcode", body.get("resulcode", "")))
    status = str(body.get("payment_status", "")).upper()
    if status == "COMPLETED" and code == "000":
        return ProviderOutcome.SUCCEEDED, code
    if code in PENDING_CODES or status in ("PENDING", "INPROGRESS", ""):
        return ProviderOutcome.PENDING, code
    return ProviderOutcome.FAILED, code


def _status_of(body: dict[str, Any]) -> CollectionStatus:
    """An order-status or cash-in query answer: the envelope, then ``data[0]``."""
    code = str(body.get("resultcode"))
    if code in PENDING_CODES:
        return CollectionStatus(ProviderOutcome.PENDING, code=code)
    if code != "000":
        raise ProviderRejected(str(body.get("message") or "status refused"), code=code)
    data = body.get("data")
    row = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    status = str(row.get("payment_status", "")).upper()
    amount = row.get("amount")
    try:
        amount_major = int(str(amount)) if amount is not None else None
    except ValueError:
        amount_major = None
    if status == "COMPLETED":
        return CollectionStatus(ProviderOutcome.SUCCEEDED, code=code, amount_major=amount_major)
    if status in _FAILED_STATUSES:
        reason = "cancelled_by_payer" if "CANCEL" in status else "rejected"
        return CollectionStatus(ProviderOutcome.FAILED, code=code, description=status, reason=reason)
    return CollectionStatus(ProviderOutcome.PENDING, code=code, description=status)
