"""Operator views of the messaging pipeline: outbox lag, dead letters, replay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import aio_pika
import sqlalchemy as sa
from aio_pika.exceptions import ChannelClosed

from nexgate.kernel.messaging.consumer import ATTEMPT_HEADER, ERROR_HEADER
from nexgate.kernel.messaging.naming import Naming
from nexgate.kernel.messaging.relay import OutboxSource


@dataclass(frozen=True)
class OutboxLag:
    context: str
    pending: int
    oldest_pending_age: timedelta | None
    failing: int


@dataclass(frozen=True)
class DeadLetters:
    queue: str
    count: int
    last_error: str | None


async def outbox_lag(sources: Sequence[OutboxSource]) -> list[OutboxLag]:
    lags = []
    for source in sources:
        outbox = source.tables.outbox
        async with source.database.sessions() as session:
            row = (
                await session.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.now() - sa.func.min(outbox.c.created_at),
                        sa.func.count().filter(outbox.c.attempts > 0),
                    ).where(outbox.c.published_at.is_(None))
                )
            ).one()
        lags.append(OutboxLag(source.context, row[0], row[1], row[2]))
    return lags


async def dead_letters(rabbitmq_url: str, queues: Sequence[str]) -> list[DeadLetters]:
    """Depth of each consumer queue's dead-letter queue, with the error of the oldest dead letter."""
    found = []
    connection = await aio_pika.connect(rabbitmq_url, timeout=5)
    async with connection:
        for queue in queues:
            name = Naming.dead_letter_queue(queue)
            channel = await connection.channel()
            try:
                dlq = await channel.declare_queue(name, passive=True)
            except ChannelClosed:  # never declared: no consumer has run yet
                continue
            count = dlq.declaration_result.message_count or 0
            last_error = None
            if count:
                # Peek at one message and put it back, to show why messages die.
                message = await dlq.get(no_ack=False, fail=False)
                if message is not None:
                    last_error = str((message.headers or {}).get(ERROR_HEADER, "")) or None
                    await message.nack(requeue=True)
            found.append(DeadLetters(queue, count, last_error))
            await channel.close()
    return found


async def replay_dead_letters(rabbitmq_url: str, queue: str, limit: int | None = None) -> int:
    """Move dead letters back to their consumer queue with a fresh attempt count.

    At most the queue's depth at the start (or ``limit``): a message that fails again comes
    back to the dead-letter queue and must not be replayed in a loop. A publish the broker
    cannot route (the consumer queue is gone) raises before the dead letter is acked.
    """
    moved = 0
    connection = await aio_pika.connect(rabbitmq_url, timeout=5)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.declare_queue(queue, passive=True)
        dlq = await channel.declare_queue(Naming.dead_letter_queue(queue), passive=True)
        depth = dlq.declaration_result.message_count or 0
        limit = depth if limit is None else min(limit, depth)
        while moved < limit:
            message = await dlq.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = {
                k: v for k, v in (message.headers or {}).items() if k not in (ATTEMPT_HEADER, ERROR_HEADER)
            }
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    message_id=message.message_id,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
                mandatory=True,
            )
            await message.ack()
            moved += 1
    return moved
