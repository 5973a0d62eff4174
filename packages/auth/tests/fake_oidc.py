"""A fake OpenID Connect provider for the auth tests (Google style and Apple style).

A raw ASGI app served by uvicorn on 127.0.0.1 at an ephemeral port (see ``serve``). It serves
discovery (``/.well-known/openid-configuration``), the JWKS (``/jwks``), a mint endpoint
(``POST /mint``) and a token endpoint (``POST /token``) that checks PKCE (S256), the redirect
URI, the client id and the client secret (Google style: a static secret; Apple style: an ES256
JWT signed with ``secret_key``, ``iss`` the team id, ``sub`` the client id); codes come from
``authorize(...)`` (what the browser leg would return) and are single use. Tests can also mint
in process with ``FakeOidcProvider.mint``.

Switches (keyword arguments of ``mint`` or fields of the ``/mint`` body): ``iss``, ``aud``,
``expired``, ``alg`` (``"RS256"``, ``"none"``, ``"HS256-public"`` = HS256 keyed with the public
key's PEM), ``nonce=None`` (no nonce claim), ``email_verified`` (``True``, ``False``, ``"true"``,
``"false"``), ``iat_offset``; provider switches: ``rotate_keys(keep_old=...)`` and ``down``
(discovery and JWKS answer 503).

Google style publishes two issuer forms (``http://127.0.0.1:<port>`` and ``127.0.0.1:<port>``,
as Google does with and without ``https://``). Apple style puts SHA-256(nonce) hex in the token
and hands out private-relay addresses (``@privaterelay.appleid.com``) with
``email_verified``/``is_private_email`` as strings.

This module is loaded by path from conftest (tests are not packages), never imported by the app.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import uvicorn
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

Style = Literal["google", "apple"]
APPLE_RELAY_DOMAIN = "privaterelay.appleid.com"
_UNSET: Any = object()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


class FakeOidcProvider:
    def __init__(
        self, style: Style, client_ids: tuple[str, ...] = ("android-app", "ios-app", "web-app")
    ) -> None:
        self.style: Style = style
        self.client_ids = client_ids
        self.base_url = ""  # set by ``serve``
        self.keys: list[RSAKey] = [self._new_key()]
        self.down = False
        self.requests: list[str] = []  # paths served, in order (tests count JWKS fetches)
        # Code exchange: the web client authenticates with a static secret (Google) or an ES256 JWT (Apple).
        self.client_secret = f"{style}-client-secret"
        self.team_id, self.secret_key_id = "TEAM000001", "KEY0000001"
        self.secret_key = ECKey.generate_key("P-256", parameters={"kid": self.secret_key_id})
        self.codes: dict[str, dict[str, Any]] = {}
        self.jwks_max_age = 3600  # the JWKS's Cache-Control max-age, as Google sends one
        self.token_errors: list[str] = []  # why the token endpoint refused, in order

    @staticmethod
    def _new_key() -> RSAKey:
        return RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex, "alg": "RS256", "use": "sig"})

    # -- provider state -------------------------------------------------------------------------

    @property
    def current_key(self) -> RSAKey:
        return self.keys[-1]

    @property
    def issuers(self) -> tuple[str, ...]:
        """Every issuer form the provider uses; the first is the one in discovery."""
        if self.style == "google":
            return (self.base_url, self.base_url.removeprefix("http://"))
        return (self.base_url,)

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def rotate_keys(self, *, keep_old: bool = True) -> RSAKey:
        """Sign with a new key from now on; ``keep_old=False`` retires the old ones from the JWKS."""
        key = self._new_key()
        self.keys = [*self.keys, key] if keep_old else [key]
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self.keys]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuers[0],
            "jwks_uri": f"{self.base_url}/jwks",
            "authorization_endpoint": f"{self.base_url}/authorize",
            "token_endpoint": f"{self.base_url}/token",
            "response_types_supported": ["code", "id_token"],
            "subject_types_supported": ["public" if self.style == "google" else "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    # -- minting ----------------------------------------------------------------------------------

    @staticmethod
    def hash_nonce(nonce: str) -> str:
        return hashlib.sha256(nonce.encode()).hexdigest()

    def relay_email(self) -> str:
        return f"{uuid.uuid4().hex[:12]}@{APPLE_RELAY_DOMAIN}"

    def claims(
        self,
        *,
        sub: str | None = None,
        email: str | None = _UNSET,
        email_verified: bool | str = _UNSET,
        nonce: str | None = None,
        iss: str | None = None,
        aud: str | list[str] | None = None,
        azp: str | None = _UNSET,
        expired: bool = False,
        iat_offset: int = 0,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = int(time.time()) + iat_offset
        claims: dict[str, Any] = {
            "iss": iss if iss is not None else self.issuers[0],
            "sub": sub or uuid.uuid4().hex,
            "aud": aud if aud is not None else self.client_ids[0],
            "iat": now,
            "exp": now - 60 if expired else now + 3600,
        }
        if nonce is not None:  # Apple puts SHA-256(nonce) in the token, Google the nonce itself
            claims["nonce"] = self.hash_nonce(nonce) if self.style == "apple" else nonce
        if email is _UNSET:
            email = self.relay_email() if self.style == "apple" else f"{uuid.uuid4().hex[:10]}@gmail.example"
        if email is not None:
            claims["email"] = email
            if email_verified is _UNSET:
                email_verified = "true" if self.style == "apple" else True
            claims["email_verified"] = email_verified
            if self.style == "apple":
                claims["is_private_email"] = "true" if email.endswith("@" + APPLE_RELAY_DOMAIN) else "false"
        if self.style == "google":
            chosen = azp if azp is not _UNSET else (aud if isinstance(aud, str) else self.client_ids[0])
            if chosen is not None:
                claims["azp"] = chosen
        return claims | (extra or {})

    def sign(self, claims: dict[str, Any], *, alg: str = "RS256", kid: str | None = None) -> str:
        key = self.current_key
        if alg == "none":
            return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."
        if alg == "HS256-public":  # the classic confusion: HMAC keyed with the public key's PEM
            secret = key.as_pem(private=False)
            signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_segment(claims)}"
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64(mac)}"
        header = {"alg": alg, "typ": "JWT", "kid": kid or key.kid}
        return jwt.encode(header, claims, key, algorithms=[alg])

    def mint(self, *, alg: str = "RS256", kid: str | None = None, **switches: Any) -> str:
        return self.sign(self.claims(**switches), alg=alg, kid=kid)

    # -- authorization code + PKCE --------------------------------------------------------------

    @staticmethod
    def s256(verifier: str) -> str:
        return _b64(hashlib.sha256(verifier.encode()).digest())

    def authorize(
        self,
        *,
        redirect_uri: str,
        code_challenge: str,
        nonce: str,
        client_id: str | None = None,
        **switches: Any,
    ) -> str:
        """The code the browser leg would hand back; the ID token it buys is minted with ``switches``."""
        code = uuid.uuid4().hex
        self.codes[code] = {
            "client_id": client_id or self.client_ids[-1],
            "redirect_uri": redirect_uri,
            "code_challenge": code_challenge,
            "nonce": nonce,
            "switches": switches,
        }
        return code

    def _client_authenticated(self, client_id: str, secret: str) -> bool:
        if self.style == "google":
            return hmac.compare_digest(secret, self.client_secret)
        try:
            claims = jwt.decode(secret, self.secret_key, algorithms=["ES256"]).claims
            header = jwt.decode(secret, self.secret_key, algorithms=["ES256"]).header
        except (JoseError, ValueError):
            return False
        now = time.time()
        return (
            header.get("kid") == self.secret_key_id
            and claims.get("iss") == self.team_id
            and claims.get("sub") == client_id
            and claims.get("aud") == self.issuers[0]
            and claims.get("exp", 0) > now
        )

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        def refuse(error: str, why: str) -> tuple[int, dict[str, Any]]:
            self.token_errors.append(why)
            return 400, {"error": error}

        if form.get("grant_type") != "authorization_code":
            return refuse("unsupported_grant_type", "grant_type")
        grant = self.codes.pop(form.get("code", ""), None)  # single use, whatever happens next
        if grant is None:
            return refuse("invalid_grant", "unknown_code")
        if form.get("client_id") != grant["client_id"]:
            return refuse("invalid_client", "client_id")
        if not self._client_authenticated(grant["client_id"], form.get("client_secret", "")):
            return refuse("invalid_client", "client_secret")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return refuse("invalid_grant", "redirect_uri")
        if self.s256(form.get("code_verifier", "")) != grant["code_challenge"]:
            return refuse("invalid_grant", "pkce")
        id_token = self.mint(aud=grant["client_id"], nonce=grant["nonce"], **grant["switches"])
        return 200, {"id_token": id_token, "access_token": uuid.uuid4().hex, "token_type": "Bearer"}

    # -- ASGI -------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path, method = scope["path"], scope["method"]
        self.requests.append(path)
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if self.down and path in ("/.well-known/openid-configuration", "/jwks", "/token"):
            return await self._reply(send, 503, {"error": "unavailable"})
        if method == "GET" and path == "/.well-known/openid-configuration":
            return await self._reply(send, 200, self.discovery())
        if method == "GET" and path == "/jwks":
            cache = [(b"cache-control", f"public, max-age={self.jwks_max_age}".encode())]
            return await self._reply(send, 200, self.jwks(), cache)
        if method == "POST" and path == "/token":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            status, payload = self.token(form)
            return await self._reply(send, status, payload)
        if method == "POST" and path == "/mint":
            options = json.loads(body or b"{}")
            alg = options.pop("alg", "RS256")
            kid = options.pop("kid", None)
            return await self._reply(send, 200, {"idToken": self.mint(alg=alg, kid=kid, **options)})
        return await self._reply(send, 404, {"error": "not_found"})

    @staticmethod
    async def _reply(
        send: Any, status: int, payload: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        headers += extra or []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


@asynccontextmanager
async def serve(provider: FakeOidcProvider) -> AsyncIterator[FakeOidcProvider]:
    """Serve ``provider`` with uvicorn on 127.0.0.1 at an ephemeral port for the block.

    The server runs on its own thread and event loop: Litestar's test client runs the app
    synchronously from the test's loop, so a provider on that loop could never answer the app.
    """
    config = uvicorn.Config(provider, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"fake-oidc-{provider.style}", daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            if not thread.is_alive():
                raise RuntimeError("the fake OpenID provider stopped while starting")
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("the fake OpenID provider did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        provider.base_url = f"http://127.0.0.1:{port}"
        yield provider
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
