"""Trust score use cases: record one input fact, recompute, explain.

Each fact is one row keyed by its own id (order, review, report), so a redelivered
message adds nothing and an overturned report is removed exactly. Recomputing locks
the profile row first, so two facts about one user arriving at once are counted
by whichever commits second.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from nexgate.contracts.profiles import TrustScoreChanged
from nexgate.kernel.clock import Clock
from nexgate.kernel.security.principal import Principal
from nexgate.profiles.application.snapshots import snapshot
from nexgate.profiles.domain.profiles import Profile
from nexgate.profiles.domain.trust import TrustInputs, TrustScore, trust_score
from nexgate.profiles.ports import MessageOutbox, ProfileStore

#: Roles that see everyone's raw trust inputs.
STAFF_ROLES = frozenset({"staff", "admin"})


def inputs_of(profile: Profile, facts: TrustInputs) -> TrustInputs:
    return replace(
        facts,
        phone_verified=profile.phone_verified,
        email_verified=profile.email_verified,
        registered_on=profile.joined_at.date(),
    )


async def score_of(profile: Profile, store: ProfileStore, now: datetime) -> tuple[TrustScore, TrustInputs]:
    inputs = inputs_of(profile, await store.trust_inputs(profile.user_id))
    return trust_score(inputs, now.date()), inputs


async def recompute(
    user_ids: Sequence[uuid.UUID], *, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """Store each user's score; when the integer changes, bump the snapshot and announce it."""
    locked = await store.lock(user_ids)
    now = clock.now()
    for user_id in sorted(locked):
        profile = locked[user_id]
        result, _ = await score_of(profile, store, now)
        if result.score == profile.trust_score and result.level == profile.trust_level:
            continue
        updated = await store.update(user_id, now, trust_score=result.score, trust_level=result.level)
        if updated is None:
            continue
        await outbox.add(snapshot(updated))
        await outbox.add(
            TrustScoreChanged(
                user_id=user_id,
                score=result.score,
                level=result.level,
                formula_version=result.formula_version,
            )
        )


async def order_completed(
    *,
    order_id: uuid.UUID,
    buyer_id: uuid.UUID,
    seller_id: uuid.UUID,
    completed_at: datetime,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
) -> None:
    """A completed order: a purchase for the buyer, a sale for the seller."""
    if buyer_id == seller_id:
        return
    changed = [
        user
        for user, kind, other in ((buyer_id, "purchase", seller_id), (seller_id, "sale", buyer_id))
        if await store.add_trust_input(user, kind, order_id, completed_at, counterparty=other)
    ]
    if changed:
        await recompute(changed, store=store, outbox=outbox, clock=clock)


async def rating_received(
    *,
    user_id: uuid.UUID,
    review_id: uuid.UUID,
    rating: int,
    source: str,
    store: ProfileStore,
    outbox: MessageOutbox,
    clock: Clock,
) -> None:
    """A 1-5 rating of a seller (``source="commerce"``) or an organiser (``"event"``)."""
    if not 1 <= rating <= 5:
        return  # outside the producer's own rules: never let it skew anyone's score
    if await store.add_trust_input(user_id, f"{source}_rating", review_id, clock.now(), rating=rating):
        await recompute([user_id], store=store, outbox=outbox, clock=clock)


async def report_upheld(
    *, user_id: uuid.UUID, report_id: uuid.UUID, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """Only upheld reports count (a report that was merely filed never reaches here)."""
    if await store.add_trust_input(user_id, "report", report_id, clock.now()):
        await recompute([user_id], store=store, outbox=outbox, clock=clock)


async def report_overturned(
    *, user_id: uuid.UUID, report_id: uuid.UUID, store: ProfileStore, outbox: MessageOutbox, clock: Clock
) -> None:
    """Reverse an upheld report; also when this arrives before the uphold, which then counts nothing."""
    if await store.deactivate_trust_input(user_id, "report", report_id, clock.now()):
        await recompute([user_id], store=store, outbox=outbox, clock=clock)


async def daily_refresh(
    *, store: ProfileStore, outbox: MessageOutbox, clock: Clock, after: uuid.UUID | None, batch: int
) -> list[uuid.UUID]:
    """One batch of the daily job (the age factor grows and upheld reports age out with the
    calendar alone). Every profile is visited, so a missed day never leaves a score behind;
    only changed scores are written."""
    ids = await store.user_ids_after(after, batch)
    if ids:
        await recompute(ids, store=store, outbox=outbox, clock=clock)
    return ids


@dataclass(frozen=True)
class TrustView:
    result: TrustScore
    computed_at: datetime
    #: Raw inputs, only for the owner and staff.
    inputs: TrustInputs | None


def explain(
    *, viewer: Principal, profile: Profile, result: TrustScore, inputs: TrustInputs, now: datetime
) -> TrustView:
    """Everyone sees the points; the owner and staff also see the raw inputs."""
    private = viewer.user_id == profile.user_id or bool(viewer.roles & STAFF_ROLES)
    return TrustView(result=result, computed_at=now, inputs=inputs if private else None)
