"""Builds the files context's adapters from the settings, once per `Runtime`."""

from __future__ import annotations

from pathlib import Path

from nexgate.files.adapters.media.images import ImagePool
from nexgate.files.adapters.media.inspector import LocalMediaInspector
from nexgate.files.adapters.redis.progress import RedisProgress
from nexgate.files.adapters.sql.repository import SqlFileStore, SqlQuotaLedger
from nexgate.files.adapters.storage.filesystem import FilesystemBlobStore
from nexgate.files.adapters.storage.s3 import S3BlobStore
from nexgate.files.adapters.storage.signing import UrlSigner
from nexgate.files.application.files import FilesDeps, Limits
from nexgate.files.ports import BlobStore
from nexgate.files.settings import FilesSettings
from nexgate.kernel.runtime import Runtime

_BUILT: dict[int, tuple[Runtime, FilesDeps]] = {}


def build_blob_store(settings: FilesSettings, data_dir: Path) -> BlobStore:
    if settings.storage == "s3":
        return S3BlobStore.connect(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
            public_bucket=settings.s3_public_bucket,
            private_bucket=settings.s3_private_bucket,
            public_base_url=settings.public_base_url,
        )
    root = Path(settings.storage_dir) if settings.storage_dir else data_dir / "files"
    return FilesystemBlobStore(root, UrlSigner(settings.url_secret), public_base_url=settings.public_base_url)


def build_deps(runtime: Runtime, settings: FilesSettings | None = None) -> FilesDeps:
    settings = settings or FilesSettings()
    data_dir = Path(runtime.settings.data_dir)
    database = runtime.database()
    return FilesDeps(
        purposes=settings.purposes(),
        blobs=build_blob_store(settings, data_dir),
        inspector=LocalMediaInspector(
            ImagePool(settings.image_workers, settings.image_queue_wait_s),
            max_pixels=settings.max_pixels,
            max_side=settings.max_side,
        ),
        store=SqlFileStore(database),
        quota=SqlQuotaLedger(database),
        progress=RedisProgress(runtime.redis, runtime.settings.redis_prefix),
        clock=runtime.clock,
        limits=Limits(
            quota_bytes=settings.quota_bytes,
            daily_uploads=settings.daily_uploads,
            signed_url_ttl_s=min(settings.signed_url_ttl_s, settings.signed_url_max_ttl_s),
            signed_url_max_ttl_s=settings.signed_url_max_ttl_s,
            detached_grace_s=settings.detached_grace_s,
            unattached_grace_s=settings.unattached_grace_s,
        ),
        tmp_dir=data_dir / "tmp" / "files",
    )


def deps_for(runtime: Runtime) -> FilesDeps:
    """The context's wiring for ``runtime`` (built on first use, then reused)."""
    built = _BUILT.get(id(runtime))
    if built is None or built[0] is not runtime:
        built = (runtime, build_deps(runtime))
        _BUILT[id(runtime)] = built
    return built[1]
