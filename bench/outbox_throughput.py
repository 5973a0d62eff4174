"""Outbox -> relay -> RabbitMQ -> idempotent consumer, end to end, against raw aio-pika.

Platform path (the skeleton context, real code):
  1. N notes are written with the ``write_note`` use case (``SqlNoteRepository`` +
     ``SqlOutbox``), ``NEXGATE_BENCH_OUTBOX_BATCH`` notes per transaction, each with its
     ``NoteCreated`` outbox row. Not timed (reported as ``write``).
  2. A worker is built with ``build_worker`` for the skeleton context; its broker is
     started (declares and binds the consumer queue), then the clock starts and
     ``start_background`` runs the outbox relay and the ``on_note_created`` consumer
     (inbox claim + ``deliveries + 1`` in one transaction per message).
  3. The clock stops when every note has ``deliveries == 1`` (the database is polled).

Baseline, same process, same RabbitMQ, same message size: one aio-pika connection, a
durable topic exchange and a fresh durable queue, N persistent messages published one
at a time waiting for each publisher confirm (as the relay does), consumed concurrently
on a second channel with default prefetch (as FastStream's default), acking each one.
The two alternate (raw, outbox, raw, outbox, ..., raw: NEXGATE_BENCH_OUTBOX_ROUNDS
rounds, 2 by default, the notes rewritten each round); each rate is the mean of its runs.
For information only (not in the ratio) the same raw loop is also run with a relay
batch's worth of confirms in flight at once, to show what pipelining would buy.

Ratio = platform messages/s / raw aio-pika messages/s (higher is better; 1.0 would mean
the outbox, relay, inbox and database effect cost nothing over bare RabbitMQ).

Everything lives in a throwaway database (``nexgate_bench``, recreated, dropped at the
end), a broker namespace ``bench.<run>.`` (its queues and exchanges deleted at the end)
and a Redis key prefix ``bench:<run>:`` (deleted at the end).

Knobs: NEXGATE_BENCH_OUTBOX_N (2000), NEXGATE_BENCH_OUTBOX_ROUNDS (2),
NEXGATE_BENCH_OUTBOX_BATCH (100 notes per write transaction), NEXGATE_BENCH_OUTBOX_TEXT
(100 characters of note text), NEXGATE_BENCH_OUTBOX_TIMEOUT (300 s).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import aio_pika
import asyncpg
from _services import bench_settings, delete_redis_prefix, drop_database, env_float, env_int

DESCRIPTION = (
    "outbox -> relay -> RabbitMQ -> inbox consumer msgs/s vs raw aio-pika publish(confirm)+consume(ack)"
)
DATABASE = "nexgate_bench"
POLL_S = 0.025


def _note_text(i: int, length: int) -> str:
    head = f"bench note {i:07d} "
    return (head + "x" * max(0, length - len(head)))[: max(length, 1)]


async def _write_notes(database: Any, tables: Any, n: int, batch: int, text_len: int) -> dict[str, float]:
    from nexgate.kernel.clock import SystemClock
    from nexgate.kernel.sql.outbox import SqlOutbox
    from nexgate.skeleton.adapters.sql.repository import SqlNoteRepository
    from nexgate.skeleton.application.notes import write_note

    clock = SystemClock()
    author = uuid.uuid4()
    started = time.perf_counter()
    for start in range(0, n, batch):
        async with database.sessions() as session, session.begin():
            notes, outbox = SqlNoteRepository(session), SqlOutbox(session, tables)
            for i in range(start, min(n, start + batch)):
                await write_note(
                    author_id=author, text=_note_text(i, text_len), notes=notes, outbox=outbox, clock=clock
                )
    seconds = time.perf_counter() - started
    return {
        "notes": n,
        "batch": batch,
        "seconds": round(seconds, 4),
        "notes_per_second": round(n / seconds, 1),
    }


async def _progress(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM skeleton.notes WHERE deliveries = 1) AS once,
          (SELECT count(*) FROM skeleton.notes WHERE deliveries > 1) AS more,
          (SELECT count(*) FROM skeleton.outbox WHERE published_at IS NULL) AS pending
        """
    )


