"""What the API accepts and returns: explicit Structs, camelCase, unknown fields refused."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from nexgate.skeleton.domain.notes import Note


class NoteIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    text: str


class NoteOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    text: str
    created_at: datetime
    deliveries: int

    @classmethod
    def of(cls, note: Note) -> NoteOut:
        return cls(id=note.id, text=note.text, created_at=note.created_at, deliveries=note.deliveries)
