"""Pytest fixtures on the real PostgreSQL, Redis, RabbitMQ and a SeaweedFS S3 server.

Isolation by construction:
- one database per pytest-xdist worker (``nexgate_test_<worker>``), migrated once
  with the real Alembic migrations of every installed context, emptied before
  each test;
- one Redis database per worker, flushed before each test;
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
    recreate_database,
    seaweedfs,
    truncate_schemas,
)

PG = os.environ.get("NEXGATE_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("NEXGATE_TEST_REDIS", "redis://127.0.0.1:6379")
RABBITMQ = os.environ.get("NEXGATE_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")


def _worker_index(worker_id: str) -> int:
    return int(worker_id[2:]) if worker_id.startswith("gw") else 0


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
    return PlatformSettings(
        environment="test",
        contexts="all",
        database_url=f"{PG}/nexgate_test_{worker_id}",
        notifications_database_url=f"{PG}/nexgate_test_{worker_id}_notifications",
        # Redis db 0 is left to `just dev`; workers take 1..15.
        redis_url=f"{REDIS}/{1 + _worker_index(worker_id) % 15}",
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
def migrated(base_settings: PlatformSettings, contexts: dict[str, ContextSpec]) -> PlatformSettings:
    """Fresh databases for this worker, upgraded with every context's real migrations."""

    async def setup() -> None:
        urls = {"core": base_settings.database_url, "notifications": base_settings.notifications_database_url}
        for url in urls.values():
            await recreate_database(url)
        for name, url in urls.items():
            locations = [spec.migrations for spec in contexts.values() if spec.database == name]
            await upgrade(url, locations)

    asyncio.run(setup())
    return base_settings


@pytest.fixture
async def settings(migrated: PlatformSettings, contexts: dict[str, ContextSpec]) -> AsyncIterator[PlatformSettings]:
    """Per-test settings: empty tables, an empty Redis db and a broker namespace of its own."""
    schemas = {
        "core": [s.tables.schema for s in contexts.values() if s.database == "core"],
        "notifications": [s.tables.schema for s in contexts.values() if s.database == "notifications"],
    }
    await truncate_schemas(migrated.database_url, schemas["core"])
    if schemas["notifications"]:
        await truncate_schemas(migrated.notifications_database_url, schemas["notifications"])
    redis = Redis.from_url(migrated.redis_url)
    await redis.flushdb()
    await redis.aclose()
    namespace = f"{migrated.messaging_namespace}{uuid.uuid4().hex[:8]}."
    yield migrated.model_copy(update={"messaging_namespace": namespace})


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
def bearer(signer: TokenSigner):  # noqa: ANN201 - a small factory
    """``bearer(user_id)`` -> an Authorization header for a fresh session of that user."""

    def make(user_id: uuid.UUID | None = None, *, roles: tuple[str, ...] = ()) -> dict[str, str]:
        token = signer.issue(user_id or uuid.uuid4(), uuid.uuid4(), roles=roles)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
async def client(settings: PlatformSettings, runtime: Runtime, contexts: dict[str, ContextSpec]) -> AsyncIterator[Any]:
    """An HTTP client for the composed api hosting every installed context (no embedded worker)."""
    from litestar.testing import AsyncTestClient

    from nexgate.api.asgi import create_app

    app = create_app(settings, runtime=runtime, contexts=list(contexts.values()))
    async with AsyncTestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


__all__ = ["Path"]
