"""The profiles context's periodic jobs (run by the worker's scheduler)."""

from __future__ import annotations

from collections.abc import Sequence

from nexgate.kernel.messaging.scheduler import Job
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.sql.models import tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application.relations import sweep_expired_mutes

BATCH = 500


async def sweep_mutes(runtime: Runtime) -> int:
    """Remove expired mutes (publishing ``profiles.mute_removed.v1``); returns how many."""
    total = 0
    while True:
        async with runtime.database().sessions() as session, session.begin():
            done = await sweep_expired_mutes(
                now=runtime.clock.now(),
                store=SqlProfileStore(session),
                outbox=SqlOutbox(session, tables),
                batch=BATCH,
            )
        total += done
        if done < BATCH:
            return total


def jobs(runtime: Runtime) -> Sequence[Job]:
    async def run() -> None:
        await sweep_mutes(runtime)

    return [Job("profiles.sweep_expired_mutes", 60, run)]
