"""What the API accepts and returns: explicit Structs, camelCase, unknown fields refused."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from nexgate.profiles.application.relations import ListedUser, ProfileView
from nexgate.profiles.domain.profiles import Profile


class ProfileEditIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    display_name: str | None = None
    bio: str | None = None


class AvatarIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    file_id: uuid.UUID


class PrivacyIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    is_private: bool | None = None
    who_can_message: str | None = None
    who_can_mention: str | None = None
    show_activity: bool | None = None


class MuteIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    posts: bool = True
    notifications: bool = True
    duration_seconds: int | None = None


class AvatarOut(msgspec.Struct, rename="camel"):
    file_id: uuid.UUID
    url: str | None = None
    blurhash: str | None = None


def _avatar(profile: Profile) -> AvatarOut | None:
    return AvatarOut(file_id=profile.avatar_file_id) if profile.avatar_file_id else None


class PrivacyOut(msgspec.Struct, rename="camel"):
    is_private: bool
    who_can_message: str
    who_can_mention: str
    show_activity: bool

    @classmethod
    def of(cls, p: Profile) -> PrivacyOut:
        return cls(
            is_private=p.is_private,
            who_can_message=p.who_can_message,
            who_can_mention=p.who_can_mention,
            show_activity=p.show_activity,
        )


class MeOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    username: str
    display_name: str
    bio: str
    avatar: AvatarOut | None
    joined_at: datetime
    is_private: bool
    email_verified: bool
    phone_verified: bool
    followers_count: int
    following_count: int
    version: int
    privacy: PrivacyOut

    @classmethod
    def of(cls, p: Profile) -> MeOut:
        return cls(
            user_id=p.user_id,
            username=p.username,
            display_name=p.display_name,
            bio=p.bio,
            avatar=_avatar(p),
            joined_at=p.joined_at,
            is_private=p.is_private,
            email_verified=p.email_verified,
            phone_verified=p.phone_verified,
            followers_count=p.followers_count,
            following_count=p.following_count,
            version=p.version,
            privacy=PrivacyOut.of(p),
        )


class RelationshipOut(msgspec.Struct, rename="camel"):
    following: bool
    followed_by: bool
    requested: bool
    requested_by: bool
    blocking: bool
    muting: bool

    @classmethod
    def of(cls, flags: dict[str, bool]) -> RelationshipOut:
        return cls(
            following=flags["following"],
            followed_by=flags["followedBy"],
            requested=flags["requested"],
            requested_by=flags["requestedBy"],
            blocking=flags["blocking"],
            muting=flags["muting"],
        )


class ProfileOut(msgspec.Struct, rename="camel", omit_defaults=True):
    """The public view. For a user the viewer blocks, only a stub (``relationship.blocking``)."""

    user_id: uuid.UUID
    username: str
    relationship: RelationshipOut
    display_name: str | None = None
    bio: str | None = None
    avatar: AvatarOut | None = None
    joined_at: datetime | None = None
    is_private: bool | None = None
    phone_verified: bool | None = None
    email_verified: bool | None = None
    followers_count: int | None = None
    following_count: int | None = None

    @classmethod
    def of(cls, view: ProfileView) -> ProfileOut:
        p = view.profile
        relationship = RelationshipOut.of(view.relationship)
        if view.blocking_stub:
            return cls(user_id=p.user_id, username=p.username, relationship=relationship)
        return cls(
            user_id=p.user_id,
            username=p.username,
            relationship=relationship,
            display_name=p.display_name,
            bio=p.bio,
            avatar=_avatar(p),
            joined_at=p.joined_at,
            is_private=p.is_private,
            phone_verified=p.phone_verified,
            email_verified=p.email_verified,
            followers_count=p.followers_count,
            following_count=p.following_count,
        )


class ListedUserOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    username: str
    display_name: str
    avatar: AvatarOut | None
    since: datetime
    relationship: RelationshipOut

    @classmethod
    def of(cls, item: ListedUser) -> ListedUserOut:
        p = item.profile
        return cls(
            user_id=p.user_id,
            username=p.username,
            display_name=p.display_name,
            avatar=_avatar(p),
            since=item.edge.created_at,
            relationship=RelationshipOut.of(item.relationship),
        )


class FollowStateOut(msgspec.Struct, rename="camel"):
    state: str


class MuteOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    posts: bool
    notifications: bool
    expires_at: datetime | None
    created_at: datetime


class RelationshipItemOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    relationship: RelationshipOut


class RelationshipsOut(msgspec.Struct, rename="camel"):
    items: list[RelationshipItemOut]
