"""What the API accepts and returns: explicit Structs, camelCase, unknown fields refused."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from nexgate.profiles.application.profiles import Availability
from nexgate.profiles.application.relations import ProfileView
from nexgate.profiles.application.trust import TrustView
from nexgate.profiles.domain.profiles import Link, Profile, next_username_change
from nexgate.profiles.ports import ListedUser


class LocationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    label: str
    country_code: str | None = None


class LinkIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    url: str
    title: str | None = None


class ProfileEditIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    display_name: str | None = None
    bio: str | None = None
    #: Absent leaves it, null clears it.
    location: LocationIn | msgspec.UnsetType | None = msgspec.UNSET
    links: list[LinkIn] | None = None


class UsernameIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    username: str


class AvailabilityOut(msgspec.Struct, rename="camel", omit_defaults=True):
    available: bool
    suggestions: list[str]
    reason: str | None = None

    @classmethod
    def of(cls, found: Availability) -> AvailabilityOut:
        return cls(available=found.available, suggestions=found.suggestions, reason=found.reason)


class LocationOut(msgspec.Struct, rename="camel"):
    label: str
    country_code: str | None


class LinkOut(msgspec.Struct, rename="camel"):
    url: str
    title: str | None


def _location(p: Profile) -> LocationOut | None:
    return LocationOut(label=p.location_label, country_code=p.location_country) if p.location_label else None


def _links(links: tuple[Link, ...]) -> list[LinkOut]:
    return [LinkOut(url=link.url, title=link.title) for link in links]


class TrustFactorOut(msgspec.Struct, rename="camel"):
    factor: str
    points: int
    max_points: int
    explanation: str


class TrustInputsOut(msgspec.Struct, rename="camel"):
    """The raw inputs: only the owner and staff see them."""

    phone_verified: bool
    email_verified: bool
    account_age_days: int
    distinct_sellers_bought_from: int
    distinct_buyers_sold_to: int
    ratings_count: int
    rating_average: float | None
    upheld_reports_last_year: int


class TrustOut(msgspec.Struct, rename="camel", omit_defaults=True):
    score: int
    level: str
    formula_version: int
    computed_at: datetime
    breakdown: list[TrustFactorOut]
    inputs: TrustInputsOut | None = None

    @classmethod
    def of(cls, view: TrustView) -> TrustOut:
        r = view.result
        inputs = None
        if view.inputs is not None:
            i = view.inputs
            today = view.computed_at.date()
            inputs = TrustInputsOut(
                phone_verified=i.phone_verified,
                email_verified=i.email_verified,
                account_age_days=max(0, (today - i.registered_on).days) if i.registered_on else 0,
                distinct_sellers_bought_from=i.distinct_sellers_bought_from,
                distinct_buyers_sold_to=i.distinct_buyers_sold_to,
                ratings_count=len(i.ratings),
                rating_average=round(sum(i.ratings) / len(i.ratings), 2) if i.ratings else None,
                upheld_reports_last_year=sum(1 for d in i.upheld_reports if (today - d).days <= 365),
            )
        return cls(
            score=r.score,
            level=r.level,
            formula_version=r.formula_version,
            computed_at=view.computed_at,
            breakdown=[
                TrustFactorOut(
                    factor=c.factor, points=c.points, max_points=c.max_points, explanation=c.explanation
                )
                for c in r.breakdown
            ],
            inputs=inputs,
        )


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


def _avatar(p: Profile) -> AvatarOut | None:
    return (
        AvatarOut(file_id=p.avatar_file_id, url=p.avatar_url, blurhash=p.avatar_blurhash)
        if p.avatar_file_id
        else None
    )


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
    trust: TrustOut
    location: LocationOut | None
    links: list[LinkOut]
    #: A new avatar file still being processed (the shown one stays until it is ready).
    avatar_pending_file_id: uuid.UUID | None
    next_username_change_at: datetime | None

    @classmethod
    def of(cls, p: Profile, trust: TrustView) -> MeOut:
        return cls(
            trust=TrustOut.of(trust),
            location=_location(p),
            links=_links(p.links),
            avatar_pending_file_id=p.avatar_pending_file_id,
            next_username_change_at=next_username_change(p.username_changed_at),
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
    trust_score: int | None = None
    trust_level: str | None = None
    location: LocationOut | None = None
    links: list[LinkOut] | None = None

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
            trust_score=p.trust_score,
            trust_level=p.trust_level,
            location=_location(p),
            links=_links(p.links),
        )


class SearchResultOut(msgspec.Struct, rename="camel"):
    user_id: uuid.UUID
    username: str
    display_name: str
    avatar: AvatarOut | None
    trust_level: str

    @classmethod
    def of(cls, p: Profile) -> SearchResultOut:
        return cls(
            user_id=p.user_id,
            username=p.username,
            display_name=p.display_name,
            avatar=_avatar(p),
            trust_level=p.trust_level,
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
