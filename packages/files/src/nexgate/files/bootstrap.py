"""Wires the files context's adapters to the apps: the one place that knows both sides."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nexgate.files.adapters.http.plugin import FilesPlugin
from nexgate.files.adapters.messaging.router import build_router
from nexgate.files.adapters.sql import models
from nexgate.files.adapters.wiring import deps_for
from nexgate.files.application.files import collect_orphans
from nexgate.files.application.processing import purge_failed
from nexgate.files.application.sessions import sweep_blobs, sweep_sessions
from nexgate.kernel.contexts import ContextSpec
from nexgate.kernel.messaging.scheduler import Job
from nexgate.kernel.runtime import Runtime


def jobs(runtime: Runtime) -> Sequence[Job]:
    deps = deps_for(runtime)

    async def uploads() -> int:
        return await sweep_sessions(deps)

    async def blobs() -> int:
        return await sweep_blobs(deps)

    async def orphans() -> int:
        return await collect_orphans(deps)

    async def failed() -> int:
        return await purge_failed(deps)

    return [
        # Upload sessions never completed: object deleted, reservation released (after 1 h).
        Job("files.sweep_uploads", 300, uploads),
        # Objects with no row, left by a crash between the blob write and the commit.
        Job("files.sweep_blobs", 3600, blobs),
        # Failed files keep their row (and error) for 7 days, never any blob.
        Job("files.purge_failed", 3600, failed),
        # Unreferenced files: 1 h after the last detach, 24 h after upload if never attached.
        Job("files.collect_orphans", 600, orphans),
    ]


context = ContextSpec(
    name="files",
    metadata=models.metadata,
    tables=models.tables,
    migrations=Path(models.__file__).parent / "migrations",
    http=FilesPlugin,
    router=build_router,
    jobs=jobs,
)
