"""The profiles in-process facade: what other contexts deployed alongside may call.

Each call opens its own short read transaction and returns plain snapshots.
"""

from __future__ import annotations

import uuid

from nexgate.contracts.profiles import ProfileUpdated
from nexgate.kernel.runtime import Runtime
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application import relations
from nexgate.profiles.application.snapshots import snapshot as _snapshot
from nexgate.profiles.domain.profiles import MessagePermission

__all__ = [
    "MessagePermission",
    "blocked_between",
    "can_mention",
    "can_message",
    "followers_of",
    "muted_by",
    "relationship",
    "snapshot",
]


async def snapshot(runtime: Runtime, user_id: uuid.UUID) -> ProfileUpdated | None:
    """The profile as the ``profile_updated`` message carries it, or None."""
    async with runtime.database().sessions() as session:
        profile = await SqlProfileStore(session).get(user_id)
    return _snapshot(profile) if profile else None  # type: ignore[return-value]


async def muted_by(runtime: Runtime, user_id: uuid.UUID, *, posts: bool = True) -> set[uuid.UUID]:
    """Users ``user_id`` mutes now (posts mutes by default; ``posts=False`` for notification mutes)."""
    async with runtime.database().sessions() as session:
        found = await SqlProfileStore(session).active_mutes(user_id, runtime.clock.now())
    return {m.muted_id for m in found if (m.posts if posts else m.notifications)}


async def blocked_between(runtime: Runtime, a: uuid.UUID, b: uuid.UUID) -> bool:
    """True if either user blocks the other."""
    async with runtime.database().sessions() as session:
        return await SqlProfileStore(session).blocked_between(a, b)


async def followers_of(runtime: Runtime, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Every follower id of ``user_id`` (for feed fan-out)."""
    async with runtime.database().sessions() as session:
        return await SqlProfileStore(session).follower_ids(user_id)


async def relationship(runtime: Runtime, viewer: uuid.UUID, target: uuid.UUID) -> dict[str, bool]:
    """following, followedBy, requested, requestedBy, blocking, muting: viewer towards target."""
    async with runtime.database().sessions() as session:
        return (await SqlProfileStore(session).relationships(viewer, [target]))[target]


async def can_message(runtime: Runtime, sender: uuid.UUID, recipient: uuid.UUID) -> MessagePermission:
    """Whether ``sender`` may message ``recipient`` (blocks, deactivation, ``whoCanMessage``), and
    whether it lands as a message request (``everyone`` and the recipient does not follow them)."""
    async with runtime.database().sessions() as session:
        return await relations.can_message(sender=sender, recipient=recipient, store=SqlProfileStore(session))


async def can_mention(runtime: Runtime, author: uuid.UUID, target: uuid.UUID) -> bool:
    """Whether ``author`` may mention ``target`` (blocks, deactivation, ``whoCanMention``)."""
    async with runtime.database().sessions() as session:
        return await relations.can_mention(author=author, target=target, store=SqlProfileStore(session))
