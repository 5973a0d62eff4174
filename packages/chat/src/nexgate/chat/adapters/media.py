"""Media adapters. Files is not usable yet: media sends answer 503 ``media_unavailable``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from nexgate.kernel.errors import ServiceUnavailable


class UnavailableMediaGateway:
    async def attach(self, owner_id: uuid.UUID, file_ids: Sequence[uuid.UUID]) -> list[str]:
        raise ServiceUnavailable("Attachments are not available yet.", code="media_unavailable")
