"""The trust score end to end: facts from commerce, events and social on the real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from nexgate.contracts.auth import IdentifierVerified, UserRegistered
from nexgate.contracts.commerce import OrderCompleted
from nexgate.contracts.commerce import ReviewReceived as SellerReviewed
from nexgate.contracts.events import ReviewReceived as OrganizerReviewed
from nexgate.contracts.profiles import ProfileUpdated, TrustScoreChanged
from nexgate.contracts.social import ReportOverturned, ReportUpheld
from nexgate.kernel.clock import FixedClock
from nexgate.kernel.runtime import build_runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.jobs import refresh_trust
from nexgate.profiles.adapters.sql.models import tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application.profiles import ensure_profile

P = "/api/v1/profiles"


def registered(
    user_id: uuid.UUID, *, days_ago: int, phone: bool = True, email: bool = True
) -> UserRegistered:
    return UserRegistered(
        user_id=user_id,
        display_name="Neema Kweka",
        locale="sw",
        email_verified=email,
        phone_verified=phone,
        registered_via="phone",
        registered_at=datetime.now(UTC) - timedelta(days=days_ago),
    )


def points(body: dict) -> dict[str, int]:
    return {f["factor"]: f["points"] for f in body["breakdown"]}


async def test_trust_recomputed_from_messages_and_redelivery_is_noop(
    client, bearer, publish, inbox_count, messages, wait_until
) -> None:
    """The issue's worked example, built from messages: 66, then 51 with one upheld report."""
    me = uuid.uuid4()
    headers = bearer(me)
    sent = [registered(me, days_ago=200)]
    sellers = [uuid.uuid4() for _ in range(4)]
    # Two orders from the first seller: distinct sellers count, not orders.
    sent += [
        OrderCompleted(order_id=uuid.uuid4(), buyer_id=me, seller_id=s, completed_at=datetime.now(UTC))
        for s in [*sellers, sellers[0]]
    ]
    sent += [
        OrderCompleted(
            order_id=uuid.uuid4(), buyer_id=uuid.uuid4(), seller_id=me, completed_at=datetime.now(UTC)
        )
        for _ in range(12)
    ]
    # 12 ratings averaging 4.5, from shop buyers and event attendees.
    sent += [
        SellerReviewed(review_id=uuid.uuid4(), seller_id=me, buyer_id=uuid.uuid4(), rating=r)
        for r in (4, 5) * 3
    ]
    sent += [
        OrganizerReviewed(
            review_id=uuid.uuid4(), event_id=uuid.uuid4(), organizer_id=me, reviewer_id=uuid.uuid4(), rating=r
        )
        for r in (4, 5) * 3
    ]
    for message in sent:
        await publish(message)
    for message in sent[1:8]:  # redelivered: no-ops
        await publish(message)

    async def all_handled() -> bool:
        return await inbox_count() == len(sent)

    await wait_until(all_handled, timeout=30)
    body = (await client.get(f"{P}/{me}/trust", headers=headers)).json()
    assert points(body) == {
        "phone_verified": 15,
        "email_verified": 10,
        "account_age": 8,
        "purchases": 8,
        "sales": 12,
        "ratings": 13,
        "upheld_reports": 0,
    }
    assert (body["score"], body["level"], body["formulaVersion"]) == (66, "trusted", 1)
    assert body["inputs"]["ratingAverage"] == 4.5
    # The stored score (for snapshots) matches, and every change was announced once.
    profile = (await client.get(f"{P}/{me}", headers=bearer())).json()
    assert (profile["trustScore"], profile["trustLevel"]) == (66, "trusted")
    changes = [m for m in await messages(TrustScoreChanged.tag()) if m.user_id == me]
    assert changes[-1].score == 66
    assert len({m.score for m in changes}) == len(changes)  # no repeats: published only on change
    snapshots = [m for m in await messages(ProfileUpdated.tag()) if m.user_id == me]
    assert (snapshots[-1].trust_score, snapshots[-1].trust_level) == (66, "trusted")

    upheld = ReportUpheld(report_id=uuid.uuid4(), reported_user_id=me)
    await publish(upheld)
    await publish(upheld)

    async def report_counted() -> bool:
        return await inbox_count() == len(sent) + 1

    await wait_until(report_counted)
    body = (await client.get(f"{P}/{me}/trust", headers=headers)).json()
    assert (body["score"], points(body)["upheld_reports"]) == (51, -15)
    assert len([m for m in await messages(TrustScoreChanged.tag()) if m.user_id == me]) == len(changes) + 1


