"""What the files use cases need from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from nexgate.files.domain.files import StoredFile
from nexgate.files.domain.purposes import Kind, Purpose
from nexgate.files.domain.sessions import SessionStatus, UploadSession
from nexgate.kernel.ports import MessageOutbox


@dataclass(frozen=True)
class BlobStat:
    key: str
    size: int
    content_type: str | None
    modified: datetime


class BlobStore(Protocol):
    """Object storage: the filesystem (embedded default) or S3."""

    async def put(self, key: str, source: Path, size: int, content_type: str) -> None:
        """Store the file at ``source`` (``size`` bytes) under ``key``, atomically."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """Stream the object's bytes (raises `FileNotFoundError` if missing)."""
        ...

    async def stat(self, key: str) -> BlobStat | None: ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...

    async def list(self, prefix: str) -> Sequence[BlobStat]: ...

    async def presign_get(self, key: str, ttl_s: int, *, download_name: str | None = None) -> str: ...

    async def presign_put(self, key: str, ttl_s: int, content_type: str) -> tuple[str, dict[str, str]]: ...

    def public_url(self, key: str) -> str: ...


@dataclass(frozen=True)
class Sniffed:
    """What the bytes are, whatever the client said."""

    mime_type: str
    kind: Kind | None
    extension: str


@dataclass(frozen=True)
class ProcessedVariant:
    name: str
    path: Path
    mime_type: str
    extension: str
    width: int
    height: int
    size_bytes: int
    digest8: str


@dataclass
class ProcessedMedia:
    """The output of processing: re-encoded variants on local disk plus metadata."""

    mime_type: str
    width: int | None = None
    height: int | None = None
    blurhash: str | None = None
    dominant_color: str | None = None
    duration_ms: int | None = None
    variants: list[ProcessedVariant] = field(default_factory=list)


class MediaInspector(Protocol):
    def sniff(self, path: Path) -> Sniffed:
        """Detect the type from the bytes; refuses anything not on the accepted list."""
        ...

    async def process_image(
        self, path: Path, sniffed: Sniffed, purpose: Purpose, workdir: Path
    ) -> ProcessedMedia:
        """Confirm by decoding (pixel limits first), strip metadata, write the variants."""
        ...

    async def check_document(self, path: Path, sniffed: Sniffed, workdir: Path) -> ProcessedMedia: ...

    async def process_av(
        self,
        path: Path,
        sniffed: Sniffed,
        purpose: Purpose,
        workdir: Path,
        on_progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> ProcessedMedia:
        """Probe (forced format), validate, transcode, and for video a poster with variants;
        ``on_progress(fraction)`` is awaited as the transcode advances."""
        ...


class ProgressTracker(Protocol):
    """Processing progress (0..1) of files, kept outside the database (Redis)."""

    async def set(self, file_id: uuid.UUID, fraction: float) -> None: ...

    async def get(self, file_id: uuid.UUID) -> float | None: ...

    async def clear(self, file_id: uuid.UUID) -> None: ...


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    reserved_bytes: int
    quota_bytes: int
    file_count: int


class QuotaLedger(Protocol):
    """Per-user byte quota; every call is its own short transaction."""

    async def reserve(
        self, owner_id: uuid.UUID, size: int, *, quota_bytes: int, daily_uploads: int, today: str
    ) -> bool:
        """Atomically reserve ``size`` bytes and one upload of today; False if over a limit."""
        ...

    async def release(self, owner_id: uuid.UUID, size: int) -> None: ...

    async def usage(self, owner_id: uuid.UUID, *, quota_bytes: int) -> Usage: ...

    async def forget(self, owner_id: uuid.UUID) -> None:
        """Drop the user's ledger row: every later settle for them fails (an erased account)."""
        ...


class FileTransaction(Protocol):
    outbox: MessageOutbox

    async def add(self, file: StoredFile) -> None: ...

    async def get(self, file_id: uuid.UUID, *, for_update: bool = False) -> StoredFile | None: ...

    async def get_many(self, file_ids: Sequence[uuid.UUID]) -> Sequence[StoredFile]:
        """The files that exist among ``file_ids`` (in no particular order)."""
        ...

    async def delete(self, file_id: uuid.UUID) -> bool: ...

    async def settle_upload(
        self, owner_id: uuid.UUID, reserved: int, stored: int, *, quota_bytes: int
    ) -> bool:
        """Turn a reservation into used bytes (conditional on the quota); False if over it."""
        ...

    async def free_stored(self, owner_id: uuid.UUID, stored: int) -> None: ...

    async def list_owned(
        self,
        owner_id: uuid.UUID,
        *,
        purpose: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[StoredFile]: ...

    async def add_reference(self, file_id: uuid.UUID, ref: str) -> bool: ...

    async def remove_reference(self, file_id: uuid.UUID, ref: str) -> bool: ...

    async def count_references(self, file_id: uuid.UUID) -> int: ...

    async def owned_ids(self, owner_id: uuid.UUID) -> Sequence[uuid.UUID]: ...

    async def orphans(
        self, *, detached_before: datetime, unattached_before: datetime | None, limit: int
    ) -> Sequence[uuid.UUID]:
        """Ready files no reference holds: detached before ``detached_before``, or never
        attached and created before ``unattached_before`` (None: keep those)."""
        ...

    async def existing_ids(self, file_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]: ...

    async def add_session(self, session: UploadSession) -> None: ...

    async def get_session(
        self, upload_id: uuid.UUID, *, for_update: bool = False
    ) -> UploadSession | None: ...

    async def move_session(
        self,
        upload_id: uuid.UUID,
        *,
        from_: Sequence[SessionStatus],
        to: SessionStatus,
        file_id: uuid.UUID | None = None,
    ) -> bool:
        """Conditional status change; False if the session was not in one of ``from_``."""
        ...

    async def stale_sessions(self, created_before: datetime, limit: int) -> Sequence[UploadSession]: ...

    async def open_sessions_of(self, owner_id: uuid.UUID) -> Sequence[UploadSession]:
        """The user's sessions still waiting for their bytes (``open``)."""
        ...

    async def begin_attempt(self, file_id: uuid.UUID) -> tuple[StoredFile, int] | None:
        """Count one processing attempt of a file still ``processing``; None if it is not."""
        ...

    async def finish_processing(self, file: StoredFile) -> bool:
        """Store the results, only ``WHERE status = 'processing'``; False if it is not any more."""
        ...

    async def fail_processing(self, file_id: uuid.UUID, code: str, detail: str) -> StoredFile | None: ...

    async def purge_failed(self, updated_before: datetime, limit: int) -> Sequence[StoredFile]:
        """Delete up to ``limit`` ``failed`` rows (and their references) last touched before
        ``updated_before``; the files deleted."""
        ...


class FileStore(Protocol):
    """Opens a transaction over the files tables and the outbox."""

    def transaction(self) -> AbstractAsyncContextManager[FileTransaction]: ...


__all__ = [
    "BlobStat",
    "BlobStore",
    "FileStore",
    "FileTransaction",
    "MediaInspector",
    "MessageOutbox",
    "ProcessedMedia",
    "ProcessedVariant",
    "ProgressTracker",
    "QuotaLedger",
    "Sniffed",
    "Usage",
]
