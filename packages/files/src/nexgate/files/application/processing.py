"""Video and audio processing in the worker, triggered by ``files.media_uploaded.v1``.

Idempotent by the file's status: only a file still ``processing`` is worked on, and the
results are committed only ``WHERE status = 'processing'``, so a redelivered message does
nothing and a file deleted meanwhile is cleaned up instead of resurrected. At most
`MAX_ATTEMPTS` attempts, then ``failed``. Each attempt works in a directory named after it;
the next attempt removes what a crashed one left.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from nexgate.contracts.files import FileDeleted, MediaFailed
from nexgate.files.application.files import FilesDeps, media_ready, pull
from nexgate.files.domain import errors
from nexgate.files.domain.files import Status, StoredFile, Variant, variant_key
from nexgate.files.domain.purposes import Kind, resolve_purpose
from nexgate.kernel.errors import DomainError

MAX_ATTEMPTS = 3


def _attempt_dir(deps: FilesDeps, file_id: uuid.UUID, attempt: int) -> Path:
    root = deps.tmp_dir / "processing"
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(f"{file_id}-*"):  # a crashed attempt's outputs
        shutil.rmtree(leftover, ignore_errors=True)
    path = root / f"{file_id}-{attempt}"
    path.mkdir()
    return path


async def process_media(*, file_id: uuid.UUID, deps: FilesDeps) -> Status | None:
    """Process one uploaded video or audio file; the status it ended in (None: nothing to do)."""
    async with deps.store.transaction() as tx:
        begun = await tx.begin_attempt(file_id)
    if begun is None:
        return None  # already processed, failed or deleted: a redelivery is a no-op
    file, attempt = begun
    if attempt > MAX_ATTEMPTS:
        await _fail(file, "processing_failed", f"Processing failed {MAX_ATTEMPTS} times.", deps)
        return Status.FAILED
    workdir = _attempt_dir(deps, file.id, attempt)
    written: list[str] = []
    try:
        source = workdir / "source"
        if file.source_key is None:
            await _fail(file, "corrupt_media", "The uploaded original is missing.", deps)
            return Status.FAILED
        await pull(deps.blobs, file.source_key, source, file.size_bytes, _larger_than_uploaded)
        purpose = resolve_purpose(deps.purposes, file.purpose)
        sniffed = deps.inspector.sniff(source)
        if sniffed.kind not in (Kind.VIDEO, Kind.AUDIO):
            raise errors.UnsupportedMediaType(sniffed.mime_type)
        try:
            processed = await deps.inspector.process_av(
                source, sniffed, purpose, workdir, on_progress=lambda f: deps.progress.set(file.id, f)
            )
        except DomainError as refused:
            await _fail(file, refused.code, refused.detail, deps)
            return Status.FAILED
        file.mime_type = processed.mime_type
        file.width, file.height, file.duration_ms = processed.width, processed.height, processed.duration_ms
        file.blurhash, file.dominant_color = processed.blurhash, processed.dominant_color
        file.variants = [
            Variant(
                name=p.name,
                key=variant_key(file.visibility, file.id, p.name, p.digest8, p.extension),
                mime_type=p.mime_type,
                width=p.width,
                height=p.height,
                size_bytes=p.size_bytes,
            )
            for p in processed.variants
        ]
        for variant, produced in zip(file.variants, processed.variants, strict=True):
            written.append(variant.key)
            await deps.blobs.put(variant.key, produced.path, produced.size_bytes, produced.mime_type)
        async with deps.store.transaction() as tx:
            if not await tx.finish_processing(file):
                raise _Gone
            if not await tx.settle_upload(
                file.owner_id, file.size_bytes, file.stored_bytes, quota_bytes=deps.limits.quota_bytes
            ):
                raise errors.quota_exceeded(0, deps.limits.quota_bytes)
            await tx.outbox.add(media_ready(file, deps.blobs))
        written.clear()
        source_key = file.source_key
        with contextlib.suppress(Exception):
            await deps.blobs.delete(source_key)
        return Status.READY
    except _Gone:
        # Not processing any more: deleted (the deletion released the quota), or another
        # attempt won; never delete objects the committed row points at.
        async with deps.store.transaction() as tx:
            current = await tx.get(file.id)
        kept = {v.key for v in current.variants} if current is not None else set()
        written[:] = [key for key in written if key not in kept]
        return None
    except DomainError as refused:
        await _fail(file, refused.code, refused.detail, deps)
        return Status.FAILED
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(Exception):
            await deps.progress.clear(file.id)
        for key in written:
            with contextlib.suppress(Exception):
                await deps.blobs.delete(key)


FAILED_KEPT = timedelta(days=7)


async def purge_failed(deps: FilesDeps, *, now: datetime | None = None, batch: int = 500) -> int:
    """A failed file keeps only its row (for the client to read the error), for 7 days; its
    deletion is published like any other (``orphan``: nobody can use a failed file)."""
    async with deps.store.transaction() as tx:
        purged = await tx.purge_failed((now or deps.clock.now()) - FAILED_KEPT, batch)
        for file in purged:
            await tx.outbox.add(
                FileDeleted(file_id=file.id, owner_id=file.owner_id, purpose=file.purpose, reason="orphan")
            )
    return len(purged)


class _Gone(Exception):
    """The file stopped being ``processing`` under us (deleted)."""


def _larger_than_uploaded() -> DomainError:
    return errors.corrupt_media("The stored original is larger than uploaded.")


async def _fail(file: StoredFile, code: str, detail: str, deps: FilesDeps) -> None:
    """Only a ``failed`` row stays: no blobs, and the reservation is released."""
    async with deps.store.transaction() as tx:
        failed = await tx.fail_processing(file.id, code, detail)
        if failed is not None:
            await tx.outbox.add(
                MediaFailed(
                    file_id=file.id, owner_id=file.owner_id, purpose=file.purpose, code=code, detail=detail
                )
            )
    if failed is None:
        return
    await deps.quota.release(file.owner_id, file.size_bytes)
    if file.source_key:
        with contextlib.suppress(Exception):
            await deps.blobs.delete(file.source_key)


__all__ = ["MAX_ATTEMPTS", "process_media", "purge_failed"]
