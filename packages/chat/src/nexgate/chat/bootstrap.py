"""Wires the chat's adapters to the apps: the one place that knows both sides."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from nexgate.chat.adapters.http.plugin import ChatPlugin
from nexgate.chat.adapters.messaging.router import build_router
from nexgate.chat.adapters.sql import models
from nexgate.chat.adapters.wiring import ChatWiring
from nexgate.kernel.contexts import ContextSpec
from nexgate.kernel.messaging.scheduler import Job
from nexgate.kernel.runtime import Runtime


async def purge_events(chat: ChatWiring) -> int:
    """Retention of ``chat.user_events``: batches of old rows, each in its own short transaction."""
    cutoff = chat.clock.now() - timedelta(days=chat.settings.event_retention_days)
    total = 0
    while True:
        async with chat.runtime.database().sessions() as session, session.begin():
            deleted = await chat.unit(session).events.purge_older_than(cutoff)
        total += deleted
        if deleted == 0:
            return total


async def purge_cleared_history(chat: ChatWiring) -> int:
    """Messages every member cleared are deleted for good; their attachments released in files."""
    total = 0
    while True:
        async with chat.runtime.database().sessions() as session, session.begin():
            deleted, released = await chat.unit(session).store.purge_cleared()
        for message_id, file_id in released:
            await chat.media.detach([file_id], message_id)
        total += deleted
        if deleted == 0:
            return total


def jobs(runtime: Runtime) -> Sequence[Job]:
    chat = ChatWiring(runtime)
    return [
        Job("chat.purge_events", 3600, lambda: purge_events(chat)),
        Job("chat.purge_cleared_history", 3600, lambda: purge_cleared_history(chat)),
    ]


context = ContextSpec(
    name="chat",
    metadata=models.metadata,
    tables=models.tables,
    migrations=Path(models.__file__).parent / "migrations",
    http=ChatPlugin,
    router=build_router,
    jobs=jobs,
)