async def _platform_run(settings: Any, spec: Any, n: int, timeout_s: float) -> dict[str, Any]:
    from nexgate.kernel.runtime import build_runtime
    from nexgate.kernel.testing.services import delete_broker_names
    from nexgate.worker.app import build_worker

    runtime = build_runtime(settings)
    worker = build_worker(settings, runtime=runtime, contexts=[spec])
    poller = await asyncpg.connect(runtime.database().libpq_dsn)
    try:
        await worker.broker.start()
        started = time.perf_counter()
        await worker.start_background()
        relayed_at: float | None = None
        while True:
            row = await _progress(poller)
            now = time.perf_counter()
            if relayed_at is None and row["pending"] == 0:
                relayed_at = now
            if row["once"] + row["more"] >= n:
                break
            if now - started > timeout_s:
                raise TimeoutError(f"only {row['once']} of {n} notes delivered after {timeout_s}s")
            await asyncio.sleep(POLL_S)
        seconds = now - started
        # Let late duplicates (there should be none) show up before counting them.
        await asyncio.sleep(0.5)
        final = await _progress(poller)
        relay_seconds = (relayed_at or now) - started
        return {
            "messages": n,
            "seconds": round(seconds, 4),
            "messages_per_second": round(n / seconds, 1),
            "relay_seconds": round(relay_seconds, 4),
            "relay_messages_per_second": round(n / relay_seconds, 1),
            "delivered_once": final["once"],
            "delivered_more_than_once": final["more"],
            "relay_batch_size": settings.relay_batch_size,
            "poll_resolution_s": POLL_S,
        }
    finally:
        await poller.close()
        await worker.stop()
        await delete_broker_names(
            settings.rabbitmq_url, runtime.topology, [runtime.naming.exchange(spec.name)]
        )
        await runtime.aclose()


