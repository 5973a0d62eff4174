"""The quota under racing uploads, and the facade other contexts call, on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import files_media as media
import msgspec
import pytest
from files_helpers import outbox_payloads, state

from nexgate.contracts.files import FileDeleted
from nexgate.files import api
from nexgate.files.adapters.wiring import build_deps
from nexgate.files.application import files as use_cases
from nexgate.files.settings import FilesSettings
from nexgate.kernel.errors import Conflict, NotFound, ValidationFailed

pytestmark = pytest.mark.integration


async def _upload(deps, owner: uuid.UUID, payload: bytes, tmp: Path, purpose: str = "product_image"):
    source = tmp / f"src-{uuid.uuid4().hex}"
    source.write_bytes(payload)
    try:
        return await use_cases.upload(
            owner_id=owner,
            purpose_name=purpose,
            source=source,
            size=len(payload),
            filename="a.jpg",
            deps=deps,
        )
    finally:
        source.unlink()


async def test_parallel_uploads_cannot_exceed_quota(runtime, tmp_path) -> None:
    payload = media.jpeg(1200, 900)
    # Room for exactly one upload's reservation (and its stored variants, which are smaller).
    deps = build_deps(runtime, FilesSettings(quota_bytes=int(len(payload) * 1.5), image_workers=4))
    owner = uuid.uuid4()
    results = await asyncio.gather(
        *(_upload(deps, owner, payload, tmp_path) for _ in range(6)), return_exceptions=True
    )
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(done) == 1
    assert all(isinstance(r, ValidationFailed) and r.code == "quota_exceeded" for r in refused), refused
    found = await state(runtime, owner)
    assert found["rows"] == 1
    assert found["reserved"] == 0
    assert 0 < found["used"] <= deps.limits.quota_bytes


async def test_daily_upload_limit(runtime, tmp_path) -> None:
    deps = build_deps(runtime, FilesSettings(daily_uploads=2))
    owner = uuid.uuid4()
    for _ in range(2):
        await _upload(deps, owner, media.jpeg(64, 64), tmp_path)
    with pytest.raises(ValidationFailed) as refused:
        await _upload(deps, owner, media.jpeg(64, 64), tmp_path)
    assert refused.value.code == "daily_upload_limit"
    assert (await state(runtime, owner))["reserved"] == 0


async def test_facade_describes_attaches_and_signs(runtime, tmp_path) -> None:
    deps = build_deps(runtime)
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    public = await _upload(deps, owner, media.jpeg(800, 600), tmp_path)
    private = await _upload(deps, owner, media.jpeg(800, 600), tmp_path, purpose="chat_attachment")

    described = await api.describe(runtime, public.file.id)
    assert described is not None
    assert described.blurhash == public.file.blurhash
    assert (described.width, described.height) == (800, 600)
    assert set(described.urls) == {"thumb", "medium"}
    assert described.urls["thumb"].startswith("/media/pub/")
    assert (await api.describe(runtime, private.file.id)).urls == {}  # type: ignore[union-attr]
    assert await api.describe(runtime, uuid.uuid4()) is None

    ref = "commerce:product:42"
    attached = await api.attach(runtime, public.file.id, actor_id=owner, ref=ref, purposes=["product_image"])
    assert attached.file_id == public.file.id
    await api.attach(
        runtime, public.file.id, actor_id=owner, ref=ref, purposes=["product_image"]
    )  # idempotent
    assert (await state(runtime, owner))["refs"] == 1
    with pytest.raises(NotFound):
        await api.attach(runtime, public.file.id, actor_id=stranger, ref="x", purposes=["product_image"])
    with pytest.raises(ValidationFailed) as wrong:
        await api.attach(runtime, public.file.id, actor_id=owner, ref="y", purposes=["avatar"])
    assert wrong.value.code == "wrong_purpose"

    url = await api.signed_url(runtime, private.file.id, "thumb", ttl_s=60)
    assert url.startswith(f"/media/priv/{private.file.id}/thumb-")
    assert "sig=" in url


async def test_facade_batch_describe_and_every_signed_url(runtime, tmp_path) -> None:
    deps = build_deps(runtime)
    owner = uuid.uuid4()
    public = await _upload(deps, owner, media.jpeg(800, 600), tmp_path)
    private = await _upload(deps, owner, media.jpeg(800, 600), tmp_path, purpose="chat_attachment")
    missing = uuid.uuid4()

    found = await api.describe_many(runtime, [public.file.id, private.file.id, missing, public.file.id])
    assert set(found) == {public.file.id, private.file.id}
    assert found[public.file.id] == await api.describe(runtime, public.file.id)
    assert [(v.name, v.width, v.height) for v in found[private.file.id].variants] == [
        ("thumb", 320, 240),
        ("medium", 800, 600),
    ]
    assert found[private.file.id].urls == {}
    assert await api.describe_many(runtime, []) == {}
    with pytest.raises(ValidationFailed):
        await api.describe_many(runtime, [uuid.uuid4() for _ in range(api.DESCRIBE_MANY_MAX + 1)])

    urls = await api.signed_urls(runtime, private.file.id, ttl_s=60)
    assert set(urls) == {"thumb", "medium"}
    for name, url in urls.items():
        assert url.startswith(f"/media/priv/{private.file.id}/{name}-")
        assert "sig=" in url
    assert await api.signed_urls(runtime, public.file.id) == found[public.file.id].urls
    with pytest.raises(NotFound):
        await api.signed_urls(runtime, missing)


async def test_file_in_use_cannot_be_deleted_and_detached_file_is_collected(runtime, tmp_path) -> None:
    deps = build_deps(runtime)
    owner = uuid.uuid4()
    found = await _upload(deps, owner, media.jpeg(500, 500), tmp_path)
    kept = await _upload(deps, owner, media.jpeg(300, 300), tmp_path)
    await api.attach(runtime, found.file.id, actor_id=owner, ref="social:post:1", purposes=["product_image"])
    await api.attach(
        runtime, kept.file.id, actor_id=owner, ref="commerce:product:9", purposes=["product_image"]
    )
    with pytest.raises(Conflict) as in_use:
        await use_cases.delete(file_id=found.file.id, actor_id=owner, deps=deps)
    assert in_use.value.code == "file_in_use"
    now = datetime.now(UTC)
    # Referenced files are never collected, however old.
    assert await use_cases.collect_orphans(deps, now=now + timedelta(days=30)) == 0
    assert await api.detach(runtime, found.file.id, "social:post:1")
    # A grace hour: media moving between drafts is re-attached in time.
    assert await use_cases.collect_orphans(deps, now=now + timedelta(minutes=30)) == 0
    assert await use_cases.collect_orphans(deps, now=now + timedelta(hours=2)) == 1
    assert await api.describe(runtime, found.file.id) is None
    assert await api.describe(runtime, kept.file.id) is not None
    deleted = msgspec.json.decode((await outbox_payloads(runtime))[-1], type=FileDeleted)
    assert (deleted.file_id, deleted.reason) == (found.file.id, "orphan")
    found_state = await state(runtime, owner)
    assert found_state["rows"] == 1
    assert found_state["used"] == kept.file.stored_bytes


async def test_never_attached_file_is_collected_after_a_day(runtime, tmp_path) -> None:
    deps = build_deps(runtime, FilesSettings(unattached_grace_s=86_400))
    owner = uuid.uuid4()
    found = await _upload(deps, owner, media.jpeg(200, 200), tmp_path)
    now = datetime.now(UTC)
    assert await use_cases.collect_orphans(deps, now=now + timedelta(hours=23)) == 0
    assert await use_cases.collect_orphans(deps, now=now + timedelta(hours=25)) == 1
    assert await api.describe(runtime, found.file.id) is None
    assert await state(runtime, owner) == {"rows": 0, "reserved": 0, "used": 0, "count": 0, "refs": 0}
