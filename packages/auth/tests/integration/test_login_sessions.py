"""Login, access tokens, refresh rotation and device sessions, on the real services."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import OctKey, OKPKey

from nexgate.auth.adapters.sql.models import accounts, challenges, refresh_tokens, sessions
from nexgate.contracts.auth import SessionRevoked
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE
from nexgate.kernel.security.keys import load_or_create_signing_key
from nexgate.kernel.security.revocation import SessionDenylist
from nexgate.kernel.security.tokens import TokenSigner


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["code"] == code, body
    return body


def claims_of(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(header), decode(payload)


async def refresh(auth, token: str, device_id: str | None):
    headers = {"X-Device-Id": device_id} if device_id else {}
    return await auth.client.post(
        f"{auth.base}/tokens/refresh", json={"refreshToken": token}, headers=headers
    )


async def test_unknown_and_known_identifier_failures_identical(auth) -> None:
    await auth.signed_up(email="known@example.com")
    wrong_password = await auth.login("known@example.com", "not the password at all")
    unknown = await auth.login("nobody@example.com", "not the password at all")
    unknown_phone = await auth.login("0712 999 888", "not the password at all")
    garbage = await auth.login("not an identifier", "not the password at all")
    bodies = [
        problem(r, 401, "invalid_credentials") for r in (wrong_password, unknown, unknown_phone, garbage)
    ]
    comparable = [{k: v for k, v in b.items() if k != "requestId"} for b in bodies]
    assert all(c == comparable[0] for c in comparable)
    ok = await auth.login("  KNOWN@example.com ")
    assert ok.status_code == 200, ok.text


async def test_login_by_phone_in_any_form(auth) -> None:
    await auth.signed_up(phone="+255 712 345 678")
    for form in ["0712345678", "712 345 678", "255712345678", "+255-712-345-678"]:
        assert (await auth.login(form)).status_code == 200


async def test_state_is_revealed_only_after_a_correct_password(auth, runtime) -> None:
    pending = await auth.register(email="pending@example.com")
    assert pending.status_code == 202
    problem(await auth.login("pending@example.com", "wrong password here"), 401, "invalid_credentials")
    body = problem(await auth.login("pending@example.com"), 403, "verification_required")
    new_challenge = body["extra"]["challengeId"]
    assert new_challenge != pending.json()["challengeId"]
    assert (await auth.verify(new_challenge, await auth.code_for(new_challenge))).status_code == 201

    signed = await auth.signed_up(email="states@example.com")
    account_id = uuid.UUID(signed["account"]["id"])

    async def set_status(status: str) -> None:
        async with runtime.database().sessions() as session, session.begin():
            await session.execute(
                sa.update(accounts).where(accounts.c.id == account_id).values(status=status)
            )

    await set_status("suspended")
    problem(await auth.login("states@example.com", "wrong password here"), 401, "invalid_credentials")
    problem(await auth.login("states@example.com"), 403, "account_suspended")
    await set_status("deactivated")
    problem(await auth.login("states@example.com"), 409, "account_deactivated")
    assert (await auth.login("states@example.com", reactivate=True)).status_code == 200
    await set_status("deletion_scheduled")
    problem(await auth.login("states@example.com"), 409, "account_deletion_scheduled")
    restored = await auth.login("states@example.com", cancelDeletion=True)
    assert restored.status_code == 200
    assert restored.json()["account"]["status"] == "active"


async def test_subject_is_account_id_and_alg_pinned(auth, settings) -> None:
    signed = await auth.signed_up(email="claims@example.com")
    header, claims = claims_of(signed["accessToken"])
    key = load_or_create_signing_key(settings.signing_key_file)
    assert header["alg"] == "Ed25519"
    assert header["kid"] == key.kid
    assert claims["sub"] == signed["account"]["id"]
    assert claims["sid"] == signed["session"]["id"]
    assert claims["roles"] == ["user"]
    assert claims["exp"] - claims["iat"] == 900
    assert {"iss", "aud", "jti"} <= set(claims)
    assert "claims@example.com" not in json.dumps(claims)
    jwks = await auth.client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    assert "max-age=300" in jwks.headers["cache-control"]
    [published] = jwks.json()["keys"]
    assert published["kty"] == "OKP"
    assert published["crv"] == "Ed25519"
    assert published["kid"] == key.kid
    assert "d" not in published
    verified = jwt.decode(signed["accessToken"], OKPKey.import_key(published), algorithms=["Ed25519"])
    assert verified.claims["sub"] == signed["account"]["id"]


async def test_none_hs256_wrong_key_expired_tokens_refused(auth, settings) -> None:
    signed = await auth.signed_up(email="forged@example.com")
    header, claims = claims_of(signed["accessToken"])
    me = f"{auth.base}/me"

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    none_token = f"{b64({'alg': 'none', 'kid': header['kid']})}.{b64(claims)}."
    published = (await auth.client.get("/.well-known/jwks.json")).json()["keys"][0]
    hmac_key = OctKey.import_key(json.dumps(published).encode())
    hs256 = jwt.encode({"alg": "HS256", "kid": header["kid"]}, claims, hmac_key, algorithms=["HS256"])
    stranger_key = OKPKey.generate_key("Ed25519", parameters={"kid": header["kid"]})
    wrong_key = TokenSigner(stranger_key, settings.jwt_issuer, settings.jwt_audience).issue(
        uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    )
    for token in (none_token, hs256, wrong_key):
        problem(await auth.client.get(me, headers={"Authorization": f"Bearer {token}"}), 401, "invalid_token")
    real_key = load_or_create_signing_key(settings.signing_key_file)
    expired = TokenSigner(real_key, settings.jwt_issuer, settings.jwt_audience).issue(
        uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), now=datetime.now(UTC) - timedelta(hours=1)
    )
    problem(await auth.client.get(me, headers={"Authorization": f"Bearer {expired}"}), 401, "token_expired")
    assert (await auth.client.get(me, headers=auth.bearer(signed))).status_code == 200


async def test_basic_auth_header_grants_nothing(auth) -> None:
    await auth.signed_up(email="basic@example.com")
    basic = base64.b64encode(f"basic@example.com:{auth.password}".encode()).decode()
    response = await auth.client.get(f"{auth.base}/me", headers={"Authorization": f"Basic {basic}"})
    problem(response, 401, "invalid_token")
    problem(await auth.client.get(f"{auth.base}/me"), 401, "not_authenticated")


async def test_refresh_rotates_and_reuse_revokes_session(auth, runtime) -> None:
    dev = auth.device()
    signed = await auth.signed_up(dev=dev, email="rotate@example.com")
    first = signed["refreshToken"]
    assert first.startswith("ngr_")
    assert len(first) >= 40
    rotated = await refresh(auth, first, dev["deviceId"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refreshToken"]
    assert second != first
    third = (await refresh(auth, second, dev["deviceId"])).json()["refreshToken"]
    # The second token is used (its successor too): replaying the first is theft.
    problem(await refresh(auth, first, dev["deviceId"]), 401, "refresh_token_reused")
    problem(await refresh(auth, third, dev["deviceId"]), 401, "session_revoked")
    problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(signed)), 401, "session_revoked")
    [revoked] = await auth.outbox(SessionRevoked.tag())
    assert (str(revoked.session_id), revoked.reason) == (signed["session"]["id"], "refresh_token_reused")
    problem(await refresh(auth, "ngr_" + "A" * 43, dev["deviceId"]), 401, "invalid_refresh_token")
    # Only hashes are stored.
    async with runtime.database().sessions() as session:
        hashes = (await session.execute(sa.select(refresh_tokens.c.token_hash))).scalars().all()
    assert len(hashes) == 3
    assert all(len(h) == 32 for h in hashes)
    assert not any(t.encode() in h for t in (first, second, third) for h in hashes)


async def test_refresh_retry_within_grace_returns_same_successor(auth, runtime) -> None:
    dev = auth.device()
    signed = await auth.signed_up(dev=dev, email="grace@example.com")
    first = (await refresh(auth, signed["refreshToken"], dev["deviceId"])).json()
    retry = (await refresh(auth, signed["refreshToken"], dev["deviceId"])).json()
    assert retry["refreshToken"] == first["refreshToken"]
    # After the grace period a retry is reuse.
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.rotated_at.is_not(None))
            .values(rotated_at=sa.func.now() - sa.text("interval '31 seconds'"))
        )
    problem(await refresh(auth, signed["refreshToken"], dev["deviceId"]), 401, "refresh_token_reused")


async def test_concurrent_refresh_rotates_once(auth, runtime) -> None:
    dev = auth.device()
    signed = await auth.signed_up(dev=dev, email="concurrent@example.com")
    answers = await asyncio.gather(
        *(refresh(auth, signed["refreshToken"], dev["deviceId"]) for _ in range(8))
    )
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert len({a.json()["refreshToken"] for a in answers}) == 1
    async with runtime.database().sessions() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(refresh_tokens))
    assert count == 2
    successor = answers[0].json()["refreshToken"]
    assert (await refresh(auth, successor, dev["deviceId"])).status_code == 200


async def test_device_mismatch_revokes_session(auth) -> None:
    dev = auth.device()
    signed = await auth.signed_up(dev=dev, email="device@example.com")
    problem(await refresh(auth, signed["refreshToken"], "some-other-device-id"), 401, "device_mismatch")
    problem(await refresh(auth, signed["refreshToken"], dev["deviceId"]), 401, "session_revoked")
    problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(signed)), 401, "session_revoked")


async def test_logout_and_revoke_others_effective_on_next_request(auth, runtime, settings) -> None:
    phone_a = await auth.signed_up(email="many@example.com")
    laptop = (await auth.login("many@example.com", dev=auth.device(name="laptop"))).json()
    tablet = (await auth.login("many@example.com", dev=auth.device(name="tablet"))).json()
    me = f"{auth.base}/me"
    assert (await auth.client.get(me, headers=auth.bearer(laptop))).status_code == 200
    logout = await auth.client.post(f"{auth.base}/logout", headers=auth.bearer(laptop))
    assert logout.status_code == 204
    problem(await auth.client.get(me, headers=auth.bearer(laptop)), 401, "session_revoked")
    denylist = SessionDenylist(runtime.redis, settings.redis_prefix)
    assert await denylist.is_revoked(uuid.UUID(laptop["session"]["id"]))
    assert 900 <= await runtime.redis.ttl(denylist.key(uuid.UUID(laptop["session"]["id"]))) <= 960

    others = await auth.client.post(f"{auth.base}/sessions/revoke-others", headers=auth.bearer(tablet))
    assert others.status_code == 200
    assert others.json() == {"revokedCount": 1}
    problem(await auth.client.get(me, headers=auth.bearer(phone_a)), 401, "session_revoked")
    assert (await auth.client.get(me, headers=auth.bearer(tablet))).status_code == 200
    reasons = sorted(m.reason for m in await auth.outbox(SessionRevoked.tag()))
    assert reasons == ["logout", "signed_out_remotely"]


async def test_refresh_racing_logout_fails_once_logout_commits(auth) -> None:
    dev = auth.device()
    signed = await auth.signed_up(dev=dev, email="racer@example.com")
    logout, rotated = await asyncio.gather(
        auth.client.post(f"{auth.base}/logout", headers=auth.bearer(signed)),
        refresh(auth, signed["refreshToken"], dev["deviceId"]),
    )
    assert logout.status_code == 204
    assert rotated.status_code in (200, 401)
    # Whatever the order, nothing issued for that session works after the logout.
    token = rotated.json()["refreshToken"] if rotated.status_code == 200 else signed["refreshToken"]
    problem(await refresh(auth, token, dev["deviceId"]), 401, "session_revoked")


async def test_sessions_list_pages_flags_current_rename_delete(auth) -> None:
    first = await auth.signed_up(email="lister@example.com")
    for n in range(3):
        assert (
            await auth.login("lister@example.com", dev=auth.device(name=f"device {n}"))
        ).status_code == 200
    me = auth.bearer(first)
    page1 = await auth.client.get(f"{auth.base}/sessions?limit=3", headers=me)
    assert page1.status_code == 200, page1.text
    body1 = page1.json()
    assert len(body1["items"]) == 3
    assert body1["nextCursor"]
    page2 = (
        await auth.client.get(
            f"{auth.base}/sessions", params={"limit": 3, "cursor": body1["nextCursor"]}, headers=me
        )
    ).json()
    items = body1["items"] + page2["items"]
    assert len(items) == 4
    assert page2["nextCursor"] is None
    assert [i["current"] for i in items].count(True) == 1
    assert next(i for i in items if i["current"])["id"] == first["session"]["id"]
    target = next(i for i in items if not i["current"])["id"]
    renamed = await auth.client.patch(
        f"{auth.base}/sessions/{target}", json={"name": "Old phone"}, headers=me
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Old phone"
    assert (await auth.client.delete(f"{auth.base}/sessions/{target}", headers=me)).status_code == 204
    remaining = (await auth.client.get(f"{auth.base}/sessions", headers=me)).json()["items"]
    assert target not in {i["id"] for i in remaining}
    assert len(remaining) == 3


async def test_other_users_session_and_identity_ids_are_404(oidc_auth, google_idp) -> None:
    auth = oidc_auth
    alice = await auth.signed_up(email="alice@example.com")
    bob = await auth.signed_up(email="bob@example.com")
    alice_session = alice["session"]["id"]
    for headers in (auth.bearer(alice), auth.bearer(bob)):
        done = await auth.client.post(
            f"{auth.base}/me/reauthenticate", json={"password": auth.password}, headers=headers
        )
        assert done.status_code == 204
    # Alice links a Google identity; her reauthentication code challenge is open.
    nonce = (await auth.client.post(f"{auth.base}/oauth/google/nonces")).json()["nonce"]
    linked = await auth.client.post(
        f"{auth.base}/me/identities",
        json={"provider": "google", "nonce": nonce, "idToken": google_idp.mint(nonce=nonce)},
        headers=auth.bearer(alice),
    )
    assert linked.status_code == 201, linked.text
    alice_identity = linked.json()["id"]
    reauth = await auth.client.post(
        f"{auth.base}/me/reauthenticate/challenges", json={}, headers=auth.bearer(alice)
    )
    alice_challenge = reauth.json()["challengeId"]
    alice_code = await auth.code_for(alice_challenge)

    as_bob = auth.bearer(bob)
    for response, code in (
        (
            await auth.client.patch(
                f"{auth.base}/sessions/{alice_session}", json={"name": "mine now"}, headers=as_bob
            ),
            "session_not_found",
        ),
        (
            await auth.client.delete(f"{auth.base}/sessions/{alice_session}", headers=as_bob),
            "session_not_found",
        ),
        (
            await auth.client.delete(f"{auth.base}/sessions/{uuid.uuid4()}", headers=as_bob),
            "session_not_found",
        ),
        (
            await auth.client.delete(f"{auth.base}/me/identities/{alice_identity}", headers=as_bob),
            "identity_not_found",
        ),
        (
            await auth.client.delete(f"{auth.base}/me/identities/{uuid.uuid4()}", headers=as_bob),
            "identity_not_found",
        ),
        (
            await auth.client.post(
                f"{auth.base}/me/reauthenticate",
                json={"challengeId": alice_challenge, "code": alice_code},
                headers=as_bob,
            ),
            "challenge_not_found",
        ),
        (
            await auth.client.post(
                f"{auth.base}/me/verifications/{alice_challenge}/verify",
                json={"code": alice_code},
                headers=as_bob,
            ),
            "challenge_not_found",
        ),
    ):
        problem(response, 404, code)
    # Nothing of Alice's changed.
    assert (await auth.client.get(f"{auth.base}/me", headers=auth.bearer(alice))).json()["identities"][0][
        "id"
    ] == alice_identity
    alice_sessions = (await auth.client.get(f"{auth.base}/sessions", headers=auth.bearer(alice))).json()
    assert [s["name"] for s in alice_sessions["items"]] == [None]
    bob_sessions = (await auth.client.get(f"{auth.base}/sessions", headers=as_bob)).json()["items"]
    assert [s["id"] for s in bob_sessions] == [bob["session"]["id"]]
    own = await auth.client.post(
        f"{auth.base}/me/reauthenticate",
        json={"challengeId": alice_challenge, "code": alice_code},
        headers=auth.bearer(alice),
    )
    assert own.status_code == 204, own.text


async def test_session_cap_and_stored_device_hash(auth, runtime) -> None:
    dev = auth.device()
    signed = await auth.signed_up(dev=dev, email="cap@example.com")
    async with runtime.database().sessions() as session:
        row = (await session.execute(sa.select(sessions))).one()
    assert dev["deviceId"].encode() not in row.device_hash
    assert len(row.device_hash) == 32
    assert row.absolute_expires_at - row.created_at == timedelta(days=365)
    assert row.idle_expires_at - row.created_at == timedelta(days=60)
    # 29 more devices signed in later (written directly: 30 logins would hit the per-IP limit).
    async with runtime.database().sessions() as session, session.begin():
        later = row.last_used_at + timedelta(minutes=1)
        values = {c: getattr(row, c) for c in row._fields}
        for _ in range(29):
            await session.execute(
                sa.insert(sessions).values(
                    {**values, "id": uuid.uuid4(), "created_at": later, "last_used_at": later}
                )
            )
    assert (await auth.login("cap@example.com")).status_code == 200
    async with runtime.database().sessions() as session:
        live = await session.scalar(
            sa.select(sa.func.count()).select_from(sessions).where(sessions.c.revoked_at.is_(None))
        )
    assert live == 30
    # The oldest (the sign-up session) made room.
    problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(signed)), 401, "session_revoked")


async def test_failed_logins_leave_owner_codes_and_sessions_alone(auth, runtime) -> None:
    signed = await auth.signed_up(email="target@example.com")
    reset = await auth.client.post(f"{auth.base}/password-resets", json={"identifier": "target@example.com"})
    challenge_id = reset.json()["challengeId"]
    for _ in range(9):
        problem(await auth.login("target@example.com", "attacker guess 123"), 401, "invalid_credentials")
    async with runtime.database().sessions() as session:
        attempts = await session.scalar(
            sa.select(challenges.c.attempts).where(challenges.c.id == uuid.UUID(challenge_id))
        )
    assert attempts == 0
    assert (await auth.client.get(f"{auth.base}/me", headers=auth.bearer(signed))).status_code == 200
    assert (await auth.login("target@example.com")).status_code == 200
