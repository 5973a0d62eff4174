"""Selcom's request and webhook signature (peers.md 2.2): ``Authorization: SELCOM
<base64(api_key)>``, ``Timestamp``, ``Digest-Method: HS256``, ``Signed-Fields`` and
``Digest = base64(HMAC_SHA256(api_secret, "timestamp=<Timestamp>&f1=v1&f2=v2..."))`` with the
fields in the order ``Signed-Fields`` lists them. Shared by the adapter and the fake."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

EAT = timezone(timedelta(hours=3))

#: The webhook sample in Selcom's docs spells ``resultcode`` as ``resulcode``.
_ALIASES = {"resultcode": "resulcode"}


def field_value(body: Mapping[str, Any], name: str) -> Any:
    if name in body:
        return body[name]
    alias = _ALIASES.get(name)
    if alias is not None and alias in body:
        return body[alias]
    raise KeyError(name)


def digest(secret: str, timestamp: str, body: Mapping[str, Any], fields: Sequence[str]) -> str:
    message = "&".join([f"timestamp={timestamp}", *(f"{f}={field_value(body, f)}" for f in fields)])
    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def sign(api_key: str, secret: str, body: Mapping[str, Any], now: datetime | None = None) -> dict[str, str]:
    """The SELCOM header set over every field of ``body``, in its order."""
    timestamp = (now or datetime.now(EAT)).astimezone(EAT).isoformat(timespec="seconds")
    fields = list(body)
    return {
        "Authorization": f"SELCOM {base64.b64encode(api_key.encode()).decode()}",
        "Timestamp": timestamp,
        "Digest-Method": "HS256",
        "Digest": digest(secret, timestamp, body, fields),
        "Signed-Fields": ",".join(fields),
    }


def verify(
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    *,
    api_key: str,
    secret: str,
    now: datetime,
    tolerance: timedelta,
    required: Sequence[str] = (),
) -> bool:
    """True when the headers carry our key, a fresh timestamp and a digest over the listed
    fields (which must include ``required``) that we recompute."""
    lower = {k.lower(): v for k, v in headers.items()}
    expected_auth = f"SELCOM {base64.b64encode(api_key.encode()).decode()}"
    if not hmac.compare_digest(lower.get("authorization", ""), expected_auth):
        return False
    if lower.get("digest-method", "HS256") != "HS256":
        return False
    timestamp = lower.get("timestamp", "")
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return False
    if when.tzinfo is None or abs(now - when) > tolerance:
        return False
    fields = [f.strip() for f in lower.get("signed-fields", "").split(",") if f.strip()]
    if not fields or not set(required) <= set(fields):
        return False
    try:
        expected = digest(secret, timestamp, body, fields)
    except KeyError:
        return False
    return hmac.compare_digest(lower.get("digest", ""), expected)
