"""Pytest fixtures on the real PostgreSQL, Redis, RabbitMQ and a SeaweedFS S3 server.

Isolation by construction, also between test runs that share the machine:
- one database per pytest process (``nexgate_test_<worker>_<pid>``), migrated
  once with the real Alembic migrations of every installed context, emptied
  before each test and dropped at the end (or by the next run if this one died);
- one Redis key prefix per test, its keys deleted afterwards;
- one broker namespace per test, its queues and exchanges deleted afterwards;
- one SeaweedFS S3 server per worker, started only if a test asks for it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from nexgate.kernel.contexts import ContextSpec, available_contexts
from nexgate.kernel.runtime import Runtime, build_runtime
from nexgate.kernel.security.keys import load_or_create_signing_key
from nexgate.kernel.security.tokens import TokenSigner
from nexgate.kernel.settings import PlatformSettings
from nexgate.kernel.sql.migrations import upgrade
from nexgate.kernel.testing.services import (
    S3Server,
    delete_broker_names,
    drop_database,
    drop_orphan_test_databases,
    recreate_database,
    seaweedfs,
    truncate_schemas,
)

PG = os.environ.get("NEXGATE_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("NEXGATE_TEST_REDIS", "redis://127.0.0.1:6379")
RABBITMQ = os.environ.get("NEXGATE_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def contexts() -> dict[str, ContextSpec]:
    """Every installed context, the template included: all are migrated and testable."""
    return available_contexts()


@pytest.fixture(scope="session")
def base_settings(worker_id: str, tmp_path_factory: pytest.TempPathFactory) -> PlatformSettings:
    run = uuid.uuid4().hex[:6]
    keys = tmp_path_factory.mktemp("keys")
    database = f"nexgate_test_{worker_id}_{os.getpid()}"
    return PlatformSettings(
        environment="test",
        contexts="all",
        database_url=f"{PG}/{database}",
        notifications_database_url=f"{PG}/{database}_notifications",
        # Redis db 0 is left to `just dev`.
        redis_url=f"{REDIS}/1",
        redis_prefix=f"test:{run}:",
        rabbitmq_url=RABBITMQ,
        messaging_namespace=f"test.{run}.",
        retry_delays_ms=[50, 100],
        relay_poll_interval_s=0.2,
        embedded_worker=False,
        log_format="console",
        log_level="WARNING",
        signing_key_file=keys / "jwt-signing.json",
        data_dir=tmp_path_factory.mktemp("data"),
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def migrated(base_settings: PlatformSettings, contexts: dict[str, ContextSpec]) -> Iterator[PlatformSettings]:
    """Fresh databases for this process, upgraded with every context's real migrations."""
    urls = {"core": base_settings.database_url, "notifications": base_settings.notifications_database_url}

    async def setup() -> None:
        await drop_orphan_test_databases(PG)
        for url in urls.values():
            await recreate_database(url)
        for name, url in urls.items():
            locations = [spec.migrations for spec in contexts.values() if spec.database == name]
            await upgrade(url, locations)

    asyncio.run(setup())
    yield base_settings

    async def teardown() -> None:
        for url in urls.values():
            await drop_database(url)

    asyncio.run(teardown())


@pytest.fixture
async def settings(
    migrated: PlatformSettings, contexts: dict[str, ContextSpec]
) -> AsyncIterator[PlatformSettings]:
    """Per-test settings: empty tables, an empty Redis db and a broker namespace of its own."""
    schemas = {
        "core": [s.tables.schema for s in contexts.values() if s.database == "core"],
        "notifications": [s.tables.schema for s in contexts.values() if s.database == "notifications"],
    }
    await truncate_schemas(migrated.database_url, schemas["core"])
    if schemas["notifications"]:
        await truncate_schemas(migrated.notifications_database_url, schemas["notifications"])
    test_id = uuid.uuid4().hex[:8]
    prefix = f"{migrated.redis_prefix}{test_id}:"
    yield migrated.model_copy(
        update={"messaging_namespace": f"{migrated.messaging_namespace}{test_id}.", "redis_prefix": prefix}
    )
    redis = Redis.from_url(migrated.redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
async def runtime(settings: PlatformSettings, contexts: dict[str, ContextSpec]) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        await delete_broker_names(
            settings.rabbitmq_url, runtime.topology, [runtime.naming.exchange(name) for name in contexts]
        )
        await runtime.aclose()


@pytest.fixture
def signer(settings: PlatformSettings) -> TokenSigner:
    """Signs access tokens with the key the app under test verifies against."""
    return TokenSigner(
        load_or_create_signing_key(settings.signing_key_file), settings.jwt_issuer, settings.jwt_audience
    )


@pytest.fixture
def bearer(signer: TokenSigner):
    """``bearer(user_id)`` -> an Authorization header for a fresh session of that user."""

    def make(user_id: uuid.UUID | None = None, *, roles: tuple[str, ...] = ()) -> dict[str, str]:
        token = signer.issue(user_id or uuid.uuid4(), uuid.uuid4(), roles=roles)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
async def client(settings: PlatformSettings, contexts: dict[str, ContextSpec]) -> AsyncIterator[Any]:
    """An HTTP client for the composed api hosting every installed context (no embedded worker).

    The app builds its own Runtime: AsyncTestClient runs it on another event loop,
    and connection pools cannot cross loops.
    """
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app

    app = create_app(settings, contexts=list(contexts.values()))
    async with AsyncTestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


__all__ = ["Path"]
