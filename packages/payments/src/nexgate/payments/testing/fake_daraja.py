"""A fake Safaricom Daraja server that follows the documented protocol (peers.md 2.1, 2.4).

- OAuth at ``/oauth/v1/generate`` (Basic auth); tokens expire after ``token_ttl_s`` and any
  call with an absent, unknown or expired Bearer token gets a 401.
- STK push recomputes ``Password = base64(shortcode + passkey + timestamp)``, refuses a
  fractional ``Amount`` and an ``AccountReference`` over 12 characters, acks synchronously,
  then POSTs the callback to ``CallBackURL`` after ``callback_delay_s``.
- Scenario by the last three digits of the number: ``032`` cancelled (1032), ``037``
  unreachable (1037), ``001`` insufficient balance (1), ``999`` no callback at all (only the
  status query tells), ``222`` the same callback twice, anything else success.
- STK query answers "being processed" (500.001.1001) until the result is final.
- ``forge_callback`` posts an unsigned success the real provider never sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Litestar, Request, get, post
from litestar.params import FromQuery
from litestar.response import Response

RESULTS = {
    "032": (1032, "Request cancelled by user"),
    "037": (1037, "DS timeout user cannot be reached"),
    "001": (1, "The balance is insufficient for the transaction"),
}


@dataclass
class Push:
    checkout_id: str
    merchant_request_id: str
    msisdn: str
    amount: int
    callback_url: str
    account_reference: str
    result_code: int | None = None
    result_desc: str = ""
    receipt: str | None = None
    callbacks_sent: int = 0


@dataclass
class FakeDaraja:
    consumer_key: str = "fake-key"
    consumer_secret: str = "fake-secret"  # noqa: S105 - the fake provider's own
    shortcode: str = "174379"
    passkey: str = "fake-passkey"
    token_ttl_s: int = 3599
    callback_delay_s: float = 0.05
    pushes: dict[str, Push] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    tokens_issued: int = 0
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # -- test controls --------------------------------------------------------------------

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def push_for(self, msisdn_e164: str) -> Push:
        matches = [p for p in self.pushes.values() if p.msisdn == msisdn_e164.removeprefix("+")]
        assert len(matches) == 1, f"expected one push to {msisdn_e164}, got {len(matches)}"
        return matches[0]

    async def forge_callback(self, url: str, *, checkout_id: str, amount: int, msisdn: str) -> httpx.Response:
        body = _callback_body(
            Push(checkout_id, "forged", msisdn.removeprefix("+"), amount, url, "", 0, "ok", "FORGED0001")
        )
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(url, json=body)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def settle(self) -> None:
        """Wait until every scheduled callback has been delivered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the protocol ---------------------------------------------------------------------

    def _authorised(self, request: Request[Any, Any, Any]) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        return header.startswith("Bearer ") and self.tokens.get(token, 0) > time.monotonic()

    def _password_ok(self, body: dict[str, Any]) -> bool:
        expected = base64.b64encode(
            f"{self.shortcode}{self.passkey}{body.get('Timestamp')}".encode()
        ).decode()
        return body.get("BusinessShortCode") == self.shortcode and secrets.compare_digest(
            str(body.get("Password", "")), expected
        )

    def _finish(self, push: Push) -> None:
        code, desc = RESULTS.get(push.msisdn[-3:], (0, "The service request is processed successfully."))
        push.result_code, push.result_desc = code, desc
        if code == 0:
            push.receipt = "S" + secrets.token_hex(5).upper()

    async def _deliver(self, push: Push) -> None:
        await asyncio.sleep(self.callback_delay_s)
        self._finish(push)
        suffix = push.msisdn[-3:]
        if suffix == "999":
            return
        times = 2 if suffix == "222" else 1
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(times):
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(push.callback_url, json=_callback_body(push))
                    push.callbacks_sent += 1

    def app(self) -> Litestar:
        fake = self

        @get("/oauth/v1/generate", sync_to_thread=False)
        def oauth(request: Request[Any, Any, Any], grant_type: FromQuery[str] = "") -> Response[Any]:
            expected = base64.b64encode(f"{fake.consumer_key}:{fake.consumer_secret}".encode()).decode()
            if (
                grant_type != "client_credentials"
                or request.headers.get("authorization") != f"Basic {expected}"
            ):
                return Response(
                    {"errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"},
                    status_code=400,
                )
            token = secrets.token_urlsafe(20)
            fake.tokens[token] = time.monotonic() + fake.token_ttl_s
            fake.tokens_issued += 1
            return Response({"access_token": token, "expires_in": str(fake.token_ttl_s)})

        def invalid_token() -> Response[Any]:
            return Response(
                {"errorCode": "404.001.04", "errorMessage": "Invalid Access Token"}, status_code=401
            )

        def bad_request(message: str) -> Response[Any]:
            return Response(
                {
                    "requestId": secrets.token_hex(8),
                    "errorCode": "400.002.02",
                    "errorMessage": f"Bad Request - {message}",
                },
                status_code=400,
            )

        @post("/mpesa/stkpush/v1/processrequest", status_code=200)
        async def stk_push(request: Request[Any, Any, Any]) -> Response[Any]:
            if not fake._authorised(request):
                return invalid_token()
            body = await request.json()
            fake.requests.append(("stkpush", body))
            if not fake._password_ok(body):
                return bad_request("Invalid Password")
            amount = body.get("Amount")
            if (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or amount != int(amount)
                or amount < 1
            ):
                return bad_request("Invalid Amount")
            if len(str(body.get("AccountReference", ""))) > 12:
                return bad_request("Invalid AccountReference")
            for name in ("PartyA", "PhoneNumber", "CallBackURL"):
                if not body.get(name):
                    return bad_request(f"Invalid {name}")
            push = Push(
                checkout_id=f"ws_CO_{secrets.token_hex(10)}",
                merchant_request_id=secrets.token_hex(6),
                msisdn=str(body["PhoneNumber"]),
                amount=int(amount),
                callback_url=str(body["CallBackURL"]),
                account_reference=str(body["AccountReference"]),
            )
            fake.pushes[push.checkout_id] = push
            task = asyncio.create_task(fake._deliver(push))
            fake._tasks.add(task)
            task.add_done_callback(fake._tasks.discard)
            return Response(
                {
                    "MerchantRequestID": push.merchant_request_id,
                    "CheckoutRequestID": push.checkout_id,
                    "ResponseCode": "0",
                    "ResponseDescription": "Success. Request accepted for processing",
                    "CustomerMessage": "Success. Request accepted for processing",
                }
            )

        @post("/mpesa/stkpushquery/v1/query", status_code=200)
        async def stk_query(request: Request[Any, Any, Any]) -> Response[Any]:
            if not fake._authorised(request):
                return invalid_token()
            body = await request.json()
            fake.requests.append(("stkquery", body))
            if not fake._password_ok(body):
                return bad_request("Invalid Password")
            push = fake.pushes.get(str(body.get("CheckoutRequestID")))
            if push is None:
                return bad_request("Invalid CheckoutRequestID")
            if push.result_code is None:
                return Response(
                    {
                        "requestId": secrets.token_hex(8),
                        "errorCode": "500.001.1001",
                        "errorMessage": "The transaction is being processed",
                    },
                    status_code=500,
                )
            return Response(
                {
                    "ResponseCode": "0",
                    "ResponseDescription": "The service request has been accepted successsfully",
                    "MerchantRequestID": push.merchant_request_id,
                    "CheckoutRequestID": push.checkout_id,
                    "ResultCode": str(push.result_code),
                    "ResultDesc": push.result_desc,
                }
            )

        return Litestar([oauth, stk_push, stk_query], debug=False, logging_config=None)


def _callback_body(push: Push) -> dict[str, Any]:
    callback: dict[str, Any] = {
        "MerchantRequestID": push.merchant_request_id,
        "CheckoutRequestID": push.checkout_id,
        "ResultCode": push.result_code,
        "ResultDesc": push.result_desc,
    }
    if push.result_code == 0:
        # The awkward real shapes: numeric phone and date, Balance without a Value.
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": push.amount},
                {"Name": "MpesaReceiptNumber", "Value": push.receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(time.strftime("%Y%m%d%H%M%S"))},
                {"Name": "PhoneNumber", "Value": int(push.msisdn)},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in this event loop; yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
