"""Registration and one-time codes over HTTP, on the real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from nexgate.auth.adapters.sql.models import accounts, challenges, tables
from nexgate.contracts.auth import OtpRequested, RegistrationAttemptedForExistingAccount, UserRegistered
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["code"] == code, body
    return body


async def account_rows(runtime) -> list:
    async with runtime.database().sessions() as session:
        return (await session.execute(sa.select(accounts))).all()


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("0712 345 678", "+255712345678"),
        ("712345678", "+255712345678"),
        ("255712345678", "+255712345678"),
        ("+255-712-345-678", "+255712345678"),
        ("0712345678", "+255712345678"),
        ("+254 712 345 678", "+254712345678"),
        ("254712345678", "+254712345678"),
        ("+254 110 123 456", "+254110123456"),  # Kenyan 01xx mobile
        ("+256 772 123 456", "+256772123456"),
        ("+250 788 123 456", "+250788123456"),
        ("+257 79 123 456", "+25779123456"),
    ],
)
async def test_phone_forms_normalise_to_e164_and_landlines_refused(auth, runtime, typed, e164) -> None:
    response = await auth.register(phone=typed)
    assert response.status_code == 202, response.text
    rows = await account_rows(runtime)
    assert [r.phone for r in rows] == [e164]
    assert response.json()["destinationMasked"] == e164[:4] + "•" * (len(e164) - 8) + e164[-4:]


@pytest.mark.parametrize("typed", ["+255 22 212 3456", "022 212 3456", "+1 202 555 0143", "12345", "call me"])
async def test_landlines_foreign_and_garbage_phones_refused(auth, runtime, typed) -> None:
    body = problem(await auth.register(phone=typed), 422, "invalid_phone_number")
    assert body["errors"][0]["path"] == "phone"
    assert await account_rows(runtime) == []


async def test_uniqueness_case_insensitive_and_race_safe(auth, runtime) -> None:
    # Five: the most sends one address may get in an hour.
    forms = [
        "Race@Example.com",
        "race@example.com",
        "  RACE@EXAMPLE.COM ",
        "race@Example.COM",
        "RaCe@example.com",
    ]
    answers = await asyncio.gather(*(auth.register(email=f) for f in forms))
    assert [a.status_code for a in answers] == [202] * 5, [a.text for a in answers]
    rows = await account_rows(runtime)
    assert [r.email for r in rows] == ["race@example.com"]
    # Only the newest challenge for the address is still open.
    async with runtime.database().sessions() as session:
        open_count = await session.scalar(
            sa.select(sa.func.count())
            .select_from(challenges)
            .where(challenges.c.consumed_at.is_(None), challenges.c.superseded_at.is_(None))
        )
    assert open_count == 1


async def test_registration_reveals_nothing_about_existing_accounts(auth, runtime) -> None:
    owner = await auth.signed_up(email="owner@example.com")
    fresh = await auth.register(email="newcomer@example.com", password="another good passphrase")
    taken = await auth.register(email="OWNER@example.com", password="another good passphrase")
    assert fresh.status_code == taken.status_code == 202
    assert set(fresh.json()) == set(taken.json())
    assert fresh.json()["channel"] == taken.json()["channel"] == "email"
    # The decoy challenge exists, gets no code, and no code ever completes it.
    decoy = taken.json()["challengeId"]
    assert not [m for m in await auth.outbox(OtpRequested.tag()) if str(m.challenge_id) == decoy]
    for guess in ["000000", "123456"]:
        problem(await auth.verify(decoy, guess), 422, "invalid_code")
    # The owner is told, and their account is untouched.
    notices = await auth.outbox(RegistrationAttemptedForExistingAccount.tag())
    assert [str(n.user_id) for n in notices] == [owner["account"]["id"]]
    assert (await auth.login("owner@example.com")).status_code == 200


async def test_unverified_signup_does_not_block_real_owner(auth, runtime) -> None:
    squatter = await auth.register(email="real@example.com", password="squatter passphrase 1")
    assert squatter.status_code == 202
    owner = await auth.register(email="real@example.com", password="owners own passphrase")
    challenge_id = owner.json()["challengeId"]
    # The squatter's code died with their challenge.
    squatter_code = await auth.code_for(squatter.json()["challengeId"])
    problem(await auth.verify(squatter.json()["challengeId"], squatter_code), 410, "challenge_expired")
    verified = await auth.verify(challenge_id, await auth.code_for(challenge_id))
    assert verified.status_code == 201, verified.text
    assert (await auth.login("real@example.com", "owners own passphrase")).status_code == 200
    problem(await auth.login("real@example.com", "squatter passphrase 1"), 401, "invalid_credentials")
    assert len(await account_rows(runtime)) == 1


async def test_verify_activates_signs_in_and_publishes_user_registered(auth, runtime) -> None:
    started = await auth.register(
        phone="0712 345 678", displayName="  Amina   Juma ", locale="en", username="amina"
    )
    challenge_id = started.json()["challengeId"]
    dev = auth.device(name="Amina's phone")
    verified = await auth.verify(challenge_id, await auth.code_for(challenge_id), dev)
    assert verified.status_code == 201, verified.text
    body = verified.json()
    assert set(body) >= {"account", "session", "accessToken", "refreshToken", "expiresIn"}
    assert body["account"]["status"] == "active"
    assert body["account"]["phoneVerified"] is True
    assert body["account"]["displayName"] == "Amina Juma"
    assert body["session"]["current"] is True
    assert body["session"]["name"] == "Amina's phone"
    assert body["expiresIn"] == 900
    [event] = await auth.outbox(UserRegistered.tag())
    assert str(event.user_id) == body["account"]["id"]
    assert (event.phone, event.phone_verified, event.registered_via, event.locale) == (
        "+255712345678",
        True,
        "phone",
        "en",
    )
    assert event.requested_username == "amina"
    me = await auth.client.get(f"{auth.base}/me", headers=auth.bearer(body))
    assert me.status_code == 200
    assert me.json()["phone"] == "+255712345678"


async def test_code_single_use_purpose_bound_expiring(auth, runtime) -> None:
    started = await auth.register(email="once@example.com")
    challenge_id = started.json()["challengeId"]
    code = await auth.code_for(challenge_id)
    # A registration challenge at the password-reset endpoint does not exist.
    wrong_place = await auth.client.post(
        f"{auth.base}/password-resets/{challenge_id}/complete",
        json={"code": code, "newPassword": "brand new passphrase"},
    )
    problem(wrong_place, 404, "challenge_not_found")
    assert (await auth.verify(challenge_id, code)).status_code == 201
    problem(await auth.verify(challenge_id, code), 410, "challenge_expired")
    problem(await auth.verify(str(uuid.uuid4()), code), 404, "challenge_not_found")

    # Expiry: a challenge past its ten minutes answers 410 even with the right code.
    later = await auth.register(email="late@example.com")
    late_id = later.json()["challengeId"]
    late_code = await auth.code_for(late_id)
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(challenges)
            .where(challenges.c.id == uuid.UUID(late_id))
            .values(expires_at=sa.func.now() - sa.text("interval '1 second'"))
        )
    problem(await auth.verify(late_id, late_code), 410, "challenge_expired")


async def test_parallel_guesses_never_exceed_limit(auth, runtime) -> None:
    started = await auth.register(email="guess@example.com")
    challenge_id = started.json()["challengeId"]
    real = await auth.code_for(challenge_id)
    wrong = f"{(int(real) + 1) % 1_000_000:06d}"
    answers = await asyncio.gather(*(auth.verify(challenge_id, wrong) for _ in range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [422] * 5 + [429] * 15, statuses
    remaining = sorted(a.json()["extra"]["attemptsRemaining"] for a in answers if a.status_code == 422)
    assert remaining == [0, 1, 2, 3, 4]
    async with runtime.database().sessions() as session:
        attempts = await session.scalar(
            sa.select(challenges.c.attempts).where(challenges.c.id == uuid.UUID(challenge_id))
        )
    assert attempts == 5
    # Even the right code is refused now.
    problem(await auth.verify(challenge_id, real), 429, "too_many_attempts")


async def test_resend_cooldown_and_cap(auth, runtime) -> None:
    started = await auth.register(email="resend@example.com")
    challenge_id = started.json()["challengeId"]
    first_code = await auth.code_for(challenge_id)
    soon = await auth.client.post(f"{auth.base}/challenges/{challenge_id}/resend")
    body = problem(soon, 429, "rate_limited")
    assert 1 <= int(soon.headers["retry-after"]) <= 60
    assert body["extra"]["retryAfter"] >= 1

    async def age_challenge() -> None:
        async with runtime.database().sessions() as session, session.begin():
            await session.execute(
                sa.update(challenges)
                .where(challenges.c.id == uuid.UUID(challenge_id))
                .values(last_sent_at=sa.func.now() - sa.text("interval '61 seconds'"))
            )

    # Registration was send 1; four resends reach the cap of five sends per destination per hour.
    for _ in range(4):
        await age_challenge()
        again = await auth.client.post(f"{auth.base}/challenges/{challenge_id}/resend")
        assert again.status_code == 202, again.text
        assert again.json()["challengeId"] == challenge_id
    await age_challenge()
    problem(await auth.client.post(f"{auth.base}/challenges/{challenge_id}/resend"), 429, "rate_limited")
    # Only the newest code works.
    newest = await auth.code_for(challenge_id)
    if newest != first_code:
        problem(await auth.verify(challenge_id, first_code), 422, "invalid_code")
    assert (await auth.verify(challenge_id, newest)).status_code == 201


async def test_weak_passwords_refused(auth, runtime) -> None:
    for password, reason in [
        ("short1", "must be 8 to 128 characters"),
        ("x" * 129, "must be 8 to 128 characters"),
        ("password123", "is a commonly used password"),
        ("Password123", "is a commonly used password"),
        ("my mail weak@example.com!", "must not contain your email or phone number"),
        ("weakling-weak-2026", "must not contain your email or phone number"),
    ]:
        body = problem(await auth.register(email="weak@example.com", password=password), 422, "weak_password")
        assert body["errors"] == [{"path": "password", "message": reason}]
    phone = problem(
        await auth.register(phone="0712345678", password="call 712345678 now"), 422, "weak_password"
    )
    assert phone["errors"][0]["path"] == "password"
    # Any script, no class rules: a long Swahili phrase with no digits is fine.
    assert (
        await auth.register(email="weak@example.com", password="habari za asubuhi rafiki")
    ).status_code == 202
    assert (await auth.register(email="ok@example.com", password="ñandú 東京 パスワード")).status_code == 202
    assert len(await account_rows(runtime)) == 2


_BODY = b'"password": "long enough pass", "displayName": "A"'


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{", 400, "malformed_request"),
        (b'{"password": "long enough pass", "displayName": "A"}', 422, "validation_failed"),
        (
            b"{" + _BODY + b', "email": "a@example.com", "phone": "0712345678"}',
            422,
            "validation_failed",
        ),
        (
            b"{" + _BODY + b', "email": "a@example.com", "role": "admin"}',
            422,
            "validation_failed",
        ),
        (
            b'{"password": "long enough pass", "displayName": "A", "email": "not-an-email"}',
            422,
            "invalid_email",
        ),
    ],
)
async def test_bad_registration_bodies(auth, body, status, code) -> None:
    response = await auth.client.post(
        f"{auth.base}/registrations", content=body, headers={"content-type": "application/json"}
    )
    problem(response, status, code)


async def test_otp_not_stored_in_plain_text(auth, runtime) -> None:
    started = await auth.register(email="plain@example.com")
    challenge_id = started.json()["challengeId"]
    code = await auth.code_for(challenge_id)
    async with runtime.database().sessions() as session:
        payloads = (await session.execute(sa.select(tables.outbox.c.payload))).scalars().all()
        row = (await session.execute(sa.select(challenges))).one()
    assert all(code.encode() not in p for p in payloads)
    assert code.encode() not in row.code_hash
    assert len(row.code_hash) == 32
