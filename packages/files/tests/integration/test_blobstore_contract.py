"""One contract suite for both `BlobStore` adapters: the filesystem and S3 (real SeaweedFS)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from nexgate.files.adapters.storage.filesystem import FilesystemBlobStore
from nexgate.files.adapters.storage.s3 import S3BlobStore
from nexgate.files.adapters.storage.signing import UrlSigner

pytestmark = pytest.mark.integration


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "filesystem":
        return FilesystemBlobStore(tmp_path / "blobs", UrlSigner("contract-suite-secret!"))
    server = request.getfixturevalue("s3_server")
    run = uuid.uuid4().hex[:8]
    return S3BlobStore.connect(
        server.endpoint,
        server.access_key,
        server.secret_key,
        secure=False,
        region="us-east-1",
        public_bucket=f"pub-{run}",
        private_bucket=f"priv-{run}",
    )


async def _read(store, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


async def test_blobstore_contract_suite_filesystem_and_s3(store, tmp_path: Path) -> None:
    source = tmp_path / "source"
    data = b"webp-bytes" * 10_000
    source.write_bytes(data)
    file_id = uuid.uuid4()
    public_key, private_key = f"pub/{file_id}/thumb-0a1b2c3d.webp", f"priv/{file_id}/thumb-0a1b2c3d.webp"

    assert await store.stat(public_key) is None
    await store.put(public_key, source, len(data), "image/webp")
    await store.put(private_key, source, len(data), "image/webp")
    stat = await store.stat(public_key)
    assert stat is not None
    assert stat.size == len(data)
    assert stat.content_type == "image/webp"
    assert await _read(store, private_key) == data
    assert [s.key for s in await store.list(f"pub/{file_id}/")] == [public_key]
    assert {s.key for s in await store.list("")} >= {public_key, private_key}
    assert store.public_url(public_key).endswith(f"/{public_key}")

    # A declared size that does not match is refused and leaves nothing.
    with pytest.raises(ValueError, match="declared"):
        await store.put(f"pub/{file_id}/medium-0a1b2c3d.webp", source, len(data) - 1, "image/webp")
    assert await store.stat(f"pub/{file_id}/medium-0a1b2c3d.webp") is None

    for bad in ("../escape", "/abs", "pub/../x", "pub/a b"):
        with pytest.raises(ValueError, match="invalid object key"):
            await store.put(bad, source, len(data), "image/webp")

    await store.delete(public_key)
    await store.delete(public_key)  # deleting twice is fine
    assert await store.stat(public_key) is None
    with pytest.raises(FileNotFoundError):
        await _read(store, public_key)
    await store.delete(private_key)
    assert await store.list(f"priv/{file_id}/") == []


async def test_s3_presigned_urls_are_checked_by_the_server(s3_server, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    store = S3BlobStore.connect(
        s3_server.endpoint, s3_server.access_key, s3_server.secret_key,
        secure=False, region="us-east-1", public_bucket=f"pub-{run}", private_bucket=f"priv-{run}",
    )  # fmt: skip
    source = tmp_path / "source"
    source.write_bytes(b"private bytes")
    key = f"priv/{uuid.uuid4()}/thumb-00000000.webp"
    await store.put(key, source, 13, "image/webp")
    async with httpx.AsyncClient() as http:
        url = await store.presign_get(key, 60)
        assert (await http.get(url)).content == b"private bytes"
        # Unsigned, tampered and expired requests are refused by the server itself.
        assert (await http.get(url.split("?")[0])).status_code == 403
        assert (await http.get(url.replace("X-Amz-Expires=60", "X-Amz-Expires=61"))).status_code == 403
        signature = url.split("X-Amz-Signature=")[1][:64]
        tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
        assert (await http.get(tampered)).status_code == 403
        # The public bucket is readable by anyone (no listing), with immutable caching.
        public_key = f"pub/{uuid.uuid4()}/thumb-00000000.webp"
        await store.put(public_key, source, 13, "image/webp")
        public = await http.get(store.public_url(public_key))
        assert public.status_code == 200
        assert public.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert public.headers["content-type"] == "image/webp"
        assert (await http.get(f"http://{s3_server.endpoint}/pub-{run}/")).status_code == 403
        short = await store.presign_get(key, 1)
        await asyncio.sleep(2.1)
        assert (await http.get(short)).status_code == 403  # expired
        incoming = f"incoming/{uuid.uuid4()}"
        put_url, headers = await store.presign_put(incoming, 60, "video/mp4")
        signature = put_url.split("X-Amz-Signature=")[1][:64]
        forged = put_url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
        assert (await http.put(forged, content=b"forged", headers=headers)).status_code == 403
        other_key = put_url.replace(incoming, f"incoming/{uuid.uuid4()}")
        assert (await http.put(other_key, content=b"elsewhere", headers=headers)).status_code == 403
        assert await store.stat(incoming) is None
        assert (await http.put(put_url, content=b"uploaded", headers=headers)).status_code == 200
        assert (await store.stat(incoming)).size == 8  # type: ignore[union-attr]


async def test_private_upload_on_s3_is_served_only_by_presigned_get(s3_client, bearer) -> None:
    import files_media as media
    from files_helpers import upload

    owner = uuid.uuid4()
    private = await upload(s3_client, bearer(owner), media.jpeg(500, 400), "chat_attachment")
    assert private.status_code == 201, private.text
    url = private.json()["variants"][0]["url"]
    assert "X-Amz-Signature=" in url
    async with httpx.AsyncClient() as http:
        served = await http.get(url)
        assert served.status_code == 200
        assert served.content[8:12] == b"WEBP"
        assert (await http.get(url.split("?")[0])).status_code == 403
    assert (await s3_client.get(f"/api/v1/files/{private.json()['id']}", headers=bearer())).status_code == 404

    public = (await upload(s3_client, bearer(owner), media.jpeg(500, 400), "post_media")).json()
    assert public["variants"][0]["url"].startswith(
        f"https://cdn.example.test/media/pub/{public['id']}/thumb-"
    )
