"""Profiles over HTTP and through the use cases, on the real database."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from PIL import Image

from nexgate.contracts.files import FileDeleted, MediaReady, VariantSnapshot
from nexgate.contracts.profiles import ProfileCreated, ProfileUpdated
from nexgate.files.adapters.sql.models import file_refs
from nexgate.kernel.clock import SystemClock
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.sql.models import profiles, tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application.profiles import registered

ME = "/api/v1/profiles/me"


async def register(runtime: Runtime, user_id: uuid.UUID, name: str, requested: str | None = None) -> str:
    """What the ``auth.user_registered.v1`` consumer does, in its own transaction."""
    async with runtime.database().sessions() as session, session.begin():
        profile = await registered(
            user_id=user_id,
            display_name=name,
            requested_username=requested,
            email_verified=True,
            phone_verified=False,
            registered_at=datetime(2026, 1, 1, tzinfo=UTC),
            store=SqlProfileStore(session),
            outbox=SqlOutbox(session, tables),
            clock=SystemClock(),
        )
    return profile.username


async def profile_rows(runtime: Runtime, user_id: uuid.UUID) -> int:
    async with runtime.database().sessions() as session:
        return await session.scalar(sa.select(sa.func.count()).where(profiles.c.user_id == user_id))


async def test_profile_created_from_registration_or_first_get_exactly_once(
    client, bearer, runtime, messages
) -> None:
    # First GET /me, five times at once: one row, one profile_created.
    first = uuid.uuid4()
    responses = await asyncio.gather(*(client.get(ME, headers=bearer(first)) for _ in range(5)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["username"] for r in responses}) == 1
    assert await profile_rows(runtime, first) == 1
    # Registration arriving later completes it (real name, flags) without a second row.
    await register(runtime, first, "Amina Juma")
    me = (await client.get(ME, headers=bearer(first))).json()
    assert me["displayName"] == "Amina Juma"
    assert me["emailVerified"] is True
    assert me["username"] == responses[0].json()["username"]
    # The account's age counts from registration (2026-01-01 here), and the trust with it.
    assert me["joinedAt"].startswith("2026-01-01")
    assert me["trust"]["inputs"]["emailVerified"] is True
    assert me["trust"]["score"] >= 10

    # Registration first, concurrently with itself and a GET /me: still one row.
    second = uuid.uuid4()
    results = await asyncio.gather(
        register(runtime, second, "Baraka", "baraka"),
        register(runtime, second, "Baraka", "baraka"),
        client.get(ME, headers=bearer(second)),
    )
    assert await profile_rows(runtime, second) == 1
    # Whichever path won, everyone sees the one profile; the requested name if registration won.
    assert results[0] == results[1] == results[2].json()["username"]
    assert results[0] in {"baraka"} or results[0].startswith("user")
    assert (await client.get(ME, headers=bearer(second))).json()["displayName"] == "Baraka"
    created = [m for m in await messages() if isinstance(m, ProfileCreated)]
    assert sorted(str(m.user_id) for m in created) == sorted([str(first), str(second)])


async def test_username_rules_reserved_words_and_case_insensitive_uniqueness(client, bearer, runtime) -> None:
    amina = uuid.uuid4()
    assert await register(runtime, amina, "Amina", "Amina.Shop") == "amina.shop"
    # The same name in other case is taken: the newcomer gets slug + digits.
    other = await register(runtime, uuid.uuid4(), "Amina Juma", "AMINA.SHOP")
    assert other != "amina.shop"
    assert other.startswith("aminajuma")
    assert other[9:].isdigit()
    # Reserved and invalid requests fall back too.
    for requested in ("Admin", "support", "me", "1abc", "a..b", "x"):
        name = await register(runtime, uuid.uuid4(), "Zawadi", requested)
        assert name.startswith("zawadi")
        assert name[6:].isdigit()
    # Lookup is case-insensitive.
    found = await client.get("/api/v1/profiles/by-username/AMINA.Shop", headers=bearer())
    assert found.status_code == 200
    assert found.json()["userId"] == str(amina)

    # Concurrent claims of one free name: exactly one winner.
    ids = [uuid.uuid4() for _ in range(6)]
    names = await asyncio.gather(*(register(runtime, i, "Neema", "neema") for i in ids))
    assert names.count("neema") == 1
    assert len(set(names)) == 6


async def test_edit_profile_validates_and_bumps_version(client, user, runtime) -> None:
    _user_id, headers = await user()
    ok = await client.patch(
        ME, json={"displayName": "  Jose\u0301 ", "bio": "Fundi wa simu"}, headers=headers
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["displayName"] == "Jos\u00e9"
    assert ok.json()["bio"] == "Fundi wa simu"
    for body, code in (
        ({"displayName": "x" * 51}, "invalid_display_name"),
        ({"displayName": "bad\u0007"}, "invalid_display_name"),
        ({"bio": "b" * 161}, "invalid_bio"),
    ):
        bad = await client.patch(ME, json=body, headers=headers)
        assert bad.status_code == 422
        assert bad.json()["code"] == code
    assert (await client.get(ME, headers=headers)).json()["bio"] == "Fundi wa simu"


async def test_mass_assignment_fields_rejected(client, user) -> None:
    _, headers = await user()
    for field, value in (
        ("trustScore", 100),
        ("followersCount", 10**6),
        ("isVerified", True),
        ("username", "admin2"),
        ("emailVerified", True),
        ("version", 99),
    ):
        response = await client.patch(ME, json={field: value}, headers=headers)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["code"] == "validation_failed"
    me = (await client.get(ME, headers=headers)).json()
    assert me["followersCount"] == 0
    assert me["version"] == 1
    assert me["emailVerified"] is False


def png(color: str = "red", size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


async def upload(client, headers: dict[str, str], purpose: str = "avatar", color: str = "red") -> str:
    done = await client.post(
        "/api/v1/files",
        files={"file": ("me.png", png(color), "image/png")},
        data={"purpose": purpose},
        headers=headers,
    )
    assert done.status_code == 201, done.text
    return done.json()["id"]


async def references(runtime: Runtime, file_id: str) -> list[str]:
    async with runtime.database().sessions() as session:
        stmt = sa.select(file_refs.c.ref).where(file_refs.c.file_id == uuid.UUID(file_id))
        return list((await session.scalars(stmt)).all())


async def test_avatar_goes_through_the_files_context(client, user, runtime) -> None:
    me, headers = await user()
    _, other = await user()
    # Never a URL; always a file id.
    for bad in ({"fileId": "https://evil.example/a.png"}, {"url": "https://evil.example/a.png"}, {}):
        response = await client.put(f"{ME}/avatar", json=bad, headers=headers)
        assert response.status_code in (400, 422), response.text
    # Someone else's file, a file uploaded for another purpose, or no such file: 422.
    for file_id in (
        await upload(client, other),
        await upload(client, headers, purpose="product_image"),
        str(uuid.uuid4()),
    ):
        refused = await client.put(f"{ME}/avatar", json={"fileId": file_id}, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_avatar_file"), file_id

    first = await upload(client, headers)
    done = await client.put(f"{ME}/avatar", json={"fileId": first}, headers=headers)
    assert done.status_code == 200, done.text
    avatar = done.json()["avatar"]
    assert avatar["fileId"] == first
    assert avatar["url"]
    assert avatar["blurhash"]
    assert await references(runtime, first) == [f"profiles:avatar:{me}"]
    # A new avatar detaches the previous file; deleting detaches the current one.
    second = await upload(client, headers, color="blue")
    assert (await client.put(f"{ME}/avatar", json={"fileId": second}, headers=headers)).status_code == 200
    assert await references(runtime, first) == []
    assert await references(runtime, second) == [f"profiles:avatar:{me}"]
    assert (await client.delete(f"{ME}/avatar", headers=headers)).status_code == 204
    assert (await client.get(ME, headers=headers)).json()["avatar"] is None
    assert await references(runtime, second) == []


async def test_pending_avatar_shown_on_media_ready_and_cleared_on_file_deleted(
    client, user, runtime, publish, inbox_count, wait_until
) -> None:
    me, headers = await user()
    shown, pending = uuid.uuid4(), uuid.uuid4()
    async with runtime.database().sessions() as session, session.begin():
        await SqlProfileStore(session).update(
            me, datetime.now(UTC), avatar_file_id=shown, avatar_url="https://cdn.example/old.png",
            avatar_pending_file_id=pending,
        )  # fmt: skip
    other = MediaReady(file_id=uuid.uuid4(), owner_id=me, purpose="post_media", kind="image",
                       visibility="public", mime_type="image/png")  # fmt: skip
    ready = MediaReady(
        file_id=pending, owner_id=me, purpose="avatar", kind="image", visibility="public",
        mime_type="image/webp", blurhash="LKO2?U%2Tw=w",
        variants=[VariantSnapshot(name="medium", mime_type="image/webp", width=256, height=256,
                                  size_bytes=1000, url="https://cdn.example/new-256.webp")],
    )  # fmt: skip
    await publish(other)
    await publish(ready)
    await publish(ready)

    async def handled(n: int):
        async def check() -> bool:
            return await inbox_count() == n

        return check

    await wait_until(await handled(2))
    me_now = (await client.get(ME, headers=headers)).json()
    assert me_now["avatar"] == {
        "fileId": str(pending), "url": "https://cdn.example/new-256.webp", "blurhash": "LKO2?U%2Tw=w"
    }  # fmt: skip
    assert me_now["avatarPendingFileId"] is None
    await publish(FileDeleted(file_id=pending, owner_id=me, purpose="avatar", reason="moderation"))
    await wait_until(await handled(3))
    assert (await client.get(ME, headers=headers)).json()["avatar"] is None


async def test_location_and_links(client, user) -> None:
    _, headers = await user()
    links = [{"url": "https://duka.example/shop", "title": "My shop"}, {"url": "http://blog.example"}]
    done = await client.patch(
        ME, json={"location": {"label": "Arusha", "countryCode": "tz"}, "links": links}, headers=headers
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["location"] == {"label": "Arusha", "countryCode": "TZ"}
    assert body["links"] == [
        {"url": "https://duka.example/shop", "title": "My shop"},
        {"url": "http://blog.example", "title": None},
    ]
    # Absent leaves it; null clears it.
    assert (await client.patch(ME, json={"bio": "x"}, headers=headers)).json()["location"][
        "label"
    ] == "Arusha"
    assert (await client.patch(ME, json={"location": None}, headers=headers)).json()["location"] is None
    for bad in (
        "javascript:alert(1)",
        "https://user:pw@duka.example/",
        "https://user@duka.example/",
        "ftp://duka.example/file",
        "https://duka.example/" + "a" * 200,
        "https://",
        "data:text/html,hi",
        "https://duka.example/a b",
    ):
        response = await client.patch(ME, json={"links": [{"url": bad}]}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_link"), bad
    six = [{"url": f"https://s{i}.example"} for i in range(6)]
    assert (await client.patch(ME, json={"links": six}, headers=headers)).json()["code"] == "invalid_link"
    for location in ({"label": "x" * 61}, {"label": "Moshi", "countryCode": "XX"}, {"label": ""}):
        response = await client.patch(ME, json={"location": location}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_location"), location
    assert len((await client.get(ME, headers=headers)).json()["links"]) == 2


async def test_profile_snapshot_version_is_monotonic(client, user, messages) -> None:
    user_id, headers = await user()
    edits = [{"bio": f"bio {i}"} for i in range(6)]
    # Concurrent edits too: the version moves in the row, never read-then-written.
    await asyncio.gather(*(client.patch(ME, json=e, headers=headers) for e in edits[:3]))
    for e in edits[3:]:
        await client.patch(ME, json=e, headers=headers)
    await client.patch(f"{ME}/settings/privacy", json={"isPrivate": True}, headers=headers)
    snapshots = [m for m in await messages() if isinstance(m, ProfileCreated | ProfileUpdated)]
    versions = [m.version for m in snapshots if m.user_id == user_id]
    assert versions == list(range(1, 9))
    assert snapshots[-1].is_private is True
    assert (await client.get(ME, headers=headers)).json()["version"] == 8


async def test_unknown_and_other_profiles(client, user, bearer) -> None:
    _, headers = await user()
    assert (await client.get(f"/api/v1/profiles/{uuid.uuid4()}", headers=headers)).json()[
        "code"
    ] == "profile_not_found"
    assert (await client.get("/api/v1/profiles/by-username/nobody", headers=headers)).status_code == 404
    assert (await client.get(ME)).status_code == 401
