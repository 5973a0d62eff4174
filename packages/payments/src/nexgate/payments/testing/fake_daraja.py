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
- B2C (payouts) at ``/mpesa/b2c/v3/paymentrequest``: Bearer token, ``SecurityCredential``
  decrypted with the fake's private key (its certificate is ``certificate_pem``) and compared
  with the initiator password, ``InitiatorName``, ``CommandID``, whole ``Amount`` >= 10,
  ``PartyA`` = the B2C shortcode, a 12-digit ``PartyB``, ``ResultURL`` and
  ``QueueTimeOutURL``; a reused ``OriginatorConversationID`` is refused (nothing paid twice).
  Acks with a ``ConversationID``, then POSTs the ``Result`` to ``ResultURL``. Scenario by
  ``PartyB`` suffix: ``001`` our account lacks funds (1), ``201`` bad initiator (2001),
  ``999`` no result, ``222`` the result twice, ``504`` the ack comes after ``slow_ack_s``
  (the client times out) but the payout goes through and its result is sent, ``505`` the
  same timeout but no result (only the Transaction Status query tells).
- Transaction Status at ``/mpesa/transactionstatus/v1/query`` (Bearer, initiator and
  credential, ``CommandID`` ``TransactionStatusQuery``, ``PartyA``, ``IdentifierType`` 4,
  ``ResultURL``, an ``OriginalConversationID`` or ``TransactionID``): acks, then POSTs the
  result to ``ResultURL`` with ``TransactionStatus`` ``Completed``/``Failed``, the ``Amount``
  and ``Occasion`` echoed in ``ReferenceData``; a payout it does not know or not final yet
  gets ``ResultCode`` 2001 "no transaction". ``forge_status_result`` posts one it never sent.
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

B2C_RESULTS = {
    "001": (1, "The balance is insufficient for the transaction."),
    "201": (2001, "The initiator information is invalid."),
}

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
class B2CPayout:
    originator_id: str
    conversation_id: str
    msisdn: str
    amount: int
    result_url: str
    result_code: int | None = None
    result_desc: str = ""
    transaction_id: str | None = None
    results_sent: int = 0


def _key_and_certificate() -> tuple[Any, str]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-daraja")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM).decode()


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
    b2c_shortcode: str = "600000"
    initiator_name: str = "testapi"
    initiator_password: str = "fake-initiator-password"  # noqa: S105 - the fake provider's own
    slow_ack_s: float = 1.0
    payouts: dict[str, B2CPayout] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._private_key, self.certificate_pem = _key_and_certificate()

    def payouts_to(self, msisdn_e164: str) -> list[B2CPayout]:
        return [p for p in self.payouts.values() if p.msisdn == msisdn_e164.removeprefix("+")]

    def _credential_ok(self, credential: object) -> bool:
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            plain = self._private_key.decrypt(base64.b64decode(str(credential)), padding.PKCS1v15())
        except ValueError:
            return False
        return secrets.compare_digest(plain, self.initiator_password.encode())

    async def forge_payout_result(self, url: str, *, originator_id: str, amount: int) -> httpx.Response:
        forged = B2CPayout(originator_id, "AG_FORGED", "254700000000", amount, url, 0, "ok", "FORGED0001")
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(url, json=_b2c_result_body(forged))

    async def forge_status_result(self, url: str, *, originator_id: str, amount: int) -> httpx.Response:
        forged = B2CPayout(originator_id, "AG_FORGED", "254700000000", amount, url, 0, "ok", "FORGED0001")
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(url, json=_status_result_body(forged, originator_id))

    async def _post_later(self, url: str, body: dict[str, Any]) -> None:
        await asyncio.sleep(self.callback_delay_s)
        async with httpx.AsyncClient(timeout=10) as client:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(url, json=body)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_b2c(self, payout: B2CPayout) -> None:
        await asyncio.sleep(self.callback_delay_s)
        suffix = payout.msisdn[-3:]
        payout.result_code, payout.result_desc = B2C_RESULTS.get(
            suffix, (0, "The service request is processed successfully.")
        )
        if payout.result_code == 0:
            payout.transaction_id = "B" + secrets.token_hex(5).upper()
        if suffix in ("999", "505"):
            return
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(2 if suffix == "222" else 1):
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(payout.result_url, json=_b2c_result_body(payout))
                    payout.results_sent += 1

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
        if suffix in ("999", "505"):
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

        @post("/mpesa/b2c/v3/paymentrequest", status_code=200)
        async def b2c(request: Request[Any, Any, Any]) -> Response[Any]:
            if not fake._authorised(request):
                return invalid_token()
            body = await request.json()
            fake.requests.append(("b2c", body))
            if body.get("InitiatorName") != fake.initiator_name or not fake._credential_ok(
                body.get("SecurityCredential")
            ):
                return bad_request("Invalid Initiator Information")
            if body.get("CommandID") not in ("SalaryPayment", "BusinessPayment", "PromotionPayment"):
                return bad_request("Invalid CommandID")
            amount = body.get("Amount")
            if (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or amount != int(amount)
                or amount < 10
            ):
                return bad_request("Invalid Amount")
            if str(body.get("PartyA")) != fake.b2c_shortcode:
                return bad_request("Invalid PartyA")
            party_b = str(body.get("PartyB", ""))
            if len(party_b) != 12 or not party_b.isdigit():
                return bad_request("Invalid PartyB")
            for name in ("ResultURL", "QueueTimeOutURL", "OriginatorConversationID"):
                if not body.get(name):
                    return bad_request(f"Invalid {name}")
            originator = str(body["OriginatorConversationID"])
            if originator in fake.payouts:
                return bad_request("Duplicate OriginatorConversationID")
            payout = B2CPayout(
                originator_id=originator,
                conversation_id=f"AG_{secrets.token_hex(8).upper()}",
                msisdn=party_b,
                amount=int(amount),
                result_url=str(body["ResultURL"]),
            )
            fake.payouts[originator] = payout
            fake._spawn(fake._deliver_b2c(payout))
            if party_b.endswith(("504", "505")):
                await asyncio.sleep(fake.slow_ack_s)
            return Response(
                {
                    "ConversationID": payout.conversation_id,
                    "OriginatorConversationID": originator,
                    "ResponseCode": "0",
                    "ResponseDescription": "Accept the service request successfully.",
                }
            )

        @post("/mpesa/transactionstatus/v1/query", status_code=200)
        async def transaction_status(request: Request[Any, Any, Any]) -> Response[Any]:
            if not fake._authorised(request):
                return invalid_token()
            body = await request.json()
            fake.requests.append(("transaction_status", body))
            if body.get("Initiator") != fake.initiator_name or not fake._credential_ok(
                body.get("SecurityCredential")
            ):
                return bad_request("Invalid Initiator Information")
            if body.get("CommandID") != "TransactionStatusQuery":
                return bad_request("Invalid CommandID")
            if str(body.get("PartyA")) != fake.b2c_shortcode or str(body.get("IdentifierType")) != "4":
                return bad_request("Invalid PartyA")
            for name in ("ResultURL", "QueueTimeOutURL"):
                if not body.get(name):
                    return bad_request(f"Invalid {name}")
            original, receipt = body.get("OriginalConversationID"), body.get("TransactionID")
            if not original and not receipt:
                return bad_request("Invalid TransactionID")
            found = fake.payouts.get(str(original)) or next(
                (p for p in fake.payouts.values() if receipt and p.transaction_id == receipt), None
            )
            fake._spawn(
                fake._post_later(
                    str(body["ResultURL"]), _status_result_body(found, str(body.get("Occasion", "")))
                )
            )
            return Response(
                {
                    "OriginatorConversationID": secrets.token_hex(8),
                    "ConversationID": f"AG_{secrets.token_hex(8).upper()}",
                    "ResponseCode": "0",
                    "ResponseDescription": "Accept the service request successfully.",
                }
            )

        return Litestar(
            [oauth, stk_push, stk_query, b2c, transaction_status], debug=False, logging_config=None
        )


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


