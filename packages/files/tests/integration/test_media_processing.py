"""Video and audio: accepted at once (202), processed by the worker through the outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import files_media as media
import msgspec
import pytest
import sqlalchemy as sa
from files_helpers import blobs, outbox_payloads, outbox_tags, state, temp_files, upload

from nexgate.contracts.files import FileDeleted, MediaReady, MediaUploaded
from nexgate.files.adapters.media import av
from nexgate.files.adapters.sql.models import files as files_table
from nexgate.files.adapters.sql.models import tables, upload_sessions
from nexgate.files.adapters.wiring import build_deps
from nexgate.files.application.processing import process_media, purge_failed
from nexgate.files.bootstrap import context as files_context
from nexgate.kernel.messaging.relay import broker_publisher
from nexgate.worker.app import Worker, build_worker

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def send(
    client, headers, path: Path, purpose: str = "post_media", content_type: str = "video/mp4"
) -> dict:
    payload = path.read_bytes()
    opened = await client.post(
        "/api/v1/files/uploads",
        json={"purpose": purpose, "contentType": content_type, "sizeBytes": len(payload)},
        headers=headers,
    )
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (await client.put(body["url"], content=payload)).status_code == 204
    done = await client.post(f"/api/v1/files/uploads/{body['uploadId']}/complete", headers=headers)
    assert done.status_code == 202, done.text
    assert done.json()["status"] == "processing"
    return done.json()


def ffprobe(path: Path) -> dict:
    out = subprocess.run(  # noqa: S603
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],  # noqa: S607
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def stored_path(settings, url: str) -> Path:
    key = url.split("?")[0].removeprefix("/media/")
    [found] = [p for p in (Path(settings.data_dir) / "files").rglob("*") if p.as_posix().endswith(key)]
    return found


async def processed(client, headers, runtime, file: dict, deps=None) -> dict:
    status = await process_media(file_id=uuid.UUID(file["id"]), deps=deps or build_deps(runtime))
    assert status is not None
    return (await client.get(f"/api/v1/files/{file['id']}", headers=headers)).json()


async def test_video_transcoded_to_h264_aac_720p_faststart(client, bearer, runtime, settings, clips) -> None:
    owner = uuid.uuid4()
    file = await send(client, bearer(owner), clips["landscape"])
    assert (await state(runtime, owner))["reserved"] == clips["landscape"].stat().st_size
    polled = (await client.get(f"/api/v1/files/{file['id']}", headers=bearer(owner))).json()
    assert polled["status"] == "processing"
    assert polled["progress"] == 0.0
    deps = build_deps(runtime)
    reported: list[float] = []
    record = deps.progress.set

    async def spy(file_id: uuid.UUID, fraction: float) -> None:
        reported.append(fraction)
        await record(file_id, fraction)

    deps.progress.set = spy  # type: ignore[method-assign]
    ready = await processed(client, bearer(owner), runtime, file, deps)
    # Progress came from ffmpeg's -progress pipe, in order, and is cleared once done.
    assert reported
    assert reported == sorted(reported)
    assert 0 < reported[-1] <= 1
    assert await deps.progress.get(uuid.UUID(file["id"])) is None
    assert ready["status"] == "ready", ready
    assert ready["mimeType"] == "video/mp4"
    assert (ready["width"], ready["height"]) == (960, 720)
    assert 1800 <= ready["durationMs"] <= 2300
    video = next(v for v in ready["variants"] if v["name"] == "video")
    path = stored_path(settings, video["url"])
    probe = ffprobe(path)
    streams = {s["codec_type"]: s for s in probe["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert streams["video"]["pix_fmt"] == "yuv420p"
    assert streams["video"]["height"] == 720
    assert streams["audio"]["codec_name"] == "aac"
    assert streams["audio"]["channels"] == 2
    assert 1.8 <= float(probe["format"]["duration"]) <= 2.3
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: plays before it has all arrived
    found = await state(runtime, owner)
    assert found["reserved"] == 0
    assert found["used"] == sum(v["sizeBytes"] for v in ready["variants"])
    # The original is gone once the variants exist.
    assert not [key for key in blobs(settings) if f"work/{file['id']}" in key]


async def test_portrait_rotated_video_comes_out_upright(client, bearer, runtime, settings, clips) -> None:
    owner = uuid.uuid4()
    ready = await processed(
        client, bearer(owner), runtime, await send(client, bearer(owner), clips["portrait_no_audio"])
    )
    assert ready["status"] == "ready", ready
    assert (ready["width"], ready["height"]) == (360, 640)
    video = next(v for v in ready["variants"] if v["name"] == "video")
    probe = ffprobe(stored_path(settings, video["url"]))
    [stream] = probe["streams"]  # no audio in, no audio track out
    assert (stream["width"], stream["height"]) == (360, 640)
    assert not any("rotation" in side for side in stream.get("side_data_list", []))


async def test_poster_has_variants_and_blurhash(client, bearer, runtime, clips) -> None:
    owner = uuid.uuid4()
    ready = await processed(client, bearer(owner), runtime, await send(client, bearer(owner), clips["3gp"]))
    assert ready["status"] == "ready", ready
    posters = [v for v in ready["variants"] if v["name"].startswith("poster_")]
    # 352x288: a 320 px thumb and the frame at its own size; never upscaled to 1080.
    assert [(v["name"], v["width"]) for v in posters] == [("poster_thumb", 320), ("poster_medium", 352)]
    assert posters[0]["mimeType"] == "image/webp"
    assert len(ready["blurhash"]) == 28
    assert ready["dominantColor"].startswith("#")
    served = await client.get(posters[0]["url"])
    assert served.content[8:12] == b"WEBP"
    # media_ready.v1 carries the poster on its own: the video in `variants`, the frames in `poster`.
    [ready_message] = [
        msgspec.json.decode(p, type=MediaReady)
        for p in await outbox_payloads(runtime)
        if msgspec.json.decode(p, type=dict)["type"] == MediaReady.tag()
    ]
    assert [v.name for v in ready_message.variants] == ["video"]
    assert ready_message.poster is not None
    assert (ready_message.poster.width, ready_message.poster.height) == (352, 288)
    assert ready_message.poster.blurhash == ready["blurhash"]
    assert ready_message.poster.dominant_color == ready["dominantColor"]
    assert [(v.name, v.width, v.url) for v in ready_message.poster.variants] == [
        (v["name"], v["width"], v["url"]) for v in posters
    ]


async def test_truncated_image_and_video_fail_cleanly(client, bearer, runtime, settings, clips) -> None:
    owner = uuid.uuid4()
    whole = media.jpeg(800, 600)
    image = await upload(client, bearer(owner), whole[: len(whole) // 2])
    assert image.status_code == 422
    assert image.json()["code"] == "corrupt_media"
    file = await send(client, bearer(owner), clips["truncated"])
    failed = await processed(client, bearer(owner), runtime, file)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "corrupt_media"
    assert failed["variants"] == []
    assert not [key for key in blobs(settings) if file["id"] in key]
    found = await state(runtime, owner)
    assert found["reserved"] == 0
    assert found["used"] == 0
    assert temp_files(settings) == []
    assert "files.media_failed.v1" in await outbox_tags(runtime)


async def test_video_too_long_fails(client, bearer, runtime, clips) -> None:
    owner = uuid.uuid4()
    failed = await processed(
        client,
        bearer(owner),
        runtime,
        await send(client, bearer(owner), clips["landscape"], purpose="short_clip"),
    )
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "video_too_long"


async def test_video_too_large_fails_and_keeps_only_the_row(client, bearer, runtime, settings, clips) -> None:
    owner = uuid.uuid4()
    file = await send(client, bearer(owner), clips["too_fast"])
    failed = await processed(client, bearer(owner), runtime, file)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "video_too_large"
    assert failed["variants"] == []
    assert not [key for key in blobs(settings) if file["id"] in key]
    found = await state(runtime, owner)
    assert (found["rows"], found["reserved"], found["used"]) == (1, 0, 0)


async def test_hls_playlist_upload_cannot_read_local_files(client, bearer, runtime, settings) -> None:
    owner = uuid.uuid4()
    payload = media.PLAYLIST
    opened = (await client.post(
        "/api/v1/files/uploads",
        json={"purpose": "post_media", "contentType": "video/mp4", "sizeBytes": len(payload)},
        headers=bearer(owner),
    )).json()  # fmt: skip
    assert (await client.put(opened["url"], content=payload)).status_code == 204
    done = await client.post(f"/api/v1/files/uploads/{opened['uploadId']}/complete", headers=bearer(owner))
    assert done.status_code == 415
    assert done.json()["extra"]["detectedType"] == "application/vnd.apple.mpegurl"
    found = await state(runtime, owner)
    assert found["rows"] == 0
    assert found["reserved"] == 0
    assert not any("incoming/" in key for key in blobs(settings))


async def test_direct_video_upload_needs_a_session(client, bearer, clips) -> None:
    response = await upload(
        client, bearer(), clips["3gp"].read_bytes(), "post_media", content_type="video/3gpp"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "upload_session_required"


async def test_transcode_timeout_marks_failed_and_cleans_up(
    client, bearer, runtime, settings, clips, monkeypatch
) -> None:
    owner = uuid.uuid4()
    file = await send(client, bearer(owner), clips["landscape"])
    monkeypatch.setattr(av, "TIMEOUT_FACTOR", 0.0)
    monkeypatch.setattr(av, "TIMEOUT_BASE_S", 0.05)
    failed = await processed(client, bearer(owner), runtime, file)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "processing_timeout"
    assert not [key for key in blobs(settings) if file["id"] in key]
    assert not list((Path(settings.data_dir) / "tmp" / "files" / "processing").iterdir())
    assert (await state(runtime, owner))["reserved"] == 0


async def set_attempts(runtime, file_id: str, count: int) -> None:
    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(files_table).where(files_table.c.id == uuid.UUID(file_id)).values(attempts=count)
        )


async def test_crashed_attempt_is_cleaned_retries_are_capped_and_failures_purged(
    client, bearer, runtime, settings, clips
) -> None:
    owner = uuid.uuid4()
    deps = build_deps(runtime)
    # A worker killed mid-transcode (attempt 1) left its partial output behind.
    crashed = await send(client, bearer(owner), clips["3gp"])
    await set_attempts(runtime, crashed["id"], 1)
    leftover = Path(settings.data_dir) / "tmp" / "files" / "processing" / f"{crashed['id']}-1"
    leftover.mkdir(parents=True)
    (leftover / "video.mp4").write_bytes(b"half a transcode")
    ready = await processed(client, bearer(owner), runtime, crashed, deps)
    assert ready["status"] == "ready", ready
    assert await attempts(runtime, crashed["id"]) == 2
    assert not leftover.exists()
    assert temp_files(settings) == []

    # Three attempts already spent: the next delivery marks it failed instead of a fourth run.
    doomed = await send(client, bearer(owner), clips["3gp"])
    await set_attempts(runtime, doomed["id"], 3)
    from nexgate.files import api

    # Attached while still processing (a chat message sent before the transcode ended).
    await api.attach(
        runtime, uuid.UUID(doomed["id"]), actor_id=owner, ref="chat:message:1", purposes=["post_media"]
    )
    failed = await processed(client, bearer(owner), runtime, doomed, deps)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "processing_failed"
    assert not [key for key in blobs(settings) if doomed["id"] in key]  # the original is gone too
    assert (await state(runtime, owner))["reserved"] == 0

    # A failed file keeps its row (for the error) for 7 days, then it is purged.
    now = datetime.now(UTC)
    assert await purge_failed(deps, now=now + timedelta(days=6)) == 0
    assert await purge_failed(deps, now=now + timedelta(days=8)) == 1
    purged = msgspec.json.decode((await outbox_payloads(runtime))[-1], type=FileDeleted)
    assert (purged.file_id, purged.reason) == (uuid.UUID(doomed["id"]), "orphan")
    assert (await state(runtime, owner))["refs"] == 0
    gone = await client.get(f"/api/v1/files/{doomed['id']}", headers=bearer(owner))
    assert gone.status_code == 404
    assert (await client.get(f"/api/v1/files/{crashed['id']}", headers=bearer(owner))).status_code == 200


async def test_deleting_during_processing_leaves_no_blobs(client, bearer, runtime, settings, clips) -> None:
    owner = uuid.uuid4()
    file = await send(client, bearer(owner), clips["3gp"])
    assert (await client.delete(f"/api/v1/files/{file['id']}", headers=bearer(owner))).status_code == 204
    assert await process_media(file_id=uuid.UUID(file["id"]), deps=build_deps(runtime)) is None
    assert not [key for key in blobs(settings) if file["id"] in key]
    assert await state(runtime, owner) == {"rows": 0, "reserved": 0, "used": 0, "count": 0, "refs": 0}

    # Deleted while the worker transcodes: its outputs are written, then the commit (only
    # WHERE status = 'processing') finds no row, so they are removed instead of resurrected.
    deps = build_deps(runtime)
    busy = await send(client, bearer(owner), clips["3gp"])
    real = deps.inspector

    class DeletedMidway:
        def __getattr__(self, name: str):
            return getattr(real, name)

        async def process_av(self, *args, **kwargs):
            result = await real.process_av(*args, **kwargs)
            deleted = await client.delete(f"/api/v1/files/{busy['id']}", headers=bearer(owner))
            assert deleted.status_code == 204
            return result

    midway = dataclasses.replace(deps, inspector=DeletedMidway())
    assert await process_media(file_id=uuid.UUID(busy["id"]), deps=midway) is None
    assert not [key for key in blobs(settings) if busy["id"] in key]
    assert await state(runtime, owner) == {"rows": 0, "reserved": 0, "used": 0, "count": 0, "refs": 0}
    assert temp_files(settings) == []


@pytest.fixture
async def worker(settings, runtime) -> AsyncIterator[Worker]:
    worker = build_worker(settings, runtime=runtime, contexts=[files_context])
    yield worker
    await worker.stop()


async def attempts(runtime, file_id: str) -> int:
    async with runtime.database().sessions() as session:
        return await session.scalar(
            sa.select(files_table.c.attempts).where(files_table.c.id == uuid.UUID(file_id))
        )


async def test_status_polling_and_media_ready_published(client, bearer, runtime, worker, clips) -> None:
    owner = uuid.uuid4()
    # Audio goes through the direct upload and answers 202.
    response = await upload(
        client, bearer(owner), clips["ogg"].read_bytes(), "chat_attachment", content_type="audio/ogg"
    )
    assert response.status_code == 202, response.text
    file_id = response.json()["id"]
    assert response.json()["status"] == "processing"
    await worker.broker.start()
    await worker.start_background()

    async def ready() -> bool:
        got = await client.get(f"/api/v1/files/{file_id}", headers=bearer(owner))
        return got.json()["status"] == "ready"

    await eventually(ready)
    body = (await client.get(f"/api/v1/files/{file_id}", headers=bearer(owner))).json()
    assert [v["name"] for v in body["variants"]] == ["audio"]
    assert body["mimeType"] == "audio/mp4"
    assert 1800 <= body["durationMs"] <= 2300

    async def published() -> bool:
        async with runtime.database().sessions() as session:
            rows = (await session.execute(sa.select(tables.outbox.c.tag, tables.outbox.c.published_at))).all()
        return sorted(tag for tag, at in rows if at is not None) == [
            "files.media_ready.v1",
            "files.media_uploaded.v1",
        ]

    await eventually(published)


async def test_redelivered_processing_message_transcodes_once(client, bearer, runtime, worker, clips) -> None:
    owner = uuid.uuid4()
    file = await send(client, bearer(owner), clips["3gp"])
    await worker.broker.start()
    await worker.start_background()

    async def ready() -> bool:
        got = await client.get(f"/api/v1/files/{file['id']}", headers=bearer(owner))
        return got.json()["status"] == "ready"

    await eventually(ready)
    async with runtime.database().sessions() as session:
        payload = await session.scalar(
            sa.select(tables.outbox.c.payload).where(tables.outbox.c.tag == MediaUploaded.tag())
        )
    publish = broker_publisher(worker.broker, runtime.naming)
    # The very same message again (a relay publishing twice), and a fresh message for the file.
    await publish(context="files", tag=MediaUploaded.tag(), message_id="dup", body=payload)
    again = MediaUploaded(
        file_id=uuid.UUID(file["id"]), owner_id=owner, purpose="post_media", kind="video", size_bytes=1
    )
    await publish(context="files", tag=MediaUploaded.tag(), message_id="new", body=msgspec.json.encode(again))

    async def both_seen() -> bool:
        async with runtime.database().sessions() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(tables.inbox)) == 2

    await eventually(both_seen)
    await asyncio.sleep(0.5)
    assert await attempts(runtime, file["id"]) == 1
    assert (await client.get(f"/api/v1/files/{file['id']}", headers=bearer(owner))).json()[
        "status"
    ] == "ready"


async def test_user_deleted_removes_all_their_files_through_the_broker(
    client, bearer, runtime, settings, worker
) -> None:
    from nexgate.contracts.auth import UserDeleted

    gone, stays = uuid.uuid4(), uuid.uuid4()
    mine = [
        (await upload(client, bearer(gone), media.jpeg(300, 300), p)).json()
        for p in ("avatar", "chat_attachment")
    ]
    other = (await upload(client, bearer(stays), media.jpeg(300, 300))).json()
    # An upload session left open (bytes sent, never completed): it ends with the account.
    pending = media.jpeg(200, 200)
    session = (
        await client.post(
            "/api/v1/files/uploads",
            json={"purpose": "post_media", "contentType": "image/jpeg", "sizeBytes": len(pending)},
            headers=bearer(gone),
        )
    ).json()
    assert (await client.put(session["url"], content=pending)).status_code == 204
    assert (await state(runtime, gone))["reserved"] == len(pending)
    from nexgate.files import api

    # Even a file in use goes: the account is erased.
    await api.attach(
        runtime, uuid.UUID(mine[0]["id"]), actor_id=gone, ref="profiles:avatar", purposes=["avatar"]
    )
    await worker.broker.start()
    await worker.start_background()
    publish = broker_publisher(worker.broker, runtime.naming)
    message = UserDeleted(user_id=gone)
    for _ in range(2):  # delivered twice: the second is a no-op
        await publish(
            context="auth",
            tag=UserDeleted.tag(),
            message_id=str(message.id),
            body=msgspec.json.encode(message),
        )

    async def erased() -> bool:
        found = await state(runtime, gone)
        return found["rows"] == 0 and found["reserved"] == 0

    await eventually(erased)
    async with runtime.database().sessions() as db:
        status = await db.scalar(
            sa.select(upload_sessions.c.status).where(upload_sessions.c.id == uuid.UUID(session["uploadId"]))
        )
    assert status == "aborted"  # at once, not at the hourly sweep
    assert not [key for key in blobs(settings) if session["uploadId"] in key]
    assert not [key for key in blobs(settings) if mine[0]["id"] in key or mine[1]["id"] in key]
    assert (await state(runtime, stays))["rows"] == 1
    assert (await client.get(other["variants"][0]["url"])).status_code == 200
    async with runtime.database().sessions() as session:
        payloads = (
            await session.execute(
                sa.select(tables.outbox.c.payload).where(tables.outbox.c.tag == FileDeleted.tag())
            )
        ).scalars()
        reasons = sorted(msgspec.json.decode(p, type=FileDeleted).reason for p in payloads)
    assert reasons == ["account_deleted", "account_deleted"]
