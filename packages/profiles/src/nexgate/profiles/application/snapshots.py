"""The profile snapshot that ``profile_created``/``profile_updated`` carry (and the facade returns)."""

from __future__ import annotations

from nexgate.contracts.profiles import AvatarRef, ProfileCreated, ProfileUpdated
from nexgate.profiles.domain.profiles import Profile


def snapshot(
    profile: Profile, cls: type[ProfileCreated] | type[ProfileUpdated] = ProfileUpdated
) -> ProfileCreated | ProfileUpdated:
    avatar = (
        AvatarRef(file_id=profile.avatar_file_id, url=profile.avatar_url, blurhash=profile.avatar_blurhash)
        if profile.avatar_file_id
        else None
    )
    return cls(
        user_id=profile.user_id,
        username=profile.username,
        display_name=profile.display_name,
        avatar=avatar,
        is_private=profile.is_private,
        deactivated=profile.deactivated,
        version=profile.version,
        trust_score=profile.trust_score,
        trust_level=profile.trust_level,
    )
