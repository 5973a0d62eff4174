"""What the files API accepts and returns: explicit Structs, camelCase."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import msgspec
from litestar.datastructures import UploadFile

from nexgate.files.application.files import FileView
from nexgate.files.domain.files import StoredFile
from nexgate.files.ports import Usage


@dataclass
class UploadForm:
    """``multipart/form-data``: the ``file`` part and the ``purpose`` field."""

    file: UploadFile
    purpose: str


class VariantOut(msgspec.Struct, rename="camel"):
    name: str
    mime_type: str
    width: int
    height: int
    size_bytes: int
    #: Public: a lasting URL. Private: a short-lived signed URL, for the owner only.
    url: str | None = None


class FileError(msgspec.Struct, rename="camel"):
    code: str
    detail: str


class FileOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    purpose: str
    kind: str
    visibility: str
    status: str
    mime_type: str
    #: The type sniffed from the uploaded bytes (the client's claim is ignored).
    source_type: str
    size_bytes: int
    created_at: datetime
    variants: list[VariantOut]
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    blurhash: str | None = None
    dominant_color: str | None = None
    progress: float | None = None
    error: FileError | None = None

    @classmethod
    def of(cls, found: FileView) -> FileOut:
        file = found.file
        return cls(
            id=file.id,
            purpose=file.purpose,
            kind=file.kind.value,
            visibility=file.visibility.value,
            status=file.status.value,
            mime_type=file.mime_type,
            source_type=file.source_type,
            size_bytes=file.size_bytes,
            created_at=file.created_at,
            width=file.width,
            height=file.height,
            duration_ms=file.duration_ms,
            blurhash=file.blurhash,
            dominant_color=file.dominant_color,
            variants=[
                VariantOut(v.name, v.mime_type, v.width, v.height, v.size_bytes, v.url)
                for v in found.variants
            ],
            progress=found.progress,
            error=FileError(file.error_code, file.error_detail or "") if file.error_code else None,
        )


class FileSummaryOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    purpose: str
    kind: str
    visibility: str
    status: str
    mime_type: str
    size_bytes: int
    created_at: datetime
    width: int | None = None
    height: int | None = None
    blurhash: str | None = None

    @classmethod
    def of(cls, file: StoredFile) -> FileSummaryOut:
        return cls(
            id=file.id,
            purpose=file.purpose,
            kind=file.kind.value,
            visibility=file.visibility.value,
            status=file.status.value,
            mime_type=file.mime_type,
            size_bytes=file.size_bytes,
            created_at=file.created_at,
            width=file.width,
            height=file.height,
            blurhash=file.blurhash,
        )


class UsageOut(msgspec.Struct, rename="camel"):
    used_bytes: int
    reserved_bytes: int
    quota_bytes: int
    file_count: int

    @classmethod
    def of(cls, usage: Usage) -> UsageOut:
        return cls(usage.used_bytes, usage.reserved_bytes, usage.quota_bytes, usage.file_count)


class ModerationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    reason: str


class UploadSessionIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    purpose: str
    content_type: str = msgspec.field(name="contentType")
    size_bytes: int = msgspec.field(name="sizeBytes")
    filename: str | None = None


class UploadSessionOut(msgspec.Struct, rename="camel"):
    upload_id: uuid.UUID
    file_id: uuid.UUID
    method: str
    url: str
    headers: dict[str, str]
    expires_at: datetime
