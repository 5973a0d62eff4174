"""Consumers of the profiles context (each idempotent through the inbox): the auth lifecycle,
the avatar's files, and the facts behind the trust score."""

from __future__ import annotations

from faststream.rabbit import RabbitRouter
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.contracts.auth import (
    IdentifierChanged,
    IdentifierVerified,
    UserDeactivated,
    UserDeleted,
    UserReactivated,
    UserRegistered,
)
from nexgate.contracts.commerce import OrderCompleted
from nexgate.contracts.commerce import ReviewReceived as SellerReviewed
from nexgate.contracts.events import ReviewReceived as OrganizerReviewed
from nexgate.contracts.files import FileDeleted, MediaReady
from nexgate.contracts.social import ReportOverturned, ReportUpheld
from nexgate.kernel.messaging.consumer import consumer
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.media.files import FilesMediaResolver, pick_url
from nexgate.profiles.adapters.sql.models import tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application import profiles as use_cases
from nexgate.profiles.application import trust


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
    async def on_identifier_verified(message: IdentifierVerified, session: AsyncSession) -> None:
        """An address the account already had is now verified: the flag, and so the trust score."""
        await use_cases.identifier_verified(
            user_id=message.user_id,
            kind=message.kind,
            verified=True,
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
            user_id=message.user_id,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    media = FilesMediaResolver(runtime)

    @consumer(router, wiring)
    async def on_media_ready(message: MediaReady, session: AsyncSession) -> None:
        """A pending avatar became servable: show it (the previous file is detached)."""
        if message.purpose != "avatar":
            return
        await use_cases.avatar_ready(
            file_id=message.file_id,
            url=pick_url({v.name: v.url for v in message.variants if v.url}),
            blurhash=message.blurhash,
            media=media,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_file_deleted(message: FileDeleted, session: AsyncSession) -> None:
        if message.purpose != "avatar":
            return
        await use_cases.avatar_file_deleted(
            file_id=message.file_id,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_order_completed(message: OrderCompleted, session: AsyncSession) -> None:
        """Trust: a purchase for the buyer, a sale for the seller (distinct counterparties count)."""
        await trust.order_completed(
            order_id=message.order_id,
            buyer_id=message.buyer_id,
            seller_id=message.seller_id,
            completed_at=message.completed_at,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_seller_reviewed(message: SellerReviewed, session: AsyncSession) -> None:
        await trust.rating_received(
            user_id=message.seller_id,
            review_id=message.review_id,
            rating=message.rating,
            source="commerce",
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_organizer_reviewed(message: OrganizerReviewed, session: AsyncSession) -> None:
        await trust.rating_received(
            user_id=message.organizer_id,
            review_id=message.review_id,
            rating=message.rating,
            source="event",
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_report_upheld(message: ReportUpheld, session: AsyncSession) -> None:
        await trust.report_upheld(
            user_id=message.reported_user_id,
            report_id=message.report_id,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    @consumer(router, wiring)
    async def on_report_overturned(message: ReportOverturned, session: AsyncSession) -> None:
        await trust.report_overturned(
            user_id=message.reported_user_id,
            report_id=message.report_id,
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=clock,
        )

    return router
