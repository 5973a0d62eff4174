"""The outbox relay: publishes committed outbox rows, then marks them sent.

Rows are taken ``FOR UPDATE SKIP LOCKED`` and stay locked while they are
published and marked, so any number of relays can run side by side and no row
is published by two of them. A crash after publishing and before marking means
the row is published again by the next relay: delivery is at least once and
consumers deduplicate through their inbox. Relays wake on PostgreSQL NOTIFY
and poll as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import asyncpg
import sqlalchemy as sa
import structlog
from faststream.rabbit import RabbitBroker

from nexgate.kernel.messaging.broker import context_exchange
from nexgate.kernel.messaging.naming import Naming
from nexgate.kernel.sql.database import Database
from nexgate.kernel.sql.outbox import OUTBOX_CHANNEL, OutboxTables

log = structlog.get_logger("nexgate.relay")


class Publisher(Protocol):
    async def __call__(self, *, context: str, tag: str, message_id: str, body: bytes) -> None: ...


def broker_publisher(broker: RabbitBroker, naming: Naming) -> Publisher:
    """Publish to the context's topic exchange and wait for the broker's confirm."""

    async def publish(*, context: str, tag: str, message_id: str, body: bytes) -> None:
        await broker.publish(
            body,
            exchange=context_exchange(naming, context),
            routing_key=tag,
            message_id=message_id,
            content_type="application/json",
            persist=True,
            mandatory=False,
        )

    return publish


@dataclass(frozen=True)
class OutboxSource:
    context: str
    database: Database
    tables: OutboxTables


class OutboxRelay:
    def __init__(
        self,
        sources: Sequence[OutboxSource],
        publish: Publisher,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 2.0,
        before_mark: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._sources = list(sources)
        self._publish = publish
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        # Test seam: lets a test crash the relay between publishing and marking.
        self._before_mark = before_mark

    async def relay_batch(self, source: OutboxSource) -> int:
        """Publish one batch of ``source``'s pending rows; the number published."""
        outbox = source.tables.outbox
        async with source.database.sessions() as session, session.begin():
            rows = (
                await session.execute(
                    sa.select(outbox.c.id, outbox.c.tag, outbox.c.payload)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            published: list[object] = []
            failure: BaseException | None = None
            # Publish in id order and stop at the first failure, so a message is
            # never overtaken by a later one from the same context.
            for row in rows:
                try:
                    await self._publish(
                        context=source.context, tag=row.tag, message_id=str(row.id), body=row.payload
                    )
                except Exception as exc:
                    failure = exc
                    await session.execute(
                        sa.update(outbox)
                        .where(outbox.c.id == row.id)
                        .values(attempts=outbox.c.attempts + 1, last_error=repr(exc)[:1000])
                    )
                    break
                published.append(row.id)
            if self._before_mark is not None:
                await self._before_mark()
            if published:
                await session.execute(
                    sa.update(outbox).where(outbox.c.id.in_(published)).values(published_at=sa.func.now())
                )
        if failure is not None:
            log.warning("relay.publish_failed", context=source.context, error=repr(failure))
        return len(published)

    async def drain(self) -> int:
        """Relay until every source is empty or failing; the number published."""
        total = 0
        while True:
            counts = [await self.relay_batch(source) for source in self._sources]
            total += sum(counts)
            if not any(counts):
                return total

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay forever: on each NOTIFY, and at least every poll interval."""
        listeners = await self._listen()
        backoff = self._poll_interval_s
        try:
            while True:
                try:
                    self._wake.clear()
                    await self.drain()
                    backoff = self._poll_interval_s
                except Exception as exc:  # a database outage must not kill the relay
                    raise_if_cancelling()
                    log.warning("relay.cycle_failed", error=repr(exc))
                    backoff = min(backoff * 2, 30.0)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await self._wake.wait()
                raise_if_cancelling()
        finally:
            for conn in listeners:
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _listen(self) -> list[asyncpg.Connection]:
        connections = []
        for dsn in {source.database.libpq_dsn for source in self._sources}:
            try:
                conn = await asyncpg.connect(dsn, timeout=5)
                await conn.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
                connections.append(conn)
            except Exception as exc:  # polling still works without NOTIFY
                log.warning("relay.listen_failed", error=repr(exc))
        return connections


def raise_if_cancelling() -> None:
    """End a forever-loop whose cancellation was swallowed on the way.

    A cancel that lands while a library call is finishing can surface as that library's own
    error (aio-pika, asyncpg) or be lost in a race with a wake-up; the task is then still
    marked as cancelling but keeps looping, and whoever awaits it (``Worker.stop``) hangs.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def prune_published(sources: Sequence[OutboxSource], older_than: timedelta) -> int:
    """Delete outbox rows published, and inbox rows received, longer ago than ``older_than``.

    A redelivery older than that is not expected: the broker redelivers within minutes and
    dead letters are replayed by hand. Returns the number of rows deleted.
    """
    deleted = 0
    for source in sources:
        outbox, inbox = source.tables.outbox, source.tables.inbox
        async with source.database.sessions() as session, session.begin():
            for stmt in (
                sa.delete(outbox).where(
                    outbox.c.published_at.is_not(None),
                    outbox.c.published_at < sa.func.now() - older_than,
                ),
                sa.delete(inbox).where(inbox.c.received_at < sa.func.now() - older_than),
            ):
                deleted += (await session.execute(stmt)).rowcount or 0
    return deleted
