"""Auth hot paths against their bare baselines, same process, same machine.

- **Token verification** (``ratio``): the kernel's `TokenVerifier.verify` plus the
  `SessionDenylist` lookup on the real Redis (what every authenticated request pays), against raw
  joserfc Ed25519 `jwt.decode` of the same token with the same key. Ratio = platform
  verifications/s / raw verifications/s.
- **Password verification**: the auth context's `Argon2Hasher.verify` (argon2-cffi in a worker
  thread so the event loop never blocks), against a bare `argon2.PasswordHasher.verify` called
  inline, both with the production parameters (argon2-cffi defaults).
- **HTTP login** (``login_ratio``): ``POST /api/v1/auth/login`` of the composed api (auth context,
  production argon2 parameters, a throwaway migrated database, real Redis) against a bare
  ``argon2.PasswordHasher.verify`` with the same parameters: what a whole login costs on top of
  its hash.
- **HTTP refresh** (``refresh_ratio``): ``POST /api/v1/auth/tokens/refresh`` (rotation: row lock,
  insert, update, new access token) against a bare Litestar app answering one JSON POST.
  Both HTTP paths are driven in process through Litestar's test client, one request at a time
  (the same client for the baseline), so the ratios compare the server-side work.

Run alone: ``uv run python bench/auth.py`` (JSON to stdout). Needs Redis and PostgreSQL (see
bench/README.md). Knobs: NEXGATE_BENCH_AUTH_TOKENS (3000 verifications per run),
NEXGATE_BENCH_AUTH_PASSWORDS (8 verifications per run), NEXGATE_BENCH_AUTH_LOGINS (6 logins per
run), NEXGATE_BENCH_AUTH_REFRESHES (150 refreshes per run). Two runs of each; argon2id with the
production parameters costs 0.25-0.5 s per verify on a busy 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import time
import uuid
from typing import Any

import argon2
from _services import (
    REDIS,
    REDIS_DB,
    bench_settings,
    delete_redis_prefix,
    drop_database,
    env_int,
    scratch_dir,
)
from joserfc import jwt
from redis.asyncio import Redis

from nexgate.auth.adapters.crypto.secrets import Argon2Hasher
from nexgate.kernel.security.keys import ALGORITHM, StaticKeySource, load_or_create_signing_key
from nexgate.kernel.security.revocation import SessionDenylist
from nexgate.kernel.security.tokens import TokenSigner, TokenVerifier

DESCRIPTION = (
    "kernel token verify + denylist vs raw joserfc Ed25519 verify; HTTP login vs bare argon2id "
    "verify; HTTP refresh vs bare Litestar JSON endpoint"
)
DATABASE = "nexgate_bench_auth"
PASSWORD = "correct horse battery staple"


async def _tokens(n: int) -> dict[str, object]:
    key = load_or_create_signing_key(scratch_dir("nexgate-bench-auth-") / "signing.json")
    token = TokenSigner(key, "nexgate", "nexgate").issue(uuid.uuid4(), uuid.uuid4(), roles=["user"])
    verifier = TokenVerifier(StaticKeySource([key]), "nexgate", "nexgate")
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    redis = Redis.from_url(f"{REDIS}/{REDIS_DB}")
    denylist = SessionDenylist(redis, prefix)
    raw_rates, platform_rates = [], []
    try:
        for _ in range(2):
            started = time.perf_counter()
            for _ in range(n):
                jwt.decode(token, key, algorithms=[ALGORITHM])
            raw_rates.append(n / (time.perf_counter() - started))
            started = time.perf_counter()
            for _ in range(n):
                principal = await verifier.verify(token)
                await denylist.is_revoked(principal.session_id)
            platform_rates.append(n / (time.perf_counter() - started))
    finally:
        await delete_redis_prefix(f"{REDIS}/{REDIS_DB}", prefix)
        await redis.aclose()
    raw, platform = statistics.mean(raw_rates), statistics.mean(platform_rates)
    return {
        "raw_per_s": [round(r, 1) for r in raw_rates],
        "platform_per_s": [round(r, 1) for r in platform_rates],
        "ratio": round(platform / raw, 4),
    }


async def _passwords(n: int) -> dict[str, object]:
    bare = argon2.PasswordHasher()
    stored = bare.hash("correct horse battery staple")
    hasher = Argon2Hasher(
        time_cost=bare.time_cost, memory_cost=bare.memory_cost, parallelism=bare.parallelism
    )
    raw_rates, platform_rates = [], []
    for _ in range(2):
        started = time.perf_counter()
        for _ in range(n):
            bare.verify(stored, "correct horse battery staple")
        raw_rates.append(n / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(n):
            assert await hasher.verify(stored, "correct horse battery staple")
        platform_rates.append(n / (time.perf_counter() - started))
    raw, platform = statistics.mean(raw_rates), statistics.mean(platform_rates)
    return {
        "parameters": {
            "time_cost": bare.time_cost,
            "memory_kib": bare.memory_cost,
            "parallelism": bare.parallelism,
        },
        "raw_per_s": [round(r, 2) for r in raw_rates],
        "platform_per_s": [round(r, 2) for r in platform_rates],
        "ratio": round(platform / raw, 4),
    }


def _bare_app() -> Any:
    from litestar import Litestar, post

    @post("/refresh", status_code=200)
    async def refresh(data: dict[str, str]) -> dict[str, str]:
        return {"accessToken": "a", "refreshToken": data.get("refreshToken", "")}

    return Litestar(route_handlers=[refresh])


def _http(logins: int, refreshes: int) -> dict[str, object]:
    """Login and refresh through the composed api, each against its bare baseline."""
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app
    from nexgate.auth import api as auth_api
    from nexgate.auth.bootstrap import context as auth_spec
    from nexgate.auth.settings import AuthSettings
    from nexgate.kernel.runtime import build_runtime
    from nexgate.kernel.sql.migrations import upgrade
    from nexgate.kernel.testing.services import recreate_database

    # The limits guard production; the benchmark signs in from one address as fast as it can.
    os.environ["NEXGATE_AUTH_LOGIN_PER_IP"] = "[1000000, 60]"
    os.environ["NEXGATE_AUTH_REFRESH_PER_SESSION"] = "[1000000, 60]"
    auth_settings = AuthSettings()
    settings = bench_settings(DATABASE, contexts="auth")
    device = {"deviceId": "bench-device-0001", "platform": "android"}
    bare_hasher = argon2.PasswordHasher(
        time_cost=auth_settings.argon2_time_cost,
        memory_cost=auth_settings.argon2_memory_kib,
        parallelism=auth_settings.argon2_parallelism,
    )
    stored = bare_hasher.hash(PASSWORD)

    async def prepare() -> None:
        await recreate_database(settings.database_url)
        await upgrade(settings.database_url, [auth_spec.migrations])
        runtime = build_runtime(settings)
        try:
            await auth_api.create_admin(runtime, "bench@example.com", PASSWORD)
        finally:
            await runtime.aclose()

    async def measure() -> dict[str, list[float]]:
        rates: dict[str, list[float]] = {"login": [], "argon2": [], "refresh": [], "bare": []}
        app = create_app(settings, contexts=[auth_spec])
        # One access-log line per request would be part of what is measured; the baseline has none.
        logging.getLogger("nexgate.access").setLevel(logging.WARNING)
        body = {"identifier": "bench@example.com", "password": PASSWORD, "device": device}
        headers = {"X-Device-Id": device["deviceId"]}
        async with AsyncTestClient(app) as client, AsyncTestClient(_bare_app()) as bare:
            signed = await client.post("/api/v1/auth/login", json=body)
            assert signed.status_code == 200, signed.text
            token = signed.json()["refreshToken"]
            for _ in range(20):  # warm up: connection pools, first-request code paths
                response = await client.post(
                    "/api/v1/auth/tokens/refresh", json={"refreshToken": token}, headers=headers
                )
                token = response.json()["refreshToken"]
                await bare.post("/refresh", json={"refreshToken": token}, headers=headers)
            for _ in range(2):
                started = time.perf_counter()
                for _ in range(logins):
                    response = await client.post("/api/v1/auth/login", json=body)
                    assert response.status_code == 200, response.text
                rates["login"].append(logins / (time.perf_counter() - started))
                started = time.perf_counter()
                for _ in range(logins):
                    bare_hasher.verify(stored, PASSWORD)
                rates["argon2"].append(logins / (time.perf_counter() - started))
                started = time.perf_counter()
                for _ in range(refreshes):
                    response = await client.post(
                        "/api/v1/auth/tokens/refresh", json={"refreshToken": token}, headers=headers
                    )
                    assert response.status_code == 200, response.text
                    token = response.json()["refreshToken"]
                rates["refresh"].append(refreshes / (time.perf_counter() - started))
                started = time.perf_counter()
                for _ in range(refreshes):
                    response = await bare.post("/refresh", json={"refreshToken": token}, headers=headers)
                    assert response.status_code == 200
                rates["bare"].append(refreshes / (time.perf_counter() - started))
        return rates

    asyncio.run(prepare())
    try:
        rates = asyncio.run(measure())
    finally:

        async def cleanup() -> None:
            await drop_database(settings.database_url)
            await delete_redis_prefix(settings.redis_url, settings.redis_prefix)

        asyncio.run(cleanup())
    mean = {name: statistics.mean(values) for name, values in rates.items()}
    return {
        "argon2_parameters": {
            "time_cost": auth_settings.argon2_time_cost,
            "memory_kib": auth_settings.argon2_memory_kib,
            "parallelism": auth_settings.argon2_parallelism,
        },
        "logins_per_s": [round(r, 2) for r in rates["login"]],
        "bare_argon2_verifies_per_s": [round(r, 2) for r in rates["argon2"]],
        "refreshes_per_s": [round(r, 1) for r in rates["refresh"]],
        "bare_litestar_json_per_s": [round(r, 1) for r in rates["bare"]],
        "login_ratio": round(mean["login"] / mean["argon2"], 4),
        "refresh_ratio": round(mean["refresh"] / mean["bare"], 4),
    }


def run() -> dict[str, object]:
    tokens = asyncio.run(_tokens(env_int("NEXGATE_BENCH_AUTH_TOKENS", 3000)))
    passwords = asyncio.run(_passwords(env_int("NEXGATE_BENCH_AUTH_PASSWORDS", 8)))
    http = _http(env_int("NEXGATE_BENCH_AUTH_LOGINS", 6), env_int("NEXGATE_BENCH_AUTH_REFRESHES", 150))
    return {
        "token_verification": tokens,
        "password_verification": passwords,
        "http": http,
        "ratios": {
            "token_verify_with_denylist_vs_raw_joserfc": tokens["ratio"],
            "argon2_off_loop_vs_inline": passwords["ratio"],
            "http_login_vs_bare_argon2id_verify": http["login_ratio"],
            "http_refresh_vs_bare_litestar_json": http["refresh_ratio"],
        },
        "login_ratio": http["login_ratio"],
        "login_ratio_definition": "HTTP logins/s / bare argon2id verifies/s (same parameters)",
        "refresh_ratio": http["refresh_ratio"],
        "refresh_ratio_definition": "HTTP refresh rotations/s / bare Litestar JSON POSTs/s",
        "ratio": tokens["ratio"],
        "ratio_definition": "kernel verify + Redis denylist lookups/s / raw joserfc Ed25519 decodes/s",
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
