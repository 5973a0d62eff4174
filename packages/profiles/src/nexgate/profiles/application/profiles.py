"""Profile use cases: creation (idempotent by user id), reading, editing, privacy, lifecycle.

Authorisation lives here: every use case takes the acting user id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from nexgate.contracts.profiles import (
    AvatarRef,
    PrivacySettingsChanged,
    ProfileCreated,
    ProfileDeleted,
    ProfileUpdated,
)
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from nexgate.profiles.domain.profiles import (
    AUDIENCES,
    Profile,
    generated_username,
    normalize_username,
    safe_display_name,
    username_problem,
    validate_bio,
    validate_display_name,
)
from nexgate.profiles.ports import MessageOutbox, ProfileStore

#: Attempts at a free generated username before giving up (each adds a digit).
_GENERATED_ATTEMPTS = 8


def snapshot(
    profile: Profile, cls: type[ProfileCreated] | type[ProfileUpdated] = ProfileUpdated
) -> ProfileCreated | ProfileUpdated:
    avatar = AvatarRef(file_id=profile.avatar_file_id) if profile.avatar_file_id else None
    return cls(
        user_id=profile.user_id,
        username=profile.username,
        display_name=profile.display_name,
        avatar=avatar,
        is_private=profile.is_private,
        deactivated=profile.deactivated,
        version=profile.version,
    )


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
        profile = Profile.new(
            user_id=user_id,
            username=username,
            display_name=safe_display_name(display_name or "", fallback=username),
            joined_at=joined_at or now,
            email_verified=email_verified,
            phone_verified=phone_verified,
        )
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
    if profile.version == 1 and profile.display_name == profile.username:
        # Created by GET /me before registration arrived: take the real name once.
        name = safe_display_name(display_name, fallback=profile.display_name)
        if name != profile.display_name:
            changes["display_name"] = name
    if not changes:
        return profile
    return await _update(user_id, store=store, outbox=outbox, clock=clock, **changes)


async def _update(
    user_id: uuid.UUID, *, store: ProfileStore, outbox: MessageOutbox, clock: Clock, **changes: object
) -> Profile:
    updated = await store.update(user_id, clock.now(), **changes)
    if updated is None:
        raise NotFound("No such profile.", code="profile_not_found")
    await outbox.add(snapshot(updated))
    return updated


@dataclass(frozen=True)
class ProfileEdit:
    """PATCH /me: only these fields; None leaves a field as it is."""

    display_name: str | None = None
    bio: str | None = None


async def edit_profile(
    *, actor: uuid.UUID, edit: ProfileEdit, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> Profile:
    changes: dict[str, object] = {}
    if edit.display_name is not None:
        changes["display_name"] = validate_display_name(edit.display_name)
    if edit.bio is not None:
        changes["bio"] = validate_bio(edit.bio)
    profile = await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    if not changes:
        return profile
    return await _update(actor, store=store, outbox=outbox, clock=clock, **changes)


async def set_avatar(
    *, actor: uuid.UUID, file_id: uuid.UUID | None, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> Profile:
    """Store the avatar as a files-context file id (never an external URL). Ownership and
    image checks belong to the files context's ``attach``, wired once files is installed."""
    await ensure_profile(user_id=actor, store=store, outbox=outbox, clock=clock)
    return await _update(actor, store=store, outbox=outbox, clock=clock, avatar_file_id=file_id)


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


async def erase(*, user_id: uuid.UUID, store: ProfileStore, outbox: MessageOutbox) -> None:
    """``auth.user_deleted.v1``: erase the profile and all its relations; one message."""
    if await store.delete(user_id):
        await outbox.add(ProfileDeleted(user_id=user_id))
