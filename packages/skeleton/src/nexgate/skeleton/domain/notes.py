"""A note: the smallest aggregate that shows the shape of a context."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

from nexgate.kernel.errors import FieldProblem, ValidationFailed

MAX_TEXT = 500


@dataclass
class Note:
    id: uuid.UUID
    author_id: uuid.UUID
    text: str
    created_at: datetime
    #: How many times the note_created message reached the consumer (1 = exactly once).
    deliveries: int = 0

    @classmethod
    def write(cls, *, id: uuid.UUID, author_id: uuid.UUID, text: str, now: datetime) -> Note:
        clean = unicodedata.normalize("NFC", text).strip()
        if not clean or len(clean) > MAX_TEXT:
            raise ValidationFailed(
                "A note needs 1 to 500 characters.",
                code="invalid_note",
                errors=[FieldProblem("text", f"must be 1 to {MAX_TEXT} characters")],
            )
        return cls(id=id, author_id=author_id, text=clean, created_at=now)
