"""The one way to build a RabbitMQ broker: msgspec payloads, publisher confirms."""

from __future__ import annotations

import logging

from fast_depends.msgspec import MsgSpecSerializer
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange

from nexgate.kernel.messaging.naming import Naming


def make_broker(url: str, *, graceful_timeout: float = 10.0) -> RabbitBroker:
    # Publisher confirms are on by default in FastStream's channel settings; the
    # relay relies on them to mark a row sent only once the broker has it.
    return RabbitBroker(
        url,
        serializer=MsgSpecSerializer(),
        graceful_timeout=graceful_timeout,
        log_level=logging.DEBUG,
    )


def context_exchange(naming: Naming, publisher_context: str) -> RabbitExchange:
    return RabbitExchange(naming.exchange(publisher_context), type=ExchangeType.TOPIC, durable=True)
