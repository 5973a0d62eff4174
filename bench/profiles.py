"""Profiles read paths against their bare baselines, same process, same machine.

A throwaway database is migrated with the profiles migrations and seeded with SEED users
(usernames ``mwanza00001``...), one of them followed by all the others.

- **Profile reads** (``ratio``): ``GET /api/v1/profiles/{userId}`` of the composed api (profiles
  context: bearer verification, denylist lookup, block check, relationship flags) against a bare
  Litestar app returning a JSON object of the same shape. Both through Litestar's in-process
  test client, one request at a time. Ratio = profile reads/s / bare JSON GETs/s.
- **Follow-list page** (``follow_page_ratio``): ``GET /api/v1/profiles/{userId}/followers?limit=50``
  against one raw asyncpg keyset query returning the same 50 rows (edge, username, display name).
- **Prefix search** (``search_ratio``): ``GET /api/v1/profiles/search?q=mwanza0&limit=20`` against
  the same prefix SQL (exact match first, then username order) through raw asyncpg.
  The search rate limit (60/min per caller) is spread over many callers' tokens.

Run alone: ``uv run python bench/profiles.py``. Knobs: NEXGATE_BENCH_PROFILES_SEED (400 users),
NEXGATE_BENCH_PROFILES_REQUESTS (200 requests per measure and run; two runs each).
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from _services import bench_settings, delete_redis_prefix, drop_database, env_int

DESCRIPTION = (
    "profiles: profile read with relationship vs bare Litestar JSON; follower page of 50 vs raw "
    "asyncpg keyset query; username prefix search vs the same raw SQL"
)
DATABASE = "nexgate_bench_profiles"

FOLLOW_PAGE_SQL = """
SELECT f.follower_id, f.created_at, f.id, p.username, p.display_name
FROM profiles.follows f JOIN profiles.profiles p ON p.user_id = f.follower_id
WHERE f.followee_id = $1 AND NOT p.deactivated
ORDER BY f.created_at DESC, f.id DESC LIMIT 51
"""
SEARCH_SQL = """
SELECT user_id, username, display_name FROM profiles.profiles
WHERE lower(username) LIKE $1 AND NOT deactivated
ORDER BY username <> $2, username COLLATE "C" LIMIT 21
"""


def _bare_app() -> Any:
    from litestar import Litestar, get

    @get("/profiles/{user_id:uuid}")
    async def read(user_id: uuid.UUID) -> dict[str, object]:
        return {
            "userId": str(user_id),
            "username": "mwanza00001",
            "displayName": "Mwanza 1",
            "bio": "",
            "relationship": dict.fromkeys(
                ("following", "followedBy", "requested", "requestedBy", "blocking", "muting"), False
            ),
            "followersCount": 1,
            "followingCount": 1,
            "trustScore": 0,
            "trustLevel": "new",
        }

    return Litestar(route_handlers=[read])


async def _seed(url: str, users: list[uuid.UUID]) -> None:
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        await conn.copy_records_to_table(
            "profiles",
            schema_name="profiles",
            columns=["user_id", "username", "display_name", "joined_at", "updated_at"],
            records=[(u, f"mwanza{i:05d}", f"Mwanza {i}", now, now) for i, u in enumerate(users, 1)],
        )
        star = users[0]
        await conn.copy_records_to_table(
            "follows",
            schema_name="profiles",
            columns=["follower_id", "followee_id", "id", "created_at"],
            records=[(u, star, uuid.uuid4(), now - timedelta(seconds=i)) for i, u in enumerate(users[1:])],
        )
        await conn.execute(
            "UPDATE profiles.profiles SET followers_count = $2 WHERE user_id = $1", star, len(users) - 1
        )
        await conn.execute("ANALYZE profiles.profiles; ANALYZE profiles.follows")
    finally:
        await conn.close()


def _rate(n: int, started: float) -> float:
    return n / (time.perf_counter() - started)


def run() -> dict[str, object]:
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app
    from nexgate.kernel.security.keys import load_or_create_signing_key
    from nexgate.kernel.security.tokens import TokenSigner
    from nexgate.kernel.sql.migrations import upgrade
    from nexgate.kernel.testing.services import recreate_database
    from nexgate.profiles.bootstrap import context as profiles_spec

    seed, n = env_int("NEXGATE_BENCH_PROFILES_SEED", 400), env_int("NEXGATE_BENCH_PROFILES_REQUESTS", 200)
    settings = bench_settings(DATABASE, contexts="profiles")
    raw_url = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    users = [uuid.uuid4() for _ in range(seed)]
    star, viewer = users[0], users[1]

    async def measure() -> dict[str, list[float]]:
        await recreate_database(settings.database_url)
        await upgrade(settings.database_url, [profiles_spec.migrations])
        await _seed(raw_url, users)
        signer = TokenSigner(
            load_or_create_signing_key(settings.signing_key_file), settings.jwt_issuer, settings.jwt_audience
        )
        me = {"Authorization": f"Bearer {signer.issue(viewer, uuid.uuid4())}"}
        # Search is limited to 60 a minute per caller: one caller per 50 searches.
        searchers = [
            {"Authorization": f"Bearer {signer.issue(u, uuid.uuid4())}"}
            for u in users[2 : 2 + 2 * n // 50 + 3]
        ]
        logging.getLogger("nexgate.access").setLevel(logging.WARNING)
        rates: dict[str, list[float]] = {
            k: [] for k in ("read", "bare", "page", "page_sql", "search", "search_sql")
        }
        app = create_app(settings, contexts=[profiles_spec])
        conn = await asyncpg.connect(raw_url)
        try:
            async with AsyncTestClient(app) as client, AsyncTestClient(_bare_app()) as bare:
                page_path = f"/api/v1/profiles/{star}/followers"
                for _ in range(10):  # warm up pools and first-request paths
                    assert (await client.get(f"/api/v1/profiles/{star}", headers=me)).status_code == 200
                    await bare.get(f"/profiles/{star}")
                    await client.get(page_path, params={"limit": 50}, headers=me)
                    await conn.fetch(FOLLOW_PAGE_SQL, star)
                    await conn.fetch(SEARCH_SQL, "mwanza0%", "mwanza0")
                used = 0
                for _ in range(2):
                    started = time.perf_counter()
                    for _ in range(n):
                        response = await client.get(f"/api/v1/profiles/{star}", headers=me)
                        assert response.status_code == 200, response.text
                    rates["read"].append(_rate(n, started))
                    started = time.perf_counter()
                    for _ in range(n):
                        assert (await bare.get(f"/profiles/{star}")).status_code == 200
                    rates["bare"].append(_rate(n, started))

                    started = time.perf_counter()
                    for _ in range(n):
                        response = await client.get(page_path, params={"limit": 50}, headers=me)
                        assert len(response.json()["items"]) == 50, response.text
                    rates["page"].append(_rate(n, started))
                    started = time.perf_counter()
                    for _ in range(n):
                        assert len(await conn.fetch(FOLLOW_PAGE_SQL, star)) == 51
                    rates["page_sql"].append(_rate(n, started))

                    started = time.perf_counter()
                    for i in range(n):
                        headers = searchers[(used + i) // 50]
                        response = await client.get(
                            "/api/v1/profiles/search", params={"q": "mwanza0", "limit": 20}, headers=headers
                        )
                        assert len(response.json()["items"]) == 20, response.text
                    used += n
                    rates["search"].append(_rate(n, started))
                    started = time.perf_counter()
                    for _ in range(n):
                        assert len(await conn.fetch(SEARCH_SQL, "mwanza0%", "mwanza0")) == 21
                    rates["search_sql"].append(_rate(n, started))
        finally:
            await conn.close()
        return rates

    try:
        rates = asyncio.run(measure())
    finally:

        async def cleanup() -> None:
            await drop_database(settings.database_url)
            await delete_redis_prefix(settings.redis_url, settings.redis_prefix)

        asyncio.run(cleanup())
    mean = {name: statistics.mean(values) for name, values in rates.items()}
    return {
        "seeded_users": seed,
        "requests_per_run": n,
        "profile_reads_per_s": [round(r, 1) for r in rates["read"]],
        "bare_litestar_json_per_s": [round(r, 1) for r in rates["bare"]],
        "follow_pages_per_s": [round(r, 1) for r in rates["page"]],
        "raw_keyset_queries_per_s": [round(r, 1) for r in rates["page_sql"]],
        "searches_per_s": [round(r, 1) for r in rates["search"]],
        "raw_search_queries_per_s": [round(r, 1) for r in rates["search_sql"]],
        "ratio": round(mean["read"] / mean["bare"], 4),
        "ratio_definition": "GET /profiles/{userId} with relationship reads/s / bare Litestar JSON GETs/s",
        "follow_page_ratio": round(mean["page"] / mean["page_sql"], 4),
        "follow_page_ratio_definition": (
            "GET /{userId}/followers?limit=50 pages/s / raw asyncpg keyset queries/s"
        ),
        "search_ratio": round(mean["search"] / mean["search_sql"], 4),
        "search_ratio_definition": (
            "GET /profiles/search?q= pages/s / the same prefix SQL through raw asyncpg/s"
        ),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
