"""Blocks and mutes: two relations, two tables; and the facade other contexts use."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import sqlalchemy as sa

from nexgate.contracts.profiles import (
    BlockCreated,
    FollowRemoved,
    FollowRequestWithdrawn,
    MuteCreated,
    MuteRemoved,
)
from nexgate.kernel.clock import SystemClock
from nexgate.kernel.errors import NotFound
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles import api
from nexgate.profiles.adapters.sql.models import blocks, follows, mutes, tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application import relations

P = "/api/v1/profiles"


async def count(runtime: Runtime, table: sa.Table) -> int:
    async with runtime.database().sessions() as session:
        return await session.scalar(sa.select(sa.func.count()).select_from(table))


async def test_block_removes_follows_and_requests_both_ways(
    client, user, runtime, messages, counters
) -> None:
    alice, a = await user(private=True)
    bob, b = await user()
    await client.post(f"{P}/{bob}/follow", headers=a)  # alice -> bob (public): a follow
    await client.post(f"{P}/{alice}/follow", headers=b)  # bob -> alice (private): a request
    assert (await client.post(f"{P}/{bob}/block", headers=a)).status_code == 204
    assert (await client.post(f"{P}/{bob}/block", headers=a)).status_code == 204  # idempotent
    assert await count(runtime, follows) == 0
    assert (await client.get(f"{P}/me/follow-requests", headers=a)).json()["items"] == []
    [removed] = await messages(FollowRemoved.tag())
    assert (removed.follower_id, removed.followee_id, removed.reason) == (alice, bob, "block")
    [withdrawn] = await messages(FollowRequestWithdrawn.tag())
    assert (withdrawn.requester_id, withdrawn.reason) == (bob, "block")
    [blocked] = await messages(BlockCreated.tag())
    assert (blocked.blocker_id, blocked.blocked_id) == (alice, bob)
    assert all(row[1] == row[2] == 0 and row[3] == row[4] == 0 for row in await counters())
    listed = (await client.get(f"{P}/me/blocks", headers=a)).json()["items"]
    assert [i["userId"] for i in listed] == [str(bob)]


async def test_blocked_user_gets_404_and_cannot_follow(client, user) -> None:
    blocker, k = await user()
    blocked, d = await user()
    username = (await client.get(f"{P}/me", headers=k)).json()["username"]
    await client.post(f"{P}/{blocked}/block", headers=k)
    for path in (
        f"{P}/{blocker}",
        f"{P}/by-username/{username}",
        f"{P}/{blocker}/followers",
        f"{P}/{blocker}/following",
    ):
        response = await client.get(path, headers=d)
        assert response.status_code == 404, path
        assert response.json()["code"] == "profile_not_found", path
    follow = await client.post(f"{P}/{blocker}/follow", headers=d)
    assert follow.status_code == 404
    # Nor may the blocker follow whom they block.
    assert (await client.post(f"{P}/{blocked}/follow", headers=k)).status_code == 404
    # The blocker still sees a stub, so they can unblock.
    stub = (await client.get(f"{P}/{blocked}", headers=k)).json()
    assert stub["relationship"]["blocking"] is True
    assert "bio" not in stub
    assert "followersCount" not in stub
    assert (await client.delete(f"{P}/{blocked}/block", headers=k)).status_code == 204
    assert (await client.get(f"{P}/{blocker}", headers=d)).status_code == 200
    assert (await client.post(f"{P}/{blocker}/follow", headers=d)).json() == {"state": "following"}


async def test_block_hides_both_ways_in_search_and_lists(client, user) -> None:
    hub, h = await user()
    blocker, k = await user()
    blocked, d = await user()
    for headers, name in ((h, "hub.tz"), (k, "hub.blocker"), (d, "hub.blocked")):
        assert (
            await client.put(f"{P}/me/username", json={"username": name}, headers=headers)
        ).status_code == 200
    for headers in (k, d):
        await client.post(f"{P}/{hub}/follow", headers=headers)
    await client.post(f"{P}/{hub}/follow", headers=k)
    await client.post(f"{P}/{blocker}/follow", headers=h)
    await client.post(f"{P}/{blocked}/block", headers=k)

    async def listed(path: str, headers: dict[str, str]) -> set[str]:
        response = await client.get(f"{P}/{path}", headers=headers)
        assert response.status_code == 200, response.text
        return {i["userId"] for i in response.json()["items"]}

    async def found(headers: dict[str, str]) -> set[str]:
        response = await client.get(f"{P}/search", params={"q": "hub"}, headers=headers)
        return {i["userId"] for i in response.json()["items"]}

    # Neither sees the other in a third user's lists, nor in search ...
    assert await listed(f"{hub}/followers", k) == {str(blocker)}
    assert await listed(f"{hub}/followers", d) == {str(blocked)}
    assert await found(k) == {str(hub), str(blocker)}
    assert await found(d) == {str(hub), str(blocked)}
    # ... in either direction (the hub's following list as the blocked user sees it).
    assert await listed(f"{hub}/following", d) == set()
    assert await listed(f"{hub}/following", h) == {str(blocker)}
    # Everyone else sees both.
    assert await listed(f"{hub}/followers", h) == {str(blocker), str(blocked)}
    assert await found(h) == {str(hub), str(blocker), str(blocked)}


async def test_block_racing_a_follow_ends_with_no_edge(user, runtime) -> None:
    for _ in range(5):
        a, _h = await user()
        b, _h2 = await user()

        refusals: list[str] = []

        async def run(
            action: str, actor: uuid.UUID, target: uuid.UUID, refusals: list[str] = refusals
        ) -> None:
            try:
                async with runtime.database().sessions() as session, session.begin():
                    store, outbox = SqlProfileStore(session), SqlOutbox(session, tables)
                    if action == "block":
                        await relations.block(
                            actor=actor, target=target, store=store, outbox=outbox, clock=SystemClock()
                        )
                    else:
                        await relations.follow(
                            actor=actor, target=target, store=store, outbox=outbox, clock=SystemClock()
                        )
            except NotFound as exc:  # a follow that runs after the block is refused with 404
                refusals.append(exc.code)

        await asyncio.gather(run("follow", b, a), run("block", a, b), run("follow", a, b))
        async with runtime.database().sessions() as session:
            edges = await session.scalar(
                sa.select(sa.func.count()).where(
                    sa.or_(follows.c.follower_id.in_([a, b]), follows.c.followee_id.in_([a, b]))
                )
            )
        assert edges == 0
        assert set(refusals) <= {"profile_not_found"}


async def test_mute_is_separate_from_block_invisible_and_expires(client, user, runtime, messages) -> None:
    muter, m = await user()
    muted, d = await user()
    await client.post(f"{P}/{muter}/follow", headers=d)
    body = {"posts": True, "notifications": False, "durationSeconds": 3600}
    assert (await client.post(f"{P}/{muted}/mute", json=body, headers=m)).status_code == 204
    assert await count(runtime, mutes) == 1
    assert await count(runtime, blocks) == 0
    # Invisible to the muted user, and no follow changed.
    seen = (await client.get(f"{P}/{muter}", headers=d)).json()
    assert seen["relationship"]["muting"] is False
    assert seen["relationship"]["following"] is True
    assert (await client.get(f"{P}/{muted}", headers=m)).json()["relationship"]["muting"] is True
    [listed] = (await client.get(f"{P}/me/mutes", headers=m)).json()
    assert listed["userId"] == str(muted)
    assert listed["posts"] is True
    assert listed["notifications"] is False
    assert await api.muted_by(runtime, muter) == {muted}
    assert await api.muted_by(runtime, muter, posts=False) == set()
    [created] = await messages(MuteCreated.tag())
    assert created.expires_at is not None
    bad = await client.post(f"{P}/{muted}/mute", json={"durationSeconds": 5}, headers=m)
    assert bad.status_code == 422
    # The sweep removes it once expired, and announces it.
    async with runtime.database().sessions() as session, session.begin():
        store, outbox = SqlProfileStore(session), SqlOutbox(session, tables)
        early = await relations.sweep_expired_mutes(now=SystemClock().now(), store=store, outbox=outbox)
        late = await relations.sweep_expired_mutes(
            now=SystemClock().now() + timedelta(seconds=3601), store=store, outbox=outbox
        )
    assert (early, late) == (0, 1)
    [removed] = await messages(MuteRemoved.tag())
    assert (removed.muter_id, removed.muted_id) == (muter, muted)
    assert (await client.get(f"{P}/me/mutes", headers=m)).json() == []
    assert (await client.get(f"{P}/{muter}", headers=d)).json()["relationship"]["following"] is True


async def test_facade_snapshots(client, user, runtime) -> None:
    a, _ha = await user()
    b, hb = await user()
    await client.post(f"{P}/{a}/follow", headers=hb)
    assert await api.followers_of(runtime, a) == [b]
    assert await api.blocked_between(runtime, a, b) is False
    assert (await api.relationship(runtime, b, a))["following"] is True
    snap = await api.snapshot(runtime, a)
    assert snap is not None
    assert snap.user_id == a
    assert snap.version == 1
    assert await api.snapshot(runtime, uuid.uuid4()) is None
    await client.post(f"{P}/{a}/block", headers=hb)
    assert await api.blocked_between(runtime, a, b) is True
    assert await api.followers_of(runtime, a) == []


async def test_facade_can_message_and_can_mention(client, user, runtime) -> None:
    """whoCanMessage / whoCanMention as chat and social will ask, with blocks on top."""
    rec, hr = await user()
    friend, hf = await user()
    stranger, _ = await user()
    await client.post(f"{P}/{friend}/follow", headers=hr)  # the recipient follows `friend`

    async def message(sender):
        permission = await api.can_message(runtime, sender, rec)
        return (permission.allowed, permission.needs_request)

    # everyone: people the recipient follows get through; strangers land in requests.
    assert await message(friend) == (True, False)
    assert await message(stranger) == (True, True)
    assert await api.can_mention(runtime, stranger, rec) is True

    async def settings(audience: str) -> None:
        body = {"whoCanMessage": audience, "whoCanMention": audience}
        assert (await client.patch(f"{P}/me/settings/privacy", json=body, headers=hr)).status_code == 200

    await settings("people_i_follow")
    assert await message(friend) == (True, False)
    assert await message(stranger) == (False, False)
    assert await api.can_mention(runtime, friend, rec) is True
    assert await api.can_mention(runtime, stranger, rec) is False
    await settings("nobody")
    assert await message(friend) == (False, False)
    assert await api.can_mention(runtime, friend, rec) is False
    await settings("everyone")
    # A block either way shuts both doors, whatever the settings.
    await client.post(f"{P}/{rec}/block", headers=hf)
    assert await message(friend) == (False, False)
    assert await api.can_mention(runtime, friend, rec) is False
    assert await api.can_mention(runtime, rec, friend) is False
    assert await message(uuid.uuid4()) == (False, False)


async def test_other_user_gets_404_or_403(client, user, bearer) -> None:
    """Every {userId}/{requesterId} route, called by someone with no right to it."""
    owner, o = await user(private=True)
    requester, r = await user()
    _, stranger = await user()
    await client.post(f"{P}/{owner}/follow", headers=r)
    # Approving, rejecting, removing: scoped to the caller, so another's request is not found.
    for verb in ("approve", "reject"):
        response = await client.post(f"{P}/me/follow-requests/{requester}/{verb}", headers=stranger)
        assert (response.status_code, response.json()["code"]) == (404, "follow_request_not_found"), verb
    assert (await client.delete(f"{P}/me/followers/{requester}", headers=stranger)).status_code == 404
    # Private lists: 403; the header and the trust points stay public.
    for kind in ("followers", "following"):
        response = await client.get(f"{P}/{owner}/{kind}", headers=stranger)
        assert (response.status_code, response.json()["code"]) == (403, "private_account")
    assert (await client.get(f"{P}/{owner}", headers=stranger)).status_code == 200
    assert "inputs" not in (await client.get(f"{P}/{owner}/trust", headers=stranger)).json()
    # Deletes on someone else's edge change nothing of theirs (they act on the caller's own edge).
    for path in (f"{P}/{owner}/follow", f"{P}/{owner}/block", f"{P}/{owner}/mute"):
        assert (await client.delete(path, headers=stranger)).status_code == 204, path
    # A blocked user: 404 on every {userId} route of the blocker.
    await client.post(f"{P}/{requester}/block", headers=o)
    for method, path in (
        ("get", f"{P}/{owner}"),
        ("get", f"{P}/{owner}/trust"),
        ("get", f"{P}/{owner}/followers"),
        ("get", f"{P}/{owner}/following"),
        ("post", f"{P}/{owner}/follow"),
    ):
        assert (await getattr(client, method)(path, headers=r)).status_code == 404, path
    assert (await client.post(f"{P}/{owner}/mute", json={}, headers=r)).status_code == 404
    await client.delete(f"{P}/{requester}/block", headers=o)
    await client.post(f"{P}/{owner}/follow", headers=r)
    # Unknown user ids: 404 everywhere.
    ghost = uuid.uuid4()
    for method, path in (
        ("get", f"{P}/{ghost}"),
        ("get", f"{P}/{ghost}/trust"),
        ("get", f"{P}/{ghost}/followers"),
        ("get", f"{P}/{ghost}/following"),
        ("post", f"{P}/{ghost}/follow"),
        ("post", f"{P}/{ghost}/block"),
    ):
        assert (await getattr(client, method)(path, headers=stranger)).status_code == 404, path
    assert (await client.post(f"{P}/{ghost}/mute", json={}, headers=stranger)).status_code == 404
    # Nothing changed for the owner.
    incoming = (await client.get(f"{P}/me/follow-requests", headers=o)).json()["items"]
    assert [i["userId"] for i in incoming] == [str(requester)]
    # No route without a token (availability is the one public route).
    for path in (f"{P}/{owner}", f"{P}/{owner}/trust", f"{P}/search?q=ab", f"{P}/me"):
        assert (await client.get(path)).status_code == 401, path
