"""Follows, follow requests, blocks and mutes.

Every change between two users starts with ``store.lock([a, b])``: the rows are locked in
user-id order, so concurrent changes on one pair run one after the other and re-read
what the previous one committed. Edges have primary keys, and the counters move in the
same statement sequence as the edge, so repeats and races never drift them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from nexgate.contracts.profiles import (
    BlockCreated,
    BlockRemoved,
    FollowCreated,
    FollowRemoved,
    FollowRequested,
    FollowRequestWithdrawn,
    MuteCreated,
    MuteRemoved,
)
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import FieldProblem, Forbidden, NotFound, RateLimited, ValidationFailed
from nexgate.profiles.application.profiles import ensure_profile
from nexgate.profiles.domain.profiles import (
    MAX_USERNAME,
    MessagePermission,
    Profile,
    mention_allowed,
    message_permission,
    normalize_username,
)
from nexgate.profiles.ports import Cursor, Edge, ListedUser, MessageOutbox, Mute, ProfileStore

MAX_MUTE_SECONDS = 366 * 24 * 3600
#: How many accounts one user may follow (pending requests not counted).
MAX_FOLLOWING = 7500


def _not_found() -> NotFound:
    return NotFound("No such profile.", code="profile_not_found")


async def _lock_pair(
    actor: uuid.UUID, target: uuid.UUID, *, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> tuple[Profile, Profile]:
    await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    rows = await store.lock([actor, target])
    other = rows.get(target)
    if other is None or other.deactivated:
        raise _not_found()
    return rows[actor], other


# -- viewing ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileView:
    profile: Profile
    relationship: dict[str, bool]

    @property
    def blocking_stub(self) -> bool:
        return self.relationship["blocking"]


async def view_profile(*, viewer: uuid.UUID, target: Profile | None, store: ProfileStore) -> ProfileView:
    """A profile as ``viewer`` sees it: 404 if missing, deactivated or blocking the viewer."""
    if target is None or target.deactivated:
        raise _not_found()
    if target.user_id != viewer and await store.is_blocking(target.user_id, viewer):
        raise _not_found()
    flags = (await store.relationships(viewer, [target.user_id]))[target.user_id]
    return ProfileView(profile=target, relationship=flags)


async def view_profile_by_id(*, viewer: uuid.UUID, target: uuid.UUID, store: ProfileStore) -> ProfileView:
    """`view_profile` of a user id, in one read (profile, block and flags together)."""
    seen = await store.seen_by(viewer, target)
    if seen is None or seen.profile.deactivated or (target != viewer and seen.blocks_viewer):
        raise _not_found()
    return ProfileView(profile=seen.profile, relationship=seen.relationship)


MAX_RELATIONSHIP_IDS = 100


async def relationships_for(
    *, viewer: uuid.UUID, ids: list[uuid.UUID], store: ProfileStore
) -> dict[uuid.UUID, dict[str, bool]]:
    """The viewer's flags towards up to 100 users; unknown, deactivated or blocking users are left out."""
    if len(ids) > MAX_RELATIONSHIP_IDS:
        raise ValidationFailed("At most 100 ids.", code="too_many_ids")
    found = await store.profiles_by_id(list(dict.fromkeys(ids)))
    visible = [i for i, p in found.items() if not p.deactivated]
    flags = await store.relationships(viewer, visible)
    hidden = await store.blockers_among(visible, viewer)
    return {i: flags[i] for i in dict.fromkeys(ids) if i in flags and i not in hidden}


async def _decorate(viewer: uuid.UUID, edges: list[Edge], store: ProfileStore) -> list[ListedUser]:
    ids = [e.user_id for e in edges]
    found = await store.profiles_by_id(ids)
    flags = await store.relationships(viewer, ids)
    return [
        ListedUser(profile=found[e.user_id], edge=e, relationship=flags[e.user_id])
        for e in edges
        if e.user_id in found
    ]


async def follow_list(
    *, viewer: uuid.UUID, owner: uuid.UUID, kind: str, after: Cursor, limit: int, store: ProfileStore
) -> list[ListedUser]:
    """Followers or following of ``owner``.

    A private account's lists are shown only to the owner and approved followers.
    """
    seen = await store.seen_by(viewer, owner)
    if seen is None or seen.profile.deactivated:
        raise _not_found()
    if viewer != owner:
        if seen.blocks_viewer or seen.relationship["blocking"]:
            raise _not_found()
        if seen.profile.is_private and not seen.relationship["following"]:
            raise Forbidden("This account is private.", code="private_account")
    return await store.follow_list_page(kind, owner, viewer, after, limit)


