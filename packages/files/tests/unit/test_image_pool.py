"""The image pool: a bounded number of decodes at once, and a quick 503 beyond it."""

from __future__ import annotations

import threading

import anyio
import pytest

from nexgate.files.adapters.media.images import ImagePool
from nexgate.files.domain.errors import Busy


async def test_pool_refuses_when_saturated_and_recovers() -> None:
    pool = ImagePool(1, queue_wait_s=0.1)
    release = threading.Event()
    started = threading.Event()

    def hold() -> str:
        started.set()
        release.wait(5)
        return "held"

    results: list[str] = []
    async with anyio.create_task_group() as group:

        async def first() -> None:
            results.append(await pool.run(hold))

        group.start_soon(first)
        await anyio.to_thread.run_sync(started.wait, 5)
        with pytest.raises(Busy) as refused:
            await pool.run(lambda: "second")
        assert refused.value.retry_after == 2
        assert refused.value.status == 503
        release.set()
    assert results == ["held"]
    assert await pool.run(lambda: "after") == "after"
