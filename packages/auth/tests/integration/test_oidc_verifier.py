"""ID-token verification against the fake Google and Apple style providers over real HTTP.

These exercise ``nexgate.auth.adapters.oidc`` directly; test_oidc_sign_in.py goes through the routes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from nexgate.auth.adapters.oidc import (
    IdentityProviderUnavailable,
    IdTokenVerifier,
    InvalidIdToken,
    OidcProvider,
    RedisOidcNonces,
    providers_from,
)
from nexgate.auth.settings import AuthSettings, OidcProviderSettings

pytestmark = pytest.mark.integration


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _config(idp: Any, **extra: Any) -> OidcProvider:
    return OidcProvider(
        name=idp.style,
        issuers=idp.issuers,
        discovery_url=idp.discovery_url,
        client_ids=idp.client_ids,
        hashed_nonce=idp.style == "apple",
        private_relay_domain="privaterelay.appleid.com" if idp.style == "apple" else None,
        **extra,
    )


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def _refused(verifier: IdTokenVerifier, provider: str, token: str, nonce: str) -> str:
    with pytest.raises(InvalidIdToken) as caught:
        await verifier.verify(provider, token, nonce)
    return caught.value.reason


async def test_google_and_apple_style_id_tokens_verified(google_idp, apple_idp, http) -> None:
    verifier = IdTokenVerifier({"google": _config(google_idp), "apple": _config(apple_idp)}, http)
    for issuer in google_idp.issuers:  # both Google issuer forms
        token = google_idp.mint(sub="g-1", nonce="n-g", iss=issuer, email="Ada@Gmail.example")
        verified = await verifier.verify("google", token, "n-g")
        assert (verified.subject, verified.email, verified.private_relay) == (
            "g-1",
            "ada@gmail.example",
            False,
        )
    # email_verified as the string "true"; the token carries SHA-256(nonce)
    token = apple_idp.mint(sub="a-1", nonce="n-a", aud="ios-app")
    verified = await verifier.verify("apple", token, "n-a")
    assert verified.subject == "a-1"
    assert verified.email is not None
    assert verified.private_relay
    real = await verifier.verify("apple", apple_idp.mint(nonce="n-a", email="ada@icloud.example"), "n-a")
    assert real.email == "ada@icloud.example"
    assert not real.private_relay
    # the raw nonce in an Apple token (no hash) is refused
    raw = apple_idp.sign(apple_idp.claims(nonce="x") | {"nonce": "n-a"})
    assert await _refused(verifier, "apple", raw, "n-a") == "nonce_mismatch"


async def test_email_trusted_only_when_verified(google_idp, http) -> None:
    verifier = IdTokenVerifier({"google": _config(google_idp)}, http)
    for flag, trusted in ((True, True), ("true", True), (False, False), ("false", False), ("yes", False)):
        token = google_idp.mint(nonce="n", email="ada@gmail.example", email_verified=flag)
        assert ((await verifier.verify("google", token, "n")).email is not None) is trusted, flag


async def test_replayed_nonce_wrong_aud_iss_stale_token_refused_by_verifier(
    google_idp, apple_idp, http
) -> None:
    verifier = IdTokenVerifier({"google": _config(google_idp), "apple": _config(apple_idp)}, http)
    g = google_idp
    cases = {
        "wrong_issuer": g.mint(nonce="n", iss="https://accounts.evil.example"),
        "wrong_audience": g.mint(nonce="n", aud="someone-else", azp=None),
        "wrong_authorized_party": g.mint(nonce="n", aud="web-app", azp="someone-else"),
        "expired": g.mint(nonce="n", expired=True, iat_offset=-1000),
        "issued_at_out_of_range": g.mint(nonce="n", iat_offset=-601 - 60),
        "nonce_missing": g.mint(),
        "nonce_mismatch": g.mint(nonce="other"),
        "algorithm_not_allowed": g.mint(nonce="n", alg="none"),
        "malformed": "not-a-token",
    }
    for reason, token in cases.items():
        assert await _refused(verifier, "google", token, "n") == reason
    hs256 = g.mint(nonce="n", alg="HS256-public")  # HMAC keyed with the public key
    assert await _refused(verifier, "google", hs256, "n") == "algorithm_not_allowed"
    # an Apple token is no Google token, even when the audience were shared
    assert await _refused(verifier, "google", apple_idp.mint(nonce="n"), "n") in (
        "unknown_key",
        "wrong_issuer",
    )
    # a forged signature under the provider's kid fails
    header, payload, _ = g.mint(nonce="n").split(".")
    _, _, other_signature = g.mint(nonce="m").split(".")
    assert await _refused(verifier, "google", f"{header}.{payload}.{other_signature}", "n") == "bad_signature"


async def test_replayed_nonce_refused_by_store(runtime) -> None:
    nonces = RedisOidcNonces(runtime.redis, runtime.settings.redis_prefix)
    nonce = await nonces.issue("google")
    assert not await nonces.consume("apple", nonce)  # bound to its provider
    results = await asyncio.gather(*(nonces.consume("google", nonce) for _ in range(10)))
    assert results.count(True) == 1  # single use, also under a race
    assert not await nonces.consume("google", nonce)
    assert not await nonces.consume("google", "never-issued")
    key = f"{runtime.settings.redis_prefix}auth:oidc-nonce:google:"
    fresh = await nonces.issue("google")
    ttls = [await runtime.redis.ttl(k) async for k in runtime.redis.scan_iter(match=key + "*")]
    assert len(ttls) == 1
    assert 590 <= ttls[0] <= 600
    assert fresh not in str([k async for k in runtime.redis.scan_iter(match=key + "*")])  # only its hash


async def test_provider_key_rotation_followed(google_idp, http) -> None:
    clock = Monotonic()
    verifier = IdTokenVerifier({"google": _config(google_idp)}, http, monotonic=clock)
    await verifier.verify("google", google_idp.mint(nonce="n"), "n")
    fetches = google_idp.requests.count("/jwks")
    assert fetches == 1
    await verifier.verify("google", google_idp.mint(nonce="n"), "n")  # cached
    assert google_idp.requests.count("/jwks") == 1

    clock.now += 61
    google_idp.rotate_keys(keep_old=False)
    await verifier.verify("google", google_idp.mint(nonce="n"), "n")  # unknown kid: one refetch
    assert google_idp.requests.count("/jwks") == 2

    # a kid nobody publishes refetches at most once a minute
    ghost = google_idp.mint(nonce="n", kid="ghost")
    assert await _refused(verifier, "google", ghost, "n") == "unknown_key"
    assert await _refused(verifier, "google", ghost, "n") == "unknown_key"
    assert google_idp.requests.count("/jwks") == 2
    clock.now += 61
    assert await _refused(verifier, "google", ghost, "n") == "unknown_key"
    assert google_idp.requests.count("/jwks") == 3


async def test_jwks_cached_per_cache_control_and_shared_through_redis(google_idp, http, runtime) -> None:
    google_idp.jwks_max_age = 120
    clock = Monotonic()
    prefix = runtime.settings.redis_prefix
    first = IdTokenVerifier(
        {"google": _config(google_idp)}, http, monotonic=clock, redis=runtime.redis, redis_prefix=prefix
    )
    await first.verify("google", google_idp.mint(nonce="n"), "n")
    assert google_idp.requests.count("/jwks") == 1
    ttl = await runtime.redis.ttl(f"{prefix}auth:oidc-jwks:google")
    assert 110 <= ttl <= 120
    # Another process finds the keys in Redis: no fetch.
    second = IdTokenVerifier(
        {"google": _config(google_idp)}, http, monotonic=clock, redis=runtime.redis, redis_prefix=prefix
    )
    await second.verify("google", google_idp.mint(nonce="n"), "n")
    assert google_idp.requests.count("/jwks") == 1
    # Within max-age the cache holds; past it (and gone from Redis) the keys are fetched again.
    clock.now += 100
    await first.verify("google", google_idp.mint(nonce="n"), "n")
    assert google_idp.requests.count("/jwks") == 1
    clock.now += 30
    await runtime.redis.delete(f"{prefix}auth:oidc-jwks:google")
    await first.verify("google", google_idp.mint(nonce="n"), "n")
    assert google_idp.requests.count("/jwks") == 2


async def test_provider_down_is_unavailable_never_unverified(google_idp, http) -> None:
    google_idp.down = True
    verifier = IdTokenVerifier({"google": _config(google_idp)}, http)
    with pytest.raises(IdentityProviderUnavailable):
        await verifier.verify("google", google_idp.mint(nonce="n"), "n")
    google_idp.down = False
    assert (await verifier.verify("google", google_idp.mint(nonce="n"), "n")).subject


def test_providers_configured_by_settings_rs256_only(monkeypatch) -> None:
    monkeypatch.setenv(
        "NEXGATE_AUTH_OIDC_PROVIDERS",
        '{"google": {"issuers": ["https://accounts.google.com", "accounts.google.com"],'
        ' "discovery_url": "https://accounts.google.com/.well-known/openid-configuration",'
        ' "client_ids": ["android", "ios", "web"]}}',
    )
    providers = providers_from(AuthSettings().oidc_providers)
    assert providers["google"].issuers == ("https://accounts.google.com", "accounts.google.com")
    assert providers["google"].algorithms == ("RS256",)
    for bad in (["none"], ["HS256"], ["RS256", "HS256"], []):
        with pytest.raises(ValueError, match="only RS256"):
            OidcProviderSettings(issuers=["i"], discovery_url="u", client_ids=["c"], algorithms=bad)
        with pytest.raises(ValueError, match="only"):
            OidcProvider("x", ("i",), "u", ("c",), algorithms=tuple(bad))
