"""The profiles context's periodic jobs (run by the worker's scheduler)."""

from __future__ import annotations

from collections.abc import Sequence

from nexgate.kernel.messaging.scheduler import Job
from nexgate.kernel.runtime import Runtime
from nexgate.kernel.sql.outbox import SqlOutbox
from nexgate.profiles.adapters.sql.models import tables
from nexgate.profiles.adapters.sql.repository import SqlProfileStore
from nexgate.profiles.application.relations import sweep_expired_mutes
from nexgate.profiles.application.trust import daily_refresh

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


async def refresh_trust(runtime: Runtime, batch: int = BATCH) -> int:
    """The daily trust pass: the age factor grows and upheld reports age out with the calendar."""
    total, after = 0, None
    while True:
        async with runtime.database().sessions() as session, session.begin():
            ids = await daily_refresh(
                store=SqlProfileStore(session),
                outbox=SqlOutbox(session, tables),
                clock=runtime.clock,
                after=after,
                batch=batch,
            )
        total += len(ids)
        if len(ids) < batch:
            return total
        after = ids[-1]


def jobs(runtime: Runtime) -> Sequence[Job]:
    async def run() -> None:
        await sweep_mutes(runtime)

    async def run_trust() -> None:
        await refresh_trust(runtime)

    return [
        Job("profiles.sweep_expired_mutes", 60, run),
        Job("profiles.refresh_trust_scores", 24 * 3600, run_trust),
    ]
