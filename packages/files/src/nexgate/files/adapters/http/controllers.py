"""Thin controllers: decode, call a use case, encode."""

from __future__ import annotations

import mimetypes
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody
from litestar.response import Redirect, Stream
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from nexgate.files.adapters.http.schemas import (
    FileOut,
    FileSummaryOut,
    ModerationIn,
    UploadForm,
    UploadSessionIn,
    UploadSessionOut,
    UsageOut,
)
from nexgate.files.adapters.storage.filesystem import FilesystemBlobStore
from nexgate.files.application import files as use_cases
from nexgate.files.application import sessions as session_cases
from nexgate.files.application.files import FilesDeps
from nexgate.files.domain import errors
from nexgate.files.domain.purposes import resolve_purpose
from nexgate.kernel.errors import Forbidden, ValidationFailed
from nexgate.kernel.http.auth import requires_principal, requires_role
from nexgate.kernel.pagination import CursorCodec, Page, validate_limit
from nexgate.kernel.security.principal import Principal

_CURSOR_TYPES = (datetime, uuid.UUID)
COPY_CHUNK = 64 * 1024
#: Multipart framing and the purpose field around the file part.
MULTIPART_SLACK = 64 * 1024


def nosniff(app: ASGIApp) -> ASGIApp:
    """Every answer of these routes, problem+json errors included, carries ``nosniff``
    (``response_headers`` would miss the responses built by exception handlers)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await app(scope, receive, send_nosniff)

    return middleware


def refuse_encoded_bodies(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: a ``Content-Encoding`` other than identity is refused; bodies are never inflated."""
    encoding = connection.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise errors.UnsupportedMediaType(
            f"content-encoding/{encoding}", "Compressed request bodies are refused."
        )


async def _spool(form: UploadForm, workdir: Path, cap: int) -> tuple[Path, int]:
    """Copy the file part to disk, refusing it as soon as it passes ``cap`` bytes."""
    target = workdir / "original"
    size = 0
    with target.open("wb") as out:
        while chunk := await form.file.read(COPY_CHUNK):
            size += len(chunk)
            if size > cap:
                raise errors.file_too_large(cap)
            out.write(chunk)
    return target, size


