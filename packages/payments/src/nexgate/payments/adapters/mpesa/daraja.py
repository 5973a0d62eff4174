"""Safaricom M-Pesa Daraja: OAuth, STK push (M-Pesa Express), STK query (peers.md 2.1).

Daraja callbacks are unsigned, so `parse_collection_callback` only parses; the use case
confirms every result through `query_collection` before money moves.
"""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from nexgate.kernel.errors import MalformedRequest
from nexgate.kernel.money import Money
from nexgate.payments.adapters.replies import json_object
from nexgate.payments.adapters.tls import tls_context
from nexgate.payments.ports import (
    CollectionCallback,
    CollectionStatus,
    PayoutAccepted,
    PayoutCallback,
    ProviderOutcome,
    ProviderRejected,
    ProviderUnreachable,
)

EAT = timezone(timedelta(hours=3))
#: STK query while the payer has not answered yet.
_STILL_PROCESSING = "500.001.1001"
_REASONS = {"1032": "cancelled_by_payer", "1": "insufficient_funds", "1037": "timeout", "1019": "timeout"}


def _msisdn(e164: str) -> str:
    return e164.removeprefix("+")


class DarajaProvider:
    name = "mpesa"
    #: A B2C result carries our id, the ConversationID and the amount, so it is applied as
    #: it comes; the Transaction Status query answers by a callback of its own (below).
    results_are_final = True

    def __init__(
        self,
        *,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str,
        passkey: str,
        timeout_s: float = 15.0,
        token_margin_s: int = 600,
        transport: httpx.AsyncBaseTransport | None = None,
        b2c_shortcode: str = "",
        initiator_name: str = "",
        initiator_password: str = "",
        certificate_pem: str = "",
        status_result_url: str = "",
    ) -> None:
        self._status_result_url = status_result_url
        self._b2c_shortcode = b2c_shortcode
        self._initiator_name = initiator_name
        self._initiator_password = initiator_password
        self._certificate_pem = certificate_pem
        self._base_url = base_url.rstrip("/")
        self._basic = base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()
        self._shortcode = shortcode
        self._passkey = passkey
        self._timeout = timeout_s
        self._margin = token_margin_s
        self._transport = transport
        self._token: str | None = None
        self._token_until = 0.0
        self._lock = asyncio.Lock()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self._base_url, timeout=self._timeout, transport=self._transport, verify=tls_context()
        )

    async def _access_token(self, *, renew: bool = False) -> str:
        async with self._lock:
            if renew or self._token is None or time.monotonic() >= self._token_until:
                try:
                    async with self._client() as client:
                        response = await client.get(
                            "/oauth/v1/generate",
                            params={"grant_type": "client_credentials"},
                            headers={"Authorization": f"Basic {self._basic}"},
                        )
                except httpx.HTTPError as exc:
                    raise ProviderUnreachable(f"daraja oauth: {type(exc).__name__}") from None
                if response.status_code != 200:
                    raise ProviderRejected(f"daraja oauth refused ({response.status_code})", code="auth")
                body = response.json()
                self._token = str(body["access_token"])
                ttl = int(body.get("expires_in", 3599))
                self._token_until = time.monotonic() + max(ttl - self._margin, ttl // 2)
            return self._token

    async def _post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        """POST with the cached token; on a 401 renew it once and retry."""
        for attempt in range(2):
            token = await self._access_token(renew=attempt == 1)
            try:
                async with self._client() as client:
                    response = await client.post(
                        path, json=payload, headers={"Authorization": f"Bearer {token}"}
                    )
            except httpx.HTTPError as exc:
                raise ProviderUnreachable(f"daraja {path}: {type(exc).__name__}") from None
            if response.status_code != 401:
                return response
        raise ProviderRejected("daraja refused a freshly issued token", code="auth")

    def _password(self) -> tuple[str, str]:
        timestamp = datetime.now(UTC).astimezone(EAT).strftime("%Y%m%d%H%M%S")
        password = base64.b64encode(f"{self._shortcode}{self._passkey}{timestamp}".encode()).decode()
        return password, timestamp

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
        password, timestamp = self._password()
        response = await self._post(
            "/mpesa/stkpush/v1/processrequest",
            {
                "BusinessShortCode": self._shortcode,
                "Password": password,
                "Timestamp": timestamp,
                "TransactionType": "CustomerPayBillOnline",
                "Amount": whole,
                "PartyA": _msisdn(msisdn_e164),
                "PartyB": self._shortcode,
                "PhoneNumber": _msisdn(msisdn_e164),
                "CallBackURL": callback_url,
                "AccountReference": reference[:12],
                "TransactionDesc": description[:13],
            },
        )
        body = json_object(response, "daraja stk push")
        if response.status_code != 200 or str(body.get("ResponseCode")) != "0":
            raise ProviderRejected(
                str(body.get("errorMessage") or body.get("ResponseDescription") or "rejected"),
                code=str(body.get("errorCode") or body.get("ResponseCode") or response.status_code),
            )
        return str(body["CheckoutRequestID"])

    async def query_collection(self, provider_ref: str) -> CollectionStatus:
        password, timestamp = self._password()
        response = await self._post(
            "/mpesa/stkpushquery/v1/query",
            {
                "BusinessShortCode": self._shortcode,
                "Password": password,
                "Timestamp": timestamp,
                "CheckoutRequestID": provider_ref,
            },
        )
        body = response.json() if response.content else {}
        if body.get("errorCode") == _STILL_PROCESSING:
            return CollectionStatus(ProviderOutcome.PENDING, code=_STILL_PROCESSING)
        if response.status_code >= 500:
            raise ProviderUnreachable(f"daraja stk query answered {response.status_code}")
        if response.status_code != 200 or "ResultCode" not in body:
            raise ProviderRejected(
                str(body.get("errorMessage") or "query refused"), code=str(body.get("errorCode"))
            )
        code = str(body["ResultCode"])
        if code == "0":
            return CollectionStatus(
                ProviderOutcome.SUCCEEDED, code=code, description=str(body.get("ResultDesc"))
            )
        return CollectionStatus(
            ProviderOutcome.FAILED,
            code=code,
            description=str(body.get("ResultDesc", "")),
            reason=_REASONS.get(code, "rejected"),
        )

    def parse_collection_callback(self, body: object) -> CollectionCallback:
        try:
            callback = body["Body"]["stkCallback"]  # type: ignore[index]
            checkout = callback["CheckoutRequestID"]
            code = callback["ResultCode"]
        except (KeyError, TypeError):
            raise MalformedRequest("Not an STK callback.") from None
        if (
            not isinstance(checkout, str)
            or not checkout
            or isinstance(code, bool)
            or not isinstance(code, int | str)
        ):
            raise MalformedRequest("Not an STK callback.")
        items = {}
        metadata = callback.get("CallbackMetadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("Item"), list):
            # Looked up by Name, never by position; Balance often has no Value.
            items = {i.get("Name"): i.get("Value") for i in metadata["Item"] if isinstance(i, dict)}
        amount = items.get("Amount")
        return CollectionCallback(
            provider_ref=checkout,
            outcome=ProviderOutcome.SUCCEEDED if str(code) == "0" else ProviderOutcome.FAILED,
            code=str(code),
            amount_major=int(amount)
            if isinstance(amount, int | float) and float(amount).is_integer()
            else None,
            receipt=str(items["MpesaReceiptNumber"]) if items.get("MpesaReceiptNumber") else None,
            msisdn=str(items["PhoneNumber"]) if items.get("PhoneNumber") is not None else None,
        )

    # -- B2C (payouts) ------------------------------------------------------------------------

    def security_credential(self) -> str:
        """The initiator password encrypted under the provider's certificate (RSA PKCS#1 v1.5),
        base64: Daraja's ``SecurityCredential``."""
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        if not self._certificate_pem or not self._initiator_password:
            raise ProviderRejected("M-Pesa B2C is not configured", code="not_configured")
        key = x509.load_pem_x509_certificate(self._certificate_pem.encode()).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise ProviderRejected("the M-Pesa certificate is not an RSA key", code="not_configured")
        encrypted = key.encrypt(self._initiator_password.encode(), padding.PKCS1v15())
        return base64.b64encode(encrypted).decode()

    async def disburse(
        self, *, reference: str, msisdn_e164: str, amount: Money, result_url: str, timeout_url: str
    ) -> PayoutAccepted:
        whole = amount.to_major_units_whole()
        response = await self._post(
            "/mpesa/b2c/v3/paymentrequest",
            {
                "OriginatorConversationID": reference,
                "InitiatorName": self._initiator_name,
                "SecurityCredential": self.security_credential(),
                "CommandID": "BusinessPayment",
                "Amount": whole,
                "PartyA": self._b2c_shortcode,
                "PartyB": _msisdn(msisdn_e164),
                "Remarks": "Nexgate withdrawal",
                "QueueTimeOutURL": timeout_url,
                "ResultURL": result_url,
                "Occasion": reference[-12:],
            },
        )
        body = json_object(response, "daraja b2c", empty_ok=True)
        if response.status_code != 200 or str(body.get("ResponseCode")) != "0":
            raise ProviderRejected(
                str(body.get("errorMessage") or body.get("ResponseDescription") or "rejected"),
                code=str(body.get("errorCode") or body.get("ResponseCode") or response.status_code),
            )
        return PayoutAccepted(provider_ref=str(body["ConversationID"]))

    def parse_payout_callback(self, body: object) -> PayoutCallback:
        """A B2C result (peers.md 2.1): ``ResultParameters`` only on success, looked up by Key."""
        try:
            result = body["Result"]  # type: ignore[index]
            reference = result["OriginatorConversationID"]
            conversation = result["ConversationID"]
            code = result["ResultCode"]
        except (KeyError, TypeError):
            raise MalformedRequest("Not a B2C result.") from None
        if (
            not isinstance(reference, str)
            or not reference
            or not isinstance(conversation, str)
            or isinstance(code, bool)
            or not isinstance(code, int | str)
        ):
            raise MalformedRequest("Not a B2C result.")
        params = _items(result.get("ResultParameters"), "ResultParameter")
        amount = params.get("TransactionAmount")
        receipt = params.get("TransactionReceipt") or result.get("TransactionID")
        return PayoutCallback(
            reference=reference,
            provider_ref=conversation,
            outcome=ProviderOutcome.SUCCEEDED if str(code) == "0" else ProviderOutcome.FAILED,
            code=str(code),
            amount_major=int(amount)
            if isinstance(amount, int | float) and float(amount).is_integer()
            else None,
            receipt=str(receipt) if receipt else None,
        )

    async def query_payout(self, reference: str, provider_ref: str | None) -> CollectionStatus:
        """Ask Daraja's Transaction Status about a B2C payout under our
        ``OriginatorConversationID``. Daraja only acknowledges here: the answer is POSTed to
        ``status_result_url`` (``parse_payout_status``), so this is always ``PENDING``."""
        if not self._status_result_url:
            raise ProviderRejected("M-Pesa status queries are not configured", code="not_configured")
        response = await self._post(
            "/mpesa/transactionstatus/v1/query",
            {
                "Initiator": self._initiator_name,
                "SecurityCredential": self.security_credential(),
                "CommandID": "TransactionStatusQuery",
                "OriginalConversationID": reference,
                "PartyA": self._b2c_shortcode,
                "IdentifierType": "4",
                "ResultURL": self._status_result_url,
                "QueueTimeOutURL": self._status_result_url,
                "Remarks": "Nexgate payout status",
                # Echoed in the result's ReferenceData: how the answer finds its payout.
                "Occasion": reference,
            },
        )
        body = json_object(response, "daraja transaction status", empty_ok=True)
        if response.status_code != 200 or str(body.get("ResponseCode")) != "0":
            raise ProviderRejected(
                str(body.get("errorMessage") or body.get("ResponseDescription") or "rejected"),
                code=str(body.get("errorCode") or body.get("ResponseCode") or response.status_code),
            )
        return CollectionStatus(ProviderOutcome.PENDING, code="queried")

    def parse_payout_status(self, body: object) -> PayoutCallback:
        """A Transaction Status result. A failed query (non-zero ``ResultCode``: not found yet,
        bad credentials) says nothing about the payout: ``PENDING``, never a failure."""
        try:
            result = body["Result"]  # type: ignore[index]
            code = result["ResultCode"]
            conversation = result.get("ConversationID") or ""
        except (KeyError, TypeError, AttributeError):
            raise MalformedRequest("Not a transaction status result.") from None
        reference = _items(result.get("ReferenceData"), "ReferenceItem").get("Occasion")
        if not isinstance(reference, str) or not reference or isinstance(code, bool):
            raise MalformedRequest("Not a transaction status result.")
        params = _items(result.get("ResultParameters"), "ResultParameter")
        status = str(params.get("TransactionStatus") or "")
        outcome = ProviderOutcome.PENDING
        if str(code) == "0" and status == "Completed":
            outcome = ProviderOutcome.SUCCEEDED
        elif str(code) == "0" and status in _FAILED_STATUSES:
            outcome = ProviderOutcome.FAILED
        amount = params.get("Amount")
        return PayoutCallback(
            reference=reference,
            provider_ref=str(conversation),
            outcome=outcome,
            code=str(code),
            amount_major=int(amount)
            if isinstance(amount, int | float) and float(amount).is_integer()
            else None,
            receipt=str(params["ReceiptNo"]) if params.get("ReceiptNo") else None,
        )


_FAILED_STATUSES = frozenset({"Failed", "Declined", "Cancelled", "Expired", "Reversed"})


def _items(container: object, name: str) -> dict[str, Any]:
    """Daraja's ``{"<name>": [{"Key", "Value"}, ...]}`` (or a single item) as a dict."""
    if not isinstance(container, dict):
        return {}
    items = container.get(name)
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return {}
    return {str(i.get("Key")): i.get("Value") for i in items if isinstance(i, dict)}
