"""`MediaGateway` on the files context's in-process facade (``nexgate.files.api``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from nexgate.chat.domain.model import MediaItem
from nexgate.files import api as files
from nexgate.kernel.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from nexgate.kernel.runtime import Runtime

PURPOSE = "chat_attachment"
#: What ``GET .../media/{fileId}`` serves when no ``variant`` is asked for, by kind.
DEFAULT_VARIANT = {"image": "medium", "video": "video", "audio": "audio", "document": "document"}


def message_ref(message_id: uuid.UUID) -> str:
    return f"chat:message:{message_id}"


def _invalid(file_id: uuid.UUID, why: str) -> ValidationFailed:
    return ValidationFailed(
        "That file cannot be attached.",
        code="invalid_attachment",
        errors=[FieldProblem("mediaFileIds", f"{file_id}: {why}")],
    )


class FilesMediaGateway:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def attach(
        self, owner_id: uuid.UUID, file_ids: Sequence[uuid.UUID], message_id: uuid.UUID
    ) -> list[MediaItem]:
        ref = message_ref(message_id)
        attached: list[MediaItem] = []
        try:
            for file_id in file_ids:
                try:
                    found = await files.attach(
                        self._runtime, file_id, actor_id=owner_id, ref=ref, purposes=[PURPOSE]
                    )
                except NotFound:
                    raise _invalid(file_id, "no file of yours has this id") from None
                except ValidationFailed:
                    raise _invalid(file_id, f"not uploaded with purpose {PURPOSE}") from None
                except Conflict:
                    raise _invalid(file_id, "the file failed processing") from None
                attached.append(
                    MediaItem(
                        file_id=file_id,
                        kind=found.kind,
                        status="ready" if found.status == "ready" else "processing",
                        mime_type=found.mime_type,
                        width=found.width,
                        height=found.height,
                        duration_ms=found.duration_ms,
                        blurhash=found.blurhash,
                    )
                )
        except ValidationFailed:
            # files keeps its own transaction: undo the references this send already made.
            await self.detach([m.file_id for m in attached], message_id)
            raise
        return attached

    async def detach(self, file_ids: Sequence[uuid.UUID], message_id: uuid.UUID) -> None:
        for file_id in file_ids:
            await files.detach(self._runtime, file_id, message_ref(message_id))

    async def signed_url(self, file_id: uuid.UUID, variant: str) -> str:
        return await files.signed_url(self._runtime, file_id, variant)