async def request_list(
    *, actor: uuid.UUID, sent: bool, after: Cursor, limit: int, store: ProfileStore
) -> list[ListedUser]:
    page = store.sent_requests_page if sent else store.incoming_requests_page
    return await _decorate(actor, await page(actor, after, limit), store)


# -- follows ------------------------------------------------------------------------------
async def follow(
    *,
    actor: uuid.UUID,
    target: uuid.UUID,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
    max_following: int = MAX_FOLLOWING,
) -> str:
    """Follow a public account at once, or ask a private one. Idempotent: returns the state."""
    if actor == target:
        raise ValidationFailed("You cannot follow yourself.", code="cannot_follow_self")
    me, other = await _lock_pair(actor, target, store=store, outbox=outbox, clock=clock)
    if await store.blocked_between(actor, target):
        raise _not_found()
    if await store.is_following(actor, target):
        return "following"
    # The actor's row is locked: the count cannot move under this check.
    if me.following_count >= max_following:
        raise RateLimited(f"You can follow at most {max_following} accounts.", retry_after=86400)
    now = clock.now()
    if other.is_private:
        if await store.add_request(actor, target, now):
            await outbox.add(FollowRequested(requester_id=actor, target_id=target))
        return "requested"
    await store.add_follow(actor, target, now, via_request=False)
    await outbox.add(FollowCreated(follower_id=actor, followee_id=target, via_request=False, created_at=now))
    return "following"


