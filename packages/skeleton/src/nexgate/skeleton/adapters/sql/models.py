"""Tables of the ``skeleton`` schema, with the context's outbox and inbox."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from nexgate.kernel.sql.outbox import outbox_tables

SCHEMA = "skeleton"
metadata = sa.MetaData(schema=SCHEMA)
tables = outbox_tables(metadata)

notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("author_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deliveries", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_notes_author_created", "author_id", "created_at", "id"),
)
