"""Outbox -> relay -> RabbitMQ -> inbox consumer, on the real services.

Uses the template context: writing a note records ``skeleton.note_created.v1``
in the outbox, and its consumer counts deliveries on the note, so
``deliveries == 1`` means "took effect exactly once".
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import msgspec
import pytest
import sqlalchemy as sa
from faststream.rabbit import RabbitRouter
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.contracts.skeleton import NoteCreated
from nexgate.kernel.clock import SystemClock
from nexgate.kernel.messaging.admin import dead_letters, outbox_lag, replay_dead_letters
from nexgate.kernel.messaging.consumer import ATTEMPT_HEADER, consumer
from nexgate.kernel.messaging.relay import OutboxRelay, broker_publisher
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.skeleton.adapters.sql.models import notes, tables
from nexgate.skeleton.adapters.sql.repository import SqlNoteRepository
from nexgate.skeleton.application.notes import write_note
from nexgate.skeleton.bootstrap import context as skeleton
from nexgate.worker.app import Worker, build_worker


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def write_notes(runtime: Runtime, count: int, author: uuid.UUID | None = None) -> list[uuid.UUID]:
    author = author or uuid.uuid4()
    ids = []
    async with runtime.database().sessions() as session, session.begin():
        for i in range(count):
            note = await write_note(
                author_id=author,
                text=f"note {i}",
                notes=SqlNoteRepository(session),
                outbox=SqlOutbox(session, tables),
                clock=SystemClock(),
            )
            ids.append(note.id)
    return ids


async def deliveries(runtime: Runtime) -> dict[uuid.UUID, int]:
    async with runtime.database().sessions() as session:
        return dict((await session.execute(sa.select(notes.c.id, notes.c.deliveries))).all())


async def unpublished(runtime: Runtime) -> int:
    async with runtime.database().sessions() as session:
        return await session.scalar(
            sa.select(sa.func.count())
            .select_from(tables.outbox)
            .where(tables.outbox.c.published_at.is_(None))
        )


@pytest.fixture
async def worker(settings, runtime) -> AsyncIterator[Worker]:
    """A worker hosting the template context; started by the test when it wants one."""
    worker = build_worker(settings, runtime=runtime, contexts=[skeleton])
    yield worker
    await worker.stop()


async def start(worker: Worker) -> None:
    await worker.broker.start()
    await worker.start_background()


async def test_request_to_consumer_round_trip(client, bearer, runtime, worker) -> None:
    response = await client.post("/api/v1/skeleton/notes", json={"text": "hello"}, headers=bearer())
    note_id = uuid.UUID(response.json()["id"])
    # The row and its message were committed together; nothing is published yet.
    assert await unpublished(runtime) == 1
    assert (await deliveries(runtime))[note_id] == 0

    await start(worker)

    async def delivered() -> bool:
        return (await deliveries(runtime))[note_id] == 1

    await eventually(delivered)
    assert await unpublished(runtime) == 0
    read = await client.get(f"/api/v1/skeleton/notes/{note_id}", headers=bearer())
    assert read.status_code == 404  # another user's token: still private


async def test_duplicate_delivery_takes_effect_once(runtime, worker) -> None:
    await start(worker)
    [note_id] = await write_notes(runtime, 1)
    await eventually(lambda: _delivered(runtime, note_id))
    async with runtime.database().sessions() as session:
        payload = await session.scalar(sa.select(tables.outbox.c.payload))
    # The broker redelivers (or a relay republishes) the very same message twice more.
    publish = broker_publisher(worker.broker, runtime.naming)
    for _ in range(2):
        await publish(context="skeleton", tag=NoteCreated.tag(), message_id="dup", body=payload)
    inbox_count = _inbox_count(runtime, 3)
    await eventually(inbox_count)
    await asyncio.sleep(0.3)
    assert (await deliveries(runtime))[note_id] == 1


def _inbox_count(runtime: Runtime, expected_seen: int) -> Callable[[], Awaitable[bool]]:
    """True once the consumer has processed ``expected_seen`` deliveries (duplicates included)."""
    seen: list[int] = []

    async def check() -> bool:
        async with runtime.database().sessions() as session:
            rows = await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox))
        seen.append(rows)
        # One inbox row whatever the number of deliveries; give duplicates time to arrive.
        return rows == 1 and len(seen) >= expected_seen

    return check


async def _delivered(runtime: Runtime, note_id: uuid.UUID, times: int = 1) -> bool:
    return (await deliveries(runtime)).get(note_id) == times


async def test_relay_crash_after_publish_loses_nothing_and_duplicates_nothing(runtime, worker) -> None:
    note_ids = await write_notes(runtime, 5)
    await start(worker)
    await worker.stop()  # no background relay: this test drives relays by hand
    await worker.broker.start()

    async def crash() -> None:
        raise RuntimeError("relay process killed before marking rows sent")

    crashing = OutboxRelay(
        worker.outbox_sources, broker_publisher(worker.broker, runtime.naming), before_mark=crash
    )
    with pytest.raises(RuntimeError):
        await crashing.drain()
    # The messages went out but the rows were not marked: they are still pending.
    assert await unpublished(runtime) == 5

    restarted = OutboxRelay(worker.outbox_sources, broker_publisher(worker.broker, runtime.naming))
    assert await restarted.drain() == 5
    assert await unpublished(runtime) == 0

    async def all_once() -> bool:
        counts = await deliveries(runtime)
        return all(counts[n] == 1 for n in note_ids)

    await eventually(all_once)
    await asyncio.sleep(0.3)  # let the second copies arrive: they must be no-ops
    assert set((await deliveries(runtime)).values()) == {1}


async def test_commit_without_relay_is_published_when_a_relay_starts(runtime, worker) -> None:
    """A crash between commit and publish: the committed rows wait in the outbox."""
    note_ids = await write_notes(runtime, 3)
    assert await unpublished(runtime) == 3
    await start(worker)

    async def all_once() -> bool:
        counts = await deliveries(runtime)
        return all(counts[n] == 1 for n in note_ids)

    await eventually(all_once)


async def test_two_relays_never_publish_the_same_row(runtime, worker) -> None:
    await write_notes(runtime, 300)
    await worker.broker.start()
    published: list[str] = []
    real = broker_publisher(worker.broker, runtime.naming)

    async def recording(**kwargs: object) -> None:
        await real(**kwargs)  # type: ignore[arg-type]
        published.append(str(kwargs["message_id"]))
        await asyncio.sleep(0)  # let the other relay run between publishes

    relays = [OutboxRelay(worker.outbox_sources, recording, batch_size=25) for _ in range(2)]
    counts = await asyncio.gather(*(relay.drain() for relay in relays))
    assert sum(counts) == 300
    assert len(published) == len(set(published)) == 300
    assert await unpublished(runtime) == 0


async def test_broker_down_keeps_messages_until_it_returns(runtime, worker, settings) -> None:
    await write_notes(runtime, 2)
    from nexgate.kernel.messaging.broker import make_broker

    down = make_broker("amqp://guest:guest@127.0.0.1:1/")
    relay = OutboxRelay(worker.outbox_sources, broker_publisher(down, runtime.naming))
    assert await relay.drain() == 0
    lag = {row.context: row for row in await outbox_lag(worker.outbox_sources)}["skeleton"]
    assert lag.pending == 2
    assert lag.failing == 1  # the first row records the failed attempt; order is kept
    await start(worker)
    await eventually(lambda: _all_published(runtime))


async def _all_published(runtime: Runtime) -> bool:
    return await unpublished(runtime) == 0


def failing_router(runtime: Runtime, calls: list[uuid.UUID], fail_times: int | None) -> RabbitRouter:
    """A consumer that fails ``fail_times`` times per message (forever when None)."""
    router = RabbitRouter()

    @consumer(router, runtime.consumer_wiring("skeleton", tables), name="flaky")
    async def flaky(message: NoteCreated, session: AsyncSession) -> None:
        calls.append(message.id)
        if fail_times is None or calls.count(message.id) <= fail_times:
            raise RuntimeError("downstream is failing")
        await SqlNoteRepository(session).record_delivery(message.note_id)

    return router


async def test_failed_consumer_retries_with_backoff_then_succeeds_once(runtime, worker, settings) -> None:
    calls: list[uuid.UUID] = []
    worker.broker.include_router(failing_router(runtime, calls, fail_times=2))
    await start(worker)
    [note_id] = await write_notes(runtime, 1)
    # The template's own consumer counts once, the flaky one once after two failures.
    await eventually(lambda: _delivered(runtime, note_id, times=2))
    assert len(calls) == 3
    await asyncio.sleep(0.3)
    assert (await deliveries(runtime))[note_id] == 2


async def test_consumer_that_keeps_failing_ends_in_dead_letter_queue(runtime, worker, settings) -> None:
    calls: list[uuid.UUID] = []
    worker.broker.include_router(failing_router(runtime, calls, fail_times=None))
    await start(worker)
    await write_notes(runtime, 1)
    queue = runtime.naming.queue("skeleton", "flaky")

    async def dead() -> bool:
        rows = {d.queue: d for d in await dead_letters(settings.rabbitmq_url, [queue])}
        return queue in rows and rows[queue].count == 1

    await eventually(dead)
    attempts = 1 + len(settings.retry_delays_ms)
    assert len(calls) == attempts
    [row] = await dead_letters(settings.rabbitmq_url, [queue])
    assert "downstream is failing" in (row.last_error or "")

    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(f"{queue}.dlq", passive=True)
        message = await dlq.get(no_ack=False)
        assert message.headers[ATTEMPT_HEADER] == attempts
        await message.nack(requeue=True)

    # An operator replays it: it gets a fresh round of attempts, then dies again.
    assert await replay_dead_letters(settings.rabbitmq_url, queue) == 1
    await eventually(lambda: _count_is(calls, 2 * attempts))
    await eventually(dead)


async def _count_is(calls: list[uuid.UUID], n: int) -> bool:
    return len(calls) == n


async def test_undecodable_message_is_dead_lettered_at_once(runtime, worker, settings) -> None:
    await start(worker)
    publish = broker_publisher(worker.broker, runtime.naming)
    await publish(context="skeleton", tag=NoteCreated.tag(), message_id="poison", body=b'{"not": "a note"}')
    queue = runtime.naming.queue("skeleton", "on_note_created")

    async def dead() -> bool:
        rows = await dead_letters(settings.rabbitmq_url, [queue])
        return bool(rows) and rows[0].count == 1

    await eventually(dead)
    async with runtime.database().sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox)) == 0


async def test_outbox_payload_is_the_contract_on_the_wire(runtime) -> None:
    [note_id] = await write_notes(runtime, 1)
    async with runtime.database().sessions() as session:
        row = (await session.execute(sa.select(tables.outbox))).one()
    message = msgspec.json.decode(row.payload, type=NoteCreated)
    assert message.note_id == note_id
    assert row.tag == "skeleton.note_created.v1"
    assert row.id == message.id
