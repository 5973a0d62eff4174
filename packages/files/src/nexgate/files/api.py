"""The files context's in-process facade: what other contexts call (through their own ports).

Contexts that own access rules check them first (chat: conversation membership), then ask
for a signed URL. Consumers of ``files.media_ready.v1`` keep the snapshot instead of calling.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from nexgate.files.adapters.wiring import deps_for
from nexgate.files.application import files as use_cases
from nexgate.files.application.files import MediaDescriptor
from nexgate.kernel.runtime import Runtime

__all__ = ["MediaDescriptor", "attach", "describe", "detach", "signed_url"]


async def describe(runtime: Runtime, file_id: uuid.UUID) -> MediaDescriptor | None:
    """URLs (public files), blurhash, dimensions and status of a file; None if there is none."""
    return await use_cases.describe(file_id=file_id, deps=deps_for(runtime))


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
    return await use_cases.detach(file_id=file_id, ref=ref, deps=deps_for(runtime))


async def signed_url(runtime: Runtime, file_id: uuid.UUID, variant: str, ttl_s: int | None = None) -> str:
    """A short-lived URL of one variant (capped at the configured maximum TTL).

    No access check: the caller decides who may see the file before asking.
    """
    return await use_cases.signed_url(file_id=file_id, name=variant, ttl_s=ttl_s, deps=deps_for(runtime))
