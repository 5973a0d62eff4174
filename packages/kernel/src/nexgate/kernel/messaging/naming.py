"""Exchange and queue names (ARCHITECTURE.md section 3).

One durable topic exchange per publishing context, routing key = contract tag,
one durable queue per consuming handler, plus its retry and dead-letter queues.
``namespace`` prefixes every name so that test runs can share one broker.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Naming:
    namespace: str = ""

    def exchange(self, publisher_context: str) -> str:
        return f"{self.namespace}nexgate.{publisher_context}"

    def queue(self, consumer_context: str, handler: str) -> str:
        return f"{self.namespace}{consumer_context}.{handler}"

    @staticmethod
    def retry_queue(queue: str, delay_ms: int) -> str:
        # Named by delay, not attempt number: queue arguments cannot change once
        # declared, so a new delay setting must mean a new queue.
        return f"{queue}.retry.{delay_ms}ms"

    @staticmethod
    def dead_letter_queue(queue: str) -> str:
        return f"{queue}.dlq"
