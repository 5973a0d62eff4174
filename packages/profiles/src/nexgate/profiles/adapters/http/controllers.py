"""Thin controllers: decode, call a use case, encode."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import ValidationFailed
from nexgate.kernel.http.auth import requires_principal
from nexgate.kernel.http.ratelimit import rate_limit
from nexgate.kernel.pagination import CursorCodec, Page, validate_limit
from nexgate.kernel.security.principal import Principal
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.http.schemas import (
    AvailabilityOut,
    AvatarIn,
    FollowStateOut,
    ListedUserOut,
    MeOut,
    MuteIn,
    MuteOut,
    PrivacyIn,
    PrivacyOut,
    ProfileEditIn,
    ProfileOut,
    RelationshipItemOut,
    RelationshipOut,
    RelationshipsOut,
    SearchResultOut,
    TrustOut,
    UsernameIn,
)
from nexgate.profiles.adapters.sql.models import tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application import profiles as profile_cases
from nexgate.profiles.application import relations
from nexgate.profiles.application.trust import explain, score_of
from nexgate.profiles.domain.profiles import Link, Profile, normalize_username
from nexgate.profiles.ports import Cursor, ListedUser, MediaResolver

_CURSOR_TYPES = (datetime, uuid.UUID)
#: Follow actions per user (429 ``rate_limited`` beyond), as issue 5 sets them.
FOLLOWS_PER_HOUR = 200
FOLLOWS_PER_DAY = 1000
#: Availability checks and searches per caller (per IP when anonymous) and minute.
AVAILABILITY_PER_MINUTE = 30
SEARCHES_PER_MINUTE = 60


def _ports(db_session: AsyncSession) -> tuple[SqlProfileStore, SqlOutbox]:
    return SqlProfileStore(db_session), SqlOutbox(db_session, tables)


async def _page(
    cursors: CursorCodec,
    cursor: str | None,
    limit: int | None,
    fetch: Callable[[Cursor, int], Awaitable[list[ListedUser]]],
) -> Page[ListedUserOut]:
    size = validate_limit(limit)
    after = cursors.decode(cursor, _CURSOR_TYPES) if cursor else None
    found = await fetch(after, size)  # type: ignore[arg-type]
    page = Page.from_rows(found, size, key=lambda i: (i.edge.created_at, i.edge.id), codec=cursors)
    return Page(items=[ListedUserOut.of(i) for i in page.items], next_cursor=page.next_cursor)


async def _follow_page(
    kind: str,
    owner: uuid.UUID,
    principal: Principal,
    db_session: AsyncSession,
    cursors: CursorCodec,
    cursor: str | None,
    limit: int | None,
) -> Page[ListedUserOut]:
    """One page of ``owner``'s followers or following, as ``principal`` may see it."""
    store = SqlProfileStore(db_session)
    return await _page(
        cursors,
        cursor,
        limit,
        lambda after, size: relations.follow_list(
            viewer=principal.user_id, owner=owner, kind=kind, after=after, limit=size, store=store
        ),
    )


async def _me(profile: Profile, principal: Principal, store: SqlProfileStore, clock: Clock) -> MeOut:
    now = clock.now()
    result, inputs = await score_of(profile, store, now)
    return MeOut.of(
        profile, explain(viewer=principal, profile=profile, result=result, inputs=inputs, now=now)
    )


