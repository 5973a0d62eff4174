"""Consumers of the profiles context: the auth lifecycle (each idempotent through the inbox)."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.contracts.auth import (
    IdentifierChanged,
    UserDeactivated,
    UserDeleted,
    UserReactivated,
    UserRegistered,
)
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.sql.models import tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application import profiles as use_cases


def build_router(runtime: Runtime) -> RabbitRouter:
    router = RabbitRouter()
    wiring = runtime.consumer_wiring("profiles", tables)
    clock = runtime.clock

    @consumer(router, wiring)
    async def on_user_registered(message: UserRegistered, session: AsyncSession) -> None:
        """Create the profile (or complete the one a first GET /me created)."""
        await use_cases.registered(
            user_id=message.user_id,
            display_name=message.display_name,
            requested_username=message.requested_username,
            email_verified=message.email_verified,
            phone_verified=message.phone_verified,
            registered_at=message.registered_at,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_identifier_changed(message: IdentifierChanged, session: AsyncSession) -> None:
        await use_cases.identifier_verified(
            user_id=message.user_id,
            kind=message.kind,
            verified=message.verified,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_user_deactivated(message: UserDeactivated, session: AsyncSession) -> None:
        await use_cases.set_deactivated(
            user_id=message.user_id,
            deactivated=True,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_user_reactivated(message: UserReactivated, session: AsyncSession) -> None:
        await use_cases.set_deactivated(
            user_id=message.user_id,
            deactivated=False,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_user_deleted(message: UserDeleted, session: AsyncSession) -> None:
        await use_cases.erase(
            user_id=message.user_id, store=SqlProfileStore(session), outbox=SqlOutbox(session, tables)
        )

    return router
