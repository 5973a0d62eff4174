"""Changing email or phone: recent authentication, a code to the new address, a notice to the old."""

from __future__ import annotations

from nexgate.contracts.auth import IdentifierChanged, OtpRequested
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["code"] == code, body
    return body


async def reauth(auth, signed) -> None:
    response = await auth.client.post(
        f"{auth.base}/me/reauthenticate", json={"password": auth.password}, headers=auth.bearer(signed)
    )
    assert response.status_code == 204, response.text


async def test_email_change_requires_reauth_and_notifies_old_address(auth) -> None:
    signed = await auth.signed_up(email="old@example.com")
    me = auth.bearer(signed)
    url = f"{auth.base}/me/email"
    problem(
        await auth.client.post(url, json={"email": "new@example.com"}, headers=me),
        403,
        "reauthentication_required",
    )
    await reauth(auth, signed)
    problem(
        await auth.client.post(url, json={"email": "OLD@example.com"}, headers=me),
        409,
        "identifier_unchanged",
    )
    started = await auth.client.post(url, json={"email": " New@Example.com "}, headers=me)
    assert started.status_code == 202, started.text
    challenge_id = started.json()["challengeId"]
    [otp] = [m for m in await auth.outbox(OtpRequested.tag()) if str(m.challenge_id) == challenge_id]
    assert (otp.destination, otp.purpose) == ("new@example.com", "change_email")
    code = auth.decrypt(otp)
    # The code is bound to its purpose: useless for a registration or a reset.
    problem(await auth.verify(challenge_id, code), 404, "challenge_not_found")
    confirmed = await auth.client.post(f"{url}/{challenge_id}/verify", json={"code": code}, headers=me)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["email"] == "new@example.com"
    assert confirmed.json()["emailVerified"] is True
    [changed] = await auth.outbox(IdentifierChanged.tag())
    assert (changed.kind, changed.new_value, changed.previous_value) == (
        "email",
        "new@example.com",
        "old@example.com",
    )
    assert changed.previous_value_masked == "o•••@example.com"
    problem(await auth.login("old@example.com"), 401, "invalid_credentials")
    assert (await auth.login("new@example.com")).status_code == 200


async def test_phone_change_and_taken_address_gets_a_decoy(auth) -> None:
    await auth.signed_up(phone="0712 111 222")
    signed = await auth.signed_up(email="phoneless@example.com")
    me = auth.bearer(signed)
    await reauth(auth, signed)
    taken = await auth.client.post(f"{auth.base}/me/phone", json={"phone": "+255712111222"}, headers=me)
    assert taken.status_code == 202
    # No code is sent to someone else's number, and none completes the change.
    assert not [
        m for m in await auth.outbox(OtpRequested.tag()) if str(m.challenge_id) == taken.json()["challengeId"]
    ]
    guess = await auth.client.post(
        f"{auth.base}/me/phone/{taken.json()['challengeId']}/verify", json={"code": "123456"}, headers=me
    )
    problem(guess, 422, "invalid_code")
    free = await auth.client.post(f"{auth.base}/me/phone", json={"phone": "0754 000 999"}, headers=me)
    challenge_id = free.json()["challengeId"]
    done = await auth.client.post(
        f"{auth.base}/me/phone/{challenge_id}/verify",
        json={"code": await auth.code_for(challenge_id)},
        headers=me,
    )
    assert done.status_code == 200, done.text
    assert (done.json()["phone"], done.json()["phoneVerified"]) == ("+255754000999", True)
    assert (await auth.login("0754000999")).status_code == 200


async def test_other_users_identifier_challenges_are_404(auth) -> None:
    alice = await auth.signed_up(email="alice@example.com")
    bob = await auth.signed_up(email="bob@example.com")
    await reauth(auth, alice)
    started = await auth.client.post(
        f"{auth.base}/me/email", json={"email": "alice2@example.com"}, headers=auth.bearer(alice)
    )
    challenge_id = started.json()["challengeId"]
    code = await auth.code_for(challenge_id)
    stolen = await auth.client.post(
        f"{auth.base}/me/email/{challenge_id}/verify", json={"code": code}, headers=auth.bearer(bob)
    )
    problem(stolen, 404, "challenge_not_found")
    me = (await auth.client.get(f"{auth.base}/me", headers=auth.bearer(bob))).json()
    assert me["email"] == "bob@example.com"


