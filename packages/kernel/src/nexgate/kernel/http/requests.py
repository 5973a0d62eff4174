"""Request id and access log for every HTTP request.

The id lives in ``scope["state"]["request_id"]``. Routed requests get it from
`RequestContextMiddleware`; requests that match no route never pass through
app middleware, so `request_id_of` makes one on demand for their problem
response, and the `echo_request_id` before-send hook puts whichever id the
request has on every response.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
log = structlog.get_logger("nexgate.access")


def request_id_of(scope: Scope) -> str:
    """The request's id: the caller's ``X-Request-ID`` if sane, else a new one; stable per request."""
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == REQUEST_ID_HEADER.encode()),
            "",
        )
        state["request_id"] = incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
    return str(state["request_id"])


async def echo_request_id(message: Message, scope: Scope) -> None:
    """Before-send hook: every HTTP response carries ``X-Request-ID``."""
    if message["type"] == "http.response.start":
        message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id_of(scope).encode())]


class RequestContextMiddleware(ASGIMiddleware):
    """Takes the caller's ``X-Request-ID`` (if sane) or makes one, echoes it, logs the request."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = request_id_of(scope)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await next_app(scope, receive, send_with_id)
        finally:
            if not scope["path"].startswith(("/health", "/metrics")):
                log.info(
                    "http.request",
                    method=scope.get("method"),
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")
