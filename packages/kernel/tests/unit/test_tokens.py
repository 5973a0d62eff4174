"""Access-token signing and verification, with the classic JWT attacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey

from nexgate.kernel.errors import NotAuthenticated
from nexgate.kernel.security.keys import (
    RemoteJWKSSource,
    StaticKeySource,
    load_or_create_signing_key,
    public_keyset,
)
from nexgate.kernel.security.principal import Principal
from nexgate.kernel.security.tokens import TokenSigner, TokenVerifier

ISS, AUD = "nexgate", "nexgate"
USER, SESSION = uuid.uuid4(), uuid.uuid4()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def new_key(kid: str | None = None) -> OKPKey:
    key = OKPKey.generate_key("Ed25519")
    return OKPKey.import_key(key.as_dict(private=True, kid=kid or key.thumbprint()))


@pytest.fixture
def key() -> OKPKey:
    return new_key()


@pytest.fixture
def signer(key: OKPKey) -> TokenSigner:
    return TokenSigner(key, ISS, AUD)


@pytest.fixture
def verifier(key: OKPKey) -> TokenVerifier:
    return TokenVerifier(StaticKeySource([key]), ISS, AUD)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    base = {
        "iss": ISS,
        "aud": AUD,
        "sub": str(USER),
        "sid": str(SESSION),
        "roles": [],
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: OKPKey, payload: dict[str, Any]) -> str:
    return jwt.encode({"alg": "Ed25519", "kid": key.kid}, payload, key, algorithms=["Ed25519"])


async def refused(verifier: TokenVerifier, token: str, code: str = "invalid_token") -> NotAuthenticated:
    with pytest.raises(NotAuthenticated) as caught:
        await verifier.verify(token)
    assert caught.value.code == code
    return caught.value


# --- happy path ---------------------------------------------------------------------------


async def test_valid_token_gives_principal(signer: TokenSigner, verifier: TokenVerifier, key: OKPKey) -> None:
    token = signer.issue(USER, SESSION, roles=["seller", "admin"])

    principal = await verifier.verify(token)

    assert principal.user_id == USER
    assert principal.session_id == SESSION
    assert principal.roles == frozenset({"seller", "admin"})
    assert principal.has_role("admin")
    assert not principal.has_role("staff")
    assert len(principal.token_id) == 32
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"typ": "JWT", "alg": "Ed25519", "kid": key.kid}


async def test_claims_have_the_documented_shape(signer: TokenSigner, verifier: TokenVerifier) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token = signer.issue(USER, SESSION, ttl=timedelta(minutes=15), now=now)
    body = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    stamp = int(now.timestamp())
    assert body["iat"] == body["nbf"] == stamp
    assert body["exp"] == stamp + 900
    assert (body["iss"], body["aud"], body["sub"], body["sid"]) == (ISS, AUD, str(USER), str(SESSION))


async def test_principal_defaults() -> None:
    principal = Principal(user_id=USER, session_id=SESSION)
    assert principal.roles == frozenset()
    assert principal.token_id == ""
    assert not principal.has_role("admin")


# --- time --------------------------------------------------------------------------------


async def test_expired_token(signer: TokenSigner, verifier: TokenVerifier) -> None:
    token = signer.issue(USER, SESSION, now=datetime.now(UTC) - timedelta(hours=1))
    await refused(verifier, token, "token_expired")


async def test_clock_skew_within_leeway_is_accepted(signer: TokenSigner, verifier: TokenVerifier) -> None:
    just_expired = signer.issue(
        USER, SESSION, ttl=timedelta(minutes=15), now=datetime.now(UTC) - timedelta(minutes=15, seconds=10)
    )
    assert (await verifier.verify(just_expired)).user_id == USER


async def test_not_yet_valid(signer: TokenSigner, verifier: TokenVerifier) -> None:
    token = signer.issue(USER, SESSION, now=datetime.now(UTC) + timedelta(minutes=5))
    await refused(verifier, token)


async def test_expired_and_badly_signed_is_invalid_not_expired(key: OKPKey, verifier: TokenVerifier) -> None:
    # The signature is checked before the claims: an attacker learns nothing from the claims.
    forged = TokenSigner(new_key(kid=key.kid), ISS, AUD).issue(
        USER, SESSION, now=datetime.now(UTC) - timedelta(hours=1)
    )
    await refused(verifier, forged)


# --- keys -------------------------------------------------------------------------------


async def test_wrong_key_with_same_kid(key: OKPKey, verifier: TokenVerifier) -> None:
    impostor = TokenSigner(new_key(kid=key.kid), ISS, AUD)
    assert impostor.kid == key.kid
    await refused(verifier, impostor.issue(USER, SESSION))


async def test_unknown_kid(verifier: TokenVerifier) -> None:
    error = await refused(verifier, TokenSigner(new_key(), ISS, AUD).issue(USER, SESSION))
    assert error.detail == "Invalid access token: unknown signing key."


async def test_missing_kid(key: OKPKey, verifier: TokenVerifier) -> None:
    token = jwt.encode({"alg": "Ed25519"}, claims(), key, algorithms=["Ed25519"])
    await refused(verifier, token)


# --- algorithm confusion ----------------------------------------------------------------


async def test_alg_none_is_refused(key: OKPKey, verifier: TokenVerifier) -> None:
    for alg in ("none", "None", "NONE"):
        token = f"{b64json({'alg': alg, 'typ': 'JWT', 'kid': key.kid})}.{b64json(claims())}."
        error = await refused(verifier, token)
        assert error.detail == "Invalid access token: unsupported algorithm."


async def test_alg_missing_is_refused(key: OKPKey, verifier: TokenVerifier) -> None:
    token = f"{b64json({'typ': 'JWT', 'kid': key.kid})}.{b64json(claims())}."
    await refused(verifier, token)


def hs256(secret: bytes, kid: str | None) -> str:
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64json(claims())}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


async def test_hs256_keyed_with_the_public_key_is_refused(key: OKPKey, verifier: TokenVerifier) -> None:
    public = key.as_dict(private=False)
    secrets = [
        key.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw),
        key.as_pem(private=False),
        str(public["x"]).encode(),
        json.dumps(public).encode(),
    ]
    for secret in secrets:
        error = await refused(verifier, hs256(secret, key.kid))
        assert error.detail == "Invalid access token: unsupported algorithm."


async def test_es256_is_refused(key: OKPKey, verifier: TokenVerifier) -> None:
    ec = ECKey.generate_key("P-256")
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, claims(), ec, algorithms=["ES256"])
    await refused(verifier, token)


async def test_eddsa_alias_is_refused_even_with_a_valid_signature(
    key: OKPKey, verifier: TokenVerifier
) -> None:
    signing_input = f"{b64json({'alg': 'EdDSA', 'typ': 'JWT', 'kid': key.kid})}.{b64json(claims())}"
    private = key.private_key
    assert isinstance(private, Ed25519PrivateKey)
    signature = private.sign(signing_input.encode("ascii"))
    await refused(verifier, f"{signing_input}.{b64(signature)}")


# --- integrity and claims ---------------------------------------------------------------


async def test_tampered_payload(signer: TokenSigner, verifier: TokenVerifier) -> None:
    header, _, signature = signer.issue(USER, SESSION).split(".")
    escalated = b64json(claims(roles=["admin"]))
    error = await refused(verifier, f"{header}.{escalated}.{signature}")
    assert error.detail == "Invalid access token: bad signature."


async def test_tampered_signature(signer: TokenSigner, verifier: TokenVerifier) -> None:
    token = signer.issue(USER, SESSION)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    await refused(verifier, flipped)


@pytest.mark.parametrize(("issuer", "audience"), [("evil", AUD), (ISS, "other-service")])
async def test_wrong_issuer_or_audience(
    key: OKPKey, verifier: TokenVerifier, issuer: str, audience: str
) -> None:
    await refused(verifier, TokenSigner(key, issuer, audience).issue(USER, SESSION))


@pytest.mark.parametrize(
    "override",
    [
        {"sid": None},
        {"sub": None},
        {"exp": None},
        {"iss": None},
        {"aud": None},
        {"sid": "not-a-uuid"},
        {"sub": 42},
        {"roles": "admin"},
        {"roles": [1]},
        {"exp": "tomorrow"},
    ],
    ids=repr,
)
async def test_bad_or_missing_claims(key: OKPKey, verifier: TokenVerifier, override: dict[str, Any]) -> None:
    await refused(verifier, sign(key, claims(**override)))


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b", "a.b.c", "a.b.c.d", "!!!.e30.", "W10.e30.", "x" * 10_000], ids=repr
)
async def test_garbage(verifier: TokenVerifier, token: str) -> None:
    await refused(verifier, token)


# --- key files and JWKS -------------------------------------------------------------------


def test_signing_key_file_is_created_private_then_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "keys" / "jwt.json"

    created = load_or_create_signing_key(path)
    loaded = load_or_create_signing_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert created.is_private
    assert loaded.is_private
    assert created.kid == loaded.kid == created.thumbprint()
    assert json.loads(path.read_text())["kid"] == created.kid
    assert [p.name for p in path.parent.iterdir()] == ["jwt.json"]  # no temp file left behind


def test_public_keyset_has_no_private_material(key: OKPKey) -> None:
    jwks = public_keyset([key])
    assert jwks == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": key.as_dict()["x"],
                "kid": key.kid,
                "use": "sig",
                "alg": "Ed25519",
            }
        ]
    }


async def test_static_source_serves_public_keys_only(key: OKPKey) -> None:
    found = await StaticKeySource([key]).key_for(str(key.kid))
    assert found is not None
    assert not found.is_private
    assert await StaticKeySource([key]).key_for("other") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class JWKSServer:
    """An httpx.MockTransport handler serving a JWKS that tests can change or break."""

    def __init__(self, *keys: OKPKey) -> None:
        self.document: Any = public_keyset(keys)
        self.requests = 0
        self.fail: Exception | int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if isinstance(self.fail, Exception):
            raise self.fail
        if isinstance(self.fail, int):
            return httpx.Response(self.fail, text="boom")
        return httpx.Response(200, json=self.document)


def remote(server: JWKSServer, clock: FakeClock) -> RemoteJWKSSource:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    return RemoteJWKSSource("https://auth.test/.well-known/jwks.json", cache_s=300, http=http, clock=clock)


async def test_remote_source_verifies_and_caches(key: OKPKey, signer: TokenSigner) -> None:
    server, clock = JWKSServer(key), FakeClock()
    source = remote(server, clock)
    verifier = TokenVerifier(source, ISS, AUD)

    for _ in range(3):
        assert (await verifier.verify(signer.issue(USER, SESSION))).user_id == USER
    assert server.requests == 1

    clock.now += 301  # cache expired
    assert await source.key_for(str(key.kid)) is not None
    assert server.requests == 2


async def test_remote_source_refetches_on_unknown_kid_at_most_every_30s(key: OKPKey) -> None:
    server, clock = JWKSServer(key), FakeClock()
    source = remote(server, clock)
    assert await source.key_for(str(key.kid)) is not None
    assert server.requests == 1

    # Within 30 s of the last fetch, unknown kids do not trigger requests.
    clock.now += 10
    assert await source.key_for("garbage-1") is None
    assert await source.key_for("garbage-2") is None
    assert server.requests == 1

    # Key rotation: the auth service publishes a new key; after 30 s an unknown kid refetches.
    rotated = new_key()
    server.document = public_keyset([key, rotated])
    clock.now += 21
    found = await source.key_for(str(rotated.kid))
    assert found is not None
    assert not found.is_private
    assert server.requests == 2
    assert await source.key_for("garbage-3") is None
    assert server.requests == 2


@pytest.mark.parametrize("failure", [httpx.ConnectError("down"), 503, "not json", {"no": "keys"}], ids=repr)
async def test_remote_source_serves_cache_when_fetch_fails(key: OKPKey, failure: Any) -> None:
    server, clock = JWKSServer(key), FakeClock()
    source = remote(server, clock)
    assert await source.key_for(str(key.kid)) is not None

    if isinstance(failure, Exception | int):
        server.fail = failure
    else:
        server.document = failure
    clock.now += 301
    assert await source.key_for(str(key.kid)) is not None
    assert server.requests == 2
    # A failing endpoint is retried after a short back-off, not on every request.
    assert await source.key_for(str(key.kid)) is not None
    assert server.requests == 2
    clock.now += 6
    await source.key_for(str(key.kid))
    assert server.requests == 3


async def test_remote_source_cold_start_failure_then_recovery(key: OKPKey) -> None:
    server, clock = JWKSServer(key), FakeClock()
    server.fail = httpx.ConnectError("down")
    source = remote(server, clock)
    assert await source.key_for(str(key.kid)) is None

    server.fail = None
    clock.now += 6
    assert await source.key_for(str(key.kid)) is not None


async def test_remote_source_only_accepts_ed25519_signing_keys(key: OKPKey) -> None:
    ec = ECKey.generate_key("P-256", auto_kid=True)
    x25519 = OKPKey.generate_key("X25519", auto_kid=True)
    eddsa = new_key()
    enc = new_key()
    server, clock = JWKSServer(), FakeClock()
    server.document = {
        "keys": [
            ec.as_dict(private=False),
            x25519.as_dict(private=False),
            {**eddsa.as_dict(private=False), "alg": "EdDSA"},
            {**enc.as_dict(private=False), "use": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": "not-base64!", "kid": "broken"},
            {"kty": "OKP", "crv": "Ed25519", "x": key.as_dict()["x"]},  # no kid
            "junk",
            key.as_dict(private=True),  # a leaked private key is imported as public only
        ]
    }
    source = remote(server, clock)

    found = await source.key_for(str(key.kid))
    assert found is not None
    assert not found.is_private
    for other in (ec, x25519, eddsa, enc):
        clock.now += 31
        assert await source.key_for(str(other.kid)) is None
    assert await source.key_for("broken") is None


async def test_remote_source_owns_its_client_when_none_given() -> None:
    source = RemoteJWKSSource("http://127.0.0.1:9/jwks.json", cache_s=300)
    assert await source.key_for("anything") is None  # connection refused: no keys, no crash
    await source.aclose()
