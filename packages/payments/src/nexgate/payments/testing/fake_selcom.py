"""A fake Selcom API gateway following peers.md 2.2 and 2.4.

- Every request must carry ``Authorization: SELCOM <base64(api_key)>``, a ``Timestamp`` and
  a ``Digest`` we recompute (HMAC-SHA256 over ``timestamp=...&f1=v1...`` in ``Signed-Fields``
  order); every body field (or query parameter) must be signed. Otherwise 401 with the
  envelope ``{reference, resultcode, result: "FAIL", message, data: []}``.
- ``POST /checkout/create-order-minimal``: needs vendor, order_id, buyer_phone, an integer
  amount (fractional refused), currency TZS/USD, a base64 ``webhook``; a reused order_id is
  refused. ``POST /checkout/wallet-payment`` (transid, order_id, msisdn) acks ``111 PENDING``
  and, after ``callback_delay_s``, POSTs the signed webhook to the decoded URL with
  ``Signed-Fields: transid,order_id,reference,result,resultcode,payment_status`` and the
  documented ``resulcode`` spelling in the body.
- ``GET /checkout/order-status?order_id=``: ``PENDING`` until the result, then the final
  ``payment_status`` with the amount; ``AMBIGOUS`` (999) for the ``999`` scenario.
- Scenario by msisdn suffix: ``032`` rejected by the payer, ``999`` no webhook and an
  ambiguous status, ``222`` the webhook twice; anything else COMPLETED.
- ``forge_webhook`` posts a COMPLETED webhook signed with another secret.
- Payouts (wallet cash-in; path, codes and webhook field are our assumption, see the adapter):
  ``POST /walletcashin/process`` needs vendor, our ``pin``, a cash-in ``utilitycode`` matching
  the number's operator, ``utilityref`` = ``msisdn``, a unique ``transid``, an integer amount
  and a base64 ``webhook``; acks ``111`` then POSTs a webhook signed over
  ``transid,reference,result,resultcode,payment_status``. ``GET /walletcashin/query?transid=``
  answers PENDING, then COMPLETED/FAILED with the amount. Switches by number suffix: ``032``
  FAILED, ``222`` the webhook twice, ``999`` no webhook, ``504`` request timeout (the cash-in
  is made, the answer waits ``slow_ack_s`` and no webhook follows: only the query tells).
  ``forge_payout_webhook`` signs a COMPLETED webhook with another secret.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from litestar import Litestar, Request, get, post
from litestar.response import Response

from nexgate.payments.adapters.selcom import signing
from nexgate.payments.adapters.selcom.provider import PAYOUT_WEBHOOK_FIELDS, WEBHOOK_FIELDS

_CASHIN_PREFIXES = {
    "VMCASHIN": ("74", "75", "76"),
    "AMCASHIN": ("68", "69", "78"),
    "TPCASHIN": ("65", "67", "71", "77"),
    "HPCASHIN": ("61", "62"),
}


@dataclass
class Order:
    order_id: str
    amount: int
    currency: str
    phone: str
    webhook: str
    created: str
    transid: str | None = None
    msisdn: str | None = None
    payment_status: str = "PENDING"
    reference: str | None = None
    webhooks_sent: int = 0


@dataclass
class Cashin:
    transid: str
    amount: int
    msisdn: str
    webhook: str
    payment_status: str = "PENDING"
    reference: str | None = None
    webhooks_sent: int = 0


@dataclass
class FakeSelcom:
    api_key: str = "fake-selcom-key"
    api_secret: str = "fake-selcom-secret"  # noqa: S105 - the fake provider's own
    vendor: str = "TILL61000001"
    pin: str = "4321"
    callback_delay_s: float = 0.05
    slow_ack_s: float = 1.0
    orders: dict[str, Order] = field(default_factory=dict)
    cashins: dict[str, Cashin] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _signed(self, request: Request[Any, Any, Any], payload: dict[str, Any]) -> bool:
        fields = [f for f in request.headers.get("signed-fields", "").split(",") if f]
        if set(fields) != set(payload):  # every field signed, nothing else
            return False
        return signing.verify(
            dict(request.headers),
            payload,
            api_key=self.api_key,
            secret=self.api_secret,
            now=datetime.now(signing.EAT),
            tolerance=timedelta(minutes=5),
        )

    @staticmethod
    def _envelope(
        resultcode: str, result: str, message: str, data: list[Any] | None = None, status: int = 200
    ):
        return Response(
            {
                "reference": secrets.token_hex(6),
                "resultcode": resultcode,
                "result": result,
                "message": message,
                "data": data or [],
            },
            status_code=status,
        )

    def _webhook_body(self, order: Order) -> dict[str, Any]:
        completed = order.payment_status == "COMPLETED"
        return {
            "transid": order.transid,
            "order_id": order.order_id,
            "reference": order.reference or "",
            "result": "SUCCESS" if completed else "FAIL",
            "resulcode": "000" if completed else "403",
            "payment_status": order.payment_status,
        }

    async def _post_webhook(
        self, url: str, body: dict[str, Any], secret: str, fields: tuple[str, ...] = WEBHOOK_FIELDS
    ) -> httpx.Response:
        signed = {f: signing.field_value(body, f) for f in fields}
        headers = signing.sign(self.api_key, secret, signed)
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(url, json=body, headers=headers)

    async def _deliver(self, order: Order) -> None:
        await asyncio.sleep(self.callback_delay_s)
        suffix = (order.msisdn or "")[-3:]
        if suffix == "999":
            return
        order.payment_status = "REJECTED" if suffix == "032" else "COMPLETED"
        order.reference = "S" + secrets.token_hex(5).upper()
        for _ in range(2 if suffix == "222" else 1):
            with contextlib.suppress(httpx.HTTPError):
                await self._post_webhook(order.webhook, self._webhook_body(order), self.api_secret)
                order.webhooks_sent += 1

    async def forge_webhook(self, url: str, *, order_id: str) -> httpx.Response:
        body = {
            "transid": order_id,
            "order_id": order_id,
            "reference": "FORGED",
            "result": "SUCCESS",
            "resulcode": "000",
            "payment_status": "COMPLETED",
        }
        return await self._post_webhook(url, body, "not-the-secret")

    @staticmethod
    def _cashin_webhook_body(c: Cashin) -> dict[str, Any]:
        completed = c.payment_status == "COMPLETED"
        return {
            "transid": c.transid,
            "reference": c.reference or "",
            "result": "SUCCESS" if completed else "FAIL",
            "resultcode": "000" if completed else "403",
            "payment_status": c.payment_status,
        }

    async def _deliver_cashin(self, c: Cashin) -> None:
        await asyncio.sleep(self.callback_delay_s)
        suffix = c.msisdn[-3:]
        c.payment_status = "FAILED" if suffix == "032" else "COMPLETED"
        c.reference = "SP" + secrets.token_hex(5).upper()
        if suffix in ("999", "504"):
            return
        for _ in range(2 if suffix == "222" else 1):
            with contextlib.suppress(httpx.HTTPError):
                await self._post_webhook(
                    c.webhook, self._cashin_webhook_body(c), self.api_secret, PAYOUT_WEBHOOK_FIELDS
                )
                c.webhooks_sent += 1

    def payout_requests(self) -> list[dict[str, Any]]:
        return [body for kind, body in self.requests if kind == "walletcashin"]

    async def forge_payout_webhook(self, url: str, *, transid: str) -> httpx.Response:
        forged = Cashin(transid, 0, "", url, payment_status="COMPLETED", reference="FORGED")
        return await self._post_webhook(
            url, self._cashin_webhook_body(forged), "not-the-secret", PAYOUT_WEBHOOK_FIELDS
        )

    def app(self) -> Litestar:
        fake = self

        def unauthorised() -> Response[Any]:
            return fake._envelope("403", "FAIL", "Invalid signature", status=401)

        @post("/checkout/create-order-minimal", status_code=200)
        async def create_order(request: Request[Any, Any, Any]) -> Response[Any]:
            body = await request.json()
            fake.requests.append(("create-order-minimal", body))
            if not fake._signed(request, body):
                return unauthorised()
            for name in ("vendor", "order_id", "buyer_phone", "amount", "currency", "webhook"):
                if body.get(name) in (None, ""):
                    return fake._envelope("400", "FAIL", f"{name} is required", status=400)
            amount = body["amount"]
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
                return fake._envelope("400", "FAIL", "Invalid amount", status=400)
            if body["vendor"] != fake.vendor or body["currency"] not in ("TZS", "USD"):
                return fake._envelope("400", "FAIL", "Invalid vendor or currency", status=400)
            if body["order_id"] in fake.orders:
                return fake._envelope("400", "FAIL", "Duplicate order_id", status=400)
            try:
                webhook = base64.b64decode(body["webhook"], validate=True).decode()
            except ValueError:
                return fake._envelope("400", "FAIL", "webhook must be base64", status=400)
            order = Order(
                body["order_id"],
                amount,
                body["currency"],
                str(body["buyer_phone"]),
                webhook,
                time.strftime("%Y-%m-%d %H:%M:%S"),
            )
            fake.orders[order.order_id] = order
            gateway = base64.b64encode(f"https://fake.selcom/pay/{order.order_id}".encode()).decode()
            return fake._envelope(
                "000",
                "SUCCESS",
                "Order creation successful",
                [
                    {
                        "gateway_buyer_uuid": secrets.token_hex(8),
                        "payment_token": secrets.token_hex(6),
                        "qr": "QR",
                        "payment_gateway_url": gateway,
                    }
                ],
            )

        @post("/checkout/wallet-payment", status_code=200)
        async def wallet_payment(request: Request[Any, Any, Any]) -> Response[Any]:
            body = await request.json()
            fake.requests.append(("wallet-payment", body))
            if not fake._signed(request, body):
                return unauthorised()
            order = fake.orders.get(str(body.get("order_id")))
            if order is None or not body.get("transid") or not body.get("msisdn"):
                return fake._envelope("400", "FAIL", "Invalid order_id, transid or msisdn", status=400)
            if order.transid is not None:
                return fake._envelope("400", "FAIL", "Order already being paid", status=400)
            order.transid, order.msisdn = str(body["transid"]), str(body["msisdn"])
            task = asyncio.create_task(fake._deliver(order))
            fake._tasks.add(task)
            task.add_done_callback(fake._tasks.discard)
            return fake._envelope(
                "111", "PENDING", "Request in progress. You will receive a callback shortly."
            )

        @get("/checkout/order-status")
        async def order_status(request: Request[Any, Any, Any]) -> Response[Any]:
            params = dict(request.query_params)
            fake.requests.append(("order-status", params))
            if not fake._signed(request, params):
                return unauthorised()
            order = fake.orders.get(str(params.get("order_id")))
            if order is None:
                return fake._envelope("404", "FAIL", "Order not found", status=404)
            if (order.msisdn or "").endswith("999"):
                return fake._envelope("999", "AMBIGOUS", "Transaction status unknown")
            return fake._envelope(
                "000",
                "SUCCESS",
                "Order fetch successful",
                [
                    {
                        "order_id": order.order_id,
                        "creation_date": order.created,
                        "amount": str(order.amount),
                        "payment_status": order.payment_status,
                        "transid": order.transid,
                        "channel": "VODACOM",
                        "reference": order.reference,
                        "phone": order.msisdn,
                    }
                ],
            )

        @post("/walletcashin/process", status_code=200)
        async def cashin(request: Request[Any, Any, Any]) -> Response[Any]:
            body = await request.json()
            fake.requests.append(("walletcashin", body))
            if not fake._signed(request, body):
                return unauthorised()
            if body.get("vendor") != fake.vendor or body.get("pin") != fake.pin:
                return fake._envelope("403", "FAIL", "Invalid vendor or pin", status=400)
            msisdn, amount, transid = str(body.get("msisdn", "")), body.get("amount"), body.get("transid")
            prefixes = _CASHIN_PREFIXES.get(str(body.get("utilitycode")))
            if prefixes is None or body.get("utilityref") != msisdn or msisdn[3:5] not in prefixes:
                return fake._envelope("400", "FAIL", "Invalid utilitycode or utilityref", status=400)
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
                return fake._envelope("400", "FAIL", "Invalid amount", status=400)
            if not isinstance(transid, str) or not transid or transid in fake.cashins:
                return fake._envelope("400", "FAIL", "Duplicate transid", status=400)
            try:
                webhook = base64.b64decode(str(body.get("webhook")), validate=True).decode()
            except ValueError:
                return fake._envelope("400", "FAIL", "webhook must be base64", status=400)
            c = Cashin(transid, amount, msisdn, webhook)
            fake.cashins[transid] = c
            task = asyncio.create_task(fake._deliver_cashin(c))
            fake._tasks.add(task)
            task.add_done_callback(fake._tasks.discard)
            if msisdn.endswith("504"):
                await asyncio.sleep(fake.slow_ack_s)
            return fake._envelope(
                "111", "PENDING", "Request in progress. You will receive a callback shortly."
            )

        @get("/walletcashin/query")
        async def cashin_query(request: Request[Any, Any, Any]) -> Response[Any]:
            params = dict(request.query_params)
            fake.requests.append(("walletcashin-query", params))
            if not fake._signed(request, params):
                return unauthorised()
            c = fake.cashins.get(str(params.get("transid")))
            if c is None:
                return fake._envelope("404", "FAIL", "Transaction not found", status=404)
            return fake._envelope(
                "000",
                "SUCCESS",
                "Transaction found",
                [
                    {
                        "transid": c.transid,
                        "reference": c.reference,
                        "amount": str(c.amount),
                        "payment_status": c.payment_status,
                        "msisdn": c.msisdn,
                    }
                ],
            )

        return Litestar(
            [create_order, wallet_payment, order_status, cashin, cashin_query],
            debug=False,
            logging_config=None,
        )
