"""Follows, requests and follow lists, on the real database."""

from __future__ import annotations

import asyncio
import random
import uuid

from nexgate.contracts.profiles import FollowCreated, FollowRequested, FollowRequestWithdrawn
from nexgate.kernel.clock import SystemClock
from nexgate.kernel.errors import RateLimited
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.sql.models import tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application import relations

P = "/api/v1/profiles"


async def in_tx(runtime: Runtime, action: str, actor: uuid.UUID, target: uuid.UUID) -> None:
    """One use case in its own transaction, as one request would run it."""
    async with runtime.database().sessions() as session, session.begin():
        store, outbox = SqlProfileStore(session), SqlOutbox(session, tables)
        if action == "follow":
            await relations.follow(
                actor=actor, target=target, store=store, outbox=outbox, clock=SystemClock()
            )
        elif action == "unfollow":
            await relations.unfollow(
                actor=actor, target=target, store=store, outbox=outbox, clock=SystemClock()
            )
        else:
            await relations.block(actor=actor, target=target, store=store, outbox=outbox, clock=SystemClock())


async def test_follow_public_is_immediate_private_creates_request(client, user, messages) -> None:
    alice, a = await user()
    bob, _ = await user()
    carol, c = await user(private=True)
    follow = await client.post(f"{P}/{bob}/follow", headers=a)
    assert follow.status_code == 200
    assert follow.json() == {"state": "following"}
    assert (await client.post(f"{P}/{bob}/follow", headers=a)).json() == {"state": "following"}  # idempotent
    ask = await client.post(f"{P}/{carol}/follow", headers=a)
    assert ask.status_code == 200
    assert ask.json() == {"state": "requested"}
    assert (await client.post(f"{P}/{carol}/follow", headers=a)).json() == {"state": "requested"}
    bob_view = (await client.get(f"{P}/{bob}", headers=a)).json()
    assert bob_view["followersCount"] == 1
    assert bob_view["relationship"]["following"] is True
    carol_view = (await client.get(f"{P}/{carol}", headers=a)).json()
    assert carol_view["followersCount"] == 0
    assert carol_view["relationship"]["requested"] is True
    incoming = (await client.get(f"{P}/me/follow-requests", headers=c)).json()["items"]
    assert [i["userId"] for i in incoming] == [str(alice)]
    sent = (await client.get(f"{P}/me/follow-requests/sent", headers=a)).json()["items"]
    assert [i["userId"] for i in sent] == [str(carol)]
    assert len(await messages(FollowCreated.tag())) == 1
    assert len(await messages(FollowRequested.tag())) == 1
    # Unfollowing a private account cancels the request.
    assert (await client.delete(f"{P}/{carol}/follow", headers=a)).status_code == 204
    assert (await client.get(f"{P}/me/follow-requests", headers=c)).json()["items"] == []
    [withdrawn] = await messages(FollowRequestWithdrawn.tag())
    assert withdrawn.reason == "cancelled"
    self_follow = await client.post(f"{P}/{alice}/follow", headers=a)
    assert self_follow.status_code == 422
    assert self_follow.json()["code"] == "cannot_follow_self"
    missing = await client.post(f"{P}/{uuid.uuid4()}/follow", headers=a)
    assert missing.status_code == 404
    assert missing.json()["code"] == "profile_not_found"


async def test_only_target_can_approve_or_reject_a_request(client, user) -> None:
    requester, r = await user()
    target, t = await user(private=True)
    _, stranger = await user()
    await client.post(f"{P}/{target}/follow", headers=r)
    for verb in ("approve", "reject"):
        response = await client.post(f"{P}/me/follow-requests/{requester}/{verb}", headers=stranger)
        assert response.status_code == 404
        assert response.json()["code"] == "follow_request_not_found"
    assert (await client.get(f"{P}/{target}", headers=r)).json()["relationship"]["requested"] is True
    # The target rejects; approving afterwards finds nothing.
    assert (await client.post(f"{P}/me/follow-requests/{requester}/reject", headers=t)).status_code == 204
    assert (await client.post(f"{P}/me/follow-requests/{requester}/approve", headers=t)).status_code == 404
    # Asked again and approved by the target: a follow.
    await client.post(f"{P}/{target}/follow", headers=r)
    assert (await client.post(f"{P}/me/follow-requests/{requester}/approve", headers=t)).status_code == 204
    view = (await client.get(f"{P}/{target}", headers=r)).json()
    assert view["relationship"]["following"] is True
    assert view["followersCount"] == 1


