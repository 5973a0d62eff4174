"""Where the benchmarks find PostgreSQL, Redis and RabbitMQ, and how they clean up after themselves.

Override with NEXGATE_BENCH_PG (a SQLAlchemy URL without the database name),
NEXGATE_BENCH_REDIS (without the db number) and NEXGATE_BENCH_RABBITMQ.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from nexgate.kernel.settings import PlatformSettings

PG = os.environ.get("NEXGATE_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("NEXGATE_BENCH_REDIS", "redis://127.0.0.1:6379")
RABBITMQ = os.environ.get("NEXGATE_BENCH_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")
#: Redis db of the benchmarks; every key is under a per-run prefix and deleted afterwards.
REDIS_DB = int(os.environ.get("NEXGATE_BENCH_REDIS_DB", "0"))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def scratch_dir(prefix: str) -> Path:
    """A temporary directory removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def bench_settings(database: str, **overrides: object) -> PlatformSettings:
    """Settings of one benchmark run: its own database, Redis prefix and broker namespace."""
    run = uuid.uuid4().hex[:8]
    scratch = scratch_dir(f"nexgate-bench-{run}-")
    values: dict[str, object] = {
        "environment": "test",
        "contexts": "skeleton",
        "database_url": f"{PG}/{database}",
        "notifications_database_url": f"{PG}/{database}_notifications",
        "redis_url": f"{REDIS}/{REDIS_DB}",
        "redis_prefix": f"bench:{run}:",
        "rabbitmq_url": RABBITMQ,
        "messaging_namespace": f"bench.{run}.",
        "embedded_worker": False,
        "log_format": "json",
        "log_level": "WARNING",
        "signing_key_file": scratch / "jwt-signing.json",
        "data_dir": scratch / "data",
        **overrides,
    }
    return PlatformSettings(**values, _env_file=None)  # type: ignore[arg-type]


async def drop_database(url: str) -> None:
    target = make_url(url)
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def delete_redis_prefix(url: str, prefix: str) -> int:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    deleted = 0
    try:
        async for key in redis.scan_iter(match=f"{prefix}*", count=500):
            deleted += await redis.delete(key)
    finally:
        await redis.aclose()
    return deleted
