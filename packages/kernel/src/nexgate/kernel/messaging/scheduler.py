"""Periodic jobs (expiry sweeps, escrow release, reminders) for any number of workers.

Each run takes a Redis lock named after the job for one interval, so a job runs
once per interval across all worker replicas, not once per replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis

from nexgate.kernel.messaging.relay import raise_if_cancelling

log = structlog.get_logger("nexgate.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    interval_s: float
    run: Callable[[], Awaitable[object]]


class Scheduler:
    def __init__(self, jobs: Sequence[Job], redis: Redis, *, key_prefix: str) -> None:
        self._jobs = list(jobs)
        self._redis = redis
        self._prefix = key_prefix

    async def run_due(self, job: Job) -> bool:
        """Run ``job`` if no replica ran it this interval; True if this call ran it.

        A run that outlasts its interval keeps extending the lock, so a slow run (a provider
        reconciliation during an outage) is never joined by a second replica.
        """
        key = f"{self._prefix}job:{job.name}"
        interval_ms = max(1, int(job.interval_s * 1000))
        if not await self._redis.set(key, "1", nx=True, px=interval_ms):
            return False

        async def hold() -> None:
            while True:
                await asyncio.sleep(job.interval_s / 2)
                await self._redis.pexpire(key, interval_ms)

        holding = asyncio.create_task(hold())
        try:
            await job.run()
        finally:
            holding.cancel()
        return True

    async def _loop(self, job: Job) -> None:
        while True:
            try:
                await self.run_due(job)
            except Exception as exc:  # one failing run must not stop the schedule
                raise_if_cancelling()
                log.warning("scheduler.job_failed", job=job.name, error=repr(exc))
            await asyncio.sleep(job.interval_s)

    async def run(self) -> None:
        if not self._jobs:
            return
        async with asyncio.TaskGroup() as group:
            for job in self._jobs:
                group.create_task(self._loop(job), name=f"job:{job.name}")
