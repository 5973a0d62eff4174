"""The files context's in-process facade: what other contexts call (through their own ports).

Contexts that own access rules check them first (chat: conversation membership), then ask
for a signed URL. Consumers of ``files.media_ready.v1`` keep the snapshot instead of calling.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from nexgate.files.adapters.wiring import deps_for
from nexgate.files.application import files as use_cases
from nexgate.files.application.files import DESCRIBE_MANY_MAX, MediaDescriptor, MediaVariant
from nexgate.kernel.runtime import Runtime

__all__ = [
    "DESCRIBE_MANY_MAX",
    "MediaDescriptor",
    "MediaVariant",
    "attach",
    "describe",
    "describe_many",
    "detach",
    "signed_url",
    "signed_urls",
]


async def describe(runtime: Runtime, file_id: uuid.UUID) -> MediaDescriptor | None:
    """URLs (public files), blurhash, dimensions and status of a file; None if there is none."""
    return await use_cases.describe(file_id=file_id, deps=deps_for(runtime))


async def describe_many(runtime: Runtime, file_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MediaDescriptor]:
    """`describe` for many files in one query (at most `DESCRIBE_MANY_MAX` ids): the ids that
    exist map to their descriptor, missing ones are absent. No access check, like `describe`."""
    return await use_cases.describe_many(file_ids=file_ids, deps=deps_for(runtime))


async def attach(
    runtime: Runtime, file_id: uuid.UUID, *, actor_id: uuid.UUID, ref: str, purposes: Sequence[str]
) -> MediaDescriptor:
    """Check ``actor_id`` owns the file, its purpose and that it did not fail; record ``ref``.

    Idempotent. Raises `NotFound` (missing or someone else's), `ValidationFailed`
    (``wrong_purpose``) or `Conflict` (``file_failed``).
    """
    return await use_cases.attach(
        file_id=file_id, actor_id=actor_id, ref=ref, purposes=purposes, deps=deps_for(runtime)
    )


async def detach(runtime: Runtime, file_id: uuid.UUID, ref: str) -> bool:
    """Drop ``ref``'s use of the file (idempotent: False if it held none). A file no reference
    holds any more is deleted after the grace period (1 h), so media can move between drafts."""
    return await use_cases.detach(file_id=file_id, ref=ref, deps=deps_for(runtime))


async def signed_url(runtime: Runtime, file_id: uuid.UUID, variant: str, ttl_s: int | None = None) -> str:
    """A short-lived URL of one variant (capped at the configured maximum TTL).

    No access check: the caller decides who may see the file before asking (chat: the
    reader is a member of the conversation the attachment was sent in). Public files get
    their lasting public URL. A size the original was too small to fill gives the largest
    stored variant. Raises `NotFound` for a missing file, one not ``ready``, or an unknown
    variant name.
    """
    return await use_cases.signed_url(file_id=file_id, name=variant, ttl_s=ttl_s, deps=deps_for(runtime))


async def signed_urls(runtime: Runtime, file_id: uuid.UUID, ttl_s: int | None = None) -> dict[str, str]:
    """Variant name -> short-lived URL for every stored variant of a ready file, with the same
    rules (and the same absence of access check) as `signed_url`."""
    return await use_cases.signed_urls(file_id=file_id, ttl_s=ttl_s, deps=deps_for(runtime))