async def _raw_run(
    url: str, namespace: str, label: str, n: int, body: bytes, tag: str, timeout_s: float, *, window: int = 1
) -> dict[str, Any]:
    """Publish ``n`` messages with ``window`` confirms in flight (1: wait for each); consume them."""
    connection = await aio_pika.connect(url, timeout=5)
    async with connection:
        publish_channel = await connection.channel(publisher_confirms=True)
        consume_channel = await connection.channel()
        exchange = await publish_channel.declare_exchange(
            f"{namespace}raw.{label}", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await consume_channel.declare_queue(f"{namespace}raw.{label}", durable=True)
        try:
            await queue.bind(exchange.name, routing_key=tag)
            received = 0
            done = asyncio.Event()

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                nonlocal received
                await message.ack()
                received += 1
                if received >= n:
                    done.set()

            def publish() -> Any:
                return exchange.publish(
                    aio_pika.Message(
                        body,
                        message_id=str(uuid.uuid4()),
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=tag,
                )

            started = time.perf_counter()
            consumer_tag = await queue.consume(on_message)
            for start in range(0, n, window):
                if window == 1:
                    await publish()
                else:
                    await asyncio.gather(*(publish() for _ in range(min(window, n - start))))
            published = time.perf_counter() - started
            await asyncio.wait_for(done.wait(), timeout_s)
            seconds = time.perf_counter() - started
            await queue.cancel(consumer_tag)
        finally:
            await queue.delete(if_unused=False, if_empty=False)
            await exchange.delete()
    return {
        "messages": n,
        "body_bytes": len(body),
        "seconds": round(seconds, 4),
        "messages_per_second": round(n / seconds, 1),
        "publish_seconds": round(published, 4),
        "confirms_in_flight": window,
    }


async def _main() -> dict[str, Any]:
    from nexgate.contracts.skeleton import NoteCreated
    from nexgate.kernel.logging import configure_logging
    from nexgate.kernel.sql.database import Database
    from nexgate.kernel.sql.migrations import upgrade
    from nexgate.kernel.testing.services import recreate_database, truncate_schemas
    from nexgate.skeleton.bootstrap import context as skeleton_spec

    n = env_int("NEXGATE_BENCH_OUTBOX_N", 2000)
    rounds = env_int("NEXGATE_BENCH_OUTBOX_ROUNDS", 2)
    batch = env_int("NEXGATE_BENCH_OUTBOX_BATCH", 100)
    text_len = env_int("NEXGATE_BENCH_OUTBOX_TEXT", 100)
    timeout_s = env_float("NEXGATE_BENCH_OUTBOX_TIMEOUT", 300.0)
    settings = bench_settings(DATABASE)
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    tag = NoteCreated.tag()
    ns = settings.messaging_namespace
    writes: list[dict[str, Any]] = []
    platform_runs: list[dict[str, Any]] = []
    raw_runs: list[dict[str, Any]] = []

    async def raw(label: str) -> None:
        result = await _raw_run(settings.rabbitmq_url, ns, label, n, body, tag, timeout_s)
        raw_runs.append(result)
        print(f"   raw aio-pika ({label}): {result['messages_per_second']} msgs/s", flush=True)

    try:
        await recreate_database(settings.database_url)
        await upgrade(settings.database_url, [skeleton_spec.migrations])
        # Alternate baseline and platform (A B A B ... A) so drift on a noisy machine hits both.
        for round_no in range(1, rounds + 1):
            await truncate_schemas(settings.database_url, [skeleton_spec.tables.schema])
            database = Database(settings.database_url)
            try:
                write = await _write_notes(database, skeleton_spec.tables, n, batch, text_len)
                async with database.engine.connect() as conn:
                    body = (
                        await conn.exec_driver_sql("SELECT payload FROM skeleton.outbox LIMIT 1")
                    ).scalar_one()
                    pg_version = (await conn.exec_driver_sql("SHOW server_version")).scalar_one()
            finally:
                await database.dispose()
            writes.append(write)
            print(
                f"   round {round_no}: wrote {n} notes in {write['seconds']}s; payload {len(body)} bytes",
                flush=True,
            )
            await raw(f"round{round_no}")
            platform = await _platform_run(settings, skeleton_spec, n, timeout_s)
            platform_runs.append(platform)
            print(
                f"   outbox end to end: {platform['messages_per_second']} msgs/s "
                f"(all rows relayed after {platform['relay_seconds']}s, "
                f"duplicates {platform['delivered_more_than_once']})",
                flush=True,
            )
        await raw("final")
        # Not part of the ratio: how fast the same broker goes when confirms are pipelined.
        window = settings.relay_batch_size
        raw_pipelined = await _raw_run(
            settings.rabbitmq_url, ns, "pipelined", n, body, tag, timeout_s, window=window
        )
        print(
            f"   raw aio-pika, {window} confirms in flight (info only, not in the ratio): "
            f"{raw_pipelined['messages_per_second']} msgs/s",
            flush=True,
        )
    finally:
        await drop_database(settings.database_url)
        await delete_redis_prefix(settings.redis_url, settings.redis_prefix)

    platform_rate = statistics.mean(r["messages_per_second"] for r in platform_runs)
    raw_rate = statistics.mean(r["messages_per_second"] for r in raw_runs)
    return {
        "parameters": {
            "messages": n,
            "rounds": rounds,
            "write_batch": batch,
            "note_text_chars": text_len,
            "payload_bytes": len(body),
            "relay_batch_size": settings.relay_batch_size,
            "postgres_version": pg_version,
        },
        "measurements": {
            "write": writes,
            "outbox_runs": platform_runs,
            "outbox_mean_messages_per_second": round(platform_rate, 1),
            "raw_aio_pika_runs": raw_runs,
            "raw_aio_pika_mean_messages_per_second": round(raw_rate, 1),
            "info_raw_aio_pika_pipelined_confirms": raw_pipelined,
        },
        "ratio": round(platform_rate / raw_rate, 4),
        "ratio_definition": "outbox end-to-end msgs/s / raw aio-pika msgs/s (means over the runs)",
    }


def run() -> dict[str, Any]:
    return asyncio.run(_main())


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, default=str))
