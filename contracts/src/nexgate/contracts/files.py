"""Messages of the files context: a file became ready, a file was deleted.

Consumers (social, commerce, events, profiles, chat) keep the snapshot and never call back.
"""

from __future__ import annotations

import uuid

import msgspec

from nexgate.contracts.base import Contract


class VariantSnapshot(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    name: str
    mime_type: str
    width: int
    height: int
    size_bytes: int
    #: Only for public files: private variants are reachable through short-lived signed URLs.
    url: str | None = None


class PosterSnapshot(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A video's poster frame, re-encoded through the image pipeline. Its variants keep their
    stored names (``poster_thumb``, ``poster_medium``...), as ``/files/{id}/variants/{name}``."""

    width: int
    height: int
    blurhash: str | None = None
    dominant_color: str | None = None
    variants: list[VariantSnapshot] = msgspec.field(default_factory=list)


class MediaUploaded(Contract, tag="files.media_uploaded.v1", kw_only=True):
    """A video or audio upload was accepted and awaits processing (the files worker's trigger)."""

    file_id: uuid.UUID
    owner_id: uuid.UUID
    purpose: str
    kind: str
    size_bytes: int


class MediaFailed(Contract, tag="files.media_failed.v1", kw_only=True):
    """Processing refused or could not finish a file; ``code`` is the stable problem code."""

    file_id: uuid.UUID
    owner_id: uuid.UUID
    purpose: str
    code: str
    detail: str


class MediaReady(Contract, tag="files.media_ready.v1", kw_only=True):
    """A file passed validation and processing; its variants are stored and servable."""

    file_id: uuid.UUID
    owner_id: uuid.UUID
    purpose: str
    kind: str
    visibility: str
    mime_type: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    blurhash: str | None = None
    dominant_color: str | None = None
    #: The playable or viewable media itself (a video's poster frames are in ``poster``).
    variants: list[VariantSnapshot] = msgspec.field(default_factory=list)
    #: Videos only: the poster frame, with its own variants and BlurHash.
    poster: PosterSnapshot | None = None


class FileDeleted(Contract, tag="files.file_deleted.v1", kw_only=True):
    """A file and all its stored objects were removed; ``reason`` is owner, orphan, moderation
    or account_deleted."""

    file_id: uuid.UUID
    owner_id: uuid.UUID
    purpose: str
    reason: str
