"""Findings of the security review of the OpenID Connect work, each pinned by a test.

- Password proofs of a signed-in caller (reauthentication, password change) are rate limited
  and feed the login lockout: a stolen access token is not an unlimited password oracle.
- An account with neither password nor verified address reauthenticates with a fresh token of
  a provider identity linked to it (else it could never delete itself, link or unlink).
- ID tokens: every ``aud`` entry must be ours (and ``azp`` is required with several); a verified
  email we cannot store is dropped; a corrupt JWKS copy in Redis is a miss; a burst fetches once.
- The sign-in rate limit is counted before the token is verified.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import httpx
import pytest

from nexgate.auth.adapters.oidc import IdTokenVerifier, InvalidIdToken, OidcProvider
from nexgate.contracts.auth import LoginLocked, PasswordChanged
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration

BASE = "/api/v1/auth"
REDIRECT = "https://app.example/oauth/callback"
NEW_PASSWORD = "a fresh new passphrase"


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["code"] == code, body
    return body


def locked(response: Any) -> int:
    problem(response, 429, "too_many_attempts")
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


async def new_nonce(auth: Any, provider: str) -> str:
    response = await auth.client.post(f"{BASE}/oauth/{provider}/nonces")
    assert response.status_code == 201, response.text
    return response.json()["nonce"]


async def token_sign_in(auth: Any, idp: Any, **claims: Any) -> Any:
    nonce = await new_nonce(auth, idp.style)
    return await auth.client.post(
        f"{BASE}/oauth/{idp.style}/sign-in",
        json={"nonce": nonce, "device": auth.device(), "idToken": idp.mint(nonce=nonce, **claims)},
    )


# -- 1. password proofs of a signed-in caller ------------------------------------------------------


async def test_reauthenticate_password_guesses_locked_out(auth) -> None:
    signed = await auth.signed_up()
    headers = auth.bearer(signed)
    url = f"{BASE}/me/reauthenticate"
    for _ in range(10):
        wrong = await auth.client.post(url, json={"password": "a guess that is wrong"}, headers=headers)
        problem(wrong, 422, "invalid_password")
    locked(await auth.client.post(url, json={"password": "an eleventh wrong guess"}, headers=headers))
    # While locked the right password is refused too, here and at the login form (one lockout).
    locked(await auth.client.post(url, json={"password": auth.password}, headers=headers))
    locked(await auth.login(signed["identifier"]))
    problem(await auth.client.delete(f"{BASE}/me", headers=headers), 403, "reauthentication_required")
    [event] = await auth.outbox(LoginLocked.tag())
    assert str(event.user_id) == signed["account"]["id"]


async def test_change_password_guesses_locked_out(auth) -> None:
    signed = await auth.signed_up()
    headers = auth.bearer(signed)
    url = f"{BASE}/me/password"

    def body(current: str) -> dict[str, str]:
        return {"currentPassword": current, "newPassword": NEW_PASSWORD}

    for _ in range(10):
        problem(
            await auth.client.post(url, json=body("a guess that is wrong"), headers=headers),
            422,
            "invalid_current_password",
        )
    locked(await auth.client.post(url, json=body("an eleventh wrong guess"), headers=headers))
    locked(await auth.client.post(url, json=body(auth.password), headers=headers))
    assert await auth.outbox(PasswordChanged.tag()) == []
    # The lock is the login lockout of the account's address.
    locked(await auth.login(signed["identifier"]))


async def test_password_proofs_rate_limited_per_session_and_account(auth) -> None:
    """20 proofs per session in 15 minutes, 40 per account an hour: each one is an argon2 hash."""
    signed = await auth.signed_up()
    first = auth.bearer(signed)
    url = f"{BASE}/me/reauthenticate"
    for _ in range(20):
        assert (
            await auth.client.post(url, json={"password": auth.password}, headers=first)
        ).status_code == 204
    limited = await auth.client.post(url, json={"password": auth.password}, headers=first)
    problem(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    # Changing the password is the same kind of proof and shares the budget.
    change = {"currentPassword": auth.password, "newPassword": NEW_PASSWORD}
    problem(await auth.client.post(f"{BASE}/me/password", json=change, headers=first), 429, "rate_limited")
    # A second session has its own 20, but the account's 40 end there.
    second = auth.bearer((await auth.login(signed["identifier"])).json())
    third = auth.bearer((await auth.login(signed["identifier"])).json())
    for _ in range(20):
        assert (
            await auth.client.post(url, json={"password": auth.password}, headers=second)
        ).status_code == 204
    problem(await auth.client.post(url, json={"password": auth.password}, headers=third), 429, "rate_limited")


# -- 2. reauthentication with a linked provider identity -------------------------------------------


async def test_provider_only_account_reauthenticates_with_provider_token(oidc_auth, google_idp) -> None:
    auth = oidc_auth
    subject = uuid.uuid4().hex
    created = await token_sign_in(auth, google_idp, sub=subject, email=None)
    assert created.status_code == 201, created.text
    assert created.json()["account"]["email"] is None
    headers = auth.bearer(created.json())
    url = f"{BASE}/me/reauthenticate"
    problem(await auth.client.delete(f"{BASE}/me", headers=headers), 403, "reauthentication_required")
    # No password and no verified address: neither of the other proofs exists for this account.
    no_code = await auth.client.post(f"{url}/challenges", json={}, headers=headers)
    problem(no_code, 409, "no_verified_identifier")

    # A token of a subject not linked to the account proves nothing.
    nonce = await new_nonce(auth, "google")
    stranger = {"provider": "google", "nonce": nonce, "idToken": google_idp.mint(nonce=nonce, email=None)}
    problem(await auth.client.post(url, json=stranger, headers=headers), 403, "identity_not_linked")
    problem(await auth.client.delete(f"{BASE}/me", headers=headers), 403, "reauthentication_required")
    # Mixing the ways is refused; so is a replayed nonce.
    nonce = await new_nonce(auth, "google")
    proof = {"provider": "google", "nonce": nonce, "idToken": google_idp.mint(nonce=nonce, sub=subject)}
    mixed = await auth.client.post(url, json={**proof, "password": "whatever it is"}, headers=headers)
    problem(mixed, 422, "validation_failed")
    assert (await auth.client.post(url, json=proof, headers=headers)).status_code == 204
    replay = await auth.client.post(url, json=proof, headers=headers)
    assert problem(replay, 401, "invalid_id_token")["extra"]["reason"] == "nonce_unknown"

    # The code + PKCE form proves it too; then the account may delete itself.
    verifier = secrets.token_urlsafe(48)
    nonce = await new_nonce(auth, "google")
    code = google_idp.authorize(
        redirect_uri=REDIRECT, code_challenge=google_idp.s256(verifier), nonce=nonce, sub=subject, email=None
    )
    by_code = {
        "provider": "google",
        "nonce": nonce,
        "code": code,
        "codeVerifier": verifier,
        "redirectUri": REDIRECT,
    }
    assert (await auth.client.post(url, json=by_code, headers=headers)).status_code == 204, (
        google_idp.token_errors
    )
    deleted = await auth.client.delete(f"{BASE}/me", headers=headers)
    assert deleted.status_code == 202, deleted.text


async def test_provider_reauthentication_needs_identity_of_caller(oidc_auth, google_idp) -> None:
    """Another account's linked identity does not reauthenticate this one."""
    auth = oidc_auth
    theirs = uuid.uuid4().hex
    assert (await token_sign_in(auth, google_idp, sub=theirs, email=None)).status_code == 201
    mine = await token_sign_in(auth, google_idp, email=None)
    headers = auth.bearer(mine.json())
    nonce = await new_nonce(auth, "google")
    proof = {"provider": "google", "nonce": nonce, "idToken": google_idp.mint(nonce=nonce, sub=theirs)}
    problem(
        await auth.client.post(f"{BASE}/me/reauthenticate", json=proof, headers=headers),
        403,
        "identity_not_linked",
    )
    problem(
        await auth.client.post(f"{BASE}/me/deactivate", headers=headers), 403, "reauthentication_required"
    )


