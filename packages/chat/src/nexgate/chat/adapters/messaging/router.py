"""Consumers of the chat context: profiles' replicas, auth's sessions and deletions, files' media."""

from __future__ import annotations

import uuid

from faststream.rabbit import RabbitRouter
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.chat.adapters.sql.models import revoked_sessions, tables
from nexgate.chat.adapters.wiring import ChatWiring
from nexgate.chat.application import chat as use_cases
from nexgate.chat.domain.model import MediaItem
from nexgate.contracts.auth import SessionRevoked, UserDeactivated, UserDeleted, UserReactivated
from nexgate.contracts.files import FileDeleted, MediaFailed, MediaReady
from nexgate.contracts.profiles import (
    BlockCreated,
    BlockRemoved,
    FollowCreated,
    FollowRemoved,
    PrivacySettingsChanged,
    ProfileCreated,
    ProfileDeleted,
    ProfileUpdated,
)
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.runtime import Runtime

PURPOSE = "chat_attachment"


def build_router(runtime: Runtime) -> RabbitRouter:
    router = RabbitRouter()
    wiring = runtime.consumer_wiring("chat", tables)
    chat = ChatWiring(runtime)

    @consumer(router, wiring)
    async def on_block_created(message: BlockCreated, session: AsyncSession) -> None:
        await chat.unit(session).policy.block(message.blocker_id, message.blocked_id, message.occurred_at)

    @consumer(router, wiring)
    async def on_block_removed(message: BlockRemoved, session: AsyncSession) -> None:
        await chat.unit(session).policy.unblock(message.blocker_id, message.blocked_id)

    @consumer(router, wiring)
    async def on_follow_created(message: FollowCreated, session: AsyncSession) -> None:
        await chat.unit(session).policy.follow(message.follower_id, message.followee_id, message.occurred_at)

    @consumer(router, wiring)
    async def on_follow_removed(message: FollowRemoved, session: AsyncSession) -> None:
        await chat.unit(session).policy.unfollow(message.follower_id, message.followee_id)

    @consumer(router, wiring)
    async def on_privacy_settings_changed(message: PrivacySettingsChanged, session: AsyncSession) -> None:
        await chat.unit(session).policy.set_privacy(
            message.user_id, message.who_can_message, message.show_activity, message.version
        )

    async def profile(message: ProfileCreated | ProfileUpdated, session: AsyncSession) -> None:
        avatar = message.avatar
        await chat.unit(session).policy.set_profile(
            message.user_id,
            username=message.username,
            display_name=message.display_name,
            avatar_url=avatar.url if avatar else None,
            avatar_blurhash=avatar.blurhash if avatar else None,
            deactivated=message.deactivated,
            version=message.version,
        )

    @consumer(router, wiring)
    async def on_profile_created(message: ProfileCreated, session: AsyncSession) -> None:
        await profile(message, session)

    @consumer(router, wiring)
    async def on_profile_updated(message: ProfileUpdated, session: AsyncSession) -> None:
        await profile(message, session)

    @consumer(router, wiring)
    async def on_profile_deleted(message: ProfileDeleted, session: AsyncSession) -> None:
        await chat.unit(session).policy.drop_profile(message.user_id)

    @consumer(router, wiring)
    async def on_user_deactivated(message: UserDeactivated, session: AsyncSession) -> None:
        await chat.unit(session).policy.set_account_deactivated(message.user_id, True)

    @consumer(router, wiring)
    async def on_user_reactivated(message: UserReactivated, session: AsyncSession) -> None:
        await chat.unit(session).policy.set_account_deactivated(message.user_id, False)

    @consumer(router, wiring)
    async def on_session_revoked(message: SessionRevoked, session: AsyncSession) -> None:
        """Records the revoked session and closes its sockets on every replica (code 4403)."""
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
        await chat.bus.session_revoked(message.user_id, message.session_id)

    @consumer(router, wiring)
    async def on_user_deleted(message: UserDeleted, session: AsyncSession) -> None:
        unit = chat.unit(session)
        attachments, others = await unit.store.erase_user(message.user_id, message.occurred_at)
        for conversation_id in sorted({row.conversation_id for row in others}):
            audience = [row.user_id for row in others if row.conversation_id == conversation_id]
            await unit.events.append(
                audience, use_cases.CONVERSATION_UPDATED, {"conversationId": conversation_id}
            )
        for message_id, file_id in attachments:
            await chat.media.detach([file_id], message_id)
        chat.announce_after_commit(session, unit)

    @consumer(router, wiring)
    async def on_media_ready(message: MediaReady, session: AsyncSession) -> None:
        if message.purpose != PURPOSE:
            return
        unit = chat.unit(session)
        item = MediaItem(
            file_id=message.file_id, kind=message.kind, status="ready", mime_type=message.mime_type,
            width=message.width, height=message.height, duration_ms=message.duration_ms,
            blurhash=message.blurhash,
        )  # fmt: skip
        await use_cases.media_ready(file_id=message.file_id, item=item, store=unit.store, events=unit.events)
        chat.announce_after_commit(session, unit)

    async def media_gone(file_id: uuid.UUID, status: str, session: AsyncSession) -> None:
        unit = chat.unit(session)
        await use_cases.media_status(file_id=file_id, status=status, store=unit.store, events=unit.events)
        chat.announce_after_commit(session, unit)

    @consumer(router, wiring)
    async def on_media_failed(message: MediaFailed, session: AsyncSession) -> None:
        if message.purpose == PURPOSE:
            await media_gone(message.file_id, "failed", session)

    @consumer(router, wiring)
    async def on_file_deleted(message: FileDeleted, session: AsyncSession) -> None:
        if message.purpose == PURPOSE:
            await media_gone(message.file_id, "deleted", session)

    return router
