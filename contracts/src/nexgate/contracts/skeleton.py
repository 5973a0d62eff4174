"""Messages of the skeleton context: the template every new context is copied from."""

from __future__ import annotations

import uuid

from nexgate.contracts.base import Contract


class NoteCreated(Contract, tag="skeleton.note_created.v1", kw_only=True):
    """A note was written; carries the whole note so consumers never call back."""

    note_id: uuid.UUID
    author_id: uuid.UUID | None
    text: str
