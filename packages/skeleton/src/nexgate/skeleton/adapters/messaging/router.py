"""Consumers of the skeleton context."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.contracts.skeleton import NoteCreated
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.runtime import Runtime
from nexgate.skeleton.adapters.sql.models import tables
from nexgate.skeleton.adapters.sql.repository import SqlNoteRepository
from nexgate.skeleton.application import notes as use_cases


def build_router(runtime: Runtime) -> RabbitRouter:
    router = RabbitRouter()
    wiring = runtime.consumer_wiring("skeleton", tables)

    @consumer(router, wiring)
    async def on_note_created(message: NoteCreated, session: AsyncSession) -> None:
        """Count the delivery on the note: proves each message takes effect exactly once."""
        await use_cases.note_delivered(message=message, notes=SqlNoteRepository(session))

    return router
