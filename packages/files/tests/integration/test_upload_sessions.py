"""Upload sessions on the filesystem store (the app receives the bytes) and on real S3."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import files_media as media
import httpx
import pytest
import sqlalchemy as sa
from files_helpers import blobs, state, temp_files

from nexgate.files.adapters.sql.models import upload_sessions
from nexgate.files.adapters.wiring import build_deps
from nexgate.files.application import sessions as session_cases
from nexgate.kernel.errors import ValidationFailed

pytestmark = pytest.mark.integration


async def start(client, headers, size: int, purpose: str = "product_image", content_type: str = "image/jpeg"):
    return await client.post(
        "/api/v1/files/uploads",
        json={"purpose": purpose, "contentType": content_type, "sizeBytes": size, "filename": "p.jpg"},
        headers=headers,
    )


async def session_status(runtime, upload_id: str) -> str:
    async with runtime.database().sessions() as session:
        return await session.scalar(
            sa.select(upload_sessions.c.status).where(upload_sessions.c.id == uuid.UUID(upload_id))
        )


@pytest.fixture(params=["filesystem", "seaweedfs"])
def backend(request: pytest.FixtureRequest):
    """(client, send, fetch) on one storage: the filesystem adapter, where the app itself
    receives the PUT and serves private media behind HMAC-signed URLs, or S3 on a real
    SeaweedFS, where the client PUTs to a presigned URL and GETs presigned URLs."""
    if request.param == "filesystem":
        client = request.getfixturevalue("client")

        async def send(url: str, payload: bytes, headers: dict[str, str]) -> int:
            assert url.startswith("/api/v1/files/uploads/")
            return (await client.put(url, content=payload, headers=headers)).status_code

        async def fetch(url: str) -> httpx.Response:
            return await client.get(url)

        return client, send, fetch
    client = request.getfixturevalue("s3_client")

    async def send_s3(url: str, payload: bytes, headers: dict[str, str]) -> int:
        assert "X-Amz-Signature=" in url
        async with httpx.AsyncClient() as http:
            return (await http.put(url, content=payload, headers=headers)).status_code

    async def fetch_s3(url: str) -> httpx.Response:
        async with httpx.AsyncClient() as http:
            return await http.get(url)

    return client, send_s3, fetch_s3


async def test_presigned_upload_confirm_flow_on_seaweedfs_and_filesystem(
    backend, bearer, runtime, settings
) -> None:
    client, send, fetch = backend
    owner = uuid.uuid4()
    payload = media.jpeg(1400, 1000, orientation=6, gps=True)
    opened = await start(client, bearer(owner), len(payload), "chat_attachment")
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert body["method"] == "PUT"
    assert body["headers"] == {"Content-Type": "image/jpeg"}
    expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    assert (await state(runtime, owner))["reserved"] == len(payload)

    early = await client.post(f"/api/v1/files/uploads/{body['uploadId']}/complete", headers=bearer(owner))
    assert early.status_code == 409
    assert early.json()["code"] == "upload_incomplete"

    assert await send(body["url"], payload, body["headers"]) in (200, 204)
    done = await client.post(f"/api/v1/files/uploads/{body['uploadId']}/complete", headers=bearer(owner))
    assert done.status_code == 201, done.text
    file = done.json()
    assert (file["id"], file["status"], file["sourceType"]) == (body["fileId"], "ready", "image/jpeg")
    assert (file["width"], file["height"]) == (1000, 1400)  # EXIF orientation applied
    again = await client.post(f"/api/v1/files/uploads/{body['uploadId']}/complete", headers=bearer(owner))
    assert again.status_code == 201
    assert again.json()["id"] == body["fileId"]

    # The private variant is served through a signed URL only, re-encoded and stripped.
    served = await fetch(file["variants"][0]["url"])
    assert served.status_code == 200
    assert served.content[8:12] == b"WEBP"
    assert b"NexgatePhone" not in served.content
    assert (await fetch(file["variants"][0]["url"].split("?")[0])).status_code == 403

    found = await state(runtime, owner)
    assert (found["rows"], found["reserved"], found["count"]) == (1, 0, 1)
    assert found["used"] == sum(v["sizeBytes"] for v in file["variants"])
    assert await build_deps(runtime).blobs.list("incoming/") == []  # the upload object is gone
    assert temp_files(settings) == []


async def test_filesystem_put_is_signed_and_capped(client, bearer, runtime, settings) -> None:
    owner = uuid.uuid4()
    payload = media.jpeg(300, 300)
    body = (await start(client, bearer(owner), len(payload))).json()
    path, query = body["url"].split("?")
    assert (await client.put(path, content=payload)).status_code == 403
    params = dict(part.split("=") for part in query.split("&"))
    flipped = ("a" if params["sig"][0] != "a" else "b") + params["sig"][1:]
    assert (await client.put(f"{path}?exp={params['exp']}&sig={flipped}", content=payload)).status_code == 403
    # More bytes than declared: cut off at the cap, nothing stored.
    over = await client.put(body["url"], content=payload + b"\x00" * 100)
    assert over.status_code == 413
    short = await client.put(body["url"], content=payload[:-1])
    assert short.status_code == 422
    assert short.json()["code"] == "size_mismatch"
    assert not any("incoming/" in key for key in blobs(settings))
    assert temp_files(settings) == []


async def test_size_mismatch_after_presigned_put_deletes_object(s3_client, bearer, s3_server) -> None:
    owner = uuid.uuid4()
    payload = media.jpeg(600, 400)
    body = (await start(s3_client, bearer(owner), len(payload))).json()
    assert "X-Amz-Signature=" in body["url"]
    async with httpx.AsyncClient() as http:
        put = await http.put(body["url"], content=payload + b"appended", headers=body["headers"])
        assert put.status_code == 200
    done = await s3_client.post(f"/api/v1/files/uploads/{body['uploadId']}/complete", headers=bearer(owner))
    assert done.status_code == 422
    assert done.json()["code"] == "size_mismatch"
    assert done.json()["extra"] == {"declaredBytes": len(payload), "receivedBytes": len(payload) + 8}
    usage = (await s3_client.get("/api/v1/files/me/usage", headers=bearer(owner))).json()
    assert usage["reservedBytes"] == 0
    assert usage["fileCount"] == 0
    again = await s3_client.post(f"/api/v1/files/uploads/{body['uploadId']}/complete", headers=bearer(owner))
    assert again.status_code == 410  # the session is over; the object was deleted
    from minio import Minio

    minio = Minio(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, secure=False)
    private_bucket = os.environ["NEXGATE_FILES_S3_PRIVATE_BUCKET"]
    assert [
        o.object_name for o in minio.list_objects(private_bucket, prefix="incoming/", recursive=True)
    ] == []


async def test_double_complete_yields_one_file(client, bearer, runtime) -> None:
    owner = uuid.uuid4()
    payload = media.jpeg(900, 700)
    body = (await start(client, bearer(owner), len(payload))).json()
    assert (await client.put(body["url"], content=payload)).status_code == 204
    deps = build_deps(runtime)
    upload_id = uuid.UUID(body["uploadId"])
    results = await asyncio.gather(
        *(session_cases.complete(upload_id=upload_id, actor_id=owner, deps=deps) for _ in range(3)),
        return_exceptions=True,
    )
    files = {r.file.id for r in results if not isinstance(r, BaseException)}
    errors = [r for r in results if isinstance(r, BaseException)]
    assert files == {uuid.UUID(body["fileId"])}
    assert all(getattr(e, "code", None) == "upload_in_progress" for e in errors), errors
    found = await state(runtime, owner)
    assert found["rows"] == 1
    assert found["reserved"] == 0


async def test_account_erased_mid_completion_commits_nothing(client, bearer, runtime, settings) -> None:
    owner = uuid.uuid4()
    payload = media.jpeg(600, 400)
    body = (await start(client, bearer(owner), len(payload))).json()
    assert (await client.put(body["url"], content=payload)).status_code == 204
    before = blobs(settings)
    deps = build_deps(runtime)
    real = deps.inspector

    class ErasedMidway:
        """``auth.user_deleted.v1`` handled while the image is being processed."""

        def __getattr__(self, name: str):
            return getattr(real, name)

        async def process_image(self, *args, **kwargs):
            result = await real.process_image(*args, **kwargs)
            assert await session_cases.erase_account(owner_id=owner, deps=deps) == 0  # no file yet
            return result

    with pytest.raises(ValidationFailed) as refused:
        await session_cases.complete(
            upload_id=uuid.UUID(body["uploadId"]),
            actor_id=owner,
            deps=dataclasses.replace(deps, inspector=ErasedMidway()),
        )
    assert refused.value.code == "quota_exceeded"  # the ledger went first: nothing can settle
    assert await session_status(runtime, body["uploadId"]) == "aborted"
    assert await state(runtime, owner) == {"rows": 0, "reserved": 0, "used": 0, "count": 0, "refs": 0}
    assert blobs(settings) == {key for key in before if body["uploadId"] not in key}
    assert not any(body["fileId"] in key for key in blobs(settings))
    assert temp_files(settings) == []


async def test_expired_session_is_gone_and_abort_releases(client, bearer, runtime) -> None:
    owner = uuid.uuid4()
    payload = media.jpeg(200, 200)
    body = (await start(client, bearer(owner), len(payload))).json()
    assert (await client.put(body["url"], content=payload)).status_code == 204
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(upload_sessions)
            .where(upload_sessions.c.id == uuid.UUID(body["uploadId"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await client.post(f"/api/v1/files/uploads/{body['uploadId']}/complete", headers=bearer(owner))
    assert expired.status_code == 410
    assert expired.json()["code"] == "upload_expired"

    other = (await start(client, bearer(owner), len(payload))).json()
    assert (await state(runtime, owner))["reserved"] == 2 * len(payload)
    aborted = await client.delete(f"/api/v1/files/uploads/{other['uploadId']}", headers=bearer(owner))
    assert aborted.status_code == 204
    assert await session_status(runtime, other["uploadId"]) == "aborted"
    assert (await state(runtime, owner))["reserved"] == len(payload)  # the expired one awaits the sweep


async def test_other_user_gets_404_on_upload_sessions(client, bearer, runtime) -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    payload = media.jpeg(200, 200)
    body = (await start(client, bearer(owner), len(payload))).json()
    assert (await client.put(body["url"], content=payload)).status_code == 204
    path = f"/api/v1/files/uploads/{body['uploadId']}"
    assert (await client.post(f"{path}/complete", headers=bearer(stranger))).status_code == 404
    assert (await client.delete(path, headers=bearer(stranger))).status_code == 404
    assert await session_status(runtime, body["uploadId"]) == "open"
    assert (await state(runtime, owner))["reserved"] == len(payload)


async def test_session_refusals(client, bearer, runtime, settings) -> None:
    owner = uuid.uuid4()
    before = blobs(settings)
    too_big = await start(client, bearer(owner), 11 * 1024 * 1024, purpose="avatar")
    assert too_big.status_code == 413
    assert too_big.json()["extra"]["limitBytes"] == 10 * 1024 * 1024
    svg = await start(client, bearer(owner), 100, content_type="image/svg+xml")
    assert svg.status_code == 415
    video_avatar = await start(client, bearer(owner), 100, purpose="avatar", content_type="video/mp4")
    assert video_avatar.status_code == 415
    empty = await start(client, bearer(owner), 0)
    assert empty.status_code == 422
    assert empty.json()["code"] == "empty_file"
    # Nothing left behind: no session, no file row, no object, no temporary file, no reservation.
    async with runtime.database().sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(upload_sessions)) == 0
    found = await state(runtime, owner)
    assert (found["rows"], found["reserved"]) == (0, 0)
    assert blobs(settings) == before
    assert temp_files(settings) == []


async def test_unconfirmed_uploads_swept(client, bearer, runtime, settings) -> None:
    owner = uuid.uuid4()
    payload = media.jpeg(200, 200)
    body = (await start(client, bearer(owner), len(payload))).json()
    assert (await client.put(body["url"], content=payload)).status_code == 204
    fresh = (await start(client, bearer(owner), len(payload))).json()
    assert any("incoming/" in key for key in blobs(settings))
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(upload_sessions)
            .where(upload_sessions.c.id == uuid.UUID(body["uploadId"]))
            .values(created_at=datetime.now(UTC) - timedelta(hours=2))
        )
    assert await session_cases.sweep_sessions(build_deps(runtime)) == 1
    assert await session_status(runtime, body["uploadId"]) == "aborted"
    assert await session_status(runtime, fresh["uploadId"]) == "open"
    assert not any(body["uploadId"] in key for key in blobs(settings))
    assert (await state(runtime, owner))["reserved"] == len(payload)  # only the fresh session's


async def test_blob_sweep_removes_crash_leftovers(client, bearer, runtime, settings, tmp_path: Path) -> None:
    deps = build_deps(runtime)
    live = (await client.post(
        "/api/v1/files",
        files={"file": ("a.jpg", media.jpeg(400, 400), "image/jpeg")},
        data={"purpose": "post_media"},
        headers=bearer(),
    )).json()  # fmt: skip
    source = tmp_path / "leftover"
    source.write_bytes(b"orphan")
    orphan = f"pub/{uuid.uuid4()}/thumb-00000000.webp"
    young = f"priv/{uuid.uuid4()}/thumb-00000000.webp"
    await deps.blobs.put(orphan, source, 6, "image/webp")
    await deps.blobs.put(young, source, 6, "image/webp")
    old = time.time() - 2 * 3600
    root = Path(settings.data_dir) / "files"
    for key in blobs(settings):
        if orphan in key or live["id"] in key:
            os.utime(root / key, (old, old))
    assert await session_cases.sweep_blobs(deps) == 1
    assert await deps.blobs.stat(orphan) is None
    assert await deps.blobs.stat(young) is not None  # too young: may be mid-upload
    for variant in live["variants"]:
        assert (await client.get(variant["url"])).status_code == 200
    await deps.blobs.delete(young)


async def test_sweep_finishes_a_session_whose_file_committed(client, bearer, runtime) -> None:
    owner = uuid.uuid4()
    payload = media.jpeg(300, 300)
    body = (await start(client, bearer(owner), len(payload))).json()
    assert (await client.put(body["url"], content=payload)).status_code == 204
    done = await client.post(f"/api/v1/files/uploads/{body['uploadId']}/complete", headers=bearer(owner))
    assert done.status_code == 201
    used = (await state(runtime, owner))["used"]
    # A crash between the file's commit and the session's: the session is left "completing".
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(upload_sessions)
            .where(upload_sessions.c.id == uuid.UUID(body["uploadId"]))
            .values(status="completing", created_at=datetime.now(UTC) - timedelta(hours=2))
        )
    assert await session_cases.sweep_sessions(build_deps(runtime)) == 0
    assert await session_status(runtime, body["uploadId"]) == "completed"
    found = await state(runtime, owner)
    assert (found["rows"], found["used"], found["reserved"]) == (1, used, 0)