async def test_requester_cannot_approve_own_request(client, user) -> None:
    requester, r = await user()
    target, _t = await user(private=True)
    await client.post(f"{P}/{target}/follow", headers=r)
    for path in (f"{target}/approve", f"{requester}/approve"):
        response = await client.post(f"{P}/me/follow-requests/{path}", headers=r)
        assert response.status_code == 404
        assert response.json()["code"] == "follow_request_not_found"
    view = (await client.get(f"{P}/{target}", headers=r)).json()
    assert view["relationship"] == {
        "following": False, "followedBy": False, "requested": True,
        "requestedBy": False, "blocking": False, "muting": False,
    }  # fmt: skip
    assert view["followersCount"] == 0


async def test_approving_a_cancelled_request_gets_404(client, user) -> None:
    requester, r = await user()
    target, t = await user(private=True)
    await client.post(f"{P}/{target}/follow", headers=r)
    await client.delete(f"{P}/{target}/follow", headers=r)
    response = await client.post(f"{P}/me/follow-requests/{requester}/approve", headers=t)
    assert response.status_code == 404
    assert response.json()["code"] == "follow_request_not_found"


async def test_going_public_approves_pending_requests(client, user, counters) -> None:
    target, t = await user(private=True)
    requesters = [await user() for _ in range(3)]
    for _, headers in requesters:
        assert (await client.post(f"{P}/{target}/follow", headers=headers)).json()["state"] == "requested"
    done = await client.patch(f"{P}/me/settings/privacy", json={"isPrivate": False}, headers=t)
    assert done.status_code == 200
    assert done.json()["isPrivate"] is False
    assert (await client.get(f"{P}/me/follow-requests", headers=t)).json()["items"] == []
    followers = (await client.get(f"{P}/{target}/followers", headers=t)).json()["items"]
    assert {f["userId"] for f in followers} == {str(u) for u, _ in requesters}
    assert (await client.get(f"{P}/me", headers=t)).json()["followersCount"] == 3
    assert all(row[1] == row[2] and row[3] == row[4] for row in await counters())


async def test_remove_follower(client, user) -> None:
    owner, o = await user()
    follower, f = await user()
    other, x = await user()
    await client.post(f"{P}/{owner}/follow", headers=f)
    await client.post(f"{P}/{other}/follow", headers=f)
    # Someone else cannot remove owner's follower: the route only ever names the caller's followers.
    assert (await client.delete(f"{P}/me/followers/{follower}", headers=x)).status_code == 204
    assert (await client.get(f"{P}/{owner}", headers=f)).json()["relationship"]["following"] is True
    assert (await client.delete(f"{P}/me/followers/{follower}", headers=o)).status_code == 204
    assert (await client.get(f"{P}/{owner}", headers=f)).json()["relationship"]["following"] is False
    assert (await client.get(f"{P}/me", headers=o)).json()["followersCount"] == 0
    again = await client.delete(f"{P}/me/followers/{follower}", headers=o)
    assert again.status_code == 404
    assert again.json()["code"] == "follower_not_found"


async def test_private_account_lists_hidden_from_non_followers(client, user) -> None:
    owner, o = await user(private=True)
    follower, f = await user()
    _, stranger = await user()
    await client.post(f"{P}/{owner}/follow", headers=f)
    await client.post(f"{P}/me/follow-requests/{follower}/approve", headers=o)
    for kind in ("followers", "following"):
        hidden = await client.get(f"{P}/{owner}/{kind}", headers=stranger)
        assert hidden.status_code == 403
        assert hidden.json()["code"] == "private_account"
        assert (await client.get(f"{P}/{owner}/{kind}", headers=f)).status_code == 200
        assert (await client.get(f"{P}/{owner}/{kind}", headers=o)).status_code == 200
    # The header stays public.
    header = await client.get(f"{P}/{owner}", headers=stranger)
    assert header.status_code == 200
    assert header.json()["isPrivate"] is True


