"""PrincipalMiddleware, guards and dependencies in a real Litestar app, against the real Redis."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Request, WebSocket, get, websocket
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from nexgate.kernel.http.auth import (
    PrincipalMiddleware,
    auth_state,
    provide_optional_principal,
    provide_principal,
    requires_principal,
    requires_role,
)
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE, exception_handlers
from nexgate.kernel.security.keys import load_or_create_signing_key
from nexgate.kernel.security.principal import Principal
from nexgate.kernel.security.revocation import SessionDenylist
from nexgate.kernel.security.tokens import TokenSigner
from nexgate.kernel.settings import PlatformSettings

pytestmark = pytest.mark.integration

USER, SESSION = uuid.uuid4(), uuid.uuid4()


@get(
    "/me",
    guards=[requires_principal],
    dependencies={"principal": Provide(provide_principal, sync_to_thread=False)},
)
async def me(principal: NamedDependency[Principal]) -> dict[str, Any]:
    return {"userId": str(principal.user_id), "roles": sorted(principal.roles)}


@get("/whoami", dependencies={"principal": Provide(provide_principal, sync_to_thread=False)})
async def whoami(principal: NamedDependency[Principal]) -> dict[str, str]:
    return {"userId": str(principal.user_id)}


@get("/public", dependencies={"principal": Provide(provide_optional_principal, sync_to_thread=False)})
async def public(principal: NamedDependency[Principal | None]) -> dict[str, str | None]:
    return {"userId": str(principal.user_id) if principal else None}


@get("/admin", guards=[requires_role("admin", "staff")])
async def admin() -> dict[str, bool]:
    return {"ok": True}


@get("/webhook", opt={"foreign_authorization": True})
async def webhook(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"user": request.scope["user"], "authorization": request.headers.get("authorization")}


@websocket("/ws", guards=[requires_principal])
async def ws(socket: WebSocket[Principal, str, State]) -> None:
    await socket.accept()
    await socket.send_text(str(socket.user.user_id))
    await socket.close()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis(host="127.0.0.1", port=6379, db=15)
    yield client
    await client.aclose()


@pytest.fixture
async def settings(redis: Redis, tmp_path: Path) -> AsyncIterator[PlatformSettings]:
    prefix = f"test-auth-{uuid.uuid4().hex}:"
    yield PlatformSettings(redis_prefix=prefix, jwks_url="", signing_key_file=tmp_path / "keys" / "jwt.json")
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
def signer(settings: PlatformSettings) -> TokenSigner:
    # The same key file the app loads: the auth context's view in all-in-one mode.
    key = load_or_create_signing_key(settings.signing_key_file)
    return TokenSigner(key, settings.jwt_issuer, settings.jwt_audience)


@pytest.fixture
async def client(settings: PlatformSettings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # The test client runs the app on its own event loop: its Redis client must be made there.
        app_redis = Redis(host="127.0.0.1", port=6379, db=15)
        app.state.update(auth_state(settings, app_redis))
        try:
            yield
        finally:
            await app_redis.aclose()

    app = Litestar(
        route_handlers=[me, whoami, public, admin, webhook, ws],
        middleware=[PrincipalMiddleware()],
        exception_handlers=exception_handlers(),
        lifespan=[lifespan],
    )
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["code"] == code
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert code in response.headers["www-authenticate"]


async def test_no_token_on_protected_route(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/me")
    assert_problem(response, 401, "not_authenticated")
    assert response.json()["instance"] == "/me"


async def test_no_token_on_route_using_only_the_dependency(client: AsyncTestClient[Litestar]) -> None:
    assert_problem(await client.get("/whoami"), 401, "not_authenticated")


async def test_valid_token(client: AsyncTestClient[Litestar], signer: TokenSigner) -> None:
    response = await client.get("/me", headers=bearer(signer.issue(USER, SESSION, roles=["seller"])))
    assert response.status_code == 200, response.text
    assert response.json() == {"userId": str(USER), "roles": ["seller"]}


async def test_scheme_is_case_insensitive(client: AsyncTestClient[Litestar], signer: TokenSigner) -> None:
    token = signer.issue(USER, SESSION)
    response = await client.get("/whoami", headers={"Authorization": f"bearer {token}"})
    assert response.json() == {"userId": str(USER)}


async def test_optional_principal(client: AsyncTestClient[Litestar], signer: TokenSigner) -> None:
    assert (await client.get("/public")).json() == {"userId": None}
    signed_in = await client.get("/public", headers=bearer(signer.issue(USER, SESSION)))
    assert signed_in.json() == {"userId": str(USER)}


async def test_bad_token_on_public_route_is_still_rejected(client: AsyncTestClient[Litestar]) -> None:
    assert_problem(await client.get("/public", headers=bearer("not.a.token")), 401, "invalid_token")


async def test_expired_token(client: AsyncTestClient[Litestar], signer: TokenSigner) -> None:
    token = signer.issue(USER, SESSION, now=datetime.now(UTC) - timedelta(hours=1))
    assert_problem(await client.get("/me", headers=bearer(token)), 401, "token_expired")


async def test_revoked_session(
    client: AsyncTestClient[Litestar], signer: TokenSigner, redis: Redis, settings: PlatformSettings
) -> None:
    token = signer.issue(USER, SESSION)
    assert (await client.get("/me", headers=bearer(token))).status_code == 200

    await SessionDenylist(redis, settings.redis_prefix).revoke(SESSION, ttl_s=900)

    assert_problem(await client.get("/me", headers=bearer(token)), 401, "session_revoked")
    # Other sessions of the same user are unaffected.
    other = signer.issue(USER, uuid.uuid4())
    assert (await client.get("/me", headers=bearer(other))).status_code == 200
    ttl = await redis.ttl(f"{settings.redis_prefix}revoked-session:{SESSION}")
    assert 0 < ttl <= 900


async def test_alg_none(client: AsyncTestClient[Litestar], signer: TokenSigner) -> None:
    header, payload, _ = signer.issue(USER, SESSION, roles=["admin"]).split(".")
    none_header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "typ": "JWT", "kid": signer.kid}).encode()
    ).rstrip(b"=")
    token = f"{none_header.decode()}.{payload}."
    assert header != none_header.decode()
    assert_problem(await client.get("/admin", headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize(
    "value",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Token abc", "Bearer \u00e9t\u00e9"],
    ids=repr,
)
async def test_malformed_authorization_header(client: AsyncTestClient[Litestar], value: str) -> None:
    response = await client.get("/me", headers={b"Authorization": value.encode("utf-8")})
    assert_problem(response, 401, "invalid_token")


async def test_role_guard(client: AsyncTestClient[Litestar], signer: TokenSigner) -> None:
    seller = await client.get("/admin", headers=bearer(signer.issue(USER, SESSION, roles=["seller"])))
    assert_problem(seller, 403, "missing_role")
    staff = await client.get("/admin", headers=bearer(signer.issue(USER, SESSION, roles=["staff"])))
    assert staff.status_code == 200
    assert_problem(await client.get("/admin"), 401, "not_authenticated")


async def test_unknown_route_is_404_not_401(client: AsyncTestClient[Litestar]) -> None:
    # The middleware runs after routing: no token check on paths that do not exist.
    assert (await client.get("/nope", headers=bearer("x"))).status_code == 404


async def test_websocket(client: AsyncTestClient[Litestar], signer: TokenSigner) -> None:
    token = signer.issue(USER, SESSION)
    with await client.websocket_connect("/ws", headers=bearer(token)) as socket:
        assert socket.receive_text() == str(USER)
    expired = signer.issue(USER, SESSION, now=datetime.now(UTC) - timedelta(hours=1))
    for headers, reason in (({}, "not_authenticated"), (bearer(expired), "token_expired")):
        # The close arrives when the session is entered, so both are inside the raises block.
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            await client.websocket_connect("/ws", headers=headers),
        ):
            pass
        assert (closed.value.code, closed.value.detail) == (4401, reason)


async def test_a_route_marked_foreign_authorization_gets_another_scheme_and_no_principal(
    client: AsyncTestClient[Litestar],
) -> None:
    # A provider's webhook signs with its own scheme (Selcom: "SELCOM <base64 key>").
    response = await client.get("/webhook", headers={"Authorization": "SELCOM a2V5"})
    assert response.status_code == 200
    assert response.json() == {"user": None, "authorization": "SELCOM a2V5"}
    # Everywhere else that scheme is still refused.
    refused = await client.get("/public", headers={"Authorization": "SELCOM a2V5"})
    assert refused.status_code == 401
