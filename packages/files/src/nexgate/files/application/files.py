"""File use cases. Authorisation lives here: every use case takes the acting user.

A direct upload: check the purpose and size, sniff the bytes, reserve quota (an atomic
conditional UPDATE), decode and re-encode, store the variants, then commit the row, the
quota and ``files.media_ready.v1`` in one transaction. Every refusal leaves nothing behind:
written blobs are deleted and the reservation released.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from nexgate.contracts.files import (
    FileDeleted,
    MediaReady,
    MediaUploaded,
    PosterSnapshot,
    VariantSnapshot,
)
from nexgate.files.domain import errors
from nexgate.files.domain.files import POSTER_PREFIX, Status, StoredFile, Variant, variant_key
from nexgate.files.domain.purposes import Kind, Purpose, Visibility, resolve_purpose
from nexgate.files.ports import (
    BlobStore,
    FileStore,
    MediaInspector,
    ProcessedMedia,
    ProgressTracker,
    QuotaLedger,
    Sniffed,
    Usage,
)
from nexgate.kernel.clock import Clock
from nexgate.kernel.ids import new_id


@dataclass(frozen=True)
class Limits:
    quota_bytes: int
    daily_uploads: int
    signed_url_ttl_s: int
    signed_url_max_ttl_s: int
    detached_grace_s: int = 3600
    #: 0 keeps never-attached files.
    unattached_grace_s: int = 0


@dataclass(frozen=True)
class FilesDeps:
    purposes: dict[str, Purpose]
    blobs: BlobStore
    inspector: MediaInspector
    store: FileStore
    quota: QuotaLedger
    progress: ProgressTracker
    clock: Clock
    limits: Limits
    tmp_dir: Path


@dataclass(frozen=True)
class VariantView:
    name: str
    mime_type: str
    width: int
    height: int
    size_bytes: int
    url: str | None


@dataclass(frozen=True)
class FileView:
    file: StoredFile
    variants: list[VariantView]
    #: 0..1 while the worker processes the file (None when unknown or not processing).
    progress: float | None = None


def check_upload_size(purpose: Purpose, size: int) -> None:
    if size <= 0:
        raise errors.empty_file()
    if size > purpose.largest_limit:
        raise errors.file_too_large(purpose.largest_limit)


async def pull(
    blobs: BlobStore, key: str, target: Path, cap: int, too_large: Callable[[], Exception]
) -> None:
    """Copy an object to a local file, raising ``too_large()`` past ``cap`` bytes (the stat
    that was checked before can be stale: the object may have been replaced since)."""
    copied = 0
    with target.open("wb") as out:
        async for chunk in blobs.open(key):
            copied += len(chunk)
            if copied > cap:
                raise too_large()
            out.write(chunk)


def new_workdir(tmp_dir: Path) -> Path:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="upload-", dir=tmp_dir))


async def upload(
    *,
    owner_id: uuid.UUID,
    purpose_name: str,
    source: Path,
    size: int,
    filename: str | None,
    deps: FilesDeps,
    reserved: bool = False,
    file_id: uuid.UUID | None = None,
) -> FileView:
    """Store ``source`` (a local temporary file the caller owns and removes) as a ready file.

    ``reserved``: the caller (an upload session) already holds a reservation of ``size``
    bytes; it is settled on success and released on any failure, as a fresh one would be.
    """
    try:
        purpose, sniffed = _prepare(purpose_name, source, size, deps, via_session=reserved)
    except BaseException:
        if reserved:
            await deps.quota.release(owner_id, size)
        raise
    if not reserved:
        await reserve(owner_id, size, deps)
    # From here on, any failure deletes what was written and releases the reservation.
    return await _store(owner_id, purpose, sniffed, source, size, filename, deps, file_id or new_id())


async def reserve(owner_id: uuid.UUID, size: int, deps: FilesDeps) -> None:
    """Reserve ``size`` bytes and one of today's uploads, or refuse with the reason."""
    limits = deps.limits
    today = deps.clock.now().date().isoformat()
    if not await deps.quota.reserve(
        owner_id, size, quota_bytes=limits.quota_bytes, daily_uploads=limits.daily_uploads, today=today
    ):
        usage = await deps.quota.usage(owner_id, quota_bytes=limits.quota_bytes)
        if usage.used_bytes + usage.reserved_bytes + size > limits.quota_bytes:
            raise errors.quota_exceeded(usage.used_bytes, limits.quota_bytes)
        raise errors.daily_uploads_exceeded(limits.daily_uploads)


