"""Upload sessions: reserve, let the client send the bytes to storage, complete or abort.

Completion stats the object, refuses a size other than the declared one, pulls the object
into a bounded temporary file, and continues exactly as a direct upload. It is idempotent:
a second call returns the same file. Sessions never completed are swept with their objects.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nexgate.files.application.files import (
    FilesDeps,
    FileView,
    check_upload_size,
    delete_account_files,
    new_workdir,
    pull,
    reserve,
    upload,
    view,
)
from nexgate.files.domain import errors
from nexgate.files.domain.purposes import resolve_purpose
from nexgate.files.domain.sessions import (
    SESSION_TTL,
    SWEEP_AFTER,
    SessionStatus,
    UploadSession,
    declared_kind,
    incoming_key,
)
from nexgate.kernel.errors import Conflict, DomainError, ValidationFailed
from nexgate.kernel.ids import new_id


class UploadExpired(DomainError):
    status = 410
    default_code = "upload_expired"
    title = "Gone"


@dataclass(frozen=True)
class Opened:
    session: UploadSession
    method: str
    url: str
    headers: dict[str, str]


async def open_session(
    *,
    owner_id: uuid.UUID,
    purpose_name: str,
    content_type: str,
    size: int,
    filename: str | None,
    deps: FilesDeps,
    app_content_url: Callable[[uuid.UUID, int], str] | None = None,
) -> Opened:
    """Reserve quota and hand out where to PUT the bytes.

    ``app_content_url(upload_id, ttl_s)``: the app's own signed PUT URL (filesystem
    adapter); without it the object store presigns the PUT (S3).
    """
    purpose = resolve_purpose(deps.purposes, purpose_name)
    check_upload_size(purpose, size)
    kind = declared_kind(content_type)
    if kind not in purpose.kinds:
        raise errors.UnsupportedMediaType(content_type, f"A {purpose.name} cannot be a {content_type} file.")
    if size > purpose.limit_for(kind):
        raise errors.file_too_large(purpose.limit_for(kind))
    await reserve(owner_id, size, deps)
    now = deps.clock.now()
    upload_id = new_id()
    session = UploadSession(
        id=upload_id,
        owner_id=owner_id,
        purpose=purpose.name,
        content_type=content_type,
        size_bytes=size,
        filename=filename,
        key=incoming_key(upload_id),
        status=SessionStatus.OPEN,
        created_at=now,
        expires_at=now + SESSION_TTL,
        file_id=new_id(),
    )
    try:
        async with deps.store.transaction() as tx:
            await tx.add_session(session)
        ttl = int(SESSION_TTL.total_seconds())
        if app_content_url is None:
            url, headers = await deps.blobs.presign_put(session.key, ttl, content_type)
        else:
            url, headers = app_content_url(upload_id, ttl), {"Content-Type": content_type}
    except BaseException:
        await deps.quota.release(owner_id, size)
        raise
    return Opened(session, "PUT", url, headers)


async def _own_session(upload_id: uuid.UUID, actor_id: uuid.UUID, deps: FilesDeps) -> UploadSession:
    async with deps.store.transaction() as tx:
        session = await tx.get_session(upload_id)
    if session is None or session.owner_id != actor_id:
        raise errors.NotFound("No such upload.", code="upload_not_found")
    return session


async def open_for_content(upload_id: uuid.UUID, deps: FilesDeps) -> UploadSession:
    """The session the signed PUT URL names, if it still accepts bytes."""
    async with deps.store.transaction() as tx:
        session = await tx.get_session(upload_id)
    if session is None or session.status is not SessionStatus.OPEN:
        raise errors.NotFound("No such upload.", code="upload_not_found")
    if deps.clock.now() > session.expires_at:
        raise UploadExpired("The upload session expired; start a new one.")
    return session


async def receive_content(session: UploadSession, source: Path, size: int, deps: FilesDeps) -> None:
    if size != session.size_bytes:
        raise ValidationFailed(
            "The body is not the declared size.",
            code="size_mismatch",
            extra={"declaredBytes": session.size_bytes},
        )
    await deps.blobs.put(session.key, source, size, "application/octet-stream")


async def complete(*, upload_id: uuid.UUID, actor_id: uuid.UUID, deps: FilesDeps) -> FileView:
    session = await _own_session(upload_id, actor_id, deps)
    if session.status is SessionStatus.COMPLETED and session.file_id is not None:
        return await _completed_view(session.file_id, deps)
    if session.status is SessionStatus.ABORTED:
        raise UploadExpired("The upload session was aborted or expired; start a new one.")
    if session.status is SessionStatus.OPEN and deps.clock.now() > session.expires_at:
        raise UploadExpired("The upload session expired; start a new one.")
    stat = await deps.blobs.stat(session.key)
    if stat is None:
        raise Conflict("The bytes have not arrived yet.", code="upload_incomplete")
    # Claim the session: of two racing completions only one proceeds.
    async with deps.store.transaction() as tx:
        claimed = await tx.move_session(upload_id, from_=[SessionStatus.OPEN], to=SessionStatus.COMPLETING)
    if not claimed:
        again = await _own_session(upload_id, actor_id, deps)
        if again.status is SessionStatus.COMPLETED and again.file_id is not None:
            return await _completed_view(again.file_id, deps)
        raise Conflict("This upload is being completed; retry shortly.", code="upload_in_progress")

    workdir = new_workdir(deps.tmp_dir)
    try:
        source = workdir / "original"
        try:
            if stat.size != session.size_bytes:
                raise ValidationFailed(
                    "The uploaded object is not the declared size.",
                    code="size_mismatch",
                    extra={"declaredBytes": session.size_bytes, "receivedBytes": stat.size},
                )
            await pull(deps.blobs, session.key, source, session.size_bytes, _larger_than_declared)
        except BaseException:
            await _abort(session, deps, release=True)
            raise
        try:
            found = await upload(
                owner_id=session.owner_id,
                purpose_name=session.purpose,
                source=source,
                size=session.size_bytes,
                filename=session.filename,
                deps=deps,
                reserved=True,  # released by upload() itself on failure
                file_id=session.file_id,
            )
        except BaseException:
            await _abort(session, deps, release=False)
            raise
        async with deps.store.transaction() as tx:
            await tx.move_session(
                upload_id, from_=[SessionStatus.COMPLETING], to=SessionStatus.COMPLETED, file_id=found.file.id
            )
        with contextlib.suppress(Exception):
            await deps.blobs.delete(session.key)
        return found
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _completed_view(file_id: uuid.UUID, deps: FilesDeps) -> FileView:
    async with deps.store.transaction() as tx:
        file = await tx.get(file_id)
    if file is None:
        raise errors.file_not_found()
    return await view(file, deps.blobs, deps.limits.signed_url_ttl_s, reveal_private=True)


def _larger_than_declared() -> ValidationFailed:
    return ValidationFailed("The uploaded object is larger than declared.", code="size_mismatch")


async def _abort(session: UploadSession, deps: FilesDeps, *, release: bool) -> bool:
    async with deps.store.transaction() as tx:
        moved = await tx.move_session(
            session.id, from_=[SessionStatus.OPEN, SessionStatus.COMPLETING], to=SessionStatus.ABORTED
        )
    with contextlib.suppress(Exception):
        await deps.blobs.delete(session.key)
    if moved and release:
        await deps.quota.release(session.owner_id, session.size_bytes)
    return moved


async def abort(*, upload_id: uuid.UUID, actor_id: uuid.UUID, deps: FilesDeps) -> None:
    session = await _own_session(upload_id, actor_id, deps)
    if session.status is SessionStatus.COMPLETED:
        raise Conflict("The upload is already complete; delete the file instead.", code="upload_completed")
    if session.status is SessionStatus.COMPLETING:
        raise Conflict("This upload is being completed.", code="upload_in_progress")
    await _abort(session, deps, release=True)


async def erase_account(*, owner_id: uuid.UUID, deps: FilesDeps) -> int:
    """``auth.user_deleted.v1``: everything of the user goes now; how many files were deleted.

    The quota ledger row goes first: an upload or a transcode of theirs still running can
    then never settle, so it fails and cleans up after itself instead of committing a file
    after the erasure. Open upload sessions end at once (objects deleted), not at the
    sweep, and every file is deleted, references or not.
    """
    await deps.quota.forget(owner_id)
    async with deps.store.transaction() as tx:
        found = await tx.open_sessions_of(owner_id)
    for session in found:
        await _abort(session, deps, release=False)
    return await delete_account_files(owner_id=owner_id, deps=deps)


async def sweep_sessions(deps: FilesDeps, *, now: datetime | None = None, batch: int = 200) -> int:
    """Abort sessions older than an hour that never completed: object deleted, quota released."""
    cutoff = (now or deps.clock.now()) - SWEEP_AFTER
    swept = 0
    async with deps.store.transaction() as tx:
        stale = await tx.stale_sessions(cutoff, batch)
    for session in stale:
        if session.status is SessionStatus.COMPLETING and session.file_id is not None:
            # A crash after the file committed (and settled the quota) but before the session
            # was marked: finish the bookkeeping instead of releasing the quota twice.
            async with deps.store.transaction() as tx:
                committed = await tx.get(session.file_id) is not None
                if committed:
                    await tx.move_session(
                        session.id, from_=[SessionStatus.COMPLETING], to=SessionStatus.COMPLETED
                    )
            if committed:
                with contextlib.suppress(Exception):
                    await deps.blobs.delete(session.key)
                continue
        if await _abort(session, deps, release=True):
            swept += 1
    return swept


async def sweep_blobs(deps: FilesDeps, *, now: datetime | None = None) -> int:
    """Delete variant objects older than an hour whose file has no row (a crash between the
    blob write and the commit), and incoming objects of no open session."""
    cutoff = (now or deps.clock.now()) - SWEEP_AFTER
    removed = 0
    for prefix in ("pub/", "priv/", "work/"):
        stats = [s for s in await deps.blobs.list(prefix) if s.modified < cutoff]
        by_file: dict[uuid.UUID, list[str]] = {}
        for stat in stats:
            with contextlib.suppress(ValueError, IndexError):
                by_file.setdefault(uuid.UUID(stat.key.split("/")[1]), []).append(stat.key)
        async with deps.store.transaction() as tx:
            alive = await tx.existing_ids(list(by_file))
        for file_id, keys in by_file.items():
            if file_id in alive:
                continue
            for key in keys:
                await deps.blobs.delete(key)
                removed += 1
    for stat in await deps.blobs.list("incoming/"):
        if stat.modified >= cutoff:
            continue
        with contextlib.suppress(ValueError):
            async with deps.store.transaction() as tx:
                session = await tx.get_session(uuid.UUID(stat.key.split("/")[1]))
            if session is None or session.status in (SessionStatus.ABORTED, SessionStatus.COMPLETED):
                await deps.blobs.delete(stat.key)
                removed += 1
    return removed
