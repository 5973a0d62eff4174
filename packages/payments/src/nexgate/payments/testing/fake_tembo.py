"""A fake Tembo Plus MOMO API following peers.md 2.3 and 2.4.

- Every call needs ``x-account-id``/``x-secret-key`` (ours) and an ``x-request-id``: else 401.
- ``POST /collection``: ``channel`` one of the C2B channels and matching the number's operator
  (Airtel 68/69/78, Tigo 65/67/71/77, Halotel 61/62; else 400 ``channel_mismatch``), an
  integer ``amount`` (else 400), a unique ``transactionRef`` (else 400 ``duplicate``);
  answers ``PENDING_ACK`` and after ``callback_delay_s`` POSTs the webhook
  ``{statusCode, transactionId, transactionRef, meta}``.
- ``POST /collection/status``: ``PENDING_ACK`` until the result, then the final status.
- Scenarios by number suffix: ``032`` PAYMENT_REJECTED, ``001`` INSUFFICIENT_FUNDS at once,
  ``999`` no webhook (and pending until `complete`), ``222`` the webhook twice.
- ``forge_webhook`` posts a PAYMENT_ACCEPTED webhook for any reference.
- Payouts: ``POST /payment/wallet-to-mobile`` checks the ``serviceCode`` against the number
  (``TZ-VODACOM-B2C`` 74-76 too), ``accountNo`` (our disbursement wallet), an integer amount,
  ``countryCode``/``currencyCode`` and a unique ``transactionRef``; answers ``PENDING_ACK``
  then the webhook to ``callbackUrl``. ``POST /payment/status`` as for collections.
  Switches by number suffix: ``032`` PAYMENT_REJECTED (failure), ``222`` the webhook twice,
  ``999`` no webhook, ``504`` request timeout (the payout is made and accepted, but the answer
  comes only after ``slow_ack_s`` and no webhook follows: only the status call tells).
  ``forge_webhook`` serves payouts too (the webhooks are alike).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Litestar, Request, post
from litestar.response import Response

_PREFIXES = {
    "TZ-AIRTEL-C2B": ("68", "69", "78"),
    "TZ-TIGO-C2B": ("65", "67", "71", "77"),
    "TZ-HALOTEL-C2B": ("61", "62"),
}


@dataclass
class Collection:
    ref: str
    transaction_id: str
    msisdn: str
    amount: int
    callback_url: str
    status: str = "PENDING_ACK"
    webhooks_sent: int = 0


_B2C_PREFIXES = {
    "TZ-AIRTEL-B2C": _PREFIXES["TZ-AIRTEL-C2B"],
    "TZ-TIGO-B2C": _PREFIXES["TZ-TIGO-C2B"],
    "TZ-HALOTEL-B2C": _PREFIXES["TZ-HALOTEL-C2B"],
    "TZ-VODACOM-B2C": ("74", "75", "76"),
}


@dataclass
class FakeTembo:
    account_id: str = "fake-tembo-account"
    secret_key: str = "fake-tembo-secret"  # noqa: S105 - the fake provider's own
    payout_account: str = "fake-tembo-disbursement"
    callback_delay_s: float = 0.05
    slow_ack_s: float = 1.0
    fee_bps: int = 150
    collections: dict[str, Collection] = field(default_factory=dict)
    payouts: dict[str, Collection] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _webhook(self, c: Collection, status: str | None = None) -> None:
        body = {
            "statusCode": status or c.status,
            "transactionId": c.transaction_id,
            "transactionRef": c.ref,
            "meta": {},
        }
        async with httpx.AsyncClient(timeout=10) as client:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(c.callback_url, json=body)
                c.webhooks_sent += 1

    async def _deliver(self, c: Collection) -> None:
        await asyncio.sleep(self.callback_delay_s)
        suffix = c.msisdn[-3:]
        if suffix == "999":
            return
        c.status = "PAYMENT_REJECTED" if suffix == "032" else "PAYMENT_ACCEPTED"
        for _ in range(2 if suffix == "222" else 1):
            await self._webhook(c)

    async def _deliver_payout(self, c: Collection) -> None:
        await asyncio.sleep(self.callback_delay_s)
        suffix = c.msisdn[-3:]
        c.status = "PAYMENT_REJECTED" if suffix == "032" else "PAYMENT_ACCEPTED"
        if suffix in ("999", "504"):
            return
        for _ in range(2 if suffix == "222" else 1):
            await self._webhook(c)

    def statement_rows(self, kind: str) -> list[dict[str, Any]]:
        """Statement rows (peers.md 2.3) of every accepted transaction: a collection is a CR
        row plus the service fee as its own DR row ``<ref>-PAYIN`` (``fee_bps``, whole
        shillings); a payout is a DR row."""
        rows: list[dict[str, Any]] = []
        day = time.strftime("%Y-%m-%d")
        found = self.collections if kind == "collection" else self.payouts
        for c in found.values():
            if c.status != "PAYMENT_ACCEPTED":
                continue
            base = {"valueDate": day, "txnDate": day, "narration": c.msisdn, "balance": 0}
            if kind == "collection":
                rows.append(
                    {
                        **base,
                        "tranRefNo": c.ref,
                        "debitOrCredit": "CR",
                        "amountCredited": c.amount,
                        "amountDebited": 0,
                    }
                )
                fee = c.amount * self.fee_bps // 10_000
                rows.append(
                    {
                        **base,
                        "tranRefNo": f"{c.ref}-PAYIN",
                        "debitOrCredit": "DR",
                        "amountCredited": 0,
                        "amountDebited": fee,
                    }
                )
            else:
                rows.append(
                    {
                        **base,
                        "tranRefNo": c.ref,
                        "debitOrCredit": "DR",
                        "amountCredited": 0,
                        "amountDebited": c.amount,
                    }
                )
        return rows

    def payout_requests(self) -> list[dict[str, Any]]:
        return [body for kind, body in self.requests if kind == "payout"]

    def complete(self, ref: str, status: str = "PAYMENT_ACCEPTED") -> None:
        """Settle a ``999`` collection without a webhook (found by the status call only)."""
        self.collections[ref].status = status

    async def forge_webhook(self, url: str, *, ref: str) -> None:
        forged = Collection(ref, "FORGED", "", 0, url)
        await self._webhook(forged, "PAYMENT_ACCEPTED")

    def app(self) -> Litestar:
        def error(status: int, code: str, message: str) -> Response[Any]:
            return Response({"code": code, "message": message}, status_code=status)

        def authorised(request: Request[Any, Any, Any]) -> bool:
            h = request.headers
            return (
                h.get("x-account-id") == self.account_id
                and h.get("x-secret-key") == self.secret_key
                and bool(h.get("x-request-id"))
            )

        @post("/collection", status_code=200)
        async def collection(request: Request[Any, Any, Any]) -> Response[Any]:
            if not authorised(request):
                return error(401, "unauthorized", "missing or wrong x- headers")
            body = await request.json()
            self.requests.append(("collection", body))
            msisdn, amount, ref = str(body.get("msisdn", "")), body.get("amount"), body.get("transactionRef")
            prefixes = _PREFIXES.get(body.get("channel", ""))
            if prefixes is None:
                return error(400, "invalid_channel", "unknown channel")
            if not (msisdn.startswith("255") and msisdn[3:5] in prefixes):
                return error(400, "channel_mismatch", "msisdn does not belong to the channel's operator")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                return error(400, "invalid_amount", "amount must be a positive integer")
            if not isinstance(ref, str) or not ref or ref in self.collections:
                return error(400, "duplicate", "transactionRef missing or already used")
            if msisdn.endswith("001"):
                return Response({"statusCode": "INSUFFICIENT_FUNDS", "transactionRef": ref})
            c = Collection(
                ref, "TMB" + secrets.token_hex(5).upper(), msisdn, amount, body.get("callbackUrl", "")
            )
            self.collections[ref] = c
            task = asyncio.create_task(self._deliver(c))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return Response(
                {"statusCode": "PENDING_ACK", "transactionId": c.transaction_id, "transactionRef": ref}
            )

        @post("/collection/status", status_code=200)
        async def status(request: Request[Any, Any, Any]) -> Response[Any]:
            if not authorised(request):
                return error(401, "unauthorized", "missing or wrong x- headers")
            body = await request.json()
            self.requests.append(("status", body))
            c = self.collections.get(body.get("transactionRef", ""))
            if c is None:
                return error(404, "not_found", "no such transaction")
            return Response(
                {"statusCode": c.status, "transactionId": c.transaction_id, "transactionRef": c.ref}
            )

        @post("/payment/wallet-to-mobile", status_code=200)
        async def payout(request: Request[Any, Any, Any]) -> Response[Any]:
            if not authorised(request):
                return error(401, "unauthorized", "missing or wrong x- headers")
            body = await request.json()
            self.requests.append(("payout", body))
            msisdn, amount, ref = str(body.get("msisdn", "")), body.get("amount"), body.get("transactionRef")
            prefixes = _B2C_PREFIXES.get(body.get("serviceCode", ""))
            if prefixes is None:
                return error(400, "invalid_service_code", "unknown serviceCode")
            if not (msisdn.startswith("255") and msisdn[3:5] in prefixes):
                return error(400, "channel_mismatch", "msisdn does not belong to the service's operator")
            if body.get("accountNo") != self.payout_account:
                return error(400, "invalid_account", "unknown disbursement account")
            if (body.get("countryCode"), body.get("currencyCode")) != ("TZ", "TZS"):
                return error(400, "invalid_currency", "countryCode/currencyCode")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                return error(400, "invalid_amount", "amount must be a positive integer")
            if not isinstance(ref, str) or not ref or ref in self.payouts:
                return error(400, "duplicate", "transactionRef missing or already used")
            c = Collection(
                ref, "TMBP" + secrets.token_hex(5).upper(), msisdn, amount, body.get("callbackUrl", "")
            )
            self.payouts[ref] = c
            task = asyncio.create_task(self._deliver_payout(c))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if msisdn.endswith("504"):
                await asyncio.sleep(self.slow_ack_s)
            return Response(
                {"statusCode": "PENDING_ACK", "transactionId": c.transaction_id, "transactionRef": ref}
            )

        @post("/payment/status", status_code=200)
        async def payout_status(request: Request[Any, Any, Any]) -> Response[Any]:
            if not authorised(request):
                return error(401, "unauthorized", "missing or wrong x- headers")
            body = await request.json()
            self.requests.append(("payout_status", body))
            c = self.payouts.get(body.get("transactionRef", ""))
            if c is None:
                return error(404, "not_found", "no such transaction")
            return Response(
                {"statusCode": c.status, "transactionId": c.transaction_id, "transactionRef": c.ref}
            )

        @post("/wallet/collection-statement", status_code=200)
        async def collection_statement(request: Request[Any, Any, Any]) -> Response[Any]:
            if not authorised(request):
                return error(401, "unauthorized", "missing or wrong x- headers")
            self.requests.append(("collection_statement", await request.json()))
            return Response({"statement": self.statement_rows("collection")})

        @post("/wallet/disbursement-statement", status_code=200)
        async def disbursement_statement(request: Request[Any, Any, Any]) -> Response[Any]:
            if not authorised(request):
                return error(401, "unauthorized", "missing or wrong x- headers")
            self.requests.append(("disbursement_statement", await request.json()))
            return Response({"statement": self.statement_rows("disbursement")})

        return Litestar(
            route_handlers=[
                collection,
                status,
                payout,
                payout_status,
                collection_statement,
                disbursement_statement,
            ]
        )
