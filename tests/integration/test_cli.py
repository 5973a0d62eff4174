"""The `nexgate` operator command against the real services."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import msgspec
import pytest
from click.testing import CliRunner

from nexgate.api.cli import main
from nexgate.contracts.skeleton import NoteCreated
from nexgate.kernel.messaging.consumer import ERROR_HEADER
from nexgate.kernel.settings import platform_settings
from nexgate.skeleton.bootstrap import context as skeleton
from nexgate.worker.app import build_worker


@pytest.fixture
def nexgate(settings):
    """Run ``nexgate <args>`` in a thread with the test's settings in the environment."""
    env = {
        "NEXGATE_DATABASE_URL": settings.database_url,
        "NEXGATE_REDIS_URL": settings.redis_url,
        "NEXGATE_REDIS_PREFIX": settings.redis_prefix,
        "NEXGATE_RABBITMQ_URL": settings.rabbitmq_url,
        "NEXGATE_MESSAGING_NAMESPACE": settings.messaging_namespace,
        "NEXGATE_CONTEXTS": "skeleton",
        "NEXGATE_LOG_LEVEL": "WARNING",
    }

    async def run(*args: str):
        platform_settings.cache_clear()
        try:
            return await asyncio.to_thread(
                CliRunner(env=env).invoke, main, list(args), catch_exceptions=False
            )
        finally:
            platform_settings.cache_clear()

    return run


async def test_outbox_status_shows_dead_letters_and_replay_moves_them(nexgate, settings, runtime) -> None:
    worker = build_worker(settings, runtime=runtime, contexts=[skeleton])
    await worker.broker.start()
    await worker.runtime.topology.declare(worker.broker)
    await worker.broker.stop()  # queues exist; nobody consumes while we look
    queue = runtime.naming.queue("skeleton", "on_note_created")

    healthy = await nexgate("outbox", "status")
    assert healthy.exit_code == 0, healthy.output
    assert "skeleton" in healthy.output

    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        body = msgspec.json.encode(NoteCreated(note_id=uuid.uuid4(), author_id=None, text="x"))
        await channel.default_exchange.publish(
            aio_pika.Message(body, headers={ERROR_HEADER: "RuntimeError('boom')"}), routing_key=f"{queue}.dlq"
        )

    status = await nexgate("outbox", "status")
    assert status.exit_code == 1  # dead letters need an operator
    assert queue in status.output
    assert "boom" in status.output

    replayed = await nexgate("outbox", "replay", queue)
    assert replayed.exit_code == 0
    assert "replayed 1" in replayed.output
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        main_queue = await channel.declare_queue(queue, passive=True)
        dlq = await channel.declare_queue(f"{queue}.dlq", passive=True)
        assert main_queue.declaration_result.message_count == 1
        assert dlq.declaration_result.message_count == 0


async def test_migrate_is_idempotent_and_create_admin_needs_auth(nexgate) -> None:
    first = await nexgate("migrate")
    assert first.exit_code == 0, first.output
    assert "skeleton" in first.output
    assert (await nexgate("migrate")).exit_code == 0
    refused = await nexgate("create-admin", "--identifier", "+255712345678", "--password", "x" * 12)
    assert refused.exit_code != 0
    assert "auth" in refused.output