class MeController(Controller):
    path = "/api/v1/profiles/me"
    tags = ["profiles"]
    guards = [requires_principal]

    @get("/", summary="My profile (created on first call)")
    async def read(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> MeOut:
        store, outbox = _ports(db_session)
        profile = await profile_cases.ensure_profile(
            user_id=principal.user_id, store=store, outbox=outbox, clock=clock
        )
        return await _me(profile, principal, store, clock)

    @patch("/", summary="Change my display name, bio, location and links")
    async def edit(
        self,
        data: JSONBody[ProfileEditIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> MeOut:
        store, outbox = _ports(db_session)
        location: object = profile_cases.UNCHANGED
        if data.location is None:
            location = None
        elif not isinstance(data.location, msgspec.UnsetType):
            location = (data.location.label, data.location.country_code)
        edit = profile_cases.ProfileEdit(
            display_name=data.display_name,
            bio=data.bio,
            location=location,  # type: ignore[arg-type]
            links=tuple(Link(url=i.url, title=i.title) for i in data.links)
            if data.links is not None
            else None,
        )
        profile = await profile_cases.edit_profile(
            actor=principal.user_id, edit=edit, store=store, outbox=outbox, clock=clock
        )
        return await _me(profile, principal, store, clock)

    @put("/username", summary="Change my username (once per 14 days)")
    async def change_username(
        self,
        data: JSONBody[UsernameIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> MeOut:
        store, outbox = _ports(db_session)
        profile = await profile_cases.change_username(
            actor=principal.user_id, wanted=data.username, store=store, outbox=outbox, clock=clock
        )
        return await _me(profile, principal, store, clock)

    @put("/avatar", summary="Set my avatar to a file of mine (purpose avatar)")
    async def set_avatar(
        self,
        data: JSONBody[AvatarIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        profiles_media: NamedDependency[MediaResolver],
    ) -> MeOut:
        store, outbox = _ports(db_session)
        done = await profile_cases.set_avatar(
            actor=principal.user_id,
            file_id=data.file_id,
            media=profiles_media,
            store=store,
            outbox=outbox,
            clock=clock,
        )
        return await _me(done, principal, store, clock)

    @delete("/avatar", summary="Remove my avatar")
    async def clear_avatar(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        profiles_media: NamedDependency[MediaResolver],
    ) -> None:
        store, outbox = _ports(db_session)
        await profile_cases.clear_avatar(
            actor=principal.user_id, media=profiles_media, store=store, outbox=outbox, clock=clock
        )

    @get("/settings/privacy", summary="My privacy settings")
    async def read_privacy(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> PrivacyOut:
        store, outbox = _ports(db_session)
        return PrivacyOut.of(
            await profile_cases.ensure_profile(
                user_id=principal.user_id, store=store, outbox=outbox, clock=clock
            )
        )

    @patch("/settings/privacy", summary="Change my privacy settings")
    async def edit_privacy(
        self,
        data: JSONBody[PrivacyIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> PrivacyOut:
        store, outbox = _ports(db_session)
        edit = profile_cases.PrivacyEdit(
            is_private=data.is_private,
            who_can_message=data.who_can_message,
            who_can_mention=data.who_can_mention,
            show_activity=data.show_activity,
        )
        done = await profile_cases.edit_privacy(
            actor=principal.user_id, edit=edit, store=store, outbox=outbox, clock=clock
        )
        return PrivacyOut.of(done)

    @get("/follow-requests", summary="Follow requests addressed to me")
    async def incoming(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[ListedUserOut]:
        store = SqlProfileStore(db_session)
        return await _page(
            cursors,
            cursor,
            limit,
            lambda after, size: relations.request_list(
                actor=principal.user_id, sent=False, after=after, limit=size, store=store
            ),
        )

    @get("/follow-requests/sent", summary="Follow requests I sent")
    async def sent(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[ListedUserOut]:
        store = SqlProfileStore(db_session)
        return await _page(
            cursors,
            cursor,
            limit,
            lambda after, size: relations.request_list(
                actor=principal.user_id, sent=True, after=after, limit=size, store=store
            ),
        )

    @post("/follow-requests/{requester_id:uuid}/approve", status_code=204, summary="Approve a request to me")
    async def approve(
        self,
        requester_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> None:
        store, outbox = _ports(db_session)
        await relations.approve_request(
            actor=principal.user_id, requester=requester_id, store=store, outbox=outbox, clock=clock
        )

    @post("/follow-requests/{requester_id:uuid}/reject", status_code=204, summary="Reject a request to me")
    async def reject(
        self,
        requester_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        store, outbox = _ports(db_session)
        await relations.reject_request(
            actor=principal.user_id, requester=requester_id, store=store, outbox=outbox
        )

    @delete("/followers/{user_id:uuid}", summary="Remove one of my followers")
    async def remove_follower(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        store, outbox = _ports(db_session)
        await relations.remove_follower(actor=principal.user_id, follower=user_id, store=store, outbox=outbox)

    @get("/blocks", summary="Users I block")
    async def blocks(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[ListedUserOut]:
        store = SqlProfileStore(db_session)
        return await _page(
            cursors,
            cursor,
            limit,
            lambda after, size: relations.block_list(
                actor=principal.user_id, after=after, limit=size, store=store
            ),
        )

    @get("/mutes", summary="Users I mute (active mutes)")
    async def mutes(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> list[MuteOut]:
        found = await SqlProfileStore(db_session).active_mutes(principal.user_id, clock.now())
        return [
            MuteOut(
                user_id=m.muted_id,
                posts=m.posts,
                notifications=m.notifications,
                expires_at=m.expires_at,
                created_at=m.created_at,
            )
            for m in found
        ]


class UsernameController(Controller):
    path = "/api/v1/profiles/usernames"
    tags = ["profiles"]

    @get(
        "/{username:str}/availability",
        summary="Is this username free (for me)? With suggestions when it is not",
        guards=[rate_limit("profiles.username_availability", limit=AVAILABILITY_PER_MINUTE, window_s=60)],
    )
    async def availability(
        self,
        username: FromPath[str],
        request: Request,  # type: ignore[type-arg]
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> AvailabilityOut:
        # Anonymous callers may ask too (sign-up forms); a signed-in one may retake a held name.
        user = request.scope.get("user")
        viewer = user.user_id if isinstance(user, Principal) else None
        found = await profile_cases.username_availability(
            raw=username, viewer=viewer, store=SqlProfileStore(db_session), clock=clock
        )
        return AvailabilityOut.of(found)


class ProfileController(Controller):
    path = "/api/v1/profiles"
    tags = ["profiles"]
    guards = [requires_principal]

    @get(
        "/search",
        summary="Username prefix search (at least 2 characters; exact match first)",
        guards=[rate_limit("profiles.search", limit=SEARCHES_PER_MINUTE, window_s=60)],
    )
    async def search(
        self,
        q: FromQuery[str],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[SearchResultOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, (int, str)) if cursor else None
        rows = await relations.search(
            viewer=principal.user_id, query=q, after=after, limit=size, store=SqlProfileStore(db_session)
        )
        page = Page.from_rows(rows, size, key=lambda r: (r[0], r[1].username), codec=cursors)
        return Page(items=[SearchResultOut.of(p) for _, p in page.items], next_cursor=page.next_cursor)

    @get("/{user_id:uuid}/trust", summary="A user's trust score, explained")
    async def trust(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> TrustOut:
        store = SqlProfileStore(db_session)
        view = await relations.view_profile_by_id(viewer=principal.user_id, target=user_id, store=store)
        now = clock.now()
        result, inputs = await score_of(view.profile, store, now)
        return TrustOut.of(
            explain(viewer=principal, profile=view.profile, result=result, inputs=inputs, now=now)
        )

    @get("/relationships", summary="My relationship to each of up to 100 users (?ids=a,b,...)")
    async def relationships(
        self,
        ids: FromQuery[str],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> RelationshipsOut:
        try:
            parsed = [uuid.UUID(part) for part in ids.split(",") if part.strip()]
        except ValueError:
            raise ValidationFailed("ids must be comma-separated UUIDs.", code="invalid_ids") from None
        found = await relations.relationships_for(
            viewer=principal.user_id, ids=parsed, store=SqlProfileStore(db_session)
        )
        return RelationshipsOut(
            items=[
                RelationshipItemOut(user_id=i, relationship=RelationshipOut.of(f)) for i, f in found.items()
            ]
        )

    @get("/{user_id:uuid}", summary="A profile, with my relationship to it")
    async def read(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> ProfileOut:
        store = SqlProfileStore(db_session)
        view = await relations.view_profile_by_id(viewer=principal.user_id, target=user_id, store=store)
        return ProfileOut.of(view)

    @get("/by-username/{username:str}", summary="A profile by username (case-insensitive)")
    async def read_by_username(
        self,
        username: FromPath[str],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> ProfileOut:
        store = SqlProfileStore(db_session)
        target = await store.get_by_username(normalize_username(username))
        return ProfileOut.of(
            await relations.view_profile(viewer=principal.user_id, target=target, store=store)
        )

    @post(
        "/{user_id:uuid}/follow",
        status_code=200,
        summary="Follow, or ask to follow a private account",
        guards=[
            rate_limit("profiles.follow.hour", limit=FOLLOWS_PER_HOUR, window_s=3600),
            rate_limit("profiles.follow.day", limit=FOLLOWS_PER_DAY, window_s=86400),
        ],
    )
    async def follow(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> FollowStateOut:
        store, outbox = _ports(db_session)
        state = await relations.follow(
            actor=principal.user_id, target=user_id, store=store, outbox=outbox, clock=clock
        )
        return FollowStateOut(state=state)

    @delete("/{user_id:uuid}/follow", summary="Unfollow, or cancel my request")
    async def unfollow(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> None:
        store, outbox = _ports(db_session)
        await relations.unfollow(
            actor=principal.user_id, target=user_id, store=store, outbox=outbox, clock=clock
        )

    @get("/{user_id:uuid}/followers", summary="Followers, newest first")
    async def followers(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[ListedUserOut]:
        return await _follow_page("followers", user_id, principal, db_session, cursors, cursor, limit)

    @get("/{user_id:uuid}/following", summary="Who this user follows, newest first")
    async def following(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[ListedUserOut]:
        return await _follow_page("following", user_id, principal, db_session, cursors, cursor, limit)

    @post("/{user_id:uuid}/block", status_code=204, summary="Block a user")
    async def block(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> None:
        store, outbox = _ports(db_session)
        await relations.block(
            actor=principal.user_id, target=user_id, store=store, outbox=outbox, clock=clock
        )

    @delete("/{user_id:uuid}/block", summary="Unblock a user")
    async def unblock(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        store, outbox = _ports(db_session)
        await relations.unblock(actor=principal.user_id, target=user_id, store=store, outbox=outbox)

    @post("/{user_id:uuid}/mute", status_code=204, summary="Mute a user's posts and/or notifications")
    async def mute(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[MuteIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> None:
        store, outbox = _ports(db_session)
        await relations.mute(
            actor=principal.user_id,
            target=user_id,
            posts=data.posts,
            notifications=data.notifications,
            duration_seconds=data.duration_seconds,
            store=store,
            outbox=outbox,
            clock=clock,
        )

    @delete("/{user_id:uuid}/mute", summary="Unmute a user")
    async def unmute(
        self,
        user_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> None:
        store, outbox = _ports(db_session)
        await relations.unmute(actor=principal.user_id, target=user_id, store=store, outbox=outbox)
