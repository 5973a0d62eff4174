"""Consumers of the files context: media processing (its own trigger) and account deletion."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.contracts.auth import UserDeleted
from nexgate.contracts.files import MediaUploaded
from nexgate.files.adapters.sql.models import tables
from nexgate.files.adapters.wiring import deps_for
from nexgate.files.application.processing import process_media
from nexgate.files.application.sessions import erase_account
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.runtime import Runtime


def build_router(runtime: Runtime) -> RabbitRouter:
    router = RabbitRouter()
    wiring = runtime.consumer_wiring("files", tables)

    @consumer(router, wiring)
    async def on_media_uploaded(message: MediaUploaded, session: AsyncSession) -> None:
        """Probe, validate and transcode an uploaded video or audio file (idempotent)."""
        # The inbox claim holds this message id while the file is processed; the results
        # commit in their own transactions, conditional on the file still processing.
        await process_media(file_id=message.file_id, deps=deps_for(runtime))

    @consumer(router, wiring)
    async def on_user_deleted(message: UserDeleted, session: AsyncSession) -> None:
        """An erased account: its quota, open upload sessions and every file (``file_deleted``
        reason ``account_deleted``, references or not) go at once."""
        await erase_account(owner_id=message.user_id, deps=deps_for(runtime))

    return router
