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
