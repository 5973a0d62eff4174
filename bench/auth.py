"""Auth hot paths against their bare library baselines, same process, same machine.

- **Token verification**: the kernel's `TokenVerifier.verify` plus the `SessionDenylist`
  lookup on the real Redis (what every authenticated request pays), against raw joserfc
  Ed25519 `jwt.decode` of the same token with the same key. Ratio = platform verifications/s
  / raw verifications/s.
- **Password verification**: the auth context's `Argon2Hasher.verify` (argon2-cffi run in a
  worker thread so the event loop never blocks), against a bare `argon2.PasswordHasher.verify`
  called inline, both with the production parameters (argon2-cffi defaults). This is the
  dominant cost of a login; the full HTTP login and refresh paths are not measured here.

Run alone: ``uv run python bench/auth.py`` (JSON to stdout). Needs Redis (see bench/README.md).
Knobs: NEXGATE_BENCH_AUTH_TOKENS (3000 verifications per run), NEXGATE_BENCH_AUTH_PASSWORDS
(20 verifications per run).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid

import argon2
from _services import REDIS, REDIS_DB, delete_redis_prefix, env_int, scratch_dir
from joserfc import jwt
from redis.asyncio import Redis

from nexgate.auth.adapters.crypto.secrets import Argon2Hasher
from nexgate.kernel.security.keys import ALGORITHM, StaticKeySource, load_or_create_signing_key
from nexgate.kernel.security.revocation import SessionDenylist
from nexgate.kernel.security.tokens import TokenSigner, TokenVerifier

DESCRIPTION = (
    "kernel token verify + denylist vs raw joserfc Ed25519 verify; argon2id verify off-loop vs inline"
)


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


def run() -> dict[str, object]:
    tokens = asyncio.run(_tokens(env_int("NEXGATE_BENCH_AUTH_TOKENS", 3000)))
    passwords = asyncio.run(_passwords(env_int("NEXGATE_BENCH_AUTH_PASSWORDS", 20)))
    return {
        "token_verification": tokens,
        "password_verification": passwords,
        "ratios": {
            "token_verify_with_denylist_vs_raw_joserfc": tokens["ratio"],
            "argon2_off_loop_vs_inline": passwords["ratio"],
        },
        "ratio": tokens["ratio"],
        "ratio_definition": "kernel verify + Redis denylist lookups/s / raw joserfc Ed25519 decodes/s",
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
