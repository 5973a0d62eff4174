"""Recent authentication, deactivation, scheduled deletion and suspension."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from nexgate.auth.adapters.sql.models import accounts, audit_log
from nexgate.auth.bootstrap import context
from nexgate.contracts.auth import (
    SessionRevoked,
    UserDeactivated,
    UserDeletionScheduled,
    UserReactivated,
    UserSuspended,
    UserUnsuspended,
)
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["code"] == code, body
    return body


async def reauth(auth, signed, password: str | None = None):
    return await auth.client.post(
        f"{auth.base}/me/reauthenticate",
        json={"password": password or auth.password},
        headers=auth.bearer(signed),
    )


async def test_deactivated_and_suspended_lose_access_immediately(auth, runtime) -> None:
    # Deactivation by the owner: needs a fresh password, ends every session at once.
    owner = await auth.signed_up(email="leaving@example.com")
    other_device = (await auth.login("leaving@example.com")).json()
    url = f"{auth.base}/me/deactivate"
    problem(await auth.client.post(url, headers=auth.bearer(owner)), 403, "reauthentication_required")
    problem(await reauth(auth, owner, "not my password"), 422, "invalid_password")
    assert (await reauth(auth, owner)).status_code == 204
    assert (await auth.client.post(url, headers=auth.bearer(owner))).status_code == 204
    for signed in (owner, other_device):
        problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(signed)), 401, "session_revoked")
    assert [str(m.user_id) for m in await auth.outbox(UserDeactivated.tag())] == [owner["account"]["id"]]
    problem(await auth.login("leaving@example.com"), 409, "account_deactivated")
    back = await auth.login("leaving@example.com", reactivate=True)
    assert back.status_code == 200
    assert back.json()["account"]["status"] == "active"
    assert len(await auth.outbox(UserReactivated.tag())) == 1

    # Suspension by staff: the user's sessions end at once; staff can lift it.
    staff_id = await context.create_admin(runtime, "helpdesk@example.com", "support passphrase 1")  # type: ignore[misc]
    staff = (await auth.login("helpdesk@example.com", "support passphrase 1")).json()
    user = await auth.signed_up(email="naughty@example.com")
    suspend = f"{auth.base}/admin/accounts/{user['account']['id']}/suspend"
    until = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    done = await auth.client.post(
        suspend, json={"reason": "spam", "until": until}, headers=auth.bearer(staff)
    )
    assert done.status_code == 204, done.text
    problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(user)), 401, "session_revoked")
    problem(await auth.login("naughty@example.com"), 403, "account_suspended")
    [suspended] = await auth.outbox(UserSuspended.tag())
    assert (suspended.reason, str(suspended.suspended_by)) == ("spam", staff_id)
    lift = f"{auth.base}/admin/accounts/{user['account']['id']}/unsuspend"
    assert (await auth.client.post(lift, headers=auth.bearer(staff))).status_code == 204
    problem(await auth.client.post(lift, headers=auth.bearer(staff)), 409, "not_suspended")
    assert (await auth.login("naughty@example.com")).status_code == 200
    assert len(await auth.outbox(UserUnsuspended.tag())) == 1
    async with runtime.database().sessions() as session:
        actions = (
            (await session.execute(sa.select(audit_log.c.action).order_by(audit_log.c.created_at)))
            .scalars()
            .all()
        )
    assert actions == ["create_admin", "suspend", "unsuspend"]


async def test_suspend_role_matrix_and_unknown_accounts(auth, runtime) -> None:
    user = await auth.signed_up(email="user@example.com")
    target = await auth.signed_up(email="target@example.com")
    url = f"{auth.base}/admin/accounts/{target['account']['id']}/suspend"
    problem(await auth.client.post(url, json={"reason": "x"}), 401, "not_authenticated")
    problem(await auth.client.post(url, json={"reason": "x"}, headers=auth.bearer(user)), 403, "missing_role")
    await context.create_admin(runtime, "staffer@example.com", "support passphrase 1")  # type: ignore[misc]
    staff = (await auth.login("staffer@example.com", "support passphrase 1")).json()
    missing = f"{auth.base}/admin/accounts/{uuid.uuid4()}/suspend"
    problem(
        await auth.client.post(missing, json={"reason": "x"}, headers=auth.bearer(staff)),
        404,
        "account_not_found",
    )
    assert (await auth.client.get(f"{auth.base}/me", headers=auth.bearer(target))).status_code == 200


async def test_deletion_grace_cancel_and_erasure(auth, runtime) -> None:
    owner = await auth.signed_up(email="bye@example.com")
    problem(
        await auth.client.delete(f"{auth.base}/me", headers=auth.bearer(owner)),
        403,
        "reauthentication_required",
    )
    assert (await reauth(auth, owner)).status_code == 204
    scheduled = await auth.client.delete(f"{auth.base}/me", headers=auth.bearer(owner))
    assert scheduled.status_code == 202, scheduled.text
    deletion_at = datetime.fromisoformat(scheduled.json()["deletionAt"])
    assert timedelta(days=29, hours=23) < deletion_at - datetime.now(UTC) <= timedelta(days=30)
    problem(await auth.client.get(f"{auth.base}/me", headers=auth.bearer(owner)), 401, "session_revoked")
    [event] = await auth.outbox(UserDeletionScheduled.tag())
    assert event.deletion_at == deletion_at
    assert "account_deletion_scheduled" in {m.reason for m in await auth.outbox(SessionRevoked.tag())}
    problem(await auth.login("bye@example.com"), 409, "account_deletion_scheduled")
    kept = await auth.login("bye@example.com", cancelDeletion=True)
    assert kept.status_code == 200
    async with runtime.database().sessions() as session:
        row = (await session.execute(sa.select(accounts.c.status, accounts.c.deletion_at))).one()
    assert (row.status, row.deletion_at) == ("active", None)

    # Scheduled again and left alone: after the grace, the sweep erases everything but the id.
    again = kept.json()
    assert (await reauth(auth, again)).status_code == 204
    assert (await auth.client.delete(f"{auth.base}/me", headers=auth.bearer(again))).status_code == 202
    from nexgate.auth.adapters.jobs import jobs
    from nexgate.auth.adapters.sql.models import challenges, sessions
    from nexgate.contracts.auth import UserDeleted

    [erase] = [j for j in jobs(runtime) if j.name == "auth.erase_deleted_accounts"]
    await erase.run()
    assert await auth.outbox(UserDeleted.tag()) == []  # still within the grace
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(accounts).values(deletion_at=sa.func.now() - sa.text("interval '1 second'"))
        )
    await erase.run()
    [deleted] = await auth.outbox(UserDeleted.tag())
    assert str(deleted.user_id) == owner["account"]["id"]
    async with runtime.database().sessions() as session:
        tomb = (await session.execute(sa.select(accounts))).one()
        left_sessions = await session.scalar(sa.select(sa.func.count()).select_from(sessions))
        left_challenges = await session.scalar(sa.select(sa.func.count()).select_from(challenges))
    assert str(tomb.id) == owner["account"]["id"]
    assert (tomb.status, tomb.email, tomb.phone, tomb.password_hash) == ("deleted", None, None, None)
    assert tomb.display_name == "Deleted account"
    assert (left_sessions, left_challenges) == (0, 0)
    problem(await auth.login("bye@example.com", cancelDeletion=True), 401, "invalid_credentials")
    # The address is free for a new account.
    assert (await auth.signed_up(email="bye@example.com"))["account"]["id"] != owner["account"]["id"]


async def test_new_device_alert_only_for_unseen_device(auth, runtime) -> None:
    from nexgate.auth.adapters.sql.models import sessions
    from nexgate.contracts.auth import NewDeviceSignedIn

    phone = auth.device(name="Amina's phone")
    await auth.signed_up(dev=phone, email="alerts@example.com")
    assert await auth.outbox(NewDeviceSignedIn.tag()) == []  # the sign-up device is not news
    assert (await auth.login("alerts@example.com", dev=phone)).status_code == 200
    assert await auth.outbox(NewDeviceSignedIn.tag()) == []
    laptop = auth.device(name="Office laptop")
    signed = (await auth.login("alerts@example.com", dev=laptop)).json()
    [alert] = await auth.outbox(NewDeviceSignedIn.tag())
    assert (str(alert.session_id), alert.device_name, alert.platform) == (
        signed["session"]["id"],
        "Office laptop",
        "android",
    )
    assert alert.ip_masked == "unknown" or alert.ip_masked.endswith(("x.x", ":x"))
    # Not seen for more than 90 days: news again.
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(sessions).values(last_used_at=sa.func.now() - sa.text("interval '91 days'"))
        )
    assert (await auth.login("alerts@example.com", dev=phone)).status_code == 200
    assert len(await auth.outbox(NewDeviceSignedIn.tag())) == 2


async def test_pending_accounts_swept_after_a_day(auth, runtime) -> None:
    from nexgate.auth.adapters.jobs import jobs

    assert (await auth.register(email="stale@example.com")).status_code == 202
    assert (await auth.register(email="fresh@example.com")).status_code == 202
    await auth.signed_up(email="verified@example.com")
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(accounts)
            .where(accounts.c.email.in_(["stale@example.com", "verified@example.com"]))
            .values(created_at=sa.func.now() - sa.text("interval '25 hours'"))
        )
    [sweep] = [j for j in jobs(runtime) if j.name == "auth.sweep_pending_accounts"]
    await sweep.run()
    async with runtime.database().sessions() as session:
        left = sorted((await session.execute(sa.select(accounts.c.email))).scalars().all())
    assert left == ["fresh@example.com", "verified@example.com"]


async def test_suspension_with_until_ends_by_itself(auth, runtime) -> None:
    from nexgate.auth.adapters.jobs import jobs

    await context.create_admin(runtime, "helpdesk@example.com", "support passphrase 1")  # type: ignore[misc]
    staff = (await auth.login("helpdesk@example.com", "support passphrase 1")).json()
    user = await auth.signed_up(email="timeout@example.com")
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    url = f"{auth.base}/admin/accounts/{user['account']['id']}/suspend"
    assert (
        await auth.client.post(url, json={"reason": "cool off", "until": until}, headers=auth.bearer(staff))
    ).status_code == 204
    [job] = [j for j in jobs(runtime) if j.name == "auth.end_suspensions"]
    await job.run()
    problem(await auth.login("timeout@example.com"), 403, "account_suspended")
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(accounts)
            .where(accounts.c.email == "timeout@example.com")
            .values(suspended_until=sa.func.now() - sa.text("interval '1 second'"))
        )
    await job.run()
    assert (await auth.login("timeout@example.com")).status_code == 200
    assert len(await auth.outbox(UserUnsuspended.tag())) == 1
