"""Profile use cases: creation (idempotent by user id), reading, editing, privacy, lifecycle.

Authorisation lives here: every use case takes the acting user id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from nexgate.contracts.profiles import PrivacySettingsChanged, ProfileCreated, ProfileDeleted
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from nexgate.profiles.application.snapshots import snapshot
from nexgate.profiles.application.trust import recompute, score_of
from nexgate.profiles.domain.profiles import (
    AUDIENCES,
    USERNAME_HOLD,
    Link,
    Profile,
    check_username_cooldown,
    generated_username,
    normalize_username,
    safe_display_name,
    username_problem,
    username_suggestions,
    validate_bio,
    validate_display_name,
    validate_links,
    validate_location,
    validate_username,
)
from nexgate.profiles.ports import MediaResolver, MessageOutbox, ProfileStore, UsernameHold

#: Attempts at a free generated username before giving up (each adds a digit).
_GENERATED_ATTEMPTS = 8


def _candidates(requested: str | None, display_name: str) -> list[str]:
    names = []
    if requested is not None:
        wanted = normalize_username(requested)
        if username_problem(wanted) is None:
            names.append(wanted)
    names.extend(generated_username(display_name, digits=4 + i // 2) for i in range(_GENERATED_ATTEMPTS))
    return names


async def ensure_profile(
    *,
    user_id: uuid.UUID,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
    display_name: str | None = None,
    requested_username: str | None = None,
    email_verified: bool = False,
    phone_verified: bool = False,
    joined_at: datetime | None = None,
) -> Profile:
    """The user's profile, created on first need. Safe to call concurrently and repeatedly.

    Each insert is ``ON CONFLICT DO NOTHING``: a lost race on the user id returns the
    winner's row; a lost race on the username tries the next candidate.
    """
    existing = await store.get(user_id)
    if existing is not None:
        return existing
    now = clock.now()
    for username in _candidates(requested_username, display_name or ""):
        hold = await store.username_hold(username, now)
        if hold is not None and hold.user_id != user_id:
            continue
        profile = Profile.new(
            user_id=user_id,
            username=username,
            display_name=safe_display_name(display_name or "", fallback=username),
            joined_at=joined_at or now,
            email_verified=email_verified,
            phone_verified=phone_verified,
        )
        # Trust facts may have arrived before the profile: start from them.
        result, _ = await score_of(profile, store, now)
        profile = replace(profile, trust_score=result.score, trust_level=result.level)
        if await store.insert_if_absent(profile):
            await outbox.add(snapshot(profile, ProfileCreated))
            return profile
        existing = await store.get(user_id)
        if existing is not None:
            return existing
    raise Conflict("Could not find a free username.", code="username_taken")


async def registered(
    *,
    user_id: uuid.UUID,
    display_name: str,
    requested_username: str | None,
    email_verified: bool,
    phone_verified: bool,
    registered_at: datetime,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
) -> Profile:
    """``auth.user_registered.v1``: create, or complete a profile a first GET /me created."""
    profile = await ensure_profile(
        user_id=user_id,
        store=store,
        outbox=outbox,
        clock=clock,
        display_name=display_name,
        requested_username=requested_username,
        email_verified=email_verified,
        phone_verified=phone_verified,
        joined_at=registered_at,
    )
    changes: dict[str, object] = {}
    if email_verified and not profile.email_verified:
        changes["email_verified"] = True
    if phone_verified and not profile.phone_verified:
        changes["phone_verified"] = True
    if registered_at < profile.joined_at:
        # The account age counts from registration, not from a first GET /me that came earlier.
        changes["joined_at"] = registered_at
    if profile.version == 1 and profile.display_name == profile.username:
        # Created by GET /me before registration arrived: take the real name once.
        name = safe_display_name(display_name, fallback=profile.display_name)
        if name != profile.display_name:
            changes["display_name"] = name
    if not changes:
        return profile
    await _update(user_id, store=store, outbox=outbox, clock=clock, **changes)
    await recompute([user_id], store=store, outbox=outbox, clock=clock)
    return await _require(user_id, store)


async def _require(user_id: uuid.UUID, store: ProfileStore) -> Profile:
    profile = await store.get(user_id)
    if profile is None:
        raise NotFound("No such profile.", code="profile_not_found")
    return profile


async def _update(
    user_id: uuid.UUID, *, store: ProfileStore, outbox: MessageOutbox, clock: Clock, **changes: object
) -> Profile:
    updated = await store.update(user_id, clock.now(), **changes)
    if updated is None:
        raise NotFound("No such profile.", code="profile_not_found")
    await outbox.add(snapshot(updated))
    return updated


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


#: A PATCH field that was not sent (``None`` means "clear it").
UNCHANGED: Final = _Unchanged()


@dataclass(frozen=True)
class ProfileEdit:
    """PATCH /me: only these fields; None (or UNCHANGED) leaves a field as it is."""

    display_name: str | None = None
    bio: str | None = None
    #: (label, countryCode), None to clear it.
    location: tuple[str, str | None] | _Unchanged | None = UNCHANGED
    links: tuple[Link, ...] | None = None


async def edit_profile(
    *, actor: uuid.UUID, edit: ProfileEdit, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> Profile:
    changes: dict[str, object] = {}
    if edit.display_name is not None:
        changes["display_name"] = validate_display_name(edit.display_name)
    if edit.bio is not None:
        changes["bio"] = validate_bio(edit.bio)
    if edit.links is not None:
        changes["links"] = validate_links(edit.links)
    if edit.location is None:
        changes |= {"location_label": None, "location_country": None}
    elif not isinstance(edit.location, _Unchanged):
        label, country = validate_location(*edit.location)
        changes |= {"location_label": label, "location_country": country}
    profile = await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    if not changes:
        return profile
    return await _update(actor, store=store, outbox=outbox, clock=clock, **changes)


# -- usernames ----------------------------------------------------------------------------
async def change_username(
    *, actor: uuid.UUID, wanted: str, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> Profile:
    """Once per 14 days; the old name is held 14 days, during which only ``actor`` may take it back.

    Both names are locked (advisory, sorted) until commit, so concurrent claims of one name
    produce one winner and the others see it taken.
    """
    name = validate_username(wanted)
    profile = await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    if name == profile.username:
        return profile
    now = clock.now()
    check_username_cooldown(profile.username_changed_at, now)
    await store.lock_usernames([name, profile.username])
    hold = await store.username_hold(name, now)
    if (hold is not None and hold.user_id != actor) or await store.username_taken(name):
        raise Conflict("That username is taken.", code="username_taken")
    if hold is not None:
        await store.release_username(name)
    await store.hold_username(
        UsernameHold(username=profile.username, user_id=actor, held_until=now + USERNAME_HOLD)
    )
    return await _update(
        actor, store=store, outbox=outbox, clock=clock, username=name, username_changed_at=now
    )


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str | None
    suggestions: list[str]


async def _is_free(name: str, viewer: uuid.UUID | None, store: ProfileStore, now: datetime) -> str | None:
    """None if ``viewer`` may take ``name`` now, else why not (``taken`` or ``held``)."""
    owner = await store.get_by_username(name)
    if owner is not None:
        return None if viewer is not None and owner.user_id == viewer else "taken"
    hold = await store.username_hold(name, now)
    if hold is not None and hold.user_id != viewer:
        return "held"
    return None


async def username_availability(
    *, raw: str, viewer: uuid.UUID | None, store: ProfileStore, clock: Clock, suggestions: int = 3
) -> Availability:
    name = normalize_username(raw)
    now = clock.now()
    reason = username_problem(name) or await _is_free(name, viewer, store, now)
    if reason is None:
        return Availability(available=True, reason=None, suggestions=[])
    free = [n for n in username_suggestions(name) if await _is_free(n, viewer, store, now) is None]
    return Availability(available=False, reason=reason, suggestions=free[:suggestions])


# -- avatar -------------------------------------------------------------------------------
async def set_avatar(
    *,
    actor: uuid.UUID,
    file_id: uuid.UUID,
    media: MediaResolver,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
) -> Profile:
    """Attach a files-context file (owned by the actor, an image, purpose ``avatar``).

    A file still being processed waits as the pending avatar: the old one stays visible until
    ``files.media_ready.v1`` names it (`avatar_ready`).
    """
    profile = await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    if file_id == profile.avatar_file_id:
        return profile
    found = await media.attach_avatar(file_id, owner=actor)
    if profile.avatar_pending_file_id not in (None, file_id):
        await media.detach_avatar(profile.avatar_pending_file_id, owner=actor)
    if not found.ready:
        return await _update(actor, store=store, outbox=outbox, clock=clock, avatar_pending_file_id=file_id)
    return await _show_avatar(profile, file_id, found.url, found.blurhash, media, store, outbox, clock)


async def _show_avatar(
    profile: Profile,
    file_id: uuid.UUID | None,
    url: str | None,
    blurhash: str | None,
    media: MediaResolver | None,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
) -> Profile:
    previous = profile.avatar_file_id
    updated = await _update(
        profile.user_id,
        store=store,
        outbox=outbox,
        clock=clock,
        avatar_file_id=file_id,
        avatar_url=url,
        avatar_blurhash=blurhash,
        avatar_pending_file_id=None,
    )
    if media is not None and previous is not None and previous != file_id:
        await media.detach_avatar(previous, owner=profile.user_id)
    return updated


async def clear_avatar(
    *, actor: uuid.UUID, media: MediaResolver, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    profile = await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    if profile.avatar_pending_file_id is not None:
        await media.detach_avatar(profile.avatar_pending_file_id, owner=actor)
    if profile.avatar_file_id is not None or profile.avatar_pending_file_id is not None:
        await _show_avatar(profile, None, None, None, media, store, outbox, clock)


async def avatar_ready(
    *,
    file_id: uuid.UUID,
    url: str | None,
    blurhash: str | None,
    media: MediaResolver | None,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
) -> None:
    """``files.media_ready.v1``: a pending avatar becomes the shown one (the old one is detached)."""
    for user_id in await store.with_avatar_file(file_id):
        profile = (await store.lock([user_id])).get(user_id)
        if profile is None:
            continue
        if profile.avatar_pending_file_id == file_id:
            await _show_avatar(profile, file_id, url, blurhash, media, store, outbox, clock)
        elif profile.avatar_file_id == file_id and (url, blurhash) != (
            profile.avatar_url,
            profile.avatar_blurhash,
        ):
            await _update(
                user_id, store=store, outbox=outbox, clock=clock, avatar_url=url, avatar_blurhash=blurhash
            )


async def avatar_file_deleted(
    *, file_id: uuid.UUID, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """``files.file_deleted.v1``: the file is gone, so is the avatar (or the pending one)."""
    for user_id in await store.with_avatar_file(file_id):
        profile = (await store.lock([user_id])).get(user_id)
        if profile is None:
            continue
        if profile.avatar_file_id == file_id:
            await _show_avatar(profile, None, None, None, None, store, outbox, clock)
        elif profile.avatar_pending_file_id == file_id:
            await _update(user_id, store=store, outbox=outbox, clock=clock, avatar_pending_file_id=None)


@dataclass(frozen=True)
class PrivacyEdit:
    is_private: bool | None = None
    who_can_message: str | None = None
    who_can_mention: str | None = None
    show_activity: bool | None = None


async def edit_privacy(
    *, actor: uuid.UUID, edit: PrivacyEdit, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> Profile:
    from nexgate.profiles.application.relations import approve_all_pending

    problems = [
        FieldProblem(name, f"must be one of {', '.join(AUDIENCES)}")
        for name, value in (("whoCanMessage", edit.who_can_message), ("whoCanMention", edit.who_can_mention))
        if value is not None and value not in AUDIENCES
    ]
    if problems:
        raise ValidationFailed("Unknown audience.", errors=problems)
    await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    # Going public approves pending requests: lock their requesters now, with the actor,
    # in the one lock order (new requests need the actor's row, so none can slip in).
    pending = await store.incoming_requesters(actor) if edit.is_private is False else []
    locked = (await store.lock([actor, *pending]))[actor]
    changes = {
        k: v
        for k, v in (
            ("is_private", edit.is_private),
            ("who_can_message", edit.who_can_message),
            ("who_can_mention", edit.who_can_mention),
            ("show_activity", edit.show_activity),
        )
        if v is not None and getattr(locked, k) != v
    }
    if not changes:
        return locked
    updated = await _update(actor, store=store, outbox=outbox, clock=clock, **changes)
    await outbox.add(
        PrivacySettingsChanged(
            user_id=actor,
            is_private=updated.is_private,
            who_can_message=updated.who_can_message,
            who_can_mention=updated.who_can_mention,
            show_activity=updated.show_activity,
            version=updated.version,
        )
    )
    if locked.is_private and not updated.is_private:
        await approve_all_pending(target=actor, store=store, outbox=outbox, clock=clock)
    return updated


async def set_deactivated(
    *, user_id: uuid.UUID, deactivated: bool, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """``auth.user_deactivated.v1`` / ``auth.user_reactivated.v1``: hide or show the profile."""
    profile = await store.get(user_id)
    if profile is None or profile.deactivated == deactivated:
        return
    await _update(user_id, store=store, outbox=outbox, clock=clock, deactivated=deactivated)


async def identifier_verified(
    *, user_id: uuid.UUID, kind: str, verified: bool, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """``auth.identifier_changed.v1``: keep only the verification flag (never the address)."""
    column = {"email": "email_verified", "phone": "phone_verified"}.get(kind)
    if column is None:
        return
    profile = await store.get(user_id)
    if profile is None or getattr(profile, column) == verified:
        return
    await _update(user_id, store=store, outbox=outbox, clock=clock, **{column: verified})
    await recompute([user_id], store=store, outbox=outbox, clock=clock)


async def erase(*, user_id: uuid.UUID, store: ProfileStore, outbox: MessageOutbox, clock: Clock) -> None:
    """``auth.user_deleted.v1``: erase the profile and all its relations; one message.

    The username stays held for 14 days, so nobody can impersonate the departed account at once.
    """
    profile = await store.get(user_id)
    if profile is None:
        return
    await store.hold_username(
        UsernameHold(username=profile.username, user_id=user_id, held_until=clock.now() + USERNAME_HOLD)
    )
    if await store.delete(user_id):
        await outbox.add(ProfileDeleted(user_id=user_id))