def build_controllers(direct_limit: int, session_limit: int) -> list[type[Controller]]:
    class FileController(Controller):
        path = "/api/v1/files"
        tags = ["files"]
        middleware = [nosniff]

        @post(
            "/",
            status_code=201,
            guards=[requires_principal, refuse_encoded_bodies],
            request_max_body_size=direct_limit + MULTIPART_SLACK,
            opt={"idempotent": True, "max_body_bytes": direct_limit + MULTIPART_SLACK},
            summary="Upload an image or a document (multipart: file, purpose)",
        )
        async def upload(
            self,
            data: MultipartBody[UploadForm],
            principal: NamedDependency[Principal],
            files: NamedDependency[FilesDeps],
        ) -> Response[FileOut]:
            if not isinstance(data.purpose, str) or not hasattr(data.file, "read"):
                raise ValidationFailed("Send a file part and a purpose field.", code="invalid_upload")
            purpose = resolve_purpose(files.purposes, data.purpose)
            workdir = use_cases.new_workdir(files.tmp_dir)
            try:
                source, size = await _spool(data, workdir, purpose.largest_limit)
                found = await use_cases.upload(
                    owner_id=principal.user_id,
                    purpose_name=purpose.name,
                    source=source,
                    size=size,
                    filename=data.file.filename,
                    deps=files,
                )
            finally:
                await data.file.close()
                shutil.rmtree(workdir, ignore_errors=True)
            # Images are ready at once; audio is transcoded by the worker.
            return Response(FileOut.of(found), status_code=201 if found.file.status.value == "ready" else 202)

        @get("/{file_id:uuid}", summary="Read a file: public files for anyone, private ones for the owner")
        async def read(
            self,
            file_id: FromPath[uuid.UUID],
            request: Request[Any, Any, Any],
            files: NamedDependency[FilesDeps],
        ) -> FileOut:
            return FileOut.of(await use_cases.read(file_id=file_id, actor_id=_actor(request), deps=files))

        @get(
            "/{file_id:uuid}/variants/{name:str}",
            status_code=302,
            summary="Redirect to a fresh URL of one variant",
        )
        async def variant(
            self,
            file_id: FromPath[uuid.UUID],
            name: FromPath[str],
            request: Request[Any, Any, Any],
            files: NamedDependency[FilesDeps],
        ) -> Redirect:
            url = await use_cases.variant_url(
                file_id=file_id, name=name, actor_id=_actor(request), deps=files
            )
            return Redirect(path=url, status_code=302, headers={"Cache-Control": "private, no-store"})

        @get("/me/usage", guards=[requires_principal], summary="My storage use and quota")
        async def my_usage(
            self, principal: NamedDependency[Principal], files: NamedDependency[FilesDeps]
        ) -> UsageOut:
            return UsageOut.of(await use_cases.usage(actor_id=principal.user_id, deps=files))

        @get("/me", guards=[requires_principal], summary="List my files, newest first")
        async def list_mine(
            self,
            principal: NamedDependency[Principal],
            files: NamedDependency[FilesDeps],
            cursors: NamedDependency[CursorCodec],
            purpose: FromQuery[str | None] = None,
            cursor: FromQuery[str | None] = None,
            limit: FromQuery[int | None] = None,
        ) -> Page[FileSummaryOut]:
            size = validate_limit(limit)
            after = cursors.decode(cursor, _CURSOR_TYPES) if cursor else None
            found = await use_cases.list_mine(
                actor_id=principal.user_id,
                purpose=purpose,
                after=after,
                limit=size + 1,
                deps=files,  # type: ignore[arg-type]
            )
            page = Page.from_rows(found, size, key=lambda f: (f.created_at, f.id), codec=cursors)
            return Page(items=[FileSummaryOut.of(f) for f in page.items], next_cursor=page.next_cursor)

        @delete(
            "/{file_id:uuid}", guards=[requires_principal], summary="Delete my file (409 while it is in use)"
        )
        async def remove(
            self,
            file_id: FromPath[uuid.UUID],
            principal: NamedDependency[Principal],
            files: NamedDependency[FilesDeps],
        ) -> None:
            await use_cases.delete(file_id=file_id, actor_id=principal.user_id, deps=files)

        @delete(
            "/admin/{file_id:uuid}",
            guards=[requires_role("admin", "staff")],
            summary="Remove any file for moderation, references or not",
        )
        async def moderate(
            self,
            file_id: FromPath[uuid.UUID],
            data: JSONBody[ModerationIn],
            files: NamedDependency[FilesDeps],
        ) -> None:
            if not data.reason.strip():
                raise ValidationFailed("Give a reason.", code="reason_required")
            await use_cases.delete(file_id=file_id, actor_id=None, deps=files, reason="moderation")

    class MediaController(Controller):
        """The filesystem adapter's media route: public keys openly, private keys when signed."""

        path = "/media"
        tags = ["files"]
        middleware = [nosniff]
        include_in_schema = False

        @get("/{key:path}", summary="Serve a stored variant")
        async def serve(
            self,
            key: FromPath[str],
            files: NamedDependency[FilesDeps],
            exp: FromQuery[str | None] = None,
            sig: FromQuery[str | None] = None,
        ) -> Response[Any]:
            store = files.blobs
            key = key.lstrip("/")
            if not isinstance(store, FilesystemBlobStore):
                raise HTTPException(status_code=404, detail="Media is served by the object store.")
            try:
                stat = await store.stat(key)
            except ValueError:
                raise HTTPException(status_code=404, detail="No such object.") from None
            public = key.startswith("pub/")
            if not public and not store.verify("GET", key, exp, sig):
                raise Forbidden("The link is invalid or has expired.", code="invalid_signature")
            if stat is None:
                raise HTTPException(status_code=404, detail="No such object.")
            media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
            headers = {
                "Cache-Control": "public, max-age=31536000, immutable" if public else "private, no-store",
                "Content-Length": str(stat.size),
            }
            if media_type == "application/pdf" or not media_type.startswith(("image/", "video/", "audio/")):
                headers["Content-Disposition"] = "attachment"
            return Stream(_chunks(store, key), media_type=media_type, headers=headers)

    class UploadSessionController(Controller):
        path = "/api/v1/files/uploads"
        tags = ["files"]
        middleware = [nosniff]

        @post(
            "/",
            status_code=201,
            guards=[requires_principal],
            opt={"idempotent": True},
            summary="Start an upload session: reserves quota, returns where to PUT the bytes (15 minutes)",
        )
        async def start(
            self,
            data: JSONBody[UploadSessionIn],
            principal: NamedDependency[Principal],
            files: NamedDependency[FilesDeps],
        ) -> UploadSessionOut:
            store = files.blobs
            app_url = None
            if isinstance(store, FilesystemBlobStore):
                signer = store.signer

                def app_url(upload_id: uuid.UUID, ttl_s: int) -> str:
                    # The app receives the bytes itself, on a URL signed for this session only.
                    query = signer.query("PUT", f"uploads/{upload_id}", ttl_s)
                    return f"/api/v1/files/uploads/{upload_id}/content?{query}"

            opened = await session_cases.open_session(
                owner_id=principal.user_id,
                purpose_name=data.purpose,
                content_type=data.content_type,
                size=data.size_bytes,
                filename=data.filename,
                deps=files,
                app_content_url=app_url,
            )
            assert opened.session.file_id is not None
            return UploadSessionOut(
                upload_id=opened.session.id,
                file_id=opened.session.file_id,
                method=opened.method,
                url=opened.url,
                headers=opened.headers,
                expires_at=opened.session.expires_at,
            )

        @put(
            "/{upload_id:uuid}/content",
            status_code=204,
            guards=[refuse_encoded_bodies],
            request_max_body_size=session_limit,
            summary="Send the bytes of an upload session (filesystem storage; the URL is signed)",
        )
        async def content(
            self,
            upload_id: FromPath[uuid.UUID],
            request: Request[Any, Any, Any],
            files: NamedDependency[FilesDeps],
            exp: FromQuery[str | None] = None,
            sig: FromQuery[str | None] = None,
        ) -> None:
            store = files.blobs
            if not isinstance(store, FilesystemBlobStore):
                raise HTTPException(status_code=404, detail="Upload straight to the object store.")
            if not store.verify("PUT", f"uploads/{upload_id}", exp, sig):
                raise Forbidden("The upload link is invalid or has expired.", code="invalid_signature")
            session = await session_cases.open_for_content(upload_id, files)
            workdir = use_cases.new_workdir(files.tmp_dir)
            try:
                target = workdir / "incoming"
                size = 0
                # Streamed to disk with a hard cap: the body is never held in memory.
                with target.open("wb") as out:
                    async for chunk in request.stream():
                        size += len(chunk)
                        if size > session.size_bytes:
                            raise errors.file_too_large(session.size_bytes)
                        out.write(chunk)
                await session_cases.receive_content(session, target, size, files)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)

        @post("/{upload_id:uuid}/complete", guards=[requires_principal], summary="Complete an upload session")
        async def complete(
            self,
            upload_id: FromPath[uuid.UUID],
            principal: NamedDependency[Principal],
            files: NamedDependency[FilesDeps],
        ) -> Response[FileOut]:
            found = await session_cases.complete(upload_id=upload_id, actor_id=principal.user_id, deps=files)
            return Response(FileOut.of(found), status_code=201 if found.file.status.value == "ready" else 202)

        @delete("/{upload_id:uuid}", guards=[requires_principal], summary="Abort an upload session")
        async def abort(
            self,
            upload_id: FromPath[uuid.UUID],
            principal: NamedDependency[Principal],
            files: NamedDependency[FilesDeps],
        ) -> None:
            await session_cases.abort(upload_id=upload_id, actor_id=principal.user_id, deps=files)

    return [FileController, UploadSessionController, MediaController]


async def _chunks(store: FilesystemBlobStore, key: str) -> AsyncIterator[bytes]:
    async for chunk in store.open(key):
        yield chunk


def _actor(request: Request[Any, Any, Any]) -> uuid.UUID | None:
    user = request.scope.get("user")
    return user.user_id if isinstance(user, Principal) else None
