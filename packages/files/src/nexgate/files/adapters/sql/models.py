"""Tables of the ``files`` schema, with the context's outbox and inbox."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from nexgate.kernel.sql.outbox import outbox_tables

SCHEMA = "files"
metadata = sa.MetaData(schema=SCHEMA)
tables = outbox_tables(metadata)

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("owner_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    #: The type served (the variants' type).
    sa.Column("mime_type", sa.String(100), nullable=False),
    #: The type sniffed from the uploaded bytes.
    sa.Column("source_type", sa.String(100), nullable=False),
    #: Bytes the client uploaded (the original, which is never kept once variants exist).
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    #: Bytes stored for it (every variant): what counts against the quota.
    sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("blurhash", sa.String(64)),
    sa.Column("dominant_color", sa.String(7)),
    sa.Column("filename", sa.String(255)),
    #: While processing: the uploaded original (deleted once the variants exist).
    sa.Column("source_key", sa.String(200)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_detail", sa.String(500)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    #: Orphan collection: set while no reference holds the file (from creation, or from the
    #: last detach); a file never attached waits longer than one that was detached.
    sa.Column("unreferenced_since", sa.DateTime(timezone=True)),
    sa.Column("ever_attached", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("variants", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('uploaded', 'processing', 'ready', 'failed')", name="ck_files_status"),
    sa.Index("ix_files_owner_created", "owner_id", "created_at", "id"),
    sa.Index(
        "ix_files_unreferenced",
        "unreferenced_since",
        postgresql_where=sa.text("unreferenced_since IS NOT NULL"),
    ),
)

file_refs = sa.Table(
    "file_refs",
    metadata,
    sa.Column("file_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("ref", sa.String(200), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

quotas = sa.Table(
    "quotas",
    metadata,
    sa.Column("owner_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("used_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("reserved_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("file_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("upload_day", sa.Date),
    sa.Column("uploads_today", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("used_bytes >= 0 AND reserved_bytes >= 0", name="ck_quotas_non_negative"),
)

upload_sessions = sa.Table(
    "upload_sessions",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("owner_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("filename", sa.String(255)),
    sa.Column("key", sa.String(200), nullable=False),
    #: open -> completing -> completed, or open -> aborted (abort, failure or sweep).
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("file_id", pg.UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "status IN ('open', 'completing', 'completed', 'aborted')", name="ck_upload_sessions_status"
    ),
    sa.Index(
        "ix_upload_sessions_open", "created_at", postgresql_where=sa.text("status IN ('open', 'completing')")
    ),
)
