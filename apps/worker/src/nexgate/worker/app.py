"""The worker: one FastStream app for the contexts named in ``NEXGATE_CONTEXTS``.

Run alone with ``nexgate worker`` (or ``faststream run --factory
nexgate.worker.app:create_app``); the api hosts the same `Worker` in its own
process in all-in-one mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from faststream import FastStream
from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI

from nexgate.contracts import Contract, registered_contracts
from nexgate.kernel.contexts import ContextSpec, select_contexts
from nexgate.kernel.messaging.broker import context_exchange, make_broker, uncancelled
from nexgate.kernel.messaging.relay import OutboxRelay, OutboxSource, broker_publisher, prune_published
from nexgate.kernel.messaging.scheduler import Job, Scheduler
from nexgate.kernel.runtime import Runtime, build_runtime
from nexgate.kernel.settings import PlatformSettings, platform_settings

log = structlog.get_logger("nexgate.worker")
VERSION = "0.1.0"


def context_contracts(context: str) -> list[type[Contract]]:
    """The contracts a context publishes (its module in nexgate.contracts, if any)."""
    try:
        importlib.import_module(f"nexgate.contracts.{context}")
    except ModuleNotFoundError:
        return []
    return [cls for tag, cls in sorted(registered_contracts().items()) if cls.publisher_context() == context]


@dataclass
class Worker:
    runtime: Runtime
    broker: RabbitBroker
    contexts: Sequence[ContextSpec]
    relay: OutboxRelay
    scheduler: Scheduler
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def outbox_sources(self) -> list[OutboxSource]:
        return outbox_sources(self.runtime, self.contexts)

    async def start_background(self) -> None:
        """Once the broker is up: declare retry/dead-letter queues, run relay and scheduler."""
        await self.runtime.topology.declare(self.broker)
        self._tasks.append(asyncio.create_task(self.relay.run(), name="worker:relay"))
        self._tasks.append(asyncio.create_task(self.scheduler.run(), name="worker:scheduler"))
        self.connected.set()
        log.info("worker.started", contexts=[c.name for c in self.contexts])

    async def _connect(self) -> None:
        """Start the broker, retrying while RabbitMQ is down; the outbox buffers meanwhile."""
        delay = 0.5
        while True:
            try:
                await uncancelled(self.broker.start())
                break
            except Exception as exc:
                log.warning("worker.broker_unavailable", error=repr(exc), retry_in_s=delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)
        await self.start_background()

    async def start(self) -> None:
        """Start in the background: never blocks or fails because RabbitMQ is down."""
        self._tasks.append(asyncio.create_task(self._connect(), name="worker:connect"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.broker.stop()


def outbox_sources(runtime: Runtime, contexts: Sequence[ContextSpec]) -> list[OutboxSource]:
    return [OutboxSource(c.name, runtime.database(c.database), c.tables) for c in contexts]


def build_worker(
    settings: PlatformSettings | None = None,
    *,
    runtime: Runtime | None = None,
    contexts: Sequence[ContextSpec] | None = None,
) -> Worker:
    settings = settings or platform_settings()
    runtime = runtime or build_runtime(settings)
    contexts = list(contexts) if contexts is not None else select_contexts(settings.contexts)
    broker = make_broker(settings.rabbitmq_url)
    jobs: list[Job] = []
    for spec in contexts:
        if spec.router is not None:
            broker.include_router(spec.router(runtime))
        jobs.extend(spec.jobs(runtime))
        # Document what the relay publishes for this context (AsyncAPI "send" operations).
        for contract in context_contracts(spec.name):
            broker.publisher(
                exchange=context_exchange(runtime.naming, spec.name),
                routing_key=contract.tag(),
                title=f"{runtime.naming.exchange(spec.name)}:{contract.tag()}",
                description=(contract.__doc__ or "").strip() or None,
                schema=contract,
            )
    sources = outbox_sources(runtime, contexts)

    async def prune() -> None:
        await prune_published(sources, timedelta(days=7))

    jobs.append(Job("outbox.prune", 3600, prune))
    relay = OutboxRelay(
        sources,
        broker_publisher(broker, runtime.naming),
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
    )
    scheduler = Scheduler(jobs, runtime.redis, key_prefix=settings.redis_prefix)
    return Worker(runtime=runtime, broker=broker, contexts=contexts, relay=relay, scheduler=scheduler)


def asyncapi(worker: Worker, schema_version: str = "3.0.0") -> AsyncAPI:
    return AsyncAPI(
        worker.broker,
        title="Nexgate messages",
        version=VERSION,
        description="Facts the Nexgate contexts publish to RabbitMQ, and the queues that consume them.",
        schema_version=schema_version,
    )


def create_app() -> FastStream:
    """FastStream application factory (``faststream run --factory`` / ``docs gen --factory``)."""
    worker = build_worker()

    async def on_shutdown() -> None:
        await worker.stop()
        await worker.runtime.aclose()

    return FastStream(
        worker.broker,
        after_startup=[worker.start_background],
        on_shutdown=[on_shutdown],
        specification=asyncapi(worker),
    )