async def test_existing_identifier_verified_by_code(auth) -> None:
    import sqlalchemy as sa

    from nexgate.auth.adapters.sql.models import accounts
    from nexgate.contracts.auth import IdentifierVerified

    signed = await auth.signed_up(email="verify-me@example.com")
    me = auth.bearer(signed)
    url = f"{auth.base}/me/verifications"
    problem(
        await auth.client.post(url, json={"channel": "email"}, headers=me), 409, "identifier_already_verified"
    )
    problem(await auth.client.post(url, json={"channel": "phone"}, headers=me), 409, "identifier_missing")
    # An address held but not verified (say, a provider's unverified email from an older import).
    async with auth.runtime.database().sessions() as session, session.begin():
        await session.execute(sa.update(accounts).values(email_verified=False))
    started = await auth.client.post(url, json={"channel": "email"}, headers=me)
    assert started.status_code == 202, started.text
    challenge_id = started.json()["challengeId"]
    [otp] = [m for m in await auth.outbox(OtpRequested.tag()) if str(m.challenge_id) == challenge_id]
    assert (otp.purpose, otp.destination) == ("verify_email", "verify-me@example.com")
    code = await auth.code_for(challenge_id)
    # The challenge answers only at its own purpose's endpoint.
    problem(
        await auth.client.post(
            f"{auth.base}/me/email/{challenge_id}/verify", json={"code": code}, headers=me
        ),
        404,
        "challenge_not_found",
    )
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    problem(
        await auth.client.post(f"{url}/{challenge_id}/verify", json={"code": wrong}, headers=me),
        422,
        "invalid_code",
    )
    done = await auth.client.post(f"{url}/{challenge_id}/verify", json={"code": code}, headers=me)
    assert done.status_code == 200, done.text
    assert done.json()["emailVerified"] is True
    [verified] = await auth.outbox(IdentifierVerified.tag())
    assert (str(verified.user_id), verified.kind) == (signed["account"]["id"], "email")
    problem(
        await auth.client.post(f"{url}/{challenge_id}/verify", json={"code": code}, headers=me),
        410,
        "challenge_expired",
    )


async def test_reauthentication_by_code(auth) -> None:
    signed = await auth.signed_up(phone="0713 222 333")
    me = auth.bearer(signed)
    url = f"{auth.base}/me/reauthenticate"
    problem(
        await auth.client.post(f"{auth.base}/me/deactivate", headers=me), 403, "reauthentication_required"
    )
    problem(
        await auth.client.post(f"{url}/challenges", json={"channel": "email"}, headers=me),
        409,
        "no_verified_identifier",
    )
    sent = await auth.client.post(f"{url}/challenges", json={}, headers=me)
    assert sent.status_code == 202, sent.text
    assert sent.json()["channel"] == "phone"
    challenge_id = sent.json()["challengeId"]
    code = await auth.code_for(challenge_id)
    # Both forms at once, or half of the code form, are refused.
    for body in ({"password": auth.password, "challengeId": challenge_id, "code": code}, {"code": code}, {}):
        assert (await auth.client.post(url, json=body, headers=me)).status_code == 422
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    body = problem(
        await auth.client.post(url, json={"challengeId": challenge_id, "code": wrong}, headers=me),
        422,
        "invalid_code",
    )
    assert body["extra"]["attemptsRemaining"] == 4
    problem(
        await auth.client.post(f"{auth.base}/me/deactivate", headers=me), 403, "reauthentication_required"
    )
    ok = await auth.client.post(url, json={"challengeId": challenge_id, "code": code}, headers=me)
    assert ok.status_code == 204, ok.text
    # Single use; and now the sensitive action goes through.
    problem(
        await auth.client.post(url, json={"challengeId": challenge_id, "code": code}, headers=me),
        410,
        "challenge_expired",
    )
    assert (await auth.client.post(f"{auth.base}/me/deactivate", headers=me)).status_code == 204
