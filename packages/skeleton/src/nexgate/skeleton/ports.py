"""What the application layer needs from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from nexgate.kernel.ports import MessageOutbox
from nexgate.skeleton.domain.notes import Note


class NoteRepository(Protocol):
    async def add(self, note: Note) -> None: ...

    async def get(self, note_id: uuid.UUID) -> Note | None: ...

    async def list_by_author(
        self, author_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> Sequence[Note]: ...

    async def record_delivery(self, note_id: uuid.UUID) -> None: ...


__all__ = ["MessageOutbox", "NoteRepository"]
