"""`MediaResolver` on the files context's in-process facade (``nexgate.files.api``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from nexgate.files import api as files
from nexgate.kernel.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from nexgate.kernel.runtime import Runtime
from nexgate.profiles.ports import AvatarMedia

#: The avatar variant profiles show (files makes square 96/256/512 px crops).
AVATAR_VARIANT = "medium"


def avatar_ref(owner: uuid.UUID) -> str:
    return f"profiles:avatar:{owner}"


def pick_url(urls: Mapping[str, str]) -> str | None:
    return urls.get(AVATAR_VARIANT) or next(iter(urls.values()), None)


def _invalid(why: str) -> ValidationFailed:
    return ValidationFailed(
        "That file cannot be your avatar.",
        code="invalid_avatar_file",
        errors=[FieldProblem("fileId", why)],
    )


class FilesMediaResolver:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def attach_avatar(self, file_id: uuid.UUID, *, owner: uuid.UUID) -> AvatarMedia:
        ref = avatar_ref(owner)
        try:
            found = await files.attach(self._runtime, file_id, actor_id=owner, ref=ref, purposes=["avatar"])
        except NotFound:
            raise _invalid("no file of yours has this id") from None
        except ValidationFailed:
            raise _invalid("the file was not uploaded with purpose avatar") from None
        except Conflict:
            raise _invalid("the file failed processing") from None
        if found.kind != "image":
            await files.detach(self._runtime, file_id, ref)
            raise _invalid("an avatar must be an image")
        return AvatarMedia(
            file_id=file_id,
            ready=found.status == "ready",
            url=pick_url(found.urls),
            blurhash=found.blurhash,
        )

    async def detach_avatar(self, file_id: uuid.UUID, *, owner: uuid.UUID) -> None:
        await files.detach(self._runtime, file_id, avatar_ref(owner))
