"""Idempotent consumers with retry, backoff and a dead-letter queue.

Context code writes a plain effect::

    @consumer(router, wiring)
    async def on_note_created(message: NoteCreated, session: AsyncSession) -> None: ...

and gets: a durable queue bound to the publisher's exchange by the contract tag;
the message id claimed in the context's inbox in the same transaction as the
effect (a redelivery is a no-op); on failure a redelivery after each delay of
``retry_delays_ms`` through TTL retry queues, then the dead-letter queue. A
payload that does not decode is rejected and RabbitMQ dead-letters it at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_type_hints

import structlog
from faststream.middlewares import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitQueue, RabbitRouter
from faststream.rabbit.message import RabbitMessage
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.contracts import Contract
from nexgate.kernel.messaging.broker import context_exchange, current_delivery
from nexgate.kernel.messaging.naming import Naming
from nexgate.kernel.sql.database import Database
from nexgate.kernel.sql.outbox import OutboxTables, claim

ATTEMPT_HEADER = "x-nexgate-attempt"
ERROR_HEADER = "x-nexgate-error"
log = structlog.get_logger("nexgate.consumer")

C = TypeVar("C", bound=Contract)
Effect = Callable[[C, AsyncSession], Awaitable[None]]


@dataclass
class Topology:
    """Queues the consumers need besides their own: declared once the broker is up."""

    naming: Naming
    retry_delays_ms: Sequence[int]
    consumer_queues: list[str] = field(default_factory=list)

    def retry_queues(self, queue: str) -> list[RabbitQueue]:
        return [
            RabbitQueue(
                self.naming.retry_queue(queue, delay),
                durable=True,
                arguments={
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue,
                },
            )
            for delay in self.retry_delays_ms
        ]

    def dead_letter_queue(self, queue: str) -> RabbitQueue:
        return RabbitQueue(self.naming.dead_letter_queue(queue), durable=True)

    async def declare(self, broker: RabbitBroker) -> None:
        for queue in self.consumer_queues:
            await broker.declare_queue(self.dead_letter_queue(queue))
            for retry in self.retry_queues(queue):
                await broker.declare_queue(retry)


@dataclass
class ConsumerWiring:
    """What a context's consumers share: its database, inbox and the broker topology."""

    context: str
    database: Database
    tables: OutboxTables
    topology: Topology


def consumer(
    router: RabbitRouter, wiring: ConsumerWiring, *, name: str | None = None, include_in_schema: bool = True
) -> Callable[[Effect[Any]], Effect[Any]]:
    def decorate(effect: Effect[Any]) -> Effect[Any]:
        params = list(inspect.signature(effect).parameters)
        contract: type[Contract] = get_type_hints(effect)[params[0]]
        naming = wiring.topology.naming
        queue_name = naming.queue(wiring.context, name or effect.__name__)
        delays = list(wiring.topology.retry_delays_ms)
        queue = RabbitQueue(
            queue_name,
            durable=True,
            routing_key=contract.tag(),
            arguments={
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": naming.dead_letter_queue(queue_name),
            },
        )

        async def handle(body: Any) -> None:
            message, broker = current_delivery()
            try:
                async with wiring.database.sessions() as session, session.begin():
                    if await claim(session, wiring.tables, queue_name, body.id):
                        await effect(body, session)
                    else:
                        log.info("consumer.duplicate_skipped", queue=queue_name, message_id=str(body.id))
            except Exception as exc:
                await _retry_or_dead_letter(broker, message, queue_name, delays, exc)

        # FastStream reads the payload type from the annotation (msgspec decodes and
        # validates it, and AsyncAPI documents it); set it from the effect's contract.
        handle.__annotations__ = {"body": contract, "return": None}
        handle.__name__ = effect.__name__
        router.subscriber(
            queue,
            context_exchange(naming, contract.publisher_context()),
            ack_policy=AckPolicy.REJECT_ON_ERROR,
            title=f"{queue_name}:{contract.tag()}",
            description=inspect.getdoc(effect),
            include_in_schema=include_in_schema,
        )(handle)
        wiring.topology.consumer_queues.append(queue_name)
        return effect

    return decorate


async def _retry_or_dead_letter(
    broker: RabbitBroker,
    message: RabbitMessage,
    queue: str,
    delays: Sequence[int],
    exc: Exception,
) -> None:
    headers = dict(message.headers or {})
    failures = int(headers.get(ATTEMPT_HEADER, 0)) + 1
    headers[ATTEMPT_HEADER] = failures
    if failures <= len(delays):
        target = Naming.retry_queue(queue, delays[failures - 1])
        log.warning("consumer.retry", queue=queue, attempt=failures, error=repr(exc))
    else:
        target = Naming.dead_letter_queue(queue)
        headers[ERROR_HEADER] = repr(exc)[:1000]
        log.error("consumer.dead_lettered", queue=queue, attempts=failures, error=repr(exc))
    # If this publish fails the exception propagates, FastStream rejects the
    # message and the queue's dead-letter arguments still keep it.
    await broker.publish(
        message.body,
        queue=target,
        headers=headers,
        message_id=message.message_id,
        content_type=message.content_type or "application/json",
        persist=True,
    )
