"""The skeleton's in-process facade: what other contexts may call (through their own ports)."""

from __future__ import annotations

import uuid

from nexgate.kernel.runtime import Runtime
from nexgate.skeleton.adapters.sql.repository import SqlNoteRepository


async def note_exists(runtime: Runtime, note_id: uuid.UUID) -> bool:
    async with runtime.database().sessions() as session:
        return await SqlNoteRepository(session).get(note_id) is not None
