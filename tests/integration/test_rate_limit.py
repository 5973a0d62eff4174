"""Sliding-window rate limits on the real Redis: the limiter, and the guard over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from nexgate.kernel.errors import RateLimited
from nexgate.kernel.http.auth import PrincipalMiddleware, auth_state
from nexgate.kernel.http.problems import PROBLEM_MEDIA_TYPE, exception_handlers
from nexgate.kernel.http.ratelimit import RateLimiter, rate_limit


async def test_hits_within_the_limit_pass_and_the_next_is_refused(runtime, settings) -> None:
    limiter = RateLimiter(runtime.redis, prefix=settings.redis_prefix)
    for _ in range(5):
        await limiter.hit("login", "u:1", limit=5, window_s=60)

    with pytest.raises(RateLimited) as refused:
        await limiter.hit("login", "u:1", limit=5, window_s=60)
    assert 1 <= refused.value.retry_after <= 60
    assert refused.value.retry_after >= 59  # the oldest hit is a few ms old
    assert refused.value.code == "rate_limited"
    assert refused.value.extra == {"retryAfter": refused.value.retry_after}

    key = f"{settings.redis_prefix}rl:login:u:1"
    assert await runtime.redis.zcard(key) == 5  # the refused hit is not counted
    assert 0 < await runtime.redis.pttl(key) <= 60_000


async def test_the_window_slides(runtime, settings) -> None:
    limiter = RateLimiter(runtime.redis, prefix=settings.redis_prefix)
    await limiter.hit("otp", "u:1", limit=2, window_s=0.3)
    await limiter.hit("otp", "u:1", limit=2, window_s=0.3)
    with pytest.raises(RateLimited) as refused:
        await limiter.hit("otp", "u:1", limit=2, window_s=0.3)
    assert refused.value.retry_after == 1  # under a second left, rounded up

    await asyncio.sleep(0.4)
    await limiter.hit("otp", "u:1", limit=2, window_s=0.3)
    await limiter.hit("otp", "u:1", limit=2, window_s=0.3)
    with pytest.raises(RateLimited):
        await limiter.hit("otp", "u:1", limit=2, window_s=0.3)


async def test_identities_and_buckets_are_independent(runtime, settings) -> None:
    limiter = RateLimiter(runtime.redis, prefix=settings.redis_prefix)
    await limiter.hit("otp", "u:1", limit=1, window_s=60)
    with pytest.raises(RateLimited):
        await limiter.hit("otp", "u:1", limit=1, window_s=60)
    await limiter.hit("otp", "u:2", limit=1, window_s=60)
    await limiter.hit("login", "u:1", limit=1, window_s=60)
    # Another prefix (another deployment sharing the Redis) counts apart too.
    other = RateLimiter(runtime.redis, prefix=settings.redis_prefix + "other:")
    await other.hit("otp", "u:1", limit=1, window_s=60)


@get("/per-caller", guards=[rate_limit("test", limit=2, window_s=60)])
async def per_caller() -> dict[str, str]:
    return {"status": "ok"}


@get("/per-ip", guards=[rate_limit("test-ip", limit=2, window_s=60, per="ip")])
async def per_ip() -> dict[str, str]:
    return {"status": "ok"}


def guarded_app(settings: Any) -> Litestar:
    # Its own Redis client, used and closed on the app's event loop (AsyncTestClient runs
    # the app on a loop of its own).
    redis = Redis.from_url(settings.redis_url)

    async def close_redis() -> None:
        await redis.aclose()

    return Litestar(
        route_handlers=[per_caller, per_ip],
        middleware=[PrincipalMiddleware()],
        exception_handlers=exception_handlers(),
        state=State(
            {
                **auth_state(settings, redis),
                "rate_limiter": RateLimiter(redis, prefix=settings.redis_prefix),
            }
        ),
        on_shutdown=[close_redis],
    )


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert body["status"] == 429
    assert body["code"] == "rate_limited"
    assert body["type"] == "urn:nexgate:problem:rate_limited"
    assert body["extra"] == {"retryAfter": retry_after}


async def test_the_guard_answers_429_with_retry_after(settings, bearer) -> None:
    async with AsyncTestClient(guarded_app(settings)) as client:
        # Anonymous callers are counted per IP.
        for _ in range(2):
            passed = await client.get("/per-caller")
            assert passed.status_code == 200, passed.text
            assert passed.json() == {"status": "ok"}
        assert_rate_limited(await client.get("/per-caller"))

        # Signed-in callers are counted per user, apart from the anonymous count and each other.
        alice = uuid.uuid4()
        for _ in range(2):
            assert (await client.get("/per-caller", headers=bearer(alice))).status_code == 200
        # A new session of the same user shares the user's count.
        assert_rate_limited(await client.get("/per-caller", headers=bearer(alice)))
        assert (await client.get("/per-caller", headers=bearer())).status_code == 200


async def test_the_per_ip_guard_ignores_who_is_calling(settings, bearer) -> None:
    async with AsyncTestClient(guarded_app(settings)) as client:
        assert (await client.get("/per-ip", headers=bearer())).status_code == 200
        assert (await client.get("/per-ip", headers=bearer())).status_code == 200
        assert_rate_limited(await client.get("/per-ip", headers=bearer()))
        assert_rate_limited(await client.get("/per-ip"))
        # Another bucket on the same IP is untouched.
        assert (await client.get("/per-caller")).status_code == 200
