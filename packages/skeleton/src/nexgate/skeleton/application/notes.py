"""Note use cases. Authorisation lives here: every use case takes the actor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from nexgate.contracts.skeleton import NoteCreated
from nexgate.kernel.clock import Clock
from nexgate.kernel.errors import NotFound
from nexgate.kernel.ids import new_id
from nexgate.skeleton.domain.notes import Note
from nexgate.skeleton.ports import MessageOutbox, NoteRepository


async def write_note(
    *, author_id: uuid.UUID, text: str, notes: NoteRepository, outbox: MessageOutbox, clock: Clock
) -> Note:
    note = Note.write(id=new_id(), author_id=author_id, text=text, now=clock.now())
    await notes.add(note)
    await outbox.add(NoteCreated(note_id=note.id, author_id=note.author_id, text=note.text))
    return note


async def read_note(*, actor_id: uuid.UUID, note_id: uuid.UUID, notes: NoteRepository) -> Note:
    note = await notes.get(note_id)
    # Another user's note answers exactly like a missing one: ids are not an oracle.
    if note is None or note.author_id != actor_id:
        raise NotFound("No such note.", code="note_not_found")
    return note


async def list_my_notes(
    *, actor_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int, notes: NoteRepository
) -> Sequence[Note]:
    return await notes.list_by_author(actor_id, after=after, limit=limit)


async def note_delivered(*, message: NoteCreated, notes: NoteRepository) -> None:
    await notes.record_delivery(message.note_id)