def _b2c_result_body(payout: B2CPayout) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": payout.result_code,
        "ResultDesc": payout.result_desc,
        "OriginatorConversationID": payout.originator_id,
        "ConversationID": payout.conversation_id,
        "TransactionID": payout.transaction_id or "0000000000000000",
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": payout.result_url}},
    }
    if payout.result_code == 0:
        # ResultParameters only on success; some Keys come without a Value.
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": payout.amount},
                {"Key": "TransactionReceipt", "Value": payout.transaction_id},
                {"Key": "ReceiverPartyPublicName", "Value": f"{payout.msisdn} - Jane Doe"},
                {"Key": "TransactionCompletedDateTime", "Value": time.strftime("%d.%m.%Y %H:%M:%S")},
                {"Key": "B2CUtilityAccountAvailableFunds"},
                {"Key": "B2CWorkingAccountAvailableFunds", "Value": 900000.0},
                {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                {"Key": "B2CChargesPaidAccountAvailableFunds"},
            ]
        }
    return {"Result": result}


def _status_result_body(payout: B2CPayout | None, occasion: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ResultType": 0,
        "OriginatorConversationID": secrets.token_hex(8),
        "ConversationID": f"AG_{secrets.token_hex(8).upper()}",
        "TransactionID": secrets.token_hex(5).upper(),
        "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": occasion}},
    }
    if payout is None or payout.result_code is None:
        result.update(ResultCode=2001, ResultDesc="No transaction found.")
        return {"Result": result}
    result.update(ResultCode=0, ResultDesc="The service request is processed successfully.")
    result["ResultParameters"] = {
        "ResultParameter": [
            {"Key": "DebitPartyName", "Value": "600000 - Nexgate"},
            {"Key": "CreditPartyName", "Value": f"{payout.msisdn} - Jane Doe"},
            {"Key": "OriginatorConversationID", "Value": payout.originator_id},
            {"Key": "ReceiptNo", "Value": payout.transaction_id or ""},
            {"Key": "TransactionStatus", "Value": "Completed" if payout.result_code == 0 else "Failed"},
            {"Key": "Amount", "Value": payout.amount},
            {"Key": "ReasonType", "Value": "Business Payment to Individual via API"},
        ]
    }
    return {"Result": result}


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
