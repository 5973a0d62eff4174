"""Tembo Plus MOMO collection (Tanzania, TZS: Airtel, Tigo/Yas, Halotel; peers.md 2.3).

Every call carries ``x-account-id``, ``x-secret-key`` and a fresh ``x-request-id``. A
collection names the operator's channel (``TZ-AIRTEL-C2B``…), which must match the number;
the answer is ``PENDING_ACK`` and the result comes as an unauthenticated webhook, so it is
only a hint: the status call decides. Our ``transactionRef`` (from the attempt id) is the
provider reference, so Tembo's deduplication lines up with ours. Assumption to confirm with
Tembo's sandbox: ``/collection/status`` answers with ``transactionRef`` alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx

from nexgate.kernel.errors import MalformedRequest
from nexgate.kernel.money import Money
from nexgate.payments.adapters.replies import json_object
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

CHANNELS = {"airtel": "TZ-AIRTEL-C2B", "tigo": "TZ-TIGO-C2B", "halotel": "TZ-HALOTEL-C2B"}
#: Payout service codes per operator (``/payment/wallet-to-mobile``).
SERVICE_CODES = {
    "airtel": "TZ-AIRTEL-B2C",
    "tigo": "TZ-TIGO-B2C",
    "halotel": "TZ-HALOTEL-B2C",
    "vodacom": "TZ-VODACOM-B2C",
}
_FAILED = {
    "PAYMENT_REJECTED": "rejected",
    "GENERIC_FAILURE": "provider_error",
    "INSUFFICIENT_FUNDS": "insufficient_funds",
}


class TemboProvider:
    name = "tembo"
    #: The webhook carries no amount and no number; the status call decides.
    callbacks_carry_amount = False

    def __init__(
        self,
        *,
        base_url: str,
        account_id: str,
        secret_key: str,
        payout_account_no: str = "",
        timeout_s: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._account_id = account_id
        self._secret_key = secret_key
        self._payout_account_no = payout_account_no
        self._timeout = timeout_s
        self._transport = transport

    async def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {
            "x-account-id": self._account_id,
            "x-secret-key": self._secret_key,
            "x-request-id": str(uuid.uuid4()),
        }
        try:
            async with httpx.AsyncClient(
                base_url=self._base_url,
                timeout=self._timeout,
                transport=self._transport,
                verify=tls_context(),
            ) as client:
                response = await client.post(path, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnreachable(f"tembo {path}: {type(exc).__name__}") from None
        body = json_object(response, f"tembo {path}")
        if response.status_code >= 400:
            raise ProviderRejected(
                str(body.get("message", response.status_code)), code=str(body.get("code", ""))
            )
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
        channel = CHANNELS.get(operator or operator_of(msisdn_e164)[1] or "")
        if channel is None:
            raise ProviderRejected("Tembo does not collect from this operator.", code="channel")
        body = await self._call(
            "/collection",
            {
                "channel": channel,
                "msisdn": msisdn_e164.removeprefix("+"),
                "amount": amount.to_major_units_whole(),
                "transactionRef": reference,
                "narration": description,
                "transactionDate": datetime.now(UTC).isoformat(timespec="seconds"),
                "callbackUrl": callback_url,
            },
        )
        status = body.get("statusCode")
        if status in _FAILED:
            raise ProviderRejected(f"tembo refused the collection: {status}", code=str(status))
        return reference

    async def query_collection(self, provider_ref: str) -> CollectionStatus:
        body = await self._call("/collection/status", {"transactionRef": provider_ref})
        return _status_of(body)

    # -- payouts (wallet to mobile) ------------------------------------------------------------

    async def disburse(
        self, *, reference: str, msisdn_e164: str, amount: Money, result_url: str, timeout_url: str
    ) -> PayoutAccepted:
        """``transactionRef`` is our payout id, so Tembo refuses a second request with it."""
        service = SERVICE_CODES.get(operator_of(msisdn_e164)[1] or "")
        if service is None or not msisdn_e164.startswith("+255"):
            raise ProviderRejected("Tembo does not pay out to this operator.", code="service_code")
        body = await self._call(
            "/payment/wallet-to-mobile",
            {
                "serviceCode": service,
                "msisdn": msisdn_e164.removeprefix("+"),
                "accountNo": self._payout_account_no,
                "amount": amount.to_major_units_whole(),
                "countryCode": "TZ",
                "currencyCode": amount.currency,
                "narration": "Nexgate withdrawal",
                "recipientNames": "Nexgate customer",
                "transactionRef": reference,
                "transactionDate": datetime.now(UTC).isoformat(timespec="seconds"),
                "callbackUrl": result_url,
            },
        )
        status = str(body.get("statusCode", ""))
        if status in _FAILED:
            raise ProviderRejected(f"tembo refused the payout: {status}", code=status)
        txn = body.get("transactionId")
        return PayoutAccepted(provider_ref=txn if isinstance(txn, str) and txn else reference)

    async def statement(self, kind: str, start: date, end: date) -> list[dict[str, Any]]:
        """Statement rows (``kind``: ``collection`` or ``disbursement``) between two dates."""
        body = await self._call(
            f"/wallet/{kind}-statement", {"startDate": start.isoformat(), "endDate": end.isoformat()}
        )
        rows = body.get("statement", body.get("data", []))
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    async def query_payout(self, reference: str, provider_ref: str | None) -> CollectionStatus:
        payload = {"transactionRef": reference}
        if provider_ref and provider_ref != reference:
            payload["transactionId"] = provider_ref
        return _status_of(await self._call("/payment/status", payload))

    def parse_payout_callback(self, body: object) -> PayoutCallback:
        parsed = self.parse_collection_callback(body)
        return PayoutCallback(
            reference=parsed.provider_ref,
            provider_ref=parsed.receipt or parsed.provider_ref,
            outcome=parsed.outcome,
            code=parsed.code,
            receipt=parsed.receipt,
        )

    def parse_collection_callback(self, body: object) -> CollectionCallback:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("transactionRef"), str)
            or not isinstance(body.get("statusCode"), str)
        ):
            raise MalformedRequest("Not a Tembo callback.")
        status = body["statusCode"]
        outcome = (
            ProviderOutcome.SUCCEEDED
            if status == "PAYMENT_ACCEPTED"
            else ProviderOutcome.FAILED
            if status in _FAILED
            else ProviderOutcome.PENDING
        )
        txn = body.get("transactionId")
        return CollectionCallback(
            provider_ref=body["transactionRef"],
            outcome=outcome,
            code=status,
            receipt=txn if isinstance(txn, str) else None,
        )


def _status_of(body: dict[str, Any]) -> CollectionStatus:
    """Collections and payouts answer their status calls in the same shape."""
    status = str(body.get("statusCode", ""))
    if status == "PAYMENT_ACCEPTED":
        return CollectionStatus(ProviderOutcome.SUCCEEDED, code=status)
    if status in _FAILED:
        return CollectionStatus(ProviderOutcome.FAILED, code=status, reason=_FAILED[status])
    return CollectionStatus(ProviderOutcome.PENDING, code=status)
