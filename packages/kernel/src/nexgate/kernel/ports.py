"""Ports every context's application layer may depend on."""

from __future__ import annotations

from typing import Protocol

from nexgate.contracts import Contract


class MessageOutbox(Protocol):
    """Records messages to publish once the current transaction commits."""

    async def add(self, *messages: Contract) -> None: ...
