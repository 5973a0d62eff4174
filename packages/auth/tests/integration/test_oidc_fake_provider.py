"""The fake OpenID provider itself: what it serves and that every switch does what it says."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet

pytestmark = pytest.mark.integration


def _part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


async def _jwks(provider: Any) -> KeySet:
    async with httpx.AsyncClient() as http:
        discovery = (await http.get(provider.discovery_url)).json()
        return KeySet.import_key_set((await http.get(discovery["jwks_uri"])).json())


async def test_fake_provider_serves_discovery_and_jwks_that_verify_its_tokens(google_idp) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(google_idp.discovery_url)
    assert response.status_code == 200
    discovery = response.json()
    assert discovery["issuer"] == google_idp.base_url
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = await _jwks(google_idp)
    assert all("d" not in key.as_dict(private=False) for key in keys.keys)
    token = google_idp.mint(sub="g-1", nonce="n-1", email="ada@gmail.example")
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    assert decoded.header["kid"] == google_idp.current_key.kid
    assert decoded.claims["sub"] == "g-1"
    assert decoded.claims["nonce"] == "n-1"
    assert decoded.claims["email_verified"] is True
    assert decoded.claims["aud"] == decoded.claims["azp"] == "android-app"


async def test_fake_provider_mint_endpoint_takes_the_switches(google_idp) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{google_idp.base_url}/mint",
            json={"sub": "g-2", "aud": "web-app", "iss": google_idp.issuers[1], "email_verified": "true"},
        )
    assert response.status_code == 200
    decoded = jwt.decode(response.json()["idToken"], await _jwks(google_idp), algorithms=["RS256"])
    assert decoded.claims["iss"] == google_idp.issuers[1] == google_idp.base_url.removeprefix("http://")
    assert decoded.claims["aud"] == "web-app"
    assert decoded.claims["email_verified"] == "true"


async def test_fake_provider_key_rotation(google_idp) -> None:
    old = google_idp.current_key.kid
    old_token = google_idp.mint()
    new = google_idp.rotate_keys(keep_old=False).kid
    assert new != old
    keys = await _jwks(google_idp)
    assert [key.kid for key in keys.keys] == [new]
    assert jwt.decode(google_idp.mint(), keys, algorithms=["RS256"]).header["kid"] == new
    with pytest.raises(InvalidKeyIdError):  # the retired key is no longer published
        jwt.decode(old_token, keys, algorithms=["RS256"])
    google_idp.rotate_keys(keep_old=True)
    assert len((await _jwks(google_idp)).keys) == 2


async def test_fake_provider_bad_token_switches(google_idp) -> None:
    keys = await _jwks(google_idp)
    expired = jwt.decode(google_idp.mint(expired=True), keys, algorithms=["RS256"]).claims
    assert expired["exp"] < expired["iat"]
    assert (
        jwt.decode(google_idp.mint(iss="https://evil.example"), keys).claims["iss"] == "https://evil.example"
    )
    assert jwt.decode(google_idp.mint(aud="someone-else"), keys).claims["aud"] == "someone-else"
    assert "nonce" not in jwt.decode(google_idp.mint(), keys).claims
    unverified = jwt.decode(google_idp.mint(email_verified=False), keys).claims
    assert unverified["email_verified"] is False
    stale = jwt.decode(google_idp.mint(iat_offset=-3600), keys).claims
    assert stale["iat"] < stale["exp"]

    none_token = google_idp.mint(alg="none")
    assert _part(none_token, 0)["alg"] == "none"
    assert none_token.endswith(".")

    hs_token = google_idp.mint(alg="HS256-public")
    assert _part(hs_token, 0)["alg"] == "HS256"
    signing_input, _, signature = hs_token.rpartition(".")
    pem = google_idp.current_key.as_pem(private=False)
    expected = base64.urlsafe_b64encode(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    assert signature == expected.rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):  # a wrong kid's key never verifies it as RS256
        jwt.decode(hs_token.replace(hs_token.split(".")[0], google_idp.mint().split(".")[0]), keys)


async def test_fake_provider_apple_style_hashes_the_nonce_and_relays_emails(apple_idp) -> None:
    keys = await _jwks(apple_idp)
    claims = jwt.decode(apple_idp.mint(nonce="raw-nonce"), keys, algorithms=["RS256"]).claims
    assert claims["nonce"] == hashlib.sha256(b"raw-nonce").hexdigest()
    assert claims["email"].endswith("@privaterelay.appleid.com")
    assert claims["email_verified"] == "true"
    assert claims["is_private_email"] == "true"
    assert "azp" not in claims
    assert apple_idp.issuers == (apple_idp.base_url,)
    real = jwt.decode(apple_idp.mint(email="ada@icloud.example"), keys).claims
    assert real["is_private_email"] == "false"


async def test_fake_provider_down_answers_503(google_idp) -> None:
    google_idp.down = True
    async with httpx.AsyncClient() as http:
        assert (await http.get(google_idp.discovery_url)).status_code == 503
        assert (await http.get(f"{google_idp.base_url}/jwks")).status_code == 503
    google_idp.down = False
    assert len((await _jwks(google_idp)).keys) == 1
