"""The S3 `BlobStore` on the minio SDK (synchronous, so every call runs in a thread).

Public variants (``pub/`` keys) go to the public bucket, served from the public base URL
(a CDN or the bucket itself); everything else goes to the private bucket and is reachable
only through presigned GETs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from minio import Minio
from minio.error import S3Error

from nexgate.files.adapters.storage.keys import check_key, check_prefix
from nexgate.files.ports import BlobStat

CHUNK = 64 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"


def _public_read(bucket: str) -> str:
    """Anyone may GET an object of the public bucket (served as is or behind a CDN); nobody
    may list it, and the private bucket gets no policy at all (presigned GETs only)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ["*"]},
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


class S3BlobStore:
    def __init__(
        self,
        client: Minio,
        *,
        public_bucket: str,
        private_bucket: str,
        public_base_url: str = "",
        endpoint_url: str = "",
    ) -> None:
        self._client = client
        self._public = public_bucket
        self._private = private_bucket
        self._public_base = (public_base_url or f"{endpoint_url.rstrip('/')}/{public_bucket}").rstrip("/")
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls, endpoint: str, access_key: str, secret_key: str, *, secure: bool, region: str, **buckets: Any
    ) -> S3BlobStore:
        client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
        scheme = "https" if secure else "http"
        return cls(client, endpoint_url=f"{scheme}://{endpoint}", **buckets)

    def bucket_of(self, key: str) -> str:
        check_key(key)
        return self._public if key.startswith("pub/") else self._private

    def _ensure_buckets(self) -> None:
        if self._ready:
            return
        with self._lock:
            for bucket in (self._public, self._private):
                if not self._client.bucket_exists(bucket):
                    try:
                        self._client.make_bucket(bucket)
                    except S3Error as exc:
                        if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            raise
                        continue
                    if bucket == self._public:
                        # Only a bucket we created: an operator's own policy is left alone.
                        self._client.set_bucket_policy(bucket, _public_read(bucket))
            self._ready = True

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            self._ensure_buckets()
            return fn(*args, **kwargs)

        return await anyio.to_thread.run_sync(call)

    async def put(self, key: str, source: Path, size: int, content_type: str) -> None:
        bucket = self.bucket_of(key)
        cache = IMMUTABLE if bucket == self._public else "private, no-store"
        headers: dict[str, str | list[str] | tuple[str]] = {"Cache-Control": cache}

        def upload() -> None:
            if source.stat().st_size != size:
                raise ValueError("source size differs from the declared size")
            self._client.fput_object(bucket, key, str(source), content_type=content_type, metadata=headers)

        await self._run(upload)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        bucket = self.bucket_of(key)
        try:
            response = await self._run(self._client.get_object, bucket, key)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise FileNotFoundError(key) from exc
            raise
        try:
            while chunk := await anyio.to_thread.run_sync(response.read, CHUNK):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def stat(self, key: str) -> BlobStat | None:
        bucket = self.bucket_of(key)
        try:
            info = await self._run(self._client.stat_object, bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NotFound", "NoSuchObject"):
                return None
            raise
        return BlobStat(key, int(info.size or 0), info.content_type, info.last_modified or datetime.now(UTC))

    async def delete(self, key: str) -> None:
        await self._run(self._client.remove_object, self.bucket_of(key), key)

    async def list(self, prefix: str) -> Sequence[BlobStat]:
        check_prefix(prefix)

        def collect() -> list[BlobStat]:
            found = []
            buckets = {self._public, self._private}
            for bucket in sorted(buckets):
                for obj in self._client.list_objects(bucket, prefix=prefix or None, recursive=True):
                    if obj.is_dir or obj.object_name is None:
                        continue
                    modified = obj.last_modified or datetime.now(UTC)
                    found.append(BlobStat(obj.object_name, int(obj.size or 0), obj.content_type, modified))
            return sorted(found, key=lambda s: s.key)

        return await self._run(collect)

    async def presign_get(self, key: str, ttl_s: int, *, download_name: str | None = None) -> str:
        bucket = self.bucket_of(key)
        extra = (
            {"response-content-disposition": f'attachment; filename="{download_name}"'}
            if download_name
            else None
        )
        return await self._run(
            self._client.presigned_get_object,
            bucket,
            key,
            expires=timedelta(seconds=ttl_s),
            response_headers=extra,
        )

    async def presign_put(self, key: str, ttl_s: int, content_type: str) -> tuple[str, dict[str, str]]:
        bucket = self.bucket_of(key)
        url = await self._run(
            self._client.presigned_put_object, bucket, key, expires=timedelta(seconds=ttl_s)
        )
        return url, {"Content-Type": content_type}

    def public_url(self, key: str) -> str:
        check_key(key)
        return f"{self._public_base}/{key}"