async def unfollow(
    *, actor: uuid.UUID, target: uuid.UUID, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """Unfollow, or cancel a pending request. Idempotent."""
    if actor == target:
        return
    rows = await store.lock([actor, target])
    if target not in rows or actor not in rows:
        return
    if await store.remove_follow(actor, target):
        await outbox.add(FollowRemoved(follower_id=actor, followee_id=target, reason="unfollow"))
    elif await store.remove_request(actor, target):
        await outbox.add(FollowRequestWithdrawn(requester_id=actor, target_id=target, reason="cancelled"))


def _request_not_found() -> NotFound:
    return NotFound("No such follow request.", code="follow_request_not_found")


async def approve_request(
    *, actor: uuid.UUID, requester: uuid.UUID, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """Only the target approves: the request is looked up as (requester -> actor)."""
    rows = await store.lock([actor, requester])
    if actor not in rows or requester not in rows or not await store.remove_request(requester, actor):
        raise _request_not_found()
    await _accept(requester, actor, store=store, outbox=outbox, clock=clock)


async def _accept(
    requester: uuid.UUID, target: uuid.UUID, *, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    now = clock.now()
    if await store.add_follow(requester, target, now, via_request=True):
        await outbox.add(
            FollowCreated(follower_id=requester, followee_id=target, via_request=True, created_at=now)
        )


async def reject_request(
    *, actor: uuid.UUID, requester: uuid.UUID, store: ProfileStore, outbox: MessageOutbox
) -> None:
    rows = await store.lock([actor, requester])
    if actor not in rows or requester not in rows or not await store.remove_request(requester, actor):
        raise _request_not_found()
    await outbox.add(FollowRequestWithdrawn(requester_id=requester, target_id=actor, reason="rejected"))


async def approve_all_pending(
    *, target: uuid.UUID, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> int:
    """Going public: every pending request becomes a follow (the caller locked the rows)."""
    approved = 0
    for requester in await store.incoming_requesters(target):
        if await store.remove_request(requester, target):
            await _accept(requester, target, store=store, outbox=outbox, clock=clock)
            approved += 1
    return approved


async def remove_follower(
    *, actor: uuid.UUID, follower: uuid.UUID, store: ProfileStore, outbox: MessageOutbox
) -> None:
    rows = await store.lock([actor, follower])
    if actor not in rows or follower not in rows or not await store.remove_follow(follower, actor):
        raise NotFound("That user does not follow you.", code="follower_not_found")
    await outbox.add(FollowRemoved(follower_id=follower, followee_id=actor, reason="removed_by_followee"))


# -- blocks -------------------------------------------------------------------------------
async def block(
    *, actor: uuid.UUID, target: uuid.UUID, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """Block: drop follows and requests in both directions in this same transaction."""
    if actor == target:
        raise ValidationFailed("You cannot block yourself.", code="cannot_block_self")
    await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    rows = await store.lock([actor, target])
    if target not in rows:
        raise _not_found()
    if not await store.add_block(actor, target, clock.now()):
        return
    for a, b in ((actor, target), (target, actor)):
        if await store.remove_follow(a, b):
            await outbox.add(FollowRemoved(follower_id=a, followee_id=b, reason="block"))
        if await store.remove_request(a, b):
            await outbox.add(FollowRequestWithdrawn(requester_id=a, target_id=b, reason="block"))
    await outbox.add(BlockCreated(blocker_id=actor, blocked_id=target))


async def unblock(*, actor: uuid.UUID, target: uuid.UUID, store: ProfileStore, outbox: MessageOutbox) -> None:
    if await store.remove_block(actor, target):
        await outbox.add(BlockRemoved(blocker_id=actor, blocked_id=target))


async def block_list(*, actor: uuid.UUID, after: Cursor, limit: int, store: ProfileStore) -> list[ListedUser]:
    return await _decorate(actor, await store.blocks_page(actor, after, limit), store)


# -- mutes --------------------------------------------------------------------------------
async def mute(
    *,
    actor: uuid.UUID,
    target: uuid.UUID,
    posts: bool,
    notifications: bool,
    duration_seconds: int | None,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
) -> Mute:
    """Mute (or change a mute): invisible to the muted user, changes no follow."""
    if actor == target:
        raise ValidationFailed("You cannot mute yourself.", code="cannot_mute_self")
    if duration_seconds is not None and not 60 <= duration_seconds <= MAX_MUTE_SECONDS:
        raise ValidationFailed("durationSeconds must be 60 seconds to 366 days.", code="invalid_duration")
    await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    other = await store.get(target)
    if other is None or other.deactivated or await store.is_blocking(target, actor):
        raise _not_found()
    now = clock.now()
    expires = now + timedelta(seconds=duration_seconds) if duration_seconds is not None else None
    record = Mute(
        muter_id=actor,
        muted_id=target,
        posts=posts,
        notifications=notifications,
        expires_at=expires,
        created_at=now,
    )
    await store.put_mute(record)
    await outbox.add(
        MuteCreated(
            muter_id=actor, muted_id=target, posts=posts, notifications=notifications, expires_at=expires
        )
    )
    return record


def _mute_removed(m: Mute) -> MuteRemoved:
    return MuteRemoved(
        muter_id=m.muter_id,
        muted_id=m.muted_id,
        posts=m.posts,
        notifications=m.notifications,
        expires_at=m.expires_at,
    )


async def unmute(*, actor: uuid.UUID, target: uuid.UUID, store: ProfileStore, outbox: MessageOutbox) -> None:
    removed = await store.remove_mute(actor, target)
    if removed is not None:
        await outbox.add(_mute_removed(removed))


async def sweep_expired_mutes(
    *, now: datetime, store: ProfileStore, outbox: MessageOutbox, batch: int = 500
) -> int:
    """The worker's job: delete expired mutes and announce each removal."""
    removed = await store.take_expired_mutes(now, batch)
    for m in removed:
        await outbox.add(_mute_removed(m))
    return len(removed)


# -- search -------------------------------------------------------------------------------
MIN_SEARCH = 2


async def search(
    *, viewer: uuid.UUID, query: str, after: tuple[int, str] | None, limit: int, store: ProfileStore
) -> list[tuple[int, Profile]]:
    """Username prefix search: exact match first, then by username; blocks both ways and
    deactivated users are left out. Returns ``limit + 1`` rows at most (the probe row)."""
    prefix = normalize_username(query)
    if len(prefix) < MIN_SEARCH:
        raise ValidationFailed(
            "Type at least 2 characters.",
            code="query_too_short",
            errors=[FieldProblem("q", "must be at least 2 characters")],
        )
    return await store.search(viewer, prefix[:MAX_USERNAME], after, limit)


# -- what other contexts ask --------------------------------------------------------------
async def can_message(*, sender: uuid.UUID, recipient: uuid.UUID, store: ProfileStore) -> MessagePermission:
    denied = MessagePermission(allowed=False, needs_request=False)
    if sender == recipient:
        return denied
    found = await store.profiles_by_id([sender, recipient])
    target = found.get(recipient)
    if sender not in found or target is None or target.deactivated or found[sender].deactivated:
        return denied
    if await store.blocked_between(sender, recipient):
        return denied
    return message_permission(
        target.who_can_message, recipient_follows_sender=await store.is_following(recipient, sender)
    )


async def can_mention(*, author: uuid.UUID, target: uuid.UUID, store: ProfileStore) -> bool:
    if author == target:
        return True
    found = await store.profiles_by_id([target])
    profile = found.get(target)
    if profile is None or profile.deactivated or await store.blocked_between(author, target):
        return False
    return mention_allowed(
        profile.who_can_mention, target_follows_author=await store.is_following(target, author)
    )
