"""Username prefix search: exact match first, blocks both ways and deactivated users left out."""

from __future__ import annotations

import sqlalchemy as sa

from nexgate.kernel.clock import SystemClock
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.sql.models import tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application.profiles import set_deactivated

P = "/api/v1/profiles"


async def named(client, user, username: str):
    user_id, headers = await user()
    done = await client.put(f"{P}/me/username", json={"username": username}, headers=headers)
    assert done.status_code == 200, done.text
    return user_id, headers


async def search(client, headers, q: str, **params) -> list[str]:
    response = await client.get(f"{P}/search", params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [i["username"] for i in response.json()["items"]]


async def test_search_prefix_excludes_blocked_and_deactivated(client, user, runtime) -> None:
    _, viewer = await named(client, user, "wanjiru")
    for name in ("kitoz", "kito_b", "kito.a", "kito", "kitu"):
        await named(client, user, name)
    blocked, _ = await named(client, user, "kito.blocked")
    _, blocker = await named(client, user, "kito.blocker")
    gone, _ = await named(client, user, "kito.gone")
    await client.post(f"{P}/{blocked}/block", headers=viewer)
    me = (await client.get(f"{P}/me", headers=viewer)).json()["userId"]
    await client.post(f"{P}/{me}/block", headers=blocker)
    async with runtime.database().sessions() as session, session.begin():
        await set_deactivated(
            user_id=gone,
            deactivated=True,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=SystemClock(),
        )

    # Exact match first, then the rest in username order; case-insensitive.
    assert await search(client, viewer, "KITO") == ["kito", "kito.a", "kito_b", "kitoz"]
    assert await search(client, viewer, "kit") == ["kito", "kito.a", "kito_b", "kitoz", "kitu"]
    # `_` and `%` are literal characters, not patterns.
    assert await search(client, viewer, "kito_") == ["kito_b"]
    assert await search(client, viewer, "kit%") == []
    # Someone else (no blocks) sees the blocked and blocking users, never the deactivated one.
    _, neutral = await user()
    assert await search(client, neutral, "kito.b") == ["kito.blocked", "kito.blocker"]
    assert await search(client, neutral, "kito.g") == []

    # Pages of 2 walk the same list without gaps or duplicates.
    seen, cursor = [], None
    while True:
        params = {"q": "kit", "limit": 2} | ({"cursor": cursor} if cursor else {})
        body = (await client.get(f"{P}/search", params=params, headers=viewer)).json()
        seen += [i["username"] for i in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == ["kito", "kito.a", "kito_b", "kitoz", "kitu"]

    short = await client.get(f"{P}/search", params={"q": "k"}, headers=viewer)
    assert (short.status_code, short.json()["code"]) == (422, "query_too_short")


async def test_search_uses_the_prefix_index(runtime) -> None:
    async with runtime.database().sessions() as session:
        await session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            (
                await session.execute(
                    sa.text("EXPLAIN SELECT user_id FROM profiles.profiles WHERE lower(username) LIKE 'kit%'")
                )
            ).scalars()
        )
    assert "ix_profiles_username_prefix" in plan


async def test_search_is_rate_limited(client, user) -> None:
    _, headers = await user()
    statuses = [
        (await client.get(f"{P}/search", params={"q": "ab"}, headers=headers)).status_code for _ in range(61)
    ]
    assert statuses == [200] * 60 + [429]
