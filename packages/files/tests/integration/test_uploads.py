"""Direct uploads over HTTP on the real PostgreSQL, Redis and filesystem store."""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import uuid

import files_media as media
import msgspec
import pytest
from files_helpers import blobs, outbox_payloads, outbox_tags, state, temp_files, upload
from PIL import Image

from nexgate.contracts.files import FileDeleted, MediaReady

pytestmark = pytest.mark.integration


async def test_image_upload_answers_201_with_the_ready_file(client, bearer, runtime) -> None:
    owner = uuid.uuid4()
    response = await upload(client, bearer(owner), media.jpeg(1600, 1200, orientation=6, gps=True))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["kind"] == "image"
    assert body["visibility"] == "public"
    assert (body["width"], body["height"]) == (1200, 1600)
    assert len(body["blurhash"]) == 28
    assert body["dominantColor"].startswith("#")
    assert [v["name"] for v in body["variants"]] == ["thumb", "medium", "large"]
    assert body["variants"][-1]["width"] == 1200  # never upscaled
    assert response.headers["x-content-type-options"] == "nosniff"

    stored = sum(v["sizeBytes"] for v in body["variants"])
    assert await state(runtime, owner) == {"rows": 1, "reserved": 0, "used": stored, "count": 1, "refs": 0}
    usage = (await client.get("/api/v1/files/me/usage", headers=bearer(owner))).json()
    assert usage == {"usedBytes": stored, "reservedBytes": 0, "quotaBytes": 2 * 1024**3, "fileCount": 1}
    assert await outbox_tags(runtime) == ["files.media_ready.v1"]
    ready = msgspec.json.decode((await outbox_payloads(runtime))[0], type=MediaReady)
    assert ready.file_id == uuid.UUID(body["id"])
    assert ready.owner_id == owner
    assert [v.url for v in ready.variants] == [v["url"] for v in body["variants"]]


async def test_real_type_from_bytes_not_client_header(client, bearer) -> None:
    response = await upload(client, bearer(), media.png(), filename="holiday.jpg", content_type="image/jpeg")
    assert response.status_code == 201, response.text
    assert response.json()["sourceType"] == "image/png"
    assert response.json()["mimeType"] == "image/webp"


@pytest.mark.parametrize(
    ("payload", "source_type"),
    [(media.heic(640, 480), "image/heic"), (media.webp(500, 300, frames=2), "image/webp")],
    ids=["heic", "animated-webp"],
)
async def test_heic_and_webp_uploads_are_re_encoded(client, bearer, payload: bytes, source_type: str) -> None:
    response = await upload(client, bearer(), payload, filename="IMG_0001.jpg", content_type="image/jpeg")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["sourceType"], body["mimeType"], body["status"]) == (source_type, "image/webp", "ready")
    assert len(body["blurhash"]) == 28
    for variant in body["variants"]:
        served = await client.get(variant["url"])
        assert served.content[8:12] == b"WEBP"
        assert b"NexgatePhone" not in served.content  # EXIF and GPS gone


@pytest.mark.parametrize(
    ("payload", "detected"),
    [
        (media.SVG, "image/svg+xml"),
        (media.HTML, "text/html"),
        (media.zip_bytes(), "application/zip"),
        (media.ELF, "application/x-executable"),
        (media.PDF, "application/pdf"),  # a PDF is a document: not a product image
        (media.PLAYLIST, "application/vnd.apple.mpegurl"),
    ],
)
async def test_svg_html_zip_and_executables_refused(
    client, bearer, runtime, settings, payload, detected
) -> None:
    owner = uuid.uuid4()
    before = blobs(settings)
    response = await upload(client, bearer(owner), payload, filename="cute.png", content_type="image/png")
    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "unsupported_media_type"
    assert problem["extra"]["detectedType"] == detected
    assert blobs(settings) == before
    assert (await state(runtime, owner))["rows"] == 0


