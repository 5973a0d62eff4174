"""Wires the chat's adapters to the apps: the one place that knows both sides."""

from __future__ import annotations

from pathlib import Path

from nexgate.chat.adapters.http.plugin import ChatPlugin
from nexgate.chat.adapters.messaging.router import build_router
from nexgate.chat.adapters.sql import models
from nexgate.kernel.contexts import ContextSpec

context = ContextSpec(
    name="chat",
    metadata=models.metadata,
    tables=models.tables,
    migrations=Path(models.__file__).parent / "migrations",
    http=ChatPlugin,
    router=build_router,
)
