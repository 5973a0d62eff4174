"""Periodic jobs run once per interval across replicas (real Redis)."""

from __future__ import annotations

import asyncio

from nexgate.kernel.messaging.scheduler import Job, Scheduler


async def test_a_job_runs_once_per_interval_across_replicas(runtime, settings) -> None:
    runs: list[int] = []

    async def tick() -> None:
        runs.append(1)

    job = Job("test.tick", 0.3, tick)
    replicas = [Scheduler([job], runtime.redis, key_prefix=settings.redis_prefix) for _ in range(3)]
    ran = await asyncio.gather(*(replica.run_due(job) for replica in replicas))
    assert sorted(ran) == [False, False, True]
    assert len(runs) == 1
    await asyncio.sleep(0.35)
    assert await replicas[1].run_due(job) is True
    assert len(runs) == 2


async def test_a_failing_job_does_not_stop_the_schedule(runtime, settings) -> None:
    attempts: list[int] = []

    async def flaky() -> None:
        attempts.append(1)
        raise RuntimeError("boom")

    scheduler = Scheduler([Job("test.flaky", 0.05, flaky)], runtime.redis, key_prefix=settings.redis_prefix)
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.4)
    task.cancel()
    assert len(attempts) >= 3