async def test_polyglot_payload_absent_from_all_blobs(client, bearer, settings) -> None:
    root = settings.data_dir / "files"
    # A JPEG with HTML and a ZIP appended, and a GIF/JS polyglot (valid as both a GIF and a script).
    for payload, source_type, variants in [
        (media.jpeg(900, 600) + media.HTML + media.zip_bytes(), "image/jpeg", 2),
        (media.gif(2) + media.GIF_JS_TAIL, "image/gif", 1),
    ]:
        before = blobs(settings)
        response = await upload(client, bearer(), payload, filename="x.html", content_type="text/html")
        assert response.status_code == 201, response.text
        assert response.json()["sourceType"] == source_type
        new = blobs(settings) - before
        assert len(new) == variants  # thumb and medium (900 px: never upscaled to large)
        for key in new:
            data = (root / key).read_bytes()
            assert data[8:12] == b"WEBP"
            assert b"<script>" not in data
            assert b"alert(" not in data
            assert b"PK\x03\x04" not in data


async def test_original_bytes_never_served(client, bearer, settings) -> None:
    before = blobs(settings)
    original = media.jpeg(700, 500, gps=True)
    response = await upload(client, bearer(), original)
    assert response.status_code == 201
    root = settings.data_dir / "files"
    stored = [(root / key).read_bytes() for key in blobs(settings) - before]
    assert stored
    assert all(data != original and not data.startswith(b"\xff\xd8") for data in stored)
    for variant in response.json()["variants"]:
        served = await client.get(variant["url"])
        assert served.status_code == 200
        assert served.content[8:12] == b"WEBP"
        assert len(Image.open(io.BytesIO(served.content)).getexif()) == 0


