"""The one way to build a RabbitMQ broker: msgspec payloads, publisher confirms."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any, TypeVar

from fast_depends.msgspec import MsgSpecSerializer
from faststream import BaseMiddleware
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange
from faststream.rabbit.message import RabbitMessage

from nexgate.kernel.messaging.naming import Naming

T = TypeVar("T")
#: How long a cancelled connection attempt may still run before it is abandoned.
_ATTEMPT_GRACE_S = 10.0


_delivery: ContextVar[tuple[Any, Any]] = ContextVar("nexgate_delivery")


class DeliveryMiddleware(BaseMiddleware):
    """Makes the message being consumed, and its broker, available to `current_delivery`.

    Handlers could ask for them with ``Context("message")``, but FastStream resolves
    every ``Context()`` parameter in a worker thread: two thread hops per message
    measured as the largest cost of a consumer (bench/README.md).
    """

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        token = _delivery.set((msg, self.context.get("broker")))
        try:
            return await call_next(msg)
        finally:
            _delivery.reset(token)


def current_delivery() -> tuple[RabbitMessage, RabbitBroker]:
    """The message being consumed and the broker that delivered it (inside a handler)."""
    return _delivery.get()


def make_broker(url: str, *, graceful_timeout: float = 10.0) -> RabbitBroker:
    # Publisher confirms are on by default in FastStream's channel settings; the
    # relay relies on them to mark a row sent only once the broker has it.
    return RabbitBroker(
        url,
        serializer=MsgSpecSerializer(),
        graceful_timeout=graceful_timeout,
        log_level=logging.DEBUG,
        middlewares=[DeliveryMiddleware],
    )


def context_exchange(naming: Naming, publisher_context: str) -> RabbitExchange:
    return RabbitExchange(naming.exchange(publisher_context), type=ExchangeType.TOPIC, durable=True)


async def uncancelled(attempt: Awaitable[T]) -> T:
    """Await ``broker.connect()``/``broker.start()`` so that cancelling the caller ends it cleanly.

    A cancelled ``connect()`` leaves aio-pika's RobustConnection reconnect task running
    (it swallows later cancellation, so the event loop never closes) and the broker never
    learns of the connection, so ``broker.stop()`` cannot close it. On cancellation the
    attempt is therefore allowed to finish first; the caller then stops the broker.
    """
    task = asyncio.ensure_future(attempt)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        done, _ = await asyncio.wait({task}, timeout=_ATTEMPT_GRACE_S)
        if not done:
            task.cancel()
        elif not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it
        raise
