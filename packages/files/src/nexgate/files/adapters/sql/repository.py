"""The files tables behind the `FileStore` and `QuotaLedger` ports (lane A: plain repositories)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from nexgate.files.adapters.sql.models import file_refs, files, quotas, tables, upload_sessions
from nexgate.files.domain.files import Status, StoredFile, Variant
from nexgate.files.domain.purposes import Kind, Visibility
from nexgate.files.domain.sessions import SessionStatus, UploadSession
from nexgate.files.ports import Usage
from nexgate.kernel.sql.database import Database
from nexgate.kernel.sql.keyset import keyset_after
from nexgate.kernel.sql.outbox import SqlOutbox


def _variants_json(file: StoredFile) -> list[dict[str, Any]]:
    return [
        {
            "name": v.name,
            "key": v.key,
            "mimeType": v.mime_type,
            "width": v.width,
            "height": v.height,
            "sizeBytes": v.size_bytes,
        }
        for v in file.variants
    ]


def _to_file(row: sa.Row, references: int = 0) -> StoredFile:
    return StoredFile(
        id=row.id,
        owner_id=row.owner_id,
        purpose=row.purpose,
        kind=Kind(row.kind),
        visibility=Visibility(row.visibility),
        status=Status(row.status),
        mime_type=row.mime_type,
        size_bytes=row.size_bytes,
        created_at=row.created_at,
        width=row.width,
        height=row.height,
        duration_ms=row.duration_ms,
        blurhash=row.blurhash,
        dominant_color=row.dominant_color,
        filename=row.filename,
        source_type=row.source_type,
        source_key=row.source_key,
        error_code=row.error_code,
        error_detail=row.error_detail,
        variants=[
            Variant(v["name"], v["key"], v["mimeType"], v["width"], v["height"], v["sizeBytes"])
            for v in row.variants
        ],
        references=references,
    )


class SqlFileTransaction:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.outbox = SqlOutbox(session, tables)

    async def add(self, file: StoredFile) -> None:
        await self._session.execute(
            sa.insert(files).values(
                id=file.id,
                owner_id=file.owner_id,
                purpose=file.purpose,
                kind=file.kind.value,
                visibility=file.visibility.value,
                status=file.status.value,
                mime_type=file.mime_type,
                source_type=file.source_type,
                source_key=file.source_key,
                unreferenced_since=file.created_at,
                size_bytes=file.size_bytes,
                stored_bytes=file.stored_bytes,
                width=file.width,
                height=file.height,
                duration_ms=file.duration_ms,
                blurhash=file.blurhash,
                dominant_color=file.dominant_color,
                filename=file.filename,
                variants=_variants_json(file),
                created_at=file.created_at,
            )
        )

    async def get(self, file_id: uuid.UUID, *, for_update: bool = False) -> StoredFile | None:
        stmt = sa.select(files).where(files.c.id == file_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).first()
        if row is None:
            return None
        return _to_file(row, await self.count_references(file_id))

    async def get_many(self, file_ids: Sequence[uuid.UUID]) -> Sequence[StoredFile]:
        if not file_ids:
            return []
        wanted = list(dict.fromkeys(file_ids))
        rows = (await self._session.execute(sa.select(files).where(files.c.id.in_(wanted)))).all()
        referenced = await self._session.execute(
            sa.select(file_refs.c.file_id, sa.func.count())
            .where(file_refs.c.file_id.in_(wanted))
            .group_by(file_refs.c.file_id)
        )
        counts = {file_id: int(count) for file_id, count in referenced}
        return [_to_file(row, counts.get(row.id, 0)) for row in rows]

    async def delete(self, file_id: uuid.UUID) -> bool:
        await self._session.execute(sa.delete(file_refs).where(file_refs.c.file_id == file_id))
        result = await self._session.execute(
            sa.delete(files).where(files.c.id == file_id).returning(files.c.id)
        )
        return result.first() is not None

    async def settle_upload(
        self, owner_id: uuid.UUID, reserved: int, stored: int, *, quota_bytes: int
    ) -> bool:
        result = await self._session.execute(
            sa.update(quotas)
            .where(
                quotas.c.owner_id == owner_id,
                quotas.c.used_bytes + quotas.c.reserved_bytes - reserved + stored <= quota_bytes,
            )
            .values(
                reserved_bytes=quotas.c.reserved_bytes - reserved,
                used_bytes=quotas.c.used_bytes + stored,
                file_count=quotas.c.file_count + 1,
            )
            .returning(quotas.c.owner_id)
        )
        return result.first() is not None

    async def free_stored(self, owner_id: uuid.UUID, stored: int) -> None:
        await self._session.execute(
            sa.update(quotas)
            .where(quotas.c.owner_id == owner_id)
            .values(
                used_bytes=sa.func.greatest(quotas.c.used_bytes - stored, 0),
                file_count=sa.func.greatest(quotas.c.file_count - 1, 0),
            )
        )

    async def list_owned(
        self,
        owner_id: uuid.UUID,
        *,
        purpose: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[StoredFile]:
        base = sa.select(files).where(files.c.owner_id == owner_id)
        if purpose:
            base = base.where(files.c.purpose == purpose)
        stmt = keyset_after(base, [files.c.created_at, files.c.id], after, descending=True, limit=limit)
        return [_to_file(row) for row in (await self._session.execute(stmt)).all()]

    async def add_reference(self, file_id: uuid.UUID, ref: str) -> bool:
        result = await self._session.execute(
            pg.insert(file_refs)
            .values(file_id=file_id, ref=ref)
            .on_conflict_do_nothing()
            .returning(file_refs.c.ref)
        )
        await self._session.execute(
            sa.update(files).where(files.c.id == file_id).values(unreferenced_since=None, ever_attached=True)
        )
        return result.first() is not None

    async def remove_reference(self, file_id: uuid.UUID, ref: str) -> bool:
        result = await self._session.execute(
            sa.delete(file_refs)
            .where(file_refs.c.file_id == file_id, file_refs.c.ref == ref)
            .returning(file_refs.c.ref)
        )
        removed = result.first() is not None
        if removed and await self.count_references(file_id) == 0:
            await self._session.execute(
                sa.update(files).where(files.c.id == file_id).values(unreferenced_since=sa.func.now())
            )
        return removed

    async def orphans(
        self, *, detached_before: datetime, unattached_before: datetime | None, limit: int
    ) -> Sequence[uuid.UUID]:
        detached = sa.and_(files.c.ever_attached, files.c.unreferenced_since < detached_before)
        condition = detached
        if unattached_before is not None:
            never = sa.and_(sa.not_(files.c.ever_attached), files.c.unreferenced_since < unattached_before)
            condition = sa.or_(detached, never)
        rows = await self._session.execute(
            sa.select(files.c.id)
            .where(files.c.unreferenced_since.is_not(None), files.c.status == Status.READY.value, condition)
            .order_by(files.c.unreferenced_since)
            .limit(limit)
        )
        return list(rows.scalars())

    async def owned_ids(self, owner_id: uuid.UUID) -> Sequence[uuid.UUID]:
        rows = await self._session.execute(sa.select(files.c.id).where(files.c.owner_id == owner_id))
        return list(rows.scalars())

    async def count_references(self, file_id: uuid.UUID) -> int:
        count = await self._session.scalar(
            sa.select(sa.func.count()).select_from(file_refs).where(file_refs.c.file_id == file_id)
        )
        return int(count or 0)

    async def begin_attempt(self, file_id: uuid.UUID) -> tuple[StoredFile, int] | None:
        row = (
            await self._session.execute(
                sa.update(files)
                .where(files.c.id == file_id, files.c.status == Status.PROCESSING.value)
                .values(attempts=files.c.attempts + 1, updated_at=sa.func.now())
                .returning(*files.c)
            )
        ).first()
        return (_to_file(row), row.attempts) if row else None

    async def finish_processing(self, file: StoredFile) -> bool:
        result = await self._session.execute(
            sa.update(files)
            .where(files.c.id == file.id, files.c.status == Status.PROCESSING.value)
            .values(
                status=Status.READY.value,
                mime_type=file.mime_type,
                stored_bytes=file.stored_bytes,
                width=file.width,
                height=file.height,
                duration_ms=file.duration_ms,
                blurhash=file.blurhash,
                dominant_color=file.dominant_color,
                variants=_variants_json(file),
                source_key=None,
                updated_at=sa.func.now(),
            )
            .returning(files.c.id)
        )
        return result.first() is not None

    async def fail_processing(self, file_id: uuid.UUID, code: str, detail: str) -> StoredFile | None:
        row = (
            await self._session.execute(
                sa.update(files)
                .where(files.c.id == file_id, files.c.status == Status.PROCESSING.value)
                .values(
                    status=Status.FAILED.value,
                    error_code=code,
                    error_detail=detail[:500],
                    source_key=None,
                    updated_at=sa.func.now(),
                )
                .returning(*files.c)
            )
        ).first()
        return _to_file(row) if row else None

    async def purge_failed(self, updated_before: datetime, limit: int) -> Sequence[StoredFile]:
        doomed = (
            sa.select(files.c.id)
            .where(files.c.status == Status.FAILED.value, files.c.updated_at < updated_before)
            .order_by(files.c.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = (
            await self._session.execute(sa.delete(files).where(files.c.id.in_(doomed)).returning(*files.c))
        ).all()
        purged = [_to_file(row) for row in rows]
        if purged:
            # A video attached while it was still processing keeps references after failing.
            await self._session.execute(
                sa.delete(file_refs).where(file_refs.c.file_id.in_([f.id for f in purged]))
            )
        return purged

    async def existing_ids(self, file_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not file_ids:
            return set()
        rows = await self._session.execute(sa.select(files.c.id).where(files.c.id.in_(list(file_ids))))
        return set(rows.scalars())

    async def add_session(self, session: UploadSession) -> None:
        await self._session.execute(
            sa.insert(upload_sessions).values(
                id=session.id,
                owner_id=session.owner_id,
                purpose=session.purpose,
                content_type=session.content_type,
                size_bytes=session.size_bytes,
                filename=session.filename,
                key=session.key,
                status=session.status.value,
                file_id=session.file_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    async def get_session(self, upload_id: uuid.UUID, *, for_update: bool = False) -> UploadSession | None:
        stmt = sa.select(upload_sessions).where(upload_sessions.c.id == upload_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).first()
        return _to_session(row) if row else None

    async def move_session(
        self,
        upload_id: uuid.UUID,
        *,
        from_: Sequence[SessionStatus],
        to: SessionStatus,
        file_id: uuid.UUID | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": to.value}
        if file_id is not None:
            values["file_id"] = file_id
        result = await self._session.execute(
            sa.update(upload_sessions)
            .where(upload_sessions.c.id == upload_id, upload_sessions.c.status.in_([s.value for s in from_]))
            .values(**values)
            .returning(upload_sessions.c.id)
        )
        return result.first() is not None

    async def stale_sessions(self, created_before: datetime, limit: int) -> Sequence[UploadSession]:
        rows = await self._session.execute(
            sa.select(upload_sessions)
            .where(
                upload_sessions.c.status.in_([SessionStatus.OPEN.value, SessionStatus.COMPLETING.value]),
                upload_sessions.c.created_at < created_before,
            )
            .order_by(upload_sessions.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_to_session(row) for row in rows]

    async def open_sessions_of(self, owner_id: uuid.UUID) -> Sequence[UploadSession]:
        rows = await self._session.execute(
            sa.select(upload_sessions).where(
                upload_sessions.c.owner_id == owner_id,
                upload_sessions.c.status == SessionStatus.OPEN.value,
            )
        )
        return [_to_session(row) for row in rows]


def _to_session(row: sa.Row) -> UploadSession:
    return UploadSession(
        id=row.id,
        owner_id=row.owner_id,
        purpose=row.purpose,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        filename=row.filename,
        key=row.key,
        status=SessionStatus(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
        file_id=row.file_id,
    )


class SqlFileStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlFileTransaction]:
        async with self._database.sessions() as session, session.begin():
            yield SqlFileTransaction(session)


class SqlQuotaLedger:
    """Reservations are their own committed statements, so parallel uploads see each other."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def reserve(
        self, owner_id: uuid.UUID, size: int, *, quota_bytes: int, daily_uploads: int, today: str
    ) -> bool:
        day = date.fromisoformat(today)
        async with self._database.sessions() as session, session.begin():
            await session.execute(pg.insert(quotas).values(owner_id=owner_id).on_conflict_do_nothing())
            # The atomic conditional UPDATE: PostgreSQL re-checks the WHERE on the locked row,
            # so two racing reservations can never both pass a quota only one fits in.
            result = await session.execute(
                sa.update(quotas)
                .where(
                    quotas.c.owner_id == owner_id,
                    quotas.c.used_bytes + quotas.c.reserved_bytes + size <= quota_bytes,
                    sa.or_(
                        quotas.c.upload_day.is_distinct_from(day),
                        quotas.c.uploads_today < daily_uploads,
                    ),
                )
                .values(
                    reserved_bytes=quotas.c.reserved_bytes + size,
                    uploads_today=sa.case((quotas.c.upload_day == day, quotas.c.uploads_today + 1), else_=1),
                    upload_day=day,
                )
                .returning(quotas.c.owner_id)
            )
            return result.first() is not None

    async def release(self, owner_id: uuid.UUID, size: int) -> None:
        async with self._database.sessions() as session, session.begin():
            await session.execute(
                sa.update(quotas)
                .where(quotas.c.owner_id == owner_id)
                .values(reserved_bytes=sa.func.greatest(quotas.c.reserved_bytes - size, 0))
            )

    async def forget(self, owner_id: uuid.UUID) -> None:
        async with self._database.sessions() as session, session.begin():
            await session.execute(sa.delete(quotas).where(quotas.c.owner_id == owner_id))

    async def usage(self, owner_id: uuid.UUID, *, quota_bytes: int) -> Usage:
        async with self._database.sessions() as session:
            row = (await session.execute(sa.select(quotas).where(quotas.c.owner_id == owner_id))).first()
        if row is None:
            return Usage(0, 0, quota_bytes, 0)
        return Usage(row.used_bytes, row.reserved_bytes, quota_bytes, row.file_count)