# -- 3, 4. ID-token checks and the JWKS cache ------------------------------------------------------


def _config(idp: Any) -> OidcProvider:
    return OidcProvider(
        name=idp.style, issuers=idp.issuers, discovery_url=idp.discovery_url, client_ids=idp.client_ids
    )


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_every_audience_must_be_ours_and_azp_required_with_several(google_idp, http) -> None:
    verifier = IdTokenVerifier({"google": _config(google_idp)}, http)
    ours = list(google_idp.client_ids[:2])

    async def reason(**claims: Any) -> str:
        with pytest.raises(InvalidIdToken) as caught:
            await verifier.verify("google", google_idp.mint(nonce="n", **claims), "n")
        return caught.value.reason

    assert await reason(aud=[ours[0], "someone-elses-app"]) == "wrong_audience"
    assert await reason(aud=[]) == "wrong_audience"
    assert await reason(aud=ours, azp=None) == "wrong_authorized_party"
    assert await reason(aud=ours, azp="someone-elses-app") == "wrong_authorized_party"
    assert (await verifier.verify("google", google_idp.mint(nonce="n", aud=ours, azp=ours[1]), "n")).subject


@pytest.mark.parametrize("email", ["a" * 250 + "@gmail.example", "not an address", "two@@gmail.example"])
async def test_unstorable_verified_email_dropped(oidc_auth, google_idp, email) -> None:
    created = await token_sign_in(oidc_auth, google_idp, email=email)
    assert created.status_code == 201, created.text
    assert created.json()["account"]["email"] is None


