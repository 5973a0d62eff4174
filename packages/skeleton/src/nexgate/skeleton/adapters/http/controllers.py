"""Thin controllers: decode, call a use case, encode."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.kernel.clock import Clock
from nexgate.kernel.http.auth import requires_principal
from nexgate.kernel.pagination import CursorCodec, Page, validate_limit
from nexgate.kernel.security.principal import Principal
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.skeleton.adapters.http.schemas import NoteIn, NoteOut
from nexgate.skeleton.adapters.sql.models import tables
from nexgate.skeleton.adapters.sql.repository import SqlNoteRepository
from nexgate.skeleton.application import notes as use_cases

_CURSOR_TYPES = (datetime, uuid.UUID)


class NoteController(Controller):
    path = "/api/v1/skeleton/notes"
    tags = ["skeleton"]
    guards = [requires_principal]

    @post("/", opt={"idempotent": True}, summary="Write a note")
    async def create(
        self,
        data: JSONBody[NoteIn],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
    ) -> NoteOut:
        note = await use_cases.write_note(
            author_id=principal.user_id,
            text=data.text,
            notes=SqlNoteRepository(db_session),
            outbox=SqlOutbox(db_session, tables),
            clock=clock,
        )
        return NoteOut.of(note)

    @get("/{note_id:uuid}", summary="Read one of my notes")
    async def read(
        self,
        note_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
    ) -> NoteOut:
        note = await use_cases.read_note(
            actor_id=principal.user_id, note_id=note_id, notes=SqlNoteRepository(db_session)
        )
        return NoteOut.of(note)

    @get("/", summary="List my notes, newest first")
    async def list_mine(
        self,
        principal: NamedDependency[Principal],
        db_session: NamedDependency[AsyncSession],
        cursors: NamedDependency[CursorCodec],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page[NoteOut]:
        size = validate_limit(limit)
        after = cursors.decode(cursor, _CURSOR_TYPES) if cursor else None
        found = await use_cases.list_my_notes(
            actor_id=principal.user_id,
            after=after,
            limit=size,
            notes=SqlNoteRepository(db_session),  # type: ignore[arg-type]
        )
        page = Page.from_rows(found, size, key=lambda n: (n.created_at, n.id), codec=cursors)
        return Page(items=[NoteOut.of(n) for n in page.items], next_cursor=page.next_cursor)
