"""Alembic, one version table per context schema, driven from code.

A context's ``migrations/env.py`` is two lines: import its MetaData and call
`run_env(metadata)`. `upgrade_all` runs every selected context's migrations,
creating the databases and schemas it needs first, under an advisory lock so
that several processes starting together do not race.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

_LOCK_KEY = 0x6E657867  # "nexg": one advisory lock for all migration runs


def run_env(metadata: sa.MetaData) -> None:
    """Body of a context's Alembic env.py (online mode with a given connection)."""
    schema = metadata.schema
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `nexgate migrate` (it provides the connection)")

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        return name == schema if type_ == "schema" else True

    connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table="alembic_version",
        version_table_schema=schema,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def alembic_config(script_location: Path, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    return config


async def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist (first run on a laptop)."""
    target = make_url(url)
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                try:
                    await conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
                except (ProgrammingError, IntegrityError) as exc:
                    # Another process created it between our check and our CREATE.
                    if "already exists" not in str(exc) and "duplicate key" not in str(exc):
                        raise
    finally:
        await admin.dispose()


async def upgrade(url: str, script_locations: Iterable[Path], revision: str = "head") -> None:
    await ensure_database(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            try:
                for location in script_locations:

                    def run(sync_conn: Connection, location: Path = location) -> None:
                        command.upgrade(alembic_config(location, sync_conn), revision)

                    await conn.run_sync(run)
                    await conn.commit()
            finally:
                await conn.rollback()  # a failed migration aborted the transaction; keep its error
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                await conn.commit()
    finally:
        await engine.dispose()


async def make_revision(url: str, script_location: Path, message: str) -> None:
    """Autogenerate a revision by comparing the models with the migrated database."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(
                lambda sync_conn: command.revision(
                    alembic_config(script_location, sync_conn), message=message, autogenerate=True
                )
            )
    finally:
        await engine.dispose()
