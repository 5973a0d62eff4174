"""Sign-in with OpenID providers through the routes, against the fake Google and Apple style providers."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from nexgate.auth.adapters.sql.models import accounts
from nexgate.contracts.auth import UserRegistered

pytestmark = pytest.mark.integration

BASE = "/api/v1/auth"
REDIRECT = "https://app.example/oauth/callback"


async def new_nonce(auth: Any, provider: str) -> str:
    response = await auth.client.post(f"{BASE}/oauth/{provider}/nonces")
    assert response.status_code == 201, response.text
    return response.json()["nonce"]


async def sign_in(auth: Any, provider: str, nonce: str, **body: Any) -> Any:
    body.setdefault("device", auth.device())
    return await auth.client.post(f"{BASE}/oauth/{provider}/sign-in", json={"nonce": nonce, **body})


async def token_sign_in(auth: Any, idp: Any, **claims: Any) -> Any:
    nonce = await new_nonce(auth, idp.style)
    return await sign_in(auth, idp.style, nonce, idToken=idp.mint(nonce=nonce, **claims))


async def account_count(auth: Any) -> int:
    async with auth.runtime.database().sessions() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(accounts))


async def reauthenticate(auth: Any, headers: dict[str, str], password: str | None = None) -> None:
    if password is not None:
        done = await auth.client.post(
            f"{BASE}/me/reauthenticate", json={"password": password}, headers=headers
        )
        assert done.status_code == 204, done.text
        return
    sent = await auth.client.post(f"{BASE}/me/reauthenticate/challenges", json={}, headers=headers)
    assert sent.status_code == 202, sent.text
    challenge_id = sent.json()["challengeId"]
    code = await auth.code_for(challenge_id)
    done = await auth.client.post(
        f"{BASE}/me/reauthenticate", json={"challengeId": challenge_id, "code": code}, headers=headers
    )
    assert done.status_code == 204, done.text


def refused(response: Any) -> str:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_id_token"
    return response.json()["extra"]["reason"]


async def test_google_and_apple_style_sign_in(oidc_auth, google_idp, apple_idp) -> None:
    auth = oidc_auth
    # Google: a new subject with a verified email is a new account without a password (201).
    subject = uuid.uuid4().hex
    email = f"g-{uuid.uuid4().hex[:8]}@gmail.example"
    first = await token_sign_in(auth, google_idp, sub=subject, email=email)
    assert first.status_code == 201, first.text
    account = first.json()["account"]
    assert (account["email"], account["emailVerified"], account["hasPassword"]) == (email, True, False)
    assert account["status"] == "active"
    [registered] = await auth.outbox(UserRegistered.tag())
    assert (str(registered.user_id), registered.registered_via, registered.email) == (
        account["id"],
        "google",
        email,
    )
    # The same subject again is the same account (200), and the token works.
    again = await token_sign_in(auth, google_idp, sub=subject, email=email)
    assert again.status_code == 200, again.text
    assert again.json()["account"]["id"] == account["id"]
    me = await auth.client.get(f"{BASE}/me", headers=auth.bearer(again.json()))
    assert me.status_code == 200
    assert [(i["provider"], i["email"]) for i in me.json()["identities"]] == [("google", email)]
    assert len(await auth.outbox(UserRegistered.tag())) == 1

    # Apple: the token holds SHA-256(nonce) and email_verified is the string "true".
    relay = apple_idp.relay_email()
    claims = apple_idp.claims(nonce="x", email=relay)
    assert claims["email_verified"] == "true"
    assert claims["nonce"] == apple_idp.hash_nonce("x")
    apple_subject = uuid.uuid4().hex
    created = await token_sign_in(auth, apple_idp, sub=apple_subject, email=relay)
    assert created.status_code == 201, created.text
    apple_account = created.json()["account"]
    assert (apple_account["email"], apple_account["emailVerified"]) == (relay, True)
    assert apple_account["id"] != account["id"]
    [_, apple_registered] = await auth.outbox(UserRegistered.tag())
    assert apple_registered.registered_via == "apple"
    # The raw nonce (not its hash) in an Apple token is refused: hashing is per provider.
    nonce = await new_nonce(auth, "apple")
    raw = apple_idp.sign(apple_idp.claims(sub=apple_subject, email=relay) | {"nonce": nonce})
    assert refused(await sign_in(auth, "apple", nonce, idToken=raw)) == "nonce_mismatch"
    back = await token_sign_in(auth, apple_idp, sub=apple_subject, email=None)
    assert back.status_code == 200, back.text
    assert back.json()["account"]["id"] == apple_account["id"]

    # An email the provider does not vouch for is not taken (Apple "false", Google false).
    for idp, verified in ((apple_idp, "false"), (google_idp, False)):
        unverified = await token_sign_in(
            auth, idp, email=f"u-{uuid.uuid4().hex[:8]}@example.com", email_verified=verified
        )
        assert unverified.status_code == 201, unverified.text
        assert (unverified.json()["account"]["email"], unverified.json()["account"]["emailVerified"]) == (
            None,
            False,
        )
    # Names: given and family name from the client (Apple sends them once), else the email's local part.
    nonce = await new_nonce(auth, "apple")
    with_name = await sign_in(
        auth,
        "apple",
        nonce,
        idToken=apple_idp.mint(nonce=nonce),
        givenName="Neema",
        familyName="Mushi",
    )
    assert with_name.status_code == 201
    assert with_name.json()["account"]["displayName"] == "Neema Mushi"


async def test_code_exchange_with_pkce(oidc_auth, google_idp, apple_idp) -> None:
    auth = oidc_auth
    for idp in (google_idp, apple_idp):
        verifier = secrets.token_urlsafe(48)
        nonce = await new_nonce(auth, idp.style)
        subject = uuid.uuid4().hex
        code = idp.authorize(
            redirect_uri=REDIRECT, code_challenge=idp.s256(verifier), nonce=nonce, sub=subject
        )
        signed = await sign_in(auth, idp.style, nonce, code=code, codeVerifier=verifier, redirectUri=REDIRECT)
        assert signed.status_code == 201, (idp.style, signed.text, idp.token_errors)
        # Google checked its static secret; Apple an ES256 JWT signed with the team's key.
        assert idp.token_errors == []

        # A wrong verifier is refused by the provider (PKCE) and the sign-in fails.
        nonce = await new_nonce(auth, idp.style)
        code = idp.authorize(redirect_uri=REDIRECT, code_challenge=idp.s256(verifier), nonce=nonce)
        wrong = await sign_in(
            auth,
            idp.style,
            nonce,
            code=code,
            codeVerifier=secrets.token_urlsafe(48),
            redirectUri=REDIRECT,
        )
        assert refused(wrong) == "code_rejected"
        assert idp.token_errors[-1] == "pkce"
        # The code is single use: the right verifier now gets nothing either.
        nonce2 = await new_nonce(auth, idp.style)
        replay = await sign_in(
            auth, idp.style, nonce2, code=code, codeVerifier=verifier, redirectUri=REDIRECT
        )
        assert refused(replay) == "code_rejected"
        assert idp.token_errors[-1] == "unknown_code"
        # Another redirect URI than the authorization's is refused.
        nonce = await new_nonce(auth, idp.style)
        code = idp.authorize(redirect_uri=REDIRECT, code_challenge=idp.s256(verifier), nonce=nonce)
        moved = await sign_in(
            auth, idp.style, nonce, code=code, codeVerifier=verifier, redirectUri=REDIRECT + "/evil"
        )
        assert refused(moved) == "code_rejected"
        assert idp.token_errors[-1] == "redirect_uri"
        # The ID token bought with a code still has to carry this nonce.
        nonce = await new_nonce(auth, idp.style)
        other = await new_nonce(auth, idp.style)
        code = idp.authorize(redirect_uri=REDIRECT, code_challenge=idp.s256(verifier), nonce=other)
        mismatched = await sign_in(
            auth, idp.style, nonce, code=code, codeVerifier=verifier, redirectUri=REDIRECT
        )
        assert refused(mismatched) == "nonce_mismatch"

    # Half a code request, or both forms at once, is a validation error.
    nonce = await new_nonce(auth, "google")
    half = await sign_in(auth, "google", nonce, code="abc", redirectUri=REDIRECT)
    assert half.status_code == 422
    both = await sign_in(
        auth,
        "google",
        nonce,
        idToken=google_idp.mint(nonce=nonce),
        code="abc",
        codeVerifier=secrets.token_urlsafe(48),
        redirectUri=REDIRECT,
    )
    assert both.status_code == 422


async def test_replayed_nonce_wrong_aud_iss_stale_token_refused(oidc_auth, google_idp, apple_idp) -> None:
    auth = oidc_auth
    nonce = await new_nonce(auth, "google")
    token = google_idp.mint(nonce=nonce)
    assert (await sign_in(auth, "google", nonce, idToken=token)).status_code == 201
    # The same token and nonce again: the nonce was used up.
    assert refused(await sign_in(auth, "google", nonce, idToken=token)) == "nonce_unknown"
    # A nonce the server never issued, or issued for another provider.
    made_up = secrets.token_urlsafe(32)
    assert refused(await sign_in(auth, "google", made_up, idToken=google_idp.mint(nonce=made_up))) == (
        "nonce_unknown"
    )
    apple_nonce = await new_nonce(auth, "apple")
    assert refused(
        await sign_in(auth, "google", apple_nonce, idToken=google_idp.mint(nonce=apple_nonce))
    ) == ("nonce_unknown")

    cases: list[tuple[dict[str, Any], str]] = [
        ({"aud": "someone-elses-app"}, "wrong_audience"),
        ({"aud": [google_idp.client_ids[0], "other"]}, "wrong_audience"),
        ({"aud": list(google_idp.client_ids[:2]), "azp": None}, "wrong_authorized_party"),
        ({"iss": "https://accounts.evil.example"}, "wrong_issuer"),
        ({"expired": True}, "expired"),
        ({"iat_offset": -1200}, "issued_at_out_of_range"),
        ({"alg": "none"}, "algorithm_not_allowed"),
        ({"alg": "HS256-public"}, "algorithm_not_allowed"),
        ({"kid": "not-a-published-key"}, "unknown_key"),
    ]
    for switches, reason in cases:
        nonce = await new_nonce(auth, "google")
        alg = switches.pop("alg", "RS256")
        kid = switches.pop("kid", None)
        token = google_idp.mint(nonce=nonce, alg=alg, kid=kid, **switches)
        assert refused(await sign_in(auth, "google", nonce, idToken=token)) == reason, switches
    # No nonce claim at all.
    nonce = await new_nonce(auth, "google")
    bare = google_idp.sign(google_idp.claims())
    assert refused(await sign_in(auth, "google", nonce, idToken=bare)) == "nonce_missing"
    # Google's second issuer form is accepted.
    nonce = await new_nonce(auth, "google")
    short_iss = google_idp.mint(nonce=nonce, iss=google_idp.issuers[1])
    assert (await sign_in(auth, "google", nonce, idToken=short_iss)).status_code == 201
    # Nothing of the refused tokens became an account: two Google sign-ins succeeded above.
    assert await account_count(auth) == 2

    # A provider we do not know; a provider that is down (never accepted unverified).
    unknown = await auth.client.post(f"{BASE}/oauth/facebook/nonces")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "provider_not_found")
    apple_idp.down = True
    nonce = await new_nonce(auth, "apple")
    down = await sign_in(auth, "apple", nonce, idToken=apple_idp.mint(nonce=nonce))
    assert (down.status_code, down.json()["code"]) == (503, "identity_provider_unavailable")
    assert await account_count(auth) == 2


async def test_existing_email_requires_explicit_link(oidc_auth, google_idp, apple_idp) -> None:
    auth = oidc_auth
    owner = await auth.signed_up()
    email = owner["identifier"]
    subject = uuid.uuid4().hex
    before = await account_count(auth)
    # The provider's verified email matches an account: never merged silently.
    conflict = await token_sign_in(auth, google_idp, sub=subject, email=email.upper())
    assert conflict.status_code == 409, conflict.text
    body = conflict.json()
    assert body["code"] == "account_link_required"
    assert body["extra"]["emailMasked"] == email[0] + "•••@example.com"
    assert body["extra"]["linkToken"]
    assert "accessToken" not in body
    assert await account_count(auth) == before

    # The owner signs in, proves it is them, and links the identity with the token.
    login = await auth.login(email)
    headers = auth.bearer(login.json())
    link = {"linkToken": body["extra"]["linkToken"]}
    needs = await auth.client.post(f"{BASE}/me/identities/link", json=link, headers=headers)
    assert (needs.status_code, needs.json()["code"]) == (403, "reauthentication_required")
    await reauthenticate(auth, headers, auth.password)
    linked = await auth.client.post(f"{BASE}/me/identities/link", json=link, headers=headers)
    assert linked.status_code == 201, linked.text
    assert linked.json()["provider"] == "google"
    reused = await auth.client.post(f"{BASE}/me/identities/link", json=link, headers=headers)
    assert (reused.status_code, reused.json()["code"]) == (404, "link_token_not_found")
    # From now on the provider signs in to the owner's account.
    signed = await token_sign_in(auth, google_idp, sub=subject, email=email)
    assert signed.status_code == 200, signed.text
    assert signed.json()["account"]["id"] == owner["account"]["id"]
    assert signed.json()["account"]["hasPassword"] is True
    # A password lockout on the address never blocks signing in through the provider.
    for _ in range(10):
        assert (await auth.login(email, "not the password at all")).status_code == 401
    locked = await auth.login(email)
    assert (locked.status_code, locked.json()["code"]) == (429, "too_many_attempts")
    assert (await token_sign_in(auth, google_idp, sub=subject, email=email)).status_code == 200

    # That identity cannot be linked to another account.
    other = await auth.signed_up()
    other_headers = auth.bearer(other)
    await reauthenticate(auth, other_headers, auth.password)
    nonce = await new_nonce(auth, "google")
    taken = await auth.client.post(
        f"{BASE}/me/identities",
        json={"provider": "google", "nonce": nonce, "idToken": google_idp.mint(nonce=nonce, sub=subject)},
        headers=other_headers,
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "identity_already_linked")

    # An Apple relay address never matches by email, even one an account registered by hand.
    relay = apple_idp.relay_email()
    await auth.signed_up(email=relay)
    relayed = await token_sign_in(auth, apple_idp, email=relay)
    assert relayed.status_code == 201, relayed.text
    assert relayed.json()["account"]["email"] is None
    # An unverified sign-up holding the address does not block its verified owner.
    squatted = f"s-{uuid.uuid4().hex[:8]}@example.com"
    assert (await auth.register(email=squatted)).status_code == 202
    owner_by_google = await token_sign_in(auth, google_idp, email=squatted)
    assert owner_by_google.status_code == 201, owner_by_google.text
    assert owner_by_google.json()["account"]["email"] == squatted


async def test_cannot_unlink_last_sign_in_method(oidc_auth, google_idp, apple_idp) -> None:
    auth = oidc_auth
    email = f"only-{uuid.uuid4().hex[:8]}@gmail.example"
    google_subject = uuid.uuid4().hex
    created = await token_sign_in(auth, google_idp, sub=google_subject, email=email)
    assert created.status_code == 201
    headers = auth.bearer(created.json())
    [google] = (await auth.client.get(f"{BASE}/me/identities", headers=headers)).json()
    url = f"{BASE}/me/identities/{google['id']}"
    # Linking and unlinking need a recent authentication; with no password, a code proves it.
    assert (await auth.client.delete(url, headers=headers)).json()["code"] == "reauthentication_required"
    nonce = await new_nonce(auth, "apple")
    apple_subject = uuid.uuid4().hex
    link_body = {
        "provider": "apple",
        "nonce": nonce,
        "idToken": apple_idp.mint(nonce=nonce, sub=apple_subject),
    }
    early = await auth.client.post(f"{BASE}/me/identities", json=link_body, headers=headers)
    assert (early.status_code, early.json()["code"]) == (403, "reauthentication_required")
    await reauthenticate(auth, headers)
    last = await auth.client.delete(url, headers=headers)
    assert (last.status_code, last.json()["code"]) == (409, "last_sign_in_method")

    # With a second identity the first may go; then the second is the last. (The refused link
    # above did not use the nonce up.)
    linked = await auth.client.post(f"{BASE}/me/identities", json=link_body, headers=headers)
    assert linked.status_code == 201, linked.text
    assert (await auth.client.delete(url, headers=headers)).status_code == 204
    remaining = (await auth.client.get(f"{BASE}/me/identities", headers=headers)).json()
    assert [i["provider"] for i in remaining] == ["apple"]
    last = await auth.client.delete(f"{BASE}/me/identities/{remaining[0]['id']}", headers=headers)
    assert (last.status_code, last.json()["code"]) == (409, "last_sign_in_method")
    # The unlinked Google subject is a stranger again: it signs up a new account.
    again = await token_sign_in(auth, google_idp, sub=google_subject, email=None)
    assert again.status_code == 201
    assert again.json()["account"]["id"] != created.json()["account"]["id"]
    # The Apple identity still signs in to the account.
    apple_back = await token_sign_in(auth, apple_idp, sub=apple_subject, email=None)
    assert apple_back.json()["account"]["id"] == created.json()["account"]["id"]

    # An account with a password may drop its only identity.
    owner = await auth.signed_up()
    owner_headers = auth.bearer(owner)
    await reauthenticate(auth, owner_headers, auth.password)
    nonce = await new_nonce(auth, "google")
    mine = await auth.client.post(
        f"{BASE}/me/identities",
        json={"provider": "google", "nonce": nonce, "idToken": google_idp.mint(nonce=nonce)},
        headers=owner_headers,
    )
    assert mine.status_code == 201
    gone = await auth.client.delete(f"{BASE}/me/identities/{mine.json()['id']}", headers=owner_headers)
    assert gone.status_code == 204
    assert (await auth.client.get(f"{BASE}/me/identities", headers=owner_headers)).json() == []


@pytest.mark.parametrize("email", [None, "racer@gmail.example"])
async def test_concurrent_first_sign_ins_create_one_account(runtime, email) -> None:
    import asyncio

    from nexgate.auth.adapters.sql.models import identities
    from nexgate.auth.adapters.wiring import build_services
    from nexgate.auth.application import oidc
    from nexgate.auth.domain.identities import ProviderIdentity
    from nexgate.auth.domain.sessions import Device
    from nexgate.auth.settings import AuthSettings

    services = build_services(runtime, AuthSettings())
    identity = ProviderIdentity("google", uuid.uuid4().hex, email, private_relay=False)

    async def attempt(i: int) -> tuple[Any, bool]:
        device = Device(device_id=f"racing-device-{i}", platform="android", ip="127.0.0.1")
        return await oidc.sign_in(
            services,
            identity=identity,
            device=device,
            given_name=None,
            family_name=None,
            reactivate=False,
            cancel_deletion=False,
            ip=f"10.0.0.{i}",
        )

    results = await asyncio.gather(*(attempt(i) for i in range(6)))
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert len({signed.account.id for signed, _ in results}) == 1
    async with runtime.database().sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(accounts)) == 1
        assert await session.scalar(sa.select(sa.func.count()).select_from(identities)) == 1
    outbox = runtime.database()
    async with outbox.sessions() as session:
        from nexgate.auth.adapters.sql.models import tables

        tags = (await session.execute(sa.select(tables.outbox.c.tag))).scalars().all()
    assert tags.count(UserRegistered.tag()) == 1
