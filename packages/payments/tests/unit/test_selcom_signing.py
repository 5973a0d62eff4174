"""Selcom's digest (peers.md 2.2) and the webhook check: fields in Signed-Fields order, a
fresh timestamp, our key; the documented ``resulcode`` spelling is accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from nexgate.payments.adapters.selcom import signing
from nexgate.payments.adapters.selcom.provider import SelcomProvider
from nexgate.payments.ports import ProviderOutcome

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=signing.EAT)
BODY = {
    "transid": "t1",
    "order_id": "o1",
    "reference": "R1",
    "result": "SUCCESS",
    "resulcode": "000",
    "payment_status": "COMPLETED",
}
FIELDS = ["transid", "order_id", "reference", "result", "resultcode", "payment_status"]


def test_the_digest_is_the_documented_hmac_over_the_fields_in_header_order() -> None:
    message = "timestamp=2019-02-26T09:30:46+03:00&transid=t1&order_id=o1"
    expected = base64.b64encode(hmac.new(b"secret", message.encode(), hashlib.sha256).digest()).decode()
    assert signing.digest("secret", "2019-02-26T09:30:46+03:00", BODY, ["transid", "order_id"]) == expected
    assert signing.digest("secret", "2019-02-26T09:30:46+03:00", BODY, ["order_id", "transid"]) != expected


def headers(timestamp: datetime, secret: str = "secret", fields=FIELDS) -> dict[str, str]:
    stamp = timestamp.isoformat(timespec="seconds")
    return {
        "Authorization": "SELCOM " + base64.b64encode(b"key").decode(),
        "Timestamp": stamp,
        "Digest-Method": "HS256",
        "Digest": signing.digest(secret, stamp, BODY, fields),
        "Signed-Fields": ",".join(fields),
    }


def check(h: dict[str, str], body=BODY) -> bool:
    return signing.verify(
        h,
        body,
        api_key="key",
        secret="secret",
        now=NOW,
        tolerance=timedelta(minutes=5),
        required=("order_id", "payment_status"),
    )


def test_a_webhook_verifies_only_when_fresh_signed_by_us_and_complete() -> None:
    assert check(headers(NOW - timedelta(minutes=4)))
    assert not check(headers(NOW - timedelta(minutes=6)))  # too old: a replay
    assert not check(headers(NOW, secret="other"))
    assert not check(headers(NOW, fields=["transid", "order_id"]))  # payment_status unsigned
    assert not check({**headers(NOW), "Authorization": "SELCOM " + base64.b64encode(b"other").decode()})
    assert not check(headers(NOW), body={**BODY, "payment_status": "PENDING"})  # tampered
    assert not check({**headers(NOW), "Timestamp": "yesterday"})


def test_the_webhook_is_parsed_leniently() -> None:
    provider = SelcomProvider(base_url="http://x", api_key="key", api_secret="secret", vendor="v")
    parsed = provider.parse_collection_callback(BODY)
    assert (parsed.provider_ref, parsed.outcome, parsed.code, parsed.amount_major) == (
        "o1",
        ProviderOutcome.SUCCEEDED,
        "000",
        None,
    )
    pending = provider.parse_collection_callback({**BODY, "resulcode": "111", "payment_status": "PENDING"})
    assert pending.outcome is ProviderOutcome.PENDING
    ambiguous = provider.parse_collection_callback({**BODY, "resulcode": "999", "payment_status": ""})
    assert ambiguous.outcome is ProviderOutcome.PENDING
