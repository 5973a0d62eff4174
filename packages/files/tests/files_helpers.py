"""Helpers of the files integration tests: uploads over HTTP and what was left behind."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from nexgate.files.adapters.sql.models import file_refs, files, quotas, tables
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.settings import PlatformSettings


async def upload(
    client: Any,
    headers: dict[str, str],
    payload: bytes,
    purpose: str = "product_image",
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    extra_headers: dict[str, str] | None = None,
) -> Any:
    return await client.post(
        "/api/v1/files",
        files={"file": (filename, payload, content_type)},
        data={"purpose": purpose},
        headers={**headers, **(extra_headers or {})},
    )


def blobs(settings: PlatformSettings) -> set[str]:
    """Every stored object (filesystem adapter), as paths relative to the store root."""
    root = Path(settings.data_dir) / "files"
    return (
        {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    )


def temp_files(settings: PlatformSettings) -> list[Path]:
    """Temporary files and work directories left behind (the worker's empty root aside)."""
    root = Path(settings.data_dir) / "tmp" / "files"
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p != root / "processing"]


async def state(runtime: Runtime, owner: uuid.UUID) -> dict[str, int]:
    async with runtime.database().sessions() as session:
        rows = await session.scalar(
            sa.select(sa.func.count()).select_from(files).where(files.c.owner_id == owner)
        )
        quota = (await session.execute(sa.select(quotas).where(quotas.c.owner_id == owner))).first()
        refs = await session.scalar(sa.select(sa.func.count()).select_from(file_refs))
    return {
        "rows": int(rows or 0),
        "reserved": quota.reserved_bytes if quota else 0,
        "used": quota.used_bytes if quota else 0,
        "count": quota.file_count if quota else 0,
        "refs": int(refs or 0),
    }


async def outbox_tags(runtime: Runtime) -> list[str]:
    async with runtime.database().sessions() as session:
        return list(
            (await session.execute(sa.select(tables.outbox.c.tag).order_by(tables.outbox.c.id))).scalars()
        )


async def outbox_payloads(runtime: Runtime) -> list[bytes]:
    async with runtime.database().sessions() as session:
        return list(
            (await session.execute(sa.select(tables.outbox.c.payload).order_by(tables.outbox.c.id))).scalars()
        )