async def test_public_url_is_immutable_and_cacheable(client, bearer) -> None:
    body = (await upload(client, bearer(), media.jpeg(500, 400))).json()
    url = body["variants"][0]["url"]
    file_id = body["id"]
    assert url.startswith(f"/media/pub/{file_id}/thumb-")
    assert url.endswith(".webp")
    served = await client.get(url)
    assert served.status_code == 200
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["x-content-type-options"] == "nosniff"
    # Anyone may read a public file, signed in or not.
    anonymous = await client.get(f"/api/v1/files/{file_id}")
    assert anonymous.status_code == 200
    assert anonymous.json()["variants"][0]["url"] == url
    redirect = await client.get(f"/api/v1/files/{file_id}/variants/thumb", follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == url
    # A size the original was too small for falls back to the largest stored variant.
    large = await client.get(f"/api/v1/files/{file_id}/variants/large", follow_redirects=False)
    assert large.status_code == 302
    assert large.headers["location"] == body["variants"][-1]["url"]
    missing = await client.get(f"/api/v1/files/{file_id}/variants/original", follow_redirects=False)
    assert missing.status_code == 404


REFUSALS = {
    "empty": (b"", "product_image", 422, "empty_file"),
    "too_large": (media.jpeg(64, 64) + b"\x00" * 2048, "tiny", 413, "file_too_large"),
    "corrupt": (media.jpeg(800, 600)[:3000], "product_image", 422, "corrupt_media"),
    "svg": (media.SVG, "product_image", 415, "unsupported_media_type"),
    "bomb": (media.png_bomb(20_000, 20_000), "product_image", 422, "image_too_large"),
    "declared_huge": (media.png_header_only(50_000, 50_000), "product_image", 422, "image_too_large"),
    "unknown_purpose": (media.jpeg(), "wallpaper", 422, "unknown_purpose"),
    "text_bomb": (media.png_with_text(b"A" * 64 * 1024 * 1024), "product_image", 422, "corrupt_media"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_every_refusal_leaves_no_row_blob_tempfile_or_reservation(
    client, bearer, runtime, settings, case
) -> None:
    payload, purpose, status, code = REFUSALS[case]
    owner = uuid.uuid4()
    before = blobs(settings)
    response = await upload(client, bearer(owner), payload, purpose)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    if code == "file_too_large":
        assert response.json()["extra"]["limitBytes"] == 1024
    assert blobs(settings) == before
    assert temp_files(settings) == []
    found = await state(runtime, owner)
    assert found["rows"] == 0
    assert found["reserved"] == 0
    assert found["used"] == 0
    assert await outbox_tags(runtime) == []


async def test_gzip_request_body_refused(client, bearer, settings) -> None:
    before = blobs(settings)
    body = gzip.compress(b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\navatar\r\n--x--\r\n')
    response = await client.post(
        "/api/v1/files",
        content=body,
        headers={**bearer(), "Content-Type": "multipart/form-data; boundary=x", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 415
    assert blobs(settings) == before


async def test_over_quota_refused_and_reservation_released(
    client, bearer, runtime, settings, monkeypatch
) -> None:
    owner = uuid.uuid4()
    first = await upload(client, bearer(owner), media.jpeg(600, 600))
    assert first.status_code == 201
    used = (await state(runtime, owner))["used"]
    before = blobs(settings)
    # Fill the quota by moving the ledger: the next upload cannot fit.
    import sqlalchemy as sa

    from nexgate.files.adapters.sql.models import quotas

    async with runtime.database().sessions() as session, session.begin():
        await session.execute(
            sa.update(quotas).where(quotas.c.owner_id == owner).values(used_bytes=2 * 1024**3 - 10)
        )
    refused = await upload(client, bearer(owner), media.jpeg(600, 600))
    assert refused.status_code == 422
    assert refused.json()["code"] == "quota_exceeded"
    assert refused.json()["extra"] == {"usedBytes": 2 * 1024**3 - 10, "quotaBytes": 2 * 1024**3}
    assert blobs(settings) == before
    found = await state(runtime, owner)
    assert found["rows"] == 1
    assert found["reserved"] == 0
    assert used > 0


async def test_retry_with_a_new_multipart_boundary_is_the_same_request(client, bearer) -> None:
    """Mobile clients rebuild the form on retry, with a fresh random boundary."""
    headers = {**bearer(uuid.uuid4()), "Idempotency-Key": "retry-boundary"}
    image = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(image, "PNG")
    form = {"files": {"file": ("a.png", image.getvalue(), "image/png")}, "data": {"purpose": "post_media"}}
    first = await client.post("/api/v1/files", headers=headers, **form)
    second = await client.post("/api/v1/files", headers=headers, **form)
    assert first.request.headers["content-type"] != second.request.headers["content-type"]
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json()["id"] == first.json()["id"]
    other = await client.post(
        "/api/v1/files",
        headers=headers,
        files={"file": ("a.png", image.getvalue() + b"x", "image/png")},
        data={"purpose": "post_media"},
    )
    assert other.status_code == 422  # a different file under the same key is still refused


async def test_idempotent_retry_creates_one_file(client, bearer, runtime) -> None:
    owner = uuid.uuid4()
    headers = {**bearer(owner), "Idempotency-Key": "retry-1"}
    # Noise does not compress: a body larger than the app's 1 MiB default, which the
    # upload route raises for itself (the idempotency layer must honour that).
    noisy = Image.frombytes("RGB", (800, 800), os.urandom(800 * 800 * 3))
    buffer = io.BytesIO()
    noisy.save(buffer, "PNG")
    payload = buffer.getvalue()
    assert len(payload) > 1_048_576
    first = await client.post(
        "/api/v1/files",
        files={"file": ("a.png", payload, "image/png")},
        data={"purpose": "post_media"},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    # httpx picks a random multipart boundary per request, so replay the exact same bytes.
    request = first.request
    again = await client.post(
        "/api/v1/files",
        content=request.content,
        headers={**headers, "Content-Type": request.headers["content-type"]},
    )
    assert again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert (await state(runtime, owner))["rows"] == 1


async def test_saturated_image_pool_answers_503_busy(client, bearer, runtime, settings, monkeypatch) -> None:
    from nexgate.files.adapters.media.inspector import LocalMediaInspector
    from nexgate.files.domain.errors import busy

    async def saturated(self, *args, **kwargs):
        raise busy()

    monkeypatch.setattr(LocalMediaInspector, "process_image", saturated)
    owner = uuid.uuid4()
    before = blobs(settings)
    response = await upload(client, bearer(owner), media.jpeg(200, 200))
    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert response.headers["retry-after"] == "2"
    assert blobs(settings) == before
    assert temp_files(settings) == []
    found = await state(runtime, owner)
    assert found["rows"] == 0
    assert found["reserved"] == 0


async def test_private_file_needs_signed_url_and_tampered_or_expired_is_403(client, bearer) -> None:
    from nexgate.files.adapters.storage.signing import UrlSigner
    from nexgate.files.settings import FilesSettings

    owner = uuid.uuid4()
    body = (await upload(client, bearer(owner), media.jpeg(800, 600), "chat_attachment")).json()
    assert body["visibility"] == "private"
    url = body["variants"][0]["url"]
    path, query = url.split("?")
    assert path.startswith(f"/media/priv/{body['id']}/")
    served = await client.get(url)
    assert served.status_code == 200
    assert served.content[8:12] == b"WEBP"
    assert served.headers["cache-control"] == "private, no-store"
    assert (await client.get(path)).status_code == 403
    params = dict(part.split("=") for part in query.split("&"))
    flipped = ("a" if params["sig"][0] != "a" else "b") + params["sig"][1:]
    assert (await client.get(f"{path}?exp={params['exp']}&sig={flipped}")).status_code == 403
    later = str(int(params["exp"]) + 3600)
    assert (await client.get(f"{path}?exp={later}&sig={params['sig']}")).status_code == 403
    key = path.removeprefix("/media/")
    expired = UrlSigner(FilesSettings().url_secret).query("GET", key, -5)
    assert (await client.get(f"{path}?{expired}")).status_code == 403
    # Another key with this signature is refused too.
    other = body["variants"][1]["url"].split("?")[0]
    assert (await client.get(f"{other}?{query}")).status_code == 403
    # The owner's variant route redirects to a freshly signed URL, never cached.
    redirect = await client.get(
        f"/api/v1/files/{body['id']}/variants/thumb", headers=bearer(owner), follow_redirects=False
    )
    assert redirect.status_code == 302
    assert redirect.headers["location"].startswith(f"{path}?exp=")
    assert redirect.headers["cache-control"] == "private, no-store"
    assert (await client.get(redirect.headers["location"])).content == served.content


async def test_other_user_gets_404(client, bearer, runtime) -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    private = (await upload(client, bearer(owner), media.jpeg(400, 300), "chat_attachment")).json()
    public = (await upload(client, bearer(owner), media.jpeg(400, 300), "post_media")).json()
    for headers in (bearer(stranger), {}):
        hidden = await client.get(f"/api/v1/files/{private['id']}", headers=headers)
        assert hidden.status_code == 404
        assert hidden.headers["x-content-type-options"] == "nosniff"  # errors too
        variant = await client.get(
            f"/api/v1/files/{private['id']}/variants/thumb", headers=headers, follow_redirects=False
        )
        assert variant.status_code == 404
    assert (
        await client.delete(f"/api/v1/files/{private['id']}", headers=bearer(stranger))
    ).status_code == 404
    assert (await client.delete(f"/api/v1/files/{public['id']}", headers=bearer(stranger))).status_code == 404
    # The stranger sees only their own usage and list.
    assert (await client.get("/api/v1/files/me/usage", headers=bearer(stranger))).json()["fileCount"] == 0
    assert (await client.get("/api/v1/files/me", headers=bearer(stranger))).json()["items"] == []
    anonymous = await client.get("/api/v1/files/me/usage")
    assert anonymous.status_code == 401
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    assert (await state(runtime, owner))["rows"] == 2


async def test_list_my_files_pages_newest_first(client, bearer) -> None:
    owner = uuid.uuid4()
    ids = [
        (await upload(client, bearer(owner), media.jpeg(100, 100), p)).json()["id"]
        for p in ("avatar", "post_media", "post_media")
    ]
    page = (await client.get("/api/v1/files/me?limit=2", headers=bearer(owner))).json()
    assert [f["id"] for f in page["items"]] == ids[::-1][:2]
    rest = (
        await client.get(f"/api/v1/files/me?limit=2&cursor={page['nextCursor']}", headers=bearer(owner))
    ).json()
    assert [f["id"] for f in rest["items"]] == [ids[0]]
    assert rest["nextCursor"] is None
    avatars = (await client.get("/api/v1/files/me?purpose=avatar", headers=bearer(owner))).json()
    assert [f["id"] for f in avatars["items"]] == [ids[0]]
    avatars = (await client.get("/api/v1/files/me?purpose=avatar", headers=bearer(owner))).json()
    assert [f["id"] for f in avatars["items"]] == [ids[0]]


async def test_delete_frees_quota_removes_blobs_and_publishes(client, bearer, runtime, settings) -> None:
    owner = uuid.uuid4()
    before = blobs(settings)
    body = (await upload(client, bearer(owner), media.jpeg(900, 900))).json()
    assert len(blobs(settings) - before) == 2  # thumb, medium
    response = await client.delete(f"/api/v1/files/{body['id']}", headers=bearer(owner))
    assert response.status_code == 204
    assert blobs(settings) == before
    assert await state(runtime, owner) == {"rows": 0, "reserved": 0, "used": 0, "count": 0, "refs": 0}
    assert await outbox_tags(runtime) == ["files.media_ready.v1", "files.file_deleted.v1"]
    deleted = msgspec.json.decode((await outbox_payloads(runtime))[1], type=FileDeleted)
    assert deleted.reason == "owner"
    assert deleted.file_id == uuid.UUID(body["id"])
    assert (await client.get(body["variants"][0]["url"])).status_code == 404
    assert (await client.get(f"/api/v1/files/{body['id']}")).status_code == 404


async def test_moderation_removes_a_file_in_use(client, bearer, runtime) -> None:
    from nexgate.files import api

    owner = uuid.uuid4()
    body = (await upload(client, bearer(owner), media.jpeg(300, 300))).json()
    await api.attach(
        runtime, uuid.UUID(body["id"]), actor_id=owner, ref="commerce:product:1", purposes=["product_image"]
    )
    path = f"/api/v1/files/admin/{body['id']}"
    assert (
        await client.request("DELETE", path, json={"reason": "spam"}, headers=bearer(owner))
    ).status_code == 403
    staff = bearer(roles=("staff",))
    assert (await client.request("DELETE", path, json={"reason": "spam"}, headers=staff)).status_code == 204
    assert (await state(runtime, owner))["rows"] == 0
    deleted = msgspec.json.decode((await outbox_payloads(runtime))[-1], type=FileDeleted)
    assert deleted.reason == "moderation"


async def test_concurrent_http_uploads_all_answer_and_none_is_lost(client, bearer, runtime) -> None:
    owner = uuid.uuid4()
    responses = await asyncio.gather(
        *(upload(client, bearer(owner), media.jpeg(300 + i, 300)) for i in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201] * 4
    assert (await state(runtime, owner))["rows"] == 4


async def test_openapi_lists_every_files_operation(client) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    expected = {
        "/api/v1/files": {"post"},
        "/api/v1/files/{file_id}": {"get", "delete"},
        "/api/v1/files/{file_id}/variants/{name}": {"get"},
        "/api/v1/files/me": {"get"},
        "/api/v1/files/me/usage": {"get"},
        "/api/v1/files/admin/{file_id}": {"delete"},
        "/api/v1/files/uploads": {"post"},
        "/api/v1/files/uploads/{upload_id}/content": {"put"},
        "/api/v1/files/uploads/{upload_id}/complete": {"post"},
        "/api/v1/files/uploads/{upload_id}": {"delete"},
    }
    for path, methods in expected.items():
        assert path in paths, sorted(p for p in paths if "files" in p)
        assert methods <= set(paths[path]), (path, set(paths[path]))


async def test_chat_pdf_is_private_and_served_as_an_attachment(client, bearer) -> None:
    owner = uuid.uuid4()
    response = await upload(
        client,
        bearer(owner),
        media.PDF,
        "chat_attachment",
        filename="receipt.pdf",
        content_type="application/pdf",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["visibility"], body["mimeType"]) == ("document", "private", "application/pdf")
    served = await client.get(body["variants"][0]["url"])
    assert served.status_code == 200
    assert served.content == media.PDF
    assert served.headers["content-type"].startswith("application/pdf")
    assert served.headers["content-disposition"] == "attachment"
    assert served.headers["x-content-type-options"] == "nosniff"
    truncated = await upload(
        client, bearer(owner), media.PDF[:-7], "chat_attachment", content_type="application/pdf"
    )
    assert truncated.status_code == 422
    assert truncated.json()["code"] == "corrupt_media"
