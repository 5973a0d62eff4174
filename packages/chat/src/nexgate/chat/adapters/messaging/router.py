"""Consumers of the chat context: the blocks replica and revoked sessions."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.chat.adapters.realtime import RealtimeBus
from nexgate.chat.adapters.sql.models import revoked_sessions, tables
from nexgate.chat.adapters.sql.repository import SqlContactPolicy
from nexgate.contracts.auth import SessionRevoked
from nexgate.contracts.profiles import BlockCreated, BlockRemoved
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.runtime import Runtime


def build_router(runtime: Runtime) -> RabbitRouter:
    router = RabbitRouter()
    wiring = runtime.consumer_wiring("chat", tables)
    bus = RealtimeBus(runtime.redis, runtime.settings.redis_prefix)

    @consumer(router, wiring)
    async def on_block_created(message: BlockCreated, session: AsyncSession) -> None:
        await SqlContactPolicy(session).block(message.blocker_id, message.blocked_id, message.occurred_at)

    @consumer(router, wiring)
    async def on_block_removed(message: BlockRemoved, session: AsyncSession) -> None:
        await SqlContactPolicy(session).unblock(message.blocker_id, message.blocked_id)

    @consumer(router, wiring)
    async def on_session_revoked(message: SessionRevoked, session: AsyncSession) -> None:
        """Records the revoked session and closes its sockets on every replica (code 4401)."""
        await session.execute(
            insert(revoked_sessions)
            .values(
                session_id=message.session_id,
                user_id=message.user_id,
                reason=message.reason,
                revoked_at=message.occurred_at,
            )
            .on_conflict_do_nothing()
        )
        await bus.session_revoked(message.user_id, message.session_id)

    return router
