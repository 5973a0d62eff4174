"""Password reset and change, lockout and rate limits, administration."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from nexgate.auth.adapters.sql.models import audit_log
from nexgate.auth.bootstrap import context
from nexgate.contracts.auth import LoginLocked, PasswordChanged, RolesChanged
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE

NEW_PASSWORD = "a fresh new passphrase"


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["code"] == code, body
    return body


async def start_reset(auth, identifier: str) -> str:
    response = await auth.client.post(f"{auth.base}/password-resets", json={"identifier": identifier})
    assert response.status_code == 202, response.text
    return response.json()["challengeId"]


async def complete(auth, challenge_id: str, code: str, password: str = NEW_PASSWORD):
    return await auth.client.post(
        f"{auth.base}/password-resets/{challenge_id}/complete", json={"code": code, "newPassword": password}
    )


async def test_password_reset_revokes_every_session(auth) -> None:
    first = await auth.signed_up(email="forgot@example.com")
    second = (await auth.login("forgot@example.com")).json()
    challenge_id = await start_reset(auth, "FORGOT@example.com")
    code = await auth.code_for(challenge_id)
    assert (await complete(auth, challenge_id, code)).status_code == 204
    for signed in (first, second):
        problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(signed)), 401, "session_revoked")
    problem(await auth.login("forgot@example.com"), 401, "invalid_credentials")
    assert (await auth.login("forgot@example.com", NEW_PASSWORD)).status_code == 200
    [changed] = await auth.outbox(PasswordChanged.tag())
    assert (str(changed.user_id), changed.via) == (first["account"]["id"], "reset")
    problem(await complete(auth, challenge_id, code, "yet another passphrase"), 410, "challenge_expired")


async def test_reset_code_cannot_obtain_tokens(auth) -> None:
    await auth.signed_up(email="tokens@example.com")
    challenge_id = await start_reset(auth, "tokens@example.com")
    code = await auth.code_for(challenge_id)
    # The reset code is worthless at the endpoint that signs a device in...
    problem(await auth.verify(challenge_id, code), 404, "challenge_not_found")
    # ...and completing the reset signs nobody in.
    done = await complete(auth, challenge_id, code)
    assert done.status_code == 204
    assert done.content == b""


async def test_reset_answers_the_same_for_unknown_identifiers(auth) -> None:
    await auth.signed_up(email="exists@example.com")
    known = await auth.client.post(f"{auth.base}/password-resets", json={"identifier": "exists@example.com"})
    unknown = await auth.client.post(f"{auth.base}/password-resets", json={"identifier": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert set(known.json()) == set(unknown.json())
    problem(await complete(auth, unknown.json()["challengeId"], "123456"), 422, "invalid_code")
    for _ in range(2):
        await auth.client.post(f"{auth.base}/password-resets", json={"identifier": "ghost@example.com"})
    problem(
        await auth.client.post(f"{auth.base}/password-resets", json={"identifier": "ghost@example.com"}),
        429,
        "rate_limited",
    )


async def forget_ip_limits(runtime, settings) -> None:
    """This test is about the per-identifier lockout, not the per-IP limit (20/min)."""
    keys = [k async for k in runtime.redis.scan_iter(match=f"{settings.redis_prefix}rl:auth.login.ip:*")]
    if keys:
        await runtime.redis.delete(*keys)


async def test_lockout_escalates_and_reset_clears_it(auth, runtime, settings) -> None:
    signed = await auth.signed_up(email="locked@example.com")
    for _ in range(10):
        problem(await auth.login("locked@example.com", "attacker guess 123"), 401, "invalid_credentials")
    locked = problem(await auth.login("locked@example.com"), 429, "too_many_attempts")
    assert 800 <= locked["extra"]["retryAfter"] <= 900
    # The lock never touches existing sessions.
    assert (await auth.client.get(f"{auth.base}/me", headers=auth.bearer(signed))).status_code == 200
    [notice] = await auth.outbox(LoginLocked.tag())
    assert str(notice.user_id) == signed["account"]["id"]
    # Unknown identifiers are counted the same way (and are just as locked).
    await forget_ip_limits(runtime, settings)
    for _ in range(10):
        problem(await auth.login("ghost@example.com", "attacker guess 123"), 401, "invalid_credentials")
    problem(await auth.login("ghost@example.com", "attacker guess 123"), 429, "too_many_attempts")
    assert len(await auth.outbox(LoginLocked.tag())) == 1

    # A repeat doubles the lock: expire the first lock, fail ten more times.
    lock_keys = [
        k async for k in runtime.redis.scan_iter(match=f"{settings.redis_prefix}auth:lockout:lock:*")
    ]
    await runtime.redis.delete(*lock_keys)
    await forget_ip_limits(runtime, settings)
    for _ in range(10):
        await auth.login("locked@example.com", "attacker guess 123")
    doubled = problem(await auth.login("locked@example.com"), 429, "too_many_attempts")
    assert 1700 <= doubled["extra"]["retryAfter"] <= 1800

    # The lock never blocks a password reset, and the reset clears it.
    await forget_ip_limits(runtime, settings)
    challenge_id = await start_reset(auth, "locked@example.com")
    assert (await complete(auth, challenge_id, await auth.code_for(challenge_id))).status_code == 204
    assert (await auth.login("locked@example.com", NEW_PASSWORD)).status_code == 200


async def test_change_password_needs_current_and_signs_out_others(auth) -> None:
    here = await auth.signed_up(email="changer@example.com")
    there = (await auth.login("changer@example.com")).json()
    url = f"{auth.base}/me/password"
    wrong = await auth.client.post(
        url, json={"currentPassword": "not it at all", "newPassword": NEW_PASSWORD}, headers=auth.bearer(here)
    )
    problem(wrong, 422, "invalid_current_password")
    weak = await auth.client.post(
        url, json={"currentPassword": auth.password, "newPassword": "password1"}, headers=auth.bearer(here)
    )
    problem(weak, 422, "weak_password")
    done = await auth.client.post(
        url, json={"currentPassword": auth.password, "newPassword": NEW_PASSWORD}, headers=auth.bearer(here)
    )
    assert done.status_code == 204
    assert (await auth.client.get(f"{auth.base}/me", headers=auth.bearer(here))).status_code == 200
    problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(there)), 401, "session_revoked")
    assert (await auth.login("changer@example.com", NEW_PASSWORD)).status_code == 200


async def test_login_rate_limited_per_ip(auth) -> None:
    for _ in range(20):
        await auth.login("someone@example.com", "whatever it is 1")
    response = await auth.login("someone@example.com", "whatever it is 1")
    problem(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1


async def create_admin(runtime, identifier: str) -> str:
    assert context.create_admin is not None
    return await context.create_admin(runtime, identifier, "admin passphrase 2026")


async def test_role_matrix_on_admin_routes(auth, runtime) -> None:
    admin_id = await create_admin(runtime, "root@example.com")
    admin = (await auth.login("root@example.com", "admin passphrase 2026")).json()
    assert admin["account"]["id"] == admin_id
    assert set(admin["account"]["roles"]) == {"user", "staff", "admin"}
    user = await auth.signed_up(email="plain@example.com")
    url = f"{auth.base}/admin/accounts/{user['account']['id']}/roles"
    problem(await auth.client.put(url, json={"roles": ["staff"]}), 401, "not_authenticated")
    problem(
        await auth.client.put(url, json={"roles": ["admin"]}, headers=auth.bearer(user)), 403, "missing_role"
    )
    granted = await auth.client.put(url, json={"roles": ["staff"]}, headers=auth.bearer(admin))
    assert granted.status_code == 200, granted.text
    assert granted.json() == {"accountId": user["account"]["id"], "roles": ["staff", "user"]}
    staff = (await auth.login(user["identifier"])).json()
    assert set(staff["account"]["roles"]) == {"staff", "user"}
    problem(
        await auth.client.put(url, json={"roles": ["admin"]}, headers=auth.bearer(staff)), 403, "missing_role"
    )
    problem(
        await auth.client.put(url, json={"roles": ["emperor"]}, headers=auth.bearer(admin)),
        422,
        "validation_failed",
    )
    missing = f"{auth.base}/admin/accounts/{uuid.uuid4()}/roles"
    problem(
        await auth.client.put(missing, json={"roles": []}, headers=auth.bearer(admin)),
        404,
        "account_not_found",
    )
    async with runtime.database().sessions() as session:
        audit = (await session.execute(sa.select(audit_log).order_by(audit_log.c.created_at))).all()
    assert [(a.action, str(a.actor_id) if a.actor_id else None) for a in audit] == [
        ("create_admin", None),
        ("set_roles", admin_id),
    ]
    assert audit[1].details == {"before": ["user"], "after": ["staff", "user"]}
    [changed] = await auth.outbox(RolesChanged.tag())
    assert changed.roles == ["staff", "user"]


async def test_role_removal_revokes_sessions(auth, runtime) -> None:
    await create_admin(runtime, "boss@example.com")
    admin = (await auth.login("boss@example.com", "admin passphrase 2026")).json()
    user = await auth.signed_up(email="demoted@example.com")
    url = f"{auth.base}/admin/accounts/{user['account']['id']}/roles"
    assert (
        await auth.client.put(url, json={"roles": ["staff"]}, headers=auth.bearer(admin))
    ).status_code == 200
    # Adding a role leaves sessions alone; removing one ends them.
    assert (await auth.client.get(f"{auth.base}/me", headers=auth.bearer(user))).status_code == 200
    assert (await auth.client.put(url, json={"roles": []}, headers=auth.bearer(admin))).status_code == 200
    problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(user)), 401, "session_revoked")
    again = (await auth.login("demoted@example.com")).json()
    assert again["account"]["roles"] == ["user"]


async def test_create_admin_refuses_taken_identifier_and_weak_password(auth, runtime) -> None:
    await auth.signed_up(email="taken@example.com")
    import pytest

    from nexgate.kernel.errors import Conflict, ValidationFailed

    with pytest.raises(Conflict):
        await create_admin(runtime, "taken@example.com")
    assert context.create_admin is not None
    with pytest.raises(ValidationFailed):
        await context.create_admin(runtime, "new-admin@example.com", "password123")


async def test_nexgate_create_admin_command(auth, settings, monkeypatch) -> None:
    import asyncio

    from click.testing import CliRunner

    from nexgate.api.cli import main
    from nexgate.kernel.settings import platform_settings

    for name, value in {
        "NEXGATE_DATABASE_URL": settings.database_url,
        "NEXGATE_REDIS_URL": settings.redis_url,
        "NEXGATE_REDIS_PREFIX": settings.redis_prefix,
        "NEXGATE_CONTEXTS": "auth",
        "NEXGATE_SIGNING_KEY_FILE": str(settings.signing_key_file),
    }.items():
        monkeypatch.setenv(name, value)
    platform_settings.cache_clear()
    try:
        args = ["create-admin", "--identifier", "0713 000 111", "--password", "admin passphrase 2026"]
        # The command runs its own event loop: give it a thread.
        result = await asyncio.to_thread(CliRunner().invoke, main, args)
    finally:
        platform_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "administrator created" in result.output
    admin = await auth.login("+255713000111", "admin passphrase 2026")
    assert admin.status_code == 200
    assert set(admin.json()["account"]["roles"]) == {"user", "staff", "admin"}
    assert admin.json()["account"]["id"] in result.output
