"""The profiles store on PostgreSQL.

Relation changes between two users first lock both profile rows in user-id order
(`lock_pair`): concurrent follow/unfollow/block on the same pair serialise there, so
the edge and both counters change together and opposite-order pairs cannot deadlock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.kernel.ids import new_id
from nexgate.kernel.sql.keyset import keyset_after
from nexgate.profiles.adapters.sql.models import (
    blocks,
    follow_requests,
    follows,
    mutes,
    profiles,
    trust_inputs,
    username_holds,
)
from nexgate.profiles.domain.profiles import Link, Profile
from nexgate.profiles.domain.trust import TrustInputs
from nexgate.profiles.ports import RELATIONSHIP_FLAGS, Edge, ListedUser, Mute, SeenProfile, UsernameHold

_PROFILE_FIELDS = [c.name for c in profiles.columns]

# The hot reads are built once with named parameters: building a statement costs more Python
# time than PostgreSQL spends answering it.
_viewer = sa.bindparam("viewer", type_=profiles.c.user_id.type)
_owner = sa.bindparam("owner", type_=profiles.c.user_id.type)


def _flag_columns(other: sa.ColumnElement[Any]) -> list[sa.Label[bool]]:
    """The viewer's flags towards ``other``, one primary-key probe each (names of RELATIONSHIP_FLAGS)."""
    fr = follow_requests
    probes = {
        "following": (follows.c.follower_id == _viewer, follows.c.followee_id == other),
        "followedBy": (follows.c.followee_id == _viewer, follows.c.follower_id == other),
        "requested": (fr.c.requester_id == _viewer, fr.c.target_id == other),
        "requestedBy": (fr.c.target_id == _viewer, fr.c.requester_id == other),
        "blocking": (blocks.c.blocker_id == _viewer, blocks.c.blocked_id == other),
        "muting": (mutes.c.muter_id == _viewer, mutes.c.muted_id == other),
    }
    return [sa.exists().where(*probes[flag]).label(flag) for flag in RELATIONSHIP_FLAGS]


def _flags_of(row: Any) -> dict[str, bool]:
    """The `_flag_columns` of ``row``, which end it."""
    return dict(zip(RELATIONSHIP_FLAGS, row[-len(RELATIONSHIP_FLAGS) :], strict=True))


def _hidden_from_viewer(other: sa.ColumnElement[Any]) -> sa.Exists:
    """A block either way between the viewer and ``other``."""
    return sa.exists().where(
        sa.or_(
            sa.and_(blocks.c.blocker_id == _viewer, blocks.c.blocked_id == other),
            sa.and_(blocks.c.blocker_id == other, blocks.c.blocked_id == _viewer),
        )
    )


_SEEN_BY = sa.select(
    profiles,
    sa.exists()
    .where(blocks.c.blocker_id == profiles.c.user_id, blocks.c.blocked_id == _viewer)
    .label("blocks_viewer"),
    *_flag_columns(profiles.c.user_id),
).where(profiles.c.user_id == _owner)


def _follow_list(owner_col: sa.ColumnElement[Any], other_col: sa.ColumnElement[Any]) -> sa.Select[Any]:
    return (
        sa.select(
            profiles,
            follows.c.created_at.label("edge_created_at"),
            follows.c.id.label("edge_id"),
            *_flag_columns(other_col),
        )
        .select_from(follows.join(profiles, profiles.c.user_id == other_col))
        .where(owner_col == _owner, profiles.c.deactivated.is_(False), ~_hidden_from_viewer(other_col))
    )


_SEARCH_RANK = sa.case((profiles.c.username == sa.bindparam("prefix", type_=sa.String()), 0), else_=1)
# Byte order: the same for every database collation, and what the index walks.
_SEARCH_NAME = profiles.c.username.collate("C")
_SEARCH = (
    sa.select(_SEARCH_RANK.label("rank"), profiles)
    .where(
        sa.func.lower(profiles.c.username).like(sa.bindparam("pattern", type_=sa.String()), escape="\\"),
        profiles.c.deactivated.is_(False),
        ~_hidden_from_viewer(profiles.c.user_id),
    )
    .order_by(_SEARCH_RANK, _SEARCH_NAME)
    .limit(sa.bindparam("size", type_=sa.Integer()))
)

