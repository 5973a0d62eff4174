"""Upload sessions: the client sends the bytes straight to storage, then asks to complete."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from nexgate.files.domain.errors import UnsupportedMediaType
from nexgate.files.domain.purposes import Kind

SESSION_TTL = timedelta(minutes=15)
#: Sessions never completed are swept (object deleted, reservation released) after this.
SWEEP_AFTER = timedelta(hours=1)


class SessionStatus(StrEnum):
    OPEN = "open"
    COMPLETING = "completing"
    COMPLETED = "completed"
    ABORTED = "aborted"


@dataclass
class UploadSession:
    id: uuid.UUID
    owner_id: uuid.UUID
    purpose: str
    content_type: str
    size_bytes: int
    filename: str | None
    key: str
    status: SessionStatus
    created_at: datetime
    expires_at: datetime
    file_id: uuid.UUID | None = None


def incoming_key(upload_id: uuid.UUID) -> str:
    return f"incoming/{upload_id}"


def declared_kind(content_type: str) -> Kind:
    """The kind a client says it will send: only used to pick the limit and sign the upload.

    The bytes decide at completion; a lie there is refused like any other mismatch.
    """
    base = content_type.split(";", 1)[0].strip().lower()
    if base == "application/pdf":
        return Kind.DOCUMENT
    top = base.split("/", 1)[0]
    kinds = {"image": Kind.IMAGE, "video": Kind.VIDEO, "audio": Kind.AUDIO}
    if top not in kinds or base in ("image/svg+xml",):
        raise UnsupportedMediaType(base or "application/octet-stream")
    return kinds[top]
