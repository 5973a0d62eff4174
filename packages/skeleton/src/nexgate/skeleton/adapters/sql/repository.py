"""`NoteRepository` on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.kernel.sql.keyset import keyset_after
from nexgate.skeleton.adapters.sql.models import notes
from nexgate.skeleton.domain.notes import Note


def _to_note(row: sa.Row) -> Note:
    return Note(
        id=row.id,
        author_id=row.author_id,
        text=row.text,
        created_at=row.created_at,
        deliveries=row.deliveries,
    )


class SqlNoteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, note: Note) -> None:
        await self._session.execute(
            sa.insert(notes).values(
                id=note.id, author_id=note.author_id, text=note.text, created_at=note.created_at
            )
        )

    async def get(self, note_id: uuid.UUID) -> Note | None:
        row = (await self._session.execute(sa.select(notes).where(notes.c.id == note_id))).first()
        return _to_note(row) if row else None

    async def list_by_author(
        self, author_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> Sequence[Note]:
        stmt = keyset_after(
            sa.select(notes).where(notes.c.author_id == author_id),
            [notes.c.created_at, notes.c.id],
            after,
            descending=True,
            limit=limit,
        )
        return [_to_note(row) for row in (await self._session.execute(stmt)).all()]

    async def record_delivery(self, note_id: uuid.UUID) -> None:
        await self._session.execute(
            sa.update(notes).where(notes.c.id == note_id).values(deliveries=notes.c.deliveries + 1)
        )