async def test_unfounded_reports_do_not_count_upheld_do(
    client, bearer, publish, inbox_count, wait_until
) -> None:
    me = uuid.uuid4()
    headers = bearer(me)
    handled = 0

    async def deliver(*batch) -> None:
        nonlocal handled
        for message in batch:
            await publish(message)
        handled += len({m.id for m in batch})

        async def done() -> bool:
            return await inbox_count() == handled

        await wait_until(done)

    async def score() -> int:
        return (await client.get(f"{P}/{me}/trust", headers=headers)).json()["score"]

    await deliver(registered(me, days_ago=0, email=False))  # phone: 15
    assert await score() == 15
    await deliver(IdentifierVerified(user_id=me, kind="email", verified_at=datetime.now(UTC)))  # + email
    assert await score() == 25
    # Reports that moderators did not uphold never reach the score, however many.
    unfounded = [uuid.uuid4() for _ in range(5)]
    await deliver(*(ReportOverturned(report_id=r, reported_user_id=me) for r in unfounded))
    assert await score() == 25
    # An upheld one does; a late "upheld" for a report already overturned does not.
    real = uuid.uuid4()
    await deliver(
        ReportUpheld(report_id=real, reported_user_id=me),
        ReportUpheld(report_id=unfounded[0], reported_user_id=me),
    )
    assert await score() == 10
    # Overturning it restores the points exactly; a second "upheld" for it changes nothing.
    await deliver(ReportOverturned(report_id=real, reported_user_id=me))
    assert await score() == 25
    await deliver(ReportUpheld(report_id=real, reported_user_id=me))
    assert await score() == 25


async def test_trust_breakdown_inputs_only_for_owner_and_staff(
    client, user, bearer, publish, inbox_count, wait_until
) -> None:
    owner, o = await user()
    other, x = await user()
    staff = bearer(roles=("staff",))
    await publish(
        OrderCompleted(order_id=uuid.uuid4(), buyer_id=owner, seller_id=other, completed_at=datetime.now(UTC))
    )

    async def handled() -> bool:
        return await inbox_count() == 1

    await wait_until(handled)
    seen = {}
    for name, headers in (("owner", o), ("other", x), ("staff", staff)):
        response = await client.get(f"{P}/{owner}/trust", headers=headers)
        assert response.status_code == 200, response.text
        seen[name] = response.json()
    # Everyone sees the points and the explanation ...
    for body in seen.values():
        assert points(body)["purchases"] == 2
        assert all(f["explanation"] and "maxPoints" in f for f in body["breakdown"])
    # ... only the owner and staff see the raw inputs.
    assert "inputs" not in seen["other"]
    for name in ("owner", "staff"):
        assert seen[name]["inputs"]["distinctSellersBoughtFrom"] == 1, name
    # A blocked viewer gets 404, like for the profile itself.
    await client.post(f"{P}/{other}/block", headers=o)
    assert (await client.get(f"{P}/{owner}/trust", headers=x)).status_code == 404
    assert (await client.get(f"{P}/{uuid.uuid4()}/trust", headers=x)).status_code == 404


async def test_daily_job_adds_age_points(settings, runtime, messages) -> None:
    """The age factor moves with the calendar alone: the daily job stores it and announces it."""
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    clock = FixedClock(start)
    timed = build_runtime(settings, clock=clock)
    try:
        user_id = uuid.uuid4()
        async with timed.database().sessions() as session, session.begin():
            store = SqlProfileStore(session)
            await ensure_profile(
                user_id=user_id,
                store=store,
                outbox=SqlOutbox(session, tables),
                clock=clock,
                phone_verified=True,
            )
        assert await refresh_trust(timed, batch=1) == 1
        assert await messages(TrustScoreChanged.tag()) == []  # nothing moved yet
        clock.advance(timedelta(days=200))
        await refresh_trust(timed)
        changed = await messages(TrustScoreChanged.tag())
        assert [(m.user_id, m.score, m.level) for m in changed] == [(user_id, 15 + 8, "new")]
        clock.advance(timedelta(days=400))  # even after missed days, the full 15 age points
        await refresh_trust(timed)
        async with timed.database().sessions() as session:
            assert (await SqlProfileStore(session).get(user_id)).trust_score == 15 + 15  # type: ignore[union-attr]
        await refresh_trust(timed)
        assert len(await messages(TrustScoreChanged.tag())) == 2  # unchanged scores are not announced
    finally:
        await timed.aclose()