async def test_follow_lists_paginate_by_cursor_without_gaps_or_duplicates(client, user, runtime) -> None:
    star, s = await user()
    fans = [await user() for _ in range(23)]
    for fan_id, _ in fans:
        await in_tx(runtime, "follow", fan_id, star)
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{P}/{star}/followers", params=query, headers=s)).json()
        seen.extend(item["userId"] for item in page["items"])
        # A follow arriving mid-scroll must not shift the pages into duplicates.
        if len(seen) == 10:
            late, _ = await user()
            await in_tx(runtime, "follow", late, star)
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23
    assert seen == [str(fan_id) for fan_id, _ in reversed(fans)]  # newest first
    bad = await client.get(f"{P}/{star}/followers", params={"limit": 101}, headers=s)
    assert bad.status_code == 422


async def test_concurrent_follow_and_unfollow_never_drift_the_counters(user, runtime, counters) -> None:
    people = [(await user())[0] for _ in range(6)]
    actions = []
    rng = random.Random(7)
    for _ in range(120):
        a, b = rng.sample(people, 2)
        actions.append(in_tx(runtime, rng.choice(["follow", "follow", "unfollow"]), a, b))
    await asyncio.gather(*actions)
    rows = await counters()
    assert len(rows) == 6
    assert sum(row[2] for row in rows) > 0
    for user_id, followers, counted_followers, following, counted_following in rows:
        assert (followers, following) == (counted_followers, counted_following), user_id


async def test_repeated_concurrent_follows_make_one_edge(user, runtime, counters) -> None:
    a, _ = await user()
    b, _ = await user()
    await asyncio.gather(*(in_tx(runtime, "follow", a, b) for _ in range(10)), in_tx(runtime, "follow", b, a))
    rows = {row[0]: row for row in await counters()}
    assert rows[b][1:3] == (1, 1)
    assert rows[a][3:5] == (1, 1)
    assert rows[a][1:3] == (1, 1)


async def test_relationships_batch(client, user) -> None:
    me, h = await user()
    followed, _ = await user()
    blocker, k = await user()
    await client.post(f"{P}/{followed}/follow", headers=h)
    await client.post(f"{P}/{me}/block", headers=k)
    ids = ",".join(str(i) for i in (followed, blocker, uuid.uuid4(), followed))
    items = (await client.get(f"{P}/relationships", params={"ids": ids}, headers=h)).json()["items"]
    # Unknown users and users blocking the caller are left out; duplicates collapse.
    assert [(i["userId"], i["relationship"]["following"]) for i in items] == [(str(followed), True)]
    too_many = ",".join(str(uuid.uuid4()) for _ in range(101))
    assert (await client.get(f"{P}/relationships", params={"ids": too_many}, headers=h)).status_code == 422
    assert (await client.get(f"{P}/relationships", params={"ids": "nope"}, headers=h)).status_code == 422


async def test_follow_actions_are_rate_limited(client, user) -> None:
    _, h = await user()
    target, _ = await user()
    for _ in range(200):
        assert (await client.post(f"{P}/{target}/follow", headers=h)).status_code == 200
    over = await client.post(f"{P}/{target}/follow", headers=h)
    assert over.status_code == 429
    assert over.json()["code"] == "rate_limited"
    assert int(over.headers["retry-after"]) > 0
    # Another user is not affected.
    _, other = await user()
    assert (await client.post(f"{P}/{target}/follow", headers=other)).status_code == 200


async def test_following_cap_holds_under_concurrency(user, runtime) -> None:
    actor, _ = await user()
    targets = [(await user())[0] for _ in range(6)]
    refused: list[str] = []

    async def try_follow(target: uuid.UUID) -> None:
        try:
            async with runtime.database().sessions() as session, session.begin():
                await relations.follow(
                    actor=actor, target=target, store=SqlProfileStore(session),
                    outbox=SqlOutbox(session, tables), clock=SystemClock(), max_following=3,
                )  # fmt: skip
        except RateLimited as exc:
            refused.append(exc.code)

    await asyncio.gather(*(try_follow(t) for t in targets))
    assert refused == ["rate_limited"] * 3
    async with runtime.database().sessions() as session:
        assert (await SqlProfileStore(session).get(actor)).following_count == 3  # type: ignore[union-attr]
