"""Litestar glue for access tokens: who is calling (middleware), may they (guards), and
handing the `Principal` to handlers (dependencies).

The middleware only authenticates: a request without an ``Authorization`` header passes
through anonymously (``scope["user"] is None``) and the guards or ``provide_principal``
decide whether the route needs a caller. A header that is present but wrong is always a
401: a client that sends credentials must learn they were rejected, not be served
anonymously.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from litestar import Request  # at runtime: Litestar reads the providers' type hints
from litestar.enums import ScopeType
from litestar.exceptions import WebSocketException
from litestar.middleware import ASGIMiddleware

from nexgate.kernel.errors import DomainError, Forbidden, NotAuthenticated
from nexgate.kernel.security.keys import (
    KeySource,
    RemoteJWKSSource,
    StaticKeySource,
    load_or_create_signing_key,
    load_retired_keys,
)
from nexgate.kernel.security.principal import Principal
from nexgate.kernel.security.revocation import SessionDenylist
from nexgate.kernel.security.tokens import TokenVerifier

if TYPE_CHECKING:
    import httpx
    from litestar.connection import ASGIConnection
    from litestar.handlers import BaseRouteHandler
    from litestar.types import ASGIApp, Guard, Receive, Scope, Send
    from redis.asyncio import Redis

    from nexgate.kernel.settings import PlatformSettings

# RFC 6750 b64token; anything else after "Bearer " is malformed.
_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)


def _for_connection(scope: Scope, error: DomainError) -> Exception:
    """The exception to raise for ``error`` on this connection.

    Litestar renders only `WebSocketException` on websockets (anything else closes with
    4500), so websockets get a close code of 4000 + HTTP status and the stable code as the
    reason; HTTP keeps the domain error for the problem+json handlers.
    """
    if scope["type"] == ScopeType.WEBSOCKET:
        return WebSocketException(detail=error.code, code=4000 + error.status)
    return error


def _bearer_token(scope: Scope) -> str | None:
    values = [value for name, value in scope["headers"] if name.lower() == b"authorization"]
    if not values:
        return None
    if len(values) > 1:  # ambiguous: proxies and frameworks disagree on which one wins
        raise NotAuthenticated("Send exactly one Authorization header.", code="invalid_token")
    match = _BEARER.fullmatch(values[0].decode("latin-1").strip())
    if match is None:
        raise NotAuthenticated("Expected 'Authorization: Bearer <token>'.", code="invalid_token")
    return match.group(1)


class PrincipalMiddleware(ASGIMiddleware):
    """Sets ``scope["user"]`` (a `Principal` or None) and ``scope["auth"]`` (the raw token).

    Needs ``app.state.token_verifier`` and ``app.state.session_denylist`` (see `auth_state`).
    Exceptions raised here reach the app's exception handlers, so they render as problem+json.
    """

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope["user"] = None
        scope["auth"] = None
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get("foreign_authorization"):
            # A route whose callers sign with their own Authorization scheme (a provider's
            # webhook, e.g. Selcom's "SELCOM <key>"): no principal, the route checks it itself.
            await next_app(scope, receive, send)
            return
        try:
            token = _bearer_token(scope)
            if token is not None:
                scope["user"] = await self._authenticate(scope, token)
                scope["auth"] = token
        except NotAuthenticated as exc:
            raise _for_connection(scope, exc) from exc
        await next_app(scope, receive, send)

    @staticmethod
    async def _authenticate(scope: Scope, token: str) -> Principal:
        state = scope["app"].state
        verifier: TokenVerifier = state.token_verifier
        denylist: SessionDenylist = state.session_denylist
        principal = await verifier.verify(token)
        if await denylist.is_revoked(principal.session_id):
            raise NotAuthenticated("The session has been signed out.", code="session_revoked")
        return principal


def _principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthenticated("This endpoint needs an access token.")
    return user


def requires_principal(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the caller must be authenticated."""
    try:
        _principal_of(connection)
    except NotAuthenticated as exc:
        raise _for_connection(connection.scope, exc) from exc


def requires_role(*roles: str) -> Guard:
    """Guard factory: the caller must hold at least one of ``roles``."""
    if not roles:
        raise ValueError("requires_role needs at least one role")

    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        requires_principal(connection, handler)
        if not any(connection.user.has_role(role) for role in roles):
            error = Forbidden("Your account lacks the role this action needs.", code="missing_role")
            raise _for_connection(connection.scope, error)

    return guard


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """Dependency: the acting principal; anonymous callers get a 401."""
    return _principal_of(request)


def provide_optional_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """Dependency: the acting principal, or None for anonymous callers."""
    user = request.scope.get("user")
    return user if isinstance(user, Principal) else None


def auth_state(
    settings: PlatformSettings, redis: Redis, *, http: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    """The ``app.state`` entries `PrincipalMiddleware` reads.

    Split mode (``jwks_url`` set) verifies against the auth context's JWKS; all-in-one mode
    uses the local signing key file, creating it on first start.
    """
    source: KeySource
    if settings.jwks_url:
        source = RemoteJWKSSource(settings.jwks_url, settings.jwks_cache_s, http)
    else:
        active = load_or_create_signing_key(settings.signing_key_file)
        # Keys retired by a rotation keep verifying the tokens they signed.
        source = StaticKeySource([active, *load_retired_keys(settings.signing_key_file)])
    return {
        "token_verifier": TokenVerifier(source, settings.jwt_issuer, settings.jwt_audience),
        "session_denylist": SessionDenylist(redis, settings.redis_prefix),
    }
