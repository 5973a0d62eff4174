"""Username changes (once per 14 days, old name held 14 days for its owner) and availability."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from nexgate.contracts.profiles import ProfileUpdated

ME = "/api/v1/profiles/me"
AVAILABILITY = "/api/v1/profiles/usernames/{}/availability"


async def test_username_change_cooldown_and_14_day_hold(timed_client, bearer) -> None:
    client, clock = timed_client
    a = bearer(uuid.uuid4())
    b = bearer(uuid.uuid4())
    assert (await client.get(ME, headers=a)).status_code == 200
    assert (await client.get(ME, headers=b)).status_code == 200

    changed = await client.put(f"{ME}/username", json={"username": "Amani.Duka"}, headers=a)
    assert changed.status_code == 200, changed.text
    assert changed.json()["username"] == "amani.duka"
    assert changed.json()["nextUsernameChangeAt"].startswith("2026-06-15")
    # The same name again is a no-op, not a change.
    assert (await client.put(f"{ME}/username", json={"username": "amani.duka"}, headers=a)).status_code == 200

    # A second change within 14 days: 409 with the time it becomes possible.
    clock.advance(timedelta(days=13, hours=23))
    too_soon = await client.put(f"{ME}/username", json={"username": "amani.shop"}, headers=a)
    assert too_soon.status_code == 409
    assert too_soon.json()["code"] == "username_change_too_soon"
    assert too_soon.json()["extra"]["nextChangeAt"].startswith("2026-06-15T09:00")

    clock.advance(timedelta(hours=1))
    moved = await client.put(f"{ME}/username", json={"username": "amani.shop"}, headers=a)
    assert moved.status_code == 200, moved.text

    # The old name is held: taken for everyone else, offered back to its owner only.
    taken = await client.put(f"{ME}/username", json={"username": "AMANI.DUKA"}, headers=b)
    assert (taken.status_code, taken.json()["code"]) == (409, "username_taken")
    seen_by_b = (await client.get(AVAILABILITY.format("amani.duka"), headers=b)).json()
    assert (seen_by_b["available"], seen_by_b["reason"]) == (False, "held")
    assert seen_by_b["suggestions"]
    assert (await client.get(AVAILABILITY.format("amani.duka"), headers=a)).json()["available"] is True

    # After 14 days the owner may change again, and take the held name back.
    clock.advance(timedelta(days=14))
    back = await client.put(f"{ME}/username", json={"username": "amani.duka"}, headers=a)
    assert back.status_code == 200, back.text
    assert back.json()["username"] == "amani.duka"
    # ... which holds "amani.shop" for 14 days, then frees it for anyone.
    assert (await client.get(AVAILABILITY.format("amani.shop"), headers=b)).json()["reason"] == "held"
    clock.advance(timedelta(days=14, seconds=1))
    free = await client.put(f"{ME}/username", json={"username": "amani.shop"}, headers=b)
    assert free.status_code == 200, free.text


async def test_username_change_validation_and_concurrent_claims(client, user, messages) -> None:
    _, h = await user()
    for bad, reason in (("ab", "length"), ("1abc", "must_start_with_letter"), ("a..b", "periods"),
                        ("admin", "reserved"), ("NexGate", "reserved"), ("jina!", "characters"),
                        ("trailing.", "periods")):  # fmt: skip
        response = await client.put(f"{ME}/username", json={"username": bad}, headers=h)
        assert response.status_code == 422, bad
        assert (response.json()["code"], response.json()["extra"]["reason"]) == (
            "invalid_username",
            reason,
        ), bad
    extra = await client.put(f"{ME}/username", json={"username": "neema", "trustScore": 99}, headers=h)
    assert extra.json()["code"] == "validation_failed"

    # Concurrent claims of one free name: one winner, the others 409 username_taken.
    claimants = [await user() for _ in range(5)]
    results = await asyncio.gather(
        *(client.put(f"{ME}/username", json={"username": "zuri.store"}, headers=hd) for _, hd in claimants)
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"username_taken"}
    winners = [m for m in await messages(ProfileUpdated.tag()) if m.username == "zuri.store"]
    assert len(winners) == 1


async def test_username_availability_reasons_suggestions_and_rate_limit(client, user) -> None:
    _, h = await user()
    await client.put(f"{ME}/username", json={"username": "baraka"}, headers=h)
    _, other = await user()
    free = (await client.get(AVAILABILITY.format("Baraka.Fresh"), headers=other)).json()
    assert free == {"available": True, "suggestions": []}
    taken = (await client.get(AVAILABILITY.format("BARAKA"), headers=other)).json()
    assert (taken["available"], taken["reason"]) == (False, "taken")
    assert len(taken["suggestions"]) == 3
    for name in taken["suggestions"]:
        again = (await client.get(AVAILABILITY.format(name), headers=other)).json()
        assert again["available"] is True, name
    assert (await client.get(AVAILABILITY.format("settings"), headers=other)).json()["reason"] == "reserved"
    # Anonymous callers (sign-up forms) may ask too, within the same rate limit.
    anonymous = await client.get(AVAILABILITY.format("baraka"))
    assert (anonymous.status_code, anonymous.json()["reason"]) == (200, "taken")
    # 30 a minute per caller: this caller already asked 6 times.
    statuses = [
        (await client.get(AVAILABILITY.format(f"name{i}"), headers=other)).status_code for i in range(26)
    ]
    assert statuses == [200] * 24 + [429, 429]
