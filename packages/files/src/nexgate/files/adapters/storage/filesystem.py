"""The filesystem `BlobStore`: atomic writes, validated keys, sharded directories.

Objects live at ``<root>/<xx>/<key>`` where ``xx`` is a hash of the key's first two
segments, so one file's variants share a directory and no directory grows without bound.
Private objects are served by the app behind HMAC-signed URLs (`UrlSigner`).
"""

from __future__ import annotations

import builtins
import hashlib
import mimetypes
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread

from nexgate.files.adapters.storage.keys import check_key, check_prefix
from nexgate.files.adapters.storage.signing import UrlSigner
from nexgate.files.ports import BlobStat

CHUNK = 64 * 1024
MEDIA_ROUTE = "/media"


def _shard(key: str) -> str:
    head = "/".join(key.split("/")[:2])
    return hashlib.sha256(head.encode()).hexdigest()[:2]


class FilesystemBlobStore:
    def __init__(
        self, root: Path, signer: UrlSigner, *, public_base_url: str = "", app_base_url: str = ""
    ) -> None:
        self.root = root
        self._signer = signer
        self._public_base = (public_base_url or f"{app_base_url}{MEDIA_ROUTE}").rstrip("/")
        self._app_base = app_base_url.rstrip("/")

    def path_of(self, key: str) -> Path:
        check_key(key)
        return self.root / _shard(key) / key

    async def put(self, key: str, source: Path, size: int, content_type: str) -> None:
        target = self.path_of(key)
        await anyio.to_thread.run_sync(_atomic_copy, source, target, size)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        handle = await anyio.open_file(path, "rb")
        try:
            while chunk := await handle.read(CHUNK):
                yield chunk
        finally:
            await handle.aclose()

    async def stat(self, key: str) -> BlobStat | None:
        path = self.path_of(key)
        try:
            info = await anyio.to_thread.run_sync(path.stat)
        except FileNotFoundError:
            return None
        return BlobStat(
            key, info.st_size, mimetypes.guess_type(key)[0], datetime.fromtimestamp(info.st_mtime, UTC)
        )

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        await anyio.to_thread.run_sync(_unlink_and_prune, path, self.root)

    async def list(self, prefix: str) -> Sequence[BlobStat]:
        check_prefix(prefix)
        return await anyio.to_thread.run_sync(self._list, prefix)

    def _list(self, prefix: str) -> builtins.list[BlobStat]:
        found: builtins.list[BlobStat] = []
        if not self.root.exists():
            return found
        for shard in self.root.iterdir():
            if not shard.is_dir():
                continue
            for dirpath, _, names in os.walk(shard):
                for name in names:
                    if name.startswith(".tmp-"):
                        continue
                    path = Path(dirpath) / name
                    key = path.relative_to(shard).as_posix()
                    if key.startswith(prefix):
                        info = path.stat()
                        found.append(
                            BlobStat(
                                key,
                                info.st_size,
                                mimetypes.guess_type(key)[0],
                                datetime.fromtimestamp(info.st_mtime, UTC),
                            )
                        )
        return sorted(found, key=lambda s: s.key)

    async def presign_get(self, key: str, ttl_s: int, *, download_name: str | None = None) -> str:
        check_key(key)
        return f"{self._app_base}{MEDIA_ROUTE}/{key}?{self._signer.query('GET', key, ttl_s)}"

    async def presign_put(self, key: str, ttl_s: int, content_type: str) -> tuple[str, dict[str, str]]:
        check_key(key)
        return f"{self._app_base}{MEDIA_ROUTE}/{key}?{self._signer.query('PUT', key, ttl_s)}", {
            "Content-Type": content_type
        }

    def public_url(self, key: str) -> str:
        check_key(key)
        return f"{self._public_base}/{key}"

    @property
    def signer(self) -> UrlSigner:
        return self._signer

    def verify(self, method: str, key: str, expires: str | None, sig: str | None) -> bool:
        return self._signer.verify(method, key, expires, sig)


def _atomic_copy(source: Path, target: Path, size: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{os.urandom(8).hex()}"
    try:
        with source.open("rb") as src, tmp.open("wb") as dst:
            copied = 0
            while chunk := src.read(CHUNK):
                copied += len(chunk)
                if copied > size:
                    raise ValueError("source is larger than declared")
                dst.write(chunk)
            if copied != size:
                raise ValueError("source size differs from the declared size")
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _unlink_and_prune(path: Path, root: Path) -> None:
    path.unlink(missing_ok=True)
    parent = path.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


__all__ = ["FilesystemBlobStore"]
