"""``Idempotency-Key`` for POSTs a mobile client retries (Stripe's design, peers.md 4.3).

Mark a route with ``opt={"idempotent": True}`` (and ``"max_body_bytes": n`` when the route
accepts bodies larger than the app's limit, as uploads do). The first response for a
(caller, key, method, path) is kept for ``idempotency_ttl_s`` and replayed with
``Idempotent-Replayed: true``; the same key with a different body is a 422; a
retry while the first request still runs is a 409. Responses that say the
request was not acted on (validation, auth, rate limit, server errors) are not
kept, so the client can fix the request and reuse its key.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import cast

import msgspec
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPRequestEvent, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send
from redis.asyncio import Redis

from nexgate.kernel.errors import Conflict, MalformedRequest, PayloadTooLarge, ValidationFailed
from nexgate.kernel.security.principal import Principal

HEADER = b"idempotency-key"
_NOT_KEPT = frozenset({400, 401, 403, 413, 415, 422, 429})
#: How long a running request holds its key without renewal: a crashed request frees it after
#: this; a live one renews it every third of it, however long it runs.
_RUNNING_TTL_S = 60
_RENEW_EVERY_S = _RUNNING_TTL_S / 3
#: Act on the key only while it still holds exactly this request's marker (compare-and-set),
#: so a request whose marker expired can never overwrite the answer of the one that took over.
_IF_OWNER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'renew' then return redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if ARGV[2] == 'delete' then return redis.call('DEL', KEYS[1]) end
return redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[3]) and 1
"""


class StoredResponse(msgspec.Struct):
    fingerprint: str
    status: int = 0
    headers: list[tuple[bytes, bytes]] = []
    body: bytes = b""
    #: Makes each running marker unique, so its exact bytes identify the request holding it.
    owner: str = ""

    @property
    def running(self) -> bool:
        return self.status == 0


class IdempotencyStore:
    def __init__(self, redis: Redis, *, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._if_owner = redis.register_script(_IF_OWNER)

    def key(self, caller: str, method: str, path: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(f"{caller}\n{method}\n{path}\n{idempotency_key}".encode()).hexdigest()
        return f"{self._prefix}idem:{digest}"

    async def begin(self, key: str, marker: bytes) -> StoredResponse | None:
        """Claim ``key`` with ``marker``; None if claimed now, else what the first request left."""
        if await self._redis.set(key, marker, nx=True, ex=_RUNNING_TTL_S):
            return None
        raw = await self._redis.get(key)
        if raw is None:  # expired in between: claim again
            return await self.begin(key, marker)
        return msgspec.msgpack.decode(cast(bytes, raw), type=StoredResponse)

    async def renew(self, key: str, marker: bytes) -> None:
        while True:
            await asyncio.sleep(_RENEW_EVERY_S)
            await self._if_owner(keys=[key], args=[marker, "renew", _RUNNING_TTL_S, b""])

    async def finish(self, key: str, marker: bytes, response: StoredResponse) -> None:
        # Not kept: answers that say nothing was done (validation, auth, limits) and 5xx, whose
        # transaction rolled back. A use case that commits more than once (a provider call
        # between two commits) must guard its own effects, as payments does per attempt.
        if response.status in _NOT_KEPT or response.status >= 500:
            await self.abandon(key, marker)
        else:
            encoded = msgspec.msgpack.encode(response)
            await self._if_owner(keys=[key], args=[marker, "set", self._ttl_s, encoded])

    async def abandon(self, key: str, marker: bytes) -> None:
        await self._if_owner(keys=[key], args=[marker, "delete", 0, b""])


class IdempotencyMiddleware(ASGIMiddleware):
    """Needs ``app.state.idempotency`` (an `IdempotencyStore`) and ``app.state.max_body_bytes``."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope.get("route_handler")
        raw_key = next((v for k, v in scope["headers"] if k.lower() == HEADER), None)
        if raw_key is None or handler is None or not handler.opt.get("idempotent"):
            await next_app(scope, receive, send)
            return
        # Errors raised here reach the app's exception handlers and render as problem+json.
        idempotency_key = raw_key.decode("latin-1").strip()
        if not 1 <= len(idempotency_key) <= 255 or not idempotency_key.isprintable():
            raise MalformedRequest("Idempotency-Key must be 1 to 255 printable characters.")
        state = scope["app"].state
        store: IdempotencyStore = state.idempotency
        # A route that accepts larger bodies (uploads) names its own cap in ``opt``.
        body = await _read_body(receive, handler.opt.get("max_body_bytes", state.max_body_bytes))
        user = scope.get("user")
        caller = str(user.user_id) if isinstance(user, Principal) else "anonymous"
        method = cast(HTTPScope, scope)["method"]
        key = store.key(caller, method, scope["path"].rstrip("/") or "/", idempotency_key)
        fingerprint = _fingerprint(body, scope)
        marker = msgspec.msgpack.encode(StoredResponse(fingerprint, owner=uuid.uuid4().hex))

        previous = await store.begin(key, marker)
        if previous is not None:
            if previous.fingerprint != fingerprint:
                raise ValidationFailed(
                    "This Idempotency-Key was used with a different request body.",
                    code="idempotency_key_reused",
                )
            if previous.running:
                raise Conflict(
                    "A request with this Idempotency-Key is still running; retry shortly.",
                    code="idempotency_request_in_progress",
                )
            await _replay(previous, send)
            return

        record = StoredResponse(fingerprint)
        body_sent = False

        async def replay_receive() -> ReceiveMessage:
            nonlocal body_sent
            if body_sent:
                return await receive()
            body_sent = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=False)

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                record.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                record.body += message.get("body", b"")
            await send(message)

        renewing = asyncio.create_task(store.renew(key, marker))
        try:
            await next_app(scope, replay_receive, capture)
        except BaseException:
            await store.abandon(key, marker)
            raise
        finally:
            renewing.cancel()
        await store.finish(key, marker, record)


def _fingerprint(body: bytes, scope: Scope) -> str:
    """What makes two requests "the same": the body, minus a multipart boundary.

    Multipart clients draw a new random boundary each time they build a request, so a
    retried upload differs in those bytes only.
    """
    content_type = next((v for k, v in scope["headers"] if k.lower() == b"content-type"), b"")
    if content_type.lower().startswith(b"multipart/"):
        boundary = next(
            (
                p.split(b"=", 1)[1].strip(b'" ')
                for p in content_type.split(b";")
                if p.strip().lower().startswith(b"boundary=")
            ),
            b"",
        )
        if boundary:
            body = body.replace(boundary, b"")
    return hashlib.sha256(body).hexdigest()


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _replay(stored: StoredResponse, send: Send) -> None:
    headers = [(k, v) for k, v in stored.headers if k.lower() not in (b"x-request-id",)]
    await send(
        {
            "type": "http.response.start",
            "status": stored.status,
            "headers": [*headers, (b"idempotent-replayed", b"true")],
        }
    )
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})