def _prepare(
    purpose_name: str, source: Path, size: int, deps: FilesDeps, *, via_session: bool
) -> tuple[Purpose, Sniffed]:
    purpose = resolve_purpose(deps.purposes, purpose_name)
    check_upload_size(purpose, size)
    sniffed = deps.inspector.sniff(source)
    kind = sniffed.kind
    if kind is None or kind not in purpose.kinds:
        raise errors.UnsupportedMediaType(
            sniffed.mime_type, f"A {purpose.name} cannot be a {sniffed.mime_type} file."
        )
    if size > purpose.limit_for(kind):
        raise errors.file_too_large(purpose.limit_for(kind))
    if kind is Kind.VIDEO and not via_session:
        raise errors.upload_session_required()
    return purpose, sniffed


async def _store(
    owner_id: uuid.UUID,
    purpose: Purpose,
    sniffed: Sniffed,
    source: Path,
    size: int,
    filename: str | None,
    deps: FilesDeps,
    file_id: uuid.UUID,
) -> FileView:
    limits = deps.limits
    kind = sniffed.kind or Kind.DOCUMENT
    if kind in (Kind.VIDEO, Kind.AUDIO):
        return await _accept_for_processing(owner_id, purpose, sniffed, source, size, filename, deps, file_id)
    written: list[str] = []
    committed = False
    workdir = new_workdir(deps.tmp_dir)
    try:
        if kind is Kind.IMAGE:
            processed = await deps.inspector.process_image(source, sniffed, purpose, workdir)
        else:
            processed = await deps.inspector.check_document(source, sniffed, workdir)
        file = _stored_file(file_id, owner_id, purpose, kind, size, filename, processed, deps.clock.now())
        file.source_type = sniffed.mime_type
        for variant, produced in zip(file.variants, processed.variants, strict=True):
            written.append(variant.key)
            await deps.blobs.put(variant.key, produced.path, produced.size_bytes, produced.mime_type)
        async with deps.store.transaction() as tx:
            if not await tx.settle_upload(owner_id, size, file.stored_bytes, quota_bytes=limits.quota_bytes):
                usage = await deps.quota.usage(owner_id, quota_bytes=limits.quota_bytes)
                raise errors.quota_exceeded(usage.used_bytes, limits.quota_bytes)
            await tx.add(file)
            await tx.outbox.add(media_ready(file, deps.blobs))
        committed = True
        return await view(file, deps.blobs, deps.limits.signed_url_ttl_s, reveal_private=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not committed:
            for key in written:
                with contextlib.suppress(Exception):
                    await deps.blobs.delete(key)
            await deps.quota.release(owner_id, size)


async def _accept_for_processing(
    owner_id: uuid.UUID,
    purpose: Purpose,
    sniffed: Sniffed,
    source: Path,
    size: int,
    filename: str | None,
    deps: FilesDeps,
    file_id: uuid.UUID,
) -> FileView:
    """Keep the original privately and hand it to the worker; the reservation stays held
    until the worker settles it (ready) or releases it (failed)."""
    kind = sniffed.kind or Kind.VIDEO
    key = f"work/{file_id}/source.{sniffed.extension}"
    committed = False
    try:
        await deps.blobs.put(key, source, size, sniffed.mime_type)
        file = StoredFile(
            id=file_id,
            owner_id=owner_id,
            purpose=purpose.name,
            kind=kind,
            visibility=purpose.visibility,
            status=Status.PROCESSING,
            mime_type=sniffed.mime_type,
            size_bytes=size,
            created_at=deps.clock.now(),
            filename=_clean_filename(filename),
            source_type=sniffed.mime_type,
            source_key=key,
        )
        async with deps.store.transaction() as tx:
            await tx.add(file)
            await tx.outbox.add(
                MediaUploaded(
                    file_id=file.id, owner_id=owner_id, purpose=purpose.name, kind=kind.value, size_bytes=size
                )
            )
        committed = True
        return FileView(file, [])
    finally:
        if not committed:
            with contextlib.suppress(Exception):
                await deps.blobs.delete(key)
            await deps.quota.release(owner_id, size)


def _stored_file(
    file_id: uuid.UUID,
    owner_id: uuid.UUID,
    purpose: Purpose,
    kind: Kind,
    size: int,
    filename: str | None,
    processed: ProcessedMedia,
    now: datetime,
) -> StoredFile:
    variants = [
        Variant(
            name=p.name,
            key=variant_key(purpose.visibility, file_id, p.name, p.digest8, p.extension),
            mime_type=p.mime_type,
            width=p.width,
            height=p.height,
            size_bytes=p.size_bytes,
        )
        for p in processed.variants
    ]
    return StoredFile(
        id=file_id,
        owner_id=owner_id,
        purpose=purpose.name,
        kind=kind,
        visibility=purpose.visibility,
        status=Status.READY,
        mime_type=processed.mime_type,
        size_bytes=size,
        created_at=now,
        width=processed.width,
        height=processed.height,
        blurhash=processed.blurhash,
        dominant_color=processed.dominant_color,
        filename=_clean_filename(filename),
        variants=variants,
    )


def _clean_filename(filename: str | None) -> str | None:
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>')
    return name[:255] or None


def media_ready(file: StoredFile, blobs: BlobStore) -> MediaReady:
    public = file.visibility is Visibility.PUBLIC

    def snapshot(v: Variant) -> VariantSnapshot:
        return VariantSnapshot(
            name=v.name,
            mime_type=v.mime_type,
            width=v.width,
            height=v.height,
            size_bytes=v.size_bytes,
            url=blobs.public_url(v.key) if public else None,
        )

    posters = [v for v in file.variants if v.name.startswith(POSTER_PREFIX)]
    poster = None
    if posters:
        largest = max(posters, key=lambda v: v.width * v.height)
        poster = PosterSnapshot(
            width=largest.width,
            height=largest.height,
            blurhash=file.blurhash,
            dominant_color=file.dominant_color,
            variants=[snapshot(v) for v in posters],
        )
    return MediaReady(
        file_id=file.id,
        owner_id=file.owner_id,
        purpose=file.purpose,
        kind=file.kind.value,
        visibility=file.visibility.value,
        mime_type=file.mime_type,
        width=file.width,
        height=file.height,
        duration_ms=file.duration_ms,
        blurhash=file.blurhash,
        dominant_color=file.dominant_color,
        variants=[snapshot(v) for v in file.variants if not v.name.startswith(POSTER_PREFIX)],
        poster=poster,
    )


async def view(file: StoredFile, blobs: BlobStore, ttl_s: int, *, reveal_private: bool) -> FileView:
    """What a reader sees: public URLs, or short-lived signed URLs for the owner."""
    variants = []
    for v in file.variants:
        if file.visibility is Visibility.PUBLIC:
            url: str | None = blobs.public_url(v.key)
        elif reveal_private:
            url = await blobs.presign_get(v.key, ttl_s, download_name=_download_name(file, v))
        else:
            url = None
        variants.append(VariantView(v.name, v.mime_type, v.width, v.height, v.size_bytes, url))
    return FileView(file, variants)


def _download_name(file: StoredFile, variant: Variant) -> str | None:
    if file.kind is not Kind.DOCUMENT:
        return None
    return file.filename or f"{file.id}.{variant.key.rsplit('.', 1)[-1]}"


async def _readable(file_id: uuid.UUID, actor_id: uuid.UUID | None, deps: FilesDeps) -> StoredFile:
    async with deps.store.transaction() as tx:
        file = await tx.get(file_id)
    # A private file of someone else answers exactly like a missing one.
    if file is None or not file.visible_to(actor_id):
        raise errors.file_not_found()
    return file


async def read(*, file_id: uuid.UUID, actor_id: uuid.UUID | None, deps: FilesDeps) -> FileView:
    file = await _readable(file_id, actor_id, deps)
    found = await view(
        file, deps.blobs, deps.limits.signed_url_ttl_s, reveal_private=file.owner_id == actor_id
    )
    if file.status is Status.PROCESSING:
        return FileView(found.file, found.variants, await deps.progress.get(file.id) or 0.0)
    return found


def pick_variant(file: StoredFile, purpose: Purpose | None, name: str) -> Variant:
    """The named variant; a size the original was too small to fill gives the largest stored."""
    found = file.variant(name)
    if found is not None:
        return found
    known = {n for n, _ in purpose.variants} if purpose is not None else set()
    if name in known and file.variants:
        return file.variants[-1]
    raise errors.variant_not_found()


async def variant_url(
    *, file_id: uuid.UUID, name: str, actor_id: uuid.UUID | None, deps: FilesDeps, ttl_s: int | None = None
) -> str:
    file = await _readable(file_id, actor_id, deps)
    return await _variant_url(file, name, deps, ttl_s)


async def _variant_url(file: StoredFile, name: str, deps: FilesDeps, ttl_s: int | None) -> str:
    variant = pick_variant(file, deps.purposes.get(file.purpose), name)
    if file.visibility is Visibility.PUBLIC:
        return deps.blobs.public_url(variant.key)
    ttl = min(max(1, ttl_s or deps.limits.signed_url_ttl_s), deps.limits.signed_url_max_ttl_s)
    return await deps.blobs.presign_get(variant.key, ttl, download_name=_download_name(file, variant))


async def _ready_file(file_id: uuid.UUID, deps: FilesDeps) -> StoredFile:
    async with deps.store.transaction() as tx:
        file = await tx.get(file_id)
    if file is None or file.status is not Status.READY:
        raise errors.file_not_found()
    return file


async def signed_url(*, file_id: uuid.UUID, name: str, ttl_s: int | None, deps: FilesDeps) -> str:
    """For contexts that checked access themselves (chat: membership): no owner check here."""
    return await _variant_url(await _ready_file(file_id, deps), name, deps, ttl_s)


async def signed_urls(*, file_id: uuid.UUID, ttl_s: int | None, deps: FilesDeps) -> dict[str, str]:
    """Every variant's URL at once (a chat bubble wants the thumb and the full size)."""
    file = await _ready_file(file_id, deps)
    return {v.name: await _variant_url(file, v.name, deps, ttl_s) for v in file.variants}


async def usage(*, actor_id: uuid.UUID, deps: FilesDeps) -> Usage:
    return await deps.quota.usage(actor_id, quota_bytes=deps.limits.quota_bytes)


async def list_mine(
    *,
    actor_id: uuid.UUID,
    purpose: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    deps: FilesDeps,
) -> Sequence[StoredFile]:
    async with deps.store.transaction() as tx:
        return await tx.list_owned(actor_id, purpose=purpose, after=after, limit=limit)


async def delete(
    *, file_id: uuid.UUID, actor_id: uuid.UUID | None, deps: FilesDeps, reason: str = "owner"
) -> None:
    """Delete a file: the owner (refused while referenced), moderation (``actor_id=None``),
    or the orphan collector (``reason="orphan"``: skipped if a reference came back)."""
    async with deps.store.transaction() as tx:
        file = await tx.get(file_id, for_update=True)
        if file is None or (actor_id is not None and file.owner_id != actor_id):
            raise errors.file_not_found()
        if actor_id is not None and file.references:
            raise errors.file_in_use(file.references)
        if reason == "orphan" and file.references:
            return
        await tx.delete(file_id)
        if file.status is Status.READY:
            await tx.free_stored(file.owner_id, file.stored_bytes)
        await tx.outbox.add(
            FileDeleted(file_id=file.id, owner_id=file.owner_id, purpose=file.purpose, reason=reason)
        )
    if file.status is Status.PROCESSING:
        # The worker will find no row to commit to; the upload's reservation goes now.
        await deps.quota.release(file.owner_id, file.size_bytes)
    # After the commit: a crash here leaves objects without a row, which the blob sweep removes.
    for key in [v.key for v in file.variants] + ([file.source_key] if file.source_key else []):
        with contextlib.suppress(Exception):
            await deps.blobs.delete(key)


async def collect_orphans(deps: FilesDeps, *, now: datetime | None = None, batch: int = 200) -> int:
    """Delete files no reference holds: 1 h after the last detach (media moving between
    drafts keeps its file), 24 h after upload for a file never attached."""
    moment = now or deps.clock.now()
    limits = deps.limits
    async with deps.store.transaction() as tx:
        found = await tx.orphans(
            detached_before=moment - timedelta(seconds=limits.detached_grace_s),
            unattached_before=(
                moment - timedelta(seconds=limits.unattached_grace_s) if limits.unattached_grace_s else None
            ),
            limit=batch,
        )
    collected = 0
    for file_id in found:
        with contextlib.suppress(errors.NotFound):
            await delete(file_id=file_id, actor_id=None, deps=deps, reason="orphan")
            collected += 1
    return collected


async def delete_account_files(*, owner_id: uuid.UUID, deps: FilesDeps) -> int:
    """``auth.user_deleted.v1``: every file of the user goes, references or not."""
    async with deps.store.transaction() as tx:
        found = await tx.owned_ids(owner_id)
    deleted = 0
    for file_id in found:
        with contextlib.suppress(errors.NotFound):
            await delete(file_id=file_id, actor_id=None, deps=deps, reason="account_deleted")
            deleted += 1
    return deleted


@dataclass(frozen=True)
class MediaVariant:
    """One stored variant, without its URL (private ones need `signed_url`)."""

    name: str
    mime_type: str
    width: int
    height: int
    size_bytes: int


@dataclass(frozen=True)
class MediaDescriptor:
    file_id: uuid.UUID
    owner_id: uuid.UUID
    purpose: str
    kind: str
    visibility: str
    status: str
    mime_type: str
    width: int | None
    height: int | None
    duration_ms: int | None
    blurhash: str | None
    dominant_color: str | None
    #: Variant name -> URL; only public files have lasting URLs (private: ask for a signed one).
    urls: dict[str, str]
    #: Every stored variant, smallest first (a video's poster frames are ``poster_<size>``).
    variants: tuple[MediaVariant, ...] = ()


def descriptor(file: StoredFile, blobs: BlobStore) -> MediaDescriptor:
    public = file.visibility is Visibility.PUBLIC
    return MediaDescriptor(
        file_id=file.id,
        owner_id=file.owner_id,
        purpose=file.purpose,
        kind=file.kind.value,
        visibility=file.visibility.value,
        status=file.status.value,
        mime_type=file.mime_type,
        width=file.width,
        height=file.height,
        duration_ms=file.duration_ms,
        blurhash=file.blurhash,
        dominant_color=file.dominant_color,
        urls={v.name: blobs.public_url(v.key) for v in file.variants} if public else {},
        variants=tuple(
            MediaVariant(v.name, v.mime_type, v.width, v.height, v.size_bytes) for v in file.variants
        ),
    )


async def describe(*, file_id: uuid.UUID, deps: FilesDeps) -> MediaDescriptor | None:
    async with deps.store.transaction() as tx:
        file = await tx.get(file_id)
    return descriptor(file, deps.blobs) if file is not None else None


#: The most ids one `describe_many` call looks up.
DESCRIBE_MANY_MAX = 500


async def describe_many(
    *, file_ids: Sequence[uuid.UUID], deps: FilesDeps
) -> dict[uuid.UUID, MediaDescriptor]:
    if len(file_ids) > DESCRIBE_MANY_MAX:
        raise errors.ValidationFailed(f"At most {DESCRIBE_MANY_MAX} files at once.", code="too_many_files")
    async with deps.store.transaction() as tx:
        found = await tx.get_many(file_ids)
    return {file.id: descriptor(file, deps.blobs) for file in found}


async def attach(
    *, file_id: uuid.UUID, actor_id: uuid.UUID, ref: str, purposes: Sequence[str], deps: FilesDeps
) -> MediaDescriptor:
    """Record that ``ref`` (``"commerce:product:<id>"``) uses the file; idempotent."""
    if not ref or len(ref) > 200:
        raise errors.ValidationFailed("A reference needs 1 to 200 characters.", code="invalid_reference")
    async with deps.store.transaction() as tx:
        file = await tx.get(file_id, for_update=True)
        if file is None or file.owner_id != actor_id:
            raise errors.file_not_found()
        if purposes and file.purpose not in purposes:
            raise errors.forbidden_purpose(" or ".join(purposes))
        if file.status is Status.FAILED:
            raise errors.file_failed()
        await tx.add_reference(file_id, ref)
    return descriptor(file, deps.blobs)


async def detach(*, file_id: uuid.UUID, ref: str, deps: FilesDeps) -> bool:
    async with deps.store.transaction() as tx:
        return await tx.remove_reference(file_id, ref)
