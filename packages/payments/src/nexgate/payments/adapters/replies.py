"""Reading a provider's answer the same way for every provider adapter."""

from __future__ import annotations

from typing import Any

import httpx

from nexgate.payments.ports import ProviderUnreachable


def json_object(response: httpx.Response, what: str, *, empty_ok: bool = False) -> dict[str, Any]:
    """The provider's JSON object. A 5xx, a body that is not JSON or not an object counts as
    unreachable: the attempt stays open for reconciliation instead of being failed on a
    gateway's HTML error page. ``empty_ok``: an empty body reads as ``{}``."""
    if response.status_code >= 500:
        raise ProviderUnreachable(f"{what} answered {response.status_code}")
    if empty_ok and not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        raise ProviderUnreachable(f"{what}: not JSON") from None
    if not isinstance(body, dict):
        raise ProviderUnreachable(f"{what}: unexpected body")
    return body