_FOLLOW_LISTS = {
    "followers": _follow_list(follows.c.followee_id, follows.c.follower_id),
    "following": _follow_list(follows.c.follower_id, follows.c.followee_id),
}


def _to_profile(row: Any, start: int = 0) -> Profile:
    """The profile in ``row``, whose profile columns start at position ``start`` (by position:
    named Row access costs about five times as much, and pages map dozens of rows)."""
    values = dict(zip(_PROFILE_FIELDS, row[start : start + len(_PROFILE_FIELDS)], strict=True))
    values["links"] = tuple(Link(url=item["url"], title=item.get("title")) for item in values["links"])
    return Profile(**values)


def _to_columns(values: dict[str, Any]) -> dict[str, Any]:
    if "links" in values:
        values = values | {"links": [{"url": link.url, "title": link.title} for link in values["links"]]}
    return values


class SqlProfileStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- profiles -------------------------------------------------------------------------
    async def get(self, user_id: uuid.UUID) -> Profile | None:
        row = (await self._session.execute(sa.select(profiles).where(profiles.c.user_id == user_id))).first()
        return _to_profile(row) if row else None

    async def get_by_username(self, username: str) -> Profile | None:
        stmt = sa.select(profiles).where(profiles.c.username == username)
        row = (await self._session.execute(stmt)).first()
        return _to_profile(row) if row else None

    async def username_taken(self, username: str) -> bool:
        stmt = sa.select(sa.literal(1)).where(profiles.c.username == username)
        return (await self._session.scalar(stmt)) is not None

    async def insert_if_absent(self, profile: Profile) -> bool:
        """Insert; False when the user id *or* the username already exists (nothing written)."""
        values = _to_columns({name: getattr(profile, name) for name in _PROFILE_FIELDS})
        stmt = insert(profiles).values(**values).on_conflict_do_nothing().returning(profiles.c.user_id)
        return (await self._session.scalar(stmt)) is not None

    async def update(self, user_id: uuid.UUID, now: datetime, **values: Any) -> Profile | None:
        """Apply ``values`` and bump the snapshot version atomically; None if no such profile."""
        stmt = (
            sa.update(profiles)
            .where(profiles.c.user_id == user_id)
            .values(**_to_columns(values), version=profiles.c.version + 1, updated_at=now)
            .returning(*profiles.columns)
        )
        row = (await self._session.execute(stmt)).first()
        return _to_profile(row) if row else None

    async def delete(self, user_id: uuid.UUID) -> bool:
        """Erase a profile and every relation it is part of, keeping the others' counters exact."""
        await self._session.execute(
            sa.update(profiles)
            .where(
                profiles.c.user_id.in_(
                    sa.select(follows.c.followee_id).where(follows.c.follower_id == user_id)
                )
            )
            .values(followers_count=profiles.c.followers_count - 1)
        )
        await self._session.execute(
            sa.update(profiles)
            .where(
                profiles.c.user_id.in_(
                    sa.select(follows.c.follower_id).where(follows.c.followee_id == user_id)
                )
            )
            .values(following_count=profiles.c.following_count - 1)
        )
        await self._session.execute(sa.delete(trust_inputs).where(trust_inputs.c.user_id == user_id))
        for table, a, b in (
            (follows, follows.c.follower_id, follows.c.followee_id),
            (follow_requests, follow_requests.c.requester_id, follow_requests.c.target_id),
            (blocks, blocks.c.blocker_id, blocks.c.blocked_id),
            (mutes, mutes.c.muter_id, mutes.c.muted_id),
        ):
            await self._session.execute(sa.delete(table).where(sa.or_(a == user_id, b == user_id)))
        result = await self._session.execute(sa.delete(profiles).where(profiles.c.user_id == user_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- usernames ------------------------------------------------------------------------
    async def lock_usernames(self, names: Sequence[str]) -> None:
        """Serialise claims of these names until commit (sorted: two claimers cannot deadlock)."""
        for name in sorted(set(names)):
            await self._session.execute(
                sa.select(
                    sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"profiles:username:{name}", 0))
                )
            )

    async def username_hold(self, username: str, now: datetime) -> UsernameHold | None:
        stmt = sa.select(username_holds).where(
            username_holds.c.username == username, username_holds.c.held_until > now
        )
        row = (await self._session.execute(stmt)).first()
        return (
            UsernameHold(username=row.username, user_id=row.user_id, held_until=row.held_until)
            if row
            else None
        )

    async def hold_username(self, hold: UsernameHold) -> None:
        stmt = insert(username_holds).values(
            username=hold.username, user_id=hold.user_id, held_until=hold.held_until
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[username_holds.c.username],
            set_={"user_id": stmt.excluded.user_id, "held_until": stmt.excluded.held_until},
        )
        await self._session.execute(stmt)

    async def release_username(self, username: str) -> None:
        await self._session.execute(sa.delete(username_holds).where(username_holds.c.username == username))

    async def search(
        self, viewer: uuid.UUID, prefix: str, after: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, Profile]]:
        """Visible profiles whose username starts with ``prefix``: the exact match (rank 0)
        first, then the rest (rank 1) in username order; keyset on (rank, username)."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = _SEARCH
        if after is not None:
            stmt = stmt.where(
                sa.tuple_(_SEARCH_RANK, _SEARCH_NAME) > sa.tuple_(after[0], sa.literal(after[1]).collate("C"))
            )
        params = {"viewer": viewer, "prefix": prefix, "pattern": pattern, "size": limit + 1}
        return [(row.rank, _to_profile(row, 1)) for row in (await self._session.execute(stmt, params)).all()]

    # -- trust inputs ---------------------------------------------------------------------
    async def add_trust_input(
        self,
        user_id: uuid.UUID,
        kind: str,
        source_id: uuid.UUID,
        occurred_at: datetime,
        *,
        counterparty: uuid.UUID | None = None,
        rating: int | None = None,
        active: bool = True,
    ) -> bool:
        """Record one fact; False if that (user, kind, source) is already there."""
        stmt = (
            insert(trust_inputs)
            .values(
                user_id=user_id,
                kind=kind,
                source_id=source_id,
                counterparty_id=counterparty,
                rating=rating,
                active=active,
                occurred_at=occurred_at,
            )
            .on_conflict_do_nothing()
            .returning(trust_inputs.c.source_id)
        )
        return (await self._session.scalar(stmt)) is not None

    async def deactivate_trust_input(
        self, user_id: uuid.UUID, kind: str, source_id: uuid.UUID, occurred_at: datetime
    ) -> bool:
        """Reverse a fact for good (also when the reversal arrives first); True if it counted."""
        stmt = insert(trust_inputs).values(
            user_id=user_id, kind=kind, source_id=source_id, active=False, occurred_at=occurred_at
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[trust_inputs.c.user_id, trust_inputs.c.kind, trust_inputs.c.source_id],
            set_={"active": False},
            where=trust_inputs.c.active.is_(True),
        ).returning(trust_inputs.c.source_id)
        return (await self._session.scalar(upsert)) is not None

    async def trust_inputs(self, user_id: uuid.UUID) -> TrustInputs:
        """The behaviour facts of one user (flags and age come from the profile)."""
        t = trust_inputs
        stmt = sa.select(t.c.kind, t.c.counterparty_id, t.c.rating, t.c.occurred_at).where(
            t.c.user_id == user_id, t.c.active.is_(True)
        )
        rows = (await self._session.execute(stmt)).all()
        return TrustInputs(
            distinct_sellers_bought_from=len({r.counterparty_id for r in rows if r.kind == "purchase"}),
            distinct_buyers_sold_to=len({r.counterparty_id for r in rows if r.kind == "sale"}),
            ratings=tuple(r.rating for r in rows if r.kind in ("commerce_rating", "event_rating")),
            upheld_reports=tuple(r.occurred_at.date() for r in rows if r.kind == "report"),
        )

    async def user_ids_after(self, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        """Profile ids in id order, a keyset page at a time (for the daily trust pass)."""
        stmt = sa.select(profiles.c.user_id)
        if after is not None:
            stmt = stmt.where(profiles.c.user_id > after)
        stmt = stmt.order_by(profiles.c.user_id).limit(limit)
        return list((await self._session.scalars(stmt)).all())

    async def lock(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Profile]:
        """Lock these profile rows in user-id order (the one lock order of this context)."""
        stmt = (
            sa.select(profiles)
            .where(profiles.c.user_id.in_(list(user_ids)))
            .order_by(profiles.c.user_id)
            .with_for_update()
        )
        return {row.user_id: _to_profile(row) for row in (await self._session.execute(stmt)).all()}

    async def _bump(self, user_id: uuid.UUID, column: str, delta: int) -> None:
        col = profiles.c[column]
        await self._session.execute(
            sa.update(profiles).where(profiles.c.user_id == user_id).values({column: col + delta})
        )

    async def relationships(
        self, viewer: uuid.UUID, others: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, bool]]:
        return await relationships(self._session, viewer, others)

    async def profiles_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Profile]:
        return await profiles_by_id(self._session, ids)

    async def seen_by(self, viewer: uuid.UUID, user_id: uuid.UUID) -> SeenProfile | None:
        row = (await self._session.execute(_SEEN_BY, {"viewer": viewer, "owner": user_id})).first()
        if row is None:
            return None
        return SeenProfile(
            profile=_to_profile(row),
            relationship=_flags_of(row),
            blocks_viewer=row.blocks_viewer,
        )

    async def with_avatar_file(self, file_id: uuid.UUID) -> list[uuid.UUID]:
        """Users whose shown or pending avatar is this file."""
        stmt = sa.select(profiles.c.user_id).where(
            sa.or_(profiles.c.avatar_file_id == file_id, profiles.c.avatar_pending_file_id == file_id)
        )
        return list((await self._session.scalars(stmt)).all())

    # -- follows --------------------------------------------------------------------------
    async def is_following(self, follower: uuid.UUID, followee: uuid.UUID) -> bool:
        stmt = sa.select(sa.literal(1)).where(
            follows.c.follower_id == follower, follows.c.followee_id == followee
        )
        return (await self._session.scalar(stmt)) is not None

    async def add_follow(
        self, follower: uuid.UUID, followee: uuid.UUID, now: datetime, *, via_request: bool
    ) -> bool:
        """Insert the edge and move both counters with it; False (no change) if it existed."""
        stmt = (
            insert(follows)
            .values(
                id=new_id(),
                follower_id=follower,
                followee_id=followee,
                via_request=via_request,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(follows.c.id)
        )
        if await self._session.scalar(stmt) is None:
            return False
        await self._bump(follower, "following_count", 1)
        await self._bump(followee, "followers_count", 1)
        return True

    async def remove_follow(self, follower: uuid.UUID, followee: uuid.UUID) -> bool:
        stmt = (
            sa.delete(follows)
            .where(follows.c.follower_id == follower, follows.c.followee_id == followee)
            .returning(follows.c.id)
        )
        if await self._session.scalar(stmt) is None:
            return False
        await self._bump(follower, "following_count", -1)
        await self._bump(followee, "followers_count", -1)
        return True

    async def add_request(self, requester: uuid.UUID, target: uuid.UUID, now: datetime) -> bool:
        stmt = (
            insert(follow_requests)
            .values(id=new_id(), requester_id=requester, target_id=target, created_at=now)
            .on_conflict_do_nothing()
            .returning(follow_requests.c.id)
        )
        return (await self._session.scalar(stmt)) is not None

    async def remove_request(self, requester: uuid.UUID, target: uuid.UUID) -> bool:
        stmt = (
            sa.delete(follow_requests)
            .where(follow_requests.c.requester_id == requester, follow_requests.c.target_id == target)
            .returning(follow_requests.c.id)
        )
        return (await self._session.scalar(stmt)) is not None

    async def has_request(self, requester: uuid.UUID, target: uuid.UUID) -> bool:
        stmt = sa.select(sa.literal(1)).where(
            follow_requests.c.requester_id == requester, follow_requests.c.target_id == target
        )
        return (await self._session.scalar(stmt)) is not None

    async def _page(
        self,
        table: sa.Table,
        owner_col: sa.ColumnElement[Any],
        other_col: sa.ColumnElement[Any],
        owner: uuid.UUID,
        viewer: uuid.UUID,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Edge]:
        stmt = (
            sa.select(other_col.label("user_id"), table.c.created_at, table.c.id)
            .join(profiles, profiles.c.user_id == other_col)
            .where(owner_col == owner, profiles.c.deactivated.is_(False), ~_hidden_from_viewer(other_col))
        )
        stmt = keyset_after(stmt, [table.c.created_at, table.c.id], after, descending=True, limit=limit)
        rows = (await self._session.execute(stmt, {"viewer": viewer})).all()
        return [Edge(user_id=r.user_id, created_at=r.created_at, id=r.id) for r in rows]

    async def follow_list_page(
        self,
        kind: str,
        user_id: uuid.UUID,
        viewer: uuid.UUID,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[ListedUser]:
        """One query: the edges, their profiles and the viewer's flags (blocked users left out)."""
        stmt = keyset_after(
            _FOLLOW_LISTS[kind], [follows.c.created_at, follows.c.id], after, descending=True, limit=limit
        )
        rows = (await self._session.execute(stmt, {"viewer": viewer, "owner": user_id})).all()
        return [
            ListedUser(
                profile=_to_profile(r),
                edge=Edge(user_id=r.user_id, created_at=r.edge_created_at, id=r.edge_id),
                relationship=_flags_of(r),
            )
            for r in rows
        ]

    async def incoming_requests_page(
        self, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Edge]:
        t = follow_requests
        return await self._page(t, t.c.target_id, t.c.requester_id, user_id, user_id, after, limit)

    async def sent_requests_page(
        self, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Edge]:
        t = follow_requests
        return await self._page(t, t.c.requester_id, t.c.target_id, user_id, user_id, after, limit)

    async def incoming_requesters(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = sa.select(follow_requests.c.requester_id).where(follow_requests.c.target_id == user_id)
        return list((await self._session.scalars(stmt)).all())

    async def follower_ids(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = sa.select(follows.c.follower_id).where(follows.c.followee_id == user_id)
        return list((await self._session.scalars(stmt)).all())

    # -- blocks and mutes -----------------------------------------------------------------
    async def blocked_between(self, a: uuid.UUID, b: uuid.UUID) -> bool:
        stmt = sa.select(sa.literal(1)).where(
            sa.or_(
                sa.and_(blocks.c.blocker_id == a, blocks.c.blocked_id == b),
                sa.and_(blocks.c.blocker_id == b, blocks.c.blocked_id == a),
            )
        )
        return (await self._session.scalar(stmt)) is not None

    async def is_blocking(self, blocker: uuid.UUID, blocked: uuid.UUID) -> bool:
        stmt = sa.select(sa.literal(1)).where(blocks.c.blocker_id == blocker, blocks.c.blocked_id == blocked)
        return (await self._session.scalar(stmt)) is not None

    async def blockers_among(self, users: Sequence[uuid.UUID], blocked: uuid.UUID) -> set[uuid.UUID]:
        """Which of ``users`` block ``blocked`` (one query, not one per user)."""
        if not users:
            return set()
        stmt = sa.select(blocks.c.blocker_id).where(
            blocks.c.blocked_id == blocked, blocks.c.blocker_id.in_(list(users))
        )
        return set((await self._session.scalars(stmt)).all())

    async def add_block(self, blocker: uuid.UUID, blocked: uuid.UUID, now: datetime) -> bool:
        stmt = (
            insert(blocks)
            .values(id=new_id(), blocker_id=blocker, blocked_id=blocked, created_at=now)
            .on_conflict_do_nothing()
            .returning(blocks.c.id)
        )
        return (await self._session.scalar(stmt)) is not None

    async def remove_block(self, blocker: uuid.UUID, blocked: uuid.UUID) -> bool:
        stmt = (
            sa.delete(blocks)
            .where(blocks.c.blocker_id == blocker, blocks.c.blocked_id == blocked)
            .returning(blocks.c.id)
        )
        return (await self._session.scalar(stmt)) is not None

    async def blocks_page(
        self, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Edge]:
        stmt = sa.select(blocks.c.blocked_id.label("user_id"), blocks.c.created_at, blocks.c.id).where(
            blocks.c.blocker_id == user_id
        )
        stmt = keyset_after(stmt, [blocks.c.created_at, blocks.c.id], after, descending=True, limit=limit)
        return [
            Edge(user_id=r.user_id, created_at=r.created_at, id=r.id)
            for r in (await self._session.execute(stmt)).all()
        ]

    async def put_mute(self, mute: Mute) -> None:
        values = {
            "id": new_id(),
            "muter_id": mute.muter_id,
            "muted_id": mute.muted_id,
            "posts": mute.posts,
            "notifications": mute.notifications,
            "expires_at": mute.expires_at,
            "created_at": mute.created_at,
        }
        stmt = insert(mutes).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[mutes.c.muter_id, mutes.c.muted_id],
            set_={k: stmt.excluded[k] for k in ("posts", "notifications", "expires_at", "created_at")},
        )
        await self._session.execute(stmt)

    async def remove_mute(self, muter: uuid.UUID, muted: uuid.UUID) -> Mute | None:
        stmt = (
            sa.delete(mutes)
            .where(mutes.c.muter_id == muter, mutes.c.muted_id == muted)
            .returning(*mutes.columns)
        )
        row = (await self._session.execute(stmt)).first()
        return _to_mute(row) if row else None

    async def active_mutes(self, muter: uuid.UUID, now: datetime) -> list[Mute]:
        stmt = (
            sa.select(mutes)
            .where(mutes.c.muter_id == muter, sa.or_(mutes.c.expires_at.is_(None), mutes.c.expires_at > now))
            .order_by(mutes.c.created_at.desc(), mutes.c.muted_id)
        )
        return [_to_mute(r) for r in (await self._session.execute(stmt)).all()]

    async def take_expired_mutes(self, now: datetime, limit: int) -> list[Mute]:
        expired = (
            sa.select(mutes.c.muter_id, mutes.c.muted_id)
            .where(mutes.c.expires_at <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("expired")
        )
        stmt = (
            sa.delete(mutes)
            .where(
                sa.tuple_(mutes.c.muter_id, mutes.c.muted_id).in_(
                    sa.select(expired.c.muter_id, expired.c.muted_id)
                )
            )
            .returning(*mutes.columns)
        )
        return [_to_mute(r) for r in (await self._session.execute(stmt)).all()]


def _to_mute(row: Any) -> Mute:
    return Mute(
        muter_id=row.muter_id,
        muted_id=row.muted_id,
        posts=row.posts,
        notifications=row.notifications,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


async def relationships(
    session: AsyncSession, viewer: uuid.UUID, others: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, bool]]:
    """The viewer's relationship flags towards each of ``others``: one query whatever their number."""
    ids = list(set(others))
    flags = {other: dict.fromkeys(RELATIONSHIP_FLAGS, False) for other in ids}
    if not ids:
        return flags
    fr = follow_requests
    parts = [
        sa.select(sa.literal("following").label("flag"), follows.c.followee_id.label("other")).where(
            follows.c.follower_id == viewer, follows.c.followee_id.in_(ids)
        ),
        sa.select(sa.literal("followedBy"), follows.c.follower_id).where(
            follows.c.followee_id == viewer, follows.c.follower_id.in_(ids)
        ),
        sa.select(sa.literal("requested"), fr.c.target_id).where(
            fr.c.requester_id == viewer, fr.c.target_id.in_(ids)
        ),
        sa.select(sa.literal("requestedBy"), fr.c.requester_id).where(
            fr.c.target_id == viewer, fr.c.requester_id.in_(ids)
        ),
        sa.select(sa.literal("blocking"), blocks.c.blocked_id).where(
            blocks.c.blocker_id == viewer, blocks.c.blocked_id.in_(ids)
        ),
        sa.select(sa.literal("muting"), mutes.c.muted_id).where(
            mutes.c.muter_id == viewer, mutes.c.muted_id.in_(ids)
        ),
    ]
    for flag, other in (await session.execute(sa.union_all(*parts))).all():
        flags[other][flag] = True
    return flags


async def profiles_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Profile]:
    if not ids:
        return {}
    rows = (await session.execute(sa.select(profiles).where(profiles.c.user_id.in_(list(ids))))).all()
    return {row.user_id: _to_profile(row) for row in rows}
