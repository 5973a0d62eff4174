"""What the application layer needs from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from nexgate.kernel.ports import MessageOutbox
from nexgate.profiles.domain.profiles import Profile
from nexgate.profiles.domain.trust import TrustInputs

Cursor = tuple[datetime, uuid.UUID] | None


@dataclass(frozen=True)
class Edge:
    """One row of a relation list: the other user, and the edge's keyset key."""

    user_id: uuid.UUID
    created_at: datetime
    id: uuid.UUID


#: The viewer's relationship flags towards another user, in the order the API lists them.
RELATIONSHIP_FLAGS = ("following", "followedBy", "requested", "requestedBy", "blocking", "muting")


@dataclass(frozen=True)
class SeenProfile:
    """A profile with the viewer's flags towards it and whether it blocks the viewer (one read)."""

    profile: Profile
    relationship: dict[str, bool]
    blocks_viewer: bool


@dataclass(frozen=True)
class ListedUser:
    """One row of a relation list with its profile and the viewer's flags towards it."""

    profile: Profile
    edge: Edge
    relationship: dict[str, bool]


@dataclass(frozen=True)
class Mute:
    muter_id: uuid.UUID
    muted_id: uuid.UUID
    posts: bool
    notifications: bool
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class UsernameHold:
    username: str
    user_id: uuid.UUID
    held_until: datetime


@dataclass(frozen=True)
class AvatarMedia:
    """What files says about an attached avatar file."""

    file_id: uuid.UUID
    ready: bool
    url: str | None = None
    blurhash: str | None = None


@runtime_checkable  # Litestar checks injected values against the annotation
class MediaResolver(Protocol):
    """The files context, seen from profiles: attach checks ownership, kind and purpose."""

    async def attach_avatar(self, file_id: uuid.UUID, *, owner: uuid.UUID) -> AvatarMedia:
        """Raise ``ValidationFailed(code="invalid_avatar_file")`` when the file may not be used."""
        ...

    async def detach_avatar(self, file_id: uuid.UUID, *, owner: uuid.UUID) -> None: ...


class ProfileStore(Protocol):
    async def get(self, user_id: uuid.UUID) -> Profile | None: ...
    async def get_by_username(self, username: str) -> Profile | None: ...
    async def username_taken(self, username: str) -> bool: ...
    async def insert_if_absent(self, profile: Profile) -> bool: ...
    async def update(self, user_id: uuid.UUID, now: datetime, **values: Any) -> Profile | None: ...
    async def delete(self, user_id: uuid.UUID) -> bool: ...
    async def lock(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Profile]: ...
    async def relationships(
        self, viewer: uuid.UUID, others: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, bool]]: ...
    async def profiles_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Profile]: ...
    async def seen_by(self, viewer: uuid.UUID, user_id: uuid.UUID) -> SeenProfile | None: ...
    async def is_following(self, follower: uuid.UUID, followee: uuid.UUID) -> bool: ...
    async def add_follow(
        self, follower: uuid.UUID, followee: uuid.UUID, now: datetime, *, via_request: bool
    ) -> bool: ...
    async def remove_follow(self, follower: uuid.UUID, followee: uuid.UUID) -> bool: ...
    async def add_request(self, requester: uuid.UUID, target: uuid.UUID, now: datetime) -> bool: ...
    async def remove_request(self, requester: uuid.UUID, target: uuid.UUID) -> bool: ...
    async def has_request(self, requester: uuid.UUID, target: uuid.UUID) -> bool: ...
    async def follow_list_page(
        self, kind: str, user_id: uuid.UUID, viewer: uuid.UUID, after: Cursor, limit: int
    ) -> list[ListedUser]:
        """``followers`` or ``following`` of ``user_id`` with profiles and the viewer's flags."""
        ...

    async def incoming_requests_page(self, user_id: uuid.UUID, after: Cursor, limit: int) -> list[Edge]: ...
    async def sent_requests_page(self, user_id: uuid.UUID, after: Cursor, limit: int) -> list[Edge]: ...
    async def incoming_requesters(self, user_id: uuid.UUID) -> list[uuid.UUID]: ...
    async def follower_ids(self, user_id: uuid.UUID) -> list[uuid.UUID]: ...
    async def blocked_between(self, a: uuid.UUID, b: uuid.UUID) -> bool: ...
    async def is_blocking(self, blocker: uuid.UUID, blocked: uuid.UUID) -> bool: ...
    async def blockers_among(self, users: Sequence[uuid.UUID], blocked: uuid.UUID) -> set[uuid.UUID]: ...
    async def add_block(self, blocker: uuid.UUID, blocked: uuid.UUID, now: datetime) -> bool: ...
    async def remove_block(self, blocker: uuid.UUID, blocked: uuid.UUID) -> bool: ...
    async def blocks_page(self, user_id: uuid.UUID, after: Cursor, limit: int) -> list[Edge]: ...
    async def put_mute(self, mute: Mute) -> None: ...
    async def remove_mute(self, muter: uuid.UUID, muted: uuid.UUID) -> Mute | None: ...
    async def active_mutes(self, muter: uuid.UUID, now: datetime) -> list[Mute]: ...
    async def take_expired_mutes(self, now: datetime, limit: int) -> list[Mute]: ...
    async def lock_usernames(self, names: Sequence[str]) -> None: ...
    async def username_hold(self, username: str, now: datetime) -> UsernameHold | None: ...
    async def hold_username(self, hold: UsernameHold) -> None: ...
    async def release_username(self, username: str) -> None: ...
    async def search(
        self, viewer: uuid.UUID, prefix: str, after: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, Profile]]: ...
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
    ) -> bool: ...
    async def deactivate_trust_input(
        self, user_id: uuid.UUID, kind: str, source_id: uuid.UUID, occurred_at: datetime
    ) -> bool: ...
    async def trust_inputs(self, user_id: uuid.UUID) -> TrustInputs: ...
    async def user_ids_after(self, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]: ...
    async def with_avatar_file(self, file_id: uuid.UUID) -> list[uuid.UUID]: ...


__all__ = [
    "AvatarMedia",
    "Cursor",
    "Edge",
    "MediaResolver",
    "MessageOutbox",
    "Mute",
    "ProfileStore",
    "UsernameHold",
]