@pytest.mark.parametrize("junk", ["not json", '{"keys": [{"kty": "nope"}]}', "[1, 2]"])
async def test_corrupt_jwks_in_redis_refetched(google_idp, http, runtime, junk) -> None:
    prefix = runtime.settings.redis_prefix
    await runtime.redis.set(f"{prefix}auth:oidc-jwks:google", junk, ex=300)
    verifier = IdTokenVerifier(
        {"google": _config(google_idp)}, http, redis=runtime.redis, redis_prefix=prefix
    )
    assert (await verifier.verify("google", google_idp.mint(nonce="n"), "n")).subject
    assert google_idp.requests.count("/jwks") == 1
    # The good copy replaced the junk: another process uses it without fetching.
    other = IdTokenVerifier({"google": _config(google_idp)}, http, redis=runtime.redis, redis_prefix=prefix)
    assert (await other.verify("google", google_idp.mint(nonce="n"), "n")).subject
    assert google_idp.requests.count("/jwks") == 1


async def test_jwks_burst_fetches_once(google_idp, http) -> None:
    now = [1000.0]
    verifier = IdTokenVerifier({"google": _config(google_idp)}, http, monotonic=lambda: now[0])

    async def burst() -> None:
        tokens = [google_idp.mint(nonce="n") for _ in range(8)]
        results = await asyncio.gather(*(verifier.verify("google", t, "n") for t in tokens))
        assert all(r.subject for r in results)

    await burst()  # a cold cache
    assert google_idp.requests.count("/jwks") == 1
    google_idp.rotate_keys()
    now[0] += 120  # past the unknown-kid refetch interval
    await burst()  # every token carries the new kid
    assert google_idp.requests.count("/jwks") == 2


# -- 5. the sign-in rate limit ---------------------------------------------------------------------


async def test_sign_in_rate_limit_counted_before_verification(oidc_auth, google_idp) -> None:
    auth = oidc_auth
    statuses = []
    for _ in range(21):
        nonce = secrets.token_urlsafe(32)  # never issued: refused before any token check
        response = await auth.client.post(
            f"{BASE}/oauth/google/sign-in",
            json={"nonce": nonce, "device": auth.device(), "idToken": google_idp.mint(nonce=nonce)},
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 20 + [429], statuses
    assert response.json()["code"] == "rate_limited"
