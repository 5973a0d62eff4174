"""The api: one Litestar app hosting the contexts named in ``NEXGATE_CONTEXTS``.

``granian --interface asgi --factory nexgate.api.asgi:create_app`` serves it.
In all-in-one mode (``NEXGATE_EMBEDDED_WORKER=true``, the default) the same
process also runs the worker: consumers, outbox relay and scheduler.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager

import structlog
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from faststream.rabbit import RabbitBroker
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from nexgate.api.docs import (
    asyncapi_2_document,
    asyncapi_document,
    asyncapi_page,
    docs_home,
    openapi_config,
    swagger_assets,
)
from nexgate.api.health import HealthController
from nexgate.kernel.contexts import ContextSpec, select_contexts
from nexgate.kernel.http.auth import PrincipalMiddleware, auth_state, provide_principal
from nexgate.kernel.http.idempotency import IdempotencyMiddleware, IdempotencyStore
from nexgate.kernel.http.problems import exception_handlers
from nexgate.kernel.http.ratelimit import RateLimiter
from nexgate.kernel.http.requests import RequestContextMiddleware, echo_request_id
from nexgate.kernel.logging import configure_logging
from nexgate.kernel.messaging.broker import make_broker, uncancelled
from nexgate.kernel.runtime import Runtime, build_runtime
from nexgate.kernel.settings import PlatformSettings, platform_settings
from nexgate.worker.app import build_worker

log = structlog.get_logger("nexgate.api")


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False


async def _keep_connecting(broker: RabbitBroker) -> None:
    """Connect the publishing broker, retrying while RabbitMQ is down."""
    delay = 0.5
    while True:
        try:
            await uncancelled(broker.connect())
            return
        except Exception as exc:
            log.warning("api.broker_unavailable", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0)


async def _bounded(step: Awaitable[object], name: str, timeout_s: float = 10.0) -> None:
    """Run a shutdown step, but never let a stuck connection hang the process on exit."""
    try:
        await asyncio.wait_for(step, timeout_s)
    except Exception as exc:
        log.warning("api.shutdown_step_failed", step=name, error=repr(exc))


def create_app(
    settings: PlatformSettings | None = None,
    *,
    runtime: Runtime | None = None,
    contexts: Sequence[ContextSpec] | None = None,
) -> Litestar:
    settings = settings or platform_settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    runtime = runtime or build_runtime(settings)
    hosted = list(contexts) if contexts is not None else select_contexts(settings.contexts)
    # Built in every mode (it is cheap): it also describes the messages for /docs/asyncapi.json.
    worker = build_worker(settings, runtime=runtime, contexts=hosted)
    broker = worker.broker if settings.embedded_worker else make_broker(settings.rabbitmq_url)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        connecting = None
        if settings.embedded_worker:
            await worker.start()
        else:
            connecting = asyncio.create_task(_keep_connecting(broker))
        try:
            yield
        finally:
            if connecting is not None:
                connecting.cancel()
                await _bounded(asyncio.wait([connecting]), "broker connect")
            await _bounded(worker.stop() if settings.embedded_worker else broker.stop(), "broker")
            await _bounded(runtime.aclose(), "runtime")

    database = SQLAlchemyAsyncConfig(
        engine_instance=runtime.database().engine,
        session_dependency_key="db_session",
        before_send_handler="autocommit",
        create_all=False,
        set_default_exception_handler=False,
    )
    metrics = PrometheusConfig(
        app_name="nexgate", prefix="nexgate", exclude=["/metrics", "/health"], group_path=True
    )
    state = {
        **auth_state(settings, runtime.redis),
        "idempotency": IdempotencyStore(
            runtime.redis, prefix=settings.redis_prefix, ttl_s=settings.idempotency_ttl_s
        ),
        "rate_limiter": RateLimiter(runtime.redis, prefix=settings.redis_prefix),
        "max_body_bytes": settings.max_body_bytes,
        "runtime": runtime,
        "worker_spec": worker,
    }
    return Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            swagger_assets,
            docs_home,
            asyncapi_document,
            asyncapi_2_document,
            asyncapi_page,
        ],
        plugins=[SQLAlchemyPlugin(config=database), *[spec.http(runtime) for spec in hosted if spec.http]],
        dependencies={
            "principal": Provide(provide_principal, sync_to_thread=False),
            "runtime": Provide(lambda: runtime, sync_to_thread=False),
            "clock": Provide(lambda: runtime.clock, sync_to_thread=False),
            "cursors": Provide(lambda: runtime.cursors, sync_to_thread=False),
            "broker": Provide(lambda: broker, sync_to_thread=False),
        },
        # Outermost first: request id and access log, metrics, who is calling, then idempotency.
        middleware=[
            RequestContextMiddleware(),
            metrics.middleware,
            PrincipalMiddleware(),
            IdempotencyMiddleware(),
        ],
        exception_handlers=exception_handlers(),
        openapi_config=openapi_config(),
        lifespan=[lifespan],
        state=State(state),
        request_max_body_size=settings.max_body_bytes,
        before_send=[echo_request_id],
        logging_config=None,
        debug=False,
    )
