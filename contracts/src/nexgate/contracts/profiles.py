"""Messages of the profiles context (exchange ``nexgate.profiles``).

Profile messages carry a full snapshot with a monotonic ``version``: replicas keep the
highest version they have seen and ignore stale deliveries.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from nexgate.contracts.base import Contract


class AvatarRef(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The avatar as a files-context file id; ``url``/``blurhash`` are filled once files resolves it."""

    file_id: uuid.UUID
    url: str | None = None
    blurhash: str | None = None


class ProfileCreated(Contract, tag="profiles.profile_created.v1", kw_only=True):
    user_id: uuid.UUID
    username: str
    display_name: str
    avatar: AvatarRef | None
    is_private: bool
    deactivated: bool
    version: int
    trust_score: int | None = None
    trust_level: str | None = None


class ProfileUpdated(Contract, tag="profiles.profile_updated.v1", kw_only=True):
    user_id: uuid.UUID
    username: str
    display_name: str
    avatar: AvatarRef | None
    is_private: bool
    deactivated: bool
    version: int
    trust_score: int | None = None
    trust_level: str | None = None


class ProfileDeleted(Contract, tag="profiles.profile_deleted.v1", kw_only=True):
    """Sent once instead of per-edge removals: consumers drop everything about ``userId``."""

    user_id: uuid.UUID


class FollowCreated(Contract, tag="profiles.follow_created.v1", kw_only=True):
    follower_id: uuid.UUID
    followee_id: uuid.UUID
    via_request: bool
    created_at: datetime


class FollowRemoved(Contract, tag="profiles.follow_removed.v1", kw_only=True):
    """``reason``: ``unfollow``, ``removed_by_followee`` or ``block``."""

    follower_id: uuid.UUID
    followee_id: uuid.UUID
    reason: str


class FollowRequested(Contract, tag="profiles.follow_requested.v1", kw_only=True):
    requester_id: uuid.UUID
    target_id: uuid.UUID


class FollowRequestWithdrawn(Contract, tag="profiles.follow_request_withdrawn.v1", kw_only=True):
    """``reason``: ``cancelled``, ``rejected`` or ``block``."""

    requester_id: uuid.UUID
    target_id: uuid.UUID
    reason: str


class BlockCreated(Contract, tag="profiles.block_created.v1", kw_only=True):
    blocker_id: uuid.UUID
    blocked_id: uuid.UUID


class BlockRemoved(Contract, tag="profiles.block_removed.v1", kw_only=True):
    blocker_id: uuid.UUID
    blocked_id: uuid.UUID


class MuteCreated(Contract, tag="profiles.mute_created.v1", kw_only=True):
    muter_id: uuid.UUID
    muted_id: uuid.UUID
    posts: bool
    notifications: bool
    expires_at: datetime | None


class MuteRemoved(Contract, tag="profiles.mute_removed.v1", kw_only=True):
    muter_id: uuid.UUID
    muted_id: uuid.UUID
    posts: bool
    notifications: bool
    expires_at: datetime | None


class PrivacySettingsChanged(Contract, tag="profiles.privacy_settings_changed.v1", kw_only=True):
    user_id: uuid.UUID
    is_private: bool
    who_can_message: str
    who_can_mention: str
    show_activity: bool
    version: int


class TrustScoreChanged(Contract, tag="profiles.trust_score_changed.v1", kw_only=True):
    """The integer trust score changed (formula ``formulaVersion``)."""

    user_id: uuid.UUID
    score: int
    level: str
    formula_version: int
