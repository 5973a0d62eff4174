"""Forever-loops (relay, scheduler) end when cancelled, even if the cancel was swallowed.

A cancel that lands inside a library call can come back as that library's own exception;
the loops catch ``Exception`` to survive outages, so without a check they would keep
running and ``Worker.stop`` (which awaits them) would hang.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nexgate.kernel.messaging.relay import OutboxRelay
from nexgate.kernel.messaging.scheduler import Job, Scheduler


class _SwallowsCancel:
    """Awaits forever; a cancel comes out as a RuntimeError, like a wrapped driver error."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, *_: Any) -> int:
        self.calls += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("connection closed") from None
        return 0


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 5)


async def test_relay_ends_when_a_cancel_is_swallowed_inside_a_batch() -> None:
    relay = OutboxRelay([], publish=None, poll_interval_s=0.01)  # type: ignore[arg-type]
    blocked = _SwallowsCancel()
    relay.drain = blocked  # type: ignore[method-assign]
    task = asyncio.create_task(relay.run())
    await _cancel_and_wait(task)
    assert blocked.calls == 1


class _NoRedis:
    async def set(self, *_: Any, **__: Any) -> bool:
        return True

    async def pexpire(self, *_: Any) -> bool:
        return True


async def test_scheduler_ends_when_a_cancel_is_swallowed_inside_a_job() -> None:
    blocked = _SwallowsCancel()
    scheduler = Scheduler([Job("test.blocked", 0.01, blocked)], _NoRedis(), key_prefix="t:")  # type: ignore[arg-type]
    task = asyncio.create_task(scheduler.run())
    await _cancel_and_wait(task)
    assert blocked.calls == 1
