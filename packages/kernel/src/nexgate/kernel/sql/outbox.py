"""Transactional outbox and idempotent-consumer inbox tables, one pair per context schema.

A context calls `outbox_tables(metadata)` in its SQL models so the two tables
live in its own schema and come with its own Alembic migrations.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.contracts import Contract

#: PostgreSQL NOTIFY channel that wakes the relays; the payload is the schema name.
OUTBOX_CHANNEL = "nexgate_outbox"


@dataclass(frozen=True)
class OutboxTables:
    schema: str
    outbox: sa.Table
    inbox: sa.Table


def outbox_tables(metadata: sa.MetaData) -> OutboxTables:
    schema = metadata.schema
    if not schema:
        raise ValueError("a context's MetaData must name its schema")
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("tag", sa.String(200), nullable=False),
        # Exactly the bytes that go on the wire, so a replay publishes the same message.
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=sa.text("published_at IS NULL"),
        ),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("message_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    return OutboxTables(schema=schema, outbox=outbox, inbox=inbox)


async def record(session: AsyncSession, tables: OutboxTables, *messages: Contract) -> None:
    """Add messages to the outbox inside the caller's transaction.

    The NOTIFY is transactional in PostgreSQL: relays are woken only if the
    transaction commits, and nothing is published before it does.
    """
    if not messages:
        return
    await session.execute(
        sa.insert(tables.outbox),
        [{"id": m.id, "tag": m.tag(), "payload": msgspec.json.encode(m)} for m in messages],
    )
    await session.execute(sa.select(sa.func.pg_notify(OUTBOX_CHANNEL, tables.schema)))


async def claim(session: AsyncSession, tables: OutboxTables, consumer: str, message_id: uuid.UUID) -> bool:
    """Record that ``consumer`` handled ``message_id``; False if it already had.

    Runs in the same transaction as the consumer's effect, so the effect and
    the record commit or roll back together.
    """
    result = await session.execute(
        pg.insert(tables.inbox)
        .values(consumer=consumer, message_id=message_id)
        .on_conflict_do_nothing()
        .returning(tables.inbox.c.message_id)
    )
    return result.first() is not None


class SqlOutbox:
    """The application-layer `MessageOutbox` port bound to one session."""

    def __init__(self, session: AsyncSession, tables: OutboxTables) -> None:
        self._session = session
        self._tables = tables

    async def add(self, *messages: Contract) -> None:
        await record(self._session, self._tables, *messages)
