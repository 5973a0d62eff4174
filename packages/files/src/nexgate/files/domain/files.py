"""A stored file: the row the files context keeps for every upload, and its variants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from nexgate.files.domain.purposes import Kind, Visibility

#: A video's poster frame is stored as image variants named ``poster_<size>``.
POSTER_PREFIX = "poster_"


class Status(StrEnum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class Variant:
    name: str
    key: str
    mime_type: str
    width: int
    height: int
    size_bytes: int


@dataclass
class StoredFile:
    id: uuid.UUID
    owner_id: uuid.UUID
    purpose: str
    kind: Kind
    visibility: Visibility
    status: Status
    mime_type: str
    size_bytes: int
    created_at: datetime
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    blurhash: str | None = None
    dominant_color: str | None = None
    filename: str | None = None
    #: What the uploaded bytes were (sniffed), whatever the client claimed.
    source_type: str = ""
    variants: list[Variant] = field(default_factory=list)
    references: int = 0
    source_key: str | None = None
    error_code: str | None = None
    error_detail: str | None = None

    @property
    def stored_bytes(self) -> int:
        """What the file counts against its owner's quota: every stored variant."""
        return sum(v.size_bytes for v in self.variants)

    def visible_to(self, actor_id: uuid.UUID | None) -> bool:
        return self.visibility is Visibility.PUBLIC or actor_id == self.owner_id

    def variant(self, name: str) -> Variant | None:
        """The named variant; a missing bigger size falls back to the largest one stored.

        Variants are never upscaled, so a small original has fewer of them.
        """
        for variant in self.variants:
            if variant.name == name:
                return variant
        return None


def variant_key(visibility: Visibility, file_id: uuid.UUID, name: str, digest8: str, extension: str) -> str:
    """Immutable object key: a new content gets a new key, so caches never go stale."""
    prefix = "pub" if visibility is Visibility.PUBLIC else "priv"
    return f"{prefix}/{file_id}/{name}-{digest8}.{extension}"
